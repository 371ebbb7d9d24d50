import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyAnyBundle } from '../../src/core/verify-any.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { createTestActor, lifecycle, minutesAgo, registerProductAndBatch, type TestActor } from '../helpers/ledger.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

// Disclosure tiers (docs/ledger-format.md §15) on GraphQL Event and the EPCIS export: buyer, price, notes and the
// consumer actor default to participants; a later holder reading a public history is the public tier; auditors
// (all-products grantees) see everything; the brand's per-product overrides change what each tier sees.

let db: TestDatabase;
let srv: TestServer;
let maker: TestActor, other: TestActor, shop1: TestActor, shop2: TestActor, ann: TestActor, auditor: TestActor;
const GTIN = '04012345111118';
const OTHER_GTIN = '04098765000010';
const urn = (s: string) => `urn:epc:id:sgtin:4012345.011111.${s}`;
const ev: Record<string, { id: string; leafIndex: number }> = {};

const ok = (r: any) => {
  expect(r.__typename, JSON.stringify(r)).toBe('RecordEventSuccess');
  return r.event;
};

beforeAll(async () => {
  db = await openTestDatabase();
  srv = await startTestServer(db);
  maker = await createTestActor(srv, 'Maker', ['MANUFACTURER'], ['4012345']);
  other = await createTestActor(srv, 'Other brand', ['MANUFACTURER'], ['4098765']);
  shop1 = await createTestActor(srv, 'Shop One', ['RETAILER']);
  shop2 = await createTestActor(srv, 'Shop Two', ['RETAILER']);
  ann = await createTestActor(srv, 'Ann', []);
  auditor = await createTestActor(srv, 'Auditor', ['AUDITOR']);
  const p = await srv.gql(`mutation($i: RegisterProductInput!) { registerProduct(input: $i) { __typename } }`, { i: { gtin: GTIN, name: 'Kettle', publicHistory: true } }, maker.key);
  expect(p.body.data.registerProduct.__typename).toBe('RegisterProductSuccess');
  expect((await registerProductAndBatch(srv, maker, { gtin: GTIN, lot: 'L1', serials: ['S1', 'S2'] })).__typename).toBe('RegisterBatchSuccess');
  expect((await registerProductAndBatch(srv, other, { gtin: OTHER_GTIN, lot: 'O1', serials: ['O1'] })).__typename).toBe('RegisterBatchSuccess');
  const g = await srv.gql(`mutation($i: GrantRightsInput!) { grantRights(input: $i) { __typename } }`, { i: { grantee: auditor.id, kinds: [], allProducts: true } });
  expect(g.body.data.grantRights.__typename).toBe('GrantSuccess');
  ok(await lifecycle(srv, maker, 'shipItems', { items: [urn('S1')], to: shop1.id, occurredAt: minutesAgo(60) }));
  ok(await lifecycle(srv, shop1, 'receiveItems', { items: [urn('S1')], occurredAt: minutesAgo(59) }));
  ev.sell = ok(await lifecycle(srv, shop1, 'sellItems', { items: [urn('S1')], price: 25, currency: 'EUR', buyer: ann.id, occurredAt: minutesAgo(58) }));
  ev.activate = ok(await lifecycle(srv, ann, 'recordUse', { items: [urn('S1')], kind: 'ACTIVATE', note: 'set up in the kitchen', occurredAt: minutesAgo(57) }));
  ev.ret = ok(await lifecycle(srv, ann, 'returnItems', { items: [urn('S1')], to: shop2.id, reason: 'lid broken', occurredAt: minutesAgo(56) }));
}, 60_000);
afterAll(async () => {
  await srv?.close();
  await db?.dispose();
});

const internalId = async (name: string) => (await db.db.selectFrom('actors').select('id').where('name', '=', name).executeTakeFirstOrThrow()).id;
const FIELDS = 'id kind actor { id } counterparty { id } location data withheldFields canonicalBody';
async function eventAs(key: string, id: string) {
  const { body } = await srv.gql(`query($id: ID!) { node(id: $id) { ... on Event { ${FIELDS} } } }`, { id }, key);
  expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
  return body.data.node;
}
async function epcisEvent(key: string, leafIndex: number) {
  const res = await fetch(`${srv.origin}/epcis/events?perPage=1000`, { headers: { authorization: `Bearer ${key}` } });
  const doc = await res.json();
  return doc.epcisBody.queryResults.resultsBody.eventList.find((e: any) => e['provenant:leafIndex'] === leafIndex);
}
async function setPolicy(key: string, overrides: unknown[], idempotencyKey?: string, gtin = GTIN) {
  const { body } = await srv.gql(
    `mutation($i: SetDisclosurePolicyInput!) { setDisclosurePolicy(input: $i) { __typename ... on Error { message } ... on ValidationError { field }
      ... on PermissionDeniedError { rule } ... on SetDisclosurePolicySuccess { policy { gtin overrides { field kind tier } setBy { id } } } } }`,
    { i: { gtin, overrides, ...(idempotencyKey ? { idempotencyKey } : {}) } }, key);
  expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
  return body.data.setDisclosurePolicy;
}

