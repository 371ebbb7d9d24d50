import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RULE_CODES, type RuleCode } from '../../src/core/failures.ts';
import { gs1CheckDigit } from '../../src/core/identifiers.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { RESULT_FIELDS, createTestActor, lifecycle, minutesAgo, registerProductAndBatch, type TestActor } from '../helpers/ledger.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

// Issue 11: one catalogue of rule codes (src/core/failures.ts). Each code is reached here through the GraphQL API as a
// PermissionDeniedError of some mutation, so the catalogue holds nothing that no client can ever see.

let db: TestDatabase;
let srv: TestServer;
let maker: TestActor, rival: TestActor, dist: TestActor, shop: TestActor, ann: TestActor, bob: TestActor, servicer: TestActor;
const withCheck = (digits: string) => digits + String(gs1CheckDigit(digits));
const G = withCheck('0401234511111');
const urn = (s: string) => `urn:epc:id:sgtin:4012345.011111.${s}`;
const PALLET = withCheck(`34012345${'7'.padStart(9, '0')}`);
const seen = new Set<string>();

async function gql(actor: TestActor, query: string, i: Record<string, unknown>) {
  const { body } = await srv.gql(query, { i }, actor.key);
  expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
  return Object.values(body.data as Record<string, any>)[0];
}

/** Expects a PermissionDeniedError with `rule` and records that the API can answer it. */
function expectRule(result: { __typename: string; rule?: string; message?: string }, rule: RuleCode) {
  expect(result, JSON.stringify(result)).toMatchObject({ __typename: 'PermissionDeniedError', rule });
  seen.add(rule);
}

const step = async (actor: TestActor, mutation: string, input: Record<string, unknown>) => {
  const r = await lifecycle(srv, actor, mutation, { occurredAt: minutesAgo(30), ...input });
  expect(r.__typename, `${mutation}: ${JSON.stringify(r)}`).toBe('RecordEventSuccess');
};

const GRANT = `mutation($i: GrantRightsInput!) { grantRights(input: $i) { __typename ... on GrantSuccess { grant { id } } ... on Error { message } ... on PermissionDeniedError { rule } } }`;
const REVOKE = `mutation($i: RevokeRightsInput!) { revokeRights(input: $i) { __typename ... on Error { message } ... on PermissionDeniedError { rule } } }`;

beforeAll(async () => {
  db = await openTestDatabase();
  srv = await startTestServer(db);
  maker = await createTestActor(srv, 'Maker', ['MANUFACTURER'], ['4012345']);
  rival = await createTestActor(srv, 'Rival', ['MANUFACTURER'], ['4098765']);
  dist = await createTestActor(srv, 'Dist', ['DISTRIBUTOR']);
  shop = await createTestActor(srv, 'Shop', ['RETAILER']);
  ann = await createTestActor(srv, 'Ann', []);
  bob = await createTestActor(srv, 'Bob', []);
  servicer = await createTestActor(srv, 'Fixit', ['SERVICER']);
  expect((await registerProductAndBatch(srv, maker, { gtin: G, lot: 'L1', range: { count: 8, firstSerial: 'S01' } })).__typename).toBe('RegisterBatchSuccess');
  expect((await registerProductAndBatch(srv, maker, { gtin: G, lot: 'L2', range: { count: 2, firstSerial: 'R01' } })).__typename).toBe('RegisterBatchSuccess');
  // S01–S04 at the distributor; S05 sold by the shop to Ann; S06 on its way to the distributor; R01 in the shop.
  await step(maker, 'shipItems', { items: ['S01', 'S02', 'S03', 'S04', 'S05'].map(urn), to: dist.id });
  await step(dist, 'receiveItems', { items: ['S01', 'S02', 'S03', 'S04', 'S05'].map(urn) });
  await step(dist, 'shipItems', { items: [urn('S05')], to: shop.id });
  await step(shop, 'receiveItems', { items: [urn('S05')] });
  await step(shop, 'sellItems', { items: [urn('S05')], buyer: ann.id });
  await step(maker, 'shipItems', { items: [urn('S06')], to: dist.id });
  await step(maker, 'shipItems', { items: [urn('R01')], to: shop.id });
  await step(shop, 'receiveItems', { items: [urn('R01')] });
});
afterAll(async () => {
  await srv?.close();
  await db?.dispose();
});

