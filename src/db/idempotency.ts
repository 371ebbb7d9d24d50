import type { IdempotencyKeysTable } from './types.ts';
import { type Selectable, sql } from 'kysely';
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
export async function insertIdempotencyKeys(db: DbOrTrx, rows: readonly NewIdempotencyKey[]): Promise<void> {
  if (rows.length > 0) await idempotencyKeysInsertSql(rows).execute(db);
}

/** A first call's stored response under its key. */
export interface NewIdempotencyKey {
  actorId: string;
  key: string;
  operation: string;
  requestHash: Uint8Array;
  response: unknown;
}

/** The INSERT behind {@link insertIdempotencyKeys}, as a statement to run or to embed in a data-modifying CTE. */
export function idempotencyKeysInsertSql(rows: readonly NewIdempotencyKey[]) {
  return sql`
      INSERT INTO idempotency_keys (actor_id, key, operation, request_hash, response)
      SELECT actor_id, key, operation, decode(request_hash, 'hex'), response::jsonb
      FROM unnest(${rows.map((i) => i.actorId)}::uuid[], ${rows.map((i) => i.key)}::text[], ${rows.map((i) => i.operation)}::text[],
                  ${rows.map((i) => Buffer.from(i.requestHash).toString('hex'))}::text[], ${rows.map((i) => JSON.stringify(i.response))}::text[])
        AS t(actor_id, key, operation, request_hash, response)`;
}
