import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { createTestActor, lifecycle, minutesAgo, registerProductAndBatch, type TestActor } from '../helpers/ledger.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

let db: TestDatabase;
let srv: TestServer;
let maker: TestActor, shop: TestActor, recycler: TestActor, outsider: TestActor;
const urn = (gtinPart: string, s: string) => `urn:epc:id:sgtin:4012345.${gtinPart}.${s}`;

beforeAll(async () => {
  db = await openTestDatabase();
  srv = await startTestServer(db);
  maker = await createTestActor(srv, 'Maker', ['MANUFACTURER'], ['4012345']);
  shop = await createTestActor(srv, 'Shop', ['RETAILER', 'DISTRIBUTOR']);
  recycler = await createTestActor(srv, 'Recycler', ['RECYCLER']);
  outsider = await createTestActor(srv, 'Outsider', ['RECYCLER']);
  await registerProductAndBatch(srv, maker, { gtin: '04012345111118', lot: 'K1', serials: ['A', 'B'] });
  await registerProductAndBatch(srv, maker, { gtin: '04012345222227', lot: 'T1', serials: ['C'] });
  const items = [urn('011111', 'A'), urn('011111', 'B'), urn('022222', 'C')];
  for (const [who, m, extra] of [[maker, 'shipItems', { to: shop.id }], [shop, 'receiveItems', {}], [shop, 'shipItems', { to: recycler.id }], [recycler, 'receiveItems', {}]] as const) {
    expect((await lifecycle(srv, who, m, { items, occurredAt: minutesAgo(10), ...extra })).__typename).toBe('RecordEventSuccess');
  }
  const r = await lifecycle(srv, recycler, 'recycleItems', { items, occurredAt: minutesAgo(5), materials: [{ material: 'Aluminium', massKg: 2.5 }, { material: 'copper', massKg: 0.4 }] });
  expect(r.__typename).toBe('RecordEventSuccess');
});
afterAll(async () => {
  await srv?.close();
  await db?.dispose();
});

describe('recovered material lots', () => {
  it('are queryable and link back to the items and products they came from', async () => {
    const { body } = await srv.gql(`{ materialLots(first: 10, material: "aluminium") { edges { node { id material massKg epcClass
      sourceProducts { gtin name } sourceItems(first: 10) { edges { node { sgtin stage } } } event { kind materialLots { material } } } } } }`, {}, recycler.key);
    const lots = body.data.materialLots.edges.map((e: any) => e.node);
    expect(lots).toHaveLength(1);
    expect(lots[0]).toMatchObject({ material: 'Aluminium', massKg: 2.5, epcClass: 'urn:provenant:material:aluminium', event: { kind: 'RECYCLE', materialLots: [{ material: 'Aluminium' }, { material: 'copper' }] } });
    expect(lots[0].sourceProducts.map((p: any) => p.gtin)).toEqual(['04012345111118', '04012345222227']);
    expect(lots[0].sourceItems.edges.map((e: any) => e.node.stage)).toEqual(['RECYCLED', 'RECYCLED', 'RECYCLED']);
    // The brand sees the lot too (its items), through node(id).
    const viaNode = await srv.gql(`query($id: ID!) { node(id: $id) { ... on MaterialLot { material sourceProducts { gtin } } } }`, { id: lots[0].id }, maker.key);
    expect(viaNode.body.data.node.material).toBe('Aluminium');
    // An unrelated recycler sees nothing.
    const other = await srv.gql(`query($id: ID!) { materialLots(first: 10) { edges { node { id } } } node(id: $id) { id } }`, { id: lots[0].id }, outsider.key);
    expect(other.body.data).toEqual({ materialLots: { edges: [] }, node: null });
  });
});
