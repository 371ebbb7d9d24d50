import type { Link } from '../core/links.ts';
import type { ResolverKey } from '../core/resolver.ts';
import type { Db } from '../db/connection.ts';
import { findActorsByIds } from '../db/actors.ts';
import { findBatch, findBatchesByIds, findItemsByGtinSerial, findProduct } from '../db/ledger.ts';
import { currentLinks, scopeKey } from '../db/links.ts';
import type { BatchRow, ItemRow, ProductRow } from '../db/types.ts';

/** What the public resolver may say about a Digital Link: no custody, no events, no grants. */
export interface ResolverFacts {
  product: ProductRow;
  brandName: string;
  /** The lot: the item's, else the one in the request when it exists. */
  batch: BatchRow | null;
  item: ItemRow | null;
  /** The request names a serial (or lot) this product does not have; it resolves one level up. */
  unknownSerial: boolean;
  unknownLot: boolean;
  /** Current brand links, most specific level first: serial, lot, product (levels that do not apply are absent). */
  levels: Link[][];
}

/**
 * Loads the product, lot, item and link sets behind a resolver request. Undefined when the GTIN is not a registered
 * product. An unknown serial or lot is not an error: the request walks up to the lot or the product.
 */
export async function resolverFacts(db: Db, key: ResolverKey): Promise<ResolverFacts | undefined> {
  const product = await findProduct(db, key.gtin14);
  if (!product) return undefined;
  const [brand] = await findActorsByIds(db, [product.owner_id]);
  if (!brand) throw new Error(`product ${product.gtin}: its owner ${product.owner_id} is missing`);
  let item: ItemRow | null = null;
  let batch: BatchRow | null = null;
  if (key.serial !== null) item = (await findItemsByGtinSerial(db, [{ gtin: key.gtin14, serial: key.serial }]))[0] ?? null;
  if (item) batch = (await findBatchesByIds(db, [item.batch_id]))[0] ?? null;
  else if (key.lot !== null) batch = (await findBatch(db, key.gtin14, key.lot)) ?? null;
  const scopes = [
    ...(item ? [{ lot: null, serial: item.serial }] : []),
    ...(batch ? [{ lot: batch.lot, serial: null }] : []),
    { lot: null, serial: null },
  ];
  const byScope = await currentLinks(db, key.gtin14, scopes);
  return {
    product,
    brandName: brand.name,
    batch,
    item,
    unknownSerial: key.serial !== null && item === null,
    unknownLot: key.lot !== null && batch === null,
    levels: scopes.map((s) => byScope.get(scopeKey(s)) ?? []),
  };
}
