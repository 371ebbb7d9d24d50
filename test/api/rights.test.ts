import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { createTestActor, lifecycle, minutesAgo, registerProductAndBatch, type TestActor } from '../helpers/ledger.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

let db: TestDatabase;
let srv: TestServer;
// Three unrelated companies, each with its own maker, distributor and retailer, plus a shared servicer and auditor.
let a: TestActor, aDist: TestActor, aShop: TestActor, aOwner: TestActor;
let b: TestActor, bShop: TestActor;
let c: TestActor;
let servicer: TestActor, auditor: TestActor;
const GA = '04012345111118';
const GB = '04099999000012';
const urnA = (s: string) => `urn:epc:id:sgtin:4012345.011111.${s}`;
const urnB = (s: string) => `urn:epc:id:sgtin:4099999.000001.${s}`;

async function grant(by: TestActor, input: Record<string, unknown>) {
  const { body } = await srv.gql(`mutation($i: GrantRightsInput!) { grantRights(input: $i) { __typename ... on GrantSuccess { grant { id active expiresAt } } ... on Error { message } } }`, { i: input }, by.key);
  if (!body.data) throw new Error(JSON.stringify(body.errors));
  return body.data.grantRights;
}

beforeAll(async () => {
  db = await openTestDatabase();
  srv = await startTestServer(db);
  a = await createTestActor(srv, 'A-Maker', ['MANUFACTURER'], ['4012345']);
  aDist = await createTestActor(srv, 'A-Dist', ['DISTRIBUTOR']);
  aShop = await createTestActor(srv, 'A-Shop', ['RETAILER']);
  aOwner = await createTestActor(srv, 'A-Owner', []);
  b = await createTestActor(srv, 'B-Maker', ['MANUFACTURER'], ['4099999']);
  bShop = await createTestActor(srv, 'B-Shop', ['RETAILER']);
  c = await createTestActor(srv, 'C-Maker', ['MANUFACTURER', 'RETAILER', 'DISTRIBUTOR'], ['4077777']);
  servicer = await createTestActor(srv, 'Servicer', ['SERVICER']);
  auditor = await createTestActor(srv, 'Auditor', ['AUDITOR']);
  expect((await registerProductAndBatch(srv, a, { gtin: GA, lot: 'A1', range: { count: 20, firstSerial: 'S01' } })).__typename).toBe('RegisterBatchSuccess');
  expect((await registerProductAndBatch(srv, b, { gtin: GB, lot: 'B1', range: { count: 5, firstSerial: 'S01' } })).__typename).toBe('RegisterBatchSuccess');
  // A's item S01 goes maker → dist → shop → sold to owner; S02 stays at the distributor.
  for (const [who, m, extra, items] of [
    [a, 'shipItems', { to: aDist.id }, ['S01', 'S02']], [aDist, 'receiveItems', {}, ['S01', 'S02']],
    [aDist, 'shipItems', { to: aShop.id }, ['S01']], [aShop, 'receiveItems', {}, ['S01']], [aShop, 'sellItems', { buyer: aOwner.id }, ['S01']],
  ] as const) {
    const r = await lifecycle(srv, who, m, { items: items.map(urnA), occurredAt: minutesAgo(30), ...extra });
    expect(r.__typename, JSON.stringify(r)).toBe('RecordEventSuccess');
  }
  await lifecycle(srv, b, 'shipItems', { items: [urnB('S01')], to: bShop.id, occurredAt: minutesAgo(30) });
});
afterAll(async () => {
  await srv?.close();
  await db?.dispose();
});

