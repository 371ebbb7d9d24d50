/**
 * The kind-specific data rules are one core function (core/event-data.ts) shared by the GraphQL mutations and EPCIS
 * capture. Each test here is a case where the two copies used to differ; both paths must now give the same answer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { createTestActor, lifecycle, minutesAgo, registerProductAndBatch, type TestActor } from '../helpers/ledger.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

let db: TestDatabase;
let srv: TestServer;
let maker: TestActor, shop: TestActor, recycler: TestActor;
const urn = (s: string) => `urn:epc:id:sgtin:4012345.011111.${s}`;

const CAPTURE_FIELDS = `__typename
  ... on CaptureEpcisDocumentSuccess { recorded events { status kind event { data } } }
  ... on EpcisCaptureError { code problems { eventIndex field reason code } }
  ... on Error { message }`;

async function capture(actor: TestActor, events: unknown[]) {
  const document = {
    '@context': ['https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld', { provenant: 'https://provenant.dev/epcis/' }],
    type: 'EPCISDocument', schemaVersion: '2.0', creationDate: '2026-03-01T12:00:00.000Z', epcisBody: { eventList: events },
  };
  const { body } = await srv.gql(`mutation($i: CaptureEpcisDocumentInput!) { captureEpcisDocument(input: $i) { ${CAPTURE_FIELDS} } }`, { i: { document } }, actor.key);
  expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
  return body.data.captureEpcisDocument;
}

const recycleEvent = (serial: string, materials: unknown) => ({
  type: 'ObjectEvent', action: 'OBSERVE', eventTime: minutesAgo(1), eventTimeZoneOffset: '+00:00', epcList: [urn(serial)], bizStep: 'disassembling',
  'provenant:data': { materials },
});
const sellEvent = (serial: string, extra: Record<string, unknown>) => ({
  type: 'ObjectEvent', action: 'OBSERVE', eventTime: minutesAgo(1), eventTimeZoneOffset: '+00:00', epcList: [urn(serial)], bizStep: 'retail_selling', ...extra,
});

beforeAll(async () => {
  db = await openTestDatabase();
  srv = await startTestServer(db);
  maker = await createTestActor(srv, 'Maker', ['MANUFACTURER'], ['4012345']);
  shop = await createTestActor(srv, 'Shop', ['RETAILER', 'DISTRIBUTOR']);
  recycler = await createTestActor(srv, 'Recycler', ['RECYCLER']);
  await registerProductAndBatch(srv, maker, { gtin: '04012345111118', lot: 'K1', serials: ['R1', 'R2', 'R3', 'R4', 'S1', 'S2'] });
  const toRecycler = ['R1', 'R2', 'R3', 'R4'].map(urn);
  const toShop = ['S1', 'S2'].map(urn);
  for (const [who, m, items, extra] of [
    [maker, 'shipItems', toRecycler, { to: recycler.id }], [recycler, 'receiveItems', toRecycler, {}],
    [maker, 'shipItems', toShop, { to: shop.id }], [shop, 'receiveItems', toShop, {}],
  ] as const) {
    expect((await lifecycle(srv, who, m, { items, occurredAt: minutesAgo(10), ...extra })).__typename).toBe('RecordEventSuccess');
  }
});
afterAll(async () => {
  await srv?.close();
  await db?.dispose();
});

describe('one rule for kind-specific data on both write paths', () => {
  it('a material name is bounded by the configured limit in code points: 60 emoji (120 UTF-16 units) pass on both paths', async () => {
    const emoji = '🔩'.repeat(60); // 60 code points, 120 UTF-16 units: capture used to count units against a fixed 100
    expect([...emoji]).toHaveLength(60);
    const viaCapture = await capture(recycler, [recycleEvent('R1', [{ material: emoji, massKg: 1 }, { material: ' steel ', massKg: 2 }])]);
    expect(viaCapture.__typename, JSON.stringify(viaCapture)).toBe('CaptureEpcisDocumentSuccess');
    expect(viaCapture.events[0].event.data.materials).toEqual([{ material: emoji, massKg: 1 }, { material: 'steel', massKg: 2 }]);
    const viaGraphQL = await lifecycle(srv, recycler, 'recycleItems', { items: [urn('R2')], occurredAt: minutesAgo(1), materials: [{ material: emoji, massKg: 1 }] });
    expect(viaGraphQL.__typename).toBe('RecordEventSuccess');
  });

  it('a material name above the limit (101 code points) is refused on both paths, at the field that carries it', async () => {
    const long = 'm'.repeat(101);
    const viaCapture = await capture(recycler, [recycleEvent('R3', [{ material: 'steel', massKg: 1 }, { material: long, massKg: 1 }])]);
    expect(viaCapture.__typename).toBe('EpcisCaptureError');
    expect(viaCapture.problems).toEqual([expect.objectContaining({ eventIndex: 0, field: 'provenant:data.materials[1].material', code: 'INVALID' })]);
    const viaGraphQL = await lifecycle(srv, recycler, 'recycleItems', { items: [urn('R3')], occurredAt: minutesAgo(1), materials: [{ material: long, massKg: 1 }] });
    expect(viaGraphQL).toMatchObject({ __typename: 'ValidationError', field: 'materials[0].material' });
  });

  it('a material with fields other than material and massKg is refused, not silently trimmed', async () => {
    const r = await capture(recycler, [recycleEvent('R4', [{ material: 'steel', massKg: 1, grade: 'A' }])]);
    expect(r.__typename).toBe('EpcisCaptureError');
    expect(r.problems).toEqual([expect.objectContaining({ field: 'provenant:data.materials[0].grade', code: 'INVALID' })]);
  });

  it('a currency without a price is refused on both paths, an empty one too', async () => {
    const viaGraphQL = await lifecycle(srv, shop, 'sellItems', { items: [urn('S1')], occurredAt: minutesAgo(1), currency: '' });
    expect(viaGraphQL).toMatchObject({ __typename: 'ValidationError', field: 'currency', message: 'currency without price' });
    const viaCapture = await capture(shop, [sellEvent('S1', { 'provenant:priceCurrency': '' })]);
    expect(viaCapture.__typename).toBe('EpcisCaptureError');
    expect(viaCapture.problems).toEqual([expect.objectContaining({ field: 'provenant:priceCurrency', reason: 'currency without price' })]);
    // With a price, both record the same data.
    const sold = await capture(shop, [sellEvent('S1', { 'provenant:price': 12.5, 'provenant:priceCurrency': 'EUR' })]);
    expect(sold.events[0].event.data).toEqual({ price: 12.5, currency: 'EUR' });
    const soldViaGraphQL = await lifecycle(srv, shop, 'sellItems', { items: [urn('S2')], occurredAt: minutesAgo(1), price: 12.5, currency: 'EUR' });
    expect(soldViaGraphQL.__typename).toBe('RecordEventSuccess');
  });

  it('a refusal is attributed from its structured subject: an existing lot points at the ILMD lot number', async () => {
    const r = await capture(maker, [{
      type: 'ObjectEvent', action: 'ADD', eventTime: minutesAgo(1), eventTimeZoneOffset: '+00:00', epcList: [urn('NEW1')], bizStep: 'commissioning',
      readPoint: { id: 'urn:epc:id:sgln:4012345.00001.0' }, ilmd: { 'cbvmda:lotNumber': 'K1' },
    }]);
    expect(r.__typename).toBe('EpcisCaptureError');
    expect(r.problems).toEqual([expect.objectContaining({ eventIndex: 0, field: 'ilmd.cbvmda:lotNumber', code: 'CONFLICT' })]);
  });
});