describe('default tiers', () => {
  it('the brand and the sale\'s parties (participants) see buyer, price and the consumer\'s activation', async () => {
    for (const reader of [maker, shop1, ann]) {
      const sell = await eventAs(reader.key, ev.sell!.id);
      expect(sell.withheldFields).toEqual([]);
      expect(sell.data).toEqual({ price: 25, currency: 'EUR' });
      expect(sell.counterparty.id).toBe(ann.id);
      // The v2 body commits to each field (the buyer is SELL's counterparty); the values are in data above.
      expect(Object.keys(JSON.parse(sell.canonicalBody).fields).sort()).toEqual(['actor', 'buyer', 'currency', 'price']);
    }
    const activate = await eventAs(maker.key, ev.activate!.id);
    expect(activate.actor.id).toBe(ann.id);
    expect(activate.data).toEqual({ note: 'set up in the kitchen' });
  });

  it('a later holder reading the public history (public tier) gets buyer, price, currency, note and the consumer actor withheld', async () => {
    const sell = await eventAs(shop2.key, ev.sell!.id);
    expect(sell.withheldFields).toEqual(['buyer', 'currency', 'price']);
    // A v2 body holds commitments only: shown, with the withheld fields still committed and no value in it.
    const committed = JSON.parse(sell.canonicalBody).fields;
    for (const f of ['buyer', 'currency', 'price']) expect(committed[f]).toMatch(/^[0-9a-f]{64}$/);
    expect(sell.canonicalBody).not.toContain('EUR');
    expect(JSON.stringify(sell)).not.toContain(await internalId('Ann'));
    expect(sell.data).toEqual({});
    expect(sell.counterparty).toBeNull();
    expect(sell.actor.id).toBe(shop1.id);
    const activate = await eventAs(shop2.key, ev.activate!.id);
    expect(activate.withheldFields).toEqual(['actor', 'note']);
    expect(activate.actor).toBeNull();
    expect(activate.data).toEqual({});
    // The RETURN names shop2 as its receiver: a party, so a participant.
    const ret = await eventAs(shop2.key, ev.ret!.id);
    expect(ret.withheldFields).toEqual([]);
    expect(ret.actor.id).toBe(ann.id);
    expect(ret.data).toEqual({ reason: 'lid broken' });
  });

  it('a proof bundle discloses each event exactly as GraphQL does for the same reader, and still verifies', async () => {
    const q = `query($s: String!) { itemProofBundle(sgtin: $s) }`;
    for (const reader of [maker, shop2, auditor]) {
      const { body } = await srv.gql(q, { s: urn('S1') }, reader.key);
      expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
      const bundle = body.data.itemProofBundle;
      expect(verifyAnyBundle(bundle, { verifierKeys: [srv.signer.verifierKey] }).ok).toBe(true);
      const ids = await db.db.selectFrom('chain_links as l').innerJoin('items as i', 'i.id', 'l.item_id').select(['l.seq', 'l.event_id'])
        .where('i.sgtin', '=', urn('S1')).orderBy('l.seq').execute();
      for (const e of bundle.events) {
        const withheld = Object.entries(e.fields as Record<string, object>).filter(([, f]) => 'withheld' in f).map(([n]) => n).sort();
        const gid = Buffer.from(`Event:${ids[e.seq]!.event_id}`).toString('base64');
        const shown = await eventAs(reader.key, gid);
        expect(withheld, `${reader.name} seq ${e.seq}`).toEqual(shown.withheldFields);
      }
      // A later holder reads the earlier owner's sale at the public tier: no buyer or price opened in its bundle (it
      // is the RETURN's receiver, so that event, with Ann as its actor, is open to it as on GraphQL).
      const sale = bundle.events.find((e: any) => ids[e.seq]!.event_id === ev.sell!.id.replace(/^.*$/, (g: string) => Buffer.from(g, 'base64').toString().split(':')[1]!));
      const expected = reader === shop2 ? { buyer: { withheld: true }, price: { withheld: true }, currency: { withheld: true } } : { price: { value: 25 }, currency: { value: 'EUR' } };
      expect(sale.fields).toMatchObject(expected);
    }
  });

  it('the EPCIS export leaves the withheld fields out for the public tier and labels the projection', async () => {
    const mine = await epcisEvent(maker.key, ev.sell!.leafIndex);
    expect(mine['provenant:price']).toBe(25);
    expect(mine.destinationList).toBeDefined();
    expect(mine['provenant:projection']).toBeUndefined();
    const theirs = await epcisEvent(shop2.key, ev.sell!.leafIndex);
    expect(theirs['provenant:price']).toBeUndefined();
    expect(theirs['provenant:priceCurrency']).toBeUndefined();
    expect(theirs['provenant:counterparty']).toBeUndefined();
    expect(theirs.destinationList).toBeUndefined();
    expect(theirs['provenant:data']).toBeUndefined();
    expect(theirs['provenant:projection']).toEqual({ 'provenant:itemsOmitted': false, 'provenant:withheldFields': ['buyer', 'currency', 'price'] });
    expect(JSON.stringify(theirs)).not.toContain(await internalId('Ann'));
    const activate = await epcisEvent(shop2.key, ev.activate!.leafIndex);
    expect(activate['provenant:actor']).toBeUndefined();
    expect(mine.eventID).not.toBe(theirs.eventID);
  });
});

