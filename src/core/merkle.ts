/**
 * RFC 6962 / RFC 9162 Merkle tree over SHA-256: hashing, proof verification, and proof/append planning
 * against a store of complete subtrees.
 *
 * Storage model: node (level, index) covers leaves [index·2^level, (index+1)·2^level) and is stored once
 * that range is fully appended (level 0 = leaf hashes). Only complete subtrees are ever stored; hashes
 * of incomplete right-edge subtrees are recomputed from O(log n) stored nodes.
 *
 * All sizes and indices are JS numbers and must be safe non-negative integers (< 2^53); the bit
 * arithmetic below never uses 32-bit operators on them directly.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { type Result, ok, err } from './result.ts';

/** Size in bytes of every leaf hash, node hash and root (SHA-256). */
export const HASH_SIZE = 32;

// ---------------------------------------------------------------------------------------------
// Hashing
// ---------------------------------------------------------------------------------------------

/** SHA-256 of one byte string (a server may pass node's native one; the default, @noble/hashes, runs in browsers). */
export type Hasher = (data: Uint8Array) => Uint8Array;

/** RFC 6962 leaf hash SHA-256(0x00 || data); `data` is the raw leaf bytes (any length). Never fails. */
export function leafHash(data: Uint8Array, hash: Hasher = sha256): Uint8Array {
  const buf = new Uint8Array(1 + data.length);
  buf[0] = 0x00;
  buf.set(data, 1);
  return hash(buf);
}

/** RFC 6962 interior node hash SHA-256(0x01 || left || right); children of any length. Never fails. */
export function nodeHash(left: Uint8Array, right: Uint8Array, hash: Hasher = sha256): Uint8Array {
  const buf = new Uint8Array(1 + left.length + right.length);
  buf[0] = 0x01;
  buf.set(left, 1);
  buf.set(right, 1 + left.length);
  return hash(buf);
}

/** Root of the empty tree, SHA-256("") = e3b0c442…b855. Never fails. */
export function emptyRoot(): Uint8Array {
  return sha256(new Uint8Array(0));
}

/**
 * RFC 6962 MTH of a list of already-hashed leaves (split at the largest power of two < n), in O(n).
 * Throws RangeError if any leaf hash is not 32 bytes; returns `emptyRoot()` for an empty list.
 */
export function rootFromLeaves(leafHashes: readonly Uint8Array[]): Uint8Array {
  const stack: Uint8Array[] = [];
  const levels: number[] = [];
  for (let i = 0; i < leafHashes.length; i++) {
    let h = checkHash(leafHashes[i], `leaf hash ${i}`);
    let level = 0;
    while (levels.length > 0 && levels[levels.length - 1] === level) {
      h = nodeHash(stack.pop()!, h);
      levels.pop();
      level++;
    }
    stack.push(h);
    levels.push(level);
  }
  return foldRight(stack);
}

// ---------------------------------------------------------------------------------------------
// Safe-integer bit helpers (valid for 0 <= n < 2^53)
// ---------------------------------------------------------------------------------------------

const TWO32 = 2 ** 32;

const isCount = (n: number): boolean => Number.isSafeInteger(n) && n >= 0;

/** Number of bits needed to represent n (0 for 0). */
function bitLen(n: number): number {
  const hi = Math.floor(n / TWO32);
  return hi > 0 ? 64 - Math.clz32(hi) : 32 - Math.clz32(n >>> 0);
}

/** Number of trailing zero bits of n > 0. */
function trailingZeros(n: number): number {
  const lo = n % TWO32;
  if (lo !== 0) return 31 - Math.clz32((lo & -lo) >>> 0);
  return 32 + trailingZeros(Math.floor(n / TWO32));
}