describe('leaks: nothing of company A is reachable by B or C', () => {
  it('item lookups by SGTIN, Digital Link and id are "not found" for outsiders, found for A', async () => {
    const own = await srv.gql(`{ item(sgtin: "${urnA('S01')}") { id } }`, {}, a.key);
    const id = own.body.data.item.id;
    for (const outsider of [b, c, bShop, servicer]) {
      const q = await srv.gql(`query($id: ID!) {
        bySgtin: item(sgtin: "${urnA('S01')}") { id }
        byDl: item(digitalLink: "https://id.gs1.org/01/${GA}/21/S01") { id }
        byId: item(id: $id) { id }
        node(id: $id) { id }
        nodes(ids: [$id]) { id }
        product(gtin: "${GA}") { gtin }
        batch(gtin: "${GA}", lot: "A1") { id }
      }`, { id }, outsider.key);
      expect(q.body.errors, outsider.name).toBeUndefined();
      expect(q.body.data, outsider.name).toEqual({ bySgtin: null, byDl: null, byId: null, node: null, nodes: [null], product: null, batch: null });
    }
  });

  it('node(id) with A’s batch, product, event and grant ids returns null for outsiders', async () => {
    const own = await srv.gql(`{ batch(gtin: "${GA}", lot: "A1") { id product { id } } item(sgtin: "${urnA('S01')}") { events(first: 1) { edges { node { id } } } } }`, {}, a.key);
    const ids = [own.body.data.batch.id, own.body.data.batch.product.id, own.body.data.item.events.edges[0].node.id];
    const q = await srv.gql(`query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, { ids }, c.key);
    expect(q.body.data.nodes).toEqual([null, null, null]);
    const mine = await srv.gql(`query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, { ids }, a.key);
    expect(mine.body.data.nodes.map((n: any) => n?.id)).toEqual(ids);
  });

  it('events(filter) and connection pages never include A’s events for outsiders', async () => {
    const q = await srv.gql(`query($actor: String!) {
      all: events(first: 100) { edges { node { id actor { name } } } }
      byActor: events(first: 100, filter: { actor: $actor }) { edges { node { id } } }
      byBatch: events(first: 100, filter: { batch: { gtin: "${GA}", lot: "A1" } }) { edges { node { id } } }
    }`, { actor: a.id }, c.key);
    expect(q.body.data.all.edges).toEqual([]);
    const counts = await srv.gql(`{ events(first: 1) { totalCount } byBatch: events(first: 1, filter: { batch: { gtin: "${GA}", lot: "A1" } }) { totalCount } }`, {}, c.key);
    expect(counts.body.data).toEqual({ events: { totalCount: 0 }, byBatch: { totalCount: 0 } });
    // A holder's counts cover exactly what it may see: the distributor held S01 and S02 of the 20 items.
    const holder = await srv.gql(`{ batch(gtin: "${GA}", lot: "A1") { items(first: 1) { totalCount edges { node { sgtin } } } } }`, {}, aDist.key);
    expect(holder.body.data.batch.items.totalCount).toBe(2);
    const brand = await srv.gql(`{ batch(gtin: "${GA}", lot: "A1") { items(first: 1) { totalCount } } events(first: 1) { totalCount } }`, {}, a.key);
    expect(brand.body.data.batch.items.totalCount).toBe(20);
    const own = await sql<{ n: number }>`SELECT count(*)::int AS n FROM events e JOIN actors a ON a.id = e.actor_id WHERE a.name LIKE 'A-%'`.execute(db.db);
    expect(brand.body.data.events.totalCount).toBe(own.rows[0]!.n);
    expect(q.body.data.byActor.edges).toEqual([]);
    expect(q.body.data.byBatch.edges).toEqual([]);
    const bSees = await srv.gql(`{ events(first: 100) { edges { node { actor { name } kind } } } }`, {}, b.key);
    expect(bSees.body.data.events.edges.map((e: any) => e.node.actor.name).every((n: string) => n === 'B-Maker')).toBe(true);
    expect(bSees.body.data.events.edges).toHaveLength(2);
  });

  it('writes on invisible items say "item not found" — the same as for items that do not exist', async () => {
    const real = await lifecycle(srv, c, 'shipItems', { items: [urnA('S05')], to: bShop.id, occurredAt: minutesAgo(1) });
    const fake = await lifecycle(srv, c, 'shipItems', { items: [urnA('S99')], to: bShop.id, occurredAt: minutesAgo(1) });
    expect(real).toEqual({ __typename: 'NotFoundError', message: `item ${urnA('S05')} not found` });
    expect(fake).toEqual({ __typename: 'NotFoundError', message: `item ${urnA('S99')} not found` });
    const batchShip = await lifecycle(srv, c, 'shipItems', { batch: { gtin: GA, lot: 'A1' }, to: bShop.id, occurredAt: minutesAgo(1) });
    const noBatch = await lifecycle(srv, c, 'shipItems', { batch: { gtin: GA, lot: 'NOPE' }, to: bShop.id, occurredAt: minutesAgo(1) });
    expect(batchShip.__typename).toBe('NotFoundError');
    expect(batchShip.message).toBe(noBatch.message.replace('NOPE', 'A1'));
    const recall = await srv.gql(`mutation { recallBatch(input: { gtin: "${GA}", lot: "A1", reason: "x" }) { __typename ... on Error { message } } }`, {}, c.key);
    expect(recall.body.data.recallBatch.__typename).toBe('NotFoundError');
    const g = await grant(c, { grantee: b.id, kinds: ['SERVICE'], product: GA });
    expect(g.__typename).toBe('NotFoundError');
  });
});

