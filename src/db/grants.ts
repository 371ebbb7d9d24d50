import type { DbOrTrx } from './connection.ts';
import { type KeysetPage, keysetPage } from './paging.ts';
import type { GrantRow } from './types.ts';

const withRevocation = (db: DbOrTrx) =>
  db
    .selectFrom('grants as g')
    .leftJoin('grant_revocations as r', 'r.grant_id', 'g.id')
    .selectAll('g')
    .select(['r.revoked_at', 'r.revoked_by']);

export async function findGrantsByIds(db: DbOrTrx, ids: readonly string[]): Promise<GrantRow[]> {
  if (ids.length === 0) return [];
  return withRevocation(db).where('g.id', 'in', ids).execute();
}

export async function insertGrant(
  db: DbOrTrx,
  g: { grantorId: string; granteeId: string; kinds: string[]; productGtin: string | null; batchId: string | null; allProducts: boolean; expiresAt: Date | null; createdAt: Date },
): Promise<GrantRow> {
  const row = await db
    .insertInto('grants')
    .values({
      grantor_id: g.grantorId, grantee_id: g.granteeId, kinds: g.kinds, product_gtin: g.productGtin, batch_id: g.batchId,
      all_products: g.allProducts, expires_at: g.expiresAt, created_at: g.createdAt,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return { ...row, revoked_at: null, revoked_by: null };
}

export async function insertRevocation(db: DbOrTrx, grantId: string, revokedBy: string, at: Date): Promise<void> {
  await db.insertInto('grant_revocations').values({ grant_id: grantId, revoked_by: revokedBy, revoked_at: at }).execute();
}

/** Grants the viewer may read: given by or to it, on its products, or all of them for the operator and all-products readers. */
function readableGrants(db: DbOrTrx, viewerId: string, all: boolean) {
  let q = withRevocation(db);
  if (!all) {
    q = q.where((eb) =>
      eb.or([
        eb('g.grantor_id', '=', viewerId),
        eb('g.grantee_id', '=', viewerId),
        eb('g.product_gtin', 'in', eb.selectFrom('products').select('gtin').where('owner_id', '=', viewerId)),
        eb('g.batch_id', 'in', eb.selectFrom('batches').innerJoin('products', 'products.gtin', 'batches.gtin').select('batches.id').where('products.owner_id', '=', viewerId)),
      ]),
    );
  }
  return q;
}

/** The grants among `ids` (uuids: the caller checks them) that the viewer may read ({@link readableGrants}). */
export async function findReadableGrantsByIds(db: DbOrTrx, viewerId: string, all: boolean, ids: readonly string[]): Promise<GrantRow[]> {
  if (ids.length === 0) return [];
  return readableGrants(db, viewerId, all).where('g.id', 'in', [...ids]).execute();
}

/** A keyset page (by grant id) of the grants the viewer may read ({@link readableGrants}). */
export async function findReadableGrantPage(db: DbOrTrx, viewerId: string, all: boolean, page: KeysetPage<unknown>): Promise<GrantRow[]> {
  return keysetPage(readableGrants(db, viewerId, all), 'g.id', page).execute();
}
