/**
 * Benchmark: work that must stay linear in the items of one event, and lookups that must stay point queries.
 * Registers one batch of BENCH_ITEMS serials (default 100,000), then times: an SGTIN lookup, `recallBatch` over the
 * whole batch (one RECALL event), and `provenant audit` of the ledger (two events of N links each).
 * Runs on in-memory PGlite, and on PostgreSQL too when DATABASE_URL is set.
 *   node bin/run-ts.mjs bench/ledger-costs.ts
 */
import { ensureOperator } from '../src/db/actors.ts';
import { migrateToLatest } from '../src/db/migrator.ts';
import { findItemsByGtinSerial } from '../src/db/ledger.ts';
import { keepStatistics } from '../src/db/statistics.ts';
import { auditLedger } from '../src/services/audit.ts';
import { createActor } from '../src/services/create-actor.ts';
import { recallBatch } from '../src/services/recall-batch.ts';
import { registerBatch } from '../src/services/register-batch.ts';
import { registerProduct } from '../src/services/register-product.ts';
import { benchDeps, onEachDatabase } from './harness.ts';

const N = Number(process.env.BENCH_ITEMS ?? 100_000);
const GTIN = '04012345111118';

async function timed<T>(f: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const r = await f();
  return [r, performance.now() - t0];
}

await onEachDatabase(async (engine, h, schema) => {
  await migrateToLatest(h.db, schema);
  const operator = await ensureOperator(h.db);
  const maker = await createActor(h.db, operator, { name: 'Bench maker', roles: ['MANUFACTURER'], companyPrefixes: ['4012345'] });
  if (maker.kind !== 'ok') throw new Error(JSON.stringify(maker));
  const p = await registerProduct(h.db, maker.actor, { gtin: GTIN, name: 'Bench product' });
  if (p.kind !== 'ok') throw new Error(JSON.stringify(p));
  // As the server does on embedded PGlite: ANALYZE after bulk writes (PostgreSQL's autovacuum does it there).
  const statistics = engine === 'PGlite' ? keepStatistics(h.db) : null;
  const deps = benchDeps(h.db);
  const [reg, registerMs] = await timed(() =>
    registerBatch(deps, maker.actor, { gtin: GTIN, lot: 'COSTS', producedAt: new Date().toISOString(), site: 'bench', range: { count: N, firstSerial: 'S0000001' } }));
  if (reg.kind !== 'ok') throw new Error(JSON.stringify(reg));
  await statistics?.analyzeNow();
  const lookups = 200;
  const [, lookupMs] = await timed(async () => {
    for (let i = 0; i < lookups; i++) await findItemsByGtinSerial(h.db, [{ gtin: GTIN, serial: `S${String(1 + ((i * 7919) % N)).padStart(7, '0')}` }]);
  });
  const [recall, recallMs] = await timed(() => recallBatch(deps, maker.actor, { gtin: GTIN, lot: 'COSTS', reason: 'bench' }));
  if (recall.kind !== 'ok') throw new Error(JSON.stringify(recall));
  const [audit, auditMs] = await timed(() => auditLedger(h.db, deps.signer.verifierKey));
  if (audit.discrepancies.length > 0) throw new Error(audit.discrepancies.join('\n'));
  console.log(`[ledger-costs ${engine}] ${N} items: registerBatch ${(registerMs / 1000).toFixed(2)} s, SGTIN lookup ${(lookupMs / lookups).toFixed(2)} ms each, ` +
    `recallBatch ${(recallMs / 1000).toFixed(2)} s, audit (${audit.links} links) ${(auditMs / 1000).toFixed(2)} s`);
  statistics?.stop();
});
