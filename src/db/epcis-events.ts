/**
 * SQL of the EPCIS 2.0 event query: the typed filter of `core/epcis-query-params.ts` as WHERE conditions over
 * `events e` (with its actor `a` and counterparty `c`), the ordering, keyset paging and the checkpoint a query reads at.
 * Every condition mirrors the export mapping of `core/epcis-export.ts` (type, action, bizStep, locations, parties).
 * Visibility is exactly `eventVisibleSql`.
 */
import { type Kysely, type RawBuilder, sql } from 'kysely';
import type { EpcPattern, EpcisEventFilter, EpcisOrderBy, EpcisOrderDirection, PartyRef, SourceDestFilter } from '../core/epcis-query-params.ts';
import { kindsOfBizStep, kindsOfDisposition } from '../core/epcis-query-params.ts';
import type { ReadScope } from '../core/rights.ts';
import type { EventBody } from '../core/chain.ts';
import type { DbOrTrx } from './connection.ts';
import { type StoredEventColumns, formatOf, readableBodyOf, v1ItemsOf } from './event-content.ts';
import type { Database } from './types.ts';
import { eventVisibleSql } from './visibility.ts';

// The capture mapping table (migrations/20261123T190000-epcis-capture.ts), typed here: src/db/types.ts stays as is.
export interface EpcisCapturesTable {
  epcis_event_id: string;
  event_id: string;
  actor_id: string;
  source_event_id: string | null;
  captured_at: Date;
}
export type EpcisDatabase = Database & { epcis_captures: EpcisCapturesTable };
/** The same connection or transaction, typed with the capture table. */
export const epcisDb = (db: DbOrTrx): Kysely<EpcisDatabase> => db as unknown as Kysely<EpcisDatabase>;

// ---------------------------------------------------------------------------------------------------------------
// Checkpoints

export interface CheckpointRow {
  treeSize: number;
  rootHash: Uint8Array;
  note: string;
}

/** The latest signed checkpoint, or the one of exactly `treeSize`; undefined when there is none. */
export async function findQueryCheckpoint(db: DbOrTrx, treeSize: number | null): Promise<CheckpointRow | undefined> {
  let q = db.selectFrom('checkpoints').select(['tree_size', 'root_hash', 'note']);
  q = treeSize === null ? q.orderBy('tree_size', 'desc').limit(1) : q.where('tree_size', '=', treeSize);
  const row = await q.executeTakeFirst();
  return row && { treeSize: Number(row.tree_size), rootHash: row.root_hash, note: row.note };
}

// ---------------------------------------------------------------------------------------------------------------
// Conditions

const FALSE = sql<boolean>`false`;
const or = (parts: RawBuilder<boolean>[]): RawBuilder<boolean> => (parts.length === 0 ? FALSE : sql<boolean>`(${sql.join(parts, sql` OR `)})`);

/** Exported as a TransformationEvent: a RECYCLE with at least one well-formed recovered material. */
const isTransformation = sql<boolean>`(e.kind = 'RECYCLE' AND EXISTS (
    SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof(e.data->'materials') = 'array' THEN e.data->'materials' ELSE '[]'::jsonb END) m
    WHERE jsonb_typeof(m->'material') = 'string' AND jsonb_typeof(m->'massKg') = 'number' AND (m->>'massKg')::numeric >= 0))`;

/** Exported as an AggregationEvent: PACK (action ADD) or UNPACK (DELETE) of a container. */
const isAggregation = sql<boolean>`(e.kind IN ('PACK', 'UNPACK') AND jsonb_typeof(e.data->'container') = 'string')`;

const isObject = sql<boolean>`(NOT ${isAggregation} AND NOT ${isTransformation})`;

function ofKind<K extends EpcPattern['kind']>(patterns: readonly EpcPattern[], kind: K): Extract<EpcPattern, { kind: K }>[] {
  return patterns.filter((p): p is Extract<EpcPattern, { kind: K }> => p.kind === kind);
}

