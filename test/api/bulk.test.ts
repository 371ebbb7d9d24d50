import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { createTestActor, lifecycle, minutesAgo, registerProductAndBatch, type TestActor } from '../helpers/ledger.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

// 100,000 serials in one call, over HTTP, end to end. CI has 2 cores: keep the timeouts generous.
const N = 100_000;
const BULK_TIMEOUT = 180_000;
const GTIN = '04012345111118';
const LOT = 'BULK1';
const sgtin = (serial: string) => `urn:epc:id:sgtin:4012345.011111.${serial}`;

let db: TestDatabase;
let srv: TestServer;
let maker: TestActor, dist: TestActor;
let batchId: string;

async function seconds<T>(label: string, f: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    return await f();
  } finally {
    console.log(`[bulk ${db.engine}] ${label}: ${((performance.now() - t0) / 1000).toFixed(2)} s`);
  }
}

/** Rows of the bulk batch, its chain links by seq and item stage, and the log size. */
async function counts() {
  const r = await sql<{ items: number; links: number; links_seq0: number; links_seq1: number; events: number; size: number }>`
    SELECT (SELECT count(*)::int FROM items i JOIN batches b ON b.id = i.batch_id WHERE b.gtin = ${GTIN} AND b.lot = ${LOT}) AS items,
           (SELECT count(*)::int FROM chain_links l JOIN items i ON i.id = l.item_id JOIN batches b ON b.id = i.batch_id WHERE b.gtin = ${GTIN} AND b.lot = ${LOT}) AS links,
           (SELECT count(*)::int FROM chain_links l JOIN items i ON i.id = l.item_id JOIN batches b ON b.id = i.batch_id WHERE b.gtin = ${GTIN} AND b.lot = ${LOT} AND l.seq = 0) AS links_seq0,
           (SELECT count(*)::int FROM chain_links l JOIN items i ON i.id = l.item_id JOIN batches b ON b.id = i.batch_id WHERE b.gtin = ${GTIN} AND b.lot = ${LOT} AND l.seq = 1) AS links_seq1,
           (SELECT count(*)::int FROM events) AS events,
           (SELECT size::int FROM log_state) AS size`.execute(db.db);
  return r.rows[0]!;
}

async function totals() {
  const r = await sql<{ items: number; links: number; batches: number; events: number; size: number }>`
    SELECT (SELECT count(*)::int FROM items) AS items, (SELECT count(*)::int FROM chain_links) AS links,
           (SELECT count(*)::int FROM batches) AS batches, (SELECT count(*)::int FROM events) AS events,
           (SELECT size::int FROM log_state) AS size`.execute(db.db);
  return r.rows[0]!;
}

async function item(serial: string) {
  const { body } = await srv.gql(
    `query($s: String!) { item(sgtin: $s) { serial sgtin stage chainLength custodian { name } batch { lot } verification { valid length reason } } }`,
    { s: sgtin(serial) },
    maker.key,
  );
  expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
  return body.data.item;
}

beforeAll(async () => {
  db = await openTestDatabase();
  srv = await startTestServer(db);
  maker = await createTestActor(srv, 'Bulk maker', ['MANUFACTURER'], ['4012345']);
  dist = await createTestActor(srv, 'Bulk dist', ['DISTRIBUTOR']);
});
afterAll(async () => {
  await srv?.close();
  await db?.dispose();
});

