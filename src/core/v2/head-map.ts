/**
 * Head map (docs/ledger-format.md §7): a compact sparse Merkle tree from H(sgtin) to a commitment to the item's
 * head (seq, link hash, stage, recalled). Its root is signed in each checkpoint (`provenant-heads` extension line),
 * so the latest event of an item up to that checkpoint is provable and truncation is detected.
 *
 * Tree: node at (depth d, prefix = first d bits of the key). Empty subtree = 32 zero bytes; a subtree holding
 * exactly one key is that key's leaf node SHA-256(0x10 || k || v); any other subtree is
 * SHA-256(0x11 || left || right). Keys are only inserted or updated (an item never leaves the map).
 *
 * Storage (not part of the format): a subtree of at most BUCKET_SIZE keys is stored as one bucket row holding its keys,
 * values and hash; only the inner nodes above the buckets are stored one by one.
 */
import { fromHex, toHex, utf8 } from '../bytes.ts';
import { encodeBase64 } from '../checkpoint.ts';
import { canonicalize } from '../jcs.ts';
import type { Stage } from '../lifecycle.ts';
import { HEX32, type Sha256, cat, defaultSha256 } from './hash.ts';

export const EMPTY_NODE = new Uint8Array(32);
export const HEADS_EXTENSION_PREFIX = 'provenant-heads ';

/** What the map commits to for one item. */
export interface Head {
  seq: number;
  /** Hex link hash of the item's latest event. */
  link: string;
  stage: Stage;
  recalled: boolean;
}

const KEY_DOMAIN = 'provenant:key:v2\n';
const HEAD_DOMAIN = 'provenant:head:v2\n';

// Text to hash is encoded into one scratch buffer (a view of it is hashed): the integrator hashes two texts per item
// of a batch, and a fresh array for each is garbage the collector must chase. Safe for the same reason as below.
const textScratch = new Uint8Array(1024);
const encoder = new TextEncoder();
function hashText(text: string, sha256: Sha256): Uint8Array {
  const { read, written } = encoder.encodeInto(text, textScratch);
  return read === text.length ? sha256(textScratch.subarray(0, written)) : sha256(utf8(text));
}

/** k = SHA-256("provenant:key:v2\n" || utf8(sgtin)). */
export const headKey = (sgtin: string, sha256: Sha256 = defaultSha256): Uint8Array => hashText(KEY_DOMAIN + sgtin, sha256);

/** v = SHA-256("provenant:head:v2\n" || utf8(JCS({link, recalled, seq, stage}))). Throws TypeError on non-JSON input. */
export function headValue(h: Head, sha256: Sha256 = defaultSha256): Uint8Array {
  // The integrator hashes one per item of a batch (100,000 for a big lot): for the usual types the JCS text is written
  // directly (keys in JCS order; JSON.stringify of a string and String of a finite number are JCS's own serialisations).
  const json =
    typeof h.link === 'string' && typeof h.stage === 'string' && typeof h.recalled === 'boolean' && typeof h.seq === 'number' && Number.isFinite(h.seq)
      ? `{"link":${JSON.stringify(h.link)},"recalled":${h.recalled ? 'true' : 'false'},"seq":${String(h.seq)},"stage":${JSON.stringify(h.stage)}}`
      : canonicalize({ link: h.link, recalled: h.recalled, seq: h.seq, stage: h.stage } as const);
  return hashText(HEAD_DOMAIN + json, sha256);
}

// One scratch buffer for node-hash inputs: a batch hashes ≈ 2 nodes per key, and a fresh array for each is most of
// the garbage of a big batch. Safe because hashing is synchronous and a Sha256 keeps no reference to its input.
const scratch = new Uint8Array(65);
export const leafNodeHash = (k: Uint8Array, v: Uint8Array, sha256: Sha256 = defaultSha256): Uint8Array => nodeHash(0x10, k, v, sha256);
export const innerNodeHash = (l: Uint8Array, r: Uint8Array, sha256: Sha256 = defaultSha256): Uint8Array => nodeHash(0x11, l, r, sha256);
function nodeHash(tag: number, a: Uint8Array, b: Uint8Array, sha256: Sha256): Uint8Array {
  if (a.length !== 32 || b.length !== 32) return sha256(cat(new Uint8Array([tag]), a, b));
  scratch[0] = tag;
  scratch.set(a, 1);
  scratch.set(b, 33);
  return sha256(scratch);
}

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

