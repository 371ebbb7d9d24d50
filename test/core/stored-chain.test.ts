import { describe, expect, it } from 'vitest';
import { buildItemTree, foldItemProof, itemEntry } from '../../src/core/v2/item-tree.ts';
import { toHex } from '../../src/core/bytes.ts';
import { TREE_TOP_MIN_ITEMS, checkStoredTree, decodeTreeTop, encodeTreeTop, itemProofFromStored, subtreeRange } from '../../src/core/v2/stored-chain.ts';

/** Deterministic bytes (a tiny xorshift), so failures reproduce. */
function rng(seed: number) {
  let x = seed;
  return (n: number) => Uint8Array.from({ length: n }, () => {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    return x & 0xff;
  });
}

describe('stored items-tree top + subtree entries', () => {
  for (const n of [1, 7, 300, 5_000]) {
    it(`gives every item the same proof as the full tree (n = ${n})`, () => {
      const random = rng(n + 11);
      const padKey = random(32);
      const stored = Array.from({ length: n }, (_, i) => ({ sgtin: `urn:epc:id:sgtin:4012345.011111.S${i}`, seq: 0, prevHash: new Uint8Array(32), salt: toHex(random(16)) }));
      const entries = stored.map((e) => itemEntry(e.sgtin, 0, { prev: null, salt: e.salt }));
      const tree = buildItemTree(entries, padKey);
      const top = encodeTreeTop(tree.nodes());
      expect(top.length).toBeLessThanOrEqual(1022 * 37);
      const decoded = decodeTreeTop(top);
      for (const i of [0, Math.floor(n / 2), n - 1]) {
        const p = tree.position(i);
        const { lo, hi } = subtreeRange(p);
        const subtree = entries.map((entry, k) => ({ position: tree.position(k), entry })).filter((e) => e.position >= lo && e.position <= hi);
        const proof = itemProofFromStored(p, subtree, decoded, padKey);
        expect(proof).toEqual(tree.proof(i));
        expect(toHex(foldItemProof(entries[i]!, proof)!)).toBe(toHex(tree.root));
      }
      const positioned = stored.map((e, k) => ({ ...e, position: tree.position(k) }));
      expect(checkStoredTree(positioned, padKey, top)).toEqual({ root: toHex(tree.root) });
      // Small events store no top (they are rebuilt); a large one without its top is a discrepancy.
      expect(checkStoredTree(positioned, padKey, null)).toEqual(n >= TREE_TOP_MIN_ITEMS ? { root: toHex(tree.root), problem: expect.stringMatching(/top levels/) } : { root: toHex(tree.root) });
      if (n > 1) {
        const swapped = positioned.map((e, k) => (k === 0 ? { ...e, position: positioned[1]!.position } : e));
        expect(checkStoredTree(swapped, padKey, top).problem).toMatch(/stored position of .*S0 is/);
        const badTop = top.slice();
        badTop[badTop.length - 1]! ^= 1;
        expect(checkStoredTree(positioned, padKey, badTop).problem).toMatch(/top levels/);
      }
    });
  }
});
