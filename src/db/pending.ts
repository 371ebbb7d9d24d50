import { sql } from 'kysely';
import type { DbOrTrx, Trx } from './connection.ts';
import type { EventRow } from './types.ts';

/** Every column of a new event but its leaf index. */
export type NewPendingEvent = Omit<EventRow, 'leaf_index' | 'data'> & { data: unknown };

/**
 * Records a written event as pending; the integrator gives it its leaf index later. Returns the event as its writer
 * sees it: every column, with leaf_index -1 until integrated.
 */
export async function insertPendingEvent(trx: Trx, e: NewPendingEvent): Promise<EventRow> {
  await trx
    .insertInto('pending_events')
    .values({
      ...e,
      data: JSON.stringify(e.data),
      field_salts: e.field_salts === null ? null : JSON.stringify(e.field_salts),
      erased: e.erased === null ? null : JSON.stringify(e.erased),
    })
    .execute();
  return { ...e, data: e.data as EventRow['data'], leaf_index: -1 };
}

/** The columns an event row has besides its leaf index (pending and integrated alike). */
export const EVENT_COLUMNS = [
  'id', 'kind', 'actor_id', 'occurred_at', 'tz_offset', 'recorded_at', 'location', 'counterparty_id', 'data', 'body', 'content_hash', 'signature',
  'item_count', 'format', 'field_salts', 'erased', 'pad_key', 'item_tree_top',
] as const;

/** Events by id, integrated or still pending (pending ones with leaf_index -1). */
export async function findEventsOrPending(db: DbOrTrx, ids: readonly string[]): Promise<EventRow[]> {
  if (ids.length === 0) return [];
  const integrated = await db.selectFrom('events').selectAll().where(sql<boolean>`id = ANY(${ids}::uuid[])`).execute();
  if (integrated.length === ids.length) return integrated;
  const pending = await db
    .selectFrom('pending_events')
    .select([...EVENT_COLUMNS])
    .where(sql<boolean>`id = ANY(${ids}::uuid[])`)
    .execute();
  return [...integrated, ...pending.map((p) => ({ ...p, leaf_index: -1 }))];
}

/** Leaf index of each of `ids` that is integrated. */
export async function leafIndexesOf(db: DbOrTrx, ids: readonly string[]): Promise<Map<string, number>> {
  if (ids.length === 0) return new Map();
  const rows = await db.selectFrom('events').select(['id', 'leaf_index']).where(sql<boolean>`id = ANY(${ids}::uuid[])`).execute();
  return new Map(rows.map((r) => [r.id, Number(r.leaf_index)]));
}

/** The oldest pending events (id and content hash) in sequence order, at most `limit`. */
export async function oldestPending(trx: Trx, limit: number): Promise<{ id: string; content_hash: Uint8Array }[]> {
  return trx.selectFrom('pending_events').select(['id', 'content_hash']).orderBy('pending_seq').limit(limit).execute();
}

/** Whether any event waits for integration (cheap: no lock). */
export async function hasPending(db: DbOrTrx): Promise<boolean> {
  return (await db.selectFrom('pending_events').select('id').limit(1).executeTakeFirst()) !== undefined;
}

/**
 * Moves pending events into `events`, the i-th id at leaf `firstLeaf + i`, and deletes them from `pending_events`: one
 * statement, so an event is either pending or logged, never both or neither. Caller holds the log lock.
 */
export async function movePendingToLog(trx: Trx, ids: readonly string[], firstLeaf: number): Promise<void> {
  if (ids.length === 0) return;
  const leaves = ids.map((_, i) => firstLeaf + i);
  const res = await sql`
    WITH moved AS (DELETE FROM pending_events WHERE id = ANY(${ids}::uuid[]) RETURNING *)
    INSERT INTO events (id, leaf_index, kind, actor_id, occurred_at, tz_offset, recorded_at, location, counterparty_id, data, body, content_hash, signature, item_count,
                        format, field_salts, erased, pad_key, item_tree_top)
    SELECT m.id, u.leaf, m.kind, m.actor_id, m.occurred_at, m.tz_offset, m.recorded_at, m.location, m.counterparty_id, m.data, m.body, m.content_hash, m.signature, m.item_count,
           m.format, m.field_salts, m.erased, m.pad_key, m.item_tree_top
    FROM moved m JOIN unnest(${ids}::uuid[], ${leaves}::int8[]) AS u(id, leaf) ON u.id = m.id`.execute(trx);
  if (Number(res.numAffectedRows ?? ids.length) !== ids.length) throw new Error(`integration moved ${res.numAffectedRows} of ${ids.length} pending events`);
}

/** Takes the row locks of `itemIds` (in id order, so concurrent writers cannot deadlock on them). */
export async function lockItems(trx: Trx, itemIds: readonly string[]): Promise<void> {
  if (itemIds.length === 0) return;
  await sql`SELECT id FROM items WHERE id = ANY(${[...itemIds]}::uuid[]) ORDER BY id FOR UPDATE`.execute(trx);
}

/** Events of pending status among the links of `itemId`: their ids (links are written before integration). */
export async function pendingLinkSeqs(db: DbOrTrx, itemId: string): Promise<number[]> {
  const rows = await sql<{ seq: number }>`
    SELECT l.seq FROM chain_links l JOIN pending_events p ON p.id = l.event_id WHERE l.item_id = ${itemId} ORDER BY l.seq`.execute(db);
  return rows.rows.map((r) => r.seq);
}

/** Serialises EPCIS captures with each other for the rest of the transaction (an advisory lock, not the log lock). */
export async function lockCaptures(trx: Trx): Promise<void> {
  await sql`SELECT pg_advisory_xact_lock(hashtext('provenant:epcis-capture'))`.execute(trx);
}
