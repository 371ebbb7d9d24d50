import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDatabase, statementCounter, type TestDatabase } from '../helpers/db.ts';
import { createTestActor, lifecycle, minutesAgo, registerProductAndBatch, type TestActor } from '../helpers/ledger.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

let db: TestDatabase;
let srv: TestServer;
let maker: TestActor;
const counter = statementCounter();

beforeAll(async () => {
  db = await openTestDatabase();
  // The server runs on a Kysely that counts every statement it sends; no key cache, so every request authenticates.
  srv = await startTestServer({ ...db, db: db.db.withPlugin(counter.plugin) }, { authCacheMs: 0 });
  maker = await createTestActor(srv, 'Maker', ['MANUFACTURER'], ['4012345']);
  const dist = await createTestActor(srv, 'Dist', ['DISTRIBUTOR']);
  await registerProductAndBatch(srv, maker, { gtin: '04012345111118', lot: 'L1', range: { count: 150, firstSerial: 'S001' } });
  await lifecycle(srv, maker, 'shipItems', { batch: { gtin: '04012345111118', lot: 'L1' }, to: dist.id, occurredAt: minutesAgo(5) });
  await lifecycle(srv, dist, 'receiveItems', { batch: { gtin: '04012345111118', lot: 'L1' }, occurredAt: minutesAgo(4) });
});
afterAll(async () => {
  await srv?.close();
  await db?.dispose();
});

const query = (first: number) => `{ batch(gtin: "04012345111118", lot: "L1") { items(first: ${first}) { edges { node {
  sgtin product { name brand { name } } batch { lot } custodian { name } events(first: 5) { edges { node { kind actor { name } } } }
} } } } }`;

async function count(first: number) {
  const before = counter.n;
  const { body } = await srv.gql(query(first), {}, maker.key);
  expect(body.errors).toBeUndefined();
  return { statements: counter.n - before, items: body.data.batch.items.edges };
}

describe('DataLoader batching', () => {
  it('100 items with product, brand, batch, custodian and 5 events each cost the same statements as 1 item', async () => {
    const one = await count(1);
    const hundred = await count(100);
    expect(one.items).toHaveLength(1);
    expect(hundred.items).toHaveLength(100);
    expect(hundred.items.every((e: any) => e.node.events.edges.length === 3 && e.node.custodian.name === 'Dist')).toBe(true);
    expect(hundred.statements).toBe(one.statements);
    console.log(`statements for 1 item: ${one.statements}; for 100 items: ${hundred.statements}`);
    // Auth with grants (1) + batch (2) + items (1) + products, actors, batches, events (1 each) — a small constant.
    expect(hundred.statements).toBeLessThanOrEqual(12);
  });
});
