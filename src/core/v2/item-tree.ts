/**
 * Items tree of a v2 event (docs/ledger-format.md §5): a binary Merkle tree of fixed depth 17 over the salted
 * entries of the items the event covers. The entries are spread over the 2^17 positions and empty subtrees are
 * pseudo-random pads derived from a per-event secret, so neither a proof's length, its position nor its siblings
 * say how many items the event covers.
 */
import { fromHex, toHex, u32be } from '../bytes.ts';
import { DOMAIN, HEX16, HEX32, type Sha256, cat, defaultSha256, sha256Of } from './hash.ts';

/** Depth of every items tree: 2^17 = 131,072 ≥ 100,000, the most items one event may cover. */
export const ITEM_TREE_DEPTH = 17;
export const ITEM_TREE_WIDTH = 2 ** ITEM_TREE_DEPTH;

/** One item's opening of its entry: `prev` = previous link hash (hex) or null at seq 0, `salt` = 16 bytes hex. */
export interface ItemEntryOpening {
  prev: string | null;
  salt: string;
}

/** An item's membership proof in an items tree. */
export interface ItemProof {
  position: number;
  /** 17 hex hashes, from the leaf's sibling (level 0) up to the root's children (level 16). */
  siblings: string[];
}

/**
 * entry = SHA-256("provenant:item:v2\n" || JCS({prev, salt, seq, sgtin})). Throws RangeError on a salt that is not
 * 32 lowercase hex characters, a prev that is neither null nor 64 lowercase hex characters, or a bad seq.
 */
export function itemEntry(sgtin: string, seq: number, opening: ItemEntryOpening, sha256: Sha256 = defaultSha256): Uint8Array {
  if (!HEX16.test(opening.salt)) throw new RangeError('item entry salt is not 32 lowercase hex characters');
  if (opening.prev !== null && !HEX32.test(opening.prev)) throw new RangeError('item entry prev is not null or 64 lowercase hex characters');
  if (!Number.isSafeInteger(seq) || seq < 0) throw new RangeError(`item entry seq ${seq} is not a non-negative integer`);
  // JCS of this fixed shape, written out (keys in code-unit order; JSON.stringify escapes strings exactly as JCS):
  // equal to canonicalize({prev, salt, seq, sgtin}), which the tests assert, at a fraction of the cost.
  const json = `{"prev":${opening.prev === null ? 'null' : `"${opening.prev}"`},"salt":"${opening.salt}","seq":${seq},"sgtin":${JSON.stringify(sgtin)}}`;
  return sha256Of(sha256, DOMAIN.item, json);
}

/** The items root of an event that covers no items (ERASE): SHA-256("provenant:no-items:v2\n"). */
export function noItemsRoot(sha256: Sha256 = defaultSha256): Uint8Array {
  return sha256(DOMAIN.noItems);
}

/** Pad of the empty subtree at (level, index): SHA-256("provenant:pad:v2\n" || padKey || u8(level) || u32be(index)). */
export function padHash(padKey: Uint8Array, level: number, index: number, sha256: Sha256 = defaultSha256): Uint8Array {
  return sha256(cat(DOMAIN.pad, padKey, new Uint8Array([level]), u32be(index)));
}

/** Hashes with reused input buffers (the builder's hot path); results are fresh arrays from `sha256`. */
function hashers(padKey: Uint8Array, sha256: Sha256) {
  const node = new Uint8Array(65);
  node[0] = 0x01;
  const leaf = new Uint8Array(33);
  const d = DOMAIN.pad.length;
  const pad = new Uint8Array(d + 32 + 1 + 4);
  pad.set(DOMAIN.pad, 0);
  pad.set(padKey, d);
  const view = new DataView(pad.buffer);
  return {
    leaf(entry: Uint8Array): Uint8Array {
      leaf.set(entry, 1);
      return sha256(leaf);
    },
    node(l: Uint8Array, r: Uint8Array): Uint8Array {
      node.set(l, 1);
      node.set(r, 33);
      return sha256(node);
    },
    pad(level: number, index: number): Uint8Array {
      pad[d + 32] = level;
      view.setUint32(d + 33, index, false);
      return sha256(pad);
    },
  };
}

const LEAF = new Uint8Array([0x00]);
const NODE = new Uint8Array([0x01]);

/** Spread position of the entry of rank r (0-based, in entry-hash order) among n: floor(r · 2^17 / n). Distinct for n ≤ 2^17. */
export const positionOf = (rank: number, n: number): number => Math.floor((rank * ITEM_TREE_WIDTH) / n);

/**
 * Secret rotation of an event's positions: the first 4 bytes (big-endian) of
 * SHA-256("provenant:pad:v2\n" || padKey || 0xFF), mod 2^17. Entry of rank r sits at (positionOf(r, n) + rotation) mod 2^17,
 * so every position is uniform whatever n (without it, rank 0 always sits at position 0, hinting at a small n).
 * Only the builder needs it; verifiers take the position from the proof.
 */
