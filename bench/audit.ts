/**
 * Benchmark: `provenant audit` (auditLedger) against the raw SHA-256 rate over the same bytes, on PGlite and, when
 * DATABASE_URL is set, on PostgreSQL.
 * Seeds a ledger through the real write path — BENCH_AUDIT_BATCHES batches (default 10000,5000,2000 items),
 * then BENCH_AUDIT_LIFECYCLE items (default 6700) each shipped, received and sold in single-item events (8 concurrent
 * writers) — then audits it twice, timed. A third audit with a recording hasher collects every input audit hashes
 * (canonical bodies, item entries, field commitments, items-tree nodes and pads, link hashes, head map, the log tree's
 * leaves and nodes); node:crypto's one-shot hash() over exactly those bytes
 * gives the raw rate, with the digest as a Buffer and as hex (the cheaper; the ratio is against the faster of the two).
 * Prints events/s, bytes/s and the ratio audit/raw, wall and CPU (target ≥ 0.3). On PostgreSQL the database's own work
 * runs in its server processes: the CPU ratio counts only this process, the wall ratio everything.
 *   node bin/run-ts.mjs bench/audit.ts
 *   DATABASE_URL=postgres://… node bin/run-ts.mjs bench/audit.ts
 * BENCH_AUDIT_DIR=/some/dir keeps the seeded PGlite folder (and its verifier key) and, with DATABASE_URL, the schema
 * bench_audit_kept (key in /some/dir.pg-key), and reuses them on the next run.
 */
import { createHash, hash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import pg from 'pg';
import { ensureOperator } from '../src/db/actors.ts';
import { type DatabaseHandle, createPGlite, openPGlite, openPostgres } from '../src/db/connection.ts';
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

/** Seeds the bench ledger on `h` (migrated here); returns its verifier key. */
async function seed(h: DatabaseHandle, schema: string | undefined): Promise<string> {
  const t0 = performance.now();
  await migrateToLatest(h.db, schema);
  const op = await ensureOperator(h.db);
  const maker = await createActor(h.db, op, { name: 'm', roles: ['MANUFACTURER'], companyPrefixes: ['4012345'] });
  const shop = await createActor(h.db, op, { name: 'r', roles: ['RETAILER'] });
  if (maker.kind !== 'ok' || shop.kind !== 'ok') throw new Error('bench actors');
  await registerProduct(h.db, maker.actor, { gtin: BENCH_GTIN, name: 'bench product' });
  const deps = benchDeps(h.db);
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
  return deps.signer.verifierKey;
}

/** Two timed audits, the recorded inputs, and the raw rates over them. */
async function measure(engine: string, h: DatabaseHandle, verifierKey: string): Promise<void> {
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
  // Interleaved rounds, the best of each: the digest as a Buffer (what a hasher returning bytes starts from) and as hex.
  const raw = { buffer: { wall: Infinity, cpu: Infinity }, hex: { wall: Infinity, cpu: Infinity } };
  for (let k = 0; k < 3; k++) {
    for (const out of ['buffer', 'hex'] as const) {
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      if (out === 'buffer') for (const b of inputs) hash('sha256', b, 'buffer');
      else for (const b of inputs) hash('sha256', b, 'hex');
      const c = process.cpuUsage(c0);
      raw[out].wall = Math.min(raw[out].wall, (performance.now() - t0) / 1000);
      raw[out].cpu = Math.min(raw[out].cpu, (c.user + c.system) / 1e6);
    }
  }
  // For scale: the same bytes as one stream (no per-input call cost).
  const s0 = performance.now();
  const stream = createHash('sha256');
  for (const b of inputs) stream.update(b);
  stream.digest();
  const streamS = (performance.now() - s0) / 1000;
  const audit = Math.min(...runs);
  const cpu = Math.min(...cpuRuns);
  const best = raw.hex.wall <= raw.buffer.wall ? raw.hex : raw.buffer;
  const mb = (n: number) => (n / 1e6).toFixed(1);
  const tag = `[audit ${engine}]`;
  console.log(`${tag} ${report.events} events, ${report.items} items, ${report.links} links; audit ${runs.map((s) => s.toFixed(2)).join(' / ')} s ` +
    `→ ${Math.round(report.events / audit)} events/s, ${mb(bytes / audit)} MB/s over ${inputs.length} hash inputs (${mb(bytes)} MB); audit CPU ${cpuRuns.map((s) => s.toFixed(2)).join(' / ')} s`);
  console.log(`${tag} raw SHA-256 (node:crypto hash(), one call per input) over the same inputs: hex digest ${raw.hex.wall.toFixed(3)} s (CPU ${raw.hex.cpu.toFixed(3)} s), ` +
    `Buffer digest ${raw.buffer.wall.toFixed(3)} s (CPU ${raw.buffer.cpu.toFixed(3)} s) → ${Math.round(report.events / best.wall)} events/s, ${mb(bytes / best.wall)} MB/s (as one stream: ${mb(bytes / streamS)} MB/s)`);
  console.log(`${tag} ratio audit/raw (target ≥ 0.3): wall ${(best.wall / audit).toFixed(3)}, CPU ${(best.cpu / cpu).toFixed(3)}; ` +
    `against the Buffer digest: wall ${(raw.buffer.wall / audit).toFixed(3)}, CPU ${(raw.buffer.cpu / cpu).toFixed(3)}; load ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
}

// PGlite: a fresh in-memory database, or the kept folder.
{
  const reuse = DIR !== undefined && existsSync(`${DIR}/PG_VERSION`) && existsSync(`${DIR}.key`);
  const h = await openPGlite(await createPGlite(DIR), DIR ?? 'memory');
  try {
    const key = reuse ? readFileSync(`${DIR}.key`, 'utf8') : await seed(h, undefined);
    if (DIR && !reuse) writeFileSync(`${DIR}.key`, key);
    await measure('PGlite', h, key);
  } finally {
    await h.close();
  }
}

// PostgreSQL: a throwaway schema, or the kept one.
const url = process.env.DATABASE_URL;
if (url) {
  const keep = DIR !== undefined;
  const schema = keep ? 'bench_audit_kept' : `bench_audit_${Date.now().toString(36)}`;
  const keyFile = `${DIR}.pg-key`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  const reuse = keep && existsSync(keyFile) && (await admin.query(`SELECT 1 FROM pg_namespace WHERE nspname = $1`, [schema])).rowCount === 1;
  if (!reuse) await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema}`);
  try {
    const h = await openPostgres(url, { schema, max: 10 });
    try {
      const key = reuse ? readFileSync(keyFile, 'utf8') : await seed(h, schema);
      if (keep && !reuse) writeFileSync(keyFile, key);
      await measure('PostgreSQL', h, key);
    } finally {
      await h.close();
    }
  } finally {
    if (!keep) await admin.query(`DROP SCHEMA ${schema} CASCADE`);
    await admin.end();
  }
}
