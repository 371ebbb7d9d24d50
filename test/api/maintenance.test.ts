import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { churnOf, keepStatistics, maintainOutgrown, noteChurn, outgrownTables } from '../../src/db/statistics.ts';
import { createTestActor, registerProductAndBatch } from '../helpers/ledger.ts';
import { startTestServer } from '../helpers/server.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/db.ts';

// Embedded PGlite has no autovacuum: the server's maintenance must VACUUM tables whose rows are rewritten (items on
// every event, pending events deleted at integration, head-map nodes), or every dead row version stays on disk.
let db: TestDatabase;
const ROWS = 2_000;

const heapPages = async (table: string) =>
  Number((await sql<{ n: number }>`SELECT (pg_relation_size(to_regclass(${table})) / current_setting('block_size')::int)::int AS n`.execute(db.db)).rows[0]!.n);

beforeAll(async () => {
  db = await openTestDatabase();
});
afterAll(async () => {
  await db?.dispose();
});

async function churnTable(name: string) {
  await sql.raw(`CREATE TABLE ${name} (id int PRIMARY KEY, v text NOT NULL)`).execute(db.db);
  await sql.raw(`INSERT INTO ${name} SELECT g, repeat('x', 100) FROM generate_series(1, ${ROWS}) g`).execute(db.db);
  await maintainOutgrown(db.db);
  return heapPages(name);
}

describe('maintenance of the embedded database', () => {
  it('VACUUMs a table once the dead row versions reported for it reach a fifth of its rows: six rewrites of every row do not multiply its size', async () => {
    const live = await churnTable('churn_direct');
    for (let round = 1; round <= 6; round++) {
      await sql.raw(`UPDATE churn_direct SET v = repeat('${round}', 100)`).execute(db.db);
      noteChurn(db.db, { churn_direct: ROWS });
      expect(await maintainOutgrown(db.db), `round ${round}`).toContain('churn_direct');
    }
    // One round of dead versions at most (each VACUUM frees the previous round's for the next): ≈ 2× the live rows.
    // Without VACUUM the heap holds all seven versions of every row.
    expect(await heapPages('churn_direct')).toBeLessThanOrEqual(live * 2.5);
    expect(await outgrownTables(db.db)).toEqual([]);
  });

  it('the keeper the server runs on PGlite does it by itself within its check interval', async () => {
    const live = await churnTable('churn_keeper');
    const keeper = keepStatistics(db.db, { checkIntervalMs: 50, intervalMs: 0, onError: (e) => console.error('maintenance failed', e) });
    try {
      for (let round = 1; round <= 6; round++) {
        await sql.raw(`UPDATE churn_keeper SET v = repeat('${round}', 100)`).execute(db.db);
        noteChurn(db.db, { churn_keeper: ROWS });
        const deadline = Date.now() + 10_000;
        while (churnOf(db.db, 'churn_keeper') > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        expect(churnOf(db.db, 'churn_keeper'), `round ${round}`).toBe(0);
      }
    } finally {
      keeper.stop();
    }
    expect(await heapPages('churn_keeper')).toBeLessThanOrEqual(live * 2.5);
  });

  it('the integrator reports the item versions a batch leaves, so the items table gets VACUUMed', async () => {
    const srv = await startTestServer(db);
    try {
      const maker = await createTestActor(srv, 'Maintenance Maker', ['MANUFACTURER'], ['4012345']);
      const before = churnOf(db.db, 'items');
      const r = await registerProductAndBatch(srv, maker, { gtin: '04012345777710', lot: 'M1', range: { count: 1_500, firstSerial: 'M0001' } });
      expect(r.__typename).toBe('RegisterBatchSuccess');
      expect(churnOf(db.db, 'items') - before).toBe(1_500);
      expect(churnOf(db.db, 'pending_events')).toBeGreaterThan(0);
      expect(await maintainOutgrown(db.db)).toContain('items');
      expect(churnOf(db.db, 'items')).toBe(0);
    } finally {
      await srv.close();
    }
  });
});
