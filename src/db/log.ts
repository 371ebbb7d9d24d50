import { sql } from 'kysely';
import { createPrivateKey, type KeyObject, sign as cryptoSign } from 'node:crypto';
import { appendNoteSignature, checkNoteText, formatCheckpoint, keyId, publicKeyFromPrivate } from '../core/checkpoint.ts';
import { appendLeaves, frontier, leafHash, nodeKey, type NodeId } from '../core/merkle.ts';
import type { DbOrTrx, Trx } from './connection.ts';
import { hex } from './ledger.ts';

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

/** Reads stored complete-subtree hashes; one query for any number of ids. */
export async function readNodes(db: DbOrTrx, ids: readonly NodeId[]): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  // Proof plans overlap (e.g. a proof's nodes and the root's); read each node once.
  const unique = [...new Map(ids.map((i) => [nodeKey(i), i])).values()];
  if (unique.length === 0) return out;
  const levels = unique.map((i) => i.level);
  const indexes = unique.map((i) => i.index);
  const rows = await sql<{ level: number; index: number; hash: Uint8Array }>`
    SELECT n.level, n.index, n.hash FROM log_nodes n
    JOIN unnest(${levels}::int[], ${indexes}::int8[]) AS want(level, index) ON n.level = want.level AND n.index = want.index`.execute(db);
  for (const r of rows.rows) out.set(nodeKey({ level: Number(r.level), index: Number(r.index) }), r.hash);
  return out;
}

const CHUNK = 10_000;

/**
 * Appends one leaf per content hash (leaf = SHA-256(0x00 || contentHash)) after `head`, stores every newly
 * completed subtree, moves the head and stores a signed checkpoint for the new size, with `extensions` as the note's
 * extension lines (the head-map root). Caller holds `lockLog`.
 */
export async function appendToLog(trx: Trx, head: LogHead, contentHashes: readonly Uint8Array[], signer: LogSigner, extensions: readonly string[] = []): Promise<LogHead> {
  const frontierHashes = await readNodes(trx, frontier(head.size));
  const { nodes, root, size } = appendLeaves(head.size, frontierHashes, contentHashes.map((h) => leafHash(h)));
  const note = signCheckpoint(signer, formatCheckpoint({ origin: signer.origin, size, rootHash: root, extensions }));
  // All but the last chunk of nodes go alone; the last one rides with the head move and the checkpoint, so a
  // typical append costs one statement here (this all runs under the log lock).
  let i = 0;
  for (; i + CHUNK < nodes.length; i += CHUNK) await insertNodes(trx, nodes.slice(i, i + CHUNK));
  const last = nodes.slice(i);
  await sql`
    WITH n AS (
      INSERT INTO log_nodes (level, index, hash)
      SELECT level, index, decode(hash, 'hex')
      FROM unnest(${last.map((n) => n.id.level)}::int[], ${last.map((n) => n.id.index)}::int8[], ${last.map((n) => hex(n.hash))}::text[]) AS t(level, index, hash)
    ), s AS (
      UPDATE log_state SET size = ${size}, root_hash = ${root}
    )
    INSERT INTO checkpoints (tree_size, root_hash, note) VALUES (${size}, ${root}, ${note})`.execute(trx);
  return { size, rootHash: root };
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
