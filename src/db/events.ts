/**
 * The one event query of the ledger: every read of `events` goes through here, the GraphQL `events` and
 * `materialLots` connections, `Item.events`, `Event.items`, node lookups, the EPCIS query interface (and its
 * subscriptions) and the `ledgerEvents` feed. They share one filter ({@link EventFilter}, the EPCIS filter of
 * `core/epcis-query-params.ts` plus the GraphQL and feed extras) turned into SQL by {@link eventFilterConditions},
 * one row shape ({@link EventRow}, numbers normalised by {@link toEventRow}), and one visibility rule applied in SQL:
 * `eventVisibleSql` for event lists, `itemEventVisibleSql` for one item's history (an event is shown there through
 * that item's own link). Every list costs a bounded number of statements whatever its length.
 *
 * The EPCIS conditions mirror the export mapping of `core/epcis-export.ts` (type, action, bizStep, locations, parties)
 * over `events e` with its actor `a` and counterparty `c`.
 */
import { type RawBuilder, sql } from 'kysely';
import type { EpcPattern, EpcisEventFilter, EpcisOrderBy, EpcisOrderDirection, PartyRef, SourceDestFilter } from '../core/epcis-query-params.ts';
import { kindsOfBizStep, kindsOfDisposition } from '../core/epcis-query-params.ts';
import type { ReadScope } from '../core/rights.ts';
import type { DbOrTrx } from './connection.ts';
import { eventParticipantSql } from './disclosure.ts';
import { epcisDb } from './epcis-events.ts';
import { type KeysetPage, keysetPage } from './paging.ts';
import type { EventRow, ItemRow } from './types.ts';
import { eventVisibleSql, itemEventVisibleSql, itemVisibleSql } from './visibility.ts';
import type { EventBody } from '../core/chain.ts';
import { type StoredEventColumns, formatOf, readableBodyOf, v1ItemsOf } from './event-content.ts';

export type { EventRow } from './types.ts';

/**
 * What an event list selects; every member given must hold. The EPCIS members keep their EPCIS meaning (an empty
 * list matches nothing); the extras below serve GraphQL and the feed (an empty list there means "no condition").
 */