/** Some item of the event (epcList, childEPCs or inputEPCList, by event type) matches one of `patterns`. */
function itemsMatch(patterns: readonly EpcPattern[]): RawBuilder<boolean> {
  const items = ofKind(patterns, 'item');
  const classes = ofKind(patterns, 'class').map((p) => p.gtin);
  const conditions: RawBuilder<boolean>[] = [];
  if (items.length > 0) {
    conditions.push(sql<boolean>`(mi.gtin, mi.serial) IN (SELECT * FROM unnest(${items.map((i) => i.gtin)}::bpchar[], ${items.map((i) => i.serial)}::text[]))`);
  }
  if (classes.length > 0) conditions.push(sql<boolean>`mi.gtin = ANY(${classes}::bpchar[])`);
  // The company prefix sits right after the GTIN's indicator digit, whatever prefix length the brand registered.
  for (const p of ofKind(patterns, 'prefix')) conditions.push(sql<boolean>`substr(mi.gtin, 2, ${p.companyPrefix.length}::int) = ${p.companyPrefix}`);
  if (conditions.length === 0) return FALSE;
  return sql<boolean>`EXISTS (SELECT 1 FROM chain_links ml JOIN items mi ON mi.id = ml.item_id WHERE ml.event_id = e.id AND ${or(conditions)})`;
}

/** A child container of a PACK AggregationEvent (one of its childEPCs) matches. */
function childContainersMatch(patterns: readonly EpcPattern[]): RawBuilder<boolean> {
  const ssccs = ofKind(patterns, 'container').map((p) => p.sscc);
  return ssccs.length === 0 ? FALSE : sql<boolean>`(${isAggregation} AND e.data->'containers' ?| ${ssccs}::text[])`;
}

/** The parentID (container) of an AggregationEvent matches. */
function parentMatch(patterns: readonly EpcPattern[]): RawBuilder<boolean> {
  const ssccs = ofKind(patterns, 'container').map((p) => p.sscc);
  return ssccs.length === 0 ? FALSE : sql<boolean>`(${isAggregation} AND e.data->>'container' = ANY(${ssccs}::text[]))`;
}

/** The party the export writes for actor alias `x`: its GLN Digital Link when it has a 13-digit GLN, else its id. */
function partyIs(x: 'a' | 'c', parties: readonly PartyRef[]): RawBuilder<boolean> {
  const glns = parties.flatMap((p) => ('gln' in p ? [p.gln] : []));
  const ids = parties.flatMap((p) => ('actorId' in p ? [p.actorId] : []));
  const parts: RawBuilder<boolean>[] = [];
  if (glns.length > 0) parts.push(sql<boolean>`(${sql.ref(`${x}.gln`)} ~ '^[0-9]{13}$' AND ${sql.ref(`${x}.gln`)} = ANY(${glns}::text[]))`);
  if (ids.length > 0) {
    parts.push(sql<boolean>`((${sql.ref(`${x}.gln`)} IS NULL OR ${sql.ref(`${x}.gln`)} !~ '^[0-9]{13}$') AND ${sql.ref(`${x}.id`)}::text = ANY(${ids}::text[]))`);
  }
  return or(parts);
}

const PARTY_TYPES = ['owning_party', 'possessing_party'];

/** sourceList: SHIP/RETURN from the actor, RECEIVE from the counterparty (both as owning and possessing party). */
function sourceMatch(f: SourceDestFilter): RawBuilder<boolean> {
  if (!PARTY_TYPES.includes(f.type)) return FALSE;
  return sql<boolean>`((e.kind IN ('SHIP', 'RETURN') AND ${partyIs('a', f.parties)}) OR (e.kind = 'RECEIVE' AND ${partyIs('c', f.parties)}))`;
}

/** destinationList: SHIP/RETURN to the counterparty, RECEIVE to the actor, SELL to its buyer (owning party only). */
function destinationMatch(f: SourceDestFilter): RawBuilder<boolean> {
  if (!PARTY_TYPES.includes(f.type)) return FALSE;
  const sell = f.type === 'owning_party' ? sql<boolean>` OR (e.kind = 'SELL' AND ${partyIs('c', f.parties)})` : sql<boolean>``;
  return sql<boolean>`((e.kind IN ('SHIP', 'RETURN') AND ${partyIs('c', f.parties)}) OR (e.kind = 'RECEIVE' AND ${partyIs('a', f.parties)})${sell})`;
}

