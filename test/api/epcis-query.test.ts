import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyCheckpoint } from '../../src/core/checkpoint.ts';
import { parseEpcisQueryString } from '../../src/core/epcis-query-params.ts';
import { gs1CheckDigit, sgtinUrn } from '../../src/core/identifiers.ts';
import { readScope } from '../../src/core/rights.ts';
import { queryEpcisEvents } from '../../src/services/epcis-query.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { lifecycle, type TestActor } from '../helpers/ledger.ts';
import { type TestServer, startTestServer } from '../helpers/server.ts';

type Json = Record<string, any>;

// A small ledger, recorded through the API; every SimpleEventQuery parameter must return exactly the expected events.

const withCheck = (digits: string): string => digits + String(gs1CheckDigit(digits));
const GTIN = withCheck('0950600013435');
const item = (serial: string) => sgtinUrn(GTIN, 7, serial);
const S1 = item('S1');
const S2 = item('S2');
const S3 = item('S3');
const T1 = item('T1');
const FACTORY = withCheck('950600000001');
const DC = withCheck('401234500000');
/** The DC written as an SGLN URN (company prefix 4012345): exported as written, equivalent to its GLN. */
const DC_URN = `urn:epc:id:sgln:4012345.00000.0`;
const SITE = withCheck('400000100001');
const CASE = withCheck('19506000000000001');
const CASE_URN = `urn:epc:id:sscc:9506000.${CASE[0]}${CASE.slice(8, 17)}`;
const GLNS = { brand: withCheck('950600099999'), dist: withCheck('401234500001'), recycler: withCheck('400000100009') };

interface Actor extends TestActor {
  uuid: string;
}

let db: TestDatabase;
let srv: TestServer;
let brand: Actor, dist: Actor, shop: Actor, recycler: Actor;
/** Leaf index of each named event. */
const leaf: Record<string, number> = {};
/** Every event as the brand's unfiltered export shows it, by name. */
const exported: Record<string, Json> = {};
const names: string[] = [];

async function createActor(name: string, roles: string[], gln: string | null, companyPrefixes: string[] = []): Promise<Actor> {
  const { body } = await srv.gql(
    `mutation($input: CreateActorInput!) { createActor(input: $input) { __typename ... on CreateActorSuccess { secret actor { id } } ... on Error { message } } }`,
    { input: { name, roles, companyPrefixes, ...(gln ? { gln } : {}) } },
  );
  expect(body.data?.createActor?.__typename, JSON.stringify(body)).toBe('CreateActorSuccess');
  const id = body.data.createActor.actor.id as string;
  return { id, key: body.data.createActor.secret, name, uuid: Buffer.from(id, 'base64').toString('utf8').split(':')[1]! };
}

async function gqlOk(name: string, actor: Actor, mutation: string, input: Json) {
  const r = await lifecycle(srv, actor, mutation, input);
  expect(r.__typename, `${mutation}: ${JSON.stringify(r)}`).toBe('RecordEventSuccess');
  leaf[name] = r.event.leafIndex;
  names.push(name);
}

async function batch(name: string, lot: string, serials: string[], site: string, producedAt: string) {
  const { body } = await srv.gql(
    `mutation($i: RegisterBatchInput!) { registerBatch(input: $i) { __typename ... on RegisterBatchSuccess { event { leafIndex } } ... on Error { message } } }`,
    { i: { gtin: GTIN, lot, producedAt, site, serials } },
    brand.key,
  );
  expect(body.data.registerBatch.__typename, JSON.stringify(body)).toBe('RegisterBatchSuccess');
  leaf[name] = body.data.registerBatch.event.leafIndex;
  names.push(name);
}

async function pack(name: string, mutation: 'packItems' | 'unpackItems', input: Json) {
  const type = mutation === 'packItems' ? 'PackItemsInput' : 'UnpackItemsInput';
  const { body } = await srv.gql(`mutation($i: ${type}!) { ${mutation}(input: $i) { __typename ... on RecordEventSuccess { event { leafIndex } } ... on Error { message } } }`, { i: input }, brand.key);
  expect(body.data[mutation].__typename, JSON.stringify(body)).toBe('RecordEventSuccess');
  leaf[name] = body.data[mutation].event.leafIndex;
  names.push(name);
}

async function get(query: string, key = brand.key): Promise<{ status: number; headers: Headers; body: any }> {
  const res = await fetch(`${srv.origin}/epcis/events${query ? `?${query}` : ''}`, { headers: { authorization: `Bearer ${key}` } });
  return { status: res.status, headers: res.headers, body: await res.json() };
}
const eventsOf = (doc: Json): Json[] => doc.epcisBody.queryResults.resultsBody.eventList;
const nameOf = (e: Json): string => names.find((n) => leaf[n] === e['provenant:leafIndex']) ?? `leaf ${e['provenant:leafIndex']}`;
/** Names of the events a query returns, in the returned order (one page of up to 1000). */
async function q(query: string, key = brand.key): Promise<string[]> {
  const r = await get(`perPage=1000${query ? `&${query}` : ''}`, key);
  expect(r.status, `${query}: ${JSON.stringify(r.body)}`).toBe(200);
  return eventsOf(r.body).map(nameOf);
}
const enc = encodeURIComponent;

