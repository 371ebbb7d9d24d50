/**
 * Head map (docs/ledger-format.md §7): a compact sparse Merkle tree from H(sgtin) to a commitment to the item's
 * head (seq, link hash, stage, recalled). Its root is signed in each checkpoint (`provenant-heads` extension line),
 * so the latest event of an item up to that checkpoint is provable and truncation is detected.
 *
 * Tree: node at (depth d, prefix = first d bits of the key). Empty subtree = 32 zero bytes; a subtree holding
 * exactly one key is that key's leaf node SHA-256(0x10 || k || v); any other subtree is
 * SHA-256(0x11 || left || right). Keys are only inserted or updated (an item never leaves the map).
 */
import { fromHex, toHex, utf8 } from '../bytes.ts';
import { encodeBase64 } from '../checkpoint.ts';
import { canonicalize } from '../jcs.ts';
import type { Stage } from '../lifecycle.ts';
import { DOMAIN, HEX32, type Sha256, cat, defaultSha256 } from './hash.ts';

export const EMPTY_NODE = new Uint8Array(32);
const LEAF = new Uint8Array([0x10]);
const INNER = new Uint8Array([0x11]);
export const HEADS_EXTENSION_PREFIX = 'provenant-heads ';

/** What the map commits to for one item. */
export interface Head {
  seq: number;
  /** Hex link hash of the item's latest event. */
  link: string;
  stage: Stage;
  recalled: boolean;
}

/** k = SHA-256("provenant:key:v2\n" || utf8(sgtin)). */
export const headKey = (sgtin: string, sha256: Sha256 = defaultSha256): Uint8Array => sha256(cat(DOMAIN.key, utf8(sgtin)));

/** v = SHA-256("provenant:head:v2\n" || utf8(JCS({link, recalled, seq, stage}))). Throws TypeError on non-JSON input. */
export const headValue = (h: Head, sha256: Sha256 = defaultSha256): Uint8Array =>
  sha256(cat(DOMAIN.head, utf8(canonicalize({ link: h.link, recalled: h.recalled, seq: h.seq, stage: h.stage } as const))));

export const leafNodeHash = (k: Uint8Array, v: Uint8Array, sha256: Sha256 = defaultSha256): Uint8Array => sha256(cat(LEAF, k, v));
export const innerNodeHash = (l: Uint8Array, r: Uint8Array, sha256: Sha256 = defaultSha256): Uint8Array => sha256(cat(INNER, l, r));

/** Bit `i` of a 32-byte key, most significant bit of byte 0 first. */
export const keyBit = (k: Uint8Array, i: number): number => (k[i >> 3]! >> (7 - (i & 7))) & 1;

/** Storage id of the node at `depth` on the path of `key`: hex of the first ceil(depth/8) bytes, bits ≥ depth zeroed. */
export function prefixOf(key: Uint8Array, depth: number): string {
  const n = Math.ceil(depth / 8);
  // A copy, whatever the key's class: Node's Buffer.slice is a view, and the masking below must not touch the key.
  const b = Uint8Array.from(key.subarray(0, n));
  if (depth % 8 !== 0) b[n - 1]! &= (0xff << (8 - (depth % 8))) & 0xff;
  return toHex(b);
}

function childPrefix(prefix: string, depth: number, bit: number): string {
  const b = depth % 8 === 0 ? cat(fromHex(prefix)!, new Uint8Array(1)) : fromHex(prefix)!;
  if (bit) b[b.length - 1]! |= 1 << (7 - (depth % 8));
  return toHex(b);
}

/** A stored node: a leaf (one key below) keeps its key and value so it can be split when a second key arrives. */
export type HeadMapNode = { kind: 'leaf'; key: Uint8Array; value: Uint8Array; hash: Uint8Array } | { kind: 'inner'; hash: Uint8Array };
export interface NodeRef {
  depth: number;
  prefix: string;
}
export interface NodeWrite extends NodeRef {
  node: HeadMapNode;
}

/**
 * Where the server keeps the map's nodes (e.g. an SQL table keyed by (depth, prefix)). `get` is called once per
 * depth with every node that depth needs (so one query per level); absent nodes are empty subtrees. Writes are
 * handed over in one batch at the end of an update (upsert by (depth, prefix)); nothing is ever deleted.
 */
export interface HeadMapStore {
  get(depth: number, prefixes: readonly string[]): Promise<ReadonlyMap<string, HeadMapNode>> | ReadonlyMap<string, HeadMapNode>;
  put(writes: readonly NodeWrite[]): Promise<void> | void;
}

