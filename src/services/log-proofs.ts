import { type ProofBundle, buildBundle } from '../core/bundle.ts';
import { digitalLink } from '../core/identifiers.ts';
import { type NodeId, consistencyProofNodes, inclusionProofNodes, buildProof, leafHash, rootFromNodes, rootNodes } from '../core/merkle.ts';
import { toHex } from '../core/bytes.ts';
import type { Stage } from '../core/lifecycle.ts';
import { HEADS_EXTENSION_PREFIX, type Head, headKey, headValue, proveHead } from '../core/v2/head-map.ts';
import { type ItemStatement, buildItemStatement } from '../core/v2/statement.ts';
import type { Db, DbOrTrx } from '../db/connection.ts';
import { loggedHeadOf, sqlHeadMapStore } from '../db/head-map.ts';
import { type StoredEntryRow, entriesInRange, entriesOfEvents, findChainWithEvents } from '../db/ledger.ts';
import { formatOf, fullEventOf } from '../db/event-content.ts';
import { type BuildEventInput, type ProofBundleV2, buildBundleV2 } from '../core/v2/bundle-v2.ts';
import type { Tier, TierOverrides } from '../core/v2/disclosure.ts';
import type { ReadScope } from '../core/rights.ts';
import { eventReadViews } from './event-disclosure.ts';
import type { FullEventV2 } from '../core/v2/event-v2.ts';
import { type ItemProof, buildItemTree, itemEntry } from '../core/v2/item-tree.ts';
import { decodeTreeTop, entryPrev, itemProofFromStored, subtreeRange } from '../core/v2/stored-chain.ts';
import { nativeSha256 } from './append-event.ts';
import { findCheckpointRow, readLogHead, readNodes, type LogSigner } from '../db/log.ts';
import { findErasureRows, findEventLeaf } from '../db/events.ts';
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
  const row = await findCheckpointRow(db, treeSize);
  return row && { origin, ...row };
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
  const event = await findEventLeaf(db, eventId);
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

export type BundleResult = { kind: 'ok'; bundle: ProofBundle | ProofBundleV2 } | Failure;

/** Who reads a bundle: the tier that decides which fields are opened, and a product's tier overrides if any. */
export interface BundleReader {
  /** The tier every event is disclosed at, unless `scope` decides per event. */
  tier: Tier;
  overrides?: TierOverrides;
  /**
   * The reader, when its tier is decided per event as on every other read path (core `tierOfReader` over the
   * event's products and the reader's custody windows, with each product's disclosure overrides).
   */
  scope?: ReadScope;
  auditor?: boolean;
}

/**
 * Everything needed to verify one item offline: its events, each event's inclusion proof against the latest signed
 * checkpoint, that checkpoint, the verifier key, and optionally a consistency proof from an earlier tree size the
 * auditor already trusts. An item with v2 events gets a v2 bundle (docs/ledger-format.md §11: entries, items-tree
 * proofs, fields disclosed for `reader`'s tier — public when not given —, the ERASE events of erased fields and the
 * head proven in the head map, so completeness up to the checkpoint is provable); an item with only v1 events keeps
 * its v1 bundle. Read in one snapshot so checkpoint, chain and head map agree. `digitalLinkBase` is the resolver
 * origin of `item.digitalLink` (default https://id.gs1.org). A v2 event's items-tree proof comes from its stored top
 * levels and the entries of the item's 256-wide subtree (`storedItemProof`).
 */
export async function itemProofBundle(
  db: DbOrTrx,
  signer: LogSigner,
  item: ItemRow,
  sinceTreeSize?: number | null,
  digitalLinkBase?: string,
  reader: BundleReader = { tier: 'public' },
): Promise<BundleResult> {
  if (db.isTransaction) return bundleIn(db, signer, item, sinceTreeSize, digitalLinkBase, reader);
  return (db as Db).transaction().setIsolationLevel('repeatable read').setAccessMode('read only')
    .execute((trx) => bundleIn(trx, signer, item, sinceTreeSize, digitalLinkBase, reader));
}

