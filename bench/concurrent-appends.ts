/**
 * Benchmark: single-item event writes through the service layer under concurrent writers (each returns once its event
 * is integrated into the log: group-commit sequencer), against a baseline of plain single-row INSERT transactions at
 * the same concurrency on the same database. Prints events/s per concurrency level, the ratio, the p50/p99 time from
 * call to integrated write, how many events each signed checkpoint covered on average, and this process's CPU time
 * per event (PGlite runs in it; PostgreSQL's own CPU is not counted), the figure to compare on a shared machine.
 *   DATABASE_URL=postgres://… node bin/run-ts.mjs bench/concurrent-appends.ts   (PGlite only when unset)
 * BENCH_EVENTS (default 2000) events per level.
 */
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { sql } from 'kysely';
import { ensureOperator } from '../src/db/actors.ts';
import type { DatabaseHandle } from '../src/db/connection.ts';
import { migrateToLatest } from '../src/db/migrator.ts';
import { createActor } from '../src/services/create-actor.ts';
import { recordEvent } from '../src/services/record-event.ts';
import { registerBatch } from '../src/services/register-batch.ts';
import { registerProduct } from '../src/services/register-product.ts';
import { benchDeps, onEachDatabase } from './harness.ts';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 2000);

async function pool<T>(n: number, total: number, task: (i: number) => Promise<T>): Promise<{ rate: number; p50: number; p99: number; cpuUs: number }> {
  let next = 0;
  const latencies: number[] = [];
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < total) {
      const s = performance.now();
      await task(next++);
      latencies.push(performance.now() - s);
    }
  }));
  const rate = total / ((performance.now() - t0) / 1000);
  const cpu = process.cpuUsage(cpu0);
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!;
  return { rate, p50: at(0.5), p99: at(0.99), cpuUs: (cpu.user + cpu.system) / total };
}

async function run(label: string, h: DatabaseHandle, schema: string | undefined, levels: number[]) {
  await migrateToLatest(h.db, schema);
  await sql`CREATE TABLE bench_single (id bigserial PRIMARY KEY, payload jsonb NOT NULL, hash bytea NOT NULL)`.execute(h.db);
  const op = await ensureOperator(h.db);
  const maker = await createActor(h.db, op, { name: 'm', roles: ['MANUFACTURER'], companyPrefixes: ['4012345'] });
  if (maker.kind !== 'ok') throw new Error('actor');
  await registerProduct(h.db, maker.actor, { gtin: '04012345111118', name: 'p' });
  const deps = benchDeps(h.db);
  const total = EVENTS * levels.length;
  const b = await registerBatch(deps, maker.actor, { gtin: '04012345111118', lot: 'C1', producedAt: new Date().toISOString(), site: 's', range: { count: total, firstSerial: 'S0000001' } });
  if (b.kind !== 'ok') throw new Error(JSON.stringify(b));
  let serial = 1;
  for (const n of levels) {
    const cpBefore = Number((await sql<{ n: number }>`SELECT count(*)::int AS n FROM checkpoints`.execute(h.db)).rows[0]!.n);
    const ledger = await pool(n, EVENTS, async () => {
      const s = `S${String(serial++).padStart(7, '0')}`;
      const r = await recordEvent(deps, maker.actor, { kind: 'DESTROY', items: { refs: [{ kind: 'sgtin', value: `urn:epc:id:sgtin:4012345.011111.${s}` }] }, occurredAt: new Date().toISOString(), data: {} });
      if (r.kind !== 'ok') throw new Error(JSON.stringify(r));
    });
    const payload = JSON.stringify({ kind: 'DESTROY', items: ['urn:epc:id:sgtin:4012345.011111.S0000001'], at: new Date().toISOString() });
    const raw = await pool(n, EVENTS, async () => {
      await h.db.transaction().execute(async (trx) => {
        await sql`INSERT INTO bench_single (payload, hash) VALUES (${payload}::jsonb, ${randomBytes(32)})`.execute(trx);
      });
    });
    const cps = Number((await sql<{ n: number }>`SELECT count(*)::int AS n FROM checkpoints`.execute(h.db)).rows[0]!.n) - cpBefore;
    console.log(
      `${label}, ${n} writer(s): ledger ${Math.round(ledger.rate)} events/s (p50 ${ledger.p50.toFixed(1)} ms, p99 ${ledger.p99.toFixed(1)} ms to an integrated write; ` +
        `${(EVENTS / cps).toFixed(1)} events per checkpoint; process CPU ${Math.round(ledger.cpuUs)} µs/event); single-row insert transactions ${Math.round(raw.rate)}/s ` +
        `(${Math.round(raw.cpuUs)} µs/insert); ratio ${(ledger.rate / raw.rate).toFixed(2)}`,
    );
  }
}

console.log(`concurrent appends, ${EVENTS} events per level, node ${process.version}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
await onEachDatabase((engine, h, schema) => run(engine, h, schema, engine === 'PGlite' ? [1, 8] : [1, 8, 32]), 32);
