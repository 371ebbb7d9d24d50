import { sql } from 'kysely';
import { createPrivateKey, type KeyObject, sign as cryptoSign } from 'node:crypto';
import { appendNoteSignature, checkNoteText, formatCheckpoint, keyId, publicKeyFromPrivate } from '../core/checkpoint.ts';
import { appendLeaves, frontier, leafHash, nodeKey, type NodeId, rootFromLeaves } from '../core/merkle.ts';
import { prepared, type DbOrTrx, type Trx } from './connection.ts';
import { hex } from './ledger.ts';
import { EVENT_INSERT_COLUMNS, eventRowsSql, type NewPendingEvent } from './pending.ts';

/** The key and origin that sign checkpoints. */
export interface LogSigner {
  origin: string;
  /** Ed25519 private key seed (32 bytes). */
  seed: Uint8Array;
  verifierKey: string;
}

// Ed25519 is deterministic: Node's native signer yields the same bytes as core's signNote, ~40× faster, which
// matters because every write transaction signs a checkpoint while holding the log lock.
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const nativeKeys = new WeakMap<Uint8Array, { key: KeyObject; id: Uint8Array }>();

/** Signs a checkpoint note with the log key (native Ed25519; same output as core `signNote`). */
export function signCheckpoint(signer: LogSigner, text: string): string {
  let k = nativeKeys.get(signer.seed);
  if (!k) {
    const key = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, signer.seed]), format: 'der', type: 'pkcs8' });
    k = { key, id: keyId(signer.origin, publicKeyFromPrivate(signer.seed)) };
    nativeKeys.set(signer.seed, k);
  }
  const signature = new Uint8Array(cryptoSign(null, Buffer.from(checkNoteText(text), 'utf8'), k.key));
  return appendNoteSignature(text, signer.origin, k.id, signature);
}

export interface LogHead {
  size: number;
  rootHash: Uint8Array;
}

/**
 * Locks the log's single sequencer row for the rest of the transaction and returns the current head.
 * Every writer takes this lock first, so leaf indexes are handed out in commit order with no gap or duplicate.
 */
export async function lockLog(trx: Trx): Promise<LogHead> {
  const row = await trx.selectFrom('log_state').select(['size', 'root_hash']).forUpdate().executeTakeFirstOrThrow();
  return { size: Number(row.size), rootHash: row.root_hash };
}

export async function readLogHead(db: DbOrTrx): Promise<LogHead> {
  const row = await db.selectFrom('log_state').select(['size', 'root_hash']).executeTakeFirstOrThrow();
  return { size: Number(row.size), rootHash: row.root_hash };
}

/**
 * Levels below this are not stored: a node of level l < STORED_FROM_LEVEL is recomputed from the content hashes of
 * its 2^l events (events.content_hash by leaf index, leaf = SHA-256(0x00 || contentHash)), so the log keeps about
 * one node per eight leaves instead of two per leaf (storage per event, issue 11). A proof reads at most one
 * 16-leaf tile of content hashes besides its stored nodes, in the same statement.
 */
export const STORED_FROM_LEVEL = 4;

/**
 * Complete-subtree hashes for `ids`; one statement for any number of ids. Levels ≥ STORED_FROM_LEVEL come from
 * log_nodes, lower ones are recomputed from the events' content hashes. An id whose subtree is not complete in the
 * store is absent from the result (callers report it).
 */
