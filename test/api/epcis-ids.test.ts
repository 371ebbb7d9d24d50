/**
 * One eventID per event, whatever the export format; containers as SSCC URNs under `Always_EPC_URN`; capture of the
 * ledger's own export recognised; capture hashes numbers as written. Through the HTTP binding and GraphQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DOCUMENT_CONTEXT } from '../../src/core/epcis-export.ts';
import { gs1CheckDigit, sgtinUrn } from '../../src/core/identifiers.ts';
import { epcisEventHashId, parseJsonForHash } from '../../src/core/epcis-hash.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { captureAndWait } from '../helpers/epcis-capture.ts';
import { createTestActor, lifecycle, registerProductAndBatch, type TestActor } from '../helpers/ledger.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

type Json = Record<string, any>;

const withCheck = (digits: string): string => digits + String(gs1CheckDigit(digits));
const GTIN = withCheck('0950600013435'); // company prefix 9506000
/** Every character GS1 allows in AI 21 besides the alphanumerics, over two serials (20 characters at most each). */
const SERIALS = [`!"%&'()*+,`, `-./:;<=>?_`, 'Az09', "O'Neil"];
const item = (serial: string): string => sgtinUrn(GTIN, 7, serial);
const CASE = withCheck('09506000000000042'); // SSCC, company prefix 9506000
const PALLET = withCheck('09506000000000059');
const CONTEXT = ['https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld', { provenant: 'https://provenant.dev/epcis/', ex: 'https://ex.example/' }];

let db: TestDatabase;
let srv: TestServer;
let brand: TestActor;
let shop: TestActor;

async function events(key: string, format: string): Promise<Json[]> {
  const res = await fetch(`${srv.origin}/epcis/events?perPage=1000`, { headers: { authorization: `Bearer ${key}`, 'GS1-EPC-Format': format } });
  expect(res.status).toBe(200);
  expect(res.headers.get('GS1-EPC-Format')).toBe(format);
  return ((await res.json()) as Json).epcisBody.queryResults.resultsBody.eventList as Json[];
}

async function graphqlEvents(key: string, epcFormat: 'URN' | 'DIGITAL_LINK'): Promise<Json[]> {
  const { body } = await srv.gql(`query($f: EpcFormat) { epcisDocument(first: 1000, epcFormat: $f) }`, { f: epcFormat }, key);
  expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
  return body.data.epcisDocument.epcisBody.eventList as Json[];
}

/** POST /epcis/capture followed to the end of its job: the document's text is what the job keeps and hashes. */
const capture = (key: string, document: unknown) => captureAndWait(srv.origin, key, document);

const asDocument = (eventList: Json[]): Json => ({
  '@context': CONTEXT, type: 'EPCISDocument', schemaVersion: '2.0', creationDate: '2026-03-01T12:00:00.000Z', epcisBody: { eventList },
});

async function treeSize(): Promise<number> {
  const { body } = await srv.gql(`{ logInfo { treeSize } }`, {}, null);
  return body.data.logInfo.treeSize;
}

beforeAll(async () => {
  db = await openTestDatabase();
  srv = await startTestServer(db);
  brand = await createTestActor(srv, 'Brand', ['MANUFACTURER'], ['9506000']);
  shop = await createTestActor(srv, 'Shop', ['RETAILER']);
  const batch = await registerProductAndBatch(srv, brand, { gtin: GTIN, lot: 'L1', serials: SERIALS });
  expect(batch.__typename, JSON.stringify(batch)).toBe('RegisterBatchSuccess');
  const packCase = await lifecycle(srv, brand, 'packItems', { container: CASE, items: [item(SERIALS[0]!), item(SERIALS[1]!)], occurredAt: '2026-01-11T08:00:00.000+01:00' });
  expect(packCase.__typename, JSON.stringify(packCase)).toBe('RecordEventSuccess');
  const packPallet = await lifecycle(srv, brand, 'packItems', { container: PALLET, containers: [CASE], items: [item('Az09')], occurredAt: '2026-01-11T09:00:00.000+01:00' });
  expect(packPallet.__typename, JSON.stringify(packPallet)).toBe('RecordEventSuccess');
  const unpack = await lifecycle(srv, brand, 'unpackItems', { container: PALLET, occurredAt: '2026-01-11T10:00:00.000+01:00' });
  expect(unpack.__typename, JSON.stringify(unpack)).toBe('RecordEventSuccess');
  const ship = await lifecycle(srv, brand, 'shipItems', { items: [item("O'Neil")], to: shop.id, occurredAt: '2026-01-12T08:00:00.000+01:00' });
  expect(ship.__typename, JSON.stringify(ship)).toBe('RecordEventSuccess');
});