async function bundleIn(db: DbOrTrx, signer: LogSigner, item: ItemRow, sinceTreeSize: number | null | undefined, digitalLinkBase: string | undefined, reader: BundleReader): Promise<BundleResult> {
  const checkpoint = await findCheckpoint(db, signer.origin);
  if (!checkpoint) return notFound('the log has no checkpoint yet');
  const size = checkpoint.treeSize;
  if (sinceTreeSize !== undefined && sinceTreeSize !== null && (sinceTreeSize < 1 || sinceTreeSize > size)) {
    return invalid('sinceTreeSize', `sinceTreeSize must be between 1 and ${size}`);
  }
  // Links newer than the checkpoint cannot be proven against it; a concurrent write may have added some.
  const chain = (await findChainWithEvents(db, item.id)).filter((l) => Number(l.leaf_index) < size);
  const dl = digitalLink(item.gtin, item.serial, digitalLinkBase);
  if (chain.some((l) => formatOf(l) === 2)) return bundleV2(db, signer, item, checkpoint, chain, sinceTreeSize ?? undefined, dl, reader);
  const ids: NodeId[] = chain.flatMap((l) => inclusionProofNodes(Number(l.leaf_index), size).ids);
  if (sinceTreeSize && sinceTreeSize < size) ids.push(...consistencyProofNodes(sinceTreeSize, size).ids);
  const nodes = await readNodes(db, ids);
  const bundle = buildBundle({
    sgtin: item.sgtin,
    digitalLink: dl,
    verifierKey: signer.verifierKey,
    checkpoint: checkpoint.note,
    events: chain.map((l) => ({ seq: l.seq, leafIndex: Number(l.leaf_index), body: l.body, contentHash: l.content_hash, prevHash: l.prev_hash, linkHash: l.hash })),
    nodes,
    headSeq: chain.length - 1,
    ...(sinceTreeSize ? { consistencyFromSize: sinceTreeSize } : {}),
  });
  return { kind: 'ok', bundle };
}

type ChainRow = Awaited<ReturnType<typeof findChainWithEvents>>[number];

/** Each v2 event's withheld fields for `scope`, by seq (the same decision as every other read path). */
async function withheldBySeq(db: DbOrTrx, scope: ReadScope, auditor: boolean, chain: readonly ChainRow[]): Promise<Map<number, string[]>> {
  const v2 = chain.filter((l) => formatOf(l) === 2);
  const views = await eventReadViews(db, scope, v2.map((l) => ({ ...l, id: l.event_id, item_count: Number(l.item_count) })), auditor);
  return new Map(v2.map((l) => [l.seq, views.get(l.event_id)?.withheld ?? []]));
}

async function bundleV2(
  db: DbOrTrx, signer: LogSigner, item: ItemRow, checkpoint: CheckpointView, chain: readonly ChainRow[], sinceTreeSize: number | undefined, dl: string, reader: BundleReader,
): Promise<BundleResult> {
  const size = checkpoint.treeSize;
  const logged = await loggedHeadOf(db, item.id, size);
  if (!logged) return notFound('item not found');
  const head: Head = { seq: logged.seq, link: toHex(logged.link), stage: logged.stage as Stage, recalled: logged.recalled };
  const proof = await proveHead(sqlHeadMapStore(db), headKey(item.sgtin, nativeSha256));
  // The map and the links are written by the same integration: a mismatch is corruption, not an expected failure.
  if (!proof || toHex(proof.value) !== toHex(headValue(head, nativeSha256))) throw new Error(`head map disagrees with the logged head of ${item.sgtin}`);
  const erasedRefs = new Set<string>();
  const events: BuildEventInput[] = [];
  for (const l of chain) {
    const leafIndex = Number(l.leaf_index);
    if (formatOf(l) === 1) {
      events.push({ version: 1, seq: l.seq, leafIndex, body: l.body, prevHash: l.prev_hash, linkHash: l.hash });
      continue;
    }
    const full = fullEventOf(l);
    if ('problem' in full) throw new Error(`event ${l.event_id}: ${full.problem}`);
    for (const f of Object.values(full.event.fields)) if ('erased' in f) erasedRefs.add(f.erased);
    if (!l.pad_key || !l.entry_salt) throw new Error(`event ${l.event_id}: the stored items tree lacks ${item.sgtin}`);
    const itemProof = await storedItemProof(db, l.event_id, item.id, l.entry_position, l.item_tree_top, l.pad_key);
    events.push({ version: 2, seq: l.seq, leafIndex, event: full.event, entry: { prev: entryPrev(l.seq, l.prev_hash), salt: toHex(l.entry_salt) }, itemProof });
  }
  const erasures = (await findErasures(db, [...erasedRefs])).filter((x) => x.leafIndex < size);
  const withheld = reader.scope ? await withheldBySeq(db, reader.scope, reader.auditor ?? false, chain) : undefined;
  const ids: NodeId[] = [...chain.map((l) => Number(l.leaf_index)), ...erasures.map((x) => x.leafIndex)].flatMap((leaf) => inclusionProofNodes(leaf, size).ids);
  if (sinceTreeSize && sinceTreeSize < size) ids.push(...consistencyProofNodes(sinceTreeSize, size).ids);
  const nodes = await readNodes(db, ids);
  const bundle = buildBundleV2({
    sgtin: item.sgtin,
    digitalLink: dl,
    verifierKey: signer.verifierKey,
    checkpoint: checkpoint.note,
    head,
    mapProof: proof.siblings,
    events,
    erasures,
    viewer: reader.tier,
    ...(reader.overrides ? { overrides: reader.overrides } : {}),
    ...(withheld ? { withheld: (seq: number) => withheld.get(seq) } : {}),
    nodes,
    ...(sinceTreeSize ? { consistencyFromSize: sinceTreeSize } : {}),
    // An erasure committed but not integrated yet (milliseconds) cannot be proven against this checkpoint.
    unprovenErasures: 'withhold',
    sha256: nativeSha256,
  });
  return { kind: 'ok', bundle };
}

