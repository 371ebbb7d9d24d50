import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServerAdapter } from '@whatwg-node/server';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiKeyHash } from '../../src/core/api-key.ts';
import { DOCUMENT_CONTEXT } from '../../src/core/epcis-export.ts';
import { epcisEventHashId } from '../../src/core/epcis-hash.ts';
import { validateEpcisDocument } from '../../src/core/epcis-validate.ts';
import { gs1CheckDigit, sgtinUrn } from '../../src/core/identifiers.ts';
import type { AppDeps } from '../../src/graphql/context.ts';
import { type EpcisHttpOptions, handleEpcisRequest } from '../../src/server/epcis-http.ts';
import { createLogger } from '../../src/server/logger.ts';
import { createApp } from '../../src/server/yoga.ts';
import { generateApiKey } from '../../src/services/api-key-secret.ts';
import { readableBodies } from '../../src/db/events.ts';
import type { EventRow } from '../../src/db/types.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { type CaptureOutcome, captureAndWait, parse } from '../helpers/epcis-capture.ts';
import { lifecycle, type TestActor } from '../helpers/ledger.ts';
import { type TestServer, testConfig, testSigner } from '../helpers/server.ts';

type Json = Record<string, any>;

// ---------------------------------------------------------------------------------------------------------------
// A server like the one yoga.ts will build: the EPCIS handler first, GraphQL for everything else.

interface EpcisServer extends TestServer {
  /** GET /epcis/events?{query} with the actor's key. */
  query(key: string | null, query?: string, headers?: Record<string, string>): Promise<{ status: number; headers: Headers; body: any }>;
  /** POST /epcis/capture, followed to the end of its capture job (`captureAndWait`). */
  capture(key: string | null, document: unknown, headers?: Record<string, string>): Promise<CaptureOutcome>;
}

async function startEpcisServer(db: TestDatabase, options: EpcisHttpOptions = {}): Promise<EpcisServer> {
  const operatorKey = generateApiKey();
  const logLines: string[] = [];
  let fixedNow: Date | undefined;
  const signer = testSigner();
  const deps: AppDeps = { db: db.db, config: testConfig(), operatorKeyHash: apiKeyHash(operatorKey), signer, now: () => fixedNow ?? new Date() };
  const app = createApp(deps, createLogger('warn', (l) => logLines.push(l)));
  const adapter = createServerAdapter(async (request: Request) => (await handleEpcisRequest(request, deps, options)) ?? app.fetch(request));
  const server = createServer(adapter);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const url = `${origin}/graphql`;
  const auth = (key: string | null): Record<string, string> => (key ? { authorization: `Bearer ${key}` } : {});
  return {
    url,
    origin,
    operatorKey,
    signer,
    logLines,
    setNow: (d) => (fixedNow = d),
    async gql(query, variables, key = operatorKey) {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', ...auth(key) },
        body: JSON.stringify({ query, variables }),
      });
      return { status: res.status, body: (await res.json()) as any };
    },
    async query(key, query = '', headers = {}) {
      return parse(await fetch(`${origin}/epcis/events${query ? `?${query}` : ''}`, { headers: { ...auth(key), ...headers } }));
    },
    capture: (key, document, headers = {}) => captureAndWait(origin, key, document, headers),
    close: () => new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); }),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The project's EPCIS 2.0 validator (no GS1 files: those are the oracle of test/conformance, which checks these same
// exports and GS1's example documents against GS1's JSON Schema).

const schemaErrors = (doc: unknown): string => validateEpcisDocument(doc).map((e) => `${e.path}: ${e.message}`).join('\n');

// ---------------------------------------------------------------------------------------------------------------
// Fixtures

const withCheck = (digits: string): string => digits + String(gs1CheckDigit(digits));
const GTIN = withCheck('0950600013435'); // 09506000134352, company prefix 9506000
const OTHER_GTIN = withCheck('0401234500001');
const item = (serial: string) => sgtinUrn(GTIN, 7, serial);
const FACTORY_GLN = withCheck('950600000001');
const DC_GLN = withCheck('401234500000');
const RECYCLER_SITE_GLN = withCheck('400000100001');
const GLN = { brand: withCheck('950600099999'), dist: withCheck('401234500001'), shop: withCheck('061414100002'), recycler: withCheck('400000100009'), other: withCheck('401234599999') };

interface Actor extends TestActor {
  /** Internal id (the global id decoded). */
  uuid: string;
  gln: string | null;
}

async function createActor(srv: TestServer, name: string, roles: string[], gln: string | null, companyPrefixes: string[] = []): Promise<Actor> {
  const { body } = await srv.gql(
    `mutation($input: CreateActorInput!) { createActor(input: $input) { __typename ... on CreateActorSuccess { secret actor { id } } ... on Error { message } } }`,
    { input: { name, roles, companyPrefixes, ...(gln ? { gln } : {}) } },
  );
  expect(body.data?.createActor?.__typename, JSON.stringify(body)).toBe('CreateActorSuccess');
  const id = body.data.createActor.actor.id as string;
  return { id, key: body.data.createActor.secret, name, uuid: Buffer.from(id, 'base64').toString('utf8').split(':')[1]!, gln };
}

async function registerProduct(srv: TestServer, maker: Actor, gtin: string) {
  const p = await srv.gql(`mutation($i: RegisterProductInput!) { registerProduct(input: $i) { __typename ... on Error { message } } }`, { i: { gtin, name: `Product ${gtin}` } }, maker.key);
  expect(p.body.data.registerProduct.__typename, JSON.stringify(p.body)).toBe('RegisterProductSuccess');
}

async function registerBatch(srv: TestServer, maker: Actor, gtin: string, lot: string, serials: string[], site: string, producedAt: string) {
  const b = await srv.gql(
    `mutation($i: RegisterBatchInput!) { registerBatch(input: $i) { __typename ... on Error { message } } }`,
    { i: { gtin, lot, producedAt, site, serials } },
    maker.key,
  );
  expect(b.body.data.registerBatch.__typename, JSON.stringify(b.body)).toBe('RegisterBatchSuccess');
}

async function step(srv: TestServer, actor: Actor, mutation: string, input: Record<string, unknown>) {
  const r = await lifecycle(srv, actor, mutation, input);
  expect(r.__typename, `${mutation}: ${JSON.stringify(r)}`).toBe('RecordEventSuccess');
  return r;
}

async function treeSize(srv: TestServer): Promise<number> {
  const { body } = await srv.gql(`{ logInfo { treeSize } }`, {}, null);
  return body.data.logInfo.treeSize;
}

async function stageOf(srv: TestServer, key: string, sgtin: string): Promise<string | null> {
  const { body } = await srv.gql(`query($s: String!) { item(sgtin: $s) { stage } }`, { s: sgtin }, key);
  return body.data?.item?.stage ?? null;
}

/** All events the actor may read through GraphQL `events` (leaf indexes). */
async function graphqlLeaves(srv: TestServer, key: string): Promise<number[]> {
  const out: number[] = [];
  let after: string | null = null;
  for (;;) {
    const { body }: { body: any } = await srv.gql(`query($after: String) { events(first: 100, after: $after) { edges { node { leafIndex } } pageInfo { hasNextPage endCursor } } }`, { after }, key);
    out.push(...body.data.events.edges.map((e: any) => e.node.leafIndex));
    if (!body.data.events.pageInfo.hasNextPage) return out;
    after = body.data.events.pageInfo.endCursor;
  }
}

const eventsOf = (queryDoc: Json): Json[] => queryDoc.epcisBody.queryResults.resultsBody.eventList;
const leavesOf = (events: Json[]): number[] => events.map((e) => e['provenant:leafIndex']);
const epcsOf = (e: Json): string[] => e.epcList ?? e.inputEPCList ?? [];
const withoutId = (e: Json): Json => Object.fromEntries(Object.entries(e).filter(([k]) => k !== 'eventID'));
const asDocument = (events: Json[]): Json => ({
  '@context': ['https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld', { provenant: 'https://provenant.dev/epcis/' }],
  type: 'EPCISDocument',
  schemaVersion: '2.0',
  creationDate: '2026-03-01T12:00:00.000Z',
  epcisBody: { eventList: events },
});

const CAPTURE_FIELDS = `__typename
  ... on CaptureEpcisDocumentSuccess { recorded skipped replayed events { index eventID kind status warnings event { id kind leafIndex } } }
  ... on EpcisCaptureError { message code problems { eventIndex eventID field reason code rule items { item reason } } }
  ... on Error { message }`;

async function gqlCapture(srv: TestServer, key: string, document: unknown, idempotencyKey?: string) {
  const { body } = await srv.gql(
    `mutation($i: CaptureEpcisDocumentInput!) { captureEpcisDocument(input: $i) { ${CAPTURE_FIELDS} } }`,
    { i: { document, ...(idempotencyKey ? { idempotencyKey } : {}) } },
    key,
  );
  expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
  return body.data.captureEpcisDocument;
}

// ---------------------------------------------------------------------------------------------------------------
// Ledger A: a full life of one product across four companies, plus a second brand's product.

let dbA: TestDatabase;
let srvA: EpcisServer;
let brand: Actor, dist: Actor, shop: Actor, recycler: Actor, other: Actor;
let exported: Json[] = [];

