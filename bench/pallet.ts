/**
 * Benchmark: a pallet of 10,000 items (ten cases of 1,000) packed, shipped and received — one call each — through
 * the services, against a raw multi-row insert of 10,000 chain-link-shaped rows on the same database.
 *   node bin/run-ts.mjs bench/pallet.ts          (PGlite; also PostgreSQL when DATABASE_URL is set)
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { ensureOperator } from '../src/db/actors.ts';
import type { DatabaseHandle } from '../src/db/connection.ts';
import { migrateToLatest } from '../src/db/migrator.ts';
import { createActor } from '../src/services/create-actor.ts';
import { packItems } from '../src/services/pack-items.ts';
import { recordEvent } from '../src/services/record-event.ts';
import { registerBatch } from '../src/services/register-batch.ts';
import { registerProduct } from '../src/services/register-product.ts';
import { benchDeps, onEachDatabase } from './harness.ts';

const N = 10_000;
const PALLET = '340123450000000093';
const CASES = Array.from({ length: 10 }, (_, i) => {
  const body = `3401234500000${String(100 + i).padStart(4, '0')}`;
  let sum = 0;
  for (let j = body.length - 1, w = 3; j >= 0; j--, w = 4 - w) sum += Number(body[j]) * w;
  return body + ((10 - (sum % 10)) % 10);
});

const time = async <T>(f: () => Promise<T>): Promise<[T, number]> => {
  const t0 = performance.now();
  const r = await f();
  return [r, (performance.now() - t0) / 1000];
};
const must = <T extends { kind: string }>(r: T): Extract<T, { kind: 'ok' }> => {
  if (r.kind !== 'ok') throw new Error(JSON.stringify(r).slice(0, 500));
  return r as Extract<T, { kind: 'ok' }>;
};

async function run(label: string, h: DatabaseHandle, schema?: string) {
  await migrateToLatest(h.db, schema);
  await sql`CREATE TABLE bench_links (item_id uuid, seq int, event_id uuid, prev_hash bytea, hash bytea, PRIMARY KEY (item_id, seq))`.execute(h.db);
  const op = await ensureOperator(h.db);
  const maker = must(await createActor(h.db, op, { name: 'm', roles: ['MANUFACTURER'], companyPrefixes: ['4012345'] }));
  const dist = must(await createActor(h.db, op, { name: 'd', roles: ['DISTRIBUTOR'] }));
  must(await registerProduct(h.db, maker.actor, { gtin: '04012345111118', name: 'p' }));
  const deps = benchDeps(h.db);
  const at = () => new Date().toISOString();
  must(await registerBatch(deps, maker.actor, { gtin: '04012345111118', lot: 'P1', producedAt: at(), site: 's', range: { count: N, firstSerial: 'S00001' } }));
  const urn = (i: number) => ({ kind: 'sgtin' as const, value: `urn:epc:id:sgtin:4012345.011111.S${String(i + 1).padStart(5, '0')}` });
  const [, packCases] = await time(async () => {
    for (let c = 0; c < 10; c++) must(await packItems(deps, maker.actor, { container: CASES[c]!, items: Array.from({ length: N / 10 }, (_, i) => urn(c * (N / 10) + i)), occurredAt: at() }));
  });
  const [, packPallet] = await time(async () => must(await packItems(deps, maker.actor, { container: PALLET, items: [], containers: CASES, occurredAt: at() })));
  const [, ship] = await time(async () => must(await recordEvent(deps, maker.actor, { kind: 'SHIP', items: { containers: [PALLET] }, counterpartyId: dist.actor.id, occurredAt: at() })));
  const [, receive] = await time(async () => must(await recordEvent(deps, dist.actor, { kind: 'RECEIVE', items: { containers: [PALLET] }, occurredAt: at() })));
  const hash = new Uint8Array(randomBytes(32));
  const eventId = randomUUID();
  const [, raw] = await time(() =>
    h.db.transaction().execute(async (trx) => {
      for (let i = 0; i < N; i += 1000) {
        const rows = Array.from({ length: 1000 }, () => sql`(${randomUUID()}, 1, ${eventId}, ${hash}, ${hash})`);
        await sql`INSERT INTO bench_links VALUES ${sql.join(rows)}`.execute(trx);
      }
    }),
  );
  const rate = (s: number) => `${s.toFixed(2)} s (${Math.round(N / s).toLocaleString('en')} items/s)`;
  console.log(`${label}: pack 10 cases of 1,000 ${rate(packCases)}; pack cases into pallet ${rate(packPallet)}; ship pallet ${rate(ship)}; receive pallet ${rate(receive)}; raw insert of 10,000 link rows ${rate(raw)}; ship ÷ raw ${(raw / ship).toFixed(2)}, receive ÷ raw ${(raw / receive).toFixed(2)}`);
}

console.log(`pallet bench, ${N.toLocaleString('en')} items, node ${process.version}`);
await onEachDatabase((engine, h, schema) => run(engine, h, schema));
