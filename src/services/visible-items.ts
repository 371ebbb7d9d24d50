import { canSeeItem, type ReadScope } from '../core/rights.ts';
import type { DbOrTrx } from '../db/connection.ts';
import { findProductsByGtins } from '../db/ledger.ts';
import type { ItemRow } from '../db/types.ts';
import { heldItemIds } from '../db/visibility.ts';

/** Brand owner of each GTIN among `items` (one query). */
export async function ownersOf(db: DbOrTrx, items: readonly ItemRow[]): Promise<Map<string, string>> {
  return new Map((await findProductsByGtins(db, [...new Set(items.map((i) => i.gtin))])).map((p) => [p.gtin, p.owner_id]));
}

/**
 * Keeps the items the scope may see, deciding each with core's `canSeeItem` (two queries for any number; one when
 * the caller already has `owners` from `ownersOf`).
 */
export async function filterVisibleItems(db: DbOrTrx, scope: ReadScope, items: readonly ItemRow[], owners?: Map<string, string>): Promise<ItemRow[]> {
  if (scope.allProducts || items.length === 0) return [...items];
  owners ??= await ownersOf(db, items);
  const held = await heldItemIds(db, scope.actorId, items.map((i) => i.id));
  return items.filter((i) =>
    canSeeItem(scope, {
      gtin: i.gtin, batchId: i.batch_id, brandOwnerId: owners.get(i.gtin) ?? '', custodianId: i.custodian_id,
      pendingReceiverId: i.pending_receiver_id, held: held.has(i.id),
    }),
  );
}
