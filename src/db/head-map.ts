import { sql } from 'kysely';
import { toHex } from '../core/bytes.ts';
import type { Stage } from '../core/lifecycle.ts';
import type { Sha256 } from '../core/v2/hash.ts';
import { type HeadMapNode, type HeadMapStore, type NodeWrite, headKey, headValue } from '../core/v2/head-map.ts';
import type { DbOrTrx, Trx } from './connection.ts';

const CHUNK = 10_000;

const base64 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
// A plain Uint8Array with its own memory: Buffer.from(string) may hand out a view into a shared pool. Node's decoder
// skips the line breaks PostgreSQL's encode(…, 'base64') puts every 76 characters.
const fromBase64 = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'base64'));

/**
 * The head map's node store on `db` (core/v2/head-map.ts calls `get` once per depth, or `getMany` once for the whole
 * paths of a few keys, and `put` once per update).
 * Prefixes are hex in core and bytes in the table.
 */
export function sqlHeadMapStore(db: DbOrTrx): HeadMapStore {
  return {
    async get(depth, prefixes) {
      const out = new Map<string, HeadMapNode>();
      for (let i = 0; i < prefixes.length; i += CHUNK) {
        // Bytes as base64 text (the driver's bytea parsing goes through a JavaScript string per byte).
        const rows = await sql<{ prefix: string; hash: string; entries: string | null }>`
          SELECT encode(prefix, 'hex') AS prefix, encode(hash, 'base64') AS hash, encode(entries, 'base64') AS entries FROM head_map_nodes
          WHERE depth = ${depth} AND prefix = ANY(ARRAY(SELECT decode(p, 'hex') FROM unnest(${prefixes.slice(i, i + CHUNK)}::text[]) AS p))`.execute(db);
        for (const r of rows.rows) {
          const hash = fromBase64(r.hash);
          out.set(r.prefix, r.entries ? { kind: 'bucket', entries: fromBase64(r.entries), hash } : { kind: 'inner', hash });
        }
      }
      return out;
    },
    async getMany(refs) {
      const out = new Map<string, HeadMapNode>();
      for (let i = 0; i < refs.length; i += CHUNK) {
        const part = refs.slice(i, i + CHUNK);
        const rows = await sql<{ depth: number; prefix: string; hash: string; entries: string | null }>`
          SELECT n.depth, encode(n.prefix, 'hex') AS prefix, encode(n.hash, 'base64') AS hash, encode(n.entries, 'base64') AS entries
          FROM unnest(${part.map((r) => r.depth)}::int[], ${part.map((r) => r.prefix)}::text[]) AS t(depth, prefix)
          JOIN head_map_nodes n ON n.depth = t.depth AND n.prefix = decode(t.prefix, 'hex')`.execute(db);
        for (const r of rows.rows) {
          const hash = fromBase64(r.hash);
          out.set(`${r.depth}:${r.prefix}`, r.entries ? { kind: 'bucket', entries: fromBase64(r.entries), hash } : { kind: 'inner', hash });
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
        // Each column as one text, every element after a comma (hex and base64 have none; an element may be empty: the
        // root's prefix, an inner node's entries): one string per column, not an array literal the driver builds and
        // escapes element by element. Bytes as base64: the driver walks every character of a parameter in JavaScript.
        const column = (values: string[]) => `,${values.join(',')}`;
        await sql`
          INSERT INTO head_map_nodes (depth, prefix, hash, entries)
          SELECT depth::smallint, decode(prefix, 'hex'), decode(hash, 'base64'), decode(nullif(entries, ''), 'base64')
          FROM unnest((string_to_array(${column(part.map((w) => String(w.depth)))}, ','))[2:]::int[], (string_to_array(${column(part.map((w) => w.prefix))}, ','))[2:],
                      (string_to_array(${column(part.map((w) => base64(w.node.hash)))}, ','))[2:],
                      (string_to_array(${column(part.map((w) => (w.node.kind === 'bucket' ? base64(w.node.entries) : '')))}, ','))[2:]) AS t(depth, prefix, hash, entries)
          ON CONFLICT (depth, prefix) DO UPDATE SET hash = excluded.hash, entries = excluded.entries`.execute(db);
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

/** A logged head with its link as hex (what the head value hashes): the integrator's batch form. */
export interface HeadInBatch {
  sgtin: string;
  seq: number;
  /** Hex link hash. */
  link: string;
  stage: string;
  recalled: boolean;
}

/** A batch head as a head-map entry. */
export const headInBatchEntry = (h: HeadInBatch, sha256?: Sha256) => ({
  key: headKey(h.sgtin, sha256),
  value: headValue({ seq: h.seq, link: h.link, stage: h.stage as Stage, recalled: h.recalled }, sha256),
});

/**
 * The heads a set of links leaves, as one JSON text, over `chain_links l JOIN items i` (decode with
 * {@link collectLatestHeads}): one row to transfer and parse, not one per link. No sort in SQL (a 100,000-item event
 * would spill one to disk): the latest link per item is picked while decoding.
 */
export const HEADS_JSON = sql.raw(
  "json_agg(json_build_array(i.sgtin, l.seq, encode(l.hash, 'hex'), coalesce(l.stage, i.stage), coalesce(l.recalled, i.recalled)))::text",
);

/** Adds the heads of a {@link HEADS_JSON} text to `latest`, keeping each item's highest seq. */
export function collectLatestHeads(json: string | null, latest: Map<string, HeadInBatch>): Map<string, HeadInBatch> {
  const rows = JSON.parse(json ?? '[]') as [string, number, string, string, boolean][];
  for (const [sgtin, seq, link, stage, recalled] of rows) {
    const seen = latest.get(sgtin);
    if (!seen || seen.seq < seq) latest.set(sgtin, { sgtin, seq, link, stage, recalled });
  }
  return latest;
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

/** Bytes of one stored head-map entry of a pending event: key (32), value (32), the item's seq after it (u32 big-endian). */
export const PENDING_HEAD_BYTES = 68;

/**
 * Stores the head-map entries a writer computed for its pending event (`entries`: PENDING_HEAD_BYTES per item), which
 * the integrator then reads instead of the event's links (`pendingHeads`). The row goes with its pending event.
 * Throws RangeError on a length that is not whole entries; the caller's transaction must have inserted the event.
 */
export async function insertPendingHeads(trx: Trx, eventId: string, entries: Uint8Array): Promise<void> {
  if (entries.length === 0 || entries.length % PENDING_HEAD_BYTES !== 0) throw new RangeError('pending head entries are whole 68-byte records');
  // As base64 text: PGlite takes seconds over a binary parameter of a few MB.
  await sql`INSERT INTO pending_heads (event_id, entries) VALUES (${eventId}::uuid, decode(${base64(entries)}, 'base64'))`.execute(trx);
}

/** A head-map entry with the seq it records (the latest seq of a key wins). */
export interface SeqEntry {
  key: Uint8Array;
  value: Uint8Array;
  seq: number;
}

/**
 * The stored head-map entries of those of `eventIds` that have them (by event id; views into one buffer per event).
 * Throws RangeError on a stored value that is not whole entries.
 */
export async function pendingHeads(trx: Trx, eventIds: readonly string[]): Promise<Map<string, SeqEntry[]>> {
  const out = new Map<string, SeqEntry[]>();
  if (eventIds.length === 0) return out;
  // As base64 text: PGlite parses a bytea result one character at a time in JavaScript. With encode's line breaks:
  // Node's decoder skips them, and translate() over a few MB costs PGlite more than the rest of the read.
  const rows = await sql<{ event_id: string; entries: string }>`
    SELECT event_id, encode(entries, 'base64') AS entries FROM pending_heads WHERE event_id = ANY(${eventIds}::uuid[])`.execute(trx);
  for (const r of rows.rows) {
    const b = fromBase64(r.entries);
    if (b.length % PENDING_HEAD_BYTES !== 0) throw new RangeError(`pending heads of ${r.event_id} are not whole records`);
    const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const list: SeqEntry[] = new Array(b.length / PENDING_HEAD_BYTES);
    for (let i = 0, o = 0; o < b.length; i++, o += PENDING_HEAD_BYTES) {
      list[i] = { key: b.subarray(o, o + 32), value: b.subarray(o + 32, o + 64), seq: view.getUint32(o + 64, false) };
    }
    out.set(r.event_id, list);
  }
  return out;
}
