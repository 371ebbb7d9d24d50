import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existingSerialsSql, itemsByGtinSerialSql } from '../../src/db/ledger.ts';
import { keepStatistics, type StatisticsKeeper } from '../../src/db/statistics.ts';
import { auditLedger } from '../../src/services/audit.ts';
import { groupByCustodian } from '../../src/services/recall-batch.ts';
import type { ItemRow } from '../../src/db/types.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { createTestActor, registerProductAndBatch, type TestActor } from '../helpers/ledger.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

// Costs that must not grow with the ledger: point lookups, planner statistics, linear recall and audit.
let db: TestDatabase;
let srv: TestServer;
let maker: TestActor;
let keeper: StatisticsKeeper;
let tuplesAfterMigration: number;
const GTIN = '04012345111118';
const N = 10_000;

/** The planner's row estimate for a table of this test's schema (-1: never analyzed). */
const reltuples = async (table: string) =>
  Number((await sql<{ n: number }>`SELECT reltuples::float8 AS n FROM pg_class WHERE oid = to_regclass(${table})`.execute(db.db)).rows[0]!.n);

beforeAll(async () => {
  db = await openTestDatabase();
  tuplesAfterMigration = await reltuples('items');
  // What the server does on embedded PGlite (src/server/main.ts), checking more often than its 5 s default.
  keeper = keepStatistics(db.db, { checkIntervalMs: 100, intervalMs: 0, onError: (e) => console.error('ANALYZE failed', e) });
  srv = await startTestServer(db);
  maker = await createTestActor(srv, 'Maker', ['MANUFACTURER'], ['4012345']);
  const r = await registerProductAndBatch(srv, maker, { gtin: GTIN, lot: 'BIG', range: { count: N, firstSerial: 'S00001' } });
  expect(r.__typename).toBe('RegisterBatchSuccess');
}, 120_000);
afterAll(async () => {
  keeper?.stop();
  await srv?.close();
  await db?.dispose();
});

describe('planner statistics on the embedded database', () => {
  it('exist after migrations and are refreshed after a bulk register', async () => {
    expect(tuplesAfterMigration).toBe(0); // analyzed (empty), not -1 (never analyzed)
    const deadline = Date.now() + 10_000;
    // Both tables within the keeper's check interval (on PostgreSQL autovacuum may refresh one of them first).
    while (((await reltuples('items')) < N * 0.95 || (await reltuples('chain_links')) < N * 0.95) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    // Exactly N after the keeper's ANALYZE; on PostgreSQL autovacuum may have refreshed it first from a VACUUM's
    // extrapolation, which is within a few rows of it.
    expect(Math.abs((await reltuples('items')) - N)).toBeLessThanOrEqual(N * 0.05);
    expect(await reltuples('chain_links')).toBeGreaterThanOrEqual(N * 0.95);
  });
});

describe('item lookup by SGTIN', () => {
  it('is an index point query on both (gtin, serial) columns', async () => {
    const explained = await sql<Record<string, string>>`EXPLAIN ${itemsByGtinSerialSql([{ gtin: GTIN, serial: 'S05000' }])}`.execute(db.db);
    const text = explained.rows.map((r) => Object.values(r)[0]).join('\n');
    expect(text).toMatch(/Index Scan using items_gtin_serial_key on items/);
    const cond = /Index Cond: \((.*)\)/.exec(text)?.[1] ?? '';
    expect(cond).toMatch(/gtin = /);
    expect(cond).toMatch(/serial = /);
    expect(text).not.toMatch(/Seq Scan on items/);
  });

  it('the duplicate-serial check of registerBatch is an index query on both columns too', async () => {
    const explained = await sql<Record<string, string>>`EXPLAIN ${existingSerialsSql(GTIN, ['S00001', 'S09999', 'NOPE'])}`.execute(db.db);
    const text = explained.rows.map((r) => Object.values(r)[0]).join('\n');
    // An index scan, or a bitmap scan of the same index (PostgreSQL picks either for a few keys, by its statistics).
    expect(text).toMatch(/Index (Only )?Scan using items_gtin_serial_key on items|Bitmap Index Scan on items_gtin_serial_key/);
    const cond = /Index Cond: \((.*)\)/.exec(text)?.[1] ?? '';
    expect(cond).toMatch(/gtin = /);
    expect(cond).toMatch(/serial = ANY/);
  });
});

describe('work linear in the items of one event', () => {
  it(`recalls a ${N}-item batch grouped by custodian and audits it clean (timings logged; bench/ledger-costs.ts runs 100k)`, async () => {
    let t0 = performance.now();
    const { body } = await srv.gql(
      `mutation($i: RecallBatchInput!) { recallBatch(input: $i) { __typename ... on RecallBatchSuccess { event { itemCount } custodians { itemCount } } } }`,
      { i: { gtin: GTIN, lot: 'BIG', reason: 'test' } }, maker.key,
    );
    const recallMs = performance.now() - t0;
    expect(body.data.recallBatch).toMatchObject({ __typename: 'RecallBatchSuccess', event: { itemCount: N }, custodians: [{ itemCount: N }] });
    t0 = performance.now();
    const report = await auditLedger(db.db, srv.signer.verifierKey);
    const auditMs = performance.now() - t0;
    console.log(`[ledger-costs ${db.engine}] recall ${N} items: ${recallMs.toFixed(0)} ms, audit ${report.links} links: ${auditMs.toFixed(0)} ms`);
    expect(report).toMatchObject({ discrepancies: [], links: 2 * N, items: N });
    // Generous bounds for a shared 2-core machine; the quadratic versions took ~0.7 s (audit) per 10k² / 2 copies alone.
    expect(recallMs).toBeLessThan(15_000);
    expect(auditMs).toBeLessThan(15_000);
  }, 60_000);
});

describe('recall grouping', () => {
  it('groups 100,000 items by custodian in linear time (the per-item list copy took tens of seconds)', () => {
    const items = Array.from({ length: 100_000 }, (_, i) => ({ id: String(i), custodian_id: i % 10 === 0 ? 'b' : 'a' }) as ItemRow);
    const t0 = performance.now();
    const groups = groupByCustodian(items);
    expect(performance.now() - t0).toBeLessThan(1_000);
    expect(groups.map((g) => [g.custodianId, g.items.length])).toEqual([['a', 90_000], ['b', 10_000]]);
    expect(groups[1]!.items[0]!.id).toBe('0');
  });
});