describe('custody windows', () => {
  it('a holder sees the items it held, but only the events of its own custody window', async () => {
    const dist = await srv.gql(`{ item(sgtin: "${urnA('S01')}") { stage events(first: 20) { edges { node { kind } } } } }`, {}, aDist.key);
    // The distributor recorded RECEIVE and the second SHIP and was named by the first SHIP; it must not see the sale.
    expect(dist.body.data.item.events.edges.map((e: any) => e.node.kind)).toEqual(['SHIP', 'RECEIVE', 'SHIP']);
    const shop = await srv.gql(`{ item(sgtin: "${urnA('S01')}") { events(first: 20) { edges { node { kind } } } } }`, {}, aShop.key);
    expect(shop.body.data.item.events.edges.map((e: any) => e.node.kind)).toEqual(['SHIP', 'RECEIVE', 'SELL']);
    const brand = await srv.gql(`{ item(sgtin: "${urnA('S01')}") { events(first: 20) { edges { node { kind } } } } }`, {}, a.key);
    expect(brand.body.data.item.events.edges.map((e: any) => e.node.kind)).toEqual(['COMMISSION', 'SHIP', 'RECEIVE', 'SHIP', 'RECEIVE', 'SELL']);
    // The distributor never held S03: not visible.
    expect((await srv.gql(`{ item(sgtin: "${urnA('S03')}") { id } }`, {}, aDist.key)).body.data.item).toBeNull();
    // A proof bundle needs the whole history: refused to a holder, given to the brand.
    const bundle = await srv.gql(`{ itemProofBundle(sgtin: "${urnA('S01')}") }`, {}, aShop.key);
    expect(bundle.body.errors[0].extensions).toMatchObject({ code: 'FORBIDDEN', rule: 'FULL_HISTORY_REQUIRED' });
    expect((await srv.gql(`{ itemProofBundle(sgtin: "${urnA('S01')}") }`, {}, a.key)).body.data.itemProofBundle.events).toHaveLength(6);
  });
});

