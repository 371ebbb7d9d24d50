import { sql } from 'kysely';
import type { DbOrTrx } from './connection.ts';

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

export async function existingContainers(db: DbOrTrx, ssccs: readonly string[]): Promise<Set<string>> {
  if (ssccs.length === 0) return new Set();
  const rows = await db.selectFrom('containers').select('sscc').where('sscc', 'in', ssccs).execute();
  return new Set(rows.map((r) => r.sscc));
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
