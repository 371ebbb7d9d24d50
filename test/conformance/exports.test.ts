/**
 * Every export of a ledger is valid for GS1's JSON Schema and for the project's validator: a life through the API that
 * covers every event kind (packing and unpacking, recycling with and without materials, a recall, a sale to a buyer,
 * an offset outside EPCIS's range), exported over REST and GraphQL in both EPC formats, by every actor.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { epcisDocument, epcisQueryDocument, toEpcisEvent, type ExportableEvent } from '../../src/core/epcis-export.ts';
import { validateEpcisDocument } from '../../src/core/epcis-validate.ts';
import { sgtinUrn } from '../../src/core/identifiers.ts';
import { EVENT_KINDS } from '../../src/core/lifecycle.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { type Json, loadGs1 } from './gs1.ts';
import { type Actor, createActor, epcisQuery, eventsOf, registerBatch, registerProduct, step, withCheck } from './ledger.ts';

const gs1 = loadGs1();
const mine = (doc: unknown): string => validateEpcisDocument(doc).map((e) => `${e.path}: ${e.message}`).join('\n');
const ALL_KINDS = [...EVENT_KINDS, 'PACK', 'UNPACK'];

const GTIN = withCheck('0950600013435');
const item = (serial: string) => sgtinUrn(GTIN, 7, serial);
const FACTORY_GLN = withCheck('950600000001');
const DC_GLN = withCheck('401234500000');
const RECYCLER_SITE_GLN = withCheck('400000100001');
const sscc = (n: number) => withCheck(`0950600010000000${n}`);
const [CASE, PALLET] = [sscc(1), sscc(2)];
const at = (day: number, offset = '+01:00') => `2026-01-${String(day).padStart(2, '0')}T10:00:00.000${offset}`;

let db: TestDatabase;
let srv: TestServer;
let actors: Actor[] = [];

beforeAll(async () => {
  db = await openTestDatabase();
  srv = await startTestServer(db);
  const brand = await createActor(srv, 'Brand', ['MANUFACTURER'], withCheck('950600099999'), ['9506000']);
  const dist = await createActor(srv, 'Distributor', ['DISTRIBUTOR'], withCheck('401234500001'));
  const shop = await createActor(srv, 'Shop', ['RETAILER'], null);
  const recycler = await createActor(srv, 'Recycler', ['RECYCLER'], withCheck('400000100009'));
  const buyer = await createActor(srv, 'Buyer', [], null);
  actors = [brand, dist, shop, recycler, buyer];

  await registerProduct(srv, brand, GTIN);
  await registerBatch(srv, brand, GTIN, 'L1', ['SN-0001', 'SN-0002', 'SN/0003'], FACTORY_GLN, at(1));
  const all = [item('SN-0001'), item('SN-0002'), item('SN/0003')];
  // A case in a pallet beside a loose item, shipped and received by the pallet's SSCC, then opened.
  await step(srv, brand, 'packItems', { container: CASE, items: all.slice(0, 2), occurredAt: at(2), location: FACTORY_GLN });
  await step(srv, brand, 'packItems', { container: PALLET, containers: [CASE], items: [all[2]], occurredAt: at(2, '+02:00'), location: FACTORY_GLN });
  await step(srv, brand, 'shipItems', { containers: [PALLET], to: dist.id, occurredAt: at(3), location: FACTORY_GLN });
  await step(srv, dist, 'receiveItems', { containers: [PALLET], occurredAt: at(4, '-05:00'), location: DC_GLN });
  await step(srv, dist, 'unpackItems', { container: PALLET, occurredAt: at(5, '-05:00'), location: DC_GLN });
  await step(srv, dist, 'unpackItems', { container: CASE, occurredAt: at(5, '-04:00') });
  await step(srv, dist, 'shipItems', { items: all, to: shop.id, occurredAt: at(6, '-05:00'), location: DC_GLN });
  await step(srv, shop, 'receiveItems', { items: all, occurredAt: at(7), location: 'Store Zürich, Bahnhofstrasse 1' });
  await step(srv, shop, 'sellItems', { items: all.slice(0, 2), price: 149.9, currency: 'EUR', occurredAt: at(8, '+05:30') });
  await step(srv, shop, 'recordUse', { items: [all[0]], kind: 'ACTIVATE', note: 'first start', occurredAt: at(9, '+15:00') });
  await step(srv, shop, 'recordUse', { items: [all[0]], kind: 'SERVICE', note: 'replaced fan', readings: { hoursRun: 812, 'peak temp °C': 71.5, faults: [] }, occurredAt: at(10, '+02:00') });
  await step(srv, shop, 'recordUse', { items: [all[1]], kind: 'USE_REPORT', readings: { cycles: 40 }, occurredAt: at(11, 'Z') });
  await step(srv, shop, 'returnItems', { items: all.slice(0, 2), to: recycler.id, reason: 'end of life', occurredAt: at(12) });
  await step(srv, recycler, 'recycleItems', {
    items: all.slice(0, 2), occurredAt: at(13), location: RECYCLER_SITE_GLN,
    materials: [{ material: 'Aluminium', massKg: 1.25 }, { material: '铜', massKg: 0.4 }],
  });
  await step(srv, shop, 'destroyItems', { items: [all[2]], reason: 'water damage', occurredAt: at(14, '-03:00') });
  // A second lot made at a site given as text: one item recycled without materials, one sold to a known buyer.
  await registerBatch(srv, brand, GTIN, 'L2', ['B2-1', 'B2-2'], 'Plant 2, Line 4', at(15));
  await step(srv, brand, 'shipItems', { items: [item('B2-1')], to: recycler.id, occurredAt: at(16) });
  await step(srv, recycler, 'receiveItems', { items: [item('B2-1')], occurredAt: at(17) });
  await step(srv, recycler, 'recycleItems', { items: [item('B2-1')], occurredAt: at(18) });
  await step(srv, brand, 'shipItems', { items: [item('B2-2')], to: shop.id, occurredAt: at(16) });
  await step(srv, shop, 'receiveItems', { items: [item('B2-2')], occurredAt: at(17) });
  await step(srv, shop, 'sellItems', { items: [item('B2-2')], buyer: buyer.id, price: 99.5, currency: 'CHF', occurredAt: at(19) });
  // A recalled lot.
  await registerBatch(srv, brand, GTIN, 'L3', ['R-1'], FACTORY_GLN, at(20));
  const recall = await srv.gql(`mutation($i: RecallBatchInput!) { recallBatch(input: $i) { __typename ... on Error { message } } }`, { i: { gtin: GTIN, lot: 'L3', reason: 'battery overheating', occurredAt: at(21) } }, brand.key);
  expect(recall.body.data.recallBatch.__typename, JSON.stringify(recall.body)).toBe('RecallBatchSuccess');
});

afterAll(async () => {
  await srv?.close();
  await db?.dispose();
});

const FORMATS = [['URN', 'Always_EPC_URN'], ['DIGITAL_LINK', 'Always_GS1_Digital_Link']] as const;

describe('ledger exports', () => {
  it('the life covers every event kind and both event types the ledger exports', async () => {
    const r = await epcisQuery(srv, srv.operatorKey, 'perPage=1000');
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const events = eventsOf(r.body);
    expect(new Set(events.map((e) => e['provenant:kind']))).toEqual(new Set(ALL_KINDS));
    expect(new Set(events.map((e) => e['type']))).toEqual(new Set(['ObjectEvent', 'AggregationEvent', 'TransformationEvent']));
    expect(events.some((e) => e['provenant:kind'] === 'RECYCLE' && e['type'] === 'ObjectEvent')).toBe(true); // recycled without materials
    expect(events.some((e) => e['provenant:timezoneOffset'] === '+15:00')).toBe(true);
  });

  it.each(FORMATS)('GET /epcis/events (%s) by the operator and every actor: valid for GS1\'s schema and the project validator', async (_fmt, header) => {
    let seen = 0;
    for (const key of [srv.operatorKey, ...actors.map((a) => a.key)]) {
      const r = await epcisQuery(srv, key, 'perPage=1000', { 'GS1-EPC-Format': header });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(gs1.schemaErrors(r.body)).toBe('');
      expect(mine(r.body)).toBe('');
      seen += eventsOf(r.body).length;
    }
    expect(seen).toBeGreaterThan(25);
  });

  it.each(FORMATS)('GraphQL epcisDocument (%s), page by page: valid for GS1\'s schema and the project validator', async (fmt) => {
    const kinds = new Set<string>();
    let after: string | null = null;
    do {
      const { body }: { body: any } = await srv.gql(`query($after: String, $fmt: EpcFormat) { epcisDocument(first: 7, after: $after, epcFormat: $fmt) }`, { after, fmt });
      expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
      const doc = body.data.epcisDocument as Json;
      expect(gs1.schemaErrors(doc)).toBe('');
      expect(mine(doc)).toBe('');
      for (const e of doc['epcisBody'].eventList) kinds.add(e['provenant:kind']);
      after = (doc['provenant:nextPageToken'] as string | undefined) ?? null;
    } while (after);
    expect(kinds).toEqual(new Set(ALL_KINDS));
  });

  it('every exported event alone, in an EPCISDocument and an EPCISQueryDocument: valid for both', async () => {
    for (const [, header] of FORMATS) {
      const events = eventsOf((await epcisQuery(srv, srv.operatorKey, 'perPage=1000', { 'GS1-EPC-Format': header })).body);
      for (const e of events) {
        for (const doc of [epcisDocument([e], '2027-01-01T00:00:00.000Z'), epcisQueryDocument([e], '2027-01-01T00:00:00.000Z')]) {
          expect(gs1.schemaErrors(doc), `${e['provenant:kind']}`).toBe('');
          expect(mine(doc), `${e['provenant:kind']}`).toBe('');
        }
      }
    }
  });
});

describe('toEpcisEvent edge cases (moved from test/core/epcis-export.test.ts)', () => {
  const base = (kind: string, data: Json = {}, offset = '+01:00', location: string | null = null): ExportableEvent => ({
    body: { kind: kind as ExportableEvent['body']['kind'], actor: 'a', occurredAt: '2026-03-11T09:00:00.000Z', timezoneOffset: offset, recordedAt: '2026-03-11T09:00:01.000Z', location, counterparty: null, data, items: [item('X1'), item('X/2')] },
    contentHash: '01'.repeat(32), leafIndex: 0, actorGln: null, counterpartyGln: null, actorId: 'a', counterpartyId: null,
  });
  it.each([
    ['an offset outside EPCIS range', base('ACTIVATE', {}, '+15:30')],
    ['RECYCLE without materials', base('RECYCLE', {}, '+01:00', RECYCLER_SITE_GLN)],
    ['RECYCLE with a non-ASCII material', base('RECYCLE', { materials: [{ material: '铜', massKg: 2 }] })],
    ['PACK with malformed child containers', base('PACK', { container: PALLET, containers: [CASE, 'x', 7] })],
    ['UNPACK', base('UNPACK', { container: PALLET })],
    ['COMMISSION with a lot', base('COMMISSION', { gtin: GTIN, lot: 'L 1/ä' }, '-09:30', 'Plant 2, Line 4')],
    ['SERVICE with nested readings', base('SERVICE', { note: 'x', readings: { 'peak temp °C': 71.5, nested: { a: [1, null, 'b'] } } })],
  ] as const)('%s', (_name, e) => {
    for (const epcFormat of ['urn', 'digitalLink'] as const) {
      const doc = epcisDocument([toEpcisEvent(e, { epcFormat })], '2027-01-01T00:00:00.000Z');
      expect(gs1.schemaErrors(doc)).toBe('');
      expect(mine(doc)).toBe('');
    }
  });
});