beforeAll(async () => {
  dbA = await openTestDatabase();
  srvA = await startEpcisServer(dbA);
  brand = await createActor(srvA, 'Brand', ['MANUFACTURER'], GLN.brand, ['9506000']);
  dist = await createActor(srvA, 'Distributor', ['DISTRIBUTOR'], GLN.dist);
  shop = await createActor(srvA, 'Shop', ['RETAILER'], GLN.shop);
  recycler = await createActor(srvA, 'Recycler', ['RECYCLER'], GLN.recycler);
  other = await createActor(srvA, 'Other brand', ['MANUFACTURER'], GLN.other, ['4012345']);

  await registerProduct(srvA, brand, GTIN);
  await registerBatch(srvA, brand, GTIN, 'L1', ['SN-0001', 'SN-0002', 'SN/0003'], FACTORY_GLN, '2026-01-10T08:00:00.000+01:00');
  const all = [item('SN-0001'), item('SN-0002'), item('SN/0003')];
  await step(srvA, brand, 'shipItems', { items: all, to: dist.id, occurredAt: '2026-01-11T09:00:00.000+01:00', location: FACTORY_GLN });
  await step(srvA, dist, 'receiveItems', { items: all, occurredAt: '2026-01-12T10:00:00.250-05:00', location: DC_GLN });
  await step(srvA, dist, 'shipItems', { items: all, to: shop.id, occurredAt: '2026-01-13T11:00:00.000-05:00', location: DC_GLN });
  await step(srvA, shop, 'receiveItems', { items: all, occurredAt: '2026-01-14T12:00:00.000+01:00', location: 'Store Zürich, Bahnhofstrasse 1' });
  await step(srvA, shop, 'sellItems', { items: all.slice(0, 2), price: 149.9, currency: 'EUR', occurredAt: '2026-01-15T18:30:00.000+05:30' });
  await step(srvA, shop, 'recordUse', { items: [all[0]], kind: 'ACTIVATE', note: 'first start', occurredAt: '2026-01-16T09:00:00.000+15:00' });
  await step(srvA, shop, 'recordUse', { items: [all[0]], kind: 'SERVICE', note: 'replaced fan', readings: { hoursRun: 812, 'peak temp °C': 71.5, faults: [] }, occurredAt: '2026-02-01T12:00:00.000+02:00' });
  await step(srvA, shop, 'recordUse', { items: [all[1]], kind: 'USE_REPORT', readings: { cycles: 40 }, occurredAt: '2026-02-02T12:00:00.000Z' });
  await step(srvA, shop, 'returnItems', { items: all.slice(0, 2), to: recycler.id, reason: 'end of life', occurredAt: '2026-02-10T10:00:00.000+01:00' });
  await step(srvA, recycler, 'recycleItems', {
    items: all.slice(0, 2), occurredAt: '2026-02-11T13:30:00.000+01:00', location: RECYCLER_SITE_GLN,
    materials: [{ material: 'Aluminium', massKg: 1.25 }, { material: 'Lithium-ion cells', massKg: 0.4 }],
  });
  await step(srvA, shop, 'destroyItems', { items: [all[2]], reason: 'water damage', occurredAt: '2026-02-12T10:00:00.000-03:00' });
  // A second lot, produced at a site given as text, recycled without recovered materials.
  await registerBatch(srvA, brand, GTIN, 'L2', ['B2-1'], 'Plant 2, Line 4', '2026-01-20T08:00:00.000+01:00');
  await step(srvA, brand, 'shipItems', { items: [item('B2-1')], to: recycler.id, occurredAt: '2026-01-21T08:00:00.000+01:00' });
  await step(srvA, recycler, 'receiveItems', { items: [item('B2-1')], occurredAt: '2026-01-22T08:00:00.000+01:00' });
  await step(srvA, recycler, 'recycleItems', { items: [item('B2-1')], occurredAt: '2026-01-23T08:00:00.000+01:00' });
  // Another company's product, shipped to the shop.
  await registerProduct(srvA, other, OTHER_GTIN);
  await registerBatch(srvA, other, OTHER_GTIN, 'X1', ['X-1', 'X-2'], 'Other plant', '2026-01-05T08:00:00.000+01:00');
  await step(srvA, other, 'shipItems', { items: [sgtinUrn(OTHER_GTIN, 7, 'X-1')], to: shop.id, occurredAt: '2026-01-06T08:00:00.000+01:00' });

  const r = await srvA.query(brand.key, 'perPage=1000');
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  exported = eventsOf(r.body);
});

afterAll(async () => {
  await srvA?.close();
  await dbA?.dispose();
});

