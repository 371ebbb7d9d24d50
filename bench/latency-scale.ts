/**
 * Benchmark: how write and read latency change as a PGlite ledger grows from 10k to 1M leaves (issue 11, "Speed").
 * At each size it times SAMPLES of: one single-item SHIP through the service layer (recordEvent: transaction, pending
 * write, integration into the log with its checkpoint, as a mutation does); an item's history read (its chain links
 * with their events, findChainWithEvents); itemProofBundle of an item; an inclusion proof of a random leaf. Prints
 * p50/p99 per size and the machine's load average (the machine is shared).
 *
 * Growing: the measured items are real (registerBatch, then SHIPs); the filler leaves are one-item COMMISSION events of
 * filler items (an items row, a chain link and a ~330-byte body each) inserted as pending events in bulk and
 * integrated by the real integrator (leaf indexes, log nodes, head map, one checkpoint per 20,000), so every table
 * grows as in a real ledger. The server's maintenance on PGlite (ANALYZE/VACUUM, src/db/statistics.ts) runs as it
 * would. Filler bodies are not hashed as the format says: do not audit the result.
 *   node bin/run-ts.mjs bench/latency-scale.ts
 *   BENCH_SIZES=10000,100000,1000000 BENCH_SAMPLES=100 BENCH_DIR=/tmp/lat node bin/run-ts.mjs bench/latency-scale.ts
 * BENCH_DIR puts the database in a folder (emptied first) instead of memory (1M leaves need a few GB).
 */
import { mkdir, rm } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { sql } from 'kysely';
import { createPGlite, openPGlite } from '../src/db/connection.ts';
import { findChainWithEvents, findItemsBySgtins } from '../src/db/ledger.ts';
import { keepStatistics } from '../src/db/statistics.ts';
import { integratePending } from '../src/services/integrate.ts';
import { inclusionProofFor, itemProofBundle } from '../src/services/log-proofs.ts';
import { recordEvent } from '../src/services/record-event.ts';
import { BENCH_GTIN, benchSgtin, seedBenchLedger } from './harness.ts';

const SIZES = (process.env.BENCH_SIZES ?? '10000,100000').split(',').map(Number);
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 100);
const DIR = process.env.BENCH_DIR;
const FILL_CHUNK = 20_000;
const REAL = SAMPLES * SIZES.length + 10;

if (DIR) {
  await rm(DIR, { recursive: true, force: true });
  await mkdir(DIR, { recursive: true });
}
const h = await openPGlite(await createPGlite(DIR), DIR ?? 'memory');
const { maker, dist, deps } = await seedBenchLedger(h, undefined, 'S', REAL);
// What the server runs on embedded PGlite (src/server/main.ts).
const keeper = keepStatistics(h.db, { onError: (e) => console.error('maintenance failed', e) });
const fillerBatch = (await sql<{ id: string }>`
  INSERT INTO batches (gtin, lot, produced_at, site) VALUES (${BENCH_GTIN}, 'FILLER', now(), 'Filler plant') RETURNING id`.execute(h.db)).rows[0]!.id;
const PAD = 'x'.repeat(180);

