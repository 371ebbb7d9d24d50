/**
 * Benchmark: the head map as the server stores it (src/db/head-map.ts, buckets of ≤ 16 keys): bytes on disk per
 * million items, and the cost of one integrated batch against the SQL store: updated keys, new keys, and a 100,000-key
 * lot. Each batch runs in a transaction that is rolled back, so every one meets the same map. Runs on in-memory PGlite,
 * and on PostgreSQL too when DATABASE_URL is set.
 *   node bin/run-ts.mjs bench/head-map-store.ts [items=1000000]
 */
import { hash } from 'node:crypto';
import { loadavg } from 'node:os';
import { sql } from 'kysely';
import { u32be } from '../src/core/bytes.ts';
import { type HeadMapStore, buildHeadMap, updateHeadMap } from '../src/core/v2/head-map.ts';
import type { DatabaseHandle } from '../src/db/connection.ts';
import { sqlHeadMapStore } from '../src/db/head-map.ts';
import { migrateToLatest } from '../src/db/migrator.ts';
import { onEachDatabase } from './harness.ts';

const ITEMS = Number(process.argv[2] ?? 1_000_000);
const sha = (b: Uint8Array): Uint8Array => {
  const d = hash('sha256', b, 'buffer') as unknown as Uint8Array;
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
};
const key = (i: number) => sha(u32be(i));
const value = (i: number, v: number) => sha(u32be(i ^ (v << 24)));

class Rollback extends Error {}

async function run(engine: string, h: DatabaseHandle, schema: string | undefined) {
  await migrateToLatest(h.db, schema);
  const t0 = performance.now();
  const built = buildHeadMap(Array.from({ length: ITEMS }, (_, i) => ({ key: key(i), value: value(i, 0) })), sha);
  const tBuild = performance.now() - t0;
  const t1 = performance.now();
  await h.db.transaction().execute(async (trx) => {
    await sqlHeadMapStore(trx).put(built.writes);
  });
  const tPut = performance.now() - t1;
  await sql`VACUUM ANALYZE head_map_nodes`.execute(h.db);
  const size = (await sql<{ total: number; heap: number; rows: number; buckets: number }>`
    SELECT pg_total_relation_size('head_map_nodes')::int8 AS total, pg_relation_size('head_map_nodes')::int8 AS heap,
           (SELECT count(*) FROM head_map_nodes)::int8 AS rows, (SELECT count(*) FROM head_map_nodes WHERE entries IS NOT NULL)::int8 AS buckets`.execute(h.db)).rows[0]!;
  const total = Number(size.total);
  console.log(
    `${engine}: map of ${ITEMS.toLocaleString('en')} items: built in memory ${(tBuild / 1000).toFixed(1)} s, written ${(tPut / 1000).toFixed(1)} s; ` +
      `${Number(size.rows).toLocaleString('en')} rows (${Number(size.buckets).toLocaleString('en')} buckets); ${(total / 1e6).toFixed(0)} MB on disk with its index ` +
      `(${(total / ITEMS).toFixed(0)} B per item, ${((total / ITEMS) * 1e6 / 1e6).toFixed(0)} MB per million items); load ${loadavg()[0]!.toFixed(1)}`,
  );
  for (const [label, n, fresh] of [['updated keys', 1_000, false], ['new keys', 1_000, true], ['updated keys', 1, false], ['new keys', 100_000, true]] as const) {
    const updates = Array.from({ length: n }, (_, i) => (fresh ? { key: key(ITEMS + i), value: value(ITEMS + i, 1) } : { key: key((i * 7919) % ITEMS), value: value((i * 7919) % ITEMS, 1) }));
    let reads = 0;
    let queries = 0;
    let writes = 0;
    const t = performance.now();
    await h.db.transaction().execute(async (trx) => {
      const inner = sqlHeadMapStore(trx);
      const counting: HeadMapStore = {
        get: (depth, prefixes) => {
          queries++;
          reads += prefixes.length;
          return inner.get(depth, prefixes);
        },
        getMany: (refs) => {
          queries++;
          reads += refs.length;
          return inner.getMany!(refs);
        },
        put: (w) => inner.put(w),
      };
      writes = (await updateHeadMap(counting, updates, sha)).writes.length;
      throw new Rollback();
    }).catch((e) => {
      if (!(e instanceof Rollback)) throw e;
    });
    console.log(`${engine}:   batch of ${n.toLocaleString('en')} ${label}: ${((performance.now() - t)).toFixed(0)} ms, ${queries} queries reading ${reads.toLocaleString('en')} nodes, ${writes.toLocaleString('en')} node rows written; load ${loadavg()[0]!.toFixed(1)}`);
  }
}

console.log(`head map in the SQL store, ${ITEMS.toLocaleString('en')} items, node ${process.version}`);
await onEachDatabase((engine, h, schema) => run(engine, h, schema));