export function rotationOf(padKey: Uint8Array, sha256: Sha256 = defaultSha256): number {
  const h = sha256(cat(DOMAIN.pad, padKey, new Uint8Array([0xff])));
  return (((h[0]! << 24) | (h[1]! << 16) | (h[2]! << 8) | h[3]!) >>> 0) % ITEM_TREE_WIDTH;
}

/** A built items tree: its root and every entry's proof. */
export interface ItemTree {
  root: Uint8Array;
  /** Proof of the entry given at index `i` of the builder's input (any order). */
  proof(i: number): ItemProof;
  /** Position of the entry given at index `i`. */
  position(i: number): number;
  /**
   * Every real (non-pad) node below the root, level 0..16, for a server to store per event (≈ 2n nodes) so that any
   * item's proof is 17 lookups (`itemProofFromNodes`) instead of a rebuild. From `fromLevel` up only, when given.
   */
  nodes(fromLevel?: number): Iterable<{ level: number; index: number; hash: Uint8Array }>;
}

/**
 * Builds the items tree of n entries (1 ≤ n ≤ 2^17) with the event's secret 32-byte padKey. Hashes only the real
 * paths and the pads beside them (≈ 2n + pads hashes). Throws RangeError on n out of range, a duplicate entry,
 * or a padKey that is not 32 bytes.
 */
export function buildItemTree(entries: readonly Uint8Array[], padKey: Uint8Array, sha256: Sha256 = defaultSha256): ItemTree {
  const n = entries.length;
  if (n < 1 || n > ITEM_TREE_WIDTH) throw new RangeError(`an items tree holds 1..${ITEM_TREE_WIDTH} entries, got ${n}`);
  if (padKey.length !== 32) throw new RangeError(`padKey has ${padKey.length} bytes, expected 32`);
  const H = hashers(padKey, sha256);
  if (n === 1) return singleEntryTree(entries[0]!, padKey, H, sha256);
  // Sort by entry bytes (= hex order): first by the leading 32 bits, then bytewise. No hex strings on the hot path.
  const head32 = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const e = entries[i]!;
    if (e.length !== 32) throw new RangeError(`item entry ${i} has ${e.length} bytes, expected 32`);
    head32[i] = ((e[0]! << 24) | (e[1]! << 16) | (e[2]! << 8) | e[3]!) >>> 0;
  }
  const cmp = (a: number, b: number): number => {
    if (head32[a] !== head32[b]) return head32[a]! < head32[b]! ? -1 : 1;
    const x = entries[a]!;
    const y = entries[b]!;
    for (let k = 4; k < 32; k++) if (x[k] !== y[k]) return x[k]! < y[k]! ? -1 : 1;
    return 0;
  };
  const order = Array.from({ length: n }, (_, i) => i).sort(cmp);
  const posOfInput = new Int32Array(n);
  // Level 0: leaves at their spread, rotated positions, in increasing position order. Ranks r0..n-1 wrap to the
  // start of the tree; r0 is the first rank whose spread position plus the offset reaches the width.
  const offset = rotationOf(padKey, sha256);
  let r0 = 0;
  while (r0 < n && positionOf(r0, n) + offset < ITEM_TREE_WIDTH) r0++;
  let idx = new Int32Array(n);
  let hashes: Uint8Array[] = new Array(n);
  for (let k = 0; k < n; k++) {
    const r = (r0 + k) % n;
    const i = order[r]!;
    if (r > 0 && cmp(order[r - 1]!, i) === 0) throw new RangeError('duplicate item entry');
    const p = (positionOf(r, n) + offset) % ITEM_TREE_WIDTH;
    posOfInput[i] = p;
    idx[k] = p;
    hashes[k] = H.leaf(entries[i]!);
  }
  const levels: { idx: Int32Array; hashes: Uint8Array[] }[] = [];
  const pad = (level: number, index: number): Uint8Array => H.pad(level, index);
  for (let level = 0; level < ITEM_TREE_DEPTH; level++) {
    levels.push({ idx, hashes });
    const nIdx = new Int32Array(idx.length);
    const nHashes: Uint8Array[] = [];
    let m = 0;
    for (let k = 0; k < idx.length; k++) {
      const i = idx[k]!;
      let h: Uint8Array;
      if ((i & 1) === 0 && k + 1 < idx.length && idx[k + 1] === i + 1) {
        h = H.node(hashes[k]!, hashes[k + 1]!);
        k++;
      } else if ((i & 1) === 0) {
        h = H.node(hashes[k]!, pad(level, i + 1));
      } else {
        h = H.node(pad(level, i - 1), hashes[k]!);
      }
      nIdx[m++] = i >> 1;
      nHashes.push(h);
    }
    idx = nIdx.subarray(0, m);
    hashes = nHashes;
  }
  const root = hashes[0]!;
  const find = (level: number, index: number): Uint8Array => {
    const l = levels[level]!;
    let lo = 0;
    let hi = l.idx.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const v = l.idx[mid]!;
      if (v === index) return l.hashes[mid]!;
      if (v < index) lo = mid + 1;
      else hi = mid - 1;
    }
    return pad(level, index);
  };
  return {
    root,
    position(i: number): number {
      const p = posOfInput[i];
      if (p === undefined || i < 0 || i >= n) throw new RangeError(`no entry ${i} in this items tree`);
      return p;
    },
    *nodes(fromLevel = 0) {
      for (let level = Math.max(0, fromLevel); level < ITEM_TREE_DEPTH; level++) {
        const l = levels[level]!;
        for (let k = 0; k < l.idx.length; k++) yield { level, index: l.idx[k]!, hash: l.hashes[k]! };
      }
    },
    proof(i: number): ItemProof {
      const position = posOfInput[i];
      if (position === undefined || i < 0 || i >= n) throw new RangeError(`no entry ${i} in this items tree`);
      const siblings: string[] = [];
      for (let level = 0; level < ITEM_TREE_DEPTH; level++) siblings.push(toHex(find(level, (position >> level) ^ 1)));
      return { position, siblings };
    },
  };
}

