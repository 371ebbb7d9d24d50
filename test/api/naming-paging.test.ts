import { decodeGlobalID } from '@pothos/plugin-relay';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gs1CheckDigit } from '../../src/core/identifiers.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { createTestActor, lifecycle, minutesAgo, registerProductAndBatch, type TestActor } from '../helpers/ledger.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

let db: TestDatabase;
let srv: TestServer;
let maker: TestActor, freight: TestActor, shop: TestActor;
const GTIN = '04012345111118';
const urn = (n: number) => `urn:epc:id:sgtin:4012345.011111.N${String(n).padStart(3, '0')}`;
const withCheck = (d: string) => d + gs1CheckDigit(d);
const FREIGHT_GLN = withCheck('401234500001');
const UNKNOWN_GLN = withCheck('401234599999');

async function actorWithGln(name: string, roles: string[], gln: string): Promise<TestActor> {
  const { body } = await srv.gql(`mutation($i: CreateActorInput!) { createActor(input: $i) { ... on CreateActorSuccess { secret actor { id } } } }`, { i: { name, roles, gln } });
  return { id: body.data.createActor.actor.id, key: body.data.createActor.secret, name };
}

beforeAll(async () => {
  db = await openTestDatabase();
  srv = await startTestServer(db);
  maker = await createTestActor(srv, 'Maker', ['MANUFACTURER'], ['4012345']);
  freight = await actorWithGln('Rapid Freight', ['DISTRIBUTOR'], FREIGHT_GLN);
  shop = await createTestActor(srv, 'Corner Shop', ['RETAILER']);
  for (const n of ['rapid Repairs', 'Rapidly_Ltd', 'Rap%Music', 'Zeta']) await createTestActor(srv, n, []);
  await registerProductAndBatch(srv, maker, { gtin: GTIN, lot: 'L1', range: { count: 30, firstSerial: 'N001' } });
});
afterAll(async () => {
  await srv?.close();
  await db?.dispose();
});

const ship = (n: number, to: string) => lifecycle(srv, maker, 'shipItems', { items: [urn(n)], occurredAt: minutesAgo(30), to });

describe('naming an actor', () => {
  it('a receiver given by name is a typed ValidationError on the field (was: top-level "Invalid global ID")', async () => {
    const r = await ship(1, 'Rapid Freight');
    expect(r).toMatchObject({ __typename: 'ValidationError', field: 'to' });
    expect(r.message).toMatch(/Actor id, a 13-digit GLN or urn:provenant:actor/);
    expect(await ship(1, '4012345000019')).toMatchObject({ __typename: 'ValidationError', field: 'to', message: expect.stringMatching(/check digit/) });
    expect(await ship(1, UNKNOWN_GLN)).toMatchObject({ __typename: 'NotFoundError' });
    expect(await ship(1, 'urn:provenant:actor:00000000-0000-4000-8000-000000000000')).toMatchObject({ __typename: 'NotFoundError' });
  });

  it('accepts an Actor global id, a GLN and urn:provenant:actor:{uuid} wherever an actor is named', async () => {
    const byGln = await ship(1, FREIGHT_GLN);
    expect(byGln.__typename).toBe('RecordEventSuccess');
    const shopUuid = decodeGlobalID(shop.id).id;
    const byUrn = await ship(2, `urn:provenant:actor:${shopUuid}`);
    expect(byUrn.__typename).toBe('RecordEventSuccess');
    const { body } = await srv.gql(`query($id: ID!) { node(id: $id) { ... on Event { counterparty { name } } } }`, { id: byGln.event.id }, maker.key);
    expect(body.data.node.counterparty.name).toBe('Rapid Freight');
    await lifecycle(srv, shop, 'receiveItems', { items: [urn(2)], occurredAt: minutesAgo(20) });
    const sold = await lifecycle(srv, shop, 'sellItems', { items: [urn(2)], occurredAt: minutesAgo(10), buyer: FREIGHT_GLN });
    expect(sold.__typename).toBe('RecordEventSuccess');
    const grant = await srv.gql(`mutation($i: GrantRightsInput!) { grantRights(input: $i) { __typename ... on GrantSuccess { grant { grantee { name } } } ... on ValidationError { field } } }`,
      { i: { grantee: FREIGHT_GLN, kinds: [], product: GTIN } }, maker.key);
    expect(grant.body.data.grantRights).toEqual({ __typename: 'GrantSuccess', grant: { grantee: { name: 'Rapid Freight' } } });
    const badGrantee = await srv.gql(`mutation($i: GrantRightsInput!) { grantRights(input: $i) { __typename ... on ValidationError { field } } }`,
      { i: { grantee: 'Rapid Freight', kinds: [], product: GTIN } }, maker.key);
    expect(badGrantee.body.data.grantRights).toEqual({ __typename: 'ValidationError', field: 'grantee' });
    const filtered = await srv.gql(`query($a: String!) { events(filter: { actor: $a }) { totalCount } }`, { a: `urn:provenant:actor:${shopUuid}` }, maker.key);
    expect(filtered.body.data.events.totalCount).toBeGreaterThan(0);
  });
});

