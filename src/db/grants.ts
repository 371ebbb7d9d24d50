import { type RawBuilder, sql } from 'kysely';
import type { GrantFact } from '../core/rights.ts';
import type { DbOrTrx } from './connection.ts';
import { type KeysetPage, keysetPage } from './paging.ts';
import type { GrantRow } from './types.ts';

/** A grant as `grantsJsonOf` returns it (timestamps as ISO strings). */
export interface GrantJson {
  id: string; grantee_id: string; kinds: string[]; product_gtin: string | null; batch_id: string | null; all_products: boolean;
  created_at: string; expires_at: string | null; revoked_at: string | null;
}

/**
 * A scalar subquery: every grant given to `granteeId` (an SQL expression), with its revocation if any, as a JSON
 * array, so one statement can carry an actor's grants beside other rows. Decode with `grantFactsFromJson`.
 */
export const grantsJsonOf = (granteeId: RawBuilder<unknown>) => sql<GrantJson[]>`(
  SELECT coalesce(json_agg(json_build_object(
      'id', g.id, 'grantee_id', g.grantee_id, 'kinds', g.kinds, 'product_gtin', g.product_gtin, 'batch_id', g.batch_id,
      'all_products', g.all_products, 'created_at', g.created_at, 'expires_at', g.expires_at, 'revoked_at', r.revoked_at)), '[]'::json)
  FROM grants g LEFT JOIN grant_revocations r ON r.grant_id = g.id WHERE g.grantee_id = ${granteeId})`;

const toDate = (s: string | null): Date | null => (s === null ? null : new Date(s));

/** The facts core judges grants by, from `grantsJsonOf` output (null: none). */
export const grantFactsFromJson = (rows: readonly GrantJson[] | null): GrantFact[] =>
  (rows ?? []).map((g) => ({
    id: g.id, granteeId: g.grantee_id, kinds: g.kinds, productGtin: g.product_gtin, batchId: g.batch_id, allProducts: g.all_products,
    createdAt: new Date(g.created_at), expiresAt: toDate(g.expires_at), revokedAt: toDate(g.revoked_at),
  }));

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
