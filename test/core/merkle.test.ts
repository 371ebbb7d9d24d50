import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import {
  appendLeaves,
  buildProof,
  consistencyProofNodes,
  emptyRoot,
  frontier,
  inclusionProofLength,
  inclusionProofNodes,
  leafHash,
  nodeHash,
  nodeKey,
  rootFromInclusionProof,
  rootFromLeaves,
  rootFromNodes,
  rootNodes,
  verifyConsistency,
  verifyInclusion,
  type NodeId,
} from '../../src/core/merkle.ts';

const VECTORS = fileURLToPath(new URL('../vectors/ledger/', import.meta.url));
const rfc = JSON.parse(readFileSync(join(VECTORS, 'rfc6962-vectors.json'), 'utf8'));

const h = (s: string): Uint8Array => hexToBytes(s);
const hx = (b: Uint8Array): string => bytesToHex(b);
const b64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'));
const flipBit = (b: Uint8Array, bit = 0): Uint8Array => {
  const c = b.slice();
  c[bit >> 3]! ^= 1 << (bit & 7);
  return c;
};

const vectorLeafHashes: Uint8Array[] = rfc.leaves.map((l: { hex: string }) => leafHash(h(l.hex)));

function storeOf(nodes: { id: NodeId; hash: Uint8Array }[], into = new Map<string, Uint8Array>()): Map<string, Uint8Array> {
  for (const n of nodes) into.set(nodeKey(n.id), n.hash);
  return into;
}

describe('RFC 6962 hasher', () => {
  it('matches every hasher known answer', () => {
    expect(rfc.hasher_known_answers).toHaveLength(6);
    for (const k of rfc.hasher_known_answers) {
      let got: Uint8Array;
      if (k.fn === "SHA-256('')") got = emptyRoot();
      else if (k.fn.startsWith('HashLeaf')) got = leafHash(h(k.input_hex));
      else if (k.fn === 'HashChildren') got = nodeHash(h(k.left_hex), h(k.right_hex));
      else throw new Error(`unknown fn ${k.fn}`);
      expect(hx(got), k.desc).toBe(k.want);
    }
    expect(hx(leafHash(utf8ToBytes('L123456')))).toBe('395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56');
  });

  it('hashes the 8 reference leaves', () => {
    expect(rfc.leaves).toHaveLength(8);
    rfc.leaves.forEach((l: { index: number; leaf_hash: string }, i: number) => {
      expect(l.index).toBe(i);
      expect(hx(vectorLeafHashes[i]!)).toBe(l.leaf_hash);
    });
  });

  it('computes the empty root and roots for sizes 1..8', () => {
    expect(hx(emptyRoot())).toBe(rfc.empty_tree_root);
    expect(hx(rootFromLeaves([]))).toBe(rfc.empty_tree_root);
    expect(hx(rootFromNodes(0, new Map()))).toBe(rfc.empty_tree_root);
    const sizes = Object.keys(rfc.roots_by_tree_size);
    expect(sizes).toHaveLength(8);
    for (const s of sizes) {
      const n = Number(s);
      expect(hx(rootFromLeaves(vectorLeafHashes.slice(0, n))), `size ${n}`).toBe(rfc.roots_by_tree_size[s]);
      const built = appendLeaves(0, new Map(), vectorLeafHashes.slice(0, n));
      expect(hx(built.root)).toBe(rfc.roots_by_tree_size[s]);
      expect(hx(rootFromNodes(n, storeOf(built.nodes)))).toBe(rfc.roots_by_tree_size[s]);
    }
  });

  it('level counts match the proof depth of leaf 0', () => {
    for (const [s, levels] of Object.entries(rfc.level_counts_by_tree_size)) {
      const n = Number(s);
      const store = storeOf(appendLeaves(0, new Map(), vectorLeafHashes.slice(0, n)).nodes);
      expect(buildProof(inclusionProofNodes(0, n), store).length + 1, `size ${n}`).toBe(levels);
      expect(inclusionProofLength(0, n) + 1).toBe(levels);
    }
  });

  it('stores every perfect subtree hash of the 8-leaf tree', () => {
    const { nodes } = appendLeaves(0, new Map(), vectorLeafHashes);
    const store = storeOf(nodes);
    let count = 0;
    for (const [level, hashes] of Object.entries(rfc.perfect_subtree_hashes.levels as Record<string, string[]>)) {
      hashes.forEach((want, index) => {
        expect(hx(store.get(nodeKey({ level: Number(level), index }))!)).toBe(want);
        count++;
      });
    }
    expect(count).toBe(15);
    expect(store.size).toBe(15);
  });

  it('rejects non-32-byte leaf hashes when building', () => {
    expect(() => rootFromLeaves([new Uint8Array(31)])).toThrow(RangeError);
    expect(() => appendLeaves(0, new Map(), [new Uint8Array(33)])).toThrow(RangeError);
  });
});

