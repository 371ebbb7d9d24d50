import type { Db, Trx } from '../db/connection.ts';

/** Thrown inside a transaction when another writer advanced an item head first; the attempt is retried. */
export class HeadMovedError extends Error {
  override name = 'HeadMovedError';
}

// serialization_failure, deadlock_detected, unique_violation (a concurrent link at the same (item, seq)).
const RETRYABLE = new Set(['40001', '40P01', '23505']);

const isRetryable = (e: unknown): boolean =>
  e instanceof HeadMovedError || RETRYABLE.has((e as { code?: string })?.code ?? '');

/**
 * Runs `fn` in one transaction, retrying up to `attempts` times when a concurrent writer got there first.
 * A unique violation that persists across every attempt is rethrown (it is then a real duplicate).
 */
export async function withRetries<T>(db: Db, fn: (trx: Trx) => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.transaction().execute(fn);
    } catch (e) {
      if (attempt >= attempts || !isRetryable(e)) throw e;
      await new Promise((r) => setTimeout(r, Math.random() * 10 * attempt));
    }
  }
}

/** Runs a write use case in `deps.trx` when the caller supplied one, otherwise in its own retried transaction. */
export function inLedgerTransaction<T>(deps: { db: Db; trx?: Trx }, fn: (trx: Trx) => Promise<T>): Promise<T> {
  return deps.trx ? fn(deps.trx) : withRetries(deps.db, fn);
}
