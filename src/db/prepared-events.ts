/** SQL of prepared (unlogged) events awaiting an actor's signature (migrations/20261126T050009-prepared-events.ts). */
import { type Kysely, sql } from 'kysely';
import type { DbOrTrx, Trx } from './connection.ts';
import type { Database } from './types.ts';

// Typed here so src/db/types.ts stays as is.
interface PreparedEventsTable {
  id: string;
  actor_id: string;
  signer: Uint8Array;
  content_hash: Uint8Array;
  prepared_at: Date;
  expires_at: Date;
  sealed: unknown;
}
type PreparedDatabase = Database & { prepared_events: PreparedEventsTable };
const pdb = (db: DbOrTrx): Kysely<PreparedDatabase> => db as unknown as Kysely<PreparedDatabase>;

export interface PreparedEventRow {
  id: string;
  actorId: string;
  /** Lowercase hex. */
  signer: string;
  contentHash: Uint8Array;
  preparedAt: Date;
  expiresAt: Date;
  /** The JSON the preparing service stored (its own codec). */
  sealed: unknown;
}

export async function insertPreparedEvent(db: DbOrTrx, p: PreparedEventRow): Promise<void> {
  await pdb(db).insertInto('prepared_events').values({
    id: p.id, actor_id: p.actorId, signer: Buffer.from(p.signer, 'hex'), content_hash: p.contentHash, prepared_at: p.preparedAt, expires_at: p.expiresAt,
    sealed: JSON.stringify(p.sealed),
  }).execute();
}

/** The prepared event, its row locked until the transaction ends (two submits of it are serialised). */
export async function lockPreparedEvent(trx: Trx, id: string): Promise<PreparedEventRow | undefined> {
  const r = await pdb(trx).selectFrom('prepared_events').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
  return r && {
    id: r.id, actorId: r.actor_id, signer: Buffer.from(r.signer).toString('hex'), contentHash: new Uint8Array(r.content_hash), preparedAt: r.prepared_at,
    expiresAt: r.expires_at, sealed: typeof r.sealed === 'string' ? JSON.parse(r.sealed) : r.sealed,
  };
}

export async function deletePreparedEvent(trx: Trx, id: string): Promise<void> {
  await pdb(trx).deleteFrom('prepared_events').where('id', '=', id).execute();
}

/**
 * Deletes every preparation that expired before `before`, `batch` rows per statement (each its own short transaction
 * outside a caller's, so a large backlog never holds many row locks at once). Returns how many were deleted.
 */
export async function deleteExpiredPreparedEvents(db: DbOrTrx, before: Date, batch = 1_000): Promise<number> {
  let total = 0;
  for (;;) {
    const r = await pdb(db)
      .deleteFrom('prepared_events')
      .where('id', 'in', (q) => q.selectFrom('prepared_events').select('id').where('expires_at', '<', before).limit(batch))
      .executeTakeFirst();
    const n = Number(r.numDeletedRows);
    total += n;
    if (n < batch) return total;
  }
}

/** Each item's current head (seq and hex link hash), by item id; absent items are left out. */
export async function currentHeads(trx: Trx, itemIds: readonly string[]): Promise<Map<string, { seq: number; hash: string }>> {
  if (itemIds.length === 0) return new Map();
  const rows = await sql<{ id: string; head_seq: number; head_hash: Uint8Array }>`
    SELECT id, head_seq, head_hash FROM items WHERE id = ANY(${[...itemIds]}::uuid[])`.execute(trx);
  return new Map(rows.rows.map((r) => [r.id, { seq: Number(r.head_seq), hash: Buffer.from(r.head_hash).toString('hex') }]));
}