describe('RFC 6962 vector proofs', () => {
  const store8 = storeOf(appendLeaves(0, new Map(), vectorLeafHashes).nodes);

  it('inclusion proofs: valid ones verify and are regenerated from stored nodes; invalid fail', () => {
    expect(rfc.inclusion_proofs).toHaveLength(6);
    for (const v of rfc.inclusion_proofs) {
      if (v.expected === 'invalid') {
        expect(v.tree_size).toBe(0);
        const r = verifyInclusion(emptyRoot(), 0, 0, [], emptyRoot());
        expect(r).toEqual({ ok: false, error: 'leaf index 0 is beyond tree size 0' });
        expect(() => inclusionProofNodes(0, 0)).toThrow(RangeError);
        continue;
      }
      const proof = v.proof.map(h);
      expect(hx(leafHash(h(v.leaf_hex)))).toBe(v.leaf_hash);
      expect(verifyInclusion(h(v.leaf_hash), v.leaf_index, v.tree_size, proof, h(v.root))).toEqual({ ok: true, value: true });
      expect(buildProof(inclusionProofNodes(v.leaf_index, v.tree_size), store8).map(hx)).toEqual(v.proof);
      proof.forEach((_: Uint8Array, i: number) => {
        const bad = proof.slice();
        bad[i] = flipBit(bad[i]!, 5);
        const r = verifyInclusion(h(v.leaf_hash), v.leaf_index, v.tree_size, bad, h(v.root));
        expect(r.ok).toBe(false);
        if (!r.ok) expect(r.error).toMatch(/^calculated root [0-9a-f]{64} does not match expected root [0-9a-f]{64}/);
      });
    }
  });

  it('consistency proofs: valid ones verify and are regenerated from stored nodes', () => {
    expect(rfc.consistency_proofs).toHaveLength(5);
    for (const v of rfc.consistency_proofs) {
      expect(v.expected).toBe('valid');
      const proof = v.proof.map(h);
      expect(verifyConsistency(v.size1, v.size2, proof, h(v.root1), h(v.root2)), `${v.size1}->${v.size2}`).toEqual({ ok: true, value: true });
      expect(buildProof(consistencyProofNodes(v.size1, v.size2), store8).map(hx)).toEqual(v.proof);
      expect(hx(rootFromNodes(v.size1, store8))).toBe(v.root1);
      expect(hx(rootFromNodes(v.size2, store8))).toBe(v.root2);
    }
  });

  it('consistency negatives all fail', () => {
    expect(rfc.consistency_negative).toHaveLength(6);
    const errors = rfc.consistency_negative.map((v: { size1: number; size2: number; proof: string[]; root1: string; root2: string }) => {
      const r = verifyConsistency(v.size1, v.size2, v.proof.map(h), h(v.root1), h(v.root2));
      expect(r.ok).toBe(false);
      return r.ok ? '' : r.error;
    });
    expect(errors[0]).toBe('consistency proof has 2 hashes, expected 3');
    expect(errors[1]).toMatch(/^calculated root 5dc9.* does not match expected root 5dc9.*4329 for tree size 8$/);
    expect(errors[2]).toMatch(/^calculated root 76e6.* does not match expected root 76e6.*87ee for tree size 6$/);
    expect(errors[3]).toMatch(/^calculated root 76e6.* does not match expected root/);
    expect(errors[4]).toMatch(/^size1 = size2 = 3, but root1 .* does not match root2/);
    expect(errors[5]).toBe('tree size1 5 is greater than size2 2');
  });

  it('edge-policy disagreements follow transparency-dev/merkle (both rejected)', () => {
    expect(rfc.consistency_edge_policy_disagreements).toHaveLength(2);
    const [empty, equal] = rfc.consistency_edge_policy_disagreements;
    expect(verifyConsistency(empty.size1, empty.size2, empty.proof.map(h), h(empty.root1), h(empty.root2))).toEqual({
      ok: false,
      error: 'consistency proof from an empty tree (size1 = 0) is meaningless',
    });
    expect(verifyConsistency(0, 1, [], h(empty.root1), h(empty.root2)).ok).toBe(false);
    expect(() => consistencyProofNodes(0, 1)).toThrow(RangeError);
    expect(verifyConsistency(equal.size1, equal.size2, equal.proof.map(h), h(equal.root1), h(equal.root2))).toEqual({
      ok: false,
      error: 'size1 = size2 = 3, but consistency proof has 1 hashes, expected 0',
    });
    expect(verifyConsistency(3, 3, [], h(equal.root1), h(equal.root2))).toEqual({ ok: true, value: true });
    expect(consistencyProofNodes(3, 3)).toEqual({ ids: [], rehash: null });
  });

  it('real CT log audit path (22 hashes, large indices)', () => {
    const v = rfc.real_ct_log_inclusion;
    expect(hx(leafHash(h(v.raw_leaf_hex)))).toBe(v.leaf_hash);
    const proof = v.proof.map(h);
    expect(proof).toHaveLength(22);
    expect(verifyInclusion(h(v.leaf_hash), v.leaf_index, v.tree_size, proof, h(v.root))).toEqual({ ok: true, value: true });
    expect(inclusionProofNodes(v.leaf_index, v.tree_size).ids.length).toBeGreaterThanOrEqual(22);
    const neg = verifyInclusion(h(v.leaf_hash), v.negative_variant.leaf_index, v.tree_size, proof, h(v.root));
    expect(v.negative_variant.expected).toBe('invalid');
    expect(neg).toEqual({ ok: false, error: `leaf index 9236657 is beyond tree size 3630887` });
    expect(verifyInclusion(h(v.leaf_hash), v.leaf_index, v.tree_size, proof.slice(0, 21), h(v.root))).toEqual({
      ok: false,
      error: 'inclusion proof has 21 hashes, expected 22',
    });
    for (let i = 0; i < proof.length; i++) {
      const bad = proof.slice();
      bad[i] = flipBit(bad[i]!, 255);
      expect(verifyInclusion(h(v.leaf_hash), v.leaf_index, v.tree_size, bad, h(v.root)).ok).toBe(false);
    }
    expect(verifyInclusion(h(v.leaf_hash), v.leaf_index + 1, v.tree_size, proof, h(v.root)).ok).toBe(false);
  });

  it('rejects hashes that are not 32 bytes', () => {
    const v = rfc.inclusion_proofs[2];
    const proof = v.proof.map(h);
    expect(verifyInclusion(h(v.leaf_hash).slice(1), 0, 8, proof, h(v.root))).toEqual({
      ok: false,
      error: 'leaf hash has 31 bytes, expected 32',
    });
    expect(verifyInclusion(h(v.leaf_hash), 0, 8, [proof[0], new Uint8Array(33), proof[2]], h(v.root))).toEqual({
      ok: false,
      error: 'inclusion proof hash 1 has 33 bytes, expected 32',
    });
    expect(verifyInclusion(h(v.leaf_hash), 0, 8, proof, new Uint8Array(0))).toEqual({
      ok: false,
      error: 'root hash has 0 bytes, expected 32',
    });
    expect(verifyConsistency(1, 8, [...proof.slice(0, 2), new Uint8Array(0)], h(v.leaf_hash), h(v.root)).ok).toBe(false);
    expect(verifyInclusion(h(v.leaf_hash), 0.5, 8, proof, h(v.root)).ok).toBe(false);
    expect(verifyInclusion(h(v.leaf_hash), 0, Number.MAX_SAFE_INTEGER + 2, proof, h(v.root)).ok).toBe(false);
  });
});