export async function readNodes(db: DbOrTrx, ids: readonly NodeId[]): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  // Proof plans overlap (e.g. a proof's nodes and the root's); read each node once.
  const unique = [...new Map(ids.map((i) => [nodeKey(i), i])).values()];
  if (unique.length === 0) return out;
  const stored = unique.filter((i) => i.level >= STORED_FROM_LEVEL);
  const derived = unique.filter((i) => i.level < STORED_FROM_LEVEL);
  // Leaf ranges [lo, hi) of the derived nodes, merged so each content hash is read once.
  const ranges: Array<[number, number]> = [];
  for (const [lo, hi] of derived.map((i) => [i.index * 2 ** i.level, (i.index + 1) * 2 ** i.level] as [number, number]).sort((a, b) => a[0] - b[0])) {
    const last = ranges[ranges.length - 1];
    if (last && lo <= last[1]) last[1] = Math.max(last[1], hi);
    else ranges.push([lo, hi]);
  }
  // Content hashes come back as level -1 rows.
  const rows = await sql<{ level: number; index: number; hash: Uint8Array }>`
    SELECT n.level, n.index, n.hash FROM log_nodes n
    JOIN unnest(${stored.map((i) => i.level)}::int[], ${stored.map((i) => i.index)}::int8[]) AS want(level, index) ON n.level = want.level AND n.index = want.index
    UNION ALL
    SELECT -1, e.leaf_index, e.content_hash FROM events e
    JOIN unnest(${ranges.map((r) => r[0])}::int8[], ${ranges.map((r) => r[1])}::int8[]) AS span(lo, hi) ON e.leaf_index >= span.lo AND e.leaf_index < span.hi`.execute(db);
  const contentHashes = new Map<number, Uint8Array>();
  for (const r of rows.rows) {
    if (Number(r.level) === -1) contentHashes.set(Number(r.index), r.hash);
    else out.set(nodeKey({ level: Number(r.level), index: Number(r.index) }), r.hash);
  }
  for (const id of derived) {
    const leaves: Uint8Array[] = [];
    for (let j = id.index * 2 ** id.level; j < (id.index + 1) * 2 ** id.level; j++) {
      const c = contentHashes.get(j);
      if (!c) break;
      leaves.push(leafHash(c));
    }
    if (leaves.length === 2 ** id.level) out.set(nodeKey(id), rootFromLeaves(leaves));
  }
  return out;
}

const CHUNK = 10_000;

/**
 * Appends one leaf per content hash (leaf = SHA-256(0x00 || contentHash)) after `head`, stores every newly
 * completed subtree of level ≥ STORED_FROM_LEVEL, moves the head and stores a signed checkpoint for the new size,
 * with `extensions` as the note's extension lines (the head-map root). Caller holds `lockLog`, and the events of
 * leaves below `head.size` are in `events` (the frontier's low levels are recomputed from them).
 */
