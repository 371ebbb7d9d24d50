import { sql } from 'kysely';
import type { ReadScope } from '../core/rights.ts';
import type { DbOrTrx } from './connection.ts';
import { itemVisibleSql } from './visibility.ts';

/** Every item inside the containers, at any depth (cases in pallets), with a cycle guard. */
export async function itemIdsInContainers(db: DbOrTrx, ssccs: readonly string[]): Promise<string[]> {
  if (ssccs.length === 0) return [];
  const rows = await sql<{ item_id: string }>`
    WITH RECURSIVE tree(sscc, depth) AS (
      SELECT unnest(${ssccs}::text[])::char(18), 0
      UNION
      SELECT m.child_sscc, t.depth + 1 FROM container_members m JOIN tree t ON m.parent_sscc = t.sscc
      WHERE m.child_sscc IS NOT NULL AND t.depth < 16
    )
    SELECT m.item_id FROM container_members m JOIN tree t ON m.parent_sscc = t.sscc WHERE m.item_id IS NOT NULL`.execute(db);
  return rows.rows.map((r) => r.item_id);
}

/** Containers that are themselves packed in another one. */
export async function packedContainers(db: DbOrTrx, ssccs: readonly string[]): Promise<Map<string, string>> {
  if (ssccs.length === 0) return new Map();
  const rows = await db.selectFrom('container_members').select(['child_sscc', 'parent_sscc']).where('child_sscc', 'in', ssccs).execute();
  return new Map(rows.map((r) => [r.child_sscc!, r.parent_sscc]));
}

/** Items that are already packed somewhere, with their container. */
export async function packedItems(db: DbOrTrx, itemIds: readonly string[]): Promise<Map<string, string>> {
  if (itemIds.length === 0) return new Map();
  const rows = await sql<{ item_id: string; parent_sscc: string }>`
    SELECT item_id, parent_sscc FROM container_members WHERE item_id = ANY(${itemIds}::uuid[])`.execute(db);
  return new Map(rows.rows.map((r) => [r.item_id, r.parent_sscc]));
}

/** Each container's row (holder) when it exists, and the items inside it at any depth, per container. */
export async function containerContents(db: DbOrTrx, ssccs: readonly string[]): Promise<Map<string, { holderId: string; itemIds: string[] }>> {
  if (ssccs.length === 0) return new Map();
  const rows = await sql<{ root: string; holder_id: string; item_id: string | null }>`
    WITH RECURSIVE tree(root, sscc, depth) AS (
      SELECT c.sscc, c.sscc, 0 FROM containers c WHERE c.sscc = ANY(${ssccs}::char(18)[])
      UNION
      SELECT t.root, m.child_sscc, t.depth + 1 FROM container_members m JOIN tree t ON m.parent_sscc = t.sscc
      WHERE m.child_sscc IS NOT NULL AND t.depth < 16
    )
    SELECT t.root, c.holder_id, m.item_id FROM tree t JOIN containers c ON c.sscc = t.root
      LEFT JOIN container_members m ON m.parent_sscc = t.sscc AND m.item_id IS NOT NULL`.execute(db);
  const out = new Map<string, { holderId: string; itemIds: string[] }>();
  for (const r of rows.rows) {
    let entry = out.get(r.root);
    if (!entry) out.set(r.root, (entry = { holderId: r.holder_id, itemIds: [] }));
    if (r.item_id) entry.itemIds.push(r.item_id);
  }
  return out;
}

/** Creates the container for its first packer, or makes the packer its holder. */
export async function holdContainer(db: DbOrTrx, sscc: string, actorId: string): Promise<void> {
  await db.insertInto('containers').values({ sscc, created_by: actorId, holder_id: actorId })
    .onConflict((oc) => oc.column('sscc').doUpdateSet({ holder_id: actorId })).execute();
}

/**
 * Containers among `ssccs` that hold, at any depth, at least one item the scope may see: one statement that
 * transfers no item rows, so a hidden container is answered as fast as a missing one.
 */
export async function containersWithVisibleItems(db: DbOrTrx, scope: ReadScope, ssccs: readonly string[]): Promise<Set<string>> {
  if (ssccs.length === 0) return new Set();
  const rows = await sql<{ root: string }>`
    WITH RECURSIVE tree(root, sscc, depth) AS (
      SELECT c.sscc, c.sscc, 0 FROM containers c WHERE c.sscc = ANY(${ssccs}::char(18)[])
      UNION
      SELECT t.root, m.child_sscc, t.depth + 1 FROM container_members m JOIN tree t ON m.parent_sscc = t.sscc
      WHERE m.child_sscc IS NOT NULL AND t.depth < 16
    )
    SELECT DISTINCT t.root FROM tree t JOIN container_members m ON m.parent_sscc = t.sscc AND m.item_id IS NOT NULL
      JOIN items i ON i.id = m.item_id WHERE ${itemVisibleSql(scope, 'i')}`.execute(db);
  return new Set(rows.rows.map((r) => r.root));
}

/** The containers packed directly inside `sscc`, by SSCC. */
export async function childContainers(db: DbOrTrx, sscc: string): Promise<string[]> {
  const rows = await db.selectFrom('container_members').select('child_sscc').where('parent_sscc', '=', sscc).where('child_sscc', 'is not', null).orderBy('child_sscc').execute();
  return rows.map((r) => r.child_sscc!);
}

/**
 * Whether `sscc` is one of `ssccs` or inside one of them at any depth (cycle guard: packing `sscc` into one of them
 * would make a cycle).
 */
export async function isAmongContainers(db: DbOrTrx, sscc: string, ssccs: readonly string[]): Promise<boolean> {
  const below = await sql<{ sscc: string }>`
      WITH RECURSIVE d(sscc, depth) AS (
        SELECT unnest(${ssccs}::text[])::char(18), 0
        UNION SELECT m.child_sscc, d.depth + 1 FROM container_members m JOIN d ON m.parent_sscc = d.sscc WHERE m.child_sscc IS NOT NULL AND d.depth < 16)
      SELECT sscc FROM d WHERE sscc = ${sscc}`.execute(db);
  return below.rows.length > 0;
}

/** What is packed directly in container `sscc`: one row per item or child container. */
export async function containerMembers(db: DbOrTrx, sscc: string): Promise<{ item_id: string | null; child_sscc: string | null }[]> {
  return db.selectFrom('container_members').select(['item_id', 'child_sscc']).where('parent_sscc', '=', sscc).execute();
}

/** Packs items or child containers directly into containers (batched inserts). */
export async function insertContainerMembers(db: DbOrTrx, rows: readonly { parent_sscc: string; item_id: string | null; child_sscc: string | null }[]): Promise<void> {
  for (let i = 0; i < rows.length; i += 5_000) await db.insertInto('container_members').values(rows.slice(i, i + 5_000)).execute();
}

/** Removes everything packed directly in container `sscc` (an UNPACK). */
export async function emptyContainer(db: DbOrTrx, sscc: string): Promise<void> {
  await db.deleteFrom('container_members').where('parent_sscc', '=', sscc).execute();
}