describe('transparency-dev/merkle inclusion testdata', () => {
  const root = join(VECTORS, 'transparency-dev-merkle', 'inclusion');
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.json')) files.push(p);
    }
  };
  walk(root);

  it('loads all 98 probe files (6 valid, 92 must-fail)', () => {
    expect(files).toHaveLength(98);
    const valid = files.filter((f) => JSON.parse(readFileSync(f, 'utf8')).wantErr === false);
    expect(valid).toHaveLength(6);
  });

  it.each(files.map((f) => [relative(root, f), f]))('%s', (_name, file) => {
    const v = JSON.parse(readFileSync(file, 'utf8'));
    expect(typeof v.wantErr).toBe('boolean');
    // leafIdx 18446744073709551615 (2^64-1) parses to an unsafe number and must be rejected as such.
    const r = verifyInclusion(b64(v.leafHash), v.leafIdx, v.treeSize, (v.proof ?? []).map(b64), b64(v.root));
    if (v.wantErr) expect(r.ok, JSON.stringify(r)).toBe(false);
    else expect(r).toEqual({ ok: true, value: true });
  });
});

// ---------------------------------------------------------------------------------------------
// Brute-force cross-check against a naive recursive RFC 6962 PATH / PROOF implementation.
// ---------------------------------------------------------------------------------------------