/**
 * The tree of one entry (most events cover one item; an audit rebuilds every one): the same tree as the general
 * builder gives for n = 1 — the entry at the rotation offset, every sibling a pad — without its per-level bookkeeping.
 */
function singleEntryTree(entry: Uint8Array, padKey: Uint8Array, H: ReturnType<typeof hashers>, sha256: Sha256): ItemTree {
  if (entry.length !== 32) throw new RangeError(`item entry 0 has ${entry.length} bytes, expected 32`);
  const p = (positionOf(0, 1) + rotationOf(padKey, sha256)) % ITEM_TREE_WIDTH;
  // path[l]: the real node at level l (index p >> l); path[17] is the root.
  const path: Uint8Array[] = [H.leaf(entry)];
  for (let level = 0; level < ITEM_TREE_DEPTH; level++) {
    const i = p >> level;
    const h = path[level]!;
    path.push((i & 1) === 0 ? H.node(h, H.pad(level, i + 1)) : H.node(H.pad(level, i - 1), h));
  }
  const check = (i: number) => {
    if (i !== 0) throw new RangeError(`no entry ${i} in this items tree`);
  };
  return {
    root: path[ITEM_TREE_DEPTH]!,
    position(i: number): number {
      check(i);
      return p;
    },
    *nodes(fromLevel = 0) {
      for (let level = fromLevel; level < ITEM_TREE_DEPTH; level++) yield { level, index: p >> level, hash: path[level]! };
    },
    proof(i: number): ItemProof {
      check(i);
      const siblings: string[] = [];
      for (let level = 0; level < ITEM_TREE_DEPTH; level++) siblings.push(toHex(H.pad(level, (p >> level) ^ 1)));
      return { position: p, siblings };
    },
  };
}

/**
 * Folds an entry and its proof into the root it implies, or undefined if the proof is malformed (position not an
 * integer in [0, 2^17), not exactly 17 siblings of 64 lowercase hex characters). Never throws.
 */
export function foldItemProof(entry: Uint8Array, proof: { position: unknown; siblings: unknown }, sha256: Sha256 = defaultSha256): Uint8Array | undefined {
  const { position, siblings } = proof;
  if (typeof position !== 'number' || !Number.isInteger(position) || position < 0 || position >= ITEM_TREE_WIDTH) return undefined;
  if (!Array.isArray(siblings) || siblings.length !== ITEM_TREE_DEPTH) return undefined;
  let h = sha256(cat(LEAF, entry));
  for (let level = 0; level < ITEM_TREE_DEPTH; level++) {
    const s = siblings[level];
    if (typeof s !== 'string' || !HEX32.test(s)) return undefined;
    const sib = fromHex(s)!;
    h = ((position >> level) & 1) === 1 ? sha256(cat(NODE, sib, h)) : sha256(cat(NODE, h, sib));
  }
  return h;
}

/**
 * An item's proof from stored real nodes: the sibling at each level is the stored node, or the pad when none is
 * stored (an empty subtree). `get` returns undefined for an empty subtree. Throws RangeError on a bad position or
 * padKey, or a stored node that is not 32 bytes.
 */
export function itemProofFromNodes(
  position: number,
  get: (level: number, index: number) => Uint8Array | undefined,
  padKey: Uint8Array,
  sha256: Sha256 = defaultSha256,
): ItemProof {
  if (!Number.isInteger(position) || position < 0 || position >= ITEM_TREE_WIDTH) throw new RangeError(`position ${position} is outside the items tree`);
  if (padKey.length !== 32) throw new RangeError(`padKey has ${padKey.length} bytes, expected 32`);
  const siblings: string[] = [];
  for (let level = 0; level < ITEM_TREE_DEPTH; level++) {
    const index = (position >> level) ^ 1;
    const h = get(level, index) ?? padHash(padKey, level, index, sha256);
    if (h.length !== 32) throw new RangeError(`stored items-tree node ${level}:${index} has ${h.length} bytes`);
    siblings.push(toHex(h));
  }
  return { position, siblings };
}
