import { type Db, type Trx, withWriteSlot } from '../db/connection.ts';
import type { LogSigner } from '../db/log.ts';
import { findEventsOrPending, lockItems } from '../db/pending.ts';
import type { EventRow } from '../db/types.ts';
import { integrateEvents } from './integrate.ts';

/** Thrown inside a transaction when another writer advanced an item head first; the attempt is retried. */
export class HeadMovedError extends Error {
  override name = 'HeadMovedError';
}

// serialization_failure, deadlock_detected, unique_violation (a concurrent link at the same (item, seq)).
const RETRYABLE = new Set(['40001', '40P01', '23505']);

const isRetryable = (e: unknown): boolean =>
  e instanceof HeadMovedError || RETRYABLE.has((e as { code?: string })?.code ?? '');

/** What one attempt of a write transaction did: the events it wrote (pending) and the items whose heads it moves. */
export interface WriteAttempt {
  pending: EventRow[];
  touched: Set<string>;
}

const attempts = new WeakMap<Trx, WriteAttempt>();

/** The attempt record of a transaction (created on first use), where `appendEvent` registers what it writes. */
export function writeAttemptOf(trx: Trx): WriteAttempt {
  let a = attempts.get(trx);
  if (!a) attempts.set(trx, (a = { pending: [], touched: new Set() }));
  return a;
}

/**
 * An event a replayed write returns (an idempotency key seen before): loaded whether already integrated or still
 * pending, and in the latter case integrated before the write returns, like a new one. Undefined when it is gone.
 */
export async function replayedEvent(trx: Trx, eventId: string): Promise<EventRow | undefined> {
  const [event] = await findEventsOrPending(trx, [eventId]);
  if (event) writeAttemptOf(trx).pending.push(event);
  return event;
}

/**
 * Runs `fn` in one transaction, retrying when a concurrent writer got there first: the retry first takes the row locks
 * of every item the failed attempts touched, so a contended item is won by waiting, not by luck. Attempts are bounded;
 * a unique violation that persists across them is rethrown (it is then a real duplicate). Returns the result and the
 * events the successful attempt wrote (pending until integrated).
 */
export async function withRetries<T>(db: Db, fn: (trx: Trx) => Promise<T>, attempts = 8): Promise<{ result: T; pending: EventRow[] }> {
  const hot = new Set<string>();
  for (let attempt = 1; ; attempt++) {
    let record: WriteAttempt | undefined;
    try {
      const result = await withWriteSlot(db, () =>
        db.transaction().execute(async (trx) => {
          record = writeAttemptOf(trx);
          if (hot.size > 0) await lockItems(trx, [...hot]);
          return fn(trx);
        }),
      );
      return { result, pending: record?.pending ?? [] };
    } catch (e) {
      if (attempt >= attempts || !isRetryable(e)) throw e;
      for (const id of record?.touched ?? []) hot.add(id);
      await new Promise((r) => setTimeout(r, Math.random() * 5 * attempt));
    }
  }
}

/**
 * Runs a write use case in its own retried transaction and returns once what it wrote is in the log: after the commit
 * the written events are integrated and their `leaf_index` filled in. (A caller composing several writes into one
 * transaction runs `withRetries` itself, passes its `trx` to the `…In(trx, …)` use cases and calls `awaitIntegration`.)
 */
export async function inLedgerTransaction<T>(deps: { db: Db; signer: LogSigner }, fn: (trx: Trx) => Promise<T>): Promise<T> {
  const { result, pending } = await withRetries(deps.db, fn);
  await awaitIntegration(deps, pending);
  return result;
}

/** Integrates `events` (committed, pending) and fills in their leaf indexes in place. */
export async function awaitIntegration(deps: { db: Db; signer: LogSigner }, events: readonly EventRow[]): Promise<void> {
  const waiting = events.filter((e) => e.leaf_index < 0);
  if (waiting.length === 0) return;
  const leaves = await integrateEvents(deps.db, deps.signer, waiting.map((e) => e.id));
  for (const e of waiting) e.leaf_index = leaves.get(e.id)!;
}
