import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { itemsByGtinSerialSql } from '../../src/db/ledger.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { createTestActor, registerProductAndBatch, type TestActor } from '../helpers/ledger.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

// Costs that must not grow with the ledger: point lookups, planner statistics, linear recall and audit.
let db: TestDatabase;
let srv: TestServer;
let maker: TestActor;
const GTIN = '04012345111118';
const N = 10_000;

beforeAll(async () => {
  db = await openTestDatabase();
  srv = await startTestServer(db);
  maker = await createTestActor(srv, 'Maker', ['MANUFACTURER'], ['4012345']);
  const r = await registerProductAndBatch(srv, maker, { gtin: GTIN, lot: 'BIG', range: { count: N, firstSerial: 'S00001' } });
  expect(r.__typename).toBe('RegisterBatchSuccess');
}, 120_000);
afterAll(async () => {
  await srv?.close();
  await db?.dispose();
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
});