/** Every condition of `filter` but `eventIds` (computed over the exported event, so checked by the caller). */
export function epcisFilterConditions(filter: EpcisEventFilter): RawBuilder<boolean>[] {
  const where: RawBuilder<boolean>[] = [];
  const inKinds = (kinds: readonly string[]) => (kinds.length === 0 ? FALSE : sql<boolean>`e.kind = ANY(${[...kinds]}::text[])`);
  if (filter.kinds) where.push(inKinds(filter.kinds));
  if (filter.eventTypes) {
    const types = new Set(filter.eventTypes);
    where.push(or([
      ...(types.has('ObjectEvent') ? [isObject] : []),
      ...(types.has('AggregationEvent') ? [isAggregation] : []),
      ...(types.has('TransformationEvent') ? [isTransformation] : []),
    ]));
  }
  if (filter.actions) {
    // ADD: COMMISSION and PACK; DELETE: UNPACK; OBSERVE: every other ObjectEvent. TransformationEvents have no action.
    const actions = new Set(filter.actions);
    where.push(or([
      ...(actions.has('ADD') ? [sql<boolean>`(e.kind = 'COMMISSION' OR (e.kind = 'PACK' AND ${isAggregation}))`] : []),
      ...(actions.has('DELETE') ? [sql<boolean>`(e.kind = 'UNPACK' AND ${isAggregation})`] : []),
      ...(actions.has('OBSERVE') ? [sql<boolean>`(e.kind <> 'COMMISSION' AND ${isObject})`] : []),
    ]));
  }
  if (filter.bizSteps) where.push(inKinds([...new Set(filter.bizSteps.flatMap(kindsOfBizStep))]));
  if (filter.dispositions) where.push(inKinds([...new Set(filter.dispositions.flatMap(kindsOfDisposition))]));
  for (const locations of filter.readPoints ?? []) where.push(locations.length === 0 ? FALSE : sql<boolean>`e.location = ANY(${[...locations]}::text[])`);
  for (const locations of filter.bizLocations ?? []) {
    // SHIP (in transit) and DESTROY (gone) are exported without bizLocation.
    where.push(locations.length === 0 ? FALSE : sql<boolean>`(e.kind NOT IN ('SHIP', 'DESTROY') AND e.location = ANY(${[...locations]}::text[]))`);
  }
  if (filter.geEventTime) where.push(sql<boolean>`e.occurred_at >= ${filter.geEventTime}`);
  if (filter.ltEventTime) where.push(sql<boolean>`e.occurred_at < ${filter.ltEventTime}`);
  if (filter.geRecordTime) where.push(sql<boolean>`e.recorded_at >= ${filter.geRecordTime}`);
  if (filter.ltRecordTime) where.push(sql<boolean>`e.recorded_at < ${filter.ltRecordTime}`);
  if (filter.matchEpc) where.push(sql<boolean>`(NOT ${isTransformation} AND ${or([itemsMatch(filter.matchEpc), childContainersMatch(filter.matchEpc)])})`);
  if (filter.matchParentId) where.push(parentMatch(filter.matchParentId));
  if (filter.matchInputEpc) where.push(sql<boolean>`(${isTransformation} AND ${itemsMatch(filter.matchInputEpc)})`);
  // No exported event has an outputEPCList or a quantityList.
  if (filter.matchOutputEpc) where.push(FALSE);
  if (filter.matchEpcClass) where.push(FALSE);
  if (filter.matchAnyEpc) where.push(or([itemsMatch(filter.matchAnyEpc), childContainersMatch(filter.matchAnyEpc), parentMatch(filter.matchAnyEpc)]));
  for (const s of filter.sources ?? []) where.push(sourceMatch(s));
  for (const d of filter.destinations ?? []) where.push(destinationMatch(d));
  if (filter.actorId) where.push(sql<boolean>`e.actor_id = ${filter.actorId}::uuid`);
  if (filter.batchId !== undefined && filter.batchId !== null) {
    where.push(sql<boolean>`EXISTS (SELECT 1 FROM chain_links bl JOIN items bi ON bi.id = bl.item_id WHERE bl.event_id = e.id AND bi.batch_id = ${filter.batchId}::uuid)`);
  }
  return where;
}

// ---------------------------------------------------------------------------------------------------------------
// Reading

export interface EpcisEventRow {
  id: string;
  leaf_index: number;
  body: string;
  /** The event's readable content as a v1-shaped body (items included) for the export (db/event-content.ts). */
  readable: EventBody;
  content_hash: Uint8Array;
  actor_id: string;
  counterparty_id: string | null;
  actor_gln: string | null;
  counterparty_gln: string | null;
  captured_event_id: string | null;
}

export interface EpcisOrder {
  /** null: log order (leaf index ascending). */
  by: EpcisOrderBy | null;
  direction: EpcisOrderDirection;
}

const ORDER_COLUMN = { eventTime: 'occurred_at', recordTime: 'recorded_at' } as const;

function base(db: DbOrTrx, scope: ReadScope, filter: EpcisEventFilter, treeSize: number) {
  let q = epcisDb(db)
    .selectFrom('events as e')
    .leftJoin('actors as a', 'a.id', 'e.actor_id')
    .leftJoin('actors as c', 'c.id', 'e.counterparty_id')
    .where(eventVisibleSql(scope, 'e'))
    // ERASE events (erasure of a field) cover no items and are no business step: not exported.
    .where('e.kind', '<>', 'ERASE')
    // Only events of the checkpoint the query reads at: all committed with it, so every page sees the same log.
    .where('e.leaf_index', '<', treeSize);
  for (const w of epcisFilterConditions(filter)) q = q.where(w);
  return q;
}

