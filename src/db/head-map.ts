import { sql } from 'kysely';
import { toHex } from '../core/bytes.ts';
import type { Stage } from '../core/lifecycle.ts';
import type { Sha256 } from '../core/v2/hash.ts';
import { type HeadMapNode, type HeadMapStore, type NodeWrite, headKey, headValue } from '../core/v2/head-map.ts';
import type { DbOrTrx, Trx } from './connection.ts';
import { hex } from './ledger.ts';

const CHUNK = 10_000;

/** The head map's node store on `db` (core/v2/head-map.ts calls `get` once per depth and `put` once per update). */
export function sqlHeadMapStore(db: DbOrTrx): HeadMapStore {
  return {
    async get(depth, prefixes) {
      const out = new Map<string, HeadMapNode>();
      for (let i = 0; i < prefixes.length; i += CHUNK) {
        const rows = await db
          .selectFrom('head_map_nodes')
          .select(['prefix', 'leaf_key', 'leaf_value', 'hash'])
          .where('depth', '=', depth)
          .where(sql<boolean>`prefix = ANY(${prefixes.slice(i, i + CHUNK)}::text[])`)
          .execute();
        for (const r of rows) {
          // Plain Uint8Array copies: the driver hands out Buffers, whose slice() is a view into shared memory.
          const node: HeadMapNode = r.leaf_key && r.leaf_value
            ? { kind: 'leaf', key: Uint8Array.from(r.leaf_key), value: Uint8Array.from(r.leaf_value), hash: Uint8Array.from(r.hash) }
            : { kind: 'inner', hash: Uint8Array.from(r.hash) };
          out.set(r.prefix, node);
        }
      }
      return out;
    },
    async put(writes) {
      // One row per node: the last write of a node wins (an upsert may not touch a row twice).
      const last = new Map<string, NodeWrite>();
      for (const w of writes) last.set(`${w.depth}:${w.prefix}`, w);
      const all = [...last.values()];
      for (let i = 0; i < all.length; i += CHUNK) {
        const part = all.slice(i, i + CHUNK);
        await sql`
          INSERT INTO head_map_nodes (depth, prefix, leaf_key, leaf_value, hash)
          SELECT depth, prefix, decode(leaf_key, 'hex'), decode(leaf_value, 'hex'), decode(hash, 'hex')
          FROM unnest(${part.map((w) => w.depth)}::int[], ${part.map((w) => w.prefix)}::text[],
                      ${part.map((w) => (w.node.kind === 'leaf' ? hex(w.node.key) : null))}::text[],
                      ${part.map((w) => (w.node.kind === 'leaf' ? hex(w.node.value) : null))}::text[],
                      ${part.map((w) => hex(w.node.hash))}::text[]) AS t(depth, prefix, leaf_key, leaf_value, hash)
          ON CONFLICT (depth, prefix) DO UPDATE SET leaf_key = excluded.leaf_key, leaf_value = excluded.leaf_value, hash = excluded.hash`.execute(db);
      }
    },
  };
}

/** An item's head as the log has it: its latest link whose event is integrated (stage/recall from the link, else the item). */
export interface LoggedHead {
  sgtin: string;
  seq: number;
  link: Uint8Array;
  stage: string;
  recalled: boolean;
}

/** A logged head as a head-map entry (key and value, core/v2/head-map.ts). */
export const headMapEntry = (h: LoggedHead, sha256?: Sha256) => ({
  key: headKey(h.sgtin, sha256),
  value: headValue({ seq: h.seq, link: toHex(h.link), stage: h.stage as Stage, recalled: h.recalled }, sha256),
});

// A logged head's columns: the item's SGTIN and its link; stage and recall flag from the link (links written before the
// head map carry none: then the item's).
const HEAD_COLUMNS = sql.raw('i.sgtin, l.seq, l.hash AS link, coalesce(l.stage, i.stage) AS stage, coalesce(l.recalled, i.recalled) AS recalled');

/** The latest link of each item touched by the events `eventIds` (the integrator's batch), with the state after it. */
export async function headsAfterEvents(trx: Trx, eventIds: readonly string[]): Promise<LoggedHead[]> {
  const out: LoggedHead[] = [];
  for (let i = 0; i < eventIds.length; i += CHUNK) {
    const rows = await sql<LoggedHead>`
      SELECT DISTINCT ON (l.item_id) ${HEAD_COLUMNS}
      FROM chain_links l JOIN items i ON i.id = l.item_id
      WHERE l.event_id = ANY(${eventIds.slice(i, i + CHUNK)}::uuid[])
      ORDER BY l.item_id, l.seq DESC`.execute(trx);
    out.push(...rows.rows);
  }
  return out;
}

/** Every item's latest logged head (building the map for a ledger that had none; audit). */
export async function allLoggedHeads(db: DbOrTrx): Promise<LoggedHead[]> {
  const rows = await sql<LoggedHead>`
    SELECT DISTINCT ON (l.item_id) ${HEAD_COLUMNS}
    FROM chain_links l JOIN items i ON i.id = l.item_id JOIN events e ON e.id = l.event_id
    ORDER BY l.item_id, l.seq DESC`.execute(db);
  return rows.rows;
}

/** One item's latest head among events below `treeSize`. */
export async function loggedHeadOf(db: DbOrTrx, itemId: string, treeSize: number): Promise<LoggedHead | undefined> {
  const rows = await sql<LoggedHead>`
    SELECT ${HEAD_COLUMNS}
    FROM chain_links l JOIN items i ON i.id = l.item_id JOIN events e ON e.id = l.event_id
    WHERE l.item_id = ${itemId} AND e.leaf_index < ${treeSize} ORDER BY l.seq DESC LIMIT 1`.execute(db);
  return rows.rows[0];
}

/** Whether the map has no node yet. */
export async function headMapEmpty(db: DbOrTrx): Promise<boolean> {
  return (await db.selectFrom('head_map_nodes').select('depth').where('depth', '=', 0).limit(1).executeTakeFirst()) === undefined;
}
