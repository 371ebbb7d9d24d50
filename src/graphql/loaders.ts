import DataLoader from 'dataloader';
import { sql } from 'kysely';
import type { ReadScope } from '../core/rights.ts';
import { findActorsByIds } from '../db/actors.ts';
import { isUuid } from '../db/ids.ts';
import type { Db } from '../db/connection.ts';
import { findBatchesByIds, findEventsByIds, findItemsByIds, findProductsByGtins } from '../db/ledger.ts';
import type { ActorRow, BatchRow, EventRow, ItemRow, ProductRow } from '../db/types.ts';
import { batchVisibleSql, eventVisibleSql, itemEventVisibleSql, productVisibleSql } from '../db/visibility.ts';
import { type ActorKeyRow, actorKeysOf } from '../db/actor-keys.ts';
import { type EventReadView, eventReadViews } from '../services/event-disclosure.ts';
import { filterVisibleItems } from '../services/visible-items.ts';

/** Orders `rows` like `keys`, with undefined for a missing key (DataLoader's contract). */
export function byKeys<K, R>(keys: readonly K[], rows: readonly R[], keyOf: (r: R) => K): (R | undefined)[] {
  const map = new Map<K, R>();
  for (const r of rows) map.set(keyOf(r), r);
  return keys.map((k) => map.get(k));
}

export type ItemEventRow = EventRow & { seq: number; item_id: string };
export interface ItemEventsKey {
  itemId: string;
  limit: number;
  /** Exclusive seq bounds. */
  aboveSeq: number | null;
  belowSeq: number | null;
  /** Read order (the page is reversed afterwards for `last`). */
  newestFirst: boolean;
}

const keyOfPage = (k: ItemEventsKey) => `${k.itemId}/${k.limit}/${k.aboveSeq}/${k.belowSeq}/${k.newestFirst}`;

/** A page of one item's visible events (with seq) for many items: one query per distinct page shape. */
async function loadItemEvents(db: Db, scope: ReadScope, keys: readonly ItemEventsKey[]): Promise<ItemEventRow[][]> {
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
      const key = keyOfPage({ itemId: r.item_id, limit, aboveSeq, belowSeq, newestFirst });
      const list = result.get(key);
      if (list) list.push(r);
      else result.set(key, [r]);
    }
  }
  return keys.map((k) => result.get(keyOfPage(k)) ?? []);
}

const uuids = (ids: readonly string[]) => ids.filter(isUuid);

/**
 * Per-request batching; created fresh for every request so nothing is cached across callers. `visible*` loaders
 * answer lookups by id (node, item, batch, product queries) and return undefined for what the caller may not see;
 * the plain loaders resolve references from objects the caller already sees.
 */
export function createLoaders(db: Db, scope: ReadScope) {
  return {
    actor: new DataLoader<string, ActorRow | undefined>(async (ids) => byKeys(ids, await findActorsByIds(db, ids), (a) => a.id)),
    product: new DataLoader<string, ProductRow | undefined>(async (gtins) => byKeys(gtins, await findProductsByGtins(db, gtins), (p) => p.gtin)),
    batch: new DataLoader<string, BatchRow | undefined>(async (ids) => byKeys(ids, await findBatchesByIds(db, ids), (b) => b.id)),
    item: new DataLoader<string, ItemRow | undefined>(async (ids) => byKeys(ids, await findItemsByIds(db, ids), (i) => i.id)),
    event: new DataLoader<string, EventRow | undefined>(async (ids) => byKeys(ids, await findEventsByIds(db, ids), (e) => e.id)),
    itemEvents: new DataLoader<ItemEventsKey, ItemEventRow[], string>((keys) => loadItemEvents(db, scope, keys), { cacheKeyFn: keyOfPage }),
    visibleItem: new DataLoader<string, ItemRow | undefined>(async (ids) =>
      byKeys(ids, await filterVisibleItems(db, scope, await findItemsByIds(db, uuids(ids))), (i) => i.id),
    ),
    visibleEvent: new DataLoader<string, EventRow | undefined>(async (ids) => {
      const valid = uuids(ids);
      const rows = valid.length === 0 ? [] : await db.selectFrom('events as e').selectAll('e').where(sql<boolean>`e.id = ANY(${valid}::uuid[])`).where(eventVisibleSql(scope, 'e')).execute();
      return byKeys(ids, rows, (e) => e.id);
    }),
    actorKeys: new DataLoader<string, ActorKeyRow[]>(async (ids) => {
      const keys = await actorKeysOf(db, ids);
      return ids.map((id) => keys.get(id) ?? []);
    }),
    /** What the caller is shown of each event (tier, withheld fields, visible item count): core/event-disclosure.ts. */
    eventView: new DataLoader<EventRow, EventReadView, string>(async (events) => {
      const views = await eventReadViews(db, scope, events);
      return events.map((e) => views.get(e.id)!);
    }, { cacheKeyFn: (e) => e.id }),
    visibleBatch: new DataLoader<string, BatchRow | undefined>(async (ids) => {
      const valid = uuids(ids);
      const rows = valid.length === 0 ? [] : await db.selectFrom('batches as b').selectAll('b').where(sql<boolean>`b.id = ANY(${valid}::uuid[])`).where(batchVisibleSql(scope, 'b')).execute();
      return byKeys(ids, rows, (b) => b.id);
    }),
    visibleProduct: new DataLoader<string, ProductRow | undefined>(async (gtins) => {
      const rows = await db.selectFrom('products as p').selectAll('p').where('p.gtin', 'in', gtins).where(productVisibleSql(scope, 'p')).execute();
      return byKeys(gtins, rows, (p) => p.gtin);
    }),
  };
}

export type Loaders = ReturnType<typeof createLoaders>;
