import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readScope } from '../../src/core/rights.ts';
import { epcisEventHashId } from '../../src/core/epcis-hash.ts';
import { DOCUMENT_CONTEXT } from '../../src/core/epcis-export.ts';
import { findEpcisEventRows } from '../../src/db/events.ts';
import { grantsOf } from '../../src/db/visibility.ts';
import { exportEpcisRows } from '../../src/services/epcis-query.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { createTestActor, lifecycle, minutesAgo, registerProductAndBatch, type TestActor } from '../helpers/ledger.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

// Issue 12: a logistics provider moves items of two brands in ONE call. No read path may show a brand the other
// brand's serials or its item count: GraphQL Event (items, itemCount, canonicalBody), GET /epcis/events (both EPC
// formats, MATCH_epc), the ledgerEvents subscription and the EPCIS subscription export.

let db: TestDatabase;
let srv: TestServer;
let alpha: TestActor, bravo: TestActor, logi: TestActor, shop: TestActor;
const GA = '04012345111118';
const GB = '04098765000010';
const A_SERIALS = ['ALPHASECRET1', 'ALPHASECRET2', 'ALPHASECRET3'];
const B_SERIALS = ['BRAVOSECRET1', 'BRAVOSECRET2'];
const urnA = (s: string) => `urn:epc:id:sgtin:4012345.011111.${s}`;
const urnB = (s: string) => `urn:epc:id:sgtin:4098765.000001.${s}`;
let mixedShip: { id: string; leafIndex: number };
let mixedReceive: { id: string; leafIndex: number };

const ok = (r: any) => {
  expect(r.__typename, JSON.stringify(r)).toBe('RecordEventSuccess');
  return r.event as { id: string; leafIndex: number; itemCount: number };
};

beforeAll(async () => {
  db = await openTestDatabase();
  srv = await startTestServer(db);
  alpha = await createTestActor(srv, 'Alpha', ['MANUFACTURER'], ['4012345']);
  bravo = await createTestActor(srv, 'Bravo', ['MANUFACTURER'], ['4098765']);
  logi = await createTestActor(srv, 'Logi', ['DISTRIBUTOR']);
  shop = await createTestActor(srv, 'Shop', ['RETAILER']);
  expect((await registerProductAndBatch(srv, alpha, { gtin: GA, lot: 'A1', serials: A_SERIALS })).__typename).toBe('RegisterBatchSuccess');
  expect((await registerProductAndBatch(srv, bravo, { gtin: GB, lot: 'B1', serials: B_SERIALS })).__typename).toBe('RegisterBatchSuccess');
  ok(await lifecycle(srv, alpha, 'shipItems', { items: A_SERIALS.slice(0, 2).map(urnA), to: logi.id, occurredAt: minutesAgo(50) }));
  ok(await lifecycle(srv, bravo, 'shipItems', { items: B_SERIALS.map(urnB), to: logi.id, occurredAt: minutesAgo(49) }));
  const both = [...A_SERIALS.slice(0, 2).map(urnA), ...B_SERIALS.map(urnB)];
  ok(await lifecycle(srv, logi, 'receiveItems', { items: both, occurredAt: minutesAgo(48) }));
  // The logistics provider moves both brands' items in one call; the shop receives them in one call.
  const ship = ok(await lifecycle(srv, logi, 'shipItems', { items: both, to: shop.id, occurredAt: minutesAgo(40) }));
  expect(ship.itemCount).toBe(4);
  mixedShip = ship;
  mixedReceive = ok(await lifecycle(srv, shop, 'receiveItems', { items: both, occurredAt: minutesAgo(39) }));
}, 60_000);
afterAll(async () => {
  await srv?.close();
  await db?.dispose();
});

const brands = () => [
  { name: 'Alpha', actor: alpha, own: A_SERIALS.slice(0, 2), other: B_SERIALS, ownUrn: urnA },
  { name: 'Bravo', actor: bravo, own: B_SERIALS, other: A_SERIALS, ownUrn: urnB },
];

/** No serial of `serials` appears in `text` (raw, or in a Digital Link, or percent-encoded: they are plain cset82). */
function expectNoneOf(text: string, serials: readonly string[], where: string) {
  for (const s of serials) expect(text.includes(s), `${where} shows ${s}`).toBe(false);
}

