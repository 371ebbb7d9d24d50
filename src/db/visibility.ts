import { type RawBuilder, sql } from 'kysely';
import type { GrantFact, ReadScope } from '../core/rights.ts';
import type { DbOrTrx } from './connection.ts';
import type { BatchRow, ProductRow } from './types.ts';

// SQL mirrors of the pure rules in core/rights.ts, for lists and counts. GTINs are compared as bpchar (the column's
// char(14) type) so indexes on gtin stay usable. test/api/visibility.test.ts checks that
// lists and single-object lookups (decided by core) agree.

/** Every grant ever given to the actor, with its revocation if any. */
export async function grantsOf(db: DbOrTrx, actorId: string): Promise<GrantFact[]> {
  const rows = await db
    .selectFrom('grants as g')
    .leftJoin('grant_revocations as r', 'r.grant_id', 'g.id')
    .select(['g.id', 'g.grantee_id', 'g.kinds', 'g.product_gtin', 'g.batch_id', 'g.all_products', 'g.created_at', 'g.expires_at', 'r.revoked_at'])
    .where('g.grantee_id', '=', actorId)
    .execute();
  return rows.map((r) => ({
    id: r.id, granteeId: r.grantee_id, kinds: r.kinds, productGtin: r.product_gtin, batchId: r.batch_id, allProducts: r.all_products,
    createdAt: r.created_at, expiresAt: r.expires_at, revokedAt: r.revoked_at,
  }));
}

const col = (alias: string, column: string) => sql.ref(`${alias}.${column}`);

/** Items (aliased `alias`) the scope may see. */
export function itemVisibleSql(scope: ReadScope, alias: string): RawBuilder<boolean> {
  if (scope.allProducts) return sql<boolean>`true`;
  const a = scope.actorId;
  return sql<boolean>`(
    ${col(alias, 'custodian_id')} = ${a} OR ${col(alias, 'pending_receiver_id')} = ${a}
    OR ${col(alias, 'gtin')} IN (SELECT gtin FROM products WHERE owner_id = ${a})
    OR ${col(alias, 'gtin')} = ANY(${scope.gtins}::bpchar[]) OR ${col(alias, 'batch_id')} = ANY(${scope.batchIds}::uuid[])
    OR EXISTS (SELECT 1 FROM custody_starts cs WHERE cs.item_id = ${col(alias, 'id')} AND cs.actor_id = ${a}))`;
}

/**
 * Whether one chain link (its item `i`, product `p`) exposes its event to the scope: the brand and grantees see
 * every link; a holder sees the links of its custody windows, and those before its first window when the brand
 * made the product's history public.
 */
function linkVisibleSql(scope: ReadScope, l: string, i: string, p: string): RawBuilder<boolean> {
  const a = scope.actorId;
  return sql<boolean>`(
    ${col(p, 'owner_id')} = ${a} OR ${col(i, 'gtin')} = ANY(${scope.gtins}::bpchar[]) OR ${col(i, 'batch_id')} = ANY(${scope.batchIds}::uuid[])
    OR EXISTS (SELECT 1 FROM custody_starts cs WHERE cs.item_id = ${col(l, 'item_id')} AND cs.actor_id = ${a} AND (
         (cs.seq <= ${col(l, 'seq')} AND NOT EXISTS (
            SELECT 1 FROM custody_starts c2 WHERE c2.item_id = cs.item_id AND c2.seq > cs.seq AND c2.seq <= ${col(l, 'seq')}))
         OR (${col(p, 'public_history')} AND cs.seq > ${col(l, 'seq')}))))`;
}

/** Events (aliased `alias`) the scope may see: its own, those naming it, and those on links it may see. */
export function eventVisibleSql(scope: ReadScope, alias: string): RawBuilder<boolean> {
  if (scope.allProducts) return sql<boolean>`true`;
  const a = scope.actorId;
  return sql<boolean>`(${col(alias, 'actor_id')} = ${a} OR ${col(alias, 'counterparty_id')} = ${a} OR EXISTS (
    SELECT 1 FROM chain_links vl JOIN items vi ON vi.id = vl.item_id JOIN products vp ON vp.gtin = vi.gtin
    WHERE vl.event_id = ${col(alias, 'id')} AND ${linkVisibleSql(scope, 'vl', 'vi', 'vp')}))`;
}

