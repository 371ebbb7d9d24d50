/**
 * What `provenant audit` reads (services/audit.ts), in the order it reads it: counts, events in leaf order, pending
 * events, the latest checkpoint, then every item with its chain links in (item, seq) order. Read only; the caller
 * runs them in one repeatable-read snapshot.
 *
 * The two streams that cover the ledger (events, items with their links) come one page per statement as a single
 * `json` value (an array of arrays), bytes as hex: the drivers decode one field per page with `JSON.parse` instead of
 * one field per column per row (PGlite copies and decodes every field on its own and parses `bytea` a byte at a time;
 * that was most of an audit's time).
 */
import { sql } from 'kysely';
import type { DbOrTrx } from './connection.ts';

/** How many rows `table` holds (events or items). */
export async function countRows(db: DbOrTrx, table: 'events' | 'items'): Promise<number> {
  return Number((await db.selectFrom(table).select(db.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
}

/** A logged event as audit reads it: the columns of `StoredEventColumns` (db/event-content.ts), bytes as hex. */
export interface AuditEventRow {
  id: string;
  leafIndex: number;
  kind: string;
  actorId: string;
  /** Milliseconds since the epoch (sub-millisecond digits dropped, as the drivers' Date does). */
  occurredAtMs: number;
  tzOffset: string;
  recordedAtMs: number;
  location: string | null;
  counterpartyId: string | null;
  data: Record<string, unknown>;
  body: string;
  format: number;
  /** The stored field salts (db/event-content.ts encodeFieldSalts), hex. */
  fieldSaltsHex: string | null;
  erased: Record<string, string> | null;
  signatureHex: string | null;
  contentHashHex: string;
  itemCount: number;
  padKeyHex: string | null;
  itemTreeTopHex: string | null;
}

type Json = unknown[];
const num = (v: unknown): number => Number(v);

/** Up to `limit` logged events after leaf `after`, in leaf order (one statement). */
export async function auditEventsAfter(db: DbOrTrx, after: number, limit: number): Promise<AuditEventRow[]> {
  const r = await sql<{ page: Json[] | string | null }>`
    SELECT json_agg(json_build_array(
      id, leaf_index, kind, actor_id, floor(extract(epoch FROM occurred_at) * 1000)::int8, tz_offset,
      floor(extract(epoch FROM recorded_at) * 1000)::int8, location, counterparty_id, data, body, format, encode(field_salts, 'hex'), erased,
      encode(signature, 'hex'), encode(content_hash, 'hex'), item_count, encode(pad_key, 'hex'), encode(item_tree_top, 'hex')
    ) ORDER BY leaf_index) AS page
    FROM (SELECT * FROM events WHERE leaf_index > ${after} ORDER BY leaf_index LIMIT ${limit}) e`.execute(db);
  return page(r.rows[0]?.page).map((x) => ({
    id: x[0] as string,
    leafIndex: num(x[1]),
    kind: x[2] as string,
    actorId: x[3] as string,
    occurredAtMs: num(x[4]),
    tzOffset: x[5] as string,
    recordedAtMs: num(x[6]),
    location: x[7] as string | null,
    counterpartyId: x[8] as string | null,
    data: x[9] as Record<string, unknown>,
    body: x[10] as string,
    format: num(x[11]),
    fieldSaltsHex: x[12] as string | null,
    erased: x[13] as Record<string, string> | null,
    signatureHex: x[14] as string | null,
    contentHashHex: x[15] as string,
    itemCount: num(x[16]),
    padKeyHex: x[17] as string | null,
    itemTreeTopHex: x[18] as string | null,
  }));
}

/** Content hashes (hex) of ERASE events still pending integration. */
export async function pendingErasureHashes(db: DbOrTrx): Promise<string[]> {
  return (await sql<{ h: string }>`SELECT encode(content_hash, 'hex') AS h FROM pending_events WHERE kind = 'ERASE'`.execute(db)).rows.map((r) => r.h);
}

/** Ids of every event still pending integration. */
export async function pendingEventIds(db: DbOrTrx): Promise<string[]> {
  return (await db.selectFrom('pending_events').select('id').execute()).map((r) => r.id);
}

const ZERO_HASH_HEX = '0'.repeat(64);

/** A chain link as audit reads it, hashes and salt as hex; `prevHashHex` is the hash of the link before it in the stream. */
export interface AuditLinkRow {
  seq: number;
  eventId: string;
  prevHashHex: string;
  hashHex: string;
  entrySaltHex: string | null;
  entryPosition: number | null;
  stage: string | null;
  recalled: boolean | null;
}

/** An item with its head and every chain link stored for it, in seq order. */
export interface AuditItemRow {
  id: string;
  sgtin: string;
  headSeq: number;
  headHashHex: string;
  stage: string;
  recalled: boolean;
  links: AuditLinkRow[];
}

/**
 * Up to `limit` items after id `afterId` (null: from the first), in id order, each with its chain links in seq order:
 * two statements, the items page and the links of its id range (a range scan of the (item_id, seq) key).
 */
export async function auditItemsAfter(db: DbOrTrx, afterId: string | null, limit: number): Promise<AuditItemRow[]> {
  const after = afterId === null ? sql`` : sql`WHERE id > ${afterId}::uuid`;
  const r = await sql<{ page: Json[] | string | null }>`
    SELECT json_agg(json_build_array(id, sgtin, head_seq, encode(head_hash, 'hex'), stage, recalled) ORDER BY id) AS page
    FROM (SELECT id, sgtin, head_seq, head_hash, stage, recalled FROM items ${after} ORDER BY id LIMIT ${limit}) i`.execute(db);
  const items: AuditItemRow[] = page(r.rows[0]?.page).map((x) => ({
    id: x[0] as string,
    sgtin: x[1] as string,
    headSeq: num(x[2]),
    headHashHex: x[3] as string,
    stage: x[4] as string,
    recalled: x[5] as boolean,
    links: [],
  }));
  if (items.length === 0) return items;
  const last = items[items.length - 1]!.id;
  const from = afterId === null ? sql`` : sql`item_id > ${afterId}::uuid AND`;
  const l = await sql<{ page: Json[] | string | null }>`
    SELECT json_agg(json_build_array(
      item_id, seq, event_id, encode(hash, 'hex'), encode(entry_salt, 'hex'), entry_position, stage, recalled
    ) ORDER BY item_id, seq) AS page
    FROM chain_links WHERE ${from} item_id <= ${last}::uuid`.execute(db);
  const byId = new Map(items.map((i) => [i.id, i]));
  for (const x of page(l.rows[0]?.page)) {
    const links = byId.get(x[0] as string)?.links;
    if (!links) continue;
    // No stored prev hash (storage migration 060004): it is the hash of the link before (zero bytes before the first).
    links.push({
      seq: num(x[1]),
      eventId: x[2] as string,
      prevHashHex: links.length > 0 ? links[links.length - 1]!.hashHex : ZERO_HASH_HEX,
      hashHex: x[3] as string,
      entrySaltHex: x[4] as string | null,
      entryPosition: x[5] === null ? null : num(x[5]),
      stage: x[6] as string | null,
      recalled: x[7] as boolean | null,
    });
  }
  return items;
}

// Drivers parse `json` themselves; a driver configured to leave it as text gets it parsed here.
const page = (v: Json[] | string | null | undefined): Json[] => (v == null ? [] : typeof v === 'string' ? (JSON.parse(v) as Json[]) : v);