afterAll(async () => {
  await srv?.close();
  await db?.dispose();
});

describe('one eventID per event, whatever the EPC format', () => {
  it('GET /epcis/events: URN and Digital Link exports carry the same eventID for serials with every AI 21 character', async () => {
    const urn = await events(brand.key, 'Always_EPC_URN');
    const dl = await events(brand.key, 'Always_GS1_Digital_Link');
    expect(urn.map((e) => e['provenant:kind'])).toEqual(['COMMISSION', 'PACK', 'PACK', 'UNPACK', 'SHIP']);
    // The formats really differ (percent-encoded serials in the Digital Links) ...
    expect(dl[0]!.epcList).toContain(`https://id.gs1.org/01/${GTIN}/21/${encodeURIComponent("O'Neil").replaceAll("'", '%27')}`);
    expect(urn[0]!.epcList).toContain(item("O'Neil"));
    // ... yet every event keeps one eventID.
    expect(dl.map((e) => e.eventID)).toEqual(urn.map((e) => e.eventID));
    expect(new Set(urn.map((e) => e.eventID)).size).toBe(urn.length);
  });

  it('the eventID is the CBV 2.0 hash of the URN form', async () => {
    for (const e of await events(brand.key, 'Always_EPC_URN')) {
      const { eventID, ...rest } = e;
      expect(epcisEventHashId(rest, DOCUMENT_CONTEXT)).toBe(eventID);
    }
  });

  it('GraphQL epcisDocument gives the same eventIDs in both formats, and the same as the REST binding', async () => {
    const urn = await graphqlEvents(brand.key, 'URN');
    const dl = await graphqlEvents(brand.key, 'DIGITAL_LINK');
    expect(dl.map((e) => e.eventID)).toEqual(urn.map((e) => e.eventID));
    expect(urn.map((e) => e.eventID)).toEqual((await events(brand.key, 'Always_EPC_URN')).map((e) => e.eventID));
  });
});

describe('containers under GS1-EPC-Format', () => {
  const ssccUrn = (sscc: string) => `urn:epc:id:sscc:9506000.${sscc[0]}${sscc.slice(8, 17)}`;

  it('Always_EPC_URN writes parentID and child containers as SSCC URNs', async () => {
    const [, packCase, packPallet, unpack] = await events(brand.key, 'Always_EPC_URN');
    expect(packCase).toMatchObject({ type: 'AggregationEvent', parentID: ssccUrn(CASE), childEPCs: [item(SERIALS[0]!), item(SERIALS[1]!)] });
    expect(packPallet!.parentID).toBe(ssccUrn(PALLET));
    expect(packPallet!.childEPCs.slice(-1)).toEqual([ssccUrn(CASE)]);
    expect(unpack!.parentID).toBe(ssccUrn(PALLET));
    const everyEpc = [packCase, packPallet, unpack].flatMap((e) => [e!.parentID, ...e!.childEPCs]);
    expect(everyEpc.filter((epc: string) => epc.startsWith('https://'))).toEqual([]);
  });

  it('Always_GS1_Digital_Link writes them as Digital Links, with the same eventIDs', async () => {
    const urn = await events(brand.key, 'Always_EPC_URN');
    const [, packCase, packPallet] = await events(brand.key, 'Always_GS1_Digital_Link');
    expect(packCase!.parentID).toBe(`https://id.gs1.org/00/${CASE}`);
    expect(packPallet!.childEPCs.slice(-1)).toEqual([`https://id.gs1.org/00/${CASE}`]);
    expect([packCase!.eventID, packPallet!.eventID]).toEqual([urn[1]!.eventID, urn[2]!.eventID]);
  });
});