function popcount32(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

function popcount(n: number): number {
  return popcount32(n % TWO32) + popcount32(Math.floor(n / TWO32));
}

function xor(a: number, b: number): number {
  const hi = (Math.floor(a / TWO32) ^ Math.floor(b / TWO32)) >>> 0;
  const lo = ((a % TWO32) ^ (b % TWO32)) >>> 0;
  return hi * TWO32 + lo;
}

/** floor(n / 2^k) */
const shr = (n: number, k: number): number => Math.floor(n / 2 ** k);

const isPow2 = (n: number): boolean => n > 0 && popcount(n) === 1;

// ---------------------------------------------------------------------------------------------
// Verification (RFC 9162 §2.1.3.2 and §2.1.4.2, transparency-dev/merkle edge policy)
// ---------------------------------------------------------------------------------------------

const hex = (b: Uint8Array): string => bytesToHex(b);

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

function hashSizeError(what: string, h: Uint8Array): string | undefined {
  return h.length === HASH_SIZE ? undefined : `${what} has ${h.length} bytes, expected ${HASH_SIZE}`;
}

function proofSizeError(kind: string, proof: readonly Uint8Array[]): string | undefined {
  for (let i = 0; i < proof.length; i++) {
    const e = hashSizeError(`${kind} proof hash ${i}`, proof[i]!);
    if (e) return e;
  }
  return undefined;
}

/** Number of hashes in the RFC 9162 inclusion proof for leaf `index` (< size) in a tree of `size`. */
export function inclusionProofLength(index: number, size: number): number {
  const inner = bitLen(xor(index, size - 1));
  return inner + popcount(shr(index, inner));
}

/** Number of hashes in the RFC 9162 consistency proof from size1 to size2 (0 < size1 < size2). */
export function consistencyProofLength(size1: number, size2: number): number {
  const shift = trailingZeros(size1);
  const inner = bitLen(xor(size1 - 1, size2 - 1));
  const border = popcount(shr(size1 - 1, inner));
  return (isPow2(size1) ? 0 : 1) + (inner - shift) + border;
}

/**
 * Root implied by an inclusion proof (RFC 9162 §2.1.3.2 steps 1–4), without comparing to a trusted root.
 * Errs on index >= treeSize, non-safe-integer arguments, wrong proof length, or any hash not 32 bytes.
 */
export function rootFromInclusionProof(
  leafHash: Uint8Array,
  index: number,
  treeSize: number,
  proof: readonly Uint8Array[],
): Result<Uint8Array> {
  if (!isCount(index)) return err(`leaf index ${index} is not a safe non-negative integer`);
  if (!isCount(treeSize)) return err(`tree size ${treeSize} is not a safe non-negative integer`);
  if (index >= treeSize) return err(`leaf index ${index} is beyond tree size ${treeSize}`);
  const e = hashSizeError('leaf hash', leafHash) ?? proofSizeError('inclusion', proof);
  if (e) return err(e);
  const want = inclusionProofLength(index, treeSize);
  if (proof.length !== want) return err(`inclusion proof has ${proof.length} hashes, expected ${want}`);

  let fn = index;
  let sn = treeSize - 1;
  let r = leafHash;
  for (const p of proof) {
    if (sn === 0) return err('inclusion proof is longer than the path to the root');
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn /= 2;
        sn = Math.floor(sn / 2);
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) return err('inclusion proof is shorter than the path to the root');
  return ok(r);
}

/**
 * Verifies an RFC 9162 inclusion proof of `leafHash` (already hashed, 32 bytes) at `index` in a tree of
 * `treeSize` with root `root`. Errs on index >= treeSize, wrong proof length, bad hash size, root mismatch.
 */
export function verifyInclusion(
  leafHash: Uint8Array,
  index: number,
  treeSize: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): Result<true> {
  const re = hashSizeError('root hash', root);
  if (re) return err(re);
  const calc = rootFromInclusionProof(leafHash, index, treeSize, proof);
  if (!calc.ok) return calc;
  if (!bytesEqual(calc.value, root)) {
    return err(`calculated root ${hex(calc.value)} does not match expected root ${hex(root)} for tree size ${treeSize}`);
  }
  return ok(true);
}

/**
 * Verifies an RFC 9162 consistency proof between trees of size1 and size2 with roots root1/root2.
 * Errs if size1 = 0 (meaningless), size1 > size2, size1 = size2 with a non-empty proof or unequal roots,
 * wrong proof length, any hash not 32 bytes, or either computed root mismatching.
 */
export function verifyConsistency(
  size1: number,
  size2: number,
  proof: readonly Uint8Array[],
  root1: Uint8Array,
  root2: Uint8Array,
): Result<true> {
  if (!isCount(size1)) return err(`tree size1 ${size1} is not a safe non-negative integer`);
  if (!isCount(size2)) return err(`tree size2 ${size2} is not a safe non-negative integer`);
  const se =
    hashSizeError('root1', root1) ?? hashSizeError('root2', root2) ?? proofSizeError('consistency', proof);
  if (se) return err(se);
  if (size1 > size2) return err(`tree size1 ${size1} is greater than size2 ${size2}`);
  if (size1 === 0) return err('consistency proof from an empty tree (size1 = 0) is meaningless');
  if (size1 === size2) {
    if (proof.length !== 0) return err(`size1 = size2 = ${size1}, but consistency proof has ${proof.length} hashes, expected 0`);
    if (!bytesEqual(root1, root2)) {
      return err(`size1 = size2 = ${size1}, but root1 ${hex(root1)} does not match root2 ${hex(root2)}`);
    }
    return ok(true);
  }
  const want = consistencyProofLength(size1, size2);
  if (proof.length !== want) return err(`consistency proof has ${proof.length} hashes, expected ${want}`);

  // RFC 9162 §2.1.4.2
  const path = isPow2(size1) ? [root1, ...proof] : [...proof];
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (fn % 2 === 1) {
    fn = (fn - 1) / 2;
    sn = Math.floor(sn / 2);
  }
  let fr = path[0]!;
  let sr = path[0]!;
  for (let i = 1; i < path.length; i++) {
    const c = path[i]!;
    if (sn === 0) return err('consistency proof is longer than the path to the root');
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while (fn % 2 === 0 && fn !== 0) {
        fn /= 2;
        sn = Math.floor(sn / 2);
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) return err('consistency proof is shorter than the path to the root');
  if (!bytesEqual(fr, root1)) {
    return err(`calculated root ${hex(fr)} does not match expected root ${hex(root1)} for tree size ${size1}`);
  }
  if (!bytesEqual(sr, root2)) {
    return err(`calculated root ${hex(sr)} does not match expected root ${hex(root2)} for tree size ${size2}`);
  }
  return ok(true);
}

// ---------------------------------------------------------------------------------------------
// Stored complete subtrees: ids, planning, building
// ---------------------------------------------------------------------------------------------

/** A stored complete subtree: covers leaves [index·2^level, (index+1)·2^level). */
export type NodeId = { readonly level: number; readonly index: number };

/** Canonical map key of a node, `"<level>:<index>"` (e.g. "3:0"). Never fails. */
export function nodeKey(id: NodeId): string {
  return `${id.level}:${id.index}`;
}

/**
 * Where stored node hashes come from: a Map keyed by `nodeKey`, or a lookup function.
 * A missing node (undefined) is an invariant violation and makes the consumer throw.
 */
export type NodeSource = ReadonlyMap<string, Uint8Array> | ((id: NodeId) => Uint8Array | undefined);

/**
 * Proof recipe over stored nodes (like transparency-dev/merkle `proof.Nodes`). Read `ids` (all stored,
 * complete subtrees), then fold `ids[rehash.begin..rehash.end)` into one ephemeral hash:
 * h = hash(ids[begin]); for i in begin+1..end-1: h = nodeHash(hash(ids[i]), h). `buildProof` does this.
 */
export type ProofPlan = {
  /** Stored nodes to read, in proof order; ids.length is the number of node reads. */
  readonly ids: readonly NodeId[];
  /** Right-border run (listed right-to-left, ≥ 2 nodes) to hash into one ephemeral node; null if none. */
  readonly rehash: { readonly begin: number; readonly end: number } | null;
};

function getNode(source: NodeSource, id: NodeId): Uint8Array {
  const h = typeof source === 'function' ? source(id) : source.get(nodeKey(id));
  if (h === undefined) throw new Error(`stored Merkle node ${nodeKey(id)} is missing`);
  if (h.length !== HASH_SIZE) throw new Error(`stored Merkle node ${nodeKey(id)} has ${h.length} bytes, expected ${HASH_SIZE}`);
  return h;
}

function checkHash(h: Uint8Array | undefined, what: string): Uint8Array {
  if (h === undefined || h.length !== HASH_SIZE) {
    throw new RangeError(`${what} has ${h?.length ?? 0} bytes, expected ${HASH_SIZE}`);
  }
  return h;
}

/** Hash of a right-to-left list of subtree hashes: ..., nodeHash(h[n-2], h[n-1]). */
function foldRight(hashes: readonly Uint8Array[], hash: Hasher = sha256): Uint8Array {
  if (hashes.length === 0) return emptyRoot();
  let acc = hashes[hashes.length - 1]!;
  for (let i = hashes.length - 2; i >= 0; i--) acc = nodeHash(hashes[i]!, acc, hash);
  return acc;
}

/** Complete subtrees exactly covering [begin, end), left to right, largest possible first. */
function rangeNodes(begin: number, end: number, out: NodeId[] = []): NodeId[] {
  while (begin < end) {
    const fit = bitLen(end - begin) - 1;
    const level = begin === 0 ? fit : Math.min(trailingZeros(begin), fit);
    out.push({ level, index: begin / 2 ** level });
    begin += 2 ** level;
  }
  return out;
}

function assertCount(n: number, what: string): void {
  if (!isCount(n)) throw new RangeError(`${what} ${n} is not a safe non-negative integer`);
}

/**
 * Stored nodes whose hashes fold (right to left) into the root of a tree of `size`: one per set bit
 * of `size`, largest first (≤ log2(size)+1 nodes; none for size 0). Throws RangeError on a bad size.
 */
export function rootNodes(size: number): NodeId[] {
  assertCount(size, 'tree size');
  return rangeNodes(0, size);
}

/**
 * Complete subtrees on the right edge of a tree of `size` leaves: exactly the nodes `appendLeaves`
 * reads to extend it (same set as `rootNodes`). Throws RangeError on a bad size.
 */
export function frontier(size: number): NodeId[] {
  return rootNodes(size);
}

/** Root of a tree of `size` from stored complete subtrees, reading exactly `rootNodes(size)`. Throws if a node is missing. */
export function rootFromNodes(size: number, source: NodeSource): Uint8Array {
  return foldRight(rootNodes(size).map((id) => getNode(source, id)));
}

/**
 * Plan proving node (level, index) is in the tree of `size` (node must be complete in it): the node
 * itself, siblings up to the fork, the right border (rehashed), then left subtrees.
 */
function planNodes(index: number, level: number, size: number): { ids: NodeId[]; rehash: ProofPlan['rehash'] } {
  // Fork: lowest ancestor of (level, index) whose sibling is the (possibly incomplete) right border.
  const inner = bitLen(xor(index, shr(size, level))) - 1;
  const forkLevel = level + inner;
  const begin = shr(index, inner) * 2 ** forkLevel;
  const end = begin + 2 ** forkLevel;

  const ids: NodeId[] = [{ level, index }];
  let node: NodeId = { level, index };
  while (node.level < forkLevel) {
    ids.push({ level: node.level, index: node.index % 2 === 0 ? node.index + 1 : node.index - 1 });
    node = { level: node.level + 1, index: Math.floor(node.index / 2) };
  }
  const right = rangeNodes(end, size).reverse();
  const rb = ids.length;
  ids.push(...right);
  const rehash = right.length > 1 ? { begin: rb, end: ids.length } : null;
  ids.push(...rangeNodes(0, begin).reverse());
  return { ids, rehash };
}

function skipFirst(p: { ids: NodeId[]; rehash: ProofPlan['rehash'] }): ProofPlan {
  return {
    ids: p.ids.slice(1),
    rehash: p.rehash && { begin: p.rehash.begin - 1, end: p.rehash.end - 1 },
  };
}

/**
 * Stored nodes needed for the inclusion proof of leaf `index` in a tree of `size`
 * (≤ 2·log2(size)+1 reads). Throws RangeError unless 0 <= index < size (safe integers).
 */
export function inclusionProofNodes(index: number, size: number): ProofPlan {
  assertCount(index, 'leaf index');
  assertCount(size, 'tree size');
  if (index >= size) throw new RangeError(`leaf index ${index} is beyond tree size ${size}`);
  return skipFirst(planNodes(index, 0, size));
}

/**
 * Stored nodes needed for the consistency proof from size1 to size2 (≤ 2·log2(size2)+2 reads); an empty
 * plan when size1 = size2. Throws RangeError if size1 = 0, size1 > size2, or either is not a safe integer.
 */
export function consistencyProofNodes(size1: number, size2: number): ProofPlan {
  assertCount(size1, 'tree size1');
  assertCount(size2, 'tree size2');
  if (size1 > size2) throw new RangeError(`tree size1 ${size1} is greater than size2 ${size2}`);
  if (size1 === 0) throw new RangeError('consistency proof from an empty tree (size1 = 0) is meaningless');
  if (size1 === size2) return { ids: [], rehash: null };
  // Last complete subtree of the old tree; its inclusion path in the new tree is the proof.
  const level = trailingZeros(size1);
  const index = shr(size1 - 1, level);
  const p = planNodes(index, level, size2);
  // When size1 is a power of two that node is root1 itself, which the verifier already has.
  return index === 0 ? skipFirst(p) : { ids: p.ids, rehash: p.rehash };
}

/**
 * Turns a plan into proof hashes by reading each planned node from `hashes` and folding the rehash run.
 * Throws Error if a planned node is missing or not 32 bytes (the store violates its invariant).
 */
export function buildProof(plan: ProofPlan, hashes: NodeSource): Uint8Array[] {
  const h = plan.ids.map((id) => getNode(hashes, id));
  if (!plan.rehash) return h;
  const { begin, end } = plan.rehash;
  let acc = h[begin]!;
  for (let i = begin + 1; i < end; i++) acc = nodeHash(h[i]!, acc);
  return [...h.slice(0, begin), acc, ...h.slice(end)];
}

/** A stored node together with its hash. */
export type StoredNode = { id: NodeId; hash: Uint8Array };

/**
 * Appends already-hashed leaves to a tree of `oldSize`, reading only `frontier(oldSize)` from
 * `frontierHashes`. Returns every newly completed node (level 0 leaves included), the new root and size.
 * Throws RangeError if a new leaf hash is not 32 bytes or oldSize is bad; Error if a frontier node is missing.
 * `hash` computes the node hashes (default @noble/hashes).
 */
export function appendLeaves(
  oldSize: number,
  frontierHashes: NodeSource,
  newLeafHashes: readonly Uint8Array[],
  hash: Hasher = sha256,
): { nodes: StoredNode[]; root: Uint8Array; size: number } {
  const stack: StoredNode[] = frontier(oldSize).map((id) => ({ id, hash: getNode(frontierHashes, id) }));
  if (!Number.isSafeInteger(oldSize + newLeafHashes.length)) {
    throw new RangeError(`tree size ${oldSize} + ${newLeafHashes.length} exceeds the safe integer range`);
  }
  const nodes: StoredNode[] = [];
  let size = oldSize;
  for (let i = 0; i < newLeafHashes.length; i++) {
    let cur: StoredNode = { id: { level: 0, index: size }, hash: checkHash(newLeafHashes[i], `new leaf hash ${i}`) };
    nodes.push(cur);
    while (stack.length > 0 && stack[stack.length - 1]!.id.level === cur.id.level) {
      const left = stack.pop()!;
      cur = { id: { level: cur.id.level + 1, index: left.id.index / 2 }, hash: nodeHash(left.hash, cur.hash, hash) };
      nodes.push(cur);
    }
    stack.push(cur);
    size++;
  }
  return { nodes, root: foldRight(stack.map((n) => n.hash), hash), size };
}