beforeAll(async () => {
  db = await openTestDatabase();
  srv = await startTestServer(db);
  brand = await createActor('Brand', ['MANUFACTURER'], GLNS.brand, ['9506000']);
  dist = await createActor('Distributor', ['DISTRIBUTOR'], GLNS.dist);
  shop = await createActor('Shop', ['RETAILER'], null);
  recycler = await createActor('Recycler', ['RECYCLER'], GLNS.recycler);
  const p = await srv.gql(`mutation($i: RegisterProductInput!) { registerProduct(input: $i) { __typename } }`, { i: { gtin: GTIN, name: 'Drill' } }, brand.key);
  expect(p.body.data.registerProduct.__typename).toBe('RegisterProductSuccess');

  await batch('commission1', 'L1', ['S1', 'S2', 'S3'], FACTORY, '2026-01-10T08:00:00.000+01:00');
  await pack('pack', 'packItems', { container: CASE, items: [S1, S2], location: FACTORY, occurredAt: '2026-01-10T12:00:00.000Z' });
  await pack('unpack', 'unpackItems', { container: CASE, location: FACTORY, occurredAt: '2026-01-10T13:00:00.000Z' });
  await gqlOk('ship1', brand, 'shipItems', { items: [S1, S2, S3], to: dist.id, location: FACTORY, occurredAt: '2026-01-11T09:00:00.000+01:00' });
  await gqlOk('receive1', dist, 'receiveItems', { items: [S1, S2, S3], location: DC_URN, occurredAt: '2026-01-12T09:00:00.000+01:00' });
  await gqlOk('ship2', dist, 'shipItems', { items: [S1, S2, S3], to: shop.id, location: DC, occurredAt: '2026-01-13T09:00:00.000+01:00' });
  await gqlOk('receive2', shop, 'receiveItems', { items: [S1, S2, S3], occurredAt: '2026-01-14T09:00:00.000+01:00' });
  await gqlOk('sell1', shop, 'sellItems', { items: [S1], occurredAt: '2026-01-15T09:00:00.000+01:00' });
  await gqlOk('sell2', shop, 'sellItems', { items: [S2], buyer: recycler.id, occurredAt: '2026-01-15T10:00:00.000+01:00' });
  await gqlOk('return', shop, 'returnItems', { items: [S1], to: recycler.id, occurredAt: '2026-01-16T09:00:00.000+01:00' });
  await gqlOk('recycle', recycler, 'recycleItems', { items: [S1], location: SITE, materials: [{ material: 'Steel', massKg: 2 }], occurredAt: '2026-01-17T09:00:00.000+01:00' });
  // Recorded after the others, but it happened first: event time order differs from log order.
  await batch('commission2', 'L2', ['T1'], 'Plant 2', '2025-12-01T08:00:00.000+01:00');
  await gqlOk('destroy', shop, 'destroyItems', { items: [S3], location: DC, occurredAt: '2026-01-18T09:00:00.000+01:00' });

  const all = await get('perPage=1000');
  for (const e of eventsOf(all.body)) exported[nameOf(e)] = e;
  expect(Object.keys(exported).sort()).toEqual([...names].sort());
});

afterAll(async () => {
  await srv?.close();
  await db?.dispose();
});

