/**
 * What `provenant audit` reads (services/audit.ts), in the order it reads it: counts, events in leaf order, pending
 * events, the latest checkpoint, items in id order and their chain links. Read only; the caller runs them in one
 * repeatable-read snapshot.
 */
import type { DbOrTrx } from './connection.ts';

/** How many rows `table` holds (events or items). */
export async function countRows(db: DbOrTrx, table: 'events' | 'items'): Promise<number> {
  return Number((await db.selectFrom(table).select(db.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
}

/** Up to `limit` logged events after leaf `after`, in leaf order, every column. */
export async function eventsAfterLeaf(db: DbOrTrx, after: number, limit: number) {
  return db.selectFrom('events').selectAll().where('leaf_index', '>', after).orderBy('leaf_index').limit(limit).execute();
}

/** Content hashes of ERASE events still pending integration. */
export async function pendingErasureHashes(db: DbOrTrx): Promise<Uint8Array[]> {
  return (await db.selectFrom('pending_events').select('content_hash').where('kind', '=', 'ERASE').execute()).map((r) => r.content_hash);
}

/** Ids of every event still pending integration. */
export async function pendingEventIds(db: DbOrTrx): Promise<string[]> {
  return (await db.selectFrom('pending_events').select('id').execute()).map((r) => r.id);
}

/** Up to `limit` items after id `afterId` (null: from the first), in id order, with what audit compares. */
export async function itemHeadsAfter(db: DbOrTrx, afterId: string | null, limit: number) {
  let q = db.selectFrom('items').select(['id', 'sgtin', 'head_seq', 'head_hash', 'stage', 'recalled']).orderBy('id').limit(limit);
  if (afterId) q = q.where('id', '>', afterId);
  return q.execute();
}

/** The chain links of `itemIds`, by item and seq, with the columns audit checks (each link's prev is the one before it). */
export async function linksOfItems(db: DbOrTrx, itemIds: readonly string[]) {
  return db
    .selectFrom('chain_links')
    .select(['item_id', 'seq', 'event_id', 'hash', 'entry_salt', 'stage', 'recalled'])
    .where('item_id', 'in', [...itemIds])
    .orderBy('item_id')
    .orderBy('seq')
    .execute();
}