const N = 70;
const leaves = Array.from({ length: N }, (_, i) => leafHash(utf8ToBytes(`provenant test leaf ${i}`)));
const mthMemo = new Map<string, Uint8Array>();
const largestPow2Below = (n: number): number => {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
};
/** MTH(D[lo:hi]) by the RFC 6962 definition. */
function mth(lo: number, hi: number): Uint8Array {
  const key = `${lo}-${hi}`;
  let v = mthMemo.get(key);
  if (!v) {
    const n = hi - lo;
    if (n === 0) v = sha256(new Uint8Array(0));
    else if (n === 1) v = leaves[lo]!;
    else {
      const k = largestPow2Below(n);
      v = nodeHash(mth(lo, lo + k), mth(lo + k, hi));
    }
    mthMemo.set(key, v);
  }
  return v;
}
/** RFC 6962 §2.1.1 PATH(m, D[lo:hi]). */
function path(m: number, lo: number, hi: number): Uint8Array[] {
  const n = hi - lo;
  if (n === 1) return [];
  const k = largestPow2Below(n);
  return m < k ? [...path(m, lo, lo + k), mth(lo + k, hi)] : [...path(m - k, lo + k, hi), mth(lo, lo + k)];
}
/** RFC 6962 §2.1.2 SUBPROOF(m, D[lo:hi], b). */
function subproof(m: number, lo: number, hi: number, b: boolean): Uint8Array[] {
  const n = hi - lo;
  if (m === n) return b ? [] : [mth(lo, hi)];
  const k = largestPow2Below(n);
  return m <= k
    ? [...subproof(m, lo, lo + k, b), mth(lo + k, hi)]
    : [...subproof(m - k, lo + k, hi, false), mth(lo, lo + k)];
}

/** Deterministic PRNG (mulberry32) so failures reproduce. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Store of exactly the complete subtrees of a tree of `size`, built by appendLeaves in random chunks. */
function buildStore(size: number, rand: () => number): Map<string, Uint8Array> {
  const store = new Map<string, Uint8Array>();
  let cur = 0;
  while (cur < size) {
    const chunk = Math.min(size - cur, 1 + Math.floor(rand() * 9));
    const allowed = new Set(frontier(cur).map(nodeKey));
    const reads: string[] = [];
    const res = appendLeaves(
      cur,
      (id) => {
        reads.push(nodeKey(id));
        expect(allowed.has(nodeKey(id)), `append at ${cur} read non-frontier ${nodeKey(id)}`).toBe(true);
        return store.get(nodeKey(id));
      },
      leaves.slice(cur, cur + chunk),
    );
    expect(reads.length).toBe(allowed.size);
    expect(res.size).toBe(cur + chunk);
    for (const n of res.nodes) {
      expect(store.has(nodeKey(n.id)), `node ${nodeKey(n.id)} produced twice`).toBe(false);
      // A node is emitted exactly when its range becomes complete.
      expect((n.id.index + 1) * 2 ** n.id.level).toBeGreaterThan(cur);
      expect((n.id.index + 1) * 2 ** n.id.level).toBeLessThanOrEqual(cur + chunk);
      expect(hx(n.hash)).toBe(hx(mth(n.id.index * 2 ** n.id.level, (n.id.index + 1) * 2 ** n.id.level)));
    }
    storeOf(res.nodes, store);
    expect(hx(res.root)).toBe(hx(mth(0, cur + chunk)));
    cur += chunk;
  }
  return store;
}

