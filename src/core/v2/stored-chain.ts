/**
 * Verification of what a server stores (not of a bundle): an item's chain of v1 and v2 links, each link against its
 * event's stored body, and a v2 event's items root against its stored entries. Used by the server's audit and
 * per-item verification; the offline verifier of bundles is bundle-v2.ts.
 */
import { bytesEqual, toHex } from '../bytes.ts';
import { type ChainVerification, ZERO_HASH, contentHashOf, linkHash } from '../chain.ts';
import { bodyV2Error, contentHashV2, linkHashV2 } from './event-v2.ts';
import { type Sha256, cat, defaultSha256 } from './hash.ts';
import { type ItemProof, buildItemTree, itemEntry, itemProofFromNodes, padHash } from './item-tree.ts';

/** One stored entry of a v2 event's items tree. `prevHash` is the stored prev_hash (zero bytes at seq 0). */
export interface StoredEntry {
  sgtin: string;
  seq: number;
  prevHash: Uint8Array;
  salt: string;
}

/** The entry opening's `prev` of a stored link: null at seq 0, else the previous link hash (hex). */
export const entryPrev = (seq: number, prevHash: Uint8Array): string | null => (seq === 0 ? null : toHex(prevHash));

/** Hex items root rebuilt from an event's stored entries and pad key. Throws RangeError on malformed entries. */
export function itemsRootOf(entries: readonly StoredEntry[], padKey: Uint8Array, sha256: Sha256 = defaultSha256): string {
  const hashes = entries.map((e) => itemEntry(e.sgtin, e.seq, { prev: entryPrev(e.seq, e.prevHash), salt: e.salt }, sha256));
  return toHex(buildItemTree(hashes, padKey, sha256).root);
}

/** A stored link with its event. `expectedBody` is the body the stored columns reproduce (or why they cannot). */
export interface StoredChainLink {
  seq: number;
  format: 1 | 2;
  prevHash: Uint8Array;
  hash: Uint8Array;
  body: string;
  contentHash: Uint8Array;
  expectedBody: string | { problem: string };
  /** v2: the hex salt of the item's entry (null when missing). */
  entrySalt?: string | null;
  /** v2: the items root rebuilt from all the event's stored entries, when the caller rebuilt it. */
  rebuiltItemsRoot?: string;
}

/** The content hash a stored body should have under its format. */
export const storedContentHash = (format: 1 | 2, body: string, sha256: Sha256 = defaultSha256): Uint8Array =>
  format === 2 ? contentHashV2(body, sha256) : contentHashOf(body);

export type StoredEventProblem = { kind: 'hash' | 'shape' | 'columns' | 'items'; message: string; detail?: string };

/**
 * The problem with one stored event, or undefined: `hash` (the body does not hash to the stored content hash),
 * `shape` (not JSON, or not a valid v2 body), `columns` (the stored columns — values, salts, times — do not reproduce
 * the body; the message names the differing fields), `items` (v2: the items root rebuilt from the stored entries
 * differs from the body's). Does not look at links. `bodyHash`, when given, must be the hash of `body` itself, and
 * `parsedBody` a value equal to `JSON.parse(body)` (an audit that rebuilt the body byte for byte has both).
 */
export function storedEventProblem(
  e: { format: 1 | 2; body: string; contentHash: Uint8Array; expectedBody: string | { problem: string }; rebuiltItemsRoot?: string; bodyHash?: Uint8Array; parsedBody?: unknown },
  sha256: Sha256 = defaultSha256,
): StoredEventProblem | undefined {
  // `bodyHash`: the caller's hash of exactly `body` under its format (an audit gets it while rebuilding the body).
  const computed = e.bodyHash ?? storedContentHash(e.format, e.body, sha256);
  if (!bytesEqual(computed, e.contentHash)) return { kind: 'hash', message: `body hashes to ${toHex(computed)}, stored contentHash ${toHex(e.contentHash)}` };
  let parsed: unknown = e.parsedBody;
  if (parsed === undefined) {
    try {
      parsed = JSON.parse(e.body);
    } catch {
      return { kind: 'shape', message: 'stored body is not JSON' };
    }
  }
  if (e.format === 2) {
    const p = bodyV2Error(parsed);
    if (p) return { kind: 'shape', message: `stored v2 body: ${p}` };
  }
  if (typeof e.expectedBody !== 'string') return { kind: 'columns', message: e.expectedBody.problem };
  if (e.expectedBody !== e.body) return { kind: 'columns', message: `field ${bodyDiff(e.expectedBody, parsed).join(', ') || 'encoding'}` };
  if (e.format === 2 && e.rebuiltItemsRoot !== undefined && e.rebuiltItemsRoot !== (parsed as { items: string }).items) {
    return { kind: 'items', message: 'field items', detail: `the items root rebuilt from the stored entries is ${e.rebuiltItemsRoot}, the body's ${(parsed as { items: string }).items}` };
  }
  return undefined;
}

