/**
 * The stored side of idempotency keys. Use cases do not call these: the write pipeline (ledger-write.ts) owns the
 * semantics; recordEvent and EPCIS capture still judge their keys here until they move onto it.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesEqual, utf8 } from '../core/bytes.ts';
import { canonicalize } from '../core/jcs.ts';
import type { Trx } from '../db/connection.ts';
import { findIdempotencyKey, insertIdempotencyKey } from '../db/idempotency.ts';

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