describe('actor directory', () => {
  it('finds partners by name prefix (case-insensitive, % and _ literal) or GLN; lists id, name, roles and gln only', async () => {
    const q = `query($p: String, $g: String) { actors(namePrefix: $p, gln: $g, first: 10) { edges { node { id name roles gln } } } }`;
    const names = async (vars: Record<string, unknown>) => (await srv.gql(q, vars, shop.key)).body.data.actors.edges.map((e: any) => e.node.name);
    expect(await names({ p: 'rapid' })).toEqual(['Rapid Freight', 'rapid Repairs', 'Rapidly_Ltd']); // byte order of lower(name)
    expect(await names({ p: 'Rap%' })).toEqual(['Rap%Music']);
    expect(await names({ p: 'rapidly_' })).toEqual(['Rapidly_Ltd']);
    const byGln = (await srv.gql(q, { g: FREIGHT_GLN }, shop.key)).body.data.actors.edges;
    expect(byGln).toEqual([{ node: { id: freight.id, name: 'Rapid Freight', roles: ['DISTRIBUTOR'], gln: FREIGHT_GLN } }]);
    // The id it lists names the actor in a mutation.
    expect((await ship(3, byGln[0].node.id)).__typename).toBe('RecordEventSuccess');
    const all = await names({});
    expect(all).not.toContain('Platform operator');
    const fields = await srv.gql(`{ __type(name: "ActorListing") { fields { name } } }`);
    expect(fields.body.data.__type.fields.map((f: any) => f.name).sort()).toEqual(['gln', 'id', 'name', 'roles']);
    const bad = await srv.gql(q, { g: '123' }, shop.key);
    expect(bad.body.errors[0].extensions).toMatchObject({ code: 'VALIDATION_ERROR', field: 'gln' });
    const anonymous = await srv.gql(q, {}, null);
    expect(anonymous.body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
  });
});

describe('last/before on connections', () => {
  const ids = (c: any) => c.edges.map((e: any) => e.node.id ?? e.node.name ?? e.node.sgtin);

  it('events: last: 3 is the last three in log order; before pages backward; first and last together are refused', async () => {
    const all = (await srv.gql(`{ events(first: 100) { edges { node { id } } } }`, {}, maker.key)).body.data.events;
    const n = all.edges.length;
    expect(n).toBeGreaterThan(5);
    const last3 = (await srv.gql(`{ events(last: 3) { edges { node { id } } pageInfo { hasPreviousPage hasNextPage startCursor } } }`, {}, maker.key)).body.data.events;
    expect(ids(last3)).toEqual(ids(all).slice(n - 3));
    expect(last3.pageInfo).toMatchObject({ hasPreviousPage: true, hasNextPage: false });
    const prev = (await srv.gql(`query($b: String) { events(last: 2, before: $b) { edges { node { id } } pageInfo { hasPreviousPage hasNextPage } } }`, { b: last3.pageInfo.startCursor }, maker.key)).body.data.events;
    expect(ids(prev)).toEqual(ids(all).slice(n - 5, n - 3));
    expect(prev.pageInfo).toMatchObject({ hasPreviousPage: true, hasNextPage: true });
    const firstBefore = (await srv.gql(`query($b: String) { events(first: 2, before: $b) { edges { node { id } } } }`, { b: last3.pageInfo.startCursor }, maker.key)).body.data.events;
    expect(ids(firstBefore)).toEqual(ids(all).slice(0, 2));
    const both = await srv.gql(`{ events(first: 2, last: 2) { edges { cursor } } }`, {}, maker.key);
    expect(both.body.errors[0].extensions).toMatchObject({ code: 'VALIDATION_ERROR', field: 'last' });
    const tooMany = await srv.gql(`{ events(last: 101) { edges { cursor } } }`, {}, maker.key);
    expect(tooMany.body.errors[0].extensions).toMatchObject({ field: 'last' });
  });

  it('batch.items (ordered by item id), item.events (both orders), actors and grants page backward too', async () => {
    const q = (args: string) => `{ batch(gtin: "${GTIN}", lot: "L1") { items(${args}) { edges { node { id } } pageInfo { hasPreviousPage hasNextPage } } } }`;
    const all = (await srv.gql(q('first: 100'), {}, maker.key)).body.data.batch.items;
    expect(all.edges).toHaveLength(30);
    const sorted = [...ids(all)].sort((a: string, b: string) => (decodeGlobalID(a).id < decodeGlobalID(b).id ? -1 : 1));
    expect(ids(all)).toEqual(sorted);
    const tail = (await srv.gql(q('last: 4'), {}, maker.key)).body.data.batch.items;
    expect(ids(tail)).toEqual(ids(all).slice(26));
    expect(tail.pageInfo).toEqual({ hasPreviousPage: true, hasNextPage: false });

    const ev = (args: string) => `{ item(sgtin: "${urn(2)}") { events(${args}) { edges { node { kind } } } } }`;
    const kinds = async (args: string) => (await srv.gql(ev(args), {}, maker.key)).body.data.item.events.edges.map((e: any) => e.node.kind);
    expect(await kinds('first: 10')).toEqual(['COMMISSION', 'SHIP', 'RECEIVE', 'SELL']);
    expect(await kinds('last: 2')).toEqual(['RECEIVE', 'SELL']);
    expect(await kinds('last: 2, order: NEWEST_FIRST')).toEqual(['SHIP', 'COMMISSION']);
    const newest = (await srv.gql(`{ item(sgtin: "${urn(2)}") { events(first: 1, order: NEWEST_FIRST) { edges { cursor } } } }`, {}, maker.key)).body.data.item.events.edges[0].cursor;
    expect(await kinds(`last: 1, before: "${newest}", order: NEWEST_FIRST`)).toEqual([]);
    expect(await kinds(`first: 1, after: "${newest}", order: NEWEST_FIRST`)).toEqual(['RECEIVE']);

    const names = (await srv.gql(`{ actors(last: 2) { edges { node { name } } pageInfo { hasPreviousPage } } }`, {}, shop.key)).body.data.actors;
    // Byte order of lower(name): "rapid repairs" < "rapidly_ltd" < "zeta".
    expect(names.edges.map((e: any) => e.node.name)).toEqual(['Rapidly_Ltd', 'Zeta']);
    expect(names.pageInfo.hasPreviousPage).toBe(true);
    const grants = await srv.gql(`{ grants(last: 1) { edges { node { grantee { name } } } } }`, {}, maker.key);
    expect(grants.body.data.grants.edges).toHaveLength(1);
  });
});
