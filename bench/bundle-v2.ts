/**
 * Ledger format v2 figures (issue 12 limits):
 *  - items tree of 100,000 entries: build time, native and noble SHA-256;
 *  - bundle of one item from a 100,000-item COMMISSION with 5 events in a log of ~1,000,000 leaves: size and
 *    offline verification time (median);
 *  - head map: stored nodes and bytes per million items, and the cost of one integrated batch.
 *
 *   node bin/run-ts.mjs bench/bundle-v2.ts [mapItems=1000000] [batch=1000]
 */
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { toHex, u32be } from '../src/core/bytes.ts';
import { verifyBundleV2 } from '../src/core/v2/bundle-v2.ts';
import { type HeadMapNode, MemoryHeadMapStore, buildHeadMap, updateHeadMap } from '../src/core/v2/head-map.ts';
import { buildItemTree } from '../src/core/v2/item-tree.ts';
import { LOG_SEED, VERIFIER_KEY } from './gen-ledger-v2-vectors.ts';
import { LedgerSim, nativeSha256, sgtinOf } from './ledger-v2-sim.ts';

const mapItems = Number(process.argv[2] ?? 1_000_000);
const batch = Number(process.argv[3] ?? 1000);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const time = (f: () => void): number => {
  const t = performance.now();
  f();
  return performance.now() - t;
};

// Raw hash rate on this machine right now (it is shared; every figure below is relative to it).
const buf = new Uint8Array(65);
const rawNative = time(() => { for (let i = 0; i < 200_000; i++) nativeSha256(buf); }) / 200;
const rawNoble = time(() => { for (let i = 0; i < 200_000; i++) nobleSha256(buf); }) / 200;
console.log(`raw SHA-256 of 65 bytes: native ${rawNative.toFixed(2)} µs, noble ${rawNoble.toFixed(2)} µs`);

// 1. Items tree of 100,000 entries.
const entries = Array.from({ length: 100_000 }, (_, i) => nativeSha256(u32be(i)));
const padKey = nativeSha256(u32be(7));
const tNative = median([0, 1, 2].map(() => time(() => buildItemTree(entries, padKey, nativeSha256))));
const tNoble = time(() => buildItemTree(entries, padKey));
console.log(`items tree, 100,000 entries: ${tNative.toFixed(0)} ms native (median of 3), ${tNoble.toFixed(0)} ms noble`);

// 2. Bundle of one item of a 100,000-item COMMISSION, 5 events, in a log of ~1,000,000 leaves.
const sim = new LedgerSim('bench-bundle-v2', LOG_SEED);
sim.padLog(1_000_000);
const serials = Array.from({ length: 100_000 }, (_, i) => sgtinOf(`B-${String(i).padStart(6, '0')}`));
const T = serials[31_337]!;
await sim.record('COMMISSION', serials, { actor: 'act_maker', gtin: '09506000134352', lot: 'L-BENCH', location: 'urn:epc:id:sgln:9506000.00001.0' });
sim.padLog(5_000);
await sim.record('SHIP', [T, serials[1]!], { actor: 'act_maker', counterparty: 'act_shop', location: 'urn:epc:id:sgln:9506000.00001.0' });
sim.padLog(5_000);
await sim.record('RECEIVE', [T, serials[1]!], { actor: 'act_shop', location: 'urn:epc:id:sgln:9506000.00002.0' });
await sim.record('SELL', [T], { actor: 'act_shop', buyer: 'Jane Consumer <jane@example.org>', price: 129.9, currency: 'EUR' });
await sim.record('RECALL', [T], { actor: 'act_maker', reason: 'battery may overheat', authorizedBy: 'act_maker_quality' });
for (const tier of ['public', 'participants'] as const) {
  const bundle = await sim.bundle(T, tier);
  const bytes = new TextEncoder().encode(JSON.stringify(bundle)).length;
  const r = verifyBundleV2(bundle, { verifierKeys: [VERIFIER_KEY] });
  if (!r.ok) throw new Error(JSON.stringify(r.failure));
  const runs = Array.from({ length: 30 }, () => time(() => verifyBundleV2(bundle, { verifierKeys: [VERIFIER_KEY] })));
  const runsNative = Array.from({ length: 30 }, () => time(() => verifyBundleV2(bundle, { verifierKeys: [VERIFIER_KEY], sha256: nativeSha256 })));
  console.log(
    `bundle (${tier} tier), 5 events, log of ${sim.size} leaves, ${bundle.head.mapProof.length}-sibling map proof: ${bytes} bytes (${(bytes / 1024).toFixed(1)} KiB); ` +
      `verify median ${median(runs).toFixed(1)} ms (noble), ${median(runsNative).toFixed(1)} ms (native)`,
  );
}

// 3. Head map: storage per `mapItems` items and the cost of one batch of `batch` updates.
const kvs = Array.from({ length: mapItems }, (_, i) => ({ key: nativeSha256(u32be(i)), value: nativeSha256(u32be(i + 0x40000000)) }));
let built!: ReturnType<typeof buildHeadMap>;
const tBuild = time(() => { built = buildHeadMap(kvs, nativeSha256); });
let buckets = 0;
let entryBytes = 0;
let prefixBytes = 0;
for (const w of built.writes) {
  if (w.node.kind === 'bucket') {
    buckets++;
    entryBytes += w.node.entries.length;
  }
  prefixBytes += w.prefix.length / 2;
}
const inner = built.writes.length - buckets;
// Row as the server would store it: depth (2) + prefix (avg) + hash (32) [+ 64 bytes per key for buckets].
const rowBytes = built.writes.length * (2 + 32) + prefixBytes + entryBytes;
console.log(
  `head map of ${mapItems} items: built in ${tBuild.toFixed(0)} ms; ${built.writes.length} stored nodes (${buckets} buckets, ${inner} inner, ${(built.writes.length / mapItems).toFixed(2)} per item); ` +
    `~${(rowBytes / 1e6).toFixed(0)} MB of row payload (${(rowBytes / mapItems).toFixed(0)} B/item, before index/row overhead)`,
);
const store = new MemoryHeadMapStore();
store.put(built.writes);
let gets = 0;
let reads = 0;
const counting = {
  get(depth: number, prefixes: readonly string[]): ReadonlyMap<string, HeadMapNode> {
    gets++;
    reads += prefixes.length;
    return store.get(depth, prefixes);
  },
  put: (w: Parameters<MemoryHeadMapStore['put']>[0]) => store.put(w),
};
const ups = Array.from({ length: batch }, (_, i) => ({ key: kvs[(i * 7919) % mapItems]!.key, value: nativeSha256(u32be(i + 0x7f000000)) }));
const t0 = performance.now();
const upd = await updateHeadMap(counting, ups, nativeSha256);
const tUpd = performance.now() - t0;
const news = Array.from({ length: batch }, (_, i) => ({ key: nativeSha256(u32be(i + 0x20000000)), value: nativeSha256(u32be(i)) }));
const t1 = performance.now();
const ins = await updateHeadMap(store, news, nativeSha256);
const tIns = performance.now() - t1;
console.log(
  `head map batch of ${batch} updates in ${mapItems}: ${gets} get() calls (one per depth), ${reads} node reads, ${upd.writes.length} node writes (hashes), ${tUpd.toFixed(0)} ms in memory; ` +
    `${batch} new keys: ${ins.writes.length} writes, ${tIns.toFixed(0)} ms; root ${toHex(ins.root).slice(0, 16)}…`,
);