/** Appends filler leaves until the log has `target` leaves. */
async function growTo(target: number): Promise<void> {
  let size = Number((await sql<{ size: number }>`SELECT size FROM log_state`.execute(h.db)).rows[0]!.size);
  while (size < target) {
    const from = size;
    const to = Math.min(target, size + FILL_CHUNK) - 1;
    await sql`
      WITH g AS (SELECT generate_series(${from}::int, ${to}::int) AS n),
      it AS (
        INSERT INTO items (id, batch_id, gtin, serial, sgtin, stage, custodian_id, recalled, head_seq, head_hash)
        SELECT md5('fi' || n)::uuid, ${fillerBatch}::uuid, ${BENCH_GTIN}, 'F' || n, 'urn:epc:id:sgtin:4012345.011111.F' || n, 'MANUFACTURED',
               ${maker.id}::uuid, false, 0, sha256(('fl' || n)::bytea) FROM g RETURNING id),
      ev AS (
        INSERT INTO pending_events (id, kind, actor_id, occurred_at, tz_offset, recorded_at, location, counterparty_id, data, body, content_hash, item_count)
        SELECT md5('fe' || n)::uuid, 'COMMISSION', ${maker.id}::uuid, now(), '+00:00', now(), 'Filler plant', NULL, '{}'::jsonb,
               '{"filler":' || n || ',"pad":"' || ${PAD} || '"}', sha256(convert_to('{"filler":' || n || ',"pad":"' || ${PAD} || '"}', 'UTF8')), 1 FROM g RETURNING id)
      INSERT INTO chain_links (item_id, seq, event_id, prev_hash, hash, stage, recalled)
      SELECT md5('fi' || n)::uuid, 0, md5('fe' || n)::uuid, decode(repeat('00', 32), 'hex'), sha256(('fl' || n)::bytea), 'MANUFACTURED', false FROM g`.execute(h.db);
    for (;;) {
      const r = await integratePending(h.db, deps.signer, FILL_CHUNK);
      if (r.integrated === 0) break;
      size = r.treeSize;
    }
  }
  await keeper.maintainNow();
  await keeper.analyzeNow();
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};
async function timed(samples: number, f: (i: number) => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < samples; i++) {
    const t0 = performance.now();
    await f(i);
    out.push(performance.now() - t0);
  }
  return out;
}
const fmt = (xs: number[]) => `${quantile(xs, 0.5).toFixed(1)} / ${quantile(xs, 0.99).toFixed(1)}`;

console.log(`latency from ${SIZES.map((s) => s.toLocaleString('en')).join(' → ')} leaves, PGlite (${DIR ? `folder ${DIR}` : 'in memory'}), ${SAMPLES} samples each, node ${process.version}`);
console.log('| leaves | write: SHIP 1 item (p50 / p99 ms) | history read | itemProofBundle | inclusion proof | grow s | load avg (1 min) |');
console.log('|---|---|---|---|---|---|---|');
let nextSerial = 1;
const shipped: string[] = [];
for (const size of SIZES) {
  const g0 = performance.now();
  await growTo(size);
  const growSeconds = (performance.now() - g0) / 1000;
  const load = loadavg()[0]!.toFixed(1);
  const writes = await timed(SAMPLES, async () => {
    const sgtin = benchSgtin(`S${String(nextSerial++).padStart(7, '0')}`);
    const r = await recordEvent(deps, maker, {
      kind: 'SHIP', items: { refs: [{ kind: 'sgtin', value: sgtin }] }, occurredAt: new Date().toISOString(), location: 'Warehouse 7, Dock 3', counterpartyId: dist.id, data: {},
    });
    if (r.kind !== 'ok') throw new Error(JSON.stringify(r));
    shipped.push(sgtin);
  });
  const items = await findItemsBySgtins(h.db, shipped);
  const pick = (i: number) => items[(i * 7919) % items.length]!;
  const histories = await timed(SAMPLES, async (i) => {
    const chain = await findChainWithEvents(h.db, pick(i).id);
    if (chain.length < 2) throw new Error('expected a history of two events');
  });
  const bundles = await timed(SAMPLES, async (i) => {
    const r = await itemProofBundle(h.db, deps.signer, pick(i));
    if (r.kind !== 'ok') throw new Error(JSON.stringify(r));
  });
  const logSize = Number((await sql<{ size: number }>`SELECT size FROM log_state`.execute(h.db)).rows[0]!.size);
  const probes = await sql<{ id: string }>`
    SELECT e.id FROM unnest(${Array.from({ length: SAMPLES }, (_, i) => Math.floor(((i * 2654435761) % 4294967296) / 4294967296 * logSize))}::int8[]) AS p(leaf)
    JOIN events e ON e.leaf_index = p.leaf`.execute(h.db);
  const proofs = await timed(probes.rows.length, async (i) => {
    const r = await inclusionProofFor(h.db, probes.rows[i]!.id);
    if (r.kind !== 'ok') throw new Error(JSON.stringify(r));
  });
  console.log(`| ${logSize.toLocaleString('en')} | ${fmt(writes)} | ${fmt(histories)} | ${fmt(bundles)} | ${fmt(proofs)} | ${growSeconds.toFixed(0)} | ${load} → ${loadavg()[0]!.toFixed(1)} |`);
}
keeper.stop();
await h.close();