describe('custody windows', () => {
  it('a holder sees the notes of events in its custody window (participant); a later holder reading the public history does not', async () => {
    const bob = await createTestActor(srv, 'Bob', []);
    const servicer = await createTestActor(srv, 'Servicer', ['SERVICER']);
    const g = await srv.gql(`mutation($i: GrantRightsInput!) { grantRights(input: $i) { __typename } }`, { i: { grantee: servicer.id, kinds: ['SERVICE'], product: GTIN } }, maker.key);
    expect(g.body.data.grantRights.__typename).toBe('GrantSuccess');
    ok(await lifecycle(srv, maker, 'shipItems', { items: [urn('S2')], to: shop1.id, occurredAt: minutesAgo(50) }));
    ok(await lifecycle(srv, shop1, 'receiveItems', { items: [urn('S2')], occurredAt: minutesAgo(49) }));
    ok(await lifecycle(srv, shop1, 'sellItems', { items: [urn('S2')], buyer: bob.id, occurredAt: minutesAgo(48) }));
    const service = ok(await lifecycle(srv, servicer, 'recordUse', { items: [urn('S2')], kind: 'SERVICE', note: 'descaled', occurredAt: minutesAgo(47) }));
    ok(await lifecycle(srv, bob, 'returnItems', { items: [urn('S2')], to: shop2.id, occurredAt: minutesAgo(46) }));
    const holder = await eventAs(bob.key, service.id);
    expect(holder.withheldFields).toEqual([]);
    expect(holder.data.note).toBe('descaled');
    const later = await eventAs(shop2.key, service.id);
    expect(later.withheldFields).toEqual(['note']);
    expect(later.data.note).toBeUndefined();
    expect(later.data.authorizedBy).toEqual(holder.data.authorizedBy);
  });
});

describe('GraphQL events filtered by actor', () => {
  it('a public-tier reader does not find a consumer\'s activation by its actor; a participant does', async () => {
    const q = `query($a: String!) { events(first: 50, filter: { actor: $a, kinds: [ACTIVATE] }) { edges { node { id } } } }`;
    const ids = async (key: string) => (await srv.gql(q, { a: ann.id }, key)).body.data.events.edges.map((e: any) => e.node.id);
    expect(await ids(maker.key)).toEqual([ev.activate!.id]);
    expect(await ids(shop2.key)).toEqual([]);
  });
});

describe('EPCIS filters on withheld values', () => {
  it('a reader cannot find an event by the value of a field withheld from it (the buyer of a sale)', async () => {
    const annId = (await db.db.selectFrom('actors').select('id').where('name', '=', 'Ann').executeTakeFirstOrThrow()).id;
    const q = `EQ_destination_owning_party=${encodeURIComponent(`urn:provenant:actor:${annId}`)}&perPage=100`;
    const leaves = async (key: string) => {
      const res = await fetch(`${srv.origin}/epcis/events?${q}`, { headers: { authorization: `Bearer ${key}` } });
      expect(res.status).toBe(200);
      return (await res.json()).epcisBody.queryResults.resultsBody.eventList.map((e: any) => e['provenant:leafIndex']);
    };
    expect(await leaves(maker.key)).toEqual([ev.sell!.leafIndex]);
    expect(await leaves(shop2.key)).toEqual([]);
  });
});