/** An in-memory store (tests, generators, the bench). */
export class MemoryHeadMapStore implements HeadMapStore {
  readonly nodes = new Map<string, HeadMapNode>();
  get(depth: number, prefixes: readonly string[]): ReadonlyMap<string, HeadMapNode> {
    const out = new Map<string, HeadMapNode>();
    for (const p of prefixes) {
      const n = this.nodes.get(`${depth}:${p}`);
      if (n) out.set(p, n);
    }
    return out;
  }
  put(writes: readonly NodeWrite[]): void {
    for (const w of writes) this.nodes.set(`${w.depth}:${w.prefix}`, w.node);
  }
}

interface KV {
  key: Uint8Array;
  hex: string;
  value: Uint8Array;
}

function sortUnique(entries: readonly { key: Uint8Array; value: Uint8Array }[]): KV[] {
  const byKey = new Map<string, KV>();
  for (const e of entries) {
    if (e.key.length !== 32 || e.value.length !== 32) throw new RangeError('head map keys and values are 32 bytes');
    byKey.set(toHex(e.key), { key: e.key, hex: toHex(e.key), value: e.value }); // the last update of a key wins
  }
  return [...byKey.values()].sort((a, b) => (a.hex < b.hex ? -1 : a.hex > b.hex ? 1 : 0));
}

/** First index in sorted kvs[lo, hi) whose bit `depth` is 1 (keys share bits < depth). */
function splitAt(kvs: readonly KV[], lo: number, hi: number, depth: number): number {
  let a = lo;
  let b = hi;
  while (a < b) {
    const m = (a + b) >> 1;
    if (keyBit(kvs[m]!.key, depth) === 0) a = m + 1;
    else b = m;
  }
  return a;
}

/** Builds the subtree of kvs[lo,hi) (all below prefix at depth) with no prior nodes, emitting writes. */
function buildFresh(kvs: readonly KV[], lo: number, hi: number, depth: number, out: NodeWrite[], sha256: Sha256): Uint8Array {
  if (hi === lo) return EMPTY_NODE;
  if (hi - lo === 1) {
    const { key, value } = kvs[lo]!;
    const hash = leafNodeHash(key, value, sha256);
    out.push({ depth, prefix: prefixOf(key, depth), node: { kind: 'leaf', key, value, hash } });
    return hash;
  }
  if (depth >= 256) throw new RangeError('duplicate head map key');
  const mid = splitAt(kvs, lo, hi, depth);
  const l = buildFresh(kvs, lo, mid, depth + 1, out, sha256);
  const r = buildFresh(kvs, mid, hi, depth + 1, out, sha256);
  const hash = innerNodeHash(l, r, sha256);
  out.push({ depth, prefix: prefixOf(kvs[lo]!.key, depth), node: { kind: 'inner', hash } });
  return hash;
}

/**
 * Builds a map from scratch (≈ 2.4 n hashes for n random keys). Returns the root and every node, as writes for a
 * store. Throws RangeError on keys or values that are not 32 bytes.
 */
export function buildHeadMap(entries: readonly { key: Uint8Array; value: Uint8Array }[], sha256: Sha256 = defaultSha256): { root: Uint8Array; writes: NodeWrite[] } {
  const kvs = sortUnique(entries);
  const writes: NodeWrite[] = [];
  const root = buildFresh(kvs, 0, kvs.length, 0, writes, sha256);
  return { root, writes };
}

/**
 * Inserts or updates a batch of keys in a stored map: reads, per depth, the nodes on the updated paths and their
 * siblings (one `get` per depth), recomputes the path hashes, and `put`s every changed node in one batch.
 * Cost for b keys in a map of n: ≈ b·(log2 n + 1) node reads and hashes, minus shared upper paths. Returns the new root.
 * Throws RangeError on malformed keys/values; rethrows store errors (nothing is put then).
 */
