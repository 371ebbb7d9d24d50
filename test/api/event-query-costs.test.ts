import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDatabase, statementCounter, type TestDatabase } from '../helpers/db.ts';
import { createTestActor, lifecycle, minutesAgo, registerProductAndBatch, type TestActor } from '../helpers/ledger.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

// Issue 11: every event list goes through one event-query module (src/db/events.ts) and costs a bounded number of
// statements whatever its length: the `events` connection with nested items, and an EPCIS query document.

let db: TestDatabase;
let srv: TestServer;
let maker: TestActor;
let dist: TestActor;
let recycler: TestActor;
const counter = statementCounter();

const GTIN = '04012345111118';
const LOTS = 30;

beforeAll(async () => {
  db = await openTestDatabase();
  srv = await startTestServer({ ...db, db: db.db.withPlugin(counter.plugin) }, { authCacheMs: 0 }); // no key cache: counts must not depend on its timing
  maker = await createTestActor(srv, 'Maker', ['MANUFACTURER'], ['4012345']);
  dist = await createTestActor(srv, 'Dist', ['DISTRIBUTOR']);
  for (let n = 0; n < LOTS; n++) {
    const r = await registerProductAndBatch(srv, maker, { gtin: GTIN, lot: `L${n}`, range: { count: 3, firstSerial: `S${n}X001` } });
    expect(r.__typename, JSON.stringify(r)).toBe('RegisterBatchSuccess');
  }
  for (let n = 0; n < LOTS; n += 3) {
    await lifecycle(srv, maker, 'shipItems', { batch: { gtin: GTIN, lot: `L${n}` }, to: dist.id, occurredAt: minutesAgo(5) });
  }
  // Ten lots recycled: ten RECYCLE events with two material lots each.
  recycler = await createTestActor(srv, 'Recycler', ['RECYCLER']);
  for (let n = 1; n < LOTS; n += 3) {
    const batch = { gtin: GTIN, lot: `L${n}` };
    await lifecycle(srv, maker, 'shipItems', { batch, to: recycler.id, occurredAt: minutesAgo(5) });
    await lifecycle(srv, recycler, 'receiveItems', { batch, occurredAt: minutesAgo(4) });
    const r = await lifecycle(srv, recycler, 'recycleItems', { batch, occurredAt: minutesAgo(3), materials: [{ material: 'Aluminium', massKg: 1 }, { material: 'copper', massKg: 0.2 }] });
    expect(r.__typename, JSON.stringify(r)).toBe('RecordEventSuccess');
  }
}, 60_000);
afterAll(async () => {
  await srv?.close();
  await db?.dispose();
});

async function cost(actor: TestActor, query: string) {
  const before = counter.n;
  const { body } = await srv.gql(query, {}, actor.key);
  expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
  return { statements: counter.n - before, data: body.data };
}

const eventsQuery = (first: number) => `{ events(first: ${first}) { totalCount edges { node {
  kind leafIndex actor { name } counterparty { name } location data withheldFields itemCount canonicalBody
  items(first: 2) { edges { node { sgtin batch { lot } } } }
} } } }`;

describe('event lists cost a bounded number of statements', () => {
  it('events with actors, disclosure and a page of items each: 1 event costs what 40 do', async () => {
    for (const actor of [maker, dist]) {
      const one = await cost(actor, eventsQuery(1));
      const many = await cost(actor, eventsQuery(40));
      expect(one.data.events.edges).toHaveLength(1);
      const n = many.data.events.edges.length;
      // Dist sees the 10 shipments naming it (not yet received: no custody window, so no earlier event).
      expect(n).toBe(actor === maker ? 40 : 10);
      expect(many.data.events.edges.every((e: any) => e.node.items.edges.length === 2)).toBe(true);
      expect(many.statements).toBe(one.statements);
      console.log(`${actor === maker ? 'maker' : 'dist'}: statements for 1 event: ${one.statements}; for ${n}: ${many.statements}`);
    }
  });

  it('material lots with their source products and items: 1 RECYCLE event costs what 10 do', async () => {
    const lots = (first: number) => `{ materialLots(first: ${first}) { edges { node { material massKg recycledAt
      sourceProducts { gtin name } sourceItems(first: 2) { edges { node { sgtin } } } event { kind itemCount } } } } }`;
    const one = await cost(recycler, lots(1));
    const many = await cost(recycler, lots(10));
    expect(one.data.materialLots.edges).toHaveLength(2);
    expect(many.data.materialLots.edges).toHaveLength(20);
    expect(many.data.materialLots.edges.every((e: any) => e.node.sourceProducts[0]?.gtin === GTIN && e.node.sourceItems.edges.length === 2)).toBe(true);
    expect(many.statements).toBe(one.statements);
    console.log(`materialLots: statements for 1 event: ${one.statements}; for 10: ${many.statements}`);
  });

  it('a page of an event\'s items pages like any connection: forward, after a cursor and backward, in item id order', async () => {
    const page = async (args: string) => {
      const { body } = await srv.gql(`{ events(first: 3) { edges { node { items(${args}) { edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage } } } } } }`, {}, maker.key);
      expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
      return body.data.events.edges.map((e: any) => e.node.items);
    };
    const all = await page('first: 10');
    for (const conn of all) {
      // Item global ids are base64 of "Item:<uuid>"; the order is by uuid.
      const ids = conn.edges.map((e: any) => Buffer.from(e.node.id, 'base64').toString('utf8').split(':')[1]);
      expect(ids).toHaveLength(3);
      expect([...ids].sort()).toEqual(ids);
    }
    const firstTwo = await page('first: 2');
    const lastTwo = await page('last: 2');
    for (let k = 0; k < all.length; k++) {
      const ids = all[k].edges.map((e: any) => e.node.id);
      expect(firstTwo[k].edges.map((e: any) => e.node.id)).toEqual(ids.slice(0, 2));
      expect(firstTwo[k].pageInfo.hasNextPage).toBe(true);
      expect(lastTwo[k].edges.map((e: any) => e.node.id)).toEqual(ids.slice(1));
      expect(lastTwo[k].pageInfo.hasPreviousPage).toBe(true);
    }
    // After the first event's second item comes its third.
    const cursor = firstTwo[0].edges[1].cursor;
    const after = await page(`first: 10, after: "${cursor}"`);
    expect(after[0].edges.map((e: any) => e.node.id)).toEqual([all[0].edges[2].node.id]);
    expect(after[0].pageInfo.hasPreviousPage).toBe(true);
  });

  it('an EPCIS query document of 1 event costs what one of 40 does', async () => {
    const doc = (first: number) => `{ epcisDocument(first: ${first}) }`;
    const one = await cost(maker, doc(1));
    const many = await cost(maker, doc(40));
    const events = (d: any) => d.epcisDocument.epcisBody.eventList as unknown[];
    expect(events(one.data)).toHaveLength(1);
    expect(events(many.data)).toHaveLength(40);
    expect(many.statements).toBe(one.statements);
    console.log(`epcisDocument: statements for 1 event: ${one.statements}; for 40: ${many.statements}`);
  });

  it('node lookups of malformed ids answer null (no statement with an empty id list)', async () => {
    const gid = (type: string, id: string) => Buffer.from(`${type}:${id}`).toString('base64');
    for (const type of ['Event', 'Batch', 'Grant', 'Item']) {
      const { body } = await srv.gql(`query($id: ID!) { node(id: $id) { id } }`, { id: gid(type, 'not-a-uuid') }, maker.key);
      expect(body.errors, `${type}: ${JSON.stringify(body.errors)}`).toBeUndefined();
      expect(body.data.node, type).toBeNull();
    }
  });
});