describe('every rule code of the catalogue is answered by the API', () => {
  it('product and batch registration: ROLE_REQUIRED:MANUFACTURER, NOT_PREFIX_OWNER', async () => {
    const q = `mutation($i: RegisterProductInput!) { registerProduct(input: $i) { __typename ... on Error { message } ... on PermissionDeniedError { rule } } }`;
    expectRule(await gql(dist, q, { gtin: withCheck('0401234522222'), name: 'x' }), 'ROLE_REQUIRED:MANUFACTURER');
    expectRule(await gql(rival, q, { gtin: withCheck('0401234522222'), name: 'x' }), 'NOT_PREFIX_OWNER');
  });

  it('custody and lifecycle: NOT_CUSTODIAN, NOT_NAMED_RECEIVER, ROLE_REQUIRED:RETAILER, ROLE_REQUIRED:RECYCLER, RETURN_RECEIVER_NOT_ELIGIBLE', async () => {
    expectRule(await lifecycle(srv, maker, 'shipItems', { items: [urn('S01')], to: shop.id, occurredAt: minutesAgo(20) }), 'NOT_CUSTODIAN');
    expectRule(await lifecycle(srv, maker, 'receiveItems', { items: [urn('S06')], occurredAt: minutesAgo(20) }), 'NOT_NAMED_RECEIVER');
    expectRule(await lifecycle(srv, dist, 'sellItems', { items: [urn('S01')], occurredAt: minutesAgo(20) }), 'ROLE_REQUIRED:RETAILER');
    expectRule(await lifecycle(srv, dist, 'recycleItems', { items: [urn('S01')], occurredAt: minutesAgo(20) }), 'ROLE_REQUIRED:RECYCLER');
    expectRule(await lifecycle(srv, ann, 'returnItems', { items: [urn('S05')], to: bob.id, occurredAt: minutesAgo(20) }), 'RETURN_RECEIVER_NOT_ELIGIBLE');
  });

  it('recall: RECALLED (no sale of a recalled item)', async () => {
    const q = `mutation($i: RecallBatchInput!) { recallBatch(input: $i) { __typename ... on Error { message } } }`;
    expect((await gql(maker, q, { gtin: G, lot: 'L2', reason: 'faulty' })).__typename).toBe('RecallBatchSuccess');
    expectRule(await lifecycle(srv, shop, 'sellItems', { items: [urn('R01')], occurredAt: minutesAgo(10) }), 'RECALLED');
  });

  it('grants: OPERATOR_REQUIRED, NOT_GRANTOR, NOT_CUSTODIAN_OR_GRANTEE, GRANT_REVOKED, GRANT_EXPIRED, NOT_BRAND_OWNER', async () => {
    expectRule(await gql(maker, GRANT, { grantee: servicer.id, kinds: [], allProducts: true }), 'OPERATOR_REQUIRED');
    // A read-only grant lets the servicer see the product's items, so later refusals name the real rule.
    expect((await gql(maker, GRANT, { grantee: servicer.id, kinds: [], product: G })).__typename).toBe('GrantSuccess');
    const service = (kind = 'SERVICE') => lifecycle(srv, servicer, 'recordUse', { items: [urn('S05')], kind, occurredAt: minutesAgo(1) });
    expectRule(await service(), 'NOT_CUSTODIAN_OR_GRANTEE');

    const granted = await gql(maker, GRANT, { grantee: servicer.id, kinds: ['SERVICE'], product: G });
    expect(granted.__typename).toBe('GrantSuccess');
    expect((await service()).__typename).toBe('RecordEventSuccess');
    expectRule(await gql(servicer, REVOKE, { grant: granted.grant.id }), 'NOT_GRANTOR');
    expect((await gql(maker, REVOKE, { grant: granted.grant.id })).__typename).toBe('GrantSuccess');
    expectRule(await service(), 'GRANT_REVOKED');

    const expiresAt = new Date(Date.now() + 1500).toISOString();
    expect((await gql(maker, GRANT, { grantee: servicer.id, kinds: ['ACTIVATE'], product: G, expiresAt })).__typename).toBe('GrantSuccess');
    await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(expiresAt) - Date.now()) + 50));
    expectRule(await service('ACTIVATE'), 'GRANT_EXPIRED');

    const links = `mutation($i: SetLinksInput!) { setLinks(input: $i) { __typename ... on Error { message } ... on PermissionDeniedError { rule } } }`;
    expectRule(await gql(servicer, links, { gtin: G, links: [] }), 'NOT_BRAND_OWNER');
  });

  it('containers: NOT_CONTAINER_CUSTODIAN (the brand sees the pallet but does not hold it)', async () => {
    const pack = `mutation($i: PackItemsInput!) { packItems(input: $i) { ${RESULT_FIELDS} } }`;
    const unpack = `mutation($i: UnpackItemsInput!) { unpackItems(input: $i) { ${RESULT_FIELDS} } }`;
    expect((await gql(dist, pack, { container: PALLET, items: [urn('S02'), urn('S03')], occurredAt: minutesAgo(5) })).__typename).toBe('RecordEventSuccess');
    expectRule(await gql(maker, unpack, { container: PALLET, occurredAt: minutesAgo(4) }), 'NOT_CONTAINER_CUSTODIAN');
  });

  it('leaves no code of the catalogue unreached', () => {
    expect(RULE_CODES.filter((c) => !seen.has(c))).toEqual([]);
  });
});