export async function appendToLog(
  trx: Trx, head: LogHead, contentHashes: readonly Uint8Array[], signer: LogSigner, extensions: readonly string[] = [],
  opts: {
    /** The frontier of `head` when the caller knows it (the integrator keeps the one its last round left); read otherwise. */
    frontier?: Map<string, Uint8Array>;
    /** Pending events to move into `events` at leaves head.size + i, in the same statement as the checkpoint. */
    movePending?: readonly string[];
    /** New events to log directly after the moved ones (a batch integrated by its own transaction: record-batch.ts). */
    insertEvents?: readonly NewPendingEvent[];
  } = {},
): Promise<LogHead & { frontier: Map<string, Uint8Array> }> {
  const frontierHashes = opts.frontier ?? await readNodes(trx, frontier(head.size));
  const appended = appendLeaves(head.size, frontierHashes, contentHashes.map((h) => leafHash(h)));
  const { root, size } = appended;
  // Low levels are recomputed from the events when read (readNodes), so only the upper ones are stored.
  const nodes = appended.nodes.filter((n) => n.id.level >= STORED_FROM_LEVEL);
  const note = signCheckpoint(signer, formatCheckpoint({ origin: signer.origin, size, rootHash: root, extensions }));
  // All but the last chunk of nodes go alone; the last one rides with the head move, the checkpoint and the move of
  // the pending events, so a typical integration costs one statement here (this all runs under the log lock).
  let i = 0;
  for (; i + CHUNK < nodes.length; i += CHUNK) await insertNodes(trx, nodes.slice(i, i + CHUNK));
  const last = nodes.slice(i);
  const ids = opts.movePending ?? [];
  const { rows } = await prepared(sql<{ moved: number }>`
    WITH n AS (
      INSERT INTO log_nodes (level, index, hash)
      SELECT level, index, decode(hash, 'hex')
      FROM unnest(${last.map((n) => n.id.level)}::int[], ${last.map((n) => n.id.index)}::int8[], ${last.map((n) => hex(n.hash))}::text[]) AS t(level, index, hash)
    ), s AS (
      UPDATE log_state SET size = ${size}, root_hash = ${root}
    ), c AS (
      INSERT INTO checkpoints (tree_size, root_hash, note) VALUES (${size}, ${root}, ${note})
    ), moved AS (
      DELETE FROM pending_events WHERE id = ANY(${ids}::uuid[]) RETURNING *
    ), e AS (
      INSERT INTO events (id, leaf_index, kind, actor_id, occurred_at, tz_offset, recorded_at, location, counterparty_id, data, body, content_hash, signature, item_count,
                          format, field_salts, erased, pad_key, item_tree_top)
      SELECT m.id, ${head.size}::int8 + u.n - 1, m.kind, m.actor_id, m.occurred_at, m.tz_offset, m.recorded_at, m.location, m.counterparty_id, m.data, m.body, m.content_hash,
             m.signature, m.item_count, m.format, m.field_salts, m.erased, m.pad_key, m.item_tree_top
      FROM moved m JOIN unnest(${ids}::uuid[]) WITH ORDINALITY AS u(id, n) ON u.id = m.id
      RETURNING 1
    ), i AS (
      INSERT INTO events (leaf_index, ${EVENT_INSERT_COLUMNS})
      SELECT ${head.size + ids.length}::int8 + n - 1, ${EVENT_INSERT_COLUMNS} FROM (${eventRowsSql(opts.insertEvents ?? [])}) r
    )
    SELECT (SELECT count(*) FROM e)::int AS moved`).execute(trx);
  // An event is either pending or logged, never both or neither: a short move means another integration took it.
  if (rows[0]!.moved !== ids.length) throw new Error(`integration moved ${rows[0]!.moved} of ${ids.length} pending events`);
  // The new tree's frontier, from the nodes just made and the old frontier, for the caller's next append.
  const made = new Map(appended.nodes.map((n) => [nodeKey(n.id), n.hash]));
  const next = new Map<string, Uint8Array>();
  for (const id of frontier(size)) next.set(nodeKey(id), made.get(nodeKey(id)) ?? frontierHashes.get(nodeKey(id))!);
  return { size, rootHash: root, frontier: next };
}

async function insertNodes(trx: Trx, part: readonly { id: NodeId; hash: Uint8Array }[]): Promise<void> {
  await sql`
    INSERT INTO log_nodes (level, index, hash)
    SELECT level, index, decode(hash, 'hex')
    FROM unnest(${part.map((n) => n.id.level)}::int[], ${part.map((n) => n.id.index)}::int8[], ${part.map((n) => hex(n.hash))}::text[])
      AS t(level, index, hash)`.execute(trx);
}

/** A signed checkpoint as stored: its tree size, root hash and signed note. */
export interface CheckpointRow {
  treeSize: number;
  rootHash: Uint8Array;
  note: string;
}

/** The latest signed checkpoint, or the one of exactly `treeSize`; undefined when there is none. */
export async function findCheckpointRow(db: DbOrTrx, treeSize?: number | null): Promise<CheckpointRow | undefined> {
  let q = db.selectFrom('checkpoints').select(['tree_size', 'root_hash', 'note']);
  q = treeSize === undefined || treeSize === null ? q.orderBy('tree_size', 'desc').limit(1) : q.where('tree_size', '=', treeSize);
  const row = await q.executeTakeFirst();
  return row && { treeSize: Number(row.tree_size), rootHash: row.root_hash, note: row.note };
}