describe('GET /epcis/events', () => {
  it('returns an EPCISQueryDocument of every event the brand may read, each valid EPCIS 2.0 and carrying its CBV 2.0 hash ID', async () => {
    const r = await srvA.query(brand.key);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^application\/ld\+json/);
    expect(r.headers.get('gs1-epcis-version')).toBe('2.0.0');
    expect(r.body.type).toBe('EPCISQueryDocument');
    expect(r.body.epcisBody.queryResults.queryName).toBe('SimpleEventQuery');
    expect(schemaErrors(r.body)).toBe('');
    // The brand sees its product's 16 events (2 commissions, 14 lifecycle steps), not the other brand's.
    expect(exported.map((e) => e['provenant:kind'])).toEqual([
      'COMMISSION', 'SHIP', 'RECEIVE', 'SHIP', 'RECEIVE', 'SELL', 'ACTIVATE', 'SERVICE', 'USE_REPORT', 'RETURN', 'RECYCLE', 'DESTROY',
      'COMMISSION', 'SHIP', 'RECEIVE', 'RECYCLE',
    ]);
    expect(schemaErrors(asDocument(exported))).toBe('');
    for (const e of exported) {
      expect(e.eventID).toMatch(/^ni:\/\/\/sha-256;[0-9a-f]{64}\?ver=CBV2\.0$/);
      expect(e.eventID).toBe(epcisEventHashId(withoutId(e), DOCUMENT_CONTEXT));
    }
    const recycle = exported.find((e) => e['provenant:kind'] === 'RECYCLE')!;
    expect(recycle).toMatchObject({ type: 'TransformationEvent', bizStep: 'disassembling', inputEPCList: [item('SN-0001'), item('SN-0002')].sort() });
    expect(recycle.outputQuantityList).toEqual([
      { epcClass: 'urn:provenant:material:aluminium', quantity: 1.25, uom: 'KGM' },
      { epcClass: 'urn:provenant:material:lithium-ion-cells', quantity: 0.4, uom: 'KGM' },
    ]);
  });

  it('writes EPCs as GS1 Digital Links with GS1-EPC-Format: Always_GS1_Digital_Link, and refuses unknown formats', async () => {
    const r = await srvA.query(brand.key, 'perPage=1000', { 'GS1-EPC-Format': 'Always_GS1_Digital_Link' });
    expect(r.status).toBe(200);
    expect(r.headers.get('gs1-epc-format')).toBe('Always_GS1_Digital_Link');
    expect(schemaErrors(r.body)).toBe('');
    const events = eventsOf(r.body);
    expect(events.flatMap(epcsOf)).toContain(`https://id.gs1.org/01/${GTIN}/21/SN%2F0003`);
    expect(events.flatMap(epcsOf).every((e) => e.startsWith(`https://id.gs1.org/01/${GTIN}/21/`))).toBe(true);
    for (const e of events) expect(e.eventID).toBe(epcisEventHashId(withoutId(e), DOCUMENT_CONTEXT));
    for (const value of ['Always_EPC_URN', 'Never_Translates', 'No_Preference']) {
      const u = await srvA.query(brand.key, 'perPage=1', { 'GS1-EPC-Format': value });
      expect(eventsOf(u.body)[0]!.epcList[0]).toMatch(/^urn:epc:id:sgtin:/);
    }
    const bad = await srvA.query(brand.key, '', { 'GS1-EPC-Format': 'Sometimes' });
    expect(bad.status).toBe(400);
    expect(bad.body.title).toMatch(/GS1-EPC-Format must be one of/);
  });

  it('applies the same visibility as GraphQL events, for every actor; another company\'s events never appear', async () => {
    for (const actor of [brand, dist, shop, recycler, other]) {
      const r = await srvA.query(actor.key, 'perPage=1000');
      expect(r.status).toBe(200);
      expect(leavesOf(eventsOf(r.body)), actor.name).toEqual(await graphqlLeaves(srvA, actor.key));
    }
    const brandLeaves = new Set(leavesOf(exported));
    const otherEvents = eventsOf((await srvA.query(other.key, 'perPage=1000')).body);
    expect(otherEvents.map((e) => e['provenant:kind'])).toEqual(['COMMISSION', 'SHIP']);
    expect(otherEvents.some((e) => brandLeaves.has(e['provenant:leafIndex']))).toBe(false);
    expect(exported.flatMap(epcsOf).some((epc) => epc.includes('4012345'))).toBe(false);
    // The distributor held the first lot from its receipt until it shipped it on: the shop's and recycler's later
    // steps are not its business.
    const distKinds = eventsOf((await srvA.query(dist.key, 'perPage=1000')).body).map((e) => e['provenant:kind']);
    expect(distKinds).toEqual(['SHIP', 'RECEIVE', 'SHIP']);
    // MATCH_epc of an item the caller may not see finds nothing (not an error: no existence leak).
    const probe = await srvA.query(other.key, `MATCH_epc=${encodeURIComponent(item('SN-0001'))}`);
    expect(probe.status).toBe(200);
    expect(eventsOf(probe.body)).toEqual([]);
  });

  it('refuses anonymous and badly authenticated requests with 401 and other methods with 405', async () => {
    const anon = await srvA.query(null);
    expect(anon.status).toBe(401);
    expect(anon.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(anon.body).toMatchObject({ type: 'epcisException:SecurityException', status: 401 });
    expect((await srvA.query('pvn_notakeyatallnotakeyatall0')).status).toBe(401);
    const post = await fetch(`${srvA.origin}/epcis/events`, { method: 'POST', headers: { authorization: `Bearer ${brand.key}` } });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD, OPTIONS');
    // Other paths still reach GraphQL.
    expect((await srvA.gql(`{ viewer { name } }`, {}, brand.key)).body.data.viewer.name).toBe('Brand');
  });

  it('pages with perPage and nextPageToken, announcing the next page in a Link header', async () => {
    const seen: Json[] = [];
    let next: string | null = `${srvA.origin}/epcis/events?perPage=5`;
    let pages = 0;
    while (next) {
      const res: Response = await fetch(next, { headers: { authorization: `Bearer ${brand.key}` } });
      expect(res.status).toBe(200);
      const body = (await res.json()) as Json;
      seen.push(...eventsOf(body));
      pages++;
      const link = res.headers.get('link');
      next = link ? /^<([^>]+)>; rel="next"$/.exec(link)![1]! : null;
      if (next) expect(new URL(next).searchParams.get('nextPageToken')).toMatch(/^[A-Za-z0-9_-]+$/);
    }
    expect(pages).toBe(4);
    expect(seen.map((e) => e.eventID)).toEqual(exported.map((e) => e.eventID));
    // Default page size 30: one page, no Link.
    const all = await srvA.query(brand.key);
    expect(eventsOf(all.body)).toHaveLength(16);
    expect(all.headers.get('link')).toBeNull();
    // More than the maximum is served with the maximum.
    expect((await srvA.query(brand.key, 'perPage=5000')).status).toBe(200);
    for (const [q, pattern] of [
      ['perPage=0', /perPage/],
      ['perPage=abc', /perPage/],
      ['nextPageToken=bm9wZQ', /nextPageToken is not a token/],
      ['EQ_quantity=3', /EQ_quantity is not supported/],
      ['orderBy=quantity', /orderBy must be eventTime or recordTime/],
      ['EQ_action=UPSERT', /EQ_action must be ADD, OBSERVE or DELETE/],
      ['GE_eventTime=yesterday', /GE_eventTime/],
      ['MATCH_epc=hello', /not an EPC/],
      ['MATCH_epc=urn:epc:id:sgtin:123', /MATCH_epc/],
    ] as const) {
      const r = await srvA.query(brand.key, q);
      expect(r.status, q).toBe(400);
      expect(r.body.type, q).toBe('epcisException:QueryParameterException');
      expect(r.body.title, q).toMatch(pattern);
    }
  });

  it('filters with MATCH_epc, MATCH_anyEPC, EQ_bizStep, EQ_action, GE_eventTime and LT_eventTime', async () => {
    const kinds = async (q: string) => eventsOf((await srvA.query(brand.key, q)).body).map((e) => e['provenant:kind']);
    const sn1 = encodeURIComponent(item('SN-0001'));
    // MATCH_epc: ObjectEvents with the item in epcList — not the RECYCLE TransformationEvent (its items are inputs).
    expect(await kinds(`MATCH_epc=${sn1}`)).toEqual(['COMMISSION', 'SHIP', 'RECEIVE', 'SHIP', 'RECEIVE', 'SELL', 'ACTIVATE', 'SERVICE', 'RETURN']);
    expect(await kinds(`MATCH_anyEPC=${sn1}`)).toEqual(['COMMISSION', 'SHIP', 'RECEIVE', 'SHIP', 'RECEIVE', 'SELL', 'ACTIVATE', 'SERVICE', 'RETURN', 'RECYCLE']);
    // The same item as a Digital Link; several values separated by |; a class pattern; a company-prefix pattern.
    expect(await kinds(`MATCH_epc=${encodeURIComponent(`https://id.gs1.org/01/${GTIN}/21/SN-0001`)}`)).toEqual(await kinds(`MATCH_epc=${sn1}`));
    expect(await kinds(`MATCH_epc=${encodeURIComponent(`${item('SN/0003')}|${item('B2-1')}`)}`)).toEqual(['COMMISSION', 'SHIP', 'RECEIVE', 'SHIP', 'RECEIVE', 'DESTROY', 'COMMISSION', 'SHIP', 'RECEIVE', 'RECYCLE']);
    expect(await kinds(`MATCH_anyEPC=${encodeURIComponent('urn:epc:idpat:sgtin:9506000.013435.*')}`)).toHaveLength(16);
    expect(await kinds(`MATCH_anyEPC=${encodeURIComponent('urn:epc:idpat:sgtin:9506000.*.*')}`)).toHaveLength(16);
    expect(await kinds(`MATCH_anyEPC=${encodeURIComponent('urn:epc:idpat:sgtin:4012345.*.*')}`)).toEqual([]);
    expect(await kinds(`MATCH_epc=${encodeURIComponent('urn:epc:id:sscc:0614141.1234567890')}`)).toEqual([]);
    // EQ_bizStep in every notation; receiving covers RECEIVE and RETURN.
    expect(await kinds('EQ_bizStep=receiving')).toEqual(['RECEIVE', 'RECEIVE', 'RETURN', 'RECEIVE']);
    expect(await kinds(`EQ_bizStep=${encodeURIComponent('urn:epcglobal:cbv:bizstep:shipping|https://ref.gs1.org/cbv/BizStep-retail_selling')}`)).toEqual(['SHIP', 'SHIP', 'SELL', 'SHIP']);
    expect(await kinds('EQ_bizStep=disassembling&EQ_bizStep=destroying')).toEqual(['RECYCLE', 'DESTROY', 'RECYCLE']);
    expect(await kinds('EQ_bizStep=inspecting')).toEqual([]);
    // EQ_action: ADD = commissioning; OBSERVE = every ObjectEvent but those; the TransformationEvent has no action.
    expect(await kinds('EQ_action=ADD')).toEqual(['COMMISSION', 'COMMISSION']);
    const observed = await kinds('EQ_action=OBSERVE');
    expect(observed).toHaveLength(13);
    expect(observed).not.toContain('COMMISSION');
    expect(observed.filter((k) => k === 'RECYCLE')).toHaveLength(1); // the lot recycled without materials (an ObjectEvent)
    expect(await kinds('EQ_action=DELETE')).toEqual([]);
    // Time window (the "+" of an offset may arrive unencoded, as a space).
    expect(await kinds(`GE_eventTime=${encodeURIComponent('2026-02-01T00:00:00.000+01:00')}&LT_eventTime=2026-02-11T12:30:00.000Z`)).toEqual(['SERVICE', 'USE_REPORT', 'RETURN']);
    expect(await kinds('GE_eventTime=2026-02-10T10:00:00.000+01:00')).toEqual(['RETURN', 'RECYCLE', 'DESTROY']);
    // Combined.
    expect(await kinds(`EQ_bizStep=shipping&MATCH_epc=${encodeURIComponent(item('B2-1'))}`)).toEqual(['SHIP']);
  });
});

describe('GraphQL epcisDocument', () => {
  const Q = `query($f: EpcisEventFilter, $first: Int, $after: String, $fmt: EpcFormat) { epcisDocument(filter: $f, first: $first, after: $after, epcFormat: $fmt) }`;

  it('returns the same events as an EPCISDocument, paged with provenant:nextPageToken, valid EPCIS 2.0', async () => {
    const seen: Json[] = [];
    let after: string | null = null;
    do {
      const { body } = await srvA.gql(Q, { first: 6, after }, brand.key);
      expect(body.errors).toBeUndefined();
      const doc = body.data.epcisDocument as Json;
      expect(doc.type).toBe('EPCISDocument');
      expect(schemaErrors(doc)).toBe('');
      seen.push(...doc.epcisBody.eventList);
      after = (doc['provenant:nextPageToken'] as string | undefined) ?? null;
    } while (after);
    expect(seen).toEqual(exported);
  });

  it('filters like EventFilter and the REST parameters, and writes Digital Links on request', async () => {
    const doc = async (f: Json, fmt = 'URN') => {
      const { body } = await srvA.gql(Q, { f, first: 100, fmt }, brand.key);
      expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
      return body.data.epcisDocument.epcisBody.eventList as Json[];
    };
    expect((await doc({ kinds: ['SHIP'] })).map((e) => e['provenant:kind'])).toEqual(['SHIP', 'SHIP', 'SHIP']);
    expect((await doc({ batch: { gtin: GTIN, lot: 'L2' } })).map((e) => e['provenant:kind'])).toEqual(['COMMISSION', 'SHIP', 'RECEIVE', 'RECYCLE']);
    expect((await doc({ batch: { gtin: GTIN, lot: 'nope' } }))).toEqual([]);
    expect((await doc({ actor: recycler.id })).map((e) => e['provenant:kind'])).toEqual(['RECYCLE', 'RECEIVE', 'RECYCLE']);
    expect((await doc({ matchEpc: [item('SN-0002')], bizSteps: ['receiving'] })).map((e) => e['provenant:kind'])).toEqual(['RECEIVE', 'RECEIVE', 'RETURN']);
    expect((await doc({ actions: ['ADD'], since: '2026-01-15T00:00:00Z' })).map((e) => e.ilmd)).toEqual([{ 'cbvmda:lotNumber': 'L2' }]);
    const dl = await doc({ matchAnyEpc: [item('B2-1')] }, 'DIGITAL_LINK');
    expect(dl.flatMap(epcsOf)).toEqual(Array(4).fill(`https://id.gs1.org/01/${GTIN}/21/B2-1`));
    const bad = await srvA.gql(Q, { f: { matchEpc: ['nonsense'] } }, brand.key);
    expect(bad.body.errors[0].extensions).toMatchObject({ code: 'VALIDATION_ERROR', field: 'filter.matchEpc[0]' });
    const anon = await srvA.gql(Q, {}, null);
    expect(anon.body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Capture

describe('an exported life re-captured into a fresh ledger', () => {
  let dbB: TestDatabase;
  let srvB: EpcisServer;
  let actorsB: Map<string, Actor>;

  beforeAll(async () => {
    dbB = await openTestDatabase();
    srvB = await startEpcisServer(dbB);
    actorsB = new Map();
    for (const [name, roles, gln, prefixes] of [
      ['Brand', ['MANUFACTURER'], GLN.brand, ['9506000']],
      ['Distributor', ['DISTRIBUTOR'], GLN.dist, []],
      ['Shop', ['RETAILER'], GLN.shop, []],
      ['Recycler', ['RECYCLER'], GLN.recycler, []],
    ] as const) {
      actorsB.set(gln, await createActor(srvB, name, [...roles], gln, [...prefixes]));
    }
    // Products are master data, not EPCIS events.
    await registerProduct(srvB, actorsB.get(GLN.brand)!, GTIN);
  });
  afterAll(async () => {
    await srvB?.close();
    await dbB?.dispose();
  });

  it('reproduces the same events (kinds, items, times, places, parties, data) and records the source event hash IDs', async () => {
    const glnOf = new Map([brand, dist, shop, recycler].map((a) => [a.uuid, a.gln!]));
    // Each company captures its own events, in log order: runs of consecutive events by one actor form a document.
    const runs: Json[][] = [];
    for (const e of exported) {
      const last = runs[runs.length - 1];
      if (last && last[0]!['provenant:actor'] === e['provenant:actor']) last.push(e);
      else runs.push([e]);
    }
    const capturedIds: string[] = [];
    for (const [i, run] of runs.entries()) {
      const actor = actorsB.get(glnOf.get(run[0]!['provenant:actor'])!)!;
      // Half through REST, half through GraphQL.
      if (i % 2 === 0) {
        const r = await srvB.capture(actor.key, asDocument(run));
        expect(r.status, JSON.stringify(r.body)).toBe(200);
        expect(r.body.recorded).toBe(run.length);
        capturedIds.push(...r.body.events.map((e: Json) => e.eventID));
        expect(r.body.events.map((e: Json) => [e.status, e.warnings])).toEqual(run.map(() => ["RECORDED", []]));
      } else {
        const r = await gqlCapture(srvB, actor.key, asDocument(run));
        expect(r.__typename, JSON.stringify(r)).toBe('CaptureEpcisDocumentSuccess');
        expect(r.events.map((e: Json) => e.status)).toEqual(run.map(() => 'RECORDED'));
        capturedIds.push(...r.events.map((e: Json) => e.eventID));
      }
    }
    // The ledger computes each captured event's hash ID: the exported eventIDs.
    expect(capturedIds).toEqual(exported.map((e) => e.eventID));

    const again = eventsOf((await srvB.query(actorsB.get(GLN.brand)!.key, 'perPage=1000')).body);
    expect(schemaErrors(asDocument(again))).toBe('');
    // Ledger-specific fields differ (actor ids, content hashes, record times); everything the events say is equal.
    const LEDGER_SPECIFIC = ['eventID', 'recordTime', 'provenant:contentHash', 'provenant:leafIndex', 'provenant:actor', 'provenant:counterparty', 'provenant:capturedEventID'];
    const meaning = (e: Json) => Object.fromEntries(Object.entries(e).filter(([k]) => !LEDGER_SPECIFIC.includes(k)));
    expect(again.map(meaning)).toEqual(exported.map(meaning));
    expect(again.map((e) => e['provenant:capturedEventID'])).toEqual(exported.map((e) => e.eventID));
    for (const e of again) expect(e.eventID).toBe(epcisEventHashId(withoutId(e), DOCUMENT_CONTEXT));
    // Spot checks of what was reproduced.
    expect(again[0]).toMatchObject({ ilmd: { 'cbvmda:lotNumber': 'L1' }, readPoint: { id: `https://id.gs1.org/414/${FACTORY_GLN}` }, eventTime: '2026-01-10T08:00:00.000+01:00' });
    expect(again[1]!.destinationList).toContainEqual({ type: 'owning_party', destination: `https://id.gs1.org/417/${GLN.dist}` });
    expect(again[6]).toMatchObject({ 'provenant:kind': 'ACTIVATE', eventTimeZoneOffset: '+00:00', 'provenant:timezoneOffset': '+15:00' });
    expect(again[12]).toMatchObject({ 'provenant:kind': 'COMMISSION', 'provenant:location': 'Plant 2, Line 4' });
    expect(await stageOf(srvB, actorsB.get(GLN.brand)!.key, item('SN-0001'))).toBe('RECYCLED');
    expect(await stageOf(srvB, actorsB.get(GLN.brand)!.key, item('SN/0003'))).toBe('DESTROYED');

    // Capturing again records nothing new: each event is recognised by its hash ID.
    const size = await treeSize(srvB);
    const firstRun = runs[0]!;
    const repeat = await srvB.capture(actorsB.get(GLN.brand)!.key, asDocument(firstRun));
    expect(repeat.status).toBe(200);
    expect(repeat.body).toMatchObject({ recorded: 0, skipped: firstRun.length, replayed: false });
    expect(repeat.body.events.map((e: Json) => e.status)).toEqual(firstRun.map(() => 'ALREADY_CAPTURED'));
    // The whole life in one document, captured by the brand: all already there.
    const whole = await gqlCapture(srvB, actorsB.get(GLN.brand)!.key, asDocument(exported));
    expect(whole).toMatchObject({ __typename: 'CaptureEpcisDocumentSuccess', recorded: 0, skipped: 16 });
    expect(await treeSize(srvB)).toBe(size);
  });
});

describe('capture', () => {
  let dbC: TestDatabase;
  let srvC: EpcisServer;
  let maker: Actor, seller: Actor, carrier: Actor;

  beforeAll(async () => {
    dbC = await openTestDatabase();
    srvC = await startEpcisServer(dbC);
    maker = await createActor(srvC, 'Maker', ['MANUFACTURER'], GLN.brand, ['9506000']);
    seller = await createActor(srvC, 'Seller', ['RETAILER'], GLN.shop);
    carrier = await createActor(srvC, 'Carrier', ['DISTRIBUTOR'], null);
    await registerProduct(srvC, maker, GTIN);
  });
  afterAll(async () => {
    await srvC?.close();
    await dbC?.dispose();
  });

  // ---- documents written for these tests

  const at = (day: number) => `2026-03-${String(day).padStart(2, '0')}T10:00:00.000+01:00`;
  const ev = (fields: Json): Json => ({ type: 'ObjectEvent', eventTime: at(1), eventTimeZoneOffset: '+01:00', action: 'OBSERVE', ...fields });
  const commission = (lot: string, serials: string[], extra: Json = {}) =>
    ev({ action: 'ADD', bizStep: 'commissioning', disposition: 'active', epcList: serials.map(item), readPoint: { id: `https://id.gs1.org/414/${FACTORY_GLN}` }, ilmd: { 'cbvmda:lotNumber': lot }, ...extra });
  const ship = (serials: string[], to: string, extra: Json = {}) =>
    ev({ bizStep: 'shipping', disposition: 'in_transit', epcList: serials.map(item), destinationList: [{ type: 'owning_party', destination: to }], ...extra });
  const partyOf = (a: Actor) => `https://id.gs1.org/417/${a.gln}`;

  it('records commissioning and a shipment of the new items in one document, all in one transaction', async () => {
    const r = await srvC.capture(maker.key, asDocument([commission('ATOM', ['A1', 'A2']), ship(['A1', 'A2'], partyOf(seller), { eventTime: at(2) })]));
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.events.map((e: Json) => [e.kind, e.status])).toEqual([['COMMISSION', 'RECORDED'], ['SHIP', 'RECORDED']]);
    expect(r.body.events[0].eventGlobalId).toMatch(/^[A-Za-z0-9+/=]+$/);
    expect(await stageOf(srvC, maker.key, item('A1'))).toBe('IN_TRANSIT');
    const { body } = await srvC.gql(`query($g: String!, $l: String!) { batch(gtin: $g, lot: $l) { lot site producedAt } }`, { g: GTIN, l: 'ATOM' }, maker.key);
    expect(body.data.batch).toMatchObject({ lot: 'ATOM', site: FACTORY_GLN, producedAt: '2026-03-01T09:00:00.000Z' });
    // Without ILMD the lot is derived from the event hash ID; Digital Link EPCs are accepted.
    const noLot = ev({ action: 'ADD', bizStep: 'commissioning', epcList: [`https://id.gs1.org/01/${GTIN}/21/G1`], readPoint: { id: `https://id.gs1.org/414/${FACTORY_GLN}` } });
    const g = await srvC.capture(maker.key, asDocument([noLot]));
    expect(g.status, JSON.stringify(g.body)).toBe(200);
    const lot = `EPCIS-${g.body.events[0].eventID.slice('ni:///sha-256;'.length, 'ni:///sha-256;'.length + 14)}`;
    expect((await srvC.gql(`query($g: String!, $l: String!) { batch(gtin: $g, lot: $l) { lot } }`, { g: GTIN, l: lot }, maker.key)).body.data.batch).toEqual({ lot });
    // The seller receives them (destination = itself; the source names the maker).
    const recv = await gqlCapture(srvC, seller.key, asDocument([ev({ eventTime: at(3), bizStep: 'receiving', disposition: 'in_progress', epcList: [item('A1'), item('A2')], destinationList: [{ type: 'owning_party', destination: partyOf(seller) }], sourceList: [{ type: 'owning_party', source: partyOf(maker) }] })]));
    expect(recv.__typename, JSON.stringify(recv)).toBe('CaptureEpcisDocumentSuccess');
    expect(recv.events[0]).toMatchObject({ kind: 'RECEIVE', status: 'RECORDED', warnings: ['sourceList is not kept by the ledger'], event: { kind: 'RECEIVE' } });
    // A sale naming its buyer (destination) and price; the buyer becomes the custodian.
    const sale = await srvC.capture(seller.key, asDocument([ev({ eventTime: at(4), bizStep: 'retail_selling', disposition: 'retail_sold', epcList: [item('A2')], destinationList: [{ type: 'owning_party', destination: `urn:provenant:actor:${carrier.uuid}` }], 'provenant:price': 12.5, 'provenant:priceCurrency': 'CHF', bizTransactionList: [{ type: 'inv', bizTransaction: 'urn:example:inv:1' }] })]));
    expect(sale.status, JSON.stringify(sale.body)).toBe(200);
    expect(sale.body.events[0].warnings).toEqual(['bizTransactionList is not kept by the ledger']);
    const sold = await srvC.gql(`query($s: String!) { item(sgtin: $s) { stage custodian { name } events(first: 1, order: NEWEST_FIRST) { edges { node { kind data counterparty { name } } } } } }`, { s: item('A2') }, seller.key);
    expect(sold.body.data.item).toMatchObject({ stage: 'SOLD', custodian: { name: 'Carrier' }, events: { edges: [{ node: { kind: 'SELL', data: { price: 12.5, currency: 'CHF' }, counterparty: { name: 'Carrier' } } }] } });
    // Custody is possession: with a carrier as possessing party and the seller as owner, the carrier receives.
    const split = await srvC.capture(maker.key, asDocument([
      commission('POSS', ['P1'], { eventTime: at(5) }),
      ship(['P1'], `urn:provenant:actor:${carrier.uuid}`, { eventTime: at(6), destinationList: [{ type: 'owning_party', destination: partyOf(seller) }, { type: 'possessing_party', destination: `urn:provenant:actor:${carrier.uuid}` }] }),
    ]));
    expect(split.status, JSON.stringify(split.body)).toBe(200);
    expect(split.body.events[1].warnings).toEqual([`destinationList owning_party ${partyOf(seller)} is not kept: the ledger records custody (possessing_party urn:provenant:actor:${carrier.uuid})`]);
    const byCarrier = await srvC.capture(carrier.key, asDocument([ev({ eventTime: at(7), bizStep: 'receiving', epcList: [item('P1')] })]));
    expect(byCarrier.status, JSON.stringify(byCarrier.body)).toBe(200);
  });

  it('applies a shipment or receipt of an SSCC to every item packed in it, and exports packing as AggregationEvents', async () => {
    const sscc = withCheck('09506000000000001');
    expect((await srvC.capture(maker.key, asDocument([commission('PACKED', ['K1', 'K2'], { eventTime: at(8) })]))).status).toBe(200);
    const pack = await srvC.gql(`mutation($i: PackItemsInput!) { packItems(input: $i) { __typename ... on Error { message } } }`, { i: { container: sscc, items: [item('K1'), item('K2')], occurredAt: at(9) } }, maker.key);
    expect(pack.body.data.packItems.__typename, JSON.stringify(pack.body)).toBe('RecordEventSuccess');
    const shipped = await srvC.capture(maker.key, asDocument([ev({ eventTime: at(10), bizStep: 'shipping', epcList: ['urn:epc:id:sscc:9506000.0000000001'], destinationList: [{ type: 'owning_party', destination: partyOf(seller) }] })]));
    expect(shipped.status, JSON.stringify(shipped.body)).toBe(200);
    expect(await stageOf(srvC, maker.key, item('K2'))).toBe('IN_TRANSIT');
    const received = await srvC.capture(seller.key, asDocument([ev({ eventTime: at(11), bizStep: 'receiving', epcList: [`https://id.gs1.org/00/${sscc}`] })]));
    expect(received.status, JSON.stringify(received.body)).toBe(200);
    expect(await stageOf(srvC, seller.key, item('K1'))).toBe('IN_STOCK');
    const unknown = await srvC.capture(seller.key, asDocument([ev({ eventTime: at(11), bizStep: 'receiving', epcList: [`https://id.gs1.org/00/${withCheck('09506000000000002')}`] })]));
    expect(unknown.body.problems[0]).toMatchObject({ eventIndex: 0, field: 'epcList', code: 'NOT_FOUND', reason: `container ${withCheck('09506000000000002')} not found or empty` });
    // Export: the PACK is an AggregationEvent (parentID = the SSCC), found by its container with MATCH_anyEPC only.
    const kinds = async (q: string) => eventsOf((await srvC.query(maker.key, q)).body).map((e) => e['provenant:kind']);
    const all = await srvC.query(maker.key, 'perPage=1000');
    expect(schemaErrors(all.body)).toBe('');
    const packed = eventsOf(all.body).find((e) => e['provenant:kind'] === 'PACK')!;
    // URN format: the container (company prefix 9506000, registered) is an SSCC URN.
    expect(packed).toMatchObject({ type: 'AggregationEvent', action: 'ADD', bizStep: 'packing', parentID: 'urn:epc:id:sscc:9506000.0000000001', childEPCs: [item('K1'), item('K2')] });
    expect(await kinds(`MATCH_anyEPC=${encodeURIComponent('urn:epc:id:sscc:9506000.0000000001')}`)).toEqual(['PACK']);
    expect(await kinds(`MATCH_anyEPC=${encodeURIComponent(`https://id.gs1.org/00/${sscc}`)}`)).toEqual(['PACK']);
    expect(await kinds(`MATCH_epc=${encodeURIComponent(`https://id.gs1.org/00/${sscc}`)}`)).toEqual([]);
    expect(await kinds(`MATCH_epc=${encodeURIComponent(item('K1'))}`)).toEqual(['COMMISSION', 'PACK', 'SHIP', 'RECEIVE']);
    expect(await kinds('EQ_bizStep=packing')).toEqual(['PACK']);
    expect((await kinds('EQ_action=ADD')).filter((k) => k === 'PACK')).toEqual(['PACK']);
    expect(await kinds('EQ_action=DELETE')).toEqual([]);
  });

  it('writes nothing of a document when a later event is refused (event index, field, reason)', async () => {
    const size = await treeSize(srvC);
    const captures = async () => Number((await sql<{ n: number }>`SELECT count(*)::int AS n FROM epcis_captures`.execute(dbC.db)).rows[0]!.n);
    const before = await captures();
    // Event 2 sells an item that is in transit (and the maker is no retailer): the commission and shipment before it
    // are rolled back with it.
    const doc = asDocument([
      commission('ROLL', ['R1', 'R2']),
      ship(['R1'], partyOf(seller), { eventTime: at(2) }),
      ev({ eventTime: at(3), bizStep: 'retail_selling', disposition: 'retail_sold', epcList: [item('R1')] }),
    ]);
    const r = await srvC.capture(maker.key, doc);
    expect(r.status, JSON.stringify(r.body)).toBe(400);
    expect(r.body.type).toBe('epcisException:ValidationException');
    expect(r.body.problems).toHaveLength(1);
    expect(r.body.problems[0]).toMatchObject({ eventIndex: 2, field: 'epcList', code: 'INVALID_TRANSITION', items: [{ item: item('R1'), reason: 'SELL requires stage IN_STOCK' }] });
    expect(r.body.problems[0].reason).toMatch(/^1 item\(s\) cannot be recorded as SELL; nothing was written/);
    expect(r.body.title).toMatch(/^EPCIS document rejected, nothing was recorded: event 2 epcList: /);
    expect(await treeSize(srvC)).toBe(size);
    expect(await captures()).toBe(before);
    expect(await stageOf(srvC, maker.key, item('R1'))).toBeNull(); // the batch was never created
    expect((await srvC.gql(`query($g: String!) { batch(gtin: $g, lot: "ROLL") { id } }`, { g: GTIN }, maker.key)).body.data.batch).toBeNull();
    // Same through GraphQL, and the document can be captured once fixed.
    const g = await gqlCapture(srvC, maker.key, doc);
    expect(g).toMatchObject({ __typename: 'EpcisCaptureError', code: 'INVALID_TRANSITION', problems: [{ eventIndex: 2, field: 'epcList', code: 'INVALID_TRANSITION', rule: null }] });
    const fixed = await gqlCapture(srvC, maker.key, asDocument(doc.epcisBody.eventList.slice(0, 2)));
    expect(fixed).toMatchObject({ __typename: 'CaptureEpcisDocumentSuccess', recorded: 2 });
  });

  it('applies the same rights as the mutations: not the custodian → 403 with the rule', async () => {
    // A1 is in the seller's stock; its brand may see it but not ship it.
    const r = await srvC.capture(maker.key, asDocument([ship(['A1'], `urn:provenant:actor:${carrier.uuid}`, { eventTime: at(4) })]));
    expect(r.status, JSON.stringify(r.body)).toBe(403);
    expect(r.body).toMatchObject({ type: 'epcisException:SecurityException', problems: [{ eventIndex: 0, field: 'epcList', code: 'PERMISSION_DENIED', rule: 'NOT_CUSTODIAN' }] });
    // An actor that cannot see the items gets "not found", as with the mutations.
    const hidden = await srvC.capture(carrier.key, asDocument([ship(['A1'], partyOf(seller), { eventTime: at(4) })]));
    expect(hidden.status).toBe(400);
    expect(hidden.body.problems[0]).toMatchObject({ eventIndex: 0, field: 'epcList', code: 'NOT_FOUND', reason: `item ${item('A1')} not found` });
  });

  it('rejects unmappable, invalid and unresolvable events, reporting every problem with its event index and field', async () => {
    const doc = asDocument([
      ev({ bizStep: 'holding', disposition: 'recalled', epcList: [item('A1')] }),
      ev({ bizStep: 'shipping', epcList: ['urn:epc:id:grai:4012345.55555.987', item('A2')], destinationList: [{ type: 'owning_party', destination: 'urn:epc:id:pgln:9999999.99999' }] }),
      ev({ bizStep: 'destroying', epcList: [item('A2'), `https://id.gs1.org/01/${GTIN}/21/A2`], 'provenant:data': { 'provenant:reason': 'flood', 'provenant:colour': 'red' } }),
      { type: 'TransformationEvent', eventTime: at(1), eventTimeZoneOffset: '+01:00', bizStep: 'disassembling', inputEPCList: [item('A1')], outputQuantityList: [{ epcClass: 'urn:provenant:material:steel', quantity: 500, uom: 'GRM' }] },
      ev({ bizStep: 'commissioning', epcList: [item('Z1')] }),
      ev({ action: 'ADD', bizStep: 'commissioning', epcList: [item('Z2'), sgtinUrn(OTHER_GTIN, 7, 'Z3')] }),
      ev({ bizStep: 'installing', epcList: [item('A1')], 'provenant:kind': 'SERVICE' }),
      ev({ bizStep: 'inspecting', epcList: [item('A1')] }),
    ]);
    const r = await srvC.capture(seller.key, doc);
    expect(r.status).toBe(400);
    const problems = r.body.problems.map((p: Json) => [p.eventIndex, p.field, p.code]);
    expect(problems).toEqual([
      [0, 'disposition', 'UNMAPPABLE'],
      [1, 'epcList[0]', 'UNMAPPABLE'],
      [2, 'epcList[1]', 'INVALID'],
      [2, 'provenant:data.colour', 'INVALID'],
      [3, 'outputQuantityList[0].uom', 'INVALID'],
      [4, 'action', 'UNMAPPABLE'],
      [5, 'epcList', 'UNMAPPABLE'],
      [5, 'readPoint', 'INVALID'],
      [6, 'provenant:kind', 'INVALID'],
      [7, 'bizStep', 'UNMAPPABLE'],
    ]);
    const reason = (i: number) => r.body.problems[i].reason as string;
    expect(reason(0)).toMatch(/use the recallBatch mutation/);
    expect(reason(1)).toMatch(/^urn:epc:id:grai:4012345\.55555\.987 is neither an SGTIN nor an SSCC/);
    expect(reason(2)).toBe('repeats epcList[0] (the same item)');
    expect(reason(3)).toBe('colour is not a field of DESTROY (its fields: reason)');
    expect(reason(4)).toBe('recovered materials are recorded in kilograms: uom must be KGM, got GRM');
    expect(reason(6)).toMatch(/^a commissioning event creates one batch of one product; its EPCs carry 2 GTINs/);
    expect(reason(8)).toMatch(/^provenant:kind SERVICE contradicts bizStep installing/);
    expect(r.body.problems.every((p: Json) => /^ni:\/\/\/sha-256;[0-9a-f]{64}\?ver=CBV2\.0$/.test(p.eventID))).toBe(true);
    // Parties are resolved in the ledger: an unknown GLN, or a RECEIVE naming someone else.
    const unknown = await srvC.capture(seller.key, asDocument([ship(['A1'], 'urn:epc:id:pgln:9999999.99999', { eventTime: at(5) })]));
    expect(unknown.body.problems[0]).toMatchObject({ eventIndex: 0, field: 'destinationList[0].destination', code: 'NOT_FOUND', reason: `no actor with GLN ${withCheck('999999999999')} is known to this ledger` });
    const other = await srvC.capture(seller.key, asDocument([ev({ bizStep: 'receiving', epcList: [item('A1')], destinationList: [{ type: 'possessing_party', destination: partyOf(maker) }] })]));
    expect(other.body.problems[0]).toMatchObject({ eventIndex: 0, field: 'destinationList[0].destination', code: 'INVALID', reason: `names ${partyOf(maker)}, which is not the capturing actor: a RECEIVE is recorded by its receiver` });
  });

  it('validates the EPCIS 2.0 structure first (field-level problems, no schema files needed), and refuses what is not an EPCISDocument', async () => {
    const { eventTimeZoneOffset: _omit, ...noOffset } = ship(['A1'], partyOf(seller));
    const r = await srvC.capture(seller.key, asDocument([ship(['A1'], partyOf(seller)), noOffset, { ...ship(['A1'], partyOf(seller)), action: 'LOOK' }]));
    expect(r.status).toBe(400);
    const fields = r.body.problems.map((p: Json) => [p.eventIndex, p.field, p.code]);
    expect(fields).toContainEqual([1, 'eventTimeZoneOffset', 'SCHEMA']);
    expect(fields).toContainEqual([2, 'action', 'SCHEMA']);
    expect(fields.some(([i]: [number]) => i === 0)).toBe(false);
    expect(r.body.problems.find((p: Json) => p.eventIndex === 2).reason).toBe('must be one of OBSERVE, ADD, DELETE, got "LOOK"');
    expect(r.body.problems.find((p: Json) => p.eventIndex === 1).reason).toBe('is required in an ObjectEvent');
    const notJson = await srvC.capture(seller.key, '{"type": "EPCISDocument",');
    expect(notJson.status).toBe(400);
    expect(notJson.body.title).toMatch(/^the body is not a JSON document/);
    const media = await srvC.capture(seller.key, asDocument([]), { 'content-type': 'text/plain' });
    expect(media.status).toBe(415);
    const bare = await srvC.capture(seller.key, ship(['A1'], partyOf(seller)));
    expect(bare.body.problems[0]).toMatchObject({ eventIndex: null, field: 'type', code: 'SCHEMA', reason: 'capture takes an EPCISDocument (type "EPCISDocument"), got "ObjectEvent"' });
    const proceed = await srvC.capture(seller.key, asDocument([]), { 'GS1-Capture-Error-Behaviour': 'proceed' });
    expect(proceed.status).toBe(400);
    expect(proceed.body.title).toMatch(/all-or-nothing/);
    expect((await srvC.capture(null, asDocument([]))).status).toBe(401);
    const empty = await srvC.capture(seller.key, asDocument([]));
    expect(empty).toMatchObject({ status: 200, body: { recorded: 0, skipped: 0, events: [] } });
  });

  it('is idempotent on the event hash ID (also inside one document) and on the idempotency key', async () => {
    const doc = asDocument([commission('IDEM', ['I1']), ship(['I1'], partyOf(seller), { eventTime: at(6) })]);
    const first = await gqlCapture(srvC, maker.key, doc, 'capture-idem-1');
    expect(first).toMatchObject({ __typename: 'CaptureEpcisDocumentSuccess', recorded: 2, replayed: false });
    const size = await treeSize(srvC);
    const replay = await gqlCapture(srvC, maker.key, doc, 'capture-idem-1');
    expect(replay).toMatchObject({ recorded: 2, replayed: true });
    expect(replay.events.map((e: Json) => e.event.id)).toEqual(first.events.map((e: Json) => e.event.id));
    const reuse = await gqlCapture(srvC, maker.key, asDocument([]), 'capture-idem-1');
    expect(reuse).toMatchObject({ __typename: 'ConflictError' });
    const again = await gqlCapture(srvC, maker.key, doc);
    expect(again).toMatchObject({ recorded: 0, skipped: 2, replayed: false });
    expect(again.events.map((e: Json) => e.status)).toEqual(['ALREADY_CAPTURED', 'ALREADY_CAPTURED']);
    expect(again.events.map((e: Json) => e.event.id)).toEqual(first.events.map((e: Json) => e.event.id));
    // The REST Idempotency-Key header does the same.
    const restDoc = asDocument([commission('IDEM2', ['I2'])]);
    const a = await srvC.capture(maker.key, restDoc, { 'Idempotency-Key': 'rest-1' });
    const b = await srvC.capture(maker.key, restDoc, { 'Idempotency-Key': 'rest-1' });
    expect([a.body.replayed, b.body.replayed]).toEqual([false, true]);
    expect(b.body.events[0].status).toBe('RECORDED');
    // One event twice in a document: recorded once.
    const twice = ship(['I2'], partyOf(seller), { eventTime: at(7) });
    const d = await srvC.capture(maker.key, asDocument([twice, twice]));
    expect(d.body.events.map((e: Json) => e.status)).toEqual(['RECORDED', 'DUPLICATE_IN_DOCUMENT']);
    expect(d.body.events[1].ledgerEventId).toBe(d.body.events[0].ledgerEventId);
    expect(await treeSize(srvC)).toBe(size + 2);
    // An event captured by someone the caller cannot see is answered as if it had never been captured: judged on its
    // own merits (here: the caller cannot see the item), exactly like the same shipment not captured before.
    const stranger = await srvC.capture(carrier.key, asDocument([twice]));
    const fresh = await srvC.capture(carrier.key, asDocument([ship(['I2'], partyOf(seller), { eventTime: at(8) })]));
    expect(stranger.status).toBe(400);
    expect(stranger.body.problems).toEqual(fresh.body.problems.map((p: Json) => ({ ...p, eventID: stranger.body.problems[0].eventID })));
    expect(stranger.body.problems[0]).toMatchObject({ eventIndex: 0, field: 'epcList', code: 'NOT_FOUND' });
  });
});

describe('capture limits', () => {
  let dbD: TestDatabase;
  let small: EpcisServer;
  let big: EpcisServer;
  let actor: Actor;
  const tiny = asDocument([{ type: 'ObjectEvent', eventTime: '2026-03-01T10:00:00.000+01:00', eventTimeZoneOffset: '+01:00', action: 'OBSERVE', bizStep: 'receiving', epcList: [item('L1')] }]);

  beforeAll(async () => {
    dbD = await openTestDatabase();
    small = await startEpcisServer(dbD, { limits: { maxBytes: 2000, maxEvents: 2 } });
    big = await startEpcisServer(dbD);
    actor = await createActor(small, 'Receiver', ['RETAILER'], null);
  });
  afterAll(async () => {
    await small?.close();
    await big?.close();
    await dbD?.dispose();
  });

  it('announces the limits with OPTIONS /epcis/capture', async () => {
    const r = await fetch(`${small.origin}/epcis/capture`, { method: 'OPTIONS' });
    expect(r.status).toBe(204);
    expect(Object.fromEntries(['gs1-epcis-capture-limit', 'gs1-epcis-capture-file-size-limit', 'gs1-capture-error-behaviour'].map((h) => [h, r.headers.get(h)]))).toEqual({
      'gs1-epcis-capture-limit': '2', 'gs1-epcis-capture-file-size-limit': '2000', 'gs1-capture-error-behaviour': 'rollback',
    });
    const d = await fetch(`${big.origin}/epcis/capture`, { method: 'OPTIONS' });
    expect([d.headers.get('gs1-epcis-capture-limit'), d.headers.get('gs1-epcis-capture-file-size-limit')]).toEqual(['10000', String(10 * 1024 * 1024)]);
  });

  it('refuses documents over the size limit with 413, whether the length is declared or streamed', async () => {
    const padded = { ...tiny, 'provenant:padding': 'x'.repeat(2100) };
    const declared = await small.capture(actor.key, padded);
    expect(declared.status).toBe(413);
    expect(declared.body).toMatchObject({ type: 'epcisException:CaptureLimitExceededException', problems: [{ field: 'document', code: 'LIMIT' }] });
    expect(declared.body.title).toMatch(/the capture limit is 2000 bytes/);
    const bytes = new TextEncoder().encode(JSON.stringify(padded));
    const stream = new ReadableStream({ start(c) { c.enqueue(bytes.slice(0, 1000)); c.enqueue(bytes.slice(1000)); c.close(); } });
    const chunked = await fetch(`${small.origin}/epcis/capture`, {
      method: 'POST', headers: { 'content-type': 'application/ld+json', authorization: `Bearer ${actor.key}` }, body: stream, duplex: 'half',
    } as RequestInit);
    expect(chunked.status).toBe(413);
    // The default limit: 10 MB.
    const huge = JSON.stringify({ ...tiny, 'provenant:padding': 'x'.repeat(10 * 1024 * 1024) });
    const r = await big.capture(actor.key, huge);
    expect(r.status).toBe(413);
    expect(r.body.title).toBe(`the document is ${Buffer.byteLength(huge)} bytes; the capture limit is ${10 * 1024 * 1024} bytes`);
  });

  it('refuses documents with more events than the limit (413 over REST, LIMIT over GraphQL)', async () => {
    const three = asDocument([0, 1, 2].map(() => tiny.epcisBody.eventList[0]));
    const r = await small.capture(actor.key, three);
    expect(r.status).toBe(413);
    expect(r.body.problems[0]).toMatchObject({ eventIndex: null, field: 'epcisBody.eventList', code: 'LIMIT', reason: 'the document has 3 events; the capture limit is 2 events per document' });
    // The default limit: 10,000 events.
    const many = asDocument(Array.from({ length: 10_001 }, (_, i) => ({ ...tiny.epcisBody.eventList[0], epcList: [item(`M${i}`)] })));
    const rest = await big.capture(actor.key, many);
    expect(rest.status).toBe(413);
    expect(rest.body.problems[0].reason).toBe('the document has 10001 events; the capture limit is 10000 events per document');
    const g = await gqlCapture(big, actor.key, many);
    expect(g).toMatchObject({ __typename: 'EpcisCaptureError', code: 'LIMIT', problems: [{ eventIndex: null, field: 'epcisBody.eventList', code: 'LIMIT' }] });
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Packing hierarchy (AggregationEvents) and a sale with a buyer: export → capture into a fresh ledger.

describe('packing and a sale with a buyer, exported and re-captured into a fresh ledger', () => {
  let dbP: TestDatabase, srvP: EpcisServer, dbQ: TestDatabase, srvQ: EpcisServer;
  let brandP: Actor, shopP: Actor, buyerP: Actor;
  let actorsQ: Map<string, Actor>;
  let packExport: Json[] = [];
  const BUYER_GLN = withCheck('401234500777');
  const sscc = (n: number) => withCheck(`0950600010000000${n}`);
  const [CASE_A, CASE_B, PALLET] = [sscc(1), sscc(2), sscc(3)];
  const ssccLink = (s: string) => `https://id.gs1.org/00/${s}`;
  /** The URN format's container EPC (company prefix 9506000 is registered): extension digit + serial reference. */
  const ssccEpc = (s: string) => `urn:epc:id:sscc:9506000.${s[0]}${s.slice(8, 17)}`;
  const P = (n: number) => item(`P${n}`);
  const at = (day: number, hour = 10) => `2026-04-${String(day).padStart(2, '0')}T${String(hour).padStart(2, '0')}:00:00.000+02:00`;

  /** Kind, items (sorted), data, place and time of every event of a ledger, in log order. */
  const ledgerEvents = async (db: TestDatabase) => {
    // Readable bodies (db/event-content.ts): v2 bodies hold commitments; values come from the columns, items from the links.
    const rows = (await sql<EventRow>`SELECT * FROM events ORDER BY leaf_index`.execute(db.db)).rows;
    const readable = await readableBodies(db.db, rows);
    return rows.map((r) => {
      const b = readable.get(r.id)!;
      return { kind: r.kind, items: [...b.items].sort(), data: b.data, location: b.location, occurredAt: b.occurredAt, timezoneOffset: b.timezoneOffset };
    });
  };
  /** What is packed where: `parent > item SGTIN` or `parent > child SSCC`. */
  const membership = async (db: TestDatabase) =>
    (await sql<{ m: string }>`SELECT m.parent_sscc || ' > ' || coalesce(i.sgtin, m.child_sscc) AS m FROM container_members m LEFT JOIN items i ON i.id = m.item_id`.execute(db.db)).rows
      .map((r) => r.m).sort();

  beforeAll(async () => {
    dbP = await openTestDatabase();
    srvP = await startEpcisServer(dbP);
    brandP = await createActor(srvP, 'Brand', ['MANUFACTURER'], GLN.brand, ['9506000']);
    shopP = await createActor(srvP, 'Shop', ['RETAILER'], GLN.shop);
    buyerP = await createActor(srvP, 'Buyer', ['SERVICER'], BUYER_GLN);
    await registerProduct(srvP, brandP, GTIN);
    await registerBatch(srvP, brandP, GTIN, 'PK1', [1, 2, 3, 4, 5, 6, 7].map((n) => `P${n}`), FACTORY_GLN, at(1, 8));
    // Two cases packed into a pallet beside a loose item; the pallet shipped and received by its SSCC.
    await step(srvP, brandP, 'packItems', { container: CASE_A, items: [P(1), P(2), P(3)], occurredAt: at(2), location: FACTORY_GLN });
    await step(srvP, brandP, 'packItems', { container: CASE_B, items: [P(4), P(5), P(6)], occurredAt: at(2, 11), location: FACTORY_GLN });
    const pallet = await step(srvP, brandP, 'packItems', { container: PALLET, containers: [CASE_B, CASE_A], items: [P(7)], occurredAt: at(2, 12), location: FACTORY_GLN });
    expect(pallet.event.itemCount).toBe(7);
    await step(srvP, brandP, 'shipItems', { containers: [PALLET], to: shopP.id, occurredAt: at(3), location: FACTORY_GLN });
    await step(srvP, shopP, 'receiveItems', { containers: [PALLET], occurredAt: at(4), location: 'Store Zürich, Bahnhofstrasse 1' });
    // The shop opens case A (still on the pallet) and sells one of its items to a known buyer.
    await step(srvP, shopP, 'unpackItems', { container: CASE_A, occurredAt: at(5) });
    await step(srvP, shopP, 'sellItems', { items: [P(1)], buyer: buyerP.id, price: 99.5, currency: 'EUR', occurredAt: at(6) });

    const r = await srvP.query(brandP.key, 'perPage=1000');
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    packExport = eventsOf(r.body);

    dbQ = await openTestDatabase();
    srvQ = await startEpcisServer(dbQ);
    actorsQ = new Map();
    for (const [name, roles, gln, prefixes] of [
      ['Brand', ['MANUFACTURER'], GLN.brand, ['9506000']],
      ['Shop', ['RETAILER'], GLN.shop, []],
      ['Buyer', ['SERVICER'], BUYER_GLN, []],
    ] as const) {
      actorsQ.set(gln, await createActor(srvQ, name, [...roles], gln, [...prefixes]));
    }
    await registerProduct(srvQ, actorsQ.get(GLN.brand)!, GTIN);
  });
  afterAll(async () => {
    await srvP?.close();
    await dbP?.dispose();
    await srvQ?.close();
    await dbQ?.dispose();
  });

  it('exports packing as AggregationEvents (containers as SSCC URNs) and the buyer as destination, valid EPCIS 2.0', async () => {
    expect(schemaErrors(asDocument(packExport))).toBe('');
    expect(packExport.map((e) => e['provenant:kind'])).toEqual(['COMMISSION', 'PACK', 'PACK', 'PACK', 'SHIP', 'RECEIVE', 'UNPACK', 'SELL']);
    const [, caseA, , pallet, , , unpack, sale] = packExport as [Json, Json, Json, Json, Json, Json, Json, Json];
    expect(caseA).toMatchObject({ type: 'AggregationEvent', action: 'ADD', bizStep: 'packing', parentID: ssccEpc(CASE_A), childEPCs: [P(1), P(2), P(3)] });
    // The pallet: the items the event moved (its loose item and the items of its cases), then the cases themselves.
    expect(pallet).toMatchObject({ type: 'AggregationEvent', action: 'ADD', parentID: ssccEpc(PALLET), 'provenant:data': { 'provenant:container': PALLET, 'provenant:containers': [CASE_A, CASE_B] } });
    expect(pallet.childEPCs.slice(-2)).toEqual([ssccEpc(CASE_A), ssccEpc(CASE_B)]);
    expect([...pallet.childEPCs].sort()).toEqual([...[1, 2, 3, 4, 5, 6, 7].map(P), ssccEpc(CASE_A), ssccEpc(CASE_B)].sort());
    expect(unpack).toMatchObject({ type: 'AggregationEvent', action: 'DELETE', bizStep: 'unpacking', parentID: ssccEpc(CASE_A) });
    expect([...unpack.childEPCs].sort()).toEqual([P(1), P(2), P(3)]);
    expect(sale).toMatchObject({ type: 'ObjectEvent', bizStep: 'retail_selling', destinationList: [{ type: 'owning_party', destination: `https://id.gs1.org/417/${BUYER_GLN}` }], 'provenant:price': 99.5 });
    expect(sale).not.toHaveProperty('sourceList');
  });

  it('reproduces the same ledger events (kinds, items, data, containers) and eventIDs when each company captures its own; capturing again records nothing', async () => {
    const glnOf = new Map([brandP, shopP].map((a) => [a.uuid, a.gln!]));
    const runs: Json[][] = [];
    for (const e of packExport) {
      const last = runs[runs.length - 1];
      if (last && last[0]!['provenant:actor'] === e['provenant:actor']) last.push(e);
      else runs.push([e]);
    }
    expect(runs.map((r) => r.length)).toEqual([5, 3]);
    const capturedIds: string[] = [];
    const rest = await srvQ.capture(actorsQ.get(glnOf.get(runs[0]![0]!['provenant:actor'])!)!.key, asDocument(runs[0]!));
    expect(rest.status, JSON.stringify(rest.body)).toBe(200);
    expect(rest.body.events.map((e: Json) => [e.kind, e.status, e.warnings])).toEqual(runs[0]!.map((e) => [e['provenant:kind'], 'RECORDED', []]));
    capturedIds.push(...rest.body.events.map((e: Json) => e.eventID));
    const g = await gqlCapture(srvQ, actorsQ.get(glnOf.get(runs[1]![0]!['provenant:actor'])!)!.key, asDocument(runs[1]!));
    expect(g.__typename, JSON.stringify(g)).toBe('CaptureEpcisDocumentSuccess');
    expect(g.events.map((e: Json) => [e.kind, e.status, e.warnings, e.event.kind])).toEqual(runs[1]!.map((e) => [e['provenant:kind'], 'RECORDED', [], e['provenant:kind']]));
    capturedIds.push(...g.events.map((e: Json) => e.eventID));
    expect(capturedIds).toEqual(packExport.map((e) => e.eventID));

    // The ledger events and the packing state are the same in both ledgers.
    const [inP, inQ] = [await ledgerEvents(dbP), await ledgerEvents(dbQ)];
    expect(inQ).toEqual(inP);
    expect(inQ.find((e) => e.kind === 'PACK' && e.data.container === PALLET)).toMatchObject({ items: [1, 2, 3, 4, 5, 6, 7].map(P), data: { container: PALLET, containers: [CASE_A, CASE_B] } });
    expect(await membership(dbQ)).toEqual(await membership(dbP));
    expect(await membership(dbQ)).toEqual([...[4, 5, 6].map((n) => `${CASE_B} > ${P(n)}`), `${PALLET} > ${CASE_A}`, `${PALLET} > ${CASE_B}`, `${PALLET} > ${P(7)}`].sort());
    // The sale names the same buyer; the exports say the same.
    const sold = await srvQ.gql(`query($s: String!) { item(sgtin: $s) { stage custodian { name } } }`, { s: P(1) }, actorsQ.get(GLN.shop)!.key);
    expect(sold.body.data.item).toEqual({ stage: 'SOLD', custodian: { name: 'Buyer' } });
    const again = eventsOf((await srvQ.query(actorsQ.get(GLN.brand)!.key, 'perPage=1000')).body);
    expect(schemaErrors(asDocument(again))).toBe('');
    const LEDGER_SPECIFIC = ['eventID', 'recordTime', 'provenant:contentHash', 'provenant:leafIndex', 'provenant:actor', 'provenant:counterparty', 'provenant:capturedEventID'];
    const meaning = (e: Json) => Object.fromEntries(Object.entries(e).filter(([k]) => !LEDGER_SPECIFIC.includes(k)).map(([k, v]) => [k, k === 'childEPCs' || k === 'epcList' ? [...v].sort() : v]));
    expect(again.map(meaning)).toEqual(packExport.map(meaning));
    expect(again.map((e) => e['provenant:capturedEventID'])).toEqual(packExport.map((e) => e.eventID));

    // Capturing again records nothing: the brand sends the whole export.
    const size = await treeSize(srvQ);
    const whole = await srvQ.capture(actorsQ.get(GLN.brand)!.key, asDocument(packExport));
    expect(whole.status, JSON.stringify(whole.body)).toBe(200);
    expect(whole.body).toMatchObject({ recorded: 0, skipped: 8 });
    expect(whole.body.events.map((e: Json) => e.status)).toEqual(packExport.map(() => 'ALREADY_CAPTURED'));
    expect(await treeSize(srvQ)).toBe(size);
  });

  describe('refusals', () => {
    const agg = (fields: Json): Json => ({ type: 'AggregationEvent', eventTime: at(20), eventTimeZoneOffset: '+02:00', action: 'ADD', bizStep: 'packing', ...fields });
    const BOX_1 = sscc(4), BOX_2 = sscc(5), BOX_3 = sscc(6), UNKNOWN_BOX = sscc(7);
    /** SSCC URN (company prefix 9506000): extension digit + serial reference after the prefix. */
    const ssccUrn = (s: string) => `urn:epc:id:sscc:9506000.${s[0]}${s.slice(8, 17)}`;
    let maker: Actor;

    beforeAll(async () => {
      maker = actorsQ.get(GLN.brand)!;
      await registerBatch(srvQ, maker, GTIN, 'FX', ['F1', 'F2', 'F3'], FACTORY_GLN, at(19));
    });

    it('refuses unknown parent formats, OBSERVE aggregations, other steps and class-level children, with index, field and reason', async () => {
      const r = await srvQ.capture(maker.key, asDocument([
        agg({ parentID: 'urn:epc:id:grai:4012345.55555.987', childEPCs: [item('F1')] }),
        agg({ action: 'OBSERVE', bizStep: 'receiving', parentID: ssccLink(BOX_1), childEPCs: [item('F1')] }),
        agg({ parentID: `https://id.gs1.org/00/${BOX_1.slice(0, 17)}0`, childEPCs: [item('F1')] }),
        agg({ bizStep: 'shipping', parentID: ssccLink(BOX_1), childEPCs: [item('F1')] }),
        agg({ parentID: ssccLink(BOX_1), childQuantityList: [{ epcClass: `urn:epc:idpat:sgtin:9506000.013435.*`, quantity: 4 }] }),
        agg({ childEPCs: [item('F1')] }),
        agg({ parentID: ssccLink(BOX_1), childEPCs: [item('F1'), ssccUrn(BOX_1)] }),
        agg({ parentID: ssccLink(BOX_1), childEPCs: [item('F1')], 'provenant:data': { 'provenant:container': BOX_2 } }),
      ]));
      expect(r.status).toBe(400);
      expect(r.body.problems.map((p: Json) => [p.eventIndex, p.field, p.code, p.reason])).toEqual([
        [0, 'parentID', 'UNMAPPABLE', 'urn:epc:id:grai:4012345.55555.987 is not an SSCC: the ledger\'s containers are logistic units named by their SSCC (urn:epc:id:sscc:… or https://id.gs1.org/00/{sscc})'],
        [1, 'action', 'UNMAPPABLE', 'an AggregationEvent with action OBSERVE only reports children seen in their parent; the ledger records changes of packing: action ADD with bizStep packing (packItems) or action DELETE with bizStep unpacking (unpackItems)'],
        [2, 'parentID', 'INVALID', `https://id.gs1.org/00/${BOX_1.slice(0, 17)}0 is not a valid SSCC: ${r.body.problems[2].reason.split(': ').slice(1).join(': ')}`],
        [3, 'bizStep', 'UNMAPPABLE', 'an AggregationEvent with action ADD is captured with bizStep packing (PACK), got shipping'],
        [4, 'childQuantityList', 'UNMAPPABLE', 'class-level quantities cannot be packed: the ledger tracks serialized items (SGTINs) and containers (SSCCs) in childEPCs'],
        [5, 'parentID', 'UNMAPPABLE', 'packing needs the container as parentID, an SSCC (urn:epc:id:sscc:… or https://id.gs1.org/00/{sscc})'],
        [6, 'childEPCs[1]', 'INVALID', `${ssccUrn(BOX_1)} is the parent itself: a container cannot be packed into itself`],
        [7, 'provenant:data.container', 'INVALID', `container "${BOX_2}" contradicts parentID ${ssccLink(BOX_1)} (SSCC ${BOX_1})`],
      ]);
      expect(r.body.problems[2].reason).toMatch(/check digit/);
    });

    it('refuses packing an item that is already packed, naming it as the document does; nothing of the document is written', async () => {
      const first = await srvQ.capture(maker.key, asDocument([agg({ parentID: ssccLink(BOX_1), childEPCs: [item('F1'), item('F2')], readPoint: { id: `https://id.gs1.org/414/${FACTORY_GLN}` } })]));
      expect(first.status, JSON.stringify(first.body)).toBe(200);
      const size = await treeSize(srvQ);
      const before = await membership(dbQ);
      const r = await srvQ.capture(maker.key, asDocument([
        agg({ eventTime: at(21), parentID: ssccLink(BOX_3), childEPCs: [item('F3')] }),
        agg({ eventTime: at(21, 11), parentID: ssccUrn(BOX_2), childEPCs: [`https://id.gs1.org/01/${GTIN}/21/F2`] }),
      ]));
      expect(r.status, JSON.stringify(r.body)).toBe(400);
      expect(r.body.problems).toEqual([expect.objectContaining({
        eventIndex: 1, field: 'childEPCs[0]', code: 'INVALID',
        reason: `https://id.gs1.org/01/${GTIN}/21/F2 is already packed in container ${BOX_1}; unpack it first (or list that container among the children)`,
      })]);
      expect(await treeSize(srvQ)).toBe(size);
      expect(await membership(dbQ)).toEqual(before);
      // An unknown child container is named by its childEPCs entry.
      const unknown = await srvQ.capture(maker.key, asDocument([agg({ eventTime: at(21), parentID: ssccLink(BOX_3), childEPCs: [item('F3'), ssccLink(UNKNOWN_BOX)] })]));
      expect(unknown.body.problems[0]).toMatchObject({ eventIndex: 0, field: 'childEPCs[1]', code: 'NOT_FOUND', reason: `container ${UNKNOWN_BOX} not found` });
    });

    it('unpacks the whole container: childEPCs may be omitted, and when given must be its content', async () => {
      const size = await treeSize(srvQ);
      const del = (fields: Json) => agg({ eventTime: at(22), action: 'DELETE', bizStep: 'unpacking', parentID: ssccLink(BOX_1), ...fields });
      const wrong = await srvQ.capture(maker.key, asDocument([del({ childEPCs: [item('F1'), item('F3')] })]));
      expect(wrong.status, JSON.stringify(wrong.body)).toBe(400);
      expect(wrong.body.problems).toEqual([expect.objectContaining({
        eventIndex: 0, field: 'childEPCs', code: 'INVALID',
        reason: `childEPCs do not match the content of container ${BOX_1}: listed but not directly in it: ${item('F3')}; directly in it but not listed: ${item('F2')}. The ledger unpacks the whole container: list its direct children (the items and containers packed directly in it), every item in it at any depth, or omit childEPCs`,
      })]);
      expect(await treeSize(srvQ)).toBe(size);
      const ok = await srvQ.capture(maker.key, asDocument([del({ childEPCs: [item('F2'), item('F1')] })]));
      expect(ok.status, JSON.stringify(ok.body)).toBe(200);
      expect(ok.body.events[0]).toMatchObject({ kind: 'UNPACK', status: 'RECORDED' });
      // Empty now: unpacking it again (without childEPCs) finds nothing.
      const empty = await srvQ.capture(maker.key, asDocument([del({ eventTime: at(23) })]));
      expect(empty.body.problems[0]).toMatchObject({ eventIndex: 0, field: 'parentID', code: 'NOT_FOUND', reason: `container ${BOX_1} not found or empty` });
      expect(await treeSize(srvQ)).toBe(size + 1);
    });

    it('packs and unpacks nested containers named by their direct children (EPCIS) or by every item inside (this ledger\'s export)', async () => {
      const size = await treeSize(srvQ);
      const del = (day: number, childEPCs: string[]) => agg({ eventTime: at(day), action: 'DELETE', bizStep: 'unpacking', parentID: ssccLink(BOX_2), childEPCs });
      // A case in a box beside a loose item, listed as EPCIS does: the direct children only.
      const packed = await srvQ.capture(maker.key, asDocument([
        agg({ eventTime: at(24), parentID: ssccLink(BOX_3), childEPCs: [item('F3')] }),
        agg({ eventTime: at(24, 11), parentID: ssccUrn(BOX_2), childEPCs: [item('F1'), ssccLink(BOX_3)] }),
      ]));
      expect(packed.status, JSON.stringify(packed.body)).toBe(200);
      const box = (await ledgerEvents(dbQ)).at(-1)!;
      expect(box).toMatchObject({ kind: 'PACK', items: [item('F1'), item('F3')], data: { container: BOX_2, containers: [BOX_3] } });
      // Unpacking it: a list that is neither form names what differs.
      const wrong = await srvQ.capture(maker.key, asDocument([del(25, [item('F1'), item('F3'), ssccLink(BOX_1)])]));
      expect(wrong.body.problems[0]).toMatchObject({ eventIndex: 0, field: 'childEPCs', code: 'INVALID' });
      expect(wrong.body.problems[0].reason).toMatch(new RegExp(`^childEPCs do not match the content of container ${BOX_2}: listed but not in it: ${ssccLink(BOX_1).replace(/\./g, '\\.')}; in it but not listed: container ${BOX_3}\\. The ledger unpacks the whole container`));
      const missing = await srvQ.capture(maker.key, asDocument([del(25, [item('F1')])]));
      expect(missing.body.problems[0].reason).toMatch(new RegExp(`: in it but not listed: ${item('F3').replace(/\./g, '\\.')}\\. `));
      // The direct children, as EPCIS lists them.
      const direct = await srvQ.capture(maker.key, asDocument([del(25, [ssccLink(BOX_3), item('F1')])]));
      expect(direct.status, JSON.stringify(direct.body)).toBe(200);
      expect((await ledgerEvents(dbQ)).at(-1)).toMatchObject({ kind: 'UNPACK', items: [item('F1'), item('F3')], data: { container: BOX_2 } });
      expect((await membership(dbQ)).filter((m) => m.startsWith(BOX_2) || m.startsWith(BOX_3))).toEqual([`${BOX_3} > ${item('F3')}`]);
      // Every item inside, as this ledger exports an UNPACK.
      expect((await srvQ.capture(maker.key, asDocument([agg({ eventTime: at(26), parentID: ssccLink(BOX_2), childEPCs: [ssccLink(BOX_3), item('F1')] })]))).status).toBe(200);
      const all = await srvQ.capture(maker.key, asDocument([del(27, [item('F3'), item('F1')])]));
      expect(all.status, JSON.stringify(all.body)).toBe(200);
      expect(await treeSize(srvQ)).toBe(size + 5);
    });
  });
});