describe('grants', () => {
  it('grant → allowed; the event names the grant; revoke → denied at once; the event stays valid', async () => {
    const before = await lifecycle(srv, servicer, 'recordUse', { items: [urnA('S01')], kind: 'SERVICE', occurredAt: minutesAgo(5) });
    expect(before).toEqual({ __typename: 'NotFoundError', message: `item ${urnA('S01')} not found` }); // cannot even see the item yet
    const g = await grant(a, { grantee: servicer.id, kinds: ['SERVICE'], product: GA });
    expect(g).toMatchObject({ __typename: 'GrantSuccess', grant: { active: true, expiresAt: null } });
    const ok = await lifecycle(srv, servicer, 'recordUse', { items: [urnA('S01')], kind: 'SERVICE', occurredAt: minutesAgo(4), note: 'filter' });
    expect(ok.__typename).toBe('RecordEventSuccess');
    const data = await srv.gql(`query($id: ID!) { node(id: $id) { ... on Event { data } } }`, { id: ok.event.id }, a.key);
    expect(data.body.data.node.data).toEqual({ note: 'filter', authorizedBy: [Buffer.from(g.grant.id, 'base64').toString().split(':')[1]] });
    // Grants widen rights only within the lifecycle: a SERVICE grant does not allow USE_REPORT or SHIP.
    const other = await lifecycle(srv, servicer, 'recordUse', { items: [urnA('S01')], kind: 'USE_REPORT', occurredAt: minutesAgo(4) });
    expect(other).toMatchObject({ __typename: 'PermissionDeniedError', rule: 'NOT_CUSTODIAN_OR_GRANTEE' });
    const ship = await lifecycle(srv, servicer, 'shipItems', { items: [urnA('S01')], to: aDist.id, occurredAt: minutesAgo(4) });
    expect(ship.__typename).toBe('InvalidTransitionError'); // SOLD → SHIP not allowed; never a grant question

    const revoked = await srv.gql(`mutation($g: ID!) { revokeRights(input: { grant: $g }) { __typename ... on GrantSuccess { grant { active revokedAt revokedBy { name } } } } }`, { g: g.grant.id }, a.key);
    expect(revoked.body.data.revokeRights).toMatchObject({ __typename: 'GrantSuccess', grant: { active: false, revokedBy: { name: 'A-Maker' } } });
    // A revoked grant opens nothing, reading included: the item is "not found" again, exactly as before the grant.
    const after = await lifecycle(srv, servicer, 'recordUse', { items: [urnA('S01')], kind: 'SERVICE', occurredAt: minutesAgo(3) });
    expect(after).toEqual(before);
    const again = await srv.gql(`mutation($g: ID!) { revokeRights(input: { grant: $g }) { __typename } }`, { g: g.grant.id }, a.key);
    expect(again.body.data.revokeRights.__typename).toBe('ConflictError');
    const v = await srv.gql(`{ item(sgtin: "${urnA('S01')}") { verification { valid length } } }`, {}, a.key);
    expect(v.body.data.item.verification).toEqual({ valid: true, length: 7 });
    // Grants and revocations are readable by the brand and the grantee, with who/when.
    const list = await srv.gql(`{ grants(first: 10) { edges { node { grantor { name } grantee { name } kinds revokedAt } } } }`, {}, servicer.key);
    expect(list.body.data.grants.edges).toHaveLength(1);
    expect(list.body.data.grants.edges[0].node).toMatchObject({ grantor: { name: 'A-Maker' }, grantee: { name: 'Servicer' }, kinds: ['SERVICE'] });
    expect((await srv.gql(`{ grants(first: 10) { edges { node { id } } } }`, {}, c.key)).body.data.grants.edges).toEqual([]);
  });

  it('an expired grant stops working at its expiry instant', async () => {
    const g = await grant(a, { grantee: servicer.id, kinds: ['USE_REPORT'], batch: { gtin: GA, lot: 'A1' }, expiresAt: new Date(Date.now() + 60_000).toISOString() });
    expect(g.__typename).toBe('GrantSuccess');
    expect((await lifecycle(srv, servicer, 'recordUse', { items: [urnA('S01')], kind: 'USE_REPORT', occurredAt: minutesAgo(1) })).__typename).toBe('RecordEventSuccess');
    srv.setNow(new Date(Date.now() + 61_000));
    try {
      const r = await lifecycle(srv, servicer, 'recordUse', { items: [urnA('S01')], kind: 'USE_REPORT', occurredAt: minutesAgo(1) });
      expect(r).toEqual({ __typename: 'NotFoundError', message: `item ${urnA('S01')} not found` });
    } finally {
      srv.setNow(undefined);
    }
    const past = await grant(a, { grantee: servicer.id, kinds: ['SERVICE'], product: GA, expiresAt: minutesAgo(1) });
    expect(past).toMatchObject({ __typename: 'ValidationError' });
    // Custody moves are not grantable at all: the schema's GrantableKind enum has no SHIP.
    await expect(grant(a, { grantee: servicer.id, kinds: ['SHIP'], product: GA })).rejects.toThrow(/SHIP.*does not exist in .*GrantableKind.* enum/);
  });

  it('an auditor sees nothing until the operator grants it all products, then everything', async () => {
    expect((await srv.gql(`{ events(first: 5) { edges { node { id } } } }`, {}, auditor.key)).body.data.events.edges).toEqual([]);
    const byBrand = await grant(a, { grantee: auditor.id, kinds: [], allProducts: true });
    expect(byBrand).toMatchObject({ __typename: 'PermissionDeniedError' });
    const g = await srv.gql(`mutation($i: GrantRightsInput!) { grantRights(input: $i) { __typename } }`, { i: { grantee: auditor.id, kinds: [], allProducts: true } });
    expect(g.body.data.grantRights.__typename).toBe('GrantSuccess');
    const all = await srv.gql(`{ events(first: 100) { edges { node { id } } } logInfo { treeSize } }`, {}, auditor.key);
    expect(all.body.data.events.edges).toHaveLength(all.body.data.logInfo.treeSize);
    const auditorBundle = (await srv.gql(`{ itemProofBundle(sgtin: "${urnB('S01')}") }`, {}, auditor.key)).body.data.itemProofBundle;
    expect(auditorBundle.format).toBe('provenant-proof-bundle/v2');
    // The auditor reads at the authorities tier: nothing is withheld from it.
    expect(JSON.stringify(auditorBundle)).not.toContain('"withheld"');
  });
});