const EVENT_FIELDS = `id kind itemCount canonicalBody contentHash data withheldFields location
  actor { id } counterparty { id } items(first: 50) { edges { node { sgtin serial } } }`;

describe('GraphQL Event', () => {
  it('each brand sees only its own items and count of the shared SHIP and RECEIVE, and a v2 body naming no serial and no count', async () => {
    for (const b of brands()) {
      const { body } = await srv.gql(`{ events(first: 100) { edges { node { ${EVENT_FIELDS} } } } }`, {}, b.actor.key);
      expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
      const text = JSON.stringify(body);
      expectNoneOf(text, b.other, `${b.name}'s events`);
      // The shared events cover 4 items and nothing the brand sees says so.
      expect(text).not.toMatch(/"itemCount":4\b/);
      const nodes = body.data.events.edges.map((e: any) => e.node);
      for (const id of [mixedShip.id, mixedReceive.id]) {
        const e = nodes.find((n: any) => n.id === id);
        expect(e, `${b.name} sees the shared event`).toBeDefined();
        expect(e.itemCount).toBe(b.own.length);
        expect(e.items.edges.map((x: any) => x.node.serial).sort()).toEqual([...b.own].sort());
        // A v2 body commits to an items root: no serial, no count (the text check above covers the serials).
        expect(JSON.parse(e.canonicalBody).format).toBe('provenant/event/v2');
        expect(JSON.parse(e.canonicalBody).items).toMatch(/^[0-9a-f]{64}$/);
        expect(e.contentHash).toMatch(/^[0-9a-f]{64}$/);
      }
      // The same through node(id:).
      const one = await srv.gql(`query($id: ID!) { node(id: $id) { ... on Event { ${EVENT_FIELDS} } } }`, { id: mixedShip.id }, b.actor.key);
      expect(one.body.data.node.itemCount).toBe(b.own.length);
      expectNoneOf(JSON.stringify(one.body), b.other, `${b.name}'s node(id)`);
    }
  });

  it('the logistics provider, who held all four, sees the whole event: all four items and its body', async () => {
    const { body } = await srv.gql(`query($id: ID!) { node(id: $id) { ... on Event { ${EVENT_FIELDS} } } }`, { id: mixedShip.id }, logi.key);
    expect(body.data.node.itemCount).toBe(4);
    expect(body.data.node.items.edges).toHaveLength(4);
    expect(JSON.parse(body.data.node.canonicalBody).format).toBe('provenant/event/v2');
    expect(body.data.node.withheldFields).toEqual([]);
  });

  it('filtering events by the other brand\'s batch finds nothing through the shared event', async () => {
    const { body } = await srv.gql(`{ events(first: 100, filter: { batch: { gtin: "${GB}", lot: "B1" } }) { edges { node { id } } } }`, {}, alpha.key);
    expect(body.data.events.edges).toEqual([]);
  });
});

async function epcis(query: string, key: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string; body: any }> {
  const res = await fetch(`${srv.origin}/epcis/events?${query}`, { headers: { authorization: `Bearer ${key}`, ...headers } });
  const text = await res.text();
  return { status: res.status, text, body: JSON.parse(text) };
}
const eventList = (doc: any): any[] => doc.epcisBody.queryResults.resultsBody.eventList;
const byLeaf = (list: any[], leaf: number) => list.find((e) => e['provenant:leafIndex'] === leaf);