/**
 * Most keys one stored bucket holds. The tree's hashes do not depend on it; it only decides how the tree is cut into
 * stored rows: a subtree holding at most this many keys is stored whole as one bucket (its keys and values, and its
 * hash), so a batch of n new keys writes about n/6 rows instead of 2.4 n, and a one-key update rewrites one bucket of
 * ≤ 1 KiB plus the inner nodes above it.
 */
export const BUCKET_SIZE = 16;
/** Bytes of one bucket entry: the 32-byte key then the 32-byte value. */
export const ENTRY_BYTES = 64;

/**
 * A stored node. `bucket`: the whole subtree below (depth, prefix), which holds 1..BUCKET_SIZE keys (`entries`: each
 * key followed by its value, in ascending key order) and its hash. `inner`: a subtree holding more keys than a bucket
 * may, whose two children are stored at depth + 1 (an absent child is an empty subtree).
 */
export type HeadMapNode = { kind: 'bucket'; entries: Uint8Array; hash: Uint8Array } | { kind: 'inner'; hash: Uint8Array };
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
  /**
   * Optional: nodes at any depths in one call, keyed `${depth}:${prefix}` (absent: empty). With it, an update of a few
   * keys and a proof read their whole paths in one round trip instead of one per depth.
   */
  getMany?(refs: readonly NodeRef[]): Promise<ReadonlyMap<string, HeadMapNode>> | ReadonlyMap<string, HeadMapNode>;
}

/** Most keys an update prefetches whole paths for (getMany), and how many depths it prefetches. */
const PREFETCH_KEYS = 64;
const PREFETCH_DEPTHS = 40;

/** The nodes on the paths of `keys` and their siblings, depths 0..PREFETCH_DEPTHS, as refs for `getMany`. */
function pathRefs(keys: readonly Uint8Array[]): NodeRef[] {
  const seen = new Set<string>();
  const out: NodeRef[] = [];
  const add = (depth: number, prefix: string) => {
    const k = `${depth}:${prefix}`;
    if (seen.has(k)) return;
    seen.add(k);
    out.push({ depth, prefix });
  };
  for (const key of keys) {
    add(0, '');
    for (let d = 1; d <= PREFETCH_DEPTHS; d++) {
      add(d, prefixOf(key, d));
      // The sibling: the same prefix with bit d-1 flipped.
      const b = fromHex(prefixOf(key, d))!;
      b[(d - 1) >> 3]! ^= 1 << (7 - ((d - 1) & 7));
      add(d, toHex(b));
    }
  }
  return out;
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
  value: Uint8Array;
}