export interface EventFilter extends EpcisEventFilter {
  /** With `actorId`: ACTIVATE, USE_REPORT and RETURN match only when the reader is a participant (their actor is withheld from the public tier). */
  actorForParticipantsOnly?: boolean;
  /** Events touching a visible item of one of these products (GTIN-14). */
  touchingGtins?: readonly string[];
  /** Events touching a visible item of one of these batches (resolved by the query itself, so future batches match). */
  touchingBatches?: readonly { gtin: string; lot: string }[];
  /** Events touching one of these visible items, by id or by (GTIN-14, serial). */
  touchingItems?: { ids: readonly string[]; keys: readonly { gtin: string; serial: string }[] };
  /** RECYCLE events recovering this material (case-insensitive). */
  recoveredMaterial?: string | null;
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

/**
 * Some item of the event (epcList, childEPCs or inputEPCList, by event type) that the reader may see matches one of
 * `patterns`: an item the reader cannot see is not in its export, so it must not select the event either (else a
 * MATCH_epc on another brand's serial would tell that the serial was in a shared event).
 */
function itemsMatch(patterns: readonly EpcPattern[], scope: ReadScope | null): RawBuilder<boolean> {
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
  const visible = scope === null ? sql<boolean>`true` : itemVisibleSql(scope, 'mi');
  return sql<boolean>`EXISTS (SELECT 1 FROM chain_links ml JOIN items mi ON mi.id = ml.item_id WHERE ml.event_id = e.id AND ${or(conditions)} AND ${visible})`;
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

/**
 * Every condition of `filter` but `eventIds` (computed over the exported event, so checked by the caller). Item
 * conditions only count items `scope` may see (none when `scope` is null: capture's comparison sees everything).
 */
export function eventFilterConditions(filter: EventFilter, scope: ReadScope | null = null): RawBuilder<boolean>[] {
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
  if (filter.matchEpc) where.push(sql<boolean>`(NOT ${isTransformation} AND ${or([itemsMatch(filter.matchEpc, scope), childContainersMatch(filter.matchEpc)])})`);
  if (filter.matchParentId) where.push(parentMatch(filter.matchParentId));
  if (filter.matchInputEpc) where.push(sql<boolean>`(${isTransformation} AND ${itemsMatch(filter.matchInputEpc, scope)})`);
  // No exported event has an outputEPCList or a quantityList.
  if (filter.matchOutputEpc) where.push(FALSE);
  if (filter.matchEpcClass) where.push(FALSE);
  if (filter.matchAnyEpc) where.push(or([itemsMatch(filter.matchAnyEpc, scope), childContainersMatch(filter.matchAnyEpc), parentMatch(filter.matchAnyEpc)]));
  for (const s of filter.sources ?? []) where.push(sourceMatch(s));
  for (const d of filter.destinations ?? []) where.push(destinationMatch(d));
  if (filter.actorId) where.push(sql<boolean>`e.actor_id = ${filter.actorId}::uuid`);
  if (filter.batchId !== undefined && filter.batchId !== null) {
    where.push(sql<boolean>`EXISTS (SELECT 1 FROM chain_links bl JOIN items bi ON bi.id = bl.item_id WHERE bl.event_id = e.id AND bi.batch_id = ${filter.batchId}::uuid AND ${scope === null ? sql<boolean>`true` : itemVisibleSql(scope, 'bi')})`);
  }
  if (filter.actorId && filter.actorForParticipantsOnly && scope !== null) {
    // The actor of ACTIVATE / USE_REPORT / RETURN (possibly a consumer) is for participants by default: a public-tier
    // reader must not find such events by their actor (docs/ledger-format.md §15).
    where.push(sql<boolean>`(e.kind NOT IN ('ACTIVATE', 'USE_REPORT', 'RETURN') OR ${eventParticipantSql(scope, 'e')})`);
  }
  where.push(...touchConditions(filter, scope));
  if (filter.recoveredMaterial !== undefined && filter.recoveredMaterial !== null) {
    where.push(sql<boolean>`EXISTS (SELECT 1 FROM jsonb_array_elements(e.data->'materials') m WHERE lower(m->>'material') = lower(${filter.recoveredMaterial}))`);
  }
  return where;
}

/**
 * The feed's item lists: each non-empty list must be touched by an item of the event the reader may see (an item it
 * cannot see is not shown with the event, so matching on it would tell that another brand's serial was in it).
 */
function touchConditions(f: EventFilter, scope: ReadScope | null): RawBuilder<boolean>[] {
  const conds: RawBuilder<boolean>[] = [];
  const visible = scope === null ? sql<boolean>`true` : itemVisibleSql(scope, 'fi');
  const touches = (cond: RawBuilder<boolean>) =>
    sql<boolean>`EXISTS (SELECT 1 FROM chain_links fl JOIN items fi ON fi.id = fl.item_id WHERE fl.event_id = e.id AND ${cond} AND ${visible})`;
  if (f.touchingGtins?.length) conds.push(touches(sql<boolean>`fi.gtin = ANY(${[...f.touchingGtins]}::bpchar[])`));
  if (f.touchingBatches?.length) {
    const batches = f.touchingBatches;
    conds.push(touches(sql<boolean>`fi.batch_id IN (SELECT fb.id FROM batches fb
      JOIN unnest(${batches.map((b) => b.gtin)}::char(14)[], ${batches.map((b) => b.lot)}::text[]) AS w(gtin, lot)
        ON fb.gtin = w.gtin AND fb.lot = w.lot)`));
  }
  const ids = f.touchingItems?.ids ?? [];
  const keys = f.touchingItems?.keys ?? [];
  if (ids.length || keys.length) {
    conds.push(touches(sql<boolean>`(fi.id = ANY(${[...ids]}::uuid[]) OR EXISTS (
      SELECT 1 FROM unnest(${keys.map((k) => k.gtin)}::char(14)[], ${keys.map((k) => k.serial)}::text[]) AS w(gtin, serial)
      WHERE w.gtin = fi.gtin AND w.serial = fi.serial))`));
  }
  return conds;
}

// ---------------------------------------------------------------------------------------------------------------
// Rows and the shared base

/** A stored event row with its leaf index and item count as numbers (the bigint column can come back as a string). */
export function toEventRow<R extends EventRow>(r: R): R {
  return { ...r, leaf_index: Number(r.leaf_index), item_count: Number(r.item_count) };
}

/**
 * Events `scope` may see matching `filter`, as `e` with its actor `a` and counterparty `c` (left joins the planner
 * drops when no condition uses them). Every event list starts here.
 */
function eventsQuery(db: DbOrTrx, scope: ReadScope, filter: EventFilter) {
  let q = epcisDb(db)
    .selectFrom('events as e')
    .leftJoin('actors as a', 'a.id', 'e.actor_id')
    .leftJoin('actors as c', 'c.id', 'e.counterparty_id')
    .where(eventVisibleSql(scope, 'e'));
  for (const w of eventFilterConditions(filter, scope)) q = q.where(w);
  return q;
}

// ---------------------------------------------------------------------------------------------------------------
// GraphQL lists and lookups

/**
 * A keyset page (`page.limit + 1` rows, see `keysetPage`) of the events `scope` may see matching `filter`, by leaf
 * index: ascending (the `events` connection), or descending when `descending` (`materialLots`).
 */
export async function findEventPage(db: DbOrTrx, scope: ReadScope, filter: EventFilter, page: KeysetPage<unknown>, descending = false): Promise<EventRow[]> {
  const rows = await keysetPage(eventsQuery(db, scope, filter).selectAll('e'), 'e.leaf_index', page, descending).execute();
  return rows.map(toEventRow);
}

/** How many events `scope` may see match `filter` (the `totalCount` of {@link findEventPage}). */
export async function countEvents(db: DbOrTrx, scope: ReadScope, filter: EventFilter): Promise<number> {
  const row = await eventsQuery(db, scope, filter).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}

/** The events among `ids` (uuids: the caller checks them) that `scope` may see, in no particular order; one statement. */
export async function findVisibleEventsByIds(db: DbOrTrx, scope: ReadScope, ids: readonly string[]): Promise<EventRow[]> {
  if (ids.length === 0) return [];
  const rows = await eventsQuery(db, scope, {}).selectAll('e').where(sql<boolean>`e.id = ANY(${[...ids]}::uuid[])`).execute();
  return rows.map(toEventRow);
}

/** The ids among `ids` of events `scope` may see; one statement. */
export async function visibleEventIds(db: DbOrTrx, scope: ReadScope, ids: readonly string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await eventsQuery(db, scope, {}).select('e.id').where('e.id', 'in', [...ids]).execute();
  return new Set(rows.map((r) => r.id));
}

export type ItemEventRow = EventRow & { seq: number; item_id: string };
/** One page of one item's history (`Item.events`). */
export interface ItemEventsKey {
  itemId: string;
  limit: number;
  /** Exclusive seq bounds. */
  aboveSeq: number | null;
  belowSeq: number | null;
  /** Read order (the page is reversed afterwards for `last`). */
  newestFirst: boolean;
}

const keyOfItemPage = (k: ItemEventsKey) => `${k.itemId}/${k.limit}/${k.aboveSeq}/${k.belowSeq}/${k.newestFirst}`;

/**
 * Pages of many items' histories (up to `limit + 1` events each, with seq), those events `scope` may see through the
 * item's own link, in `keys`' order: one statement per distinct page shape (DataLoader batches one request's keys).
 */
export async function findItemEventPages(db: DbOrTrx, scope: ReadScope, keys: readonly ItemEventsKey[]): Promise<ItemEventRow[][]> {
  const groups = new Map<string, ItemEventsKey[]>();
  for (const k of keys) {
    const g = `${k.limit}/${k.aboveSeq}/${k.belowSeq}/${k.newestFirst}`;
    const list = groups.get(g);
    if (list) list.push(k);
    else groups.set(g, [k]);
  }
  const result = new Map<string, ItemEventRow[]>();
  for (const group of groups.values()) {
    const { limit, aboveSeq, belowSeq, newestFirst } = group[0]!;
    const ids = group.map((k) => k.itemId);
    const order = newestFirst ? sql`DESC` : sql`ASC`;
    const afterCond = sql`${aboveSeq === null ? sql`` : sql`AND l.seq > ${aboveSeq}`} ${belowSeq === null ? sql`` : sql`AND l.seq < ${belowSeq}`}`;
    const rows = await sql<ItemEventRow & { rn: number }>`
      SELECT * FROM (
        SELECT e.*, l.seq, l.item_id, row_number() OVER (PARTITION BY l.item_id ORDER BY l.seq ${order}) AS rn
        FROM chain_links l JOIN events e ON e.id = l.event_id
        WHERE l.item_id = ANY(${ids}::uuid[]) ${afterCond} AND ${itemEventVisibleSql(scope, 'l', 'e')}
      ) t WHERE rn <= ${limit + 1} ORDER BY item_id, seq ${order}`.execute(db);
    for (const r of rows.rows) {
      const key = keyOfItemPage({ itemId: r.item_id, limit, aboveSeq, belowSeq, newestFirst });
      const list = result.get(key);
      if (list) list.push(toEventRow(r));
      else result.set(key, [toEventRow(r)]);
    }
  }
  return keys.map((k) => result.get(keyOfItemPage(k)) ?? []);
}

/** One page of one event's items (`Event.items`, `MaterialLot.sourceItems`), keyset by item id. */
export interface EventItemsKey extends KeysetPage<string> {
  eventId: string;
}

/** Cache key of an {@link EventItemsKey} (DataLoader). */
export const keyOfEventItemsPage = (k: EventItemsKey): string => JSON.stringify([k.eventId, k.limit, k.after, k.before, k.backward]);

/**
 * Pages of many events' items (up to `limit + 1` items each, see `keysetPage`) that `scope` may see, in `keys`' order:
 * one statement per distinct page shape, each event's page read by its own LATERAL subquery (the plan of a single page).
 */
export async function findEventItemPages(db: DbOrTrx, scope: ReadScope, keys: readonly EventItemsKey[]): Promise<ItemRow[][]> {
  const groups = new Map<string, EventItemsKey[]>();
  for (const k of keys) {
    const g = JSON.stringify([k.limit, k.after, k.before, k.backward]);
    const list = groups.get(g);
    if (list) list.push(k);
    else groups.set(g, [k]);
  }
  const result = new Map<string, ItemRow[]>();
  for (const group of groups.values()) {
    const { limit, after, before, backward } = group[0]!;
    const eventIds = [...new Set(group.map((k) => k.eventId))];
    const order = backward ? sql`DESC` : sql`ASC`;
    const bounds = sql`${after === null ? sql`` : sql`AND i.id > ${after}`} ${before === null ? sql`` : sql`AND i.id < ${before}`}`;
    const rows = await sql<ItemRow & { page_event_id: string }>`
      SELECT p.event_id AS page_event_id, x.* FROM unnest(${eventIds}::uuid[]) AS p(event_id)
      CROSS JOIN LATERAL (
        SELECT i.* FROM chain_links l JOIN items i ON i.id = l.item_id
        WHERE l.event_id = p.event_id ${bounds} AND ${itemVisibleSql(scope, 'i')}
        ORDER BY i.id ${order} LIMIT ${limit + 1}
      ) x
      ORDER BY p.event_id, x.id ${order}`.execute(db);
    const byEvent = new Map<string, ItemRow[]>();
    for (const { page_event_id: eventId, ...item } of rows.rows) {
      const list = byEvent.get(eventId);
      if (list) list.push(item);
      else byEvent.set(eventId, [item]);
    }
    for (const k of group) result.set(keyOfEventItemsPage(k), byEvent.get(k.eventId) ?? []);
  }
  return keys.map((k) => result.get(keyOfEventItemsPage(k)) ?? []);
}

/** Per event of `eventIds` (uuids), the GTINs (ascending) of the items it covers that `scope` may see; one statement. */
export async function findEventProductGtins(db: DbOrTrx, scope: ReadScope, eventIds: readonly string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  if (eventIds.length === 0) return out;
  const rows = await sql<{ event_id: string; gtin: string }>`
    SELECT DISTINCT cl.event_id, i.gtin FROM chain_links cl JOIN items i ON i.id = cl.item_id
    WHERE cl.event_id = ANY(${[...eventIds]}::uuid[]) AND ${itemVisibleSql(scope, 'i')} ORDER BY cl.event_id, i.gtin`.execute(db);
  for (const r of rows.rows) {
    const list = out.get(r.event_id);
    if (list) list.push(r.gtin);
    else out.set(r.event_id, [r.gtin]);
  }
  return out;
}

/** Ids of every item event `eventId` covers, visible or not (write paths: capture and pack check what they wrote). */
export async function findEventItemIds(db: DbOrTrx, eventId: string): Promise<string[]> {
  return (await db.selectFrom('chain_links').select('item_id').where('event_id', '=', eventId).execute()).map((r) => r.item_id);
}


// ---------------------------------------------------------------------------------------------------------------
// The ledgerEvents feed

/** Events `scope` may see matching `filter` with leaf index in (after, upTo], oldest first, at most `limit`. */
export async function findFeedEvents(db: DbOrTrx, scope: ReadScope, filter: EventFilter, range: { after: number; upTo: number; limit: number }): Promise<EventRow[]> {
  const rows = await eventsQuery(db, scope, filter).selectAll('e')
    .where('e.leaf_index', '>', range.after).where('e.leaf_index', '<=', range.upTo)
    .orderBy('e.leaf_index').limit(range.limit).execute();
  return rows.map(toEventRow);
}

// ---------------------------------------------------------------------------------------------------------------
// EPCIS queries and subscriptions

/** A stored event with what its EPCIS export needs besides: the parties' GLNs and the hash ID it was captured under. */
export type EpcisEventRow = EventRow & {
  actor_gln: string | null;
  counterparty_gln: string | null;
  captured_event_id: string | null;
};

export interface EpcisOrder {
  /** null: log order (leaf index ascending). */
  by: EpcisOrderBy | null;
  direction: EpcisOrderDirection;
}

const ORDER_COLUMN = { eventTime: 'occurred_at', recordTime: 'recorded_at' } as const;

function withExportColumns(q: ReturnType<typeof eventsQuery>) {
  return q
    .leftJoin('epcis_captures as x', 'x.event_id', 'e.id')
    .selectAll('e')
    .select(['a.gln as actor_gln', 'c.gln as counterparty_gln', 'x.epcis_event_id as captured_event_id']);
}

const toEpcisRow = <R extends EventRow & { actor_gln: string | null; counterparty_gln: string | null; captured_event_id: string | null }>(r: R): EpcisEventRow => ({
  ...toEventRow(r), actor_gln: r.actor_gln ?? null, counterparty_gln: r.counterparty_gln ?? null, captured_event_id: r.captured_event_id ?? null,
});

/**
 * Only events of the checkpoint the query reads at: all committed with it, so every page sees the same log. ERASE
 * events (erasure of a field) cover no items and are no business step: EPCIS never exports them.
 */
const epcisQuery = (db: DbOrTrx, scope: ReadScope, filter: EventFilter, treeSize: number) =>
  eventsQuery(db, scope, filter).where('e.leaf_index', '<', treeSize).where('e.kind', '<>', 'ERASE');

/**
 * Up to `limit` events `scope` may read that match `filter` (`eventIds` aside), below `treeSize`, in `order`,
 * after the event of leaf `afterLeafIndex` in that order (null: from the start).
 */
export async function findEpcisEventRows(
  db: DbOrTrx,
  scope: ReadScope,
  filter: EventFilter,
  page: { treeSize: number; order: EpcisOrder; afterLeafIndex: number | null; limit: number },
): Promise<EpcisEventRow[]> {
  const { order, afterLeafIndex } = page;
  let q = epcisQuery(db, scope, filter, page.treeSize);
  const dir = order.by === null || order.direction === 'ASC' ? 'asc' : 'desc';
  if (order.by === null) {
    if (afterLeafIndex !== null) q = q.where('e.leaf_index', '>', afterLeafIndex);
  } else if (afterLeafIndex !== null) {
    // Keyset on (time, leaf index): the cursor event's own key, read back (events are immutable).
    const column = ORDER_COLUMN[order.by];
    const cmp = dir === 'asc' ? sql`>` : sql`<`;
    q = q.where(sql<boolean>`(${sql.ref(`e.${column}`)}, e.leaf_index) ${cmp} (SELECT ${sql.ref(column)}, leaf_index FROM events WHERE leaf_index = ${afterLeafIndex})`);
  }
  let s = withExportColumns(q);
  if (order.by !== null) s = s.orderBy(order.by === 'eventTime' ? 'e.occurred_at' : 'e.recorded_at', dir);
  const rows = await s.orderBy('e.leaf_index', dir).limit(page.limit).execute();
  return rows.map(toEpcisRow);
}

/** How many events match (`eventIds` aside), counting no further than `cap`. */
export async function countEpcisEvents(db: DbOrTrx, scope: ReadScope, filter: EventFilter, treeSize: number, cap: number): Promise<number> {
  const inner = epcisQuery(db, scope, filter, treeSize).select(sql<number>`1`.as('one')).limit(cap);
  const row = await epcisDb(db).selectFrom(inner.as('t')).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}

/** The events whose content hash (hex, at most a few thousand) is one of `contentHashes`, as EPCIS rows; no visibility filter: callers judge it. */
export async function findEpcisRowsByContentHash(db: DbOrTrx, contentHashes: readonly string[]): Promise<EpcisEventRow[]> {
  if (contentHashes.length === 0) return [];
  const q = epcisDb(db)
    .selectFrom('events as e')
    .leftJoin('actors as a', 'a.id', 'e.actor_id')
    .leftJoin('actors as c', 'c.id', 'e.counterparty_id')
    .where('e.content_hash', 'in', contentHashes.map((h) => Buffer.from(h, 'hex')))
    .where('e.kind', '<>', 'ERASE');
  return (await withExportColumns(q).execute()).map(toEpcisRow);
}

/**
 * Each row's readable, v1-shaped body (db/event-content.ts): a v1 event's items from its body, a v2 event's (whose
 * body names no item) from its chain links, sorted like a v1 body's. Every item: callers judge visibility.
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

/** A logged event's leaf index and content hash, by id. */
export async function findEventLeaf(db: DbOrTrx, eventId: string): Promise<{ leaf_index: number | string; content_hash: Uint8Array } | undefined> {
  return db.selectFrom('events').select(['leaf_index', 'content_hash']).where('id', '=', eventId).executeTakeFirst();
}

/** The logged ERASE events whose content hash (hex) is one of `contentHashes`, every column. */
export async function findErasureRows(db: DbOrTrx, contentHashes: readonly string[]) {
  if (contentHashes.length === 0) return [];
  return db.selectFrom('events').selectAll().where('kind', '=', 'ERASE')
    .where('content_hash', 'in', contentHashes.map((h) => Buffer.from(h, 'hex') as Uint8Array)).execute();
}