describe('EPCIS export (GET /epcis/events)', () => {
  it('lists only the brand\'s own EPCs in the shared events, in both EPC formats, with the eventID of the projection', async () => {
    const full = byLeaf(eventList((await epcis('perPage=1000', srv.operatorKey)).body), mixedShip.leafIndex);
    expect(full.epcList).toHaveLength(4);
    expect(full['provenant:projection']).toBeUndefined();
    for (const b of brands()) {
      for (const format of ['Always_EPC_URN', 'Always_GS1_Digital_Link']) {
        const r = await epcis('perPage=1000', b.actor.key, { 'GS1-EPC-Format': format });
        expect(r.status, r.text).toBe(200);
        expectNoneOf(r.text, b.other, `${b.name}'s EPCIS export (${format})`);
        const ship = byLeaf(eventList(r.body), mixedShip.leafIndex);
        expect(ship.epcList).toHaveLength(b.own.length);
        expect(ship['provenant:projection']).toEqual({ 'provenant:itemsOmitted': true, 'provenant:withheldFields': [] });
        expect(ship.eventID).not.toBe(full.eventID);
        if (format === 'Always_EPC_URN') {
          expect(ship.epcList.sort()).toEqual(b.own.map(b.ownUrn).sort());
          // The eventID is the CBV 2.0 hash of the event as exported (the labelled projection).
          const { eventID, ...rest } = ship;
          expect(epcisEventHashId(rest, DOCUMENT_CONTEXT)).toBe(eventID);
        }
      }
    }
  });

  it('MATCH_epc on the other brand\'s serial does not select the shared event', async () => {
    const r = await epcis(`MATCH_epc=${encodeURIComponent(urnB(B_SERIALS[0]!))}`, alpha.key);
    expect(r.status, r.text).toBe(200);
    expect(eventList(r.body)).toEqual([]);
    const own = await epcis(`MATCH_epc=${encodeURIComponent(urnB(B_SERIALS[0]!))}`, bravo.key);
    expect(eventList(own.body).map((e) => e['provenant:leafIndex'])).toContain(mixedShip.leafIndex);
  });

  it('the EPCIS subscription export shows each brand only its own EPCs', async () => {
    for (const b of brands()) {
      const id = (await db.db.selectFrom('actors').select('id').where('name', '=', b.name).executeTakeFirstOrThrow()).id;
      const scope = readScope(id, false, await grantsOf(db.db, id), new Date());
      const rows = await findEpcisEventRows(db.db, scope, {}, { treeSize: 1_000_000, order: { by: null, direction: 'ASC' }, afterLeafIndex: null, limit: 1000 });
      for (const format of ['urn', 'digitalLink'] as const) {
        const events = await exportEpcisRows(db.db, scope, rows, format);
        expectNoneOf(JSON.stringify(events), b.other, `${b.name}'s EPCIS subscription (${format})`);
        expect(byLeaf(events, mixedShip.leafIndex).epcList).toHaveLength(b.own.length);
      }
    }
  });
});

/** Reads a ledgerEvents subscription for `ms` and returns the whole response text. */
async function subscriptionText(key: string, ms: number, filter: Record<string, unknown> | null = null): Promise<string> {
  const ctrl = new AbortController();
  const res = await fetch(srv.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${key}` },
    body: JSON.stringify({
      query: `subscription($f: LedgerEventFilter) { ledgerEvents(after: -1, filter: $f) { position event { ${EVENT_FIELDS} } } }`,
      variables: { f: filter },
    }),
    signal: ctrl.signal,
  });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  const timer = setTimeout(() => ctrl.abort(), ms);
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
  } catch {
    // aborted
  } finally {
    clearTimeout(timer);
  }
  return text;
}

describe('ledgerEvents subscription', () => {
  it('streams the shared events to each brand with its own items and count only', async () => {
    for (const b of brands()) {
      const text = await subscriptionText(b.actor.key, 1500);
      expect(text).toContain(mixedShip.id);
      expectNoneOf(text, b.other, `${b.name}'s subscription`);
      expect(text).not.toMatch(/"itemCount":4\b/);
      const shipped = text.split('\n').filter((l) => l.startsWith('data:') && l.includes(mixedShip.id)).map((l) => JSON.parse(l.slice(5)));
      expect(shipped[0].data.ledgerEvents.event.itemCount).toBe(b.own.length);
    }
  });

  it('a filter on the other brand\'s serials or product selects nothing', async () => {
    const byItem = await subscriptionText(alpha.key, 1500, { items: [urnB(B_SERIALS[0]!)] });
    expect(byItem).not.toContain('data: {"data"');
    expect(byItem).not.toContain(mixedShip.id);
    const byProduct = await subscriptionText(alpha.key, 1500, { products: [GB] });
    expect(byProduct).not.toContain(mixedShip.id);
    // Its own serial does select the shared event.
    expect(await subscriptionText(alpha.key, 1500, { items: [urnA(A_SERIALS[0]!)] })).toContain(mixedShip.id);
  });
});
