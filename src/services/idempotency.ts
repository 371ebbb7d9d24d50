import { sha256 } from '@noble/hashes/sha2.js';
import { bytesEqual, utf8 } from '../core/bytes.ts';
import { canonicalize } from '../core/jcs.ts';
import type { Trx } from '../db/connection.ts';

export type IdempotencyCheck<R> = { kind: 'new'; requestHash: Uint8Array } | { kind: 'replay'; response: R } | { kind: 'conflict' };

/** Hash of what was asked: the operation and its input, canonicalised so key order does not matter. */
export const requestHash = (operation: string, input: unknown): Uint8Array =>
  sha256(utf8(canonicalize({ operation, input: JSON.parse(JSON.stringify(input ?? null)) })));

/**
 * Looks up an idempotency key of the actor. The same key with the same request replays the stored response;
 * with a different request (or another operation) it is a conflict. Call after taking the log lock.
 */
export async function checkIdempotency<R>(trx: Trx, actorId: string, key: string, operation: string, input: unknown): Promise<IdempotencyCheck<R>> {
  const hash = requestHash(operation, input);
  const row = await trx.selectFrom('idempotency_keys').selectAll().where('actor_id', '=', actorId).where('key', '=', key).executeTakeFirst();
  if (!row) return { kind: 'new', requestHash: hash };
  if (row.operation !== operation || !bytesEqual(row.request_hash, hash)) return { kind: 'conflict' };
  return { kind: 'replay', response: row.response as R };
}

export async function storeIdempotency(trx: Trx, actorId: string, key: string, operation: string, hash: Uint8Array, response: unknown): Promise<void> {
  await trx
    .insertInto('idempotency_keys')
    .values({ actor_id: actorId, key, operation, request_hash: hash, response: JSON.stringify(response) })
    .execute();
}