describe('capturing the ledger\'s own export', () => {
  it('an event recorded through a GraphQL mutation, exported (either format) and captured, is recognised and not recorded again', async () => {
    for (const format of ['Always_EPC_URN', 'Always_GS1_Digital_Link']) {
      const exported = await events(brand.key, format);
      const size = await treeSize();
      const r = await capture(brand.key, asDocument(exported));
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body).toMatchObject({ recorded: 0, skipped: exported.length });
      expect(r.body.events.map((e: Json) => e.status)).toEqual(exported.map(() => 'ALREADY_CAPTURED'));
      expect(r.body.events.map((e: Json) => e.kind)).toEqual(exported.map((e) => e['provenant:kind']));
      expect(await treeSize()).toBe(size);
    }
  });

  it('through GraphQL capture too', async () => {
    const exported = await graphqlEvents(brand.key, 'URN');
    const { body } = await srv.gql(
      `mutation($i: CaptureEpcisDocumentInput!) { captureEpcisDocument(input: $i) { __typename ... on CaptureEpcisDocumentSuccess { recorded skipped events { status } } ... on Error { message } } }`,
      { i: { document: asDocument(exported) } },
      brand.key,
    );
    expect(body.data.captureEpcisDocument).toMatchObject({ __typename: 'CaptureEpcisDocumentSuccess', recorded: 0, skipped: exported.length });
  });

  it('an event that only claims a ledger event\'s contentHash (its content differs) is not taken for it', async () => {
    const ship = (await events(brand.key, 'Always_EPC_URN')).find((e) => e['provenant:kind'] === 'SHIP')!;
    // The shop receives the shipped item, stating the shipment's contentHash: a different event, recorded.
    const receive = {
      type: 'ObjectEvent', eventTime: '2026-01-13T08:00:00.000+01:00', eventTimeZoneOffset: '+01:00', epcList: [item("O'Neil")],
      action: 'OBSERVE', bizStep: 'receiving', disposition: 'in_progress', 'provenant:contentHash': ship['provenant:contentHash'],
    };
    const r = await capture(shop.key, asDocument([receive]));
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.events.map((e: Json) => [e.kind, e.status])).toEqual([['RECEIVE', 'RECORDED']]);
  });
});

describe('capture hashes numbers as the document writes them', () => {
  it('two events differing only in the 20th digit of a number get different eventIDs', async () => {
    const text = (n: string, minute: number) =>
      `{"@context":${JSON.stringify(CONTEXT)},"type":"EPCISDocument","schemaVersion":"2.0","creationDate":"2026-03-01T12:00:00.000Z",` +
      `"epcisBody":{"eventList":[{"type":"ObjectEvent","eventTime":"2026-01-14T08:${minute}:00.000+01:00","eventTimeZoneOffset":"+01:00",` +
      `"epcList":[${JSON.stringify(item("O'Neil"))}],"action":"OBSERVE","bizStep":"repairing","disposition":"in_progress","ex:counter":${n}}]}}`;
    const first = text('12345678901234567890', 10);
    const second = text('12345678901234567891', 10);
    const exact = (doc: string) => {
      const parsed = parseJsonForHash(doc) as Json;
      return epcisEventHashId(parsed.epcisBody.eventList[0], parsed['@context']);
    };
    expect(exact(first)).not.toBe(exact(second));
    // The shop sells the item (SERVICE needs a sold item), then records two services.
    const sale = {
      type: 'ObjectEvent', eventTime: '2026-01-14T08:00:00.000+01:00', eventTimeZoneOffset: '+01:00', epcList: [item("O'Neil")],
      action: 'OBSERVE', bizStep: 'retail_selling', disposition: 'retail_sold',
    };
    expect((await capture(shop.key, asDocument([sale]))).status).toBe(200);
    const a = await capture(shop.key, first);
    expect(a.status, JSON.stringify(a.body)).toBe(200);
    expect(a.body.events[0]).toMatchObject({ status: 'RECORDED', eventID: exact(first) });
    // As JSON.parse reads them the two numbers are the same double: the second would pass for the first.
    const b = await capture(shop.key, second);
    expect(b.status, JSON.stringify(b.body)).toBe(200);
    expect(b.body.events[0]).toMatchObject({ status: 'RECORDED', eventID: exact(second) });
  });
});