describe('registerBatch with 100,000 serials over HTTP', () => {
  it('commissions exactly 100,000 items in one call: one COMMISSION event, one seq-0 link per item, log grows by 1', { timeout: BULK_TIMEOUT }, async () => {
    const before = await totals();
    const b = await seconds(`registerBatch ${N.toLocaleString('en')} serials (HTTP round trip)`, () =>
      registerProductAndBatch(srv, maker, { gtin: GTIN, lot: LOT, range: { count: N, firstSerial: 'S000001' }, producedAt: minutesAgo(30) }),
    );
    expect(b.__typename, JSON.stringify(b)).toBe('RegisterBatchSuccess');
    expect(b.batch.lot).toBe(LOT);
    expect(b.event).toMatchObject({ kind: 'COMMISSION', itemCount: N, leafIndex: before.size });
    batchId = b.batch.id;

    const after = await counts();
    expect(after).toMatchObject({ items: N, links: N, links_seq0: N, links_seq1: 0, events: before.events + 1, size: before.size + 1 });
    const all = await totals();
    expect(all.items - before.items).toBe(N);
    expect(all.links - before.links).toBe(N);
    // Every link of the batch points at the one COMMISSION event; every item's head is seq 0.
    const shape = await sql<{ events: number; heads: number; min: string; max: string }>`
      SELECT count(DISTINCT l.event_id)::int AS events, count(*) FILTER (WHERE i.head_seq = 0)::int AS heads, min(i.serial) AS min, max(i.serial) AS max
      FROM items i JOIN chain_links l ON l.item_id = i.id JOIN batches b ON b.id = i.batch_id WHERE b.gtin = ${GTIN} AND b.lot = ${LOT}`.execute(db.db);
    expect(shape.rows[0]).toEqual({ events: 1, heads: N, min: 'S000001', max: 'S100000' });
  });

  it('the first, a middle and the last serial resolve by SGTIN as MANUFACTURED and verify', { timeout: BULK_TIMEOUT }, async () => {
    for (const serial of ['S000001', 'S050000', 'S100000']) {
      const got = await seconds(`resolve + verify ${serial}`, () => item(serial));
      expect(got, serial).toMatchObject({
        serial, sgtin: sgtin(serial), stage: 'MANUFACTURED', chainLength: 1, custodian: { name: 'Bulk maker' }, batch: { lot: LOT },
        verification: { valid: true, length: 1, reason: null },
      });
    }
    expect(await item('S100001')).toBeNull();
    expect(await item('S000000')).toBeNull();
  });

  it('a second range overlapping one registered serial is a ConflictError naming it, and writes nothing', { timeout: BULK_TIMEOUT }, async () => {
    const before = await totals();
    const r = await seconds('overlapping registerBatch (rejected)', () =>
      registerProductAndBatch(srv, maker, { gtin: GTIN, lot: 'BULK2', range: { count: 10, firstSerial: 'S100000' }, producedAt: minutesAgo(20) }),
    );
    expect(r.__typename, JSON.stringify(r)).toBe('ConflictError');
    expect(r.message).toContain('S100000');
    expect(r.message).not.toContain('S100001');
    expect(await totals()).toEqual(before);
    const batch = await srv.gql(`{ batch(gtin: "${GTIN}", lot: "BULK2") { id } }`, {}, maker.key);
    expect(batch.body.data.batch).toBeNull();
  });

  it('a range of 100,001 is a ValidationError on range.count and writes nothing', { timeout: BULK_TIMEOUT }, async () => {
    const before = await totals();
    const r = await registerProductAndBatch(srv, maker, { gtin: GTIN, lot: 'BULK3', range: { count: N + 1, firstSerial: 'X000001' }, producedAt: minutesAgo(20) });
    expect(r).toMatchObject({ __typename: 'ValidationError', field: 'range.count' });
    expect(r.message).toMatch(/100000/);
    expect(await totals()).toEqual(before);
  });

  it('one shipItems over the whole batch moves all 100,000 items to IN_TRANSIT with chain length 2', { timeout: BULK_TIMEOUT }, async () => {
    expect(batchId).toBeDefined();
    const before = await totals();
    const r = await seconds(`shipItems batch of ${N.toLocaleString('en')} (HTTP round trip)`, () =>
      lifecycle(srv, maker, 'shipItems', { batch: { gtin: GTIN, lot: LOT }, to: dist.id, occurredAt: minutesAgo(10) }),
    );
    expect(r.__typename, JSON.stringify(r)).toBe('RecordEventSuccess');
    expect(r.event).toMatchObject({ kind: 'SHIP', itemCount: N, leafIndex: before.size });

    const after = await counts();
    expect(after).toMatchObject({ items: N, links: 2 * N, links_seq0: N, links_seq1: N, events: before.events + 1, size: before.size + 1 });
    const stages = await sql<{ stage: string; head_seq: number; pending: string | null; n: number }>`
      SELECT i.stage, i.head_seq, i.pending_receiver_id::text AS pending, count(*)::int AS n FROM items i JOIN batches b ON b.id = i.batch_id
      WHERE b.gtin = ${GTIN} AND b.lot = ${LOT} GROUP BY 1, 2, 3`.execute(db.db);
    expect(stages.rows).toHaveLength(1);
    expect(stages.rows[0]).toMatchObject({ stage: 'IN_TRANSIT', head_seq: 1, n: N });
    // The head hash of every item is its seq-1 link's hash.
    const heads = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM items i JOIN chain_links l ON l.item_id = i.id AND l.seq = i.head_seq JOIN batches b ON b.id = i.batch_id
      WHERE b.gtin = ${GTIN} AND b.lot = ${LOT} AND l.hash = i.head_hash AND l.seq = 1`.execute(db.db);
    expect(heads.rows[0]!.n).toBe(N);

    for (const serial of ['S000001', 'S100000']) {
      expect(await item(serial), serial).toMatchObject({ stage: 'IN_TRANSIT', chainLength: 2, verification: { valid: true, length: 2 } });
    }
  });
});
