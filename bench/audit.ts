/**
 * Benchmark: `provenant audit` (auditLedger) against the raw SHA-256 rate over the same bytes.
 * Seeds a PGlite ledger through the real write path — BENCH_AUDIT_BATCHES batches (default 10000,5000,2000 items),
 * then BENCH_AUDIT_LIFECYCLE items (default 6700) each shipped, received and sold in single-item events (8 concurrent
 * writers) — then audits it twice, timed. A third audit with a recording hasher collects every input audit hashes
 * (canonical bodies, item entries, field commitments, items-tree nodes and pads, link hashes, head map; not the log
 * tree's leaves and nodes, which core/merkle hashes itself); node:crypto SHA-256 (one-shot hash()) over
 * exactly those bytes gives the raw rate. Prints events/s, bytes/s and the ratio audit/raw (target ≥ 0.3).
 *   node bin/run-ts.mjs bench/audit.ts
 * BENCH_AUDIT_DIR=/some/dir keeps the seeded PGlite folder (and its verifier key) and reuses it on the next run.
 */
import { createHash, hash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { ensureOperator } from '../src/db/actors.ts';
import { createPGlite, openPGlite } from '../src/db/connection.ts';
import { migrateToLatest } from '../src/db/migrator.ts';
import { auditLedger } from '../src/services/audit.ts';
import { createActor } from '../src/services/create-actor.ts';
import { recordEvent } from '../src/services/record-event.ts';
import { registerBatch } from '../src/services/register-batch.ts';
import { registerProduct } from '../src/services/register-product.ts';
import { BENCH_GTIN, benchDeps, benchSgtin } from './harness.ts';

const BATCHES = (process.env.BENCH_AUDIT_BATCHES ?? '10000,5000,2000').split(',').map(Number);
const LIFECYCLE = Number(process.env.BENCH_AUDIT_LIFECYCLE ?? 6700);
const WRITERS = 8;
const DIR = process.env.BENCH_AUDIT_DIR;

async function pool(n: number, total: number, task: (i: number) => Promise<void>) {
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < total) await task(next++);
  }));
}