/**
 * Up to `limit` events `scope` may read that match `filter` (`eventIds` aside), below `treeSize`, in `order`,
 * after the event of leaf `afterLeafIndex` in that order (null: from the start).
 */
export async function findEpcisEventRows(
  db: DbOrTrx,
  scope: ReadScope,
  filter: EpcisEventFilter,
  page: { treeSize: number; order: EpcisOrder; afterLeafIndex: number | null; limit: number },
): Promise<EpcisEventRow[]> {
  const { order, afterLeafIndex } = page;
  let q = base(db, scope, filter, page.treeSize);
  const dir = order.by === null || order.direction === 'ASC' ? 'asc' : 'desc';
  if (order.by === null) {
    if (afterLeafIndex !== null) q = q.where('e.leaf_index', '>', afterLeafIndex);
  } else if (afterLeafIndex !== null) {
    // Keyset on (time, leaf index): the cursor event's own key, read back (events are immutable).
    const column = ORDER_COLUMN[order.by];
    const cmp = dir === 'asc' ? sql`>` : sql`<`;
    q = q.where(sql<boolean>`(${sql.ref(`e.${column}`)}, e.leaf_index) ${cmp} (SELECT ${sql.ref(column)}, leaf_index FROM events WHERE leaf_index = ${afterLeafIndex})`);
  }
  let s = q
    .leftJoin('epcis_captures as x', 'x.event_id', 'e.id')
    .select([...EXPORT_COLUMNS, 'a.gln as actor_gln', 'c.gln as counterparty_gln', 'x.epcis_event_id as captured_event_id']);
  if (order.by !== null) s = s.orderBy(order.by === 'eventTime' ? 'e.occurred_at' : 'e.recorded_at', dir);
  const rows = await s.orderBy('e.leaf_index', dir).limit(page.limit).execute();
  const readable = await readableBodies(db, rows);
  return rows.map((r) => ({
    id: r.id, body: r.body, content_hash: r.content_hash, actor_id: r.actor_id, counterparty_id: r.counterparty_id, readable: readable.get(r.id)!,
    leaf_index: Number(r.leaf_index), captured_event_id: r.captured_event_id ?? null, actor_gln: r.actor_gln ?? null, counterparty_gln: r.counterparty_gln ?? null,
  }));
}

/** How many events match (`eventIds` aside), counting no further than `cap`. */
export async function countEpcisEvents(db: DbOrTrx, scope: ReadScope, filter: EpcisEventFilter, treeSize: number, cap: number): Promise<number> {
  const inner = base(db, scope, filter, treeSize).select(sql<number>`1`.as('one')).limit(cap);
  const row = await epcisDb(db).selectFrom(inner.as('t')).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}

/** The event columns an export reads (its readable content and the v2 bookkeeping the mapper needs). */
export const EXPORT_COLUMNS = [
  'e.id', 'e.leaf_index', 'e.body', 'e.content_hash', 'e.kind', 'e.actor_id', 'e.occurred_at', 'e.tz_offset', 'e.recorded_at', 'e.location',
  'e.counterparty_id', 'e.data', 'e.format', 'e.field_salts', 'e.erased', 'e.signature',
] as const;

/**
 * Each row's readable, v1-shaped body (db/event-content.ts): a v1 event's items from its body, a v2 event's (whose
 * body names no item) from its chain links, sorted like a v1 body's.
 */
export async function readableBodies(db: DbOrTrx, rows: readonly (StoredEventColumns & { id: string })[]): Promise<Map<string, EventBody>> {
  const v2 = rows.filter((r) => formatOf(r) === 2).map((r) => r.id);
  const items = new Map<string, string[]>();
  for (let i = 0; i < v2.length; i += 1000) {
    const links = await sql<{ event_id: string; sgtin: string }>`
      SELECT l.event_id, i.sgtin FROM chain_links l JOIN items i ON i.id = l.item_id WHERE l.event_id = ANY(${v2.slice(i, i + 1000)}::uuid[])`.execute(db);
    for (const l of links.rows) {
      const list = items.get(l.event_id);
      if (list) list.push(l.sgtin);
      else items.set(l.event_id, [l.sgtin]);
    }
  }
  return new Map(rows.map((r) => [r.id, readableBodyOf(r, formatOf(r) === 2 ? (items.get(r.id) ?? []).sort() : v1ItemsOf(r.body))]));
}