/**
 * The reader of an item's bundle: its fields are disclosed per event exactly as GraphQL `Event.withheldFields`
 * discloses them (services/event-disclosure.ts: core `tierOfReader`, custody windows, products' overrides), so a
 * later holder reads the earlier owners' events at the public tier in a bundle as everywhere else.
 */
export function bundleReaderFor(scope: ReadScope, auditor: boolean): BundleReader {
  return { tier: scope.allProducts ? 'authorities' : 'public', scope, auditor };
}

/**
 * One item's proof in its event's items tree from what is stored: its position, the event's stored top levels and the
 * entries of its 256-wide subtree (≈ n/512 rows; core `itemProofFromStored`). Events stored without them are rebuilt
 * from all their entries. Throws when the item is not among the event's entries (corruption).
 */
export async function storedItemProof(
  db: DbOrTrx, eventId: string, itemId: string, position: number | null, top: Uint8Array | null, padKey: Uint8Array,
): Promise<ItemProof> {
  const entryOf = (e: StoredEntryRow) => itemEntry(e.sgtin, e.seq, { prev: entryPrev(e.seq, e.prevHash), salt: e.salt }, nativeSha256);
  if (position !== null && top !== null) {
    const { lo, hi } = subtreeRange(position);
    const subtree = await entriesInRange(db, eventId, lo, hi);
    if (!subtree.some((e) => e.itemId === itemId)) throw new Error(`event ${eventId}: no stored entry of the item at position ${position}`);
    return itemProofFromStored(position, subtree.map((e) => ({ position: e.position!, entry: entryOf(e) })), decodeTreeTop(top), padKey, nativeSha256);
  }
  const all = (await entriesOfEvents(db, [eventId])).get(eventId) ?? [];
  const index = all.findIndex((e) => e.itemId === itemId);
  if (index < 0) throw new Error(`event ${eventId}: the stored items tree lacks item ${itemId}`);
  return buildItemTree(all.map(entryOf), padKey, nativeSha256).proof(index);
}

/** The logged ERASE events with these hex content hashes, as full events. */
async function findErasures(db: DbOrTrx, contentHashes: readonly string[]): Promise<{ leafIndex: number; event: FullEventV2 }[]> {
  const rows = await findErasureRows(db, contentHashes);
  return rows.map((r) => {
    const full = fullEventOf(r);
    if ('problem' in full) throw new Error(`ERASE event ${r.id}: ${full.problem}`);
    return { leafIndex: Number(r.leaf_index), event: full.event };
  });
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
