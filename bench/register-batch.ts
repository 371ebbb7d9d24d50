/**
 * Benchmark: registerBatch of 100,000 serials vs a raw multi-row insert of 100,000 equally shaped rows into a bare
 * table on the same database, in the same run. Prints both rates and their ratio (target ≥ 0.5).
 * Runs on in-memory PGlite, and on PostgreSQL too when DATABASE_URL is set.
 *   npm run bench                 # PGlite
 *   DATABASE_URL=postgres://… npm run bench
 * BENCH_ITEMS overrides the item count (default 100000).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { ensureOperator } from '../src/db/actors.ts';
import type { DatabaseHandle } from '../src/db/connection.ts';
import { migrateToLatest } from '../src/db/migrator.ts';
import { createActor } from '../src/services/create-actor.ts';
import { registerBatch } from '../src/services/register-batch.ts';
import { registerProduct } from '../src/services/register-product.ts';
import { benchDeps, onEachDatabase } from './harness.ts';

const N = Number(process.env.BENCH_ITEMS ?? 100_000);
const ROWS_PER_STATEMENT = 1_000;

async function baseline(h: DatabaseHandle): Promise<number> {
  await sql`CREATE TABLE bench_raw (id uuid PRIMARY KEY, batch_id uuid NOT NULL, gtin char(14) NOT NULL, serial text NOT NULL,
    sgtin text NOT NULL, stage text NOT NULL, custodian_id uuid NOT NULL, head_seq int NOT NULL, head_hash bytea NOT NULL)`.execute(h.db);
  const batchId = randomUUID();
  const custodian = randomUUID();
  const hash = new Uint8Array(randomBytes(32));
  const t0 = performance.now();
  await h.db.transaction().execute(async (trx) => {
    for (let i = 0; i < N; i += ROWS_PER_STATEMENT) {
      const rows = [];
      for (let j = i; j < Math.min(N, i + ROWS_PER_STATEMENT); j++) {
        const serial = `B${String(j).padStart(7, '0')}`;
        rows.push(sql`(${randomUUID()}, ${batchId}, '04012345111118', ${serial}, ${'urn:epc:id:sgtin:4012345.011111.' + serial}, 'MANUFACTURED', ${custodian}, 0, ${hash})`);
      }
      await sql`INSERT INTO bench_raw (id, batch_id, gtin, serial, sgtin, stage, custodian_id, head_seq, head_hash) VALUES ${sql.join(rows)}`.execute(trx);
    }
  });
  return N / ((performance.now() - t0) / 1000);
}

async function ledger(h: DatabaseHandle): Promise<number> {
  const operator = await ensureOperator(h.db);
  const maker = await createActor(h.db, operator, { name: 'Bench maker', roles: ['MANUFACTURER'], companyPrefixes: ['4012345'] });
  if (maker.kind !== 'ok') throw new Error(JSON.stringify(maker));
  const p = await registerProduct(h.db, maker.actor, { gtin: '04012345111118', name: 'Bench product' });
  if (p.kind !== 'ok') throw new Error(JSON.stringify(p));
  const deps = benchDeps(h.db);
  const t0 = performance.now();
  const r = await registerBatch(deps, maker.actor, { gtin: '04012345111118', lot: 'BENCH1', producedAt: new Date().toISOString(), site: 'bench', range: { count: N, firstSerial: 'S0000001' } });
  const seconds = (performance.now() - t0) / 1000;
  if (r.kind !== 'ok') throw new Error(JSON.stringify(r));
  const n = await h.db.selectFrom('chain_links').select(h.db.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  if (Number(n.n) !== N) throw new Error(`expected ${N} links, found ${n.n}`);
  return N / seconds;
}

console.log(`registerBatch bench, ${N.toLocaleString('en')} serials, node ${process.version}`);
await onEachDatabase(async (engine, h, schema) => {
  await migrateToLatest(h.db, schema);
  const raw = await baseline(h);
  const led = await ledger(h);
  const label = engine === 'PGlite' ? 'PGlite (in memory)' : engine;
  console.log(`${label}: raw multi-row insert ${Math.round(raw).toLocaleString('en')} rows/s; registerBatch ${Math.round(led).toLocaleString('en')} items/s; ratio ${(led / raw).toFixed(2)} (target ≥ 0.5)`);
});