export async function updateHeadMap(
  store: HeadMapStore,
  updates: readonly { key: Uint8Array; value: Uint8Array }[],
  sha256: Sha256 = defaultSha256,
): Promise<{ root: Uint8Array; writes: NodeWrite[] }> {
  const kvs = sortUnique(updates);
  const cache = new Map<string, HeadMapNode | undefined>();
  const id = (d: number, p: string): string => `${d}:${p}`;
  // Phase 1: read top-down, one query per depth.
  type Task = { lo: number; hi: number; prefix: string };
  const root = await store.get(0, ['']);
  cache.set(id(0, ''), root.get(''));
  let tasks: Task[] = kvs.length ? [{ lo: 0, hi: kvs.length, prefix: '' }] : [];
  for (let depth = 0; tasks.length > 0; depth++) {
    const next: Task[] = [];
    const reads: string[] = [];
    for (const t of tasks) {
      const node = cache.get(id(depth, t.prefix));
      if (node?.kind !== 'inner') continue;
      const mid = splitAt(kvs, t.lo, t.hi, depth);
      const lp = childPrefix(t.prefix, depth, 0);
      const rp = childPrefix(t.prefix, depth, 1);
      reads.push(lp, rp);
      if (mid > t.lo) next.push({ lo: t.lo, hi: mid, prefix: lp });
      if (t.hi > mid) next.push({ lo: mid, hi: t.hi, prefix: rp });
    }
    if (reads.length) {
      const got = await store.get(depth + 1, reads);
      for (const p of reads) cache.set(id(depth + 1, p), got.get(p));
    }
    tasks = next;
  }
  // Phase 2: recompute bottom-up from the cache.
  const writes: NodeWrite[] = [];
  const compute = (lo: number, hi: number, depth: number, prefix: string): Uint8Array => {
    const node = cache.get(id(depth, prefix));
    if (hi === lo) return node?.hash ?? EMPTY_NODE;
    if (node?.kind === 'inner') {
      const mid = splitAt(kvs, lo, hi, depth);
      const l = compute(lo, mid, depth + 1, childPrefix(prefix, depth, 0));
      const r = compute(mid, hi, depth + 1, childPrefix(prefix, depth, 1));
      const hash = innerNodeHash(l, r, sha256);
      writes.push({ depth, prefix, node: { kind: 'inner', hash } });
      return hash;
    }
    let set = kvs.slice(lo, hi);
    if (node?.kind === 'leaf' && !set.some((s) => s.hex === toHex(node.key))) {
      set = sortUnique([...set, { key: node.key, value: node.value }]);
    }
    return buildFresh(set, 0, set.length, depth, writes, sha256);
  };
  const newRoot = compute(0, kvs.length, 0, '');
  if (writes.length) await store.put(writes);
  return { root: newRoot, writes };
}

/** Root of a stored map (EMPTY_NODE when empty). Rethrows store errors. */
export async function headMapRoot(store: HeadMapStore): Promise<Uint8Array> {
  return (await store.get(0, [''])).get('')?.hash ?? EMPTY_NODE;
}

/**
 * Membership proof of `key`: sibling hashes (hex) from depth 0 down to the depth of the key's leaf, and the stored
 * value. Undefined when the key is not in the map. Two reads per depth. Rethrows store errors.
 */
export async function proveHead(store: HeadMapStore, key: Uint8Array): Promise<{ siblings: string[]; value: Uint8Array } | undefined> {
  let node = (await store.get(0, [''])).get('');
  const siblings: string[] = [];
  let prefix = '';
  for (let depth = 0; node?.kind === 'inner'; depth++) {
    const bit = keyBit(key, depth);
    const mine = childPrefix(prefix, depth, bit);
    const other = childPrefix(prefix, depth, 1 - bit);
    const got = await store.get(depth + 1, [mine, other]);
    siblings.push(toHex(got.get(other)?.hash ?? EMPTY_NODE));
    node = got.get(mine);
    prefix = mine;
  }
  if (node?.kind !== 'leaf' || toHex(node.key) !== toHex(key)) return undefined;
  return { siblings, value: node.value };
}

/**
 * The root implied by key k having value v with these siblings (depth 0 first), or undefined if the proof is
 * malformed (more than 256 siblings or one that is not 64 lowercase hex characters). Never throws.
 */
export function foldHeadProof(key: Uint8Array, value: Uint8Array, siblings: unknown, sha256: Sha256 = defaultSha256): Uint8Array | undefined {
  if (!Array.isArray(siblings) || siblings.length > 256 || key.length !== 32 || value.length !== 32) return undefined;
  let h = leafNodeHash(key, value, sha256);
  for (let d = siblings.length - 1; d >= 0; d--) {
    const s = siblings[d];
    if (typeof s !== 'string' || !HEX32.test(s)) return undefined;
    const sib = fromHex(s)!;
    h = keyBit(key, d) ? innerNodeHash(sib, h, sha256) : innerNodeHash(h, sib, sha256);
  }
  return h;
}

/** The checkpoint extension line binding a head-map root: `provenant-heads <base64 root>`. */
export function headsExtension(root: Uint8Array): string {
  return HEADS_EXTENSION_PREFIX + encodeBase64(root);
}