/** Names of the top-level keys (and, inside a v2 body's `fields`, the field names) whose JSON differs. */
function bodyDiff(expectedText: string, stored: unknown): string[] {
  let expected: Record<string, unknown>;
  try {
    expected = JSON.parse(expectedText) as Record<string, unknown>;
  } catch {
    return [];
  }
  const s = (typeof stored === 'object' && stored !== null ? stored : {}) as Record<string, unknown>;
  const out: string[] = [];
  for (const k of [...new Set([...Object.keys(expected), ...Object.keys(s)])].sort()) {
    const a = expected[k];
    const b = s[k];
    if (k === 'fields' && typeof a === 'object' && a !== null && typeof b === 'object' && b !== null) {
      const fa = a as Record<string, unknown>;
      const fb = b as Record<string, unknown>;
      for (const n of [...new Set([...Object.keys(fa), ...Object.keys(fb)])].sort()) if (fa[n] !== fb[n]) out.push(n);
    } else if (JSON.stringify(a) !== JSON.stringify(b)) out.push(k);
  }
  return out;
}

/**
 * The expected link hash of a stored link given the previous link (v1 rule or v2 entry rule), or a problem.
 */
export function storedLinkHash(sgtin: string, l: Pick<StoredChainLink, 'seq' | 'format' | 'contentHash' | 'entrySalt'>, prev: Uint8Array, sha256: Sha256 = defaultSha256): Uint8Array | string {
  if (l.format === 1) return linkHash(prev, l.contentHash, sgtin, l.seq);
  if (!l.entrySalt) return 'v2 link has no entry salt';
  try {
    return linkHashV2(l.contentHash, itemEntry(sgtin, l.seq, { prev: entryPrev(l.seq, prev), salt: l.entrySalt }, sha256), sha256);
  } catch (e) {
    return (e as Error).message;
  }
}

/**
 * Recomputes one item's stored chain of v1 and v2 links (sorted by seq here): seqs 0..n-1, each event's body and
 * columns, COMMISSION first, v1 bodies listing the item, no v1 link after a v2 one, each prevHash and link hash.
 * Reports the first failing seq. An empty chain is invalid.
 */
export function verifyStoredChain(sgtin: string, stored: readonly StoredChainLink[], sha256: Sha256 = defaultSha256): ChainVerification {
  const links = [...stored].sort((a, b) => a.seq - b.seq);
  const fail = (seq: number, reason: string): ChainVerification => ({ valid: false, length: links.length, headHash: null, firstInvalidSeq: seq, reason });
  if (links.length === 0) return fail(0, 'item has no chain links');
  let prev: Uint8Array = ZERO_HASH;
  let seenV2 = false;
  for (let i = 0; i < links.length; i++) {
    const l = links[i]!;
    if (l.seq !== i) return fail(i, `link seq ${i} is missing (next stored seq is ${l.seq})`);
    const problem = storedEventProblem(l, sha256);
    if (problem) {
      const prefix = { hash: 'event content hash mismatch', shape: 'stored event body is malformed', columns: 'stored event fields differ from the hashed body', items: 'stored chain entries differ from the hashed body' }[problem.kind];
      return fail(i, `${prefix} (${problem.message})${problem.detail ? `: ${problem.detail}` : ''}`);
    }
    const body = JSON.parse(l.body) as { kind?: unknown; items?: unknown };
    if (i === 0 && body.kind !== 'COMMISSION') return fail(0, `chain starts with ${String(body.kind)}, expected COMMISSION`);
    if (l.format === 1) {
      if (seenV2) return fail(i, 'a v1 event after a v2 event');
      if (!Array.isArray(body.items) || !body.items.includes(sgtin)) return fail(i, `event does not cover item ${sgtin}`);
    } else seenV2 = true;
    if (!bytesEqual(l.prevHash, prev)) return fail(i, 'prevHash does not equal the previous link hash');
    const expected = storedLinkHash(sgtin, l, prev, sha256);
    if (typeof expected === 'string') return fail(i, expected);
    if (!bytesEqual(expected, l.hash)) return fail(i, 'link hash mismatch');
    prev = l.hash;
  }
  return { valid: true, length: links.length, headHash: prev, firstInvalidSeq: null, reason: null };
}

// ---------------------------------------------------------------------------------------------------------------
// Stored items-tree nodes: a server keeps, per event, the real nodes at levels ≥ TREE_TOP_LEVEL (at most 1,022 for
// any n: 512 + 256 + … + 2) and, per item, its position. An item's proof is then its 256-wide subtree rebuilt from the
// ≈ n/512 entries stored at positions in it, plus 9 stored top nodes (or pads): constant work whatever the batch size.

/** Lowest level of the stored top of an items tree. */
export const TREE_TOP_LEVEL = 8;
/** Events of at most this many items store no top (9 nodes, 333 B, per single-item event): rebuilding them is cheaper. */
export const TREE_TOP_MIN_ITEMS = 257;
const RECORD = 1 + 4 + 32;

