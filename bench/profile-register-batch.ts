/**
 * Where registerBatch's time goes: one registerBatch of BENCH_ITEMS serials (default 100,000) with every statement
 * timed (a Kysely plugin: from compile to result, so JavaScript run between sending a statement and awaiting it counts
 * too), grouped by its first words, and the CPU of this process and (PostgreSQL on this machine) of the database's
 * server processes. The rest of the wall time is JavaScript, commits and waiting for a CPU.
 *   node bin/run-ts.mjs bench/profile-register-batch.ts            # PGlite
 *   DATABASE_URL=postgres://… node bin/run-ts.mjs bench/profile-register-batch.ts
 * CPU_PROFILE=/tmp/rb writes a V8 CPU profile of the call per engine (/tmp/rb-PGlite.cpuprofile, …); RAW_FIRST=1
 * inserts 100,000 rows into a bare table first (as the bench's baseline does).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { type KyselyPlugin, type RootOperationNode, sql } from 'kysely';
import { ensureOperator } from '../src/db/actors.ts';
import { migrateToLatest } from '../src/db/migrator.ts';
import { createActor } from '../src/services/create-actor.ts';
import { registerBatch } from '../src/services/register-batch.ts';
import { registerProduct } from '../src/services/register-product.ts';
import { benchDeps, onEachDatabase } from './harness.ts';

const N = Number(process.env.BENCH_ITEMS ?? 100_000);

function timer() {
  const started = new Map<unknown, { t: number; label: string }>();
  const totals = new Map<string, { ms: number; n: number }>();
  const labelOf = (node: RootOperationNode): string => {
    const raw = node.kind === 'RawNode' ? (node as unknown as { sqlFragments: string[] }).sqlFragments.join('?') : node.kind;
    return raw.replace(/\s+/g, ' ').trim().slice(0, 70);
  };
  const plugin: KyselyPlugin = {
    transformQuery: (args) => {
      started.set(args.queryId, { t: performance.now(), label: labelOf(args.node) });
      return args.node;
    },
    transformResult: async (args) => {
      const s = started.get(args.queryId);
      if (s) {
        const tot = totals.get(s.label) ?? { ms: 0, n: 0 };
        tot.ms += performance.now() - s.t;
        tot.n++;
        totals.set(s.label, tot);
      }
      return args.result;
    },
  };
  return { plugin, totals };
}

/** CPU ms so far of each server process serving this database (PostgreSQL on this machine; empty when not readable). */
async function backendCpu(h: { db: import('kysely').Kysely<any> }): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  const rows = await sql<{ pid: number }>`SELECT pid FROM pg_stat_activity WHERE datname = current_database()`.execute(h.db);
  for (const { pid } of rows.rows) {
    try {
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      out.set(pid, ((Number(f[11]) + Number(f[12])) * 1000) / 100);
    } catch {
      // not on this machine
    }
  }
  return out;
}

await onEachDatabase(async (engine, h, schema) => {
  await migrateToLatest(h.db, schema);
  const operator = await ensureOperator(h.db);
  const maker = await createActor(h.db, operator, { name: 'Bench maker', roles: ['MANUFACTURER'], companyPrefixes: ['4012345'] });
  if (maker.kind !== 'ok') throw new Error(JSON.stringify(maker));
  await registerProduct(h.db, maker.actor, { gtin: '04012345111118', name: 'Bench product' });
  if (process.env.RAW_FIRST) {
    await sql`CREATE TABLE bench_raw (id uuid PRIMARY KEY, serial text NOT NULL)`.execute(h.db);
    await sql`INSERT INTO bench_raw SELECT gen_random_uuid(), 'S' || g FROM generate_series(1, ${N}::int) g`.execute(h.db);
  }
  const t = timer();
  const deps = benchDeps(h.db.withPlugin(t.plugin));
  const session = process.env.CPU_PROFILE ? new Session() : undefined;
  if (session) {
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
  }
  const b0 = engine === 'PostgreSQL' ? await backendCpu(h) : new Map<number, number>();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await registerBatch(deps, maker.actor, { gtin: '04012345111118', lot: 'P1', producedAt: new Date().toISOString(), site: 'bench', range: { count: N, firstSerial: 'S0000001' } });
  const total = performance.now() - t0;
  const cpu = process.cpuUsage(c0);
  let serverMs = 0;
  if (engine === 'PostgreSQL') for (const [pid, ms] of await backendCpu(h)) serverMs += ms - (b0.get(pid) ?? 0);
  if (session) {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(`${process.env.CPU_PROFILE}-${engine}.cpuprofile`, JSON.stringify(profile));
    session.disconnect();
  }
  if (r.kind !== 'ok') throw new Error(JSON.stringify(r));
  let sqlMs = 0;
  console.log(`${engine}: registerBatch of ${N} in ${total.toFixed(0)} ms; this process's CPU ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms${engine === 'PostgreSQL' ? `, its server processes' CPU ${serverMs.toFixed(0)} ms` : ''}`);
  for (const [label, v] of [...t.totals].sort((a, b) => b[1].ms - a[1].ms)) {
    sqlMs += v.ms;
    if (v.ms > 20) console.log(`  ${v.ms.toFixed(0).padStart(6)} ms ${String(v.n).padStart(4)}× ${label}`);
  }
  console.log(`  statements ${sqlMs.toFixed(0)} ms, the rest ${(total - sqlMs).toFixed(0)} ms`);
});
