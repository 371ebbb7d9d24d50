import type { IdempotencyKeysTable } from './types.ts';
import type { Selectable } from 'kysely';
import type { DbOrTrx } from './connection.ts';

/** The stored idempotency key `key` of actor `actorId`, if any. */
export async function findIdempotencyKey(db: DbOrTrx, actorId: string, key: string): Promise<Selectable<IdempotencyKeysTable> | undefined> {
  return db.selectFrom('idempotency_keys').selectAll().where('actor_id', '=', actorId).where('key', '=', key).executeTakeFirst();
}

/** Stores the response of a first call under `key`; fails on a key the actor already used (primary key). */
export async function insertIdempotencyKey(
  db: DbOrTrx,
  row: { actorId: string; key: string; operation: string; requestHash: Uint8Array; response: unknown },
): Promise<void> {
  await db
    .insertInto('idempotency_keys')
    .values({ actor_id: row.actorId, key: row.key, operation: row.operation, request_hash: row.requestHash, response: JSON.stringify(row.response) })
    .execute();
}

/** Stores the responses of several first calls in one statement; fails like {@link insertIdempotencyKey} on a used key. */
export async function insertIdempotencyKeys(
  db: DbOrTrx,
  rows: readonly { actorId: string; key: string; operation: string; requestHash: Uint8Array; response: unknown }[],
): Promise<void> {
  if (rows.length === 0) return;
  await db
    .insertInto('idempotency_keys')
    .values(rows.map((row) => ({ actor_id: row.actorId, key: row.key, operation: row.operation, request_hash: row.requestHash, response: JSON.stringify(row.response) })))
    .execute();
}
