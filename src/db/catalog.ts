/**
 * Visible products, batches and batch items as the GraphQL connections and node lookups list them: visibility is
 * applied in SQL (`db/visibility.ts`), so what a caller may not see is never read into the process.
 */
import { sql } from 'kysely';
import type { ReadScope } from '../core/rights.ts';
import type { DbOrTrx } from './connection.ts';
import { type KeysetPage, keysetPage } from './paging.ts';
import type { BatchRow, ItemRow, ProductRow } from './types.ts';
import { batchVisibleSql, itemVisibleSql, productVisibleSql } from './visibility.ts';

/** The products among `gtins` (GTIN-14) that `scope` may see; one statement. */
export async function findVisibleProductsByGtins(db: DbOrTrx, scope: ReadScope, gtins: readonly string[]): Promise<ProductRow[]> {
  if (gtins.length === 0) return [];
  return db.selectFrom('products as p').selectAll('p').where('p.gtin', 'in', [...gtins]).where(productVisibleSql(scope, 'p')).execute();
}

/** The batches among `ids` (uuids: the caller checks them) that `scope` may see; one statement. */
export async function findVisibleBatchesByIds(db: DbOrTrx, scope: ReadScope, ids: readonly string[]): Promise<BatchRow[]> {
  if (ids.length === 0) return [];
  return db.selectFrom('batches as b').selectAll('b').where(sql<boolean>`b.id = ANY(${[...ids]}::uuid[])`).where(batchVisibleSql(scope, 'b')).execute();
}

/** A keyset page (by batch id) of product `gtin`'s batches that `scope` may see. */
export async function findVisibleBatchPage(db: DbOrTrx, scope: ReadScope, gtin: string, page: KeysetPage<unknown>): Promise<BatchRow[]> {
  const q = db.selectFrom('batches as b').selectAll('b').where('b.gtin', '=', gtin).where(batchVisibleSql(scope, 'b'));
  return keysetPage(q, 'b.id', page).execute();
}

function batchItems(db: DbOrTrx, scope: ReadScope, batchId: string, stage: string | null) {
  let q = db.selectFrom('items as i').where('i.batch_id', '=', batchId).where(itemVisibleSql(scope, 'i'));
  if (stage) q = q.where('i.stage', '=', stage);
  return q;
}

/** A keyset page (by item id) of batch `batchId`'s items that `scope` may see, only those in `stage` when given. */
export async function findVisibleBatchItemPage(db: DbOrTrx, scope: ReadScope, batchId: string, stage: string | null, page: KeysetPage<unknown>): Promise<ItemRow[]> {
  return keysetPage(batchItems(db, scope, batchId, stage).selectAll('i'), 'i.id', page).execute();
}

/** How many items {@link findVisibleBatchItemPage} pages through. */
export async function countVisibleBatchItems(db: DbOrTrx, scope: ReadScope, batchId: string, stage: string | null): Promise<number> {
  return Number((await batchItems(db, scope, batchId, stage).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
}