describe('setDisclosurePolicy', () => {
  it('validates, and only the brand (or the operator) may set it', async () => {
    expect(await setPolicy(maker.key, [{ field: 'colour', tier: 'PUBLIC' }])).toMatchObject({ __typename: 'ValidationError', field: 'overrides[0].field' });
    expect(await setPolicy(maker.key, [{ field: 'price', kind: 'SHOP', tier: 'PUBLIC' }])).toMatchObject({ __typename: 'ValidationError', field: 'overrides[0].kind' });
    expect(await setPolicy(maker.key, [{ field: 'price', tier: 'PUBLIC' }, { field: 'price', tier: 'AUTHORITIES' }])).toMatchObject({ __typename: 'ValidationError', field: 'overrides[1]' });
    expect(await setPolicy(maker.key, [], undefined, '123')).toMatchObject({ __typename: 'ValidationError', field: 'gtin' });
    expect(await setPolicy(shop2.key, [])).toMatchObject({ __typename: 'PermissionDeniedError', rule: 'NOT_BRAND_OWNER' });
    // A product the caller cannot see is "not found", as a missing one.
    expect(await setPolicy(maker.key, [], undefined, OTHER_GTIN)).toEqual({ __typename: 'NotFoundError', message: `product ${OTHER_GTIN} not found` });
    expect(await setPolicy(maker.key, [], undefined, '04012345999990')).toEqual({ __typename: 'NotFoundError', message: 'product 04012345999990 not found' });
  });

  it('overrides change what each tier sees; the policy and its history are on Product; a repeated key replays', async () => {
    const overrides = [{ field: 'price', tier: 'AUTHORITIES' }, { field: 'buyer', kind: 'SELL', tier: 'PUBLIC' }];
    const first = await setPolicy(maker.key, overrides, 'policy-1');
    expect(first.__typename).toBe('SetDisclosurePolicySuccess');
    expect(first.policy.overrides).toEqual([{ field: 'price', kind: null, tier: 'AUTHORITIES' }, { field: 'buyer', kind: 'SELL', tier: 'PUBLIC' }]);
    expect(await setPolicy(maker.key, overrides, 'policy-1')).toEqual(first);
    expect((await setPolicy(maker.key, [], 'policy-1')).__typename).toBe('ConflictError');

    const brand = await eventAs(maker.key, ev.sell!.id);
    expect(brand.withheldFields).toEqual(['price']);
    expect(brand.data).toEqual({ currency: 'EUR' });
    const later = await eventAs(shop2.key, ev.sell!.id);
    expect(later.withheldFields).toEqual(['currency', 'price']);
    expect(later.counterparty.id).toBe(ann.id);
    const audit = await eventAs(auditor.key, ev.sell!.id);
    expect(audit.withheldFields).toEqual([]);
    expect(audit.data).toEqual({ price: 25, currency: 'EUR' });
    expect((await epcisEvent(maker.key, ev.sell!.leafIndex))['provenant:price']).toBeUndefined();
    expect((await epcisEvent(auditor.key, ev.sell!.leafIndex))['provenant:price']).toBe(25);

    const q = `query($g: String!) { product(gtin: $g) { disclosurePolicy { field kind tier } disclosurePolicyHistory { overrides { field } setBy { id } } } }`;
    const asBrand = (await srv.gql(q, { g: GTIN }, maker.key)).body.data.product;
    expect(asBrand.disclosurePolicy).toEqual(first.policy.overrides);
    expect(asBrand.disclosurePolicyHistory).toHaveLength(1);
    expect(asBrand.disclosurePolicyHistory[0].setBy.id).toBe(maker.id);
    expect((await srv.gql(q, { g: GTIN }, shop2.key)).body.data.product.disclosurePolicyHistory).toBeNull();

    // Back to the defaults: an empty set, recorded as a second version.
    expect((await setPolicy(maker.key, [])).__typename).toBe('SetDisclosurePolicySuccess');
    expect((await eventAs(maker.key, ev.sell!.id)).withheldFields).toEqual([]);
    expect((await srv.gql(q, { g: GTIN }, maker.key)).body.data.product.disclosurePolicyHistory).toHaveLength(2);
  });
});
