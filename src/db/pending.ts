import { sql } from 'kysely';
import { prepared, type DbOrTrx, type Trx } from './connection.ts';
import type { EventRow } from './types.ts';
import { encodeFieldSalts } from './event-content.ts';
import { custodyStartsInsertSql, eventLinksInsertSql, hex, type ItemAdvance, itemHeadMovesSql, type NewLink } from './ledger.ts';
import { idempotencyKeysInsertSql, type NewIdempotencyKey } from './idempotency.ts';
import { collectLatestHeads, HEADS_JSON, type HeadInBatch } from './head-map.ts';

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
  return writtenEventRow(e);
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

/**
 * The oldest pending events (at most `limit`, in sequence order); the heads the links of those without stored
 * head-map entries leave (the latest link of each item they touch, with the state after it); the ids of those with
 * stored entries (`pending_heads`, read with db/head-map.ts `pendingHeads`); and whether the head map is still
 * unbuilt: one statement. Caller holds the log lock.
 */
export async function pendingBatchWithHeads(trx: Trx, limit: number): Promise<{
  pending: { id: string; content_hash: Uint8Array }[]; heads: HeadInBatch[]; storedHeads: string[]; headMapEmpty: boolean;
}> {
  const { rows } = await prepared(sql<{ pending: string | null; heads: string | null; stored: string[] | null; map_empty: boolean }>`
    WITH p AS (
      SELECT e.id, e.content_hash, e.pending_seq, EXISTS (SELECT 1 FROM pending_heads h WHERE h.event_id = e.id) AS stored
      FROM (SELECT id, content_hash, pending_seq FROM pending_events ORDER BY pending_seq LIMIT ${limit}) e
    )
    SELECT (SELECT json_agg(json_build_array(p.id, encode(p.content_hash, 'hex')) ORDER BY p.pending_seq) FROM p)::text AS pending,
      (SELECT ${HEADS_JSON} FROM chain_links l JOIN items i ON i.id = l.item_id WHERE l.event_id IN (SELECT id FROM p WHERE NOT p.stored)) AS heads,
      (SELECT array_agg(p.id::text) FROM p WHERE p.stored) AS stored,
      NOT EXISTS (SELECT 1 FROM head_map_nodes WHERE depth = 0) AS map_empty`).execute(trx);
  const pending = (JSON.parse(rows[0]?.pending ?? '[]') as [string, string][]).map(([id, h]) => ({ id, content_hash: Uint8Array.from(Buffer.from(h, 'hex')) }));
  return {
    pending,
    heads: [...collectLatestHeads(rows[0]?.heads ?? null, new Map()).values()],
    storedHeads: rows[0]?.stored ?? [],
    headMapEmpty: rows[0]!.map_empty,
  };
}

/** Whether any event waits for integration (cheap: no lock). */
export async function hasPending(db: DbOrTrx): Promise<boolean> {
  return (await db.selectFrom('pending_events').select('id').limit(1).executeTakeFirst()) !== undefined;
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
  for (let i = 0; i < events.length; i += 5_000) {
    const r = eventRowsSql(events.slice(i, i + 5_000));
    await sql`INSERT INTO pending_events (${EVENT_INSERT_COLUMNS}) SELECT ${EVENT_INSERT_COLUMNS} FROM (${r}) r ORDER BY n`.execute(trx);
  }
  return events.map(writtenEventRow);
}

/** A new event as its writer sees it once written: the stored forms of its columns, leaf_index -1 until integrated. */
export const writtenEventRow = (e: NewPendingEvent): EventRow => ({ ...e, data: e.data as EventRow['data'], field_salts: storedSalts(e.field_salts), leaf_index: -1 });

/**
 * The rows of `events` as a SELECT over column arrays (one parameter per column whatever the row count), with each
 * row's 1-based position as `n`: the source of every multi-row event insert (pending or logged).
 */
