import { sql } from 'kysely';
import type { DbOrTrx, Trx } from './connection.ts';
import type { EventRow } from './types.ts';
import { encodeFieldSalts } from './event-content.ts';
import { hex } from './ledger.ts';

/** Every column of a new event but its leaf index; field salts as name → hex salt (stored compactly). */
export type NewPendingEvent = Omit<EventRow, 'leaf_index' | 'data' | 'field_salts'> & { data: unknown; field_salts: Record<string, string> | null };

const storedSalts = (s: Record<string, string> | null): Uint8Array | null => (s === null ? null : encodeFieldSalts(s));

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
      field_salts: storedSalts(e.field_salts),
      erased: e.erased === null ? null : JSON.stringify(e.erased),
    })
    .execute();
  return { ...e, data: e.data as EventRow['data'], field_salts: storedSalts(e.field_salts), leaf_index: -1 };
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

/**
 * Records many written events as pending with multi-row inserts, in the given order (their `pending_seq`, hence their
 * leaf order, follows it). Returns the events as their writer sees them (leaf_index -1).
 */
export async function insertPendingEvents(trx: Trx, events: readonly NewPendingEvent[]): Promise<EventRow[]> {
  // Column arrays through unnest: a handful of parameters per statement whatever the row count (a VALUES list binds
  // 18 per row, which costs more than the insert itself on the embedded database).
  const json = (v: unknown) => (v === null || v === undefined ? null : JSON.stringify(v));
  const hexOrNull = (b: Uint8Array | null) => (b ? hex(b) : null);
  for (let i = 0; i < events.length; i += 5_000) {
    const part = events.slice(i, i + 5_000);
    const col = <T>(f: (e: NewPendingEvent) => T) => part.map(f);
    await sql`
      INSERT INTO pending_events (id, kind, actor_id, occurred_at, tz_offset, recorded_at, location, counterparty_id, data, body, content_hash, signature, item_count,
                                  format, field_salts, erased, pad_key, item_tree_top)
      SELECT id, kind, actor_id, occurred_at, tz_offset, recorded_at, location, counterparty_id, data::jsonb, body, decode(content_hash, 'hex'),
             decode(signature, 'hex'), item_count, format, decode(field_salts, 'hex'), erased::jsonb, decode(pad_key, 'hex'), decode(item_tree_top, 'hex')
      FROM unnest(${col((e) => e.id)}::uuid[], ${col((e) => e.kind)}::text[], ${col((e) => e.actor_id)}::uuid[],
                  ${col((e) => e.occurred_at.toISOString())}::timestamptz[], ${col((e) => e.tz_offset)}::text[],
                  ${col((e) => e.recorded_at.toISOString())}::timestamptz[], ${col((e) => e.location)}::text[],
                  ${col((e) => e.counterparty_id)}::uuid[], ${col((e) => JSON.stringify(e.data))}::text[], ${col((e) => e.body)}::text[],
                  ${col((e) => hex(e.content_hash))}::text[], ${col((e) => hexOrNull(e.signature))}::text[],
                  ${col((e) => e.item_count)}::int[], ${col((e) => e.format ?? 1)}::int2[], ${col((e) => hexOrNull(storedSalts(e.field_salts)))}::text[],
                  ${col((e) => json(e.erased))}::text[], ${col((e) => hexOrNull(e.pad_key))}::text[], ${col((e) => hexOrNull(e.item_tree_top))}::text[])
        WITH ORDINALITY AS t(id, kind, actor_id, occurred_at, tz_offset, recorded_at, location, counterparty_id, data, body, content_hash, signature, item_count,
                             format, field_salts, erased, pad_key, item_tree_top, n)
      ORDER BY n`.execute(trx);
  }
  return events.map((e) => ({ ...e, data: e.data as EventRow['data'], field_salts: storedSalts(e.field_salts), leaf_index: -1 }));
}