describe('recall', () => {
  it('blocks sale, returns affected items grouped by custodian, and is idempotent', async () => {
    // S02 is in stock at the distributor, S01 is sold, the rest are at the maker.
    await lifecycle(srv, aDist, 'shipItems', { items: [urnA('S02')], to: aShop.id, occurredAt: minutesAgo(2) });
    await lifecycle(srv, aShop, 'receiveItems', { items: [urnA('S02')], occurredAt: minutesAgo(2) });
    const denied = await srv.gql(`mutation { recallBatch(input: { gtin: "${GA}", lot: "A1", reason: "x" }) { __typename ... on PermissionDeniedError { rule } } }`, {}, aShop.key);
    expect(denied.body.data.recallBatch).toEqual({ __typename: 'PermissionDeniedError', rule: 'NOT_BRAND_OWNER' });
    const q = `mutation { recallBatch(input: { gtin: "${GA}", lot: "A1", reason: "faulty seal" }) { __typename
      ... on RecallBatchSuccess { alreadyRecalled event { kind itemCount } batch { recalled recallReason } custodians { custodian { name } itemCount items { sgtin } } } } }`;
    const first = await srv.gql(q, {}, a.key);
    const r = first.body.data.recallBatch;
    expect(r).toMatchObject({ __typename: 'RecallBatchSuccess', alreadyRecalled: false, event: { kind: 'RECALL', itemCount: 20 }, batch: { recalled: true, recallReason: 'faulty seal' } });
    const groups = Object.fromEntries(r.custodians.map((g: any) => [g.custodian.name, g.itemCount]));
    expect(groups).toEqual({ 'A-Maker': 18, 'A-Shop': 1, 'A-Owner': 1 });
    const sell = await lifecycle(srv, aShop, 'sellItems', { items: [urnA('S02')], occurredAt: minutesAgo(1) });
    expect(sell).toMatchObject({ __typename: 'PermissionDeniedError', rule: 'RECALLED' });
    // The custodian sees the recall flag on what it holds.
    expect((await srv.gql(`{ item(sgtin: "${urnA('S02')}") { recalled } }`, {}, aShop.key)).body.data.item.recalled).toBe(true);
    const events = await sql<{ n: number }>`SELECT count(*)::int AS n FROM events`.execute(db.db);
    const second = await srv.gql(q, {}, a.key);
    expect(second.body.data.recallBatch).toMatchObject({ alreadyRecalled: true, event: null });
    expect(Object.fromEntries(second.body.data.recallBatch.custodians.map((g: any) => [g.custodian.name, g.itemCount]))).toEqual(groups);
    expect((await sql<{ n: number }>`SELECT count(*)::int AS n FROM events`.execute(db.db)).rows[0]!.n).toBe(events.rows[0]!.n);
  });
});