/** One item's events: a link row `l` of that item joined to its event `e`. */
export function itemEventVisibleSql(scope: ReadScope, l: string, e: string): RawBuilder<boolean> {
  if (scope.allProducts) return sql<boolean>`true`;
  const a = scope.actorId;
  return sql<boolean>`(${col(e, 'actor_id')} = ${a} OR ${col(e, 'counterparty_id')} = ${a} OR EXISTS (
    SELECT 1 FROM items vi JOIN products vp ON vp.gtin = vi.gtin WHERE vi.id = ${col(l, 'item_id')} AND ${linkVisibleSql(scope, l, 'vi', 'vp')}))`;
}

/** Products the scope may see: its own, granted ones, and those of items it may see (probed as for batches). */
export function productVisibleSql(scope: ReadScope, alias: string): RawBuilder<boolean> {
  if (scope.allProducts) return sql<boolean>`true`;
  const a = scope.actorId;
  const g = col(alias, 'gtin');
  return sql<boolean>`(${col(alias, 'owner_id')} = ${a} OR ${g} = ANY(${scope.gtins}::bpchar[])
    OR EXISTS (SELECT 1 FROM batches vb WHERE vb.gtin = ${g} AND vb.id = ANY(${scope.batchIds}::uuid[]))
    OR EXISTS (SELECT 1 FROM items vi WHERE vi.custodian_id = ${a} AND vi.gtin = ${g})
    OR EXISTS (SELECT 1 FROM items vi WHERE vi.pending_receiver_id = ${a} AND vi.gtin = ${g})
    OR EXISTS (SELECT 1 FROM custody_starts cs JOIN items vi ON vi.id = cs.item_id WHERE cs.actor_id = ${a} AND vi.gtin = ${g}))`;
}

/**
 * Batches the scope may see: of its own or granted products, granted batches, and those of items it may see.
 * The item test is split into probes driven by the viewer's own holdings (custodian, pending receiver, custody
 * starts), so its cost does not grow with the batch: an invisible batch costs what a missing one does.
 */
export function batchVisibleSql(scope: ReadScope, alias: string): RawBuilder<boolean> {
  if (scope.allProducts) return sql<boolean>`true`;
  const a = scope.actorId;
  const b = col(alias, 'id');
  return sql<boolean>`(${col(alias, 'gtin')} IN (SELECT gtin FROM products WHERE owner_id = ${a})
    OR ${col(alias, 'gtin')} = ANY(${scope.gtins}::bpchar[]) OR ${b} = ANY(${scope.batchIds}::uuid[])
    OR EXISTS (SELECT 1 FROM items vi WHERE vi.custodian_id = ${a} AND vi.batch_id = ${b})
    OR EXISTS (SELECT 1 FROM items vi WHERE vi.pending_receiver_id = ${a} AND vi.batch_id = ${b})
    OR EXISTS (SELECT 1 FROM custody_starts cs JOIN items vi ON vi.id = cs.item_id WHERE cs.actor_id = ${a} AND vi.batch_id = ${b}))`;
}

/** The batch (gtin, lot) if it exists and the scope may see it; one statement either way. */
export async function findVisibleBatch(db: DbOrTrx, scope: ReadScope, gtin: string, lot: string): Promise<BatchRow | undefined> {
  return db.selectFrom('batches as b').selectAll('b')
    .where(sql<boolean>`b.gtin = ${gtin}::bpchar`).where('b.lot', '=', lot).where(batchVisibleSql(scope, 'b')).executeTakeFirst();
}

/** The product if it exists and the scope may see it; one statement either way. */
export async function findVisibleProduct(db: DbOrTrx, scope: ReadScope, gtin: string): Promise<ProductRow | undefined> {
  return db.selectFrom('products as p').selectAll('p').where(sql<boolean>`p.gtin = ${gtin}::bpchar`).where(productVisibleSql(scope, 'p')).executeTakeFirst();
}

/** Ids among `itemIds` that the viewer has held (a custody start after commissioning). */
export async function heldItemIds(db: DbOrTrx, actorId: string, itemIds: readonly string[]): Promise<Set<string>> {
  if (itemIds.length === 0) return new Set();
  const rows = await sql<{ item_id: string }>`SELECT DISTINCT item_id FROM custody_starts WHERE actor_id = ${actorId} AND item_id = ANY(${itemIds}::uuid[])`.execute(db);
  return new Set(rows.rows.map((r) => r.item_id));
}