const reuse = DIR !== undefined && existsSync(`${DIR}/PG_VERSION`) && existsSync(`${DIR}.key`);
const h = await openPGlite(await createPGlite(DIR), DIR ?? 'memory');
let verifierKey: string;
try {
  if (reuse) verifierKey = readFileSync(`${DIR}.key`, 'utf8');
  else {
    const t0 = performance.now();
    await migrateToLatest(h.db);
    const op = await ensureOperator(h.db);
    const maker = await createActor(h.db, op, { name: 'm', roles: ['MANUFACTURER'], companyPrefixes: ['4012345'] });
    const shop = await createActor(h.db, op, { name: 'r', roles: ['RETAILER'] });
    if (maker.kind !== 'ok' || shop.kind !== 'ok') throw new Error('bench actors');
    await registerProduct(h.db, maker.actor, { gtin: BENCH_GTIN, name: 'bench product' });
    const deps = benchDeps(h.db);
    verifierKey = deps.signer.verifierKey;
    for (const [k, count] of BATCHES.entries()) {
      const lot = `L${k}`;
      const b = await registerBatch(deps, maker.actor, { gtin: BENCH_GTIN, lot, producedAt: new Date().toISOString(), site: 'Plant 1', range: { count, firstSerial: `${lot}S0000001` } });
      if (b.kind !== 'ok') throw new Error(JSON.stringify(b));
    }
    // Single-item lifecycle on serials of the first lot: SHIP (maker → shop), RECEIVE, SELL.
    const ref = (i: number) => ({ refs: [{ kind: 'sgtin' as const, value: benchSgtin(`L0S${String(i + 1).padStart(7, '0')}`) }] });
    const steps: [string, (i: number) => Promise<{ kind: string }>][] = [
      ['SHIP', (i) => recordEvent(deps, maker.actor, { kind: 'SHIP', items: ref(i), occurredAt: new Date().toISOString(), counterpartyId: shop.actor.id, location: 'Dock 4' })],
      ['RECEIVE', (i) => recordEvent(deps, shop.actor, { kind: 'RECEIVE', items: ref(i), occurredAt: new Date().toISOString(), location: 'Store 12' })],
      ['SELL', (i) => recordEvent(deps, shop.actor, { kind: 'SELL', items: ref(i), occurredAt: new Date().toISOString(), data: { price: 19.9, currency: 'EUR' } })],
    ];
    for (const [kind, step] of steps) {
      await pool(WRITERS, LIFECYCLE, async (i) => {
        const r = await step(i);
        if (r.kind !== 'ok') throw new Error(`${kind}: ${JSON.stringify(r)}`);
      });
    }
    console.log(`[audit] seeded ${BATCHES.join('+')} items in ${BATCHES.length} batches and ${LIFECYCLE}×3 lifecycle events in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    if (DIR) writeFileSync(`${DIR}.key`, verifierKey);
  }

  const runs: number[] = [];
  const cpuRuns: number[] = [];
  let report!: Awaited<ReturnType<typeof auditLedger>>;
  for (let k = 0; k < 2; k++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    report = await auditLedger(h.db, verifierKey);
    runs.push((performance.now() - t0) / 1000);
    const c = process.cpuUsage(c0);
    cpuRuns.push((c.user + c.system) / 1e6);
    if (report.discrepancies.length > 0) throw new Error(report.discrepancies.slice(0, 10).join('\n'));
  }
  // Every input audit hashes, recorded once (untimed), then hashed raw with node:crypto.
  const inputs: Uint8Array[] = [];
  await auditLedger(h.db, verifierKey, () => {}, (b) => {
    inputs.push(b.slice());
    return new Uint8Array(createHash('sha256').update(b).digest());
  });
  const bytes = inputs.reduce((n, b) => n + b.length, 0);
  const rawRuns: number[] = [];
  const rawCpuRuns: number[] = [];
  for (let k = 0; k < 3; k++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    for (const b of inputs) hash('sha256', b, 'buffer');
    rawRuns.push((performance.now() - t0) / 1000);
    const c = process.cpuUsage(c0);
    rawCpuRuns.push((c.user + c.system) / 1e6);
  }
  // For scale: createHash per input, and the same bytes as one stream (no per-input call cost).
  const h0 = performance.now();
  for (const b of inputs) createHash('sha256').update(b).digest();
  const createHashS = (performance.now() - h0) / 1000;
  const s0 = performance.now();
  const stream = createHash('sha256');
  for (const b of inputs) stream.update(b);
  stream.digest();
  const streamS = (performance.now() - s0) / 1000;
  const audit = Math.min(...runs);
  const raw = Math.min(...rawRuns);
  const mb = (n: number) => (n / 1e6).toFixed(1);
  console.log(`[audit PGlite] ${report.events} events, ${report.items} items, ${report.links} links; audit ${runs.map((s) => s.toFixed(2)).join(' / ')} s ` +
    `→ ${Math.round(report.events / audit)} events/s, ${mb(bytes / audit)} MB/s over ${inputs.length} hash inputs (${mb(bytes)} MB)`);
  console.log(`[audit PGlite] raw SHA-256 (node:crypto hash(), one call per input) over the same inputs: ${raw.toFixed(3)} s → ${Math.round(report.events / raw)} events/s, ${mb(bytes / raw)} MB/s ` +
    `(createHash per input: ${mb(bytes / createHashS)} MB/s; as one stream: ${mb(bytes / streamS)} MB/s)`);
  const cpu = Math.min(...cpuRuns);
  const rawCpu = Math.min(...rawCpuRuns);
  console.log(`[audit PGlite] ratio audit/raw: wall ${(raw / audit).toFixed(3)}, CPU ${(rawCpu / cpu).toFixed(3)} (audit CPU ${cpuRuns.map((s) => s.toFixed(2)).join(' / ')} s, raw ${rawCpu.toFixed(3)} s; ` +
    `target ≥ 0.3); load ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
} finally {
  await h.close();
}
