import DataLoader from 'dataloader';
import type { ReadScope } from '../core/rights.ts';
import { findActorsByIds } from '../db/actors.ts';
import { isUuid } from '../db/ids.ts';
import type { Db } from '../db/connection.ts';
import { findBatchesByIds, findEventsByIds, findItemsByIds, findProductsByGtins } from '../db/ledger.ts';
import type { ActorRow, BatchRow, EventRow, ItemRow, ProductRow } from '../db/types.ts';
import { findVisibleBatchesByIds, findVisibleProductsByGtins } from '../db/catalog.ts';
import { type EventItemsKey, type ItemEventRow, type ItemEventsKey, findEventItemPages, findEventProductGtins, findItemEventPages, findVisibleEventsByIds, keyOfEventItemsPage } from '../db/events.ts';
import { type ActorKeyRow, actorKeysOf } from '../db/actor-keys.ts';
import { type EventReadView, eventReadViews } from '../services/event-disclosure.ts';
import { filterVisibleItems } from '../services/visible-items.ts';

/** Orders `rows` like `keys`, with undefined for a missing key (DataLoader's contract). */
export function byKeys<K, R>(keys: readonly K[], rows: readonly R[], keyOf: (r: R) => K): (R | undefined)[] {
  const map = new Map<K, R>();
  for (const r of rows) map.set(keyOf(r), r);
  return keys.map((k) => map.get(k));
}

export type { ItemEventRow, ItemEventsKey } from '../db/events.ts';

const keyOfPage = (k: ItemEventsKey) => `${k.itemId}/${k.limit}/${k.aboveSeq}/${k.belowSeq}/${k.newestFirst}`;

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
    itemEvents: new DataLoader<ItemEventsKey, ItemEventRow[], string>((keys) => findItemEventPages(db, scope, keys), { cacheKeyFn: keyOfPage }),
    /** A page of an event's visible items (`Event.items`, `MaterialLot.sourceItems`): one statement for a list of events. */
    eventItems: new DataLoader<EventItemsKey, ItemRow[], string>((keys) => findEventItemPages(db, scope, keys), { cacheKeyFn: keyOfEventItemsPage }),
    /** GTINs of the visible items of each event (`MaterialLot.sourceProducts`). */
    eventProductGtins: new DataLoader<string, string[]>(async (ids) => {
      const gtins = await findEventProductGtins(db, scope, ids);
      return ids.map((id) => gtins.get(id) ?? []);
    }),
    visibleItem: new DataLoader<string, ItemRow | undefined>(async (ids) =>
      byKeys(ids, await filterVisibleItems(db, scope, await findItemsByIds(db, uuids(ids))), (i) => i.id),
    ),
    visibleEvent: new DataLoader<string, EventRow | undefined>(async (ids) => {
      return byKeys(ids, await findVisibleEventsByIds(db, scope, uuids(ids)), (e) => e.id);
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
      return byKeys(ids, await findVisibleBatchesByIds(db, scope, uuids(ids)), (b) => b.id);
    }),
    visibleProduct: new DataLoader<string, ProductRow | undefined>(async (gtins) => {
      return byKeys(gtins, await findVisibleProductsByGtins(db, scope, gtins), (p) => p.gtin);
    }),
  };
}

export type Loaders = ReturnType<typeof createLoaders>;