const popcount = (n: number): number => n.toString(2).replace(/0/g, '').length;

describe('proof plans from stored complete subtrees vs naive RFC 6962', () => {
  it('sizes 1..70: every inclusion and consistency proof, root, and corrupted variant', () => {
    const rand = prng(0x5eed);
    let inclusionChecked = 0;
    let consistencyChecked = 0;
    for (let size = 1; size <= N; size++) {
      const store = buildStore(size, rand);
      expect(store.size).toBe(2 * size - popcount(size));
      const root = mth(0, size);
      expect(hx(rootFromLeaves(leaves.slice(0, size)))).toBe(hx(root));
      const rootReads: string[] = [];
      expect(hx(rootFromNodes(size, (id) => (rootReads.push(nodeKey(id)), store.get(nodeKey(id)))))).toBe(hx(root));
      expect(rootReads).toEqual(rootNodes(size).map(nodeKey));

      for (let index = 0; index < size; index++) {
        const plan = inclusionProofNodes(index, size);
        const proof = buildProof(plan, store);
        expect(proof.map(hx), `inclusion ${index}/${size}`).toEqual(path(index, 0, size).map(hx));
        expect(verifyInclusion(leaves[index]!, index, size, proof, root)).toEqual({ ok: true, value: true });
        const calc = rootFromInclusionProof(leaves[index]!, index, size, proof);
        expect(calc.ok && hx(calc.value)).toBe(hx(root));
        for (let i = 0; i < proof.length; i++) {
          const bad = proof.slice();
          bad[i] = flipBit(bad[i]!, (i * 37) % 256);
          expect(verifyInclusion(leaves[index]!, index, size, bad, root).ok).toBe(false);
        }
        expect(verifyInclusion(flipBit(leaves[index]!), index, size, proof, root).ok).toBe(false);
        expect(verifyInclusion(leaves[index]!, index, size, proof, flipBit(root, 100)).ok).toBe(false);
        if (proof.length > 0) expect(verifyInclusion(leaves[index]!, index, size, proof.slice(1), root).ok).toBe(false);
        expect(verifyInclusion(leaves[index]!, index, size, [...proof, root], root).ok).toBe(false);
        if (index + 1 < size) expect(verifyInclusion(leaves[index]!, index + 1, size, proof, root).ok).toBe(false);
        inclusionChecked++;
      }

      for (let size1 = 1; size1 <= size; size1++) {
        const plan = consistencyProofNodes(size1, size);
        const proof = buildProof(plan, store);
        const root1 = mth(0, size1);
        expect(proof.map(hx), `consistency ${size1}->${size}`).toEqual(size1 === size ? [] : subproof(size1, 0, size, true).map(hx));
        expect(verifyConsistency(size1, size, proof, root1, root), `consistency ${size1}->${size}`).toEqual({ ok: true, value: true });
        for (let i = 0; i < proof.length; i++) {
          const bad = proof.slice();
          bad[i] = flipBit(bad[i]!, (i * 53) % 256);
          expect(verifyConsistency(size1, size, bad, root1, root).ok, `corrupt ${i} in ${size1}->${size}`).toBe(false);
        }
        expect(verifyConsistency(size1, size, proof, flipBit(root1), root).ok).toBe(false);
        expect(verifyConsistency(size1, size, proof, root1, flipBit(root)).ok).toBe(false);
        if (proof.length > 0) expect(verifyConsistency(size1, size, proof.slice(0, -1), root1, root).ok).toBe(false);
        expect(verifyConsistency(size1, size, [...proof, root], root1, root).ok).toBe(false);
        if (size1 < size) expect(verifyConsistency(size, size1, proof, root, root1).ok).toBe(false);
        consistencyChecked++;
      }
    }
    expect(inclusionChecked).toBe((N * (N + 1)) / 2);
    expect(consistencyChecked).toBe((N * (N + 1)) / 2);
  });

  it('plans read at most 2·ceil(log2 n)+2 stored nodes for n = 100000', () => {
    const n = 100_000;
    const bound = 2 * Math.ceil(Math.log2(n)) + 2;
    let maxIncl = 0;
    let maxCons = 0;
    for (let i = 0; i < n; i++) maxIncl = Math.max(maxIncl, inclusionProofNodes(i, n).ids.length);
    for (let s = 1; s <= n; s++) maxCons = Math.max(maxCons, consistencyProofNodes(s, n).ids.length);
    expect(maxIncl).toBeLessThanOrEqual(bound);
    expect(maxCons).toBeLessThanOrEqual(bound);
    expect(rootNodes(n).length).toBe(popcount(n));
    expect(frontier(n)).toEqual(rootNodes(n));
    // every planned node is complete within the tree
    for (const id of [...inclusionProofNodes(99_999, n).ids, ...consistencyProofNodes(77_777, n).ids]) {
      expect((id.index + 1) * 2 ** id.level).toBeLessThanOrEqual(n);
    }
  });

  it('plans and appends work past 2^32 leaves (no 32-bit truncation)', () => {
    const size = 2 ** 40 + 2 ** 33 + 5;
    const index = 2 ** 35 + 3;
    const plan = inclusionProofNodes(index, size);
    for (const id of plan.ids) expect((id.index + 1) * 2 ** id.level).toBeLessThanOrEqual(size);
    expect(rootNodes(size)).toEqual([
      { level: 40, index: 0 },
      { level: 33, index: 2 ** 7 },
      { level: 2, index: (2 ** 40 + 2 ** 33) / 4 },
      { level: 0, index: 2 ** 40 + 2 ** 33 + 4 },
    ]);
    // Synthetic store: hash of a node = leafHash(key). Append 3 leaves and check the frontier merge.
    const synth = (id: NodeId): Uint8Array => leafHash(utf8ToBytes(nodeKey(id)));
    const res = appendLeaves(size, synth, [leaves[0]!, leaves[1]!, leaves[2]!]);
    expect(res.size).toBe(size + 3);
    expect(res.nodes.map((n) => nodeKey(n.id))).toEqual([
      `0:${size}`,
      `1:${(size - 1) / 2}`,
      `0:${size + 1}`,
      `0:${size + 2}`,
      `1:${(size + 1) / 2}`,
      `2:${(size - 1) / 4}`,
      `3:${(size - 5) / 8}`,
    ]);
    const want = nodeHash(
      nodeHash(synth({ level: 2, index: (size - 5) / 4 }), nodeHash(nodeHash(synth({ level: 0, index: size - 1 }), leaves[0]!), nodeHash(leaves[1]!, leaves[2]!))),
      res.nodes[6]!.hash,
    );
    expect(hx(res.nodes[6]!.hash)).toBe(hx(nodeHash(synth({ level: 2, index: (size - 5) / 4 }), res.nodes[5]!.hash)));
    expect(want.length).toBe(32);
    expect(hx(res.root)).toBe(hx(nodeHash(synth({ level: 40, index: 0 }), nodeHash(synth({ level: 33, index: 2 ** 7 }), res.nodes[6]!.hash))));
  });

  it('buildProof throws on a missing stored node; plans reject bad arguments', () => {
    expect(() => buildProof(inclusionProofNodes(0, 8), new Map())).toThrow(/stored Merkle node 0:1 is missing/);
    expect(() => inclusionProofNodes(8, 8)).toThrow(RangeError);
    expect(() => inclusionProofNodes(-1, 8)).toThrow(RangeError);
    expect(() => consistencyProofNodes(9, 8)).toThrow(RangeError);
    expect(() => rootNodes(1.5)).toThrow(RangeError);
  });
});