/** The top of a built tree as bytes: records of u8 level, u32be index, 32-byte hash, for every real node at levels ≥ TREE_TOP_LEVEL. */
export function encodeTreeTop(nodes: Iterable<{ level: number; index: number; hash: Uint8Array }>): Uint8Array {
  const top: { level: number; index: number; hash: Uint8Array }[] = [];
  for (const n of nodes) if (n.level >= TREE_TOP_LEVEL) top.push(n);
  const out = new Uint8Array(top.length * RECORD);
  const view = new DataView(out.buffer);
  top.forEach((n, k) => {
    out[k * RECORD] = n.level;
    view.setUint32(k * RECORD + 1, n.index, false);
    out.set(n.hash, k * RECORD + 5);
  });
  return out;
}

/** Parses `encodeTreeTop` output into `level:index` → hash. Throws RangeError on a length that is not whole records. */
export function decodeTreeTop(bytes: Uint8Array): Map<string, Uint8Array> {
  if (bytes.length % RECORD !== 0) throw new RangeError(`stored items-tree top has ${bytes.length} bytes, not a multiple of ${RECORD}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Map<string, Uint8Array>();
  for (let o = 0; o < bytes.length; o += RECORD) out.set(`${bytes[o]}:${view.getUint32(o + 1, false)}`, bytes.slice(o + 5, o + RECORD));
  return out;
}

/** The position range [lo, hi] of the stored subtree that holds `position`. */
export function subtreeRange(position: number): { lo: number; hi: number } {
  const lo = (position >> TREE_TOP_LEVEL) << TREE_TOP_LEVEL;
  return { lo, hi: lo + (1 << TREE_TOP_LEVEL) - 1 };
}

/**
 * An item's proof from stored data: the entries stored at positions of its subtree (its own included), the stored top
 * and the event's pad key. Throws RangeError on malformed input (a position outside the subtree, a bad pad key).
 */
export function itemProofFromStored(
  position: number,
  subtree: readonly { position: number; entry: Uint8Array }[],
  top: ReadonlyMap<string, Uint8Array>,
  padKey: Uint8Array,
  sha256: Sha256 = defaultSha256,
): ItemProof {
  const { lo, hi } = subtreeRange(position);
  let level = new Map<number, Uint8Array>();
  for (const e of subtree) {
    if (e.position < lo || e.position > hi) throw new RangeError(`entry at position ${e.position} is outside the subtree ${lo}..${hi}`);
    level.set(e.position, sha256(cat(new Uint8Array([0x00]), e.entry)));
  }
  const local = new Map<string, Uint8Array>();
  for (let l = 0; l < TREE_TOP_LEVEL; l++) {
    const next = new Map<number, Uint8Array>();
    for (const [i, h] of level) {
      local.set(`${l}:${i}`, h);
      const parent = i >> 1;
      if (next.has(parent)) continue;
      const left = level.get(parent * 2) ?? padHash(padKey, l, parent * 2, sha256);
      const right = level.get(parent * 2 + 1) ?? padHash(padKey, l, parent * 2 + 1, sha256);
      next.set(parent, sha256(cat(new Uint8Array([0x01]), left, right)));
    }
    level = next;
  }
  return itemProofFromNodes(position, (l, i) => (l < TREE_TOP_LEVEL ? local.get(`${l}:${i}`) : top.get(`${l}:${i}`)), padKey, sha256);
}

/**
 * Rebuilds an event's items tree from its stored entries and compares what a server stores beside it: every entry's
 * position and the encoded top levels. Returns the hex root, and the first mismatch when there is one. Throws
 * RangeError on entries that do not form a tree.
 */
export function checkStoredTree(
  entries: readonly (StoredEntry & { position: number | null })[],
  padKey: Uint8Array,
  top: Uint8Array | null,
  sha256: Sha256 = defaultSha256,
): { root: string; problem?: string } {
  const hashes = entries.map((e) => itemEntry(e.sgtin, e.seq, { prev: entryPrev(e.seq, e.prevHash), salt: e.salt }, sha256));
  return checkItemTree(hashes, (i) => entries[i]!, padKey, top, sha256);
}

/**
 * As `checkStoredTree`, from entry hashes already computed (`itemEntry`; an audit computes each once for the tree and
 * the item's link). `stored(i)` gives entry i's SGTIN (named in the problem) and stored position. Throws RangeError on
 * entries that do not form a tree.
 */
export function checkItemTree(
  entryHashes: readonly Uint8Array[],
  stored: (i: number) => { sgtin: string; position: number | null },
  padKey: Uint8Array,
  top: Uint8Array | null,
  sha256: Sha256 = defaultSha256,
): { root: string; problem?: string } {
  const tree = buildItemTree(entryHashes, padKey, sha256);
  const root = toHex(tree.root);
  for (let i = 0; i < entryHashes.length; i++) {
    const e = stored(i);
    if (e.position !== tree.position(i)) return { root, problem: `the stored position of ${e.sgtin} is ${e.position}, the tree puts it at ${tree.position(i)}` };
  }
  if (top === null ? entryHashes.length >= TREE_TOP_MIN_ITEMS : !bytesEqual(top, encodeTreeTop(tree.nodes(TREE_TOP_LEVEL)))) {
    return { root, problem: 'the stored top levels of the items tree differ from the rebuilt tree' };
  }
  return { root };
}