function compareKeys(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < 32; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

/** Sorted by key, one entry per key: the last of a key wins. Throws RangeError on keys or values that are not 32 bytes. */
function sortUnique(entries: readonly KV[]): KV[] {
  for (const e of entries) if (e.key.length !== 32 || e.value.length !== 32) throw new RangeError('head map keys and values are 32 bytes');
  // Array#sort is stable, so equal keys stay in input order and the last of each run is the one that wins.
  const sorted = entries.slice().sort((a, b) => compareKeys(a.key, b.key));
  const out: KV[] = [];
  for (let i = 0; i < sorted.length; i++) {
    if (i + 1 < sorted.length && compareKeys(sorted[i]!.key, sorted[i + 1]!.key) === 0) continue;
    out.push(sorted[i]!);
  }
  return out;
}

/** The entries of a stored bucket (views into `entries`). Throws RangeError when its length is not a multiple of 64. */
export function bucketEntries(entries: Uint8Array): { key: Uint8Array; value: Uint8Array }[] {
  if (entries.length % ENTRY_BYTES !== 0) throw new RangeError('a head map bucket is a whole number of 64-byte entries');
  const out: { key: Uint8Array; value: Uint8Array }[] = [];
  for (let o = 0; o < entries.length; o += ENTRY_BYTES) out.push({ key: entries.subarray(o, o + 32), value: entries.subarray(o + 32, o + ENTRY_BYTES) });
  return out;
}

function packEntries(kvs: readonly KV[], lo: number, hi: number): Uint8Array {
  const out = new Uint8Array((hi - lo) * ENTRY_BYTES);
  for (let i = lo; i < hi; i++) {
    out.set(kvs[i]!.key, (i - lo) * ENTRY_BYTES);
    out.set(kvs[i]!.value, (i - lo) * ENTRY_BYTES + 32);
  }
  return out;
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

/** Hash of the subtree at `depth` holding exactly kvs[lo, hi) (sorted, sharing bits < depth). */
function subtreeHash(kvs: readonly KV[], lo: number, hi: number, depth: number, sha256: Sha256): Uint8Array {
  if (hi === lo) return EMPTY_NODE;
  if (hi - lo === 1) return leafNodeHash(kvs[lo]!.key, kvs[lo]!.value, sha256);
  if (depth >= 256) throw new RangeError('duplicate head map key');
  const mid = splitAt(kvs, lo, hi, depth);
  return innerNodeHash(subtreeHash(kvs, lo, mid, depth + 1, sha256), subtreeHash(kvs, mid, hi, depth + 1, sha256), sha256);
}

/**
 * Stores kvs[lo, hi) (sorted; every key of the subtree at `depth` on their path, nothing stored below it): one bucket
 * when they fit, else an inner node over the two halves placed one level down. Emits the writes; returns the hash.
 */
function place(kvs: readonly KV[], lo: number, hi: number, depth: number, out: NodeWrite[], sha256: Sha256): Uint8Array {
  if (hi === lo) return EMPTY_NODE;
  const prefix = prefixOf(kvs[lo]!.key, depth);
  if (hi - lo <= BUCKET_SIZE) {
    const hash = subtreeHash(kvs, lo, hi, depth, sha256);
    out.push({ depth, prefix, node: { kind: 'bucket', entries: packEntries(kvs, lo, hi), hash } });
    return hash;
  }
  if (depth >= 256) throw new RangeError('duplicate head map key');
  const mid = splitAt(kvs, lo, hi, depth);
  const hash = innerNodeHash(place(kvs, lo, mid, depth + 1, out, sha256), place(kvs, mid, hi, depth + 1, out, sha256), sha256);
  out.push({ depth, prefix, node: { kind: 'inner', hash } });
  return hash;
}

/**
 * Builds a map from scratch (≈ 2 n hashes for n random keys). Returns the root and every stored node (about n/11
 * buckets and as many inner nodes), as writes for a store. Throws RangeError on keys or values that are not 32 bytes.
 */
export function buildHeadMap(entries: readonly { key: Uint8Array; value: Uint8Array }[], sha256: Sha256 = defaultSha256): { root: Uint8Array; writes: NodeWrite[] } {
  const kvs = sortUnique(entries);
  const writes: NodeWrite[] = [];
  const root = place(kvs, 0, kvs.length, 0, writes, sha256);
  return { root, writes };
}

/**
 * Inserts or updates a batch of keys in a stored map: reads, per depth, the inner nodes on the updated paths and
 * their children (one `get` per depth; for at most 64 keys, one `getMany` of their whole paths when the store has it)
 * down to the buckets, recomputes the path hashes, and `put`s every changed
 * node in one batch (a bucket that outgrows BUCKET_SIZE becomes an inner node over new buckets). New keys under an
 * empty or small subtree are built in memory in one pass, with no read below it.
 * Cost for b keys in a map of n: ≈ 2·b·log2(n/11) node reads and hashes, minus shared upper paths, plus ≈ 2·16 hashes
 * per touched bucket. Returns the new root. Throws RangeError on malformed keys/values; rethrows store errors
 * (nothing is put then).
 */
export async function updateHeadMap(
  store: HeadMapStore,
  updates: readonly { key: Uint8Array; value: Uint8Array }[],
  sha256: Sha256 = defaultSha256,
): Promise<{ root: Uint8Array; writes: NodeWrite[] }> {
  const kvs = sortUnique(updates);
  const cache = new Map<string, HeadMapNode | undefined>();
  const id = (d: number, p: string): string => `${d}:${p}`;
  // Phase 1: read top-down, one query per depth, while the nodes on the paths are inner (a few keys: their whole
  // paths first, in one getMany, and then only what lies deeper).
  type Task = { lo: number; hi: number; prefix: string };
  if (store.getMany && kvs.length > 0 && kvs.length <= PREFETCH_KEYS) {
    const refs = pathRefs(kvs.map((kv) => kv.key));
    const got = await store.getMany(refs);
    for (const r of refs) cache.set(id(r.depth, r.prefix), got.get(id(r.depth, r.prefix)));
  } else {
    const root = await store.get(0, ['']);
    cache.set(id(0, ''), root.get(''));
  }
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
      if (!cache.has(id(depth + 1, lp))) reads.push(lp);
      if (!cache.has(id(depth + 1, rp))) reads.push(rp);
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
    // A bucket or an empty subtree: merge its keys with the updates (which win) and place them anew.
    const set = node ? sortUnique([...bucketEntries(node.entries), ...kvs.slice(lo, hi)]) : kvs.slice(lo, hi);
    return place(set, 0, set.length, depth, writes, sha256);
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
 * value. Undefined when the key is not in the map. One read per inner node on the path, then the key's bucket is
 * hashed in memory. Rethrows store errors; throws RangeError on a malformed stored bucket.
 */
export async function proveHead(store: HeadMapStore, key: Uint8Array): Promise<{ siblings: string[]; value: Uint8Array } | undefined> {
  // With getMany the whole path is read at once; deeper nodes (a map far beyond a billion keys) one depth at a time.
  const known = store.getMany && key.length === 32 ? await store.getMany(pathRefs([key])) : undefined;
  const read = async (depth: number, prefixes: string[]): Promise<ReadonlyMap<string, HeadMapNode>> => {
    if (known && depth <= PREFETCH_DEPTHS) return new Map(prefixes.flatMap((p) => { const n = known.get(`${depth}:${p}`); return n ? [[p, n] as const] : []; }));
    return store.get(depth, prefixes);
  };
  let node = (await read(0, [''])).get('');
  const siblings: string[] = [];
  let prefix = '';
  let depth = 0;
  for (; node?.kind === 'inner'; depth++) {
    const bit = keyBit(key, depth);
    const mine = childPrefix(prefix, depth, bit);
    const other = childPrefix(prefix, depth, 1 - bit);
    const got = await read(depth + 1, [mine, other]);
    siblings.push(toHex(got.get(other)?.hash ?? EMPTY_NODE));
    node = got.get(mine);
    prefix = mine;
  }
  if (node?.kind !== 'bucket') return undefined;
  const kvs = sortUnique(bucketEntries(node.entries));
  const at = kvs.findIndex((e) => compareKeys(e.key, key) === 0);
  if (at < 0) return undefined;
  // Inside the bucket: descend until the key is alone in its subtree (its leaf), collecting the other halves.
  let lo = 0;
  let hi = kvs.length;
  for (; hi - lo > 1; depth++) {
    const mid = splitAt(kvs, lo, hi, depth);
    if (at < mid) {
      siblings.push(toHex(subtreeHash(kvs, mid, hi, depth + 1, defaultSha256)));
      hi = mid;
    } else {
      siblings.push(toHex(subtreeHash(kvs, lo, mid, depth + 1, defaultSha256)));
      lo = mid;
    }
  }
  return { siblings, value: kvs[at]!.value };
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
