import { sha256 } from '@noble/hashes/sha2.js';
import { bytesEqual, utf8 } from '../core/bytes.ts';
import { canonicalize } from '../core/jcs.ts';
import { checkText } from '../core/text.ts';
import type { Trx } from '../db/connection.ts';
import { findIdempotencyKey, insertIdempotencyKey } from '../db/idempotency.ts';
import { type ConflictFailure, type ValidationFailure, conflict, invalid } from './results.ts';

export type IdempotencyCheck<R> = { kind: 'new'; requestHash: Uint8Array } | { kind: 'replay'; response: R } | { kind: 'conflict' };

/** Hash of what was asked: the operation and its input, canonicalised so key order does not matter. */
export const requestHash = (operation: string, input: unknown): Uint8Array =>
  sha256(utf8(canonicalize({ operation, input: JSON.parse(JSON.stringify(input ?? null)) })));

/**
 * Looks up an idempotency key of the actor. The same key with the same request replays the stored response;
 * with a different request (or another operation) it is a conflict. Call after taking the log lock.
 */
export async function checkIdempotency<R>(trx: Trx, actorId: string, key: string, operation: string, input: unknown): Promise<IdempotencyCheck<R>> {
  const row = await findIdempotencyKey(trx, actorId, key);
  return idempotencyVerdict<R>(row ? { operation: row.operation, requestHash: row.request_hash, response: row.response } : null, operation, input);
}

/** The verdict on a request given the row already stored under its key (null: none), for callers that loaded it. */
export function idempotencyVerdict<R>(stored: { operation: string; requestHash: Uint8Array; response: unknown } | null, operation: string, input: unknown): IdempotencyCheck<R> {
  const hash = requestHash(operation, input);
  if (!stored) return { kind: 'new', requestHash: hash };
  if (stored.operation !== operation || !bytesEqual(stored.requestHash, hash)) return { kind: 'conflict' };
  return { kind: 'replay', response: stored.response as R };
}

export async function storeIdempotency(trx: Trx, actorId: string, key: string, operation: string, hash: Uint8Array, response: unknown): Promise<void> {
  await insertIdempotencyKey(trx, { actorId, key, operation, requestHash: hash, response });
}

/**
 * The idempotency semantics of every write, around `run` (inside the caller's transaction): without a key, `run`;
 * with one, a first call runs and stores `save(result)` when it succeeded, a repeat with the same request returns
 * `replay(saved)` and writes nothing, the same key with another request (or operation) is a ConflictError, and a key
 * outside 1–200 characters (or not valid text: core/text.ts) a ValidationError. Failures are not stored: a retry after one runs again.
 */
export async function idempotent<R extends { kind: string }, S>(
  trx: Trx,
  actorId: string,
  key: string | null | undefined,
  operation: string,
  input: unknown,
  io: { run: () => Promise<R>; save: (ok: Extract<R, { kind: 'ok' }>) => S; replay: (saved: S) => Promise<R> },
): Promise<R | ConflictFailure | ValidationFailure> {
  if (key === null || key === undefined) return io.run();
  const problem = checkText(key, 'idempotencyKey', { min: 1, max: 200 });
  if (problem) return invalid(problem.field, problem.message);
  const check = await checkIdempotency<S>(trx, actorId, key, operation, input);
  if (check.kind === 'conflict') return conflict(`idempotencyKey "${key}" was already used with a different request`);
  if (check.kind === 'replay') return io.replay(check.response);
  const result = await io.run();
  if (result.kind === 'ok') await storeIdempotency(trx, actorId, key, operation, check.requestHash, io.save(result as Extract<R, { kind: 'ok' }>));
  return result;
}