describe('SimpleEventQuery parameters over GET /epcis/events', () => {
  it('without parameters: every event, in log order', async () => {
    expect(await q('')).toEqual(names);
  });

  it('eventType and EQ_action follow the exported type and action', async () => {
    expect(await q('eventType=AggregationEvent')).toEqual(['pack', 'unpack']);
    expect(await q('eventType=TransformationEvent')).toEqual(['recycle']);
    expect(await q('eventType=ObjectEvent')).toEqual(names.filter((n) => !['pack', 'unpack', 'recycle'].includes(n)));
    expect(await q('eventType=TransformationEvent|AggregationEvent')).toEqual(['pack', 'unpack', 'recycle']);
    expect(await q('eventType=AssociationEvent')).toEqual([]);
    expect(await q('EQ_action=ADD')).toEqual(['commission1', 'pack', 'commission2']);
    expect(await q('EQ_action=DELETE')).toEqual(['unpack']);
    expect(await q('EQ_action=OBSERVE')).toEqual(['ship1', 'receive1', 'ship2', 'receive2', 'sell1', 'sell2', 'return', 'destroy']);
    for (const [type, list] of [['ObjectEvent', await q('eventType=ObjectEvent')], ['AggregationEvent', ['pack', 'unpack']]] as const) {
      for (const n of list) expect(exported[n]!.type, n).toBe(type);
    }
  });

  it('EQ_bizStep and EQ_disposition in any CBV notation', async () => {
    expect(await q('EQ_bizStep=packing|unpacking')).toEqual(['pack', 'unpack']);
    expect(await q(`EQ_bizStep=${enc('https://ref.gs1.org/cbv/BizStep-shipping')}`)).toEqual(['ship1', 'ship2']);
    expect(await q('EQ_disposition=in_progress')).toEqual(['pack', 'unpack', 'receive1', 'receive2']);
    expect(await q(`EQ_disposition=${enc('urn:epcglobal:cbv:disp:in_transit')}&EQ_disposition=destroyed`)).toEqual(['ship1', 'ship2', 'destroy']);
    expect(await q('EQ_disposition=recalled')).toEqual([]);
    for (const n of await q('EQ_disposition=in_progress')) expect(exported[n]!.disposition).toBe('in_progress');
  });

  it('EQ_readPoint / EQ_bizLocation match the exported ids and their equivalent notations; WD_ is the same', async () => {
    const factory = `https://id.gs1.org/414/${FACTORY}`;
    expect(await q(`EQ_readPoint=${enc(factory)}`)).toEqual(['commission1', 'pack', 'unpack', 'ship1']);
    // SHIP has no bizLocation (in transit).
    expect(await q(`EQ_bizLocation=${enc(factory)}`)).toEqual(['commission1', 'pack', 'unpack']);
    expect(await q(`WD_bizLocation=${enc(factory)}`)).toEqual(['commission1', 'pack', 'unpack']);
    expect(await q(`WD_readPoint=${enc(factory)}`)).toEqual(['commission1', 'pack', 'unpack', 'ship1']);
    // The DC was recorded once as an SGLN URN and twice as a GLN: either notation finds all three.
    expect(exported['receive1']!.readPoint).toEqual({ id: DC_URN });
    expect(exported['ship2']!.readPoint).toEqual({ id: `https://id.gs1.org/414/${DC}` });
    expect(await q(`EQ_readPoint=${enc(`https://id.gs1.org/414/${DC}`)}`)).toEqual(['receive1', 'ship2', 'destroy']);
    expect(await q(`EQ_readPoint=${enc(DC_URN)}`)).toEqual(['receive1', 'ship2', 'destroy']);
    // DESTROY has no bizLocation either; several values are alternatives; EQ_ and WD_ together must both match.
    expect(await q(`EQ_bizLocation=${enc(`${DC_URN}|https://id.gs1.org/414/${SITE}`)}`)).toEqual(['receive1', 'recycle']);
    expect(await q(`EQ_readPoint=${enc(factory)}&WD_readPoint=${enc(DC_URN)}`)).toEqual([]);
    // A free-text location is no readPoint.
    expect(await q(`EQ_readPoint=${enc('urn:example:Plant 2')}`.replace(/%20/g, '_'))).toEqual([]);
  });

  it('EQ_eventID matches the eventID the export shows', async () => {
    const ids = [exported['ship2']!.eventID, exported['recycle']!.eventID] as string[];
    expect(await q(`EQ_eventID=${enc(ids.join('|'))}`)).toEqual(['ship2', 'recycle']);
    expect(await q(`EQ_eventID=${enc(ids[0]!)}&EQ_bizStep=disassembling`)).toEqual([]);
    expect(await q(`EQ_eventID=${enc('ni:///sha-256;00?ver=CBV2.0')}`)).toEqual([]);
    // Under GS1-EPC-Format: Always_GS1_Digital_Link the same eventIDs are shown and found.
    const r = await fetch(`${srv.origin}/epcis/events?EQ_eventID=${enc(ids[1]!)}`, { headers: { authorization: `Bearer ${brand.key}`, 'GS1-EPC-Format': 'Always_GS1_Digital_Link' } });
    expect(eventsOf((await r.json()) as Json).map((e) => e.eventID)).toEqual([ids[1]]);
  });

  it('EQ_eventID is refused as too complex when more candidate events than the scan limit would have to be hashed', async () => {
    const scope = readScope(brand.uuid, false, [], new Date());
    const run = (qs: string) => {
      const parsed = parseEpcisQueryString(new URLSearchParams(qs));
      if (!parsed.ok) throw new Error(JSON.stringify(parsed.error));
      return queryEpcisEvents(db.db, scope, parsed.value, 'urn', { eventIdScanLimit: 2 });
    };
    const id = enc(exported['ship2']!.eventID);
    expect(await run(`EQ_eventID=${id}`)).toMatchObject({ kind: 'QueryTooComplex', message: expect.stringMatching(/more than 2 do: narrow the query/) });
    // Narrowed to two candidates (the shipments), it is answered.
    const narrowed = await run(`EQ_eventID=${id}&EQ_bizStep=shipping`);
    expect(narrowed.kind === 'ok' && narrowed.events.map((e) => e['eventID'])).toEqual([exported['ship2']!.eventID]);
    // Without EQ_eventID the limit does not apply.
    expect((await run('EQ_bizStep=receiving|shipping')).kind).toBe('ok');
  });

  it('GE_/LT_eventTime and GE_/LT_recordTime', async () => {
    expect(await q(`GE_eventTime=${enc('2026-01-15T00:00:00.000+01:00')}&LT_eventTime=2026-01-17T08:00:00Z`)).toEqual(['sell1', 'sell2', 'return']);
    expect(await q('LT_eventTime=2026-01-01T00:00:00Z')).toEqual(['commission2']);
    const rt = (n: string) => exported[n]!.recordTime as string;
    expect(await q(`GE_recordTime=${enc(rt('recycle'))}`)).toEqual(['recycle', 'commission2', 'destroy']);
    expect(await q(`LT_recordTime=${enc(rt('unpack'))}`)).toEqual(['commission1', 'pack']);
    expect(await q(`GE_recordTime=${enc(rt('ship2'))}&LT_recordTime=${enc(rt('sell1'))}`)).toEqual(['ship2', 'receive2']);
  });

  it('MATCH_epc, MATCH_parentID, MATCH_inputEPC, MATCH_outputEPC, MATCH_epcClass and MATCH_anyEPC', async () => {
    const s1Object = ['commission1', 'pack', 'unpack', 'ship1', 'receive1', 'ship2', 'receive2', 'sell1', 'return'];
    expect(await q(`MATCH_epc=${enc(S1)}`)).toEqual(s1Object);
    expect(await q(`MATCH_epc=${enc(`https://id.gs1.org/01/${GTIN}/21/S1`)}`)).toEqual(s1Object);
    expect(await q(`MATCH_anyEPC=${enc(S1)}`)).toEqual([...s1Object, 'recycle']);
    expect(await q(`MATCH_inputEPC=${enc(S1)}`)).toEqual(['recycle']);
    expect(await q(`MATCH_inputEPC=${enc(S2)}`)).toEqual([]);
    expect(await q(`MATCH_epc=${enc(T1)}`)).toEqual(['commission2']);
    // The container is the parentID, not one of the childEPCs.
    for (const c of [CASE_URN, `https://id.gs1.org/00/${CASE}`]) {
      expect(await q(`MATCH_parentID=${enc(c)}`), c).toEqual(['pack', 'unpack']);
      expect(await q(`MATCH_anyEPC=${enc(c)}`), c).toEqual(['pack', 'unpack']);
      expect(await q(`MATCH_epc=${enc(c)}`), c).toEqual([]);
    }
    expect(await q(`MATCH_parentID=${enc(S1)}`)).toEqual([]);
    // Patterns: a class, a company prefix.
    expect(await q(`MATCH_anyEPC=${enc('urn:epc:idpat:sgtin:9506000.013435.*')}`)).toEqual(names);
    expect(await q(`MATCH_epc=${enc('urn:epc:idpat:sgtin:4012345.*.*')}`)).toEqual([]);
    // No exported event has an outputEPCList or a quantityList.
    expect(await q(`MATCH_outputEPC=${enc(S1)}`)).toEqual([]);
    expect(await q(`MATCH_epcClass=${enc(`https://id.gs1.org/01/${GTIN}`)}`)).toEqual([]);
  });

  it('EQ_source_{type} / EQ_destination_{type} match the parties of sourceList / destinationList', async () => {
    const party = (gln: string) => enc(`https://id.gs1.org/417/${gln}`);
    const shopUri = enc(`urn:provenant:actor:${shop.uuid}`);
    expect(exported['ship2']!.destinationList).toEqual([
      { type: 'owning_party', destination: `urn:provenant:actor:${shop.uuid}` }, { type: 'possessing_party', destination: `urn:provenant:actor:${shop.uuid}` },
    ]);
    expect(await q(`EQ_source_possessing_party=${party(GLNS.brand)}`)).toEqual(['ship1']);
    expect(await q(`EQ_source_owning_party=${enc('urn:epc:id:pgln:9506000.99999')}`)).toEqual(['ship1']);
    expect(await q(`EQ_destination_owning_party=${party(GLNS.dist)}`)).toEqual(['ship1', 'receive1']);
    expect(await q(`EQ_source_owning_party=${party(GLNS.dist)}`)).toEqual(['ship2']);
    expect(await q(`EQ_destination_possessing_party=${shopUri}`)).toEqual(['ship2', 'receive2']);
    expect(await q(`EQ_source_${enc('https://ref.gs1.org/cbv/SDT-owning_party')}=${shopUri}`)).toEqual(['return']);
    // The buyer of a SELL is its destination owning party only.
    expect(await q(`EQ_destination_owning_party=${party(GLNS.recycler)}`)).toEqual(['sell2', 'return']);
    expect(await q(`EQ_destination_possessing_party=${party(GLNS.recycler)}`)).toEqual(['return']);
    // An actor with a GLN is named by its GLN only; other types and URIs name nobody; two types must both match.
    expect(await q(`EQ_destination_owning_party=${enc(`urn:provenant:actor:${dist.uuid}`)}`)).toEqual([]);
    expect(await q(`EQ_source_location=${party(GLNS.brand)}`)).toEqual([]);
    expect(await q(`EQ_source_owning_party=${party(GLNS.dist)}&EQ_destination_owning_party=${shopUri}`)).toEqual(['ship2']);
  });

  it('orderBy / orderDirection and eventCountLimit', async () => {
    const byTime = [...names].sort((a, b) => Date.parse(exported[a]!.eventTime) - Date.parse(exported[b]!.eventTime));
    expect(byTime[0]).toBe('commission2');
    expect(await q('orderBy=eventTime&orderDirection=ASC')).toEqual(byTime);
    expect(await q('orderBy=eventTime')).toEqual([...byTime].reverse());
    expect(await q('orderBy=recordTime&orderDirection=DESC')).toEqual([...names].reverse());
    expect(await q('orderBy=recordTime&orderDirection=ASC')).toEqual(names);
    expect(await q('orderBy=eventTime&orderDirection=DESC&eventCountLimit=1')).toEqual(['destroy']);
    expect(await q('orderBy=eventTime&orderDirection=ASC&eventCountLimit=3&EQ_action=ADD|OBSERVE')).toEqual(['commission2', 'commission1', 'pack']);
  });

  it('maxEventCount: the result, or QueryTooLargeException when more events match', async () => {
    expect(await q('EQ_bizStep=shipping&maxEventCount=2')).toEqual(['ship1', 'ship2']);
    const r = await get('EQ_bizStep=shipping&maxEventCount=1');
    expect(r.status).toBe(413);
    expect(r.headers.get('content-type')).toBe('application/problem+json');
    expect(r.body).toMatchObject({ type: 'epcisException:QueryTooLargeException', status: 413, maxEventCount: 1 });
    // Counted over the whole result, not the page; with EQ_eventID too.
    expect((await get('perPage=1&maxEventCount=3')).status).toBe(413);
    expect((await get(`EQ_eventID=${enc(`${exported['ship1']!.eventID}|${exported['ship2']!.eventID}`)}&maxEventCount=1`)).status).toBe(413);
    expect((await get(`EQ_eventID=${enc(exported['ship1']!.eventID)}&maxEventCount=1`)).status).toBe(200);
    expect(await q('EQ_bizStep=inspecting&maxEventCount=0')).toEqual([]);
  });

  it('refuses unknown, unsupported and malformed parameters with 400 QueryParameterException', async () => {
    for (const [query, pattern, name] of [
      ['colour=red', /unsupported query parameter colour/, 'colour'],
      ['EQ_quantity=3', /EQ_quantity is not supported/, 'EQ_quantity'],
      ['MATCH_anyEPCClass=urn:x:y', /MATCH_anyEPCClass is not supported/, 'MATCH_anyEPCClass'],
      ['EQ_action=UPSERT', /EQ_action must be ADD, OBSERVE or DELETE/, 'EQ_action'],
      ['orderBy=quantity', /orderBy must be eventTime or recordTime/, 'orderBy'],
      ['eventCountLimit=2', /eventCountLimit needs orderBy/, 'eventCountLimit'],
      ['orderBy=eventTime&eventCountLimit=2&maxEventCount=2', /mutually exclusive/, 'eventCountLimit'],
      ['EQ_readPoint=nowhere', /not a URI/, 'EQ_readPoint'],
      ['GE_recordTime=today', /GE_recordTime/, 'GE_recordTime'],
      ['nextPageToken=bm9wZQ', /nextPageToken is not a token/, 'nextPageToken'],
    ] as const) {
      const r = await get(query);
      expect(r.status, query).toBe(400);
      expect(r.headers.get('content-type'), query).toBe('application/problem+json');
      expect(r.body, query).toMatchObject({ type: 'epcisException:QueryParameterException', status: 400, title: expect.stringMatching(pattern) });
      expect(r.body.parameters[0].name, query).toBe(name);
    }
    // Every problem is listed, with the index of the bad value.
    const r = await get(`MATCH_epc=${enc(`${S1}|nonsense`)}&foo=1`);
    expect(r.body.parameters.map((p: Json) => [p.name, p.index ?? null])).toEqual([['foo', null], ['MATCH_epc', 1]]);
  });
});

describe('checkpoint and paging', () => {
  async function logSize(): Promise<number> {
    const { body } = await srv.gql(`{ logInfo { treeSize } }`, {}, null);
    return body.data.logInfo.treeSize;
  }

  it('every result carries the signed checkpoint it was read at; its events are all below the tree size', async () => {
    const r = await get('EQ_bizStep=shipping');
    const cp = r.body['provenant:checkpoint'] as Json;
    expect(cp['provenant:treeSize']).toBe(await logSize());
    const verified = verifyCheckpoint(cp['provenant:note'], [srv.signer.verifierKey], srv.signer.origin);
    expect(verified.ok, JSON.stringify(verified)).toBe(true);
    if (!verified.ok) return;
    expect(verified.value.size).toBe(cp['provenant:treeSize']);
    expect(Buffer.from(verified.value.rootHash).toString('base64')).toBe(cp['provenant:rootHash']);
    for (const e of eventsOf(r.body)) expect(e['provenant:leafIndex']).toBeLessThan(cp['provenant:treeSize']);
    // An empty result carries it too.
    expect((await get('EQ_bizStep=inspecting')).body['provenant:checkpoint']).toEqual(cp);
  });

  it('pages completely and without duplicates in every ordering, all pages at the first page\'s checkpoint', async () => {
    for (const order of ['', 'orderBy=eventTime', 'orderBy=eventTime&orderDirection=ASC', 'orderBy=recordTime&orderDirection=ASC', 'orderBy=eventTime&eventCountLimit=5']) {
      const whole = await q(order);
      const seen: string[] = [];
      const checkpoints = new Set<string>();
      let next: string | null = `${srv.origin}/epcis/events?perPage=2${order ? `&${order}` : ''}`;
      let pages = 0;
      while (next) {
        const res: Response = await fetch(next, { headers: { authorization: `Bearer ${brand.key}` } });
        expect(res.status, order).toBe(200);
        const body = (await res.json()) as Json;
        expect(eventsOf(body).length, order).toBeLessThanOrEqual(2);
        seen.push(...eventsOf(body).map(nameOf));
        checkpoints.add(JSON.stringify(body['provenant:checkpoint']));
        pages++;
        const link = res.headers.get('link');
        next = link ? /^<([^>]+)>; rel="next"$/.exec(link)![1]! : null;
      }
      expect(seen, order).toEqual(whole);
      expect(new Set(seen).size, order).toBe(seen.length);
      expect(pages, order).toBe(Math.ceil(whole.length / 2));
      expect(checkpoints.size, order).toBe(1);
    }
    expect(await q('orderBy=eventTime&eventCountLimit=5')).toHaveLength(5);
  });

  it('an event recorded while paging is not in the later pages; a new query sees it at a newer checkpoint', async () => {
    const first = await get('perPage=3&orderBy=eventTime');
    const link = first.headers.get('link')!;
    const size = first.body['provenant:checkpoint']['provenant:treeSize'];
    // Happens latest of all, so a fresh query by eventTime (DESC) puts it first.
    await batch('commission3', 'L3', ['U1'], FACTORY, '2026-01-19T00:00:00.000+01:00');
    const later: string[] = [];
    let next: string | null = /^<([^>]+)>/.exec(link)![1]!;
    while (next) {
      const res: Response = await fetch(next, { headers: { authorization: `Bearer ${brand.key}` } });
      const body = (await res.json()) as Json;
      expect(body['provenant:checkpoint']['provenant:treeSize']).toBe(size);
      later.push(...eventsOf(body).map(nameOf));
      const l = res.headers.get('link');
      next = l ? /^<([^>]+)>/.exec(l)![1]! : null;
    }
    const paged = [...eventsOf(first.body).map(nameOf), ...later];
    expect(paged).toHaveLength(size);
    expect(paged).not.toContain('commission3');
    const fresh = await get('perPage=3&orderBy=eventTime');
    expect(eventsOf(fresh.body).map(nameOf)[0]).toBe('commission3');
    expect(fresh.body['provenant:checkpoint']['provenant:treeSize']).toBe(size + 1);
  });
});

describe('GraphQL epcisDocument', () => {
  const Q = `query($f: EpcisEventFilter, $first: Int, $after: String, $by: EpcisOrderBy, $dir: EpcisOrderDirection, $limit: Int, $max: Int) {
    epcisDocument(filter: $f, first: $first, after: $after, orderBy: $by, orderDirection: $dir, eventCountLimit: $limit, maxEventCount: $max) }`;
  const doc = async (vars: Json) => {
    const { body } = await srv.gql(Q, vars, brand.key);
    expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
    return body.data.epcisDocument as Json;
  };
  const namesOf = (d: Json): string[] => (d.epcisBody.eventList as Json[]).map(nameOf);

  it('takes the same parameters as the REST query and carries the checkpoint', async () => {
    expect(namesOf(await doc({ f: { dispositions: ['in_progress'], eventTypes: ['ObjectEvent'] } }))).toEqual(['receive1', 'receive2']);
    expect(namesOf(await doc({ f: { destinations: [{ type: 'owning_party', parties: [`https://id.gs1.org/417/${GLNS.recycler}`] }] } }))).toEqual(['sell2', 'return']);
    expect(namesOf(await doc({ f: { matchParentId: [CASE_URN], readPoints: [`https://id.gs1.org/414/${FACTORY}`] } }))).toEqual(['pack', 'unpack']);
    expect(namesOf(await doc({ f: { eventIds: [exported['recycle']!.eventID] } }))).toEqual(['recycle']);
    expect(namesOf(await doc({ f: { recordedSince: exported['recycle']!.recordTime, kinds: ['RECYCLE'] } }))).toEqual(['recycle']);
    expect(namesOf(await doc({ by: 'EVENT_TIME', dir: 'ASC', limit: 2 }))).toEqual(['commission2', 'commission1']);
    const d = await doc({ f: { bizSteps: ['shipping'] } });
    expect(d['provenant:checkpoint']['provenant:treeSize']).toBe(Math.max(...Object.values(leaf)) + 1);
  });

  it('pages at one checkpoint with first/after', async () => {
    const seen: string[] = [];
    let after: string | null = null;
    do {
      const d = await doc({ first: 4, after, by: 'RECORD_TIME' });
      seen.push(...namesOf(d));
      after = (d['provenant:nextPageToken'] as string | undefined) ?? null;
    } while (after);
    expect(seen).toEqual(await q('orderBy=recordTime'));
  });

  it('reports bad values on their field and a too large result as QUERY_TOO_LARGE', async () => {
    const bad = await srv.gql(Q, { f: { readPoints: [`https://id.gs1.org/414/${FACTORY}`, 'nowhere'] } }, brand.key);
    expect(bad.body.errors[0].extensions).toMatchObject({ code: 'VALIDATION_ERROR', field: 'filter.readPoints[1]' });
    const noOrder = await srv.gql(Q, { limit: 2 }, brand.key);
    expect(noOrder.body.errors[0].extensions).toMatchObject({ code: 'VALIDATION_ERROR', field: 'eventCountLimit' });
    const first = await srv.gql(Q, { first: 0 }, brand.key);
    expect(first.body.errors[0].extensions).toMatchObject({ code: 'VALIDATION_ERROR', field: 'first' });
    const large = await srv.gql(Q, { f: { bizSteps: ['shipping'] }, max: 1 }, brand.key);
    expect(large.body.errors[0].extensions).toMatchObject({ code: 'QUERY_TOO_LARGE', field: 'maxEventCount' });
  });
});

describe('named queries (/epcis/queries)', () => {
  const call = async (method: string, path: string, key: string, body?: unknown, contentType = 'application/json') => {
    const res = await fetch(`${srv.origin}/epcis/queries${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': contentType }) },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
  };
  const shipments = { name: 'shipments', query: { EQ_bizStep: ['shipping'], orderBy: 'eventTime', orderDirection: 'ASC' } };

  it('creates, lists, reads, runs and deletes a named query', async () => {
    const created = await call('POST', '', brand.key, shipments);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.headers.get('location')).toBe(`${srv.origin}/epcis/queries/shipments`);
    expect(created.body).toEqual(shipments);
    expect((await call('POST', '', brand.key, { name: 'recent-adds', query: { EQ_action: ['ADD'], GE_eventTime: '2026-01-01T00:00:00Z', maxEventCount: 5 } })).status).toBe(201);

    const list = await call('GET', '', brand.key);
    expect(list.body).toEqual([{ name: 'recent-adds', query: { EQ_action: ['ADD'], GE_eventTime: '2026-01-01T00:00:00Z', maxEventCount: 5 } }, shipments]);
    const page1 = await call('GET', '?perPage=1', brand.key);
    expect(page1.body.map((d: Json) => d.name)).toEqual(['recent-adds']);
    const next = /^<([^>]+)>; rel="next"$/.exec(page1.headers.get('link')!)![1]!;
    const page2 = await fetch(next, { headers: { authorization: `Bearer ${brand.key}` } });
    expect(((await page2.json()) as Json[]).map((d) => d.name)).toEqual(['shipments']);
    expect(page2.headers.get('link')).toBeNull();
    expect((await call('GET', '/shipments', brand.key)).body).toEqual(shipments);

    // Its events: the definition's filters and order, with this request's paging; the queryName in the document.
    const run = await call('GET', '/shipments/events', brand.key);
    expect(run.status).toBe(200);
    expect(run.body.epcisBody.queryResults.queryName).toBe('shipments');
    expect(eventsOf(run.body).map(nameOf)).toEqual(['ship1', 'ship2']);
    expect(run.body['provenant:checkpoint']['provenant:treeSize']).toBeGreaterThan(0);
    const first = await call('GET', '/shipments/events?perPage=1', brand.key);
    expect(eventsOf(first.body).map(nameOf)).toEqual(['ship1']);
    const rest = await fetch(/^<([^>]+)>/.exec(first.headers.get('link')!)![1]!, { headers: { authorization: `Bearer ${brand.key}` } });
    expect(eventsOf((await rest.json()) as Json).map(nameOf)).toEqual(['ship2']);
    expect((await call('GET', '/recent-adds/events', brand.key)).body.epcisBody.queryResults.resultsBody.eventList.map(nameOf)).toEqual(['commission1', 'pack', 'commission3']);
    // Filters are fixed by the definition.
    const extra = await call('GET', '/shipments/events?EQ_action=ADD', brand.key);
    expect(extra.status).toBe(400);
    expect(extra.body).toMatchObject({ type: 'epcisException:QueryParameterException', parameters: [{ name: 'EQ_action' }] });

    expect((await call('DELETE', '/shipments', brand.key)).status).toBe(204);
    expect((await call('GET', '/shipments', brand.key)).body).toMatchObject({ type: 'epcisException:NoSuchNameException', status: 404 });
    expect((await call('GET', '/shipments/events', brand.key)).status).toBe(404);
    expect((await call('DELETE', '/shipments', brand.key)).status).toBe(404);
  });

  it('refuses duplicates, malformed bodies and bad queries, and applies maxEventCount', async () => {
    expect((await call('POST', '', brand.key, { name: 'dup', query: {} })).status).toBe(201);
    expect((await call('POST', '', brand.key, { name: 'dup', query: { EQ_bizStep: ['shipping'] } })).body).toMatchObject({ type: 'epcisException:ResourceAlreadyExistsException', status: 409 });
    expect((await call('GET', '/dup', brand.key)).body.query).toEqual({});
    for (const [body, type, pattern] of [
      [{ name: 'bad name!', query: {} }, 'ValidationException', /name must be/],
      [{ name: 'x' }, 'ValidationException', /query must be a JSON object/],
      ['[1, 2]', 'ValidationException', /body must be a JSON object/],
      ['{', 'ValidationException', /not a JSON document/],
      [{ name: 'q1', query: { EQ_quantity: 3 } }, 'QueryParameterException', /EQ_quantity is not supported/],
      [{ name: 'q2', query: { perPage: 3 } }, 'QueryParameterException', /perPage is not part of a query definition/],
      [{ name: 'q3', query: { EQ_bizStep: [1] } }, 'QueryParameterException', /must be a string, a number or an array of strings/],
      [{ name: 'q4', query: { eventCountLimit: 3 } }, 'QueryParameterException', /eventCountLimit needs orderBy/],
    ] as const) {
      const r = await call('POST', '', brand.key, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body, JSON.stringify(body)).toMatchObject({ type: `epcisException:${type}`, title: expect.stringMatching(pattern) });
    }
    expect((await call('POST', '', brand.key, { name: 'x', query: {} }, 'text/plain')).status).toBe(415);
    expect((await call('GET', '/q1', brand.key)).status).toBe(404);
    expect((await call('POST', '', brand.key, { name: 'two-ships', query: { EQ_bizStep: ['shipping'], maxEventCount: 1 } })).status).toBe(201);
    expect((await call('GET', '/two-ships/events', brand.key)).body).toMatchObject({ type: 'epcisException:QueryTooLargeException', status: 413 });
    expect((await call('PUT', '/dup', brand.key, {})).status).toBe(405);
  });

  it('belong to one actor and run with the caller\'s visibility', async () => {
    expect((await call('POST', '', brand.key, { name: 'receipts', query: { EQ_bizStep: ['receiving'] } })).status).toBe(201);
    expect((await call('GET', '/receipts', dist.key)).status).toBe(404);
    expect((await call('GET', '/receipts/events', dist.key)).status).toBe(404);
    expect((await call('GET', '', dist.key)).body).toEqual([]);
    // The distributor's own query of the same name sees only what the distributor may read.
    expect((await call('POST', '', dist.key, { name: 'receipts', query: { EQ_bizStep: ['receiving'] } })).status).toBe(201);
    const mine = eventsOf((await call('GET', '/receipts/events', dist.key)).body).map(nameOf);
    const theirs = eventsOf((await call('GET', '/receipts/events', brand.key)).body).map(nameOf);
    expect(theirs).toEqual(['receive1', 'receive2', 'return']);
    expect(mine).toEqual(await q('EQ_bizStep=receiving', dist.key));
    expect(mine).not.toEqual(theirs);
  });
});