export function eventRowsSql(events: readonly NewPendingEvent[]) {
  const json = (v: unknown) => (v === null || v === undefined ? null : JSON.stringify(v));
  const hexOrNull = (b: Uint8Array | null | undefined) => (b ? hex(b) : null);
  const col = <T>(f: (e: NewPendingEvent) => T) => events.map(f);
  return sql`
    SELECT id, kind, actor_id, occurred_at, tz_offset, recorded_at, location, counterparty_id, data::jsonb AS data, body, decode(content_hash, 'hex') AS content_hash,
           decode(signature, 'hex') AS signature, item_count, format, decode(field_salts, 'hex') AS field_salts, erased::jsonb AS erased, decode(pad_key, 'hex') AS pad_key,
           decode(item_tree_top, 'hex') AS item_tree_top, n
    FROM unnest(${col((e) => e.id)}::uuid[], ${col((e) => e.kind)}::text[], ${col((e) => e.actor_id)}::uuid[],
                ${col((e) => e.occurred_at.toISOString())}::timestamptz[], ${col((e) => e.tz_offset)}::text[],
                ${col((e) => e.recorded_at.toISOString())}::timestamptz[], ${col((e) => e.location)}::text[],
                ${col((e) => e.counterparty_id)}::uuid[], ${col((e) => JSON.stringify(e.data))}::text[], ${col((e) => e.body)}::text[],
                ${col((e) => hex(e.content_hash))}::text[], ${col((e) => hexOrNull(e.signature))}::text[],
                ${col((e) => e.item_count)}::int[], ${col((e) => e.format ?? 1)}::int2[], ${col((e) => hexOrNull(storedSalts(e.field_salts)))}::text[],
                ${col((e) => json(e.erased))}::text[], ${col((e) => hexOrNull(e.pad_key))}::text[], ${col((e) => hexOrNull(e.item_tree_top))}::text[])
      WITH ORDINALITY AS t(id, kind, actor_id, occurred_at, tz_offset, recorded_at, location, counterparty_id, data, body, content_hash, signature, item_count,
                           format, field_salts, erased, pad_key, item_tree_top, n)`;
}

/** The columns an event insert names, in {@link eventRowsSql}'s order (without `n`). */
export const EVENT_INSERT_COLUMNS = sql.raw(
  'id, kind, actor_id, occurred_at, tz_offset, recorded_at, location, counterparty_id, data, body, content_hash, signature, item_count, format, field_salts, erased, pad_key, item_tree_top',
);

/**
 * Everything a batch of lifecycle writes stores, in ONE statement (data-modifying CTEs): the pending events in the
 * given order (their `pending_seq`, hence their leaf order, follows it), their chain links, custody starts and
 * idempotency rows, and the head moves with their expected-seq check. Returns how many heads moved: fewer than
 * `moves.length` means another writer moved one first, and the caller must roll back. Fails like the separate inserts
 * on a duplicate link (item, seq) or a used idempotency key.
 */
export async function writePendingBatch(trx: Trx, w: {
  events: readonly NewPendingEvent[];
  links: readonly (NewLink & { eventId: string })[];
  starts: readonly { itemId: string; seq: number; actorId: string }[];
  moves: readonly (ItemAdvance & { headSeq: number })[];
  idempotency: readonly NewIdempotencyKey[];
}): Promise<number> {
  // Each part is the statement its own insert function runs (db/ledger.ts, db/idempotency.ts), here as one CTE each.
  const { rows } = await prepared(sql<{ moved: number }>`
    WITH e AS (
      INSERT INTO pending_events (${EVENT_INSERT_COLUMNS}) SELECT ${EVENT_INSERT_COLUMNS} FROM (${eventRowsSql(w.events)}) r ORDER BY n
    ), l AS (${eventLinksInsertSql(w.links)}
    ), c AS (${custodyStartsInsertSql(w.starts)}
    ), k AS (${idempotencyKeysInsertSql(w.idempotency)}
    ), u AS (${itemHeadMovesSql(w.moves)}
      RETURNING 1
    )
    SELECT (SELECT count(*) FROM u)::int AS moved`).execute(trx);
  return rows[0]!.moved;
}
