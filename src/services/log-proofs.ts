import { type ProofBundle, buildBundle } from '../core/bundle.ts';
import { digitalLink } from '../core/identifiers.ts';
import { type NodeId, consistencyProofNodes, inclusionProofNodes, buildProof, leafHash, rootFromNodes, rootNodes } from '../core/merkle.ts';
import { toHex } from '../core/bytes.ts';
import type { Stage } from '../core/lifecycle.ts';
import { HEADS_EXTENSION_PREFIX, type Head, headKey, headValue, proveHead } from '../core/v2/head-map.ts';
import { type ItemStatement, buildItemStatement } from '../core/v2/statement.ts';
import type { Db, DbOrTrx } from '../db/connection.ts';
import { loggedHeadOf, sqlHeadMapStore } from '../db/head-map.ts';
import { findChainWithEvents } from '../db/ledger.ts';
import { readLogHead, readNodes, type LogSigner } from '../db/log.ts';
import type { ItemRow } from '../db/types.ts';
import { type Failure, invalid, notFound } from './results.ts';

export interface CheckpointView {
  origin: string;
  treeSize: number;
  rootHash: Uint8Array;
  note: string;
}

/** The latest signed checkpoint, or the one for exactly `treeSize`. */
export async function findCheckpoint(db: DbOrTrx, origin: string, treeSize?: number | null): Promise<CheckpointView | undefined> {
  let q = db.selectFrom('checkpoints').selectAll();
  q = treeSize === undefined || treeSize === null ? q.orderBy('tree_size', 'desc').limit(1) : q.where('tree_size', '=', treeSize);
  const row = await q.executeTakeFirst();
  return row && { origin, treeSize: Number(row.tree_size), rootHash: row.root_hash, note: row.note };
}

async function sizeOrLatest(db: DbOrTrx, treeSize: number | null | undefined): Promise<{ size: number } | Failure> {
  const head = await readLogHead(db);
  const size = treeSize ?? head.size;
  if (!Number.isSafeInteger(size) || size < 1 || size > head.size) return invalid('treeSize', `treeSize must be between 1 and the log size ${head.size}`);
  return { size };
}

export type InclusionProofResult =
  | { kind: 'ok'; leafIndex: number; treeSize: number; leafHash: Uint8Array; rootHash: Uint8Array; proof: Uint8Array[] }
  | Failure;

/** Inclusion proof of an event's leaf in the tree of `treeSize` (latest when omitted); O(log n) node reads. */
export async function inclusionProofFor(db: DbOrTrx, eventId: string, treeSize?: number | null): Promise<InclusionProofResult> {
  const event = await db.selectFrom('events').select(['leaf_index', 'content_hash']).where('id', '=', eventId).executeTakeFirst();
  if (!event) return notFound('event not found');
  const s = await sizeOrLatest(db, treeSize);
  if ('kind' in s) return s;
  const leafIndex = Number(event.leaf_index);
  if (leafIndex >= s.size) return invalid('treeSize', `the event is leaf ${leafIndex}, not in a tree of size ${s.size}`);
  const plan = inclusionProofNodes(leafIndex, s.size);
  const nodes = await readNodes(db, [...plan.ids, ...rootNodes(s.size)]);
  return {
    kind: 'ok',
    leafIndex,
    treeSize: s.size,
    leafHash: leafHash(event.content_hash),
    rootHash: rootFromNodes(s.size, nodes),
    proof: buildProof(plan, nodes),
  };
}

export type ConsistencyProofResult = { kind: 'ok'; fromSize: number; toSize: number; proof: Uint8Array[]; fromRoot: Uint8Array; toRoot: Uint8Array } | Failure;

/** RFC 9162 consistency proof between two sizes of the log (1 ≤ fromSize ≤ toSize ≤ log size). */
export async function consistencyProofFor(db: DbOrTrx, fromSize: number, toSize?: number | null): Promise<ConsistencyProofResult> {
  const s = await sizeOrLatest(db, toSize);
  if ('kind' in s) return s;
  if (!Number.isSafeInteger(fromSize) || fromSize < 1 || fromSize > s.size) return invalid('fromSize', `fromSize must be between 1 and ${s.size}`);
  const plan = consistencyProofNodes(fromSize, s.size);
  const nodes = await readNodes(db, [...plan.ids, ...rootNodes(fromSize), ...rootNodes(s.size)]);
  return { kind: 'ok', fromSize, toSize: s.size, proof: buildProof(plan, nodes), fromRoot: rootFromNodes(fromSize, nodes), toRoot: rootFromNodes(s.size, nodes) };
}

