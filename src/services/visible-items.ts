import { canSeeItem, type ReadScope } from '../core/rights.ts';
import type { DbOrTrx } from '../db/connection.ts';
import { findProductsByGtins } from '../db/ledger.ts';
import type { ItemRow } from '../db/types.ts';
import { heldItemIds } from '../db/visibility.ts';

/** Keeps the items the scope may see, deciding each with core's `canSeeItem` (two queries for any number). */
export async function filterVisibleItems(db: DbOrTrx, scope: ReadScope, items: readonly ItemRow[]): Promise<ItemRow[]> {
  if (scope.allProducts || items.length === 0) return [...items];
  const owners = new Map((await findProductsByGtins(db, [...new Set(items.map((i) => i.gtin))])).map((p) => [p.gtin, p.owner_id]));
  const held = await heldItemIds(db, scope.actorId, items.map((i) => i.id));
  return items.filter((i) =>
    canSeeItem(scope, {
      gtin: i.gtin, batchId: i.batch_id, brandOwnerId: owners.get(i.gtin) ?? '', custodianId: i.custodian_id,
      pendingReceiverId: i.pending_receiver_id, held: held.has(i.id),
    }),
  );
}
