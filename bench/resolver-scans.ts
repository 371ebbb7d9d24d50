/**
 * Benchmark: writing resolver scan counts one upsert per hit against the in-memory buffer the resolver uses (one
 * upsert of merged keys per flush), for 2,000 hits over 20 products × 3 countries on one day.
 *   node bin/run-ts.mjs bench/resolver-scans.ts          (PGlite; also PostgreSQL when DATABASE_URL is set)
 */
import { ensureOperator } from '../src/db/actors.ts';
import type { DatabaseHandle } from '../src/db/connection.ts';
import { insertProduct } from '../src/db/ledger.ts';
import { addScanCounts } from '../src/db/links.ts';
import { migrateToLatest } from '../src/db/migrator.ts';
import { flushScanCounts, scanCounterFor } from '../src/services/scan-counter.ts';
import { gs1CheckDigit } from '../src/core/identifiers.ts';
import { onEachDatabase } from './harness.ts';

const HITS = 2000;
const gtins = Array.from({ length: 20 }, (_, i) => {
  const body = `04012345${String(10_000 + i).padStart(5, '0')}`;
  return body + gs1CheckDigit(body);
});
const countries = ['DE', 'FR', 'unknown'];

async function run(label: string, h: DatabaseHandle, schema?: string) {
  await migrateToLatest(h.db, schema);
  const op = await ensureOperator(h.db);
  for (const gtin of gtins) await insertProduct(h.db, { gtin, ownerId: op.id, name: gtin, attributes: {} });
  const hit = (i: number) => ({ gtin: gtins[i % gtins.length]!, day: '2026-03-01', country: countries[i % 3]!, count: 1 });

  let t0 = performance.now();
  for (let i = 0; i < HITS; i++) await addScanCounts(h.db, [hit(i)]);
  const perHit = (performance.now() - t0) / 1000;

  const counter = scanCounterFor(h.db);
  t0 = performance.now();
  for (let i = 0; i < HITS; i++) {
    const d = hit(i);
    counter.add(d.gtin, d.day, d.country);
  }
  await flushScanCounts(h.db);
  const buffered = (performance.now() - t0) / 1000;
  const total = await h.db.selectFrom('scan_counts').select((eb) => eb.fn.sum<string>('count').as('n')).executeTakeFirstOrThrow();
  if (Number(total.n) !== 2 * HITS) throw new Error(`expected ${2 * HITS} scans, counted ${total.n}`);
  console.log(`${label}: ${HITS} hits — one upsert per hit ${perHit.toFixed(2)} s (${Math.round(HITS / perHit)}/s); buffered, one upsert per flush ${(buffered * 1000).toFixed(1)} ms`);
}

await onEachDatabase((engine, handle, schema) => run(engine, handle, schema));