export type BundleResult = { kind: 'ok'; bundle: ProofBundle } | Failure;

/**
 * Everything needed to verify one item offline: its events and links, each event's inclusion proof against the
 * latest signed checkpoint, that checkpoint, the verifier key, and optionally a consistency proof from an earlier
 * tree size the auditor already trusts. `digitalLinkBase` is the resolver origin of `item.digitalLink` (default
 * https://id.gs1.org).
 */
export async function itemProofBundle(db: DbOrTrx, signer: LogSigner, item: ItemRow, sinceTreeSize?: number | null, digitalLinkBase?: string): Promise<BundleResult> {
  const checkpoint = await findCheckpoint(db, signer.origin);
  if (!checkpoint) return notFound('the log has no checkpoint yet');
  const size = checkpoint.treeSize;
  if (sinceTreeSize !== undefined && sinceTreeSize !== null && (sinceTreeSize < 1 || sinceTreeSize > size)) {
    return invalid('sinceTreeSize', `sinceTreeSize must be between 1 and ${size}`);
  }
  // Links newer than the checkpoint cannot be proven against it; a concurrent write may have added some.
  const chain = (await findChainWithEvents(db, item.id)).filter((l) => Number(l.leaf_index) < size);
  const ids: NodeId[] = chain.flatMap((l) => inclusionProofNodes(Number(l.leaf_index), size).ids);
  if (sinceTreeSize && sinceTreeSize < size) ids.push(...consistencyProofNodes(sinceTreeSize, size).ids);
  const nodes = await readNodes(db, ids);
  const bundle = buildBundle({
    sgtin: item.sgtin,
    digitalLink: digitalLink(item.gtin, item.serial, digitalLinkBase),
    verifierKey: signer.verifierKey,
    checkpoint: checkpoint.note,
    events: chain.map((l) => ({ seq: l.seq, leafIndex: Number(l.leaf_index), body: l.body, contentHash: l.content_hash, prevHash: l.prev_hash, linkHash: l.hash })),
    nodes,
    headSeq: chain.length - 1,
    ...(sinceTreeSize ? { consistencyFromSize: sinceTreeSize } : {}),
  });
  return { kind: 'ok', bundle };
}

export type ItemStatementResult = { kind: 'ok'; statement: ItemStatement } | Failure;

/**
 * The item's head (stage, recalled, seq, link) proven in the head map of the latest signed checkpoint: verifiable
 * offline with the log key alone (core `verifyItemStatement`), and public tier (no event data). Read in one snapshot
 * so the checkpoint and the map agree. NotFound while the log has no checkpoint with a head map, or the item has no
 * logged event yet.
 */
export async function itemStatementOf(db: Db, signer: LogSigner, item: ItemRow): Promise<ItemStatementResult> {
  return db.transaction().setIsolationLevel('repeatable read').setAccessMode('read only').execute(async (trx) => {
    const checkpoint = await findCheckpoint(trx, signer.origin);
    if (!checkpoint || !checkpoint.note.includes(`\n${HEADS_EXTENSION_PREFIX}`)) return notFound('the log has no checkpoint with a head map yet');
    const head = await loggedHeadOf(trx, item.id, checkpoint.treeSize);
    if (!head) return notFound('item not found');
    const proof = await proveHead(sqlHeadMapStore(trx), headKey(head.sgtin));
    const value: Head = { seq: head.seq, link: toHex(head.link), stage: head.stage as Stage, recalled: head.recalled };
    // The map and the links are written by the same integration: a mismatch is corruption, not an expected failure.
    if (!proof || toHex(proof.value) !== toHex(headValue(value))) throw new Error(`head map disagrees with the logged head of ${head.sgtin}`);
    return { kind: 'ok' as const, statement: buildItemStatement(head.sgtin, checkpoint.note, value, proof.siblings) };
  });
}
