import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { createTestActor, registerProductAndBatch, type TestActor } from '../helpers/ledger.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

// The same idempotency semantics on the writes that are not lifecycle events: a repeat with the same key returns the
// first result and writes nothing; the same key with another request is a ConflictError; a bad key a ValidationError.
let db: TestDatabase;
let srv: TestServer;
let maker: TestActor, servicer: TestActor;
const GTIN = '04012345333312';

const count = async (table: string) => Number((await sql<{ n: number }>`SELECT count(*)::int AS n FROM ${sql.table(table)}`.execute(db.db)).rows[0]!.n);

async function twice(mutation: string, inputType: string, input: Record<string, unknown>, select: string, key: string | null = null) {
  const q = `mutation($i: ${inputType}!) { r: ${mutation}(input: $i) { __typename ${select} ... on Error { message } ... on ValidationError { field } } }`;
  const first = await srv.gql(q, { i: input }, key);
  const second = await srv.gql(q, { i: input }, key);
  expect(first.body.errors, JSON.stringify(first.body.errors)).toBeUndefined();
  return { first: first.body.data.r, second: second.body.data.r, again: (other: Record<string, unknown>) => srv.gql(q, { i: other }, key).then((r) => r.body.data.r) };
}

beforeAll(async () => {
  db = await openTestDatabase();
  srv = await startTestServer(db);
  maker = await createTestActor(srv, 'Idem Maker', ['MANUFACTURER'], ['4012345']);
  servicer = await createTestActor(srv, 'Idem Servicer', ['SERVICER']);
});
afterAll(async () => {
  await srv?.close();
  await db?.dispose();
});

describe('idempotencyKey on every write mutation', () => {
  it('createActor: a replay returns the same actor and key without the secret, and creates nothing', async () => {
    const before = await count('actors');
    const r = await twice('createActor', 'CreateActorInput', { name: 'Idem Co', roles: ['RETAILER'], idempotencyKey: 'ca-1' }, '... on CreateActorSuccess { actor { id } apiKey { id } secret }', srv.operatorKey);
    expect(r.first.__typename).toBe('CreateActorSuccess');
    expect(r.first.secret).toMatch(/^pvn_/);
    expect(r.second).toEqual({ ...r.first, secret: null });
    expect(await count('actors')).toBe(before + 1);
    expect((await r.again({ name: 'Other Co', roles: ['RETAILER'], idempotencyKey: 'ca-1' })).__typename).toBe('ConflictError');
    expect(await r.again({ name: 'X', roles: [], idempotencyKey: '' })).toMatchObject({ __typename: 'ValidationError', field: 'idempotencyKey' });
  });

  it('issueApiKey and revokeApiKey replay their first result', async () => {
    const issue = await twice('issueApiKey', 'IssueApiKeyInput', { actor: servicer.id, idempotencyKey: 'ik-1' }, '... on IssueApiKeySuccess { apiKey { id } secret }', srv.operatorKey);
    expect(issue.first.secret).toMatch(/^pvn_/);
    expect(issue.second).toEqual({ ...issue.first, secret: null });
    expect(await count('api_keys')).toBe(4); // maker, servicer, Idem Co, and this one
    const revoke = await twice('revokeApiKey', 'RevokeApiKeyInput', { keyId: issue.first.apiKey.id, idempotencyKey: 'rk-1' }, '... on RevokeApiKeySuccess { apiKey { id revokedAt } }', srv.operatorKey);
    expect(revoke.first.__typename).toBe('RevokeApiKeySuccess');
    expect(revoke.second).toEqual(revoke.first);
  });

  it('registerProduct: a replay returns the product instead of "already registered"; without a key the repeat conflicts', async () => {
    const r = await twice('registerProduct', 'RegisterProductInput', { gtin: GTIN, name: 'Kettle', idempotencyKey: 'rp-1' }, '... on RegisterProductSuccess { product { gtin name } }', maker.key);
    expect(r.first).toEqual({ __typename: 'RegisterProductSuccess', product: { gtin: GTIN, name: 'Kettle' } });
    expect(r.second).toEqual(r.first);
    expect((await r.again({ gtin: GTIN, name: 'Kettle' })).__typename).toBe('ConflictError');
  });

  it('grantRights and revokeRights: one grant, one revocation, whatever the retries', async () => {
    const grants = await count('grants');
    const g = await twice('grantRights', 'GrantRightsInput', { grantee: servicer.id, kinds: ['SERVICE'], product: GTIN, idempotencyKey: 'gr-1' }, '... on GrantSuccess { grant { id } }', maker.key);
    expect(g.first.__typename).toBe('GrantSuccess');
    expect(g.second).toEqual(g.first);
    expect(await count('grants')).toBe(grants + 1);
    expect((await g.again({ grantee: servicer.id, kinds: ['ACTIVATE'], product: GTIN, idempotencyKey: 'gr-1' })).__typename).toBe('ConflictError');
    const rv = await twice('revokeRights', 'RevokeRightsInput', { grant: g.first.grant.id, idempotencyKey: 'rr-1' }, '... on GrantSuccess { grant { id revokedAt } }', maker.key);
    expect(rv.first.__typename).toBe('GrantSuccess');
    expect(rv.second).toEqual(rv.first);
    expect(await count('grant_revocations')).toBe(1);
  });

  it('setLinks: a replay returns the first link set and records no second one', async () => {
    const sets = await count('link_sets');
    const input = { gtin: GTIN, links: [{ linkType: 'gs1:pip', href: 'https://brand.example/kettle', title: 'Kettle' }], idempotencyKey: 'sl-1' };
    const r = await twice('setLinks', 'SetLinksInput', input, '... on SetLinksSuccess { linkSet { setAt setBy { name } links { href } } }', maker.key);
    expect(r.first.__typename).toBe('SetLinksSuccess');
    expect(r.second).toEqual(r.first);
    expect(await count('link_sets')).toBe(sets + 1);
    expect((await r.again({ ...input, links: [] })).__typename).toBe('ConflictError');
  });

  it('recallBatch: a replay returns the first RECALL event (not "already recalled") and writes nothing', async () => {
    const b = await registerProductAndBatch(srv, maker, { gtin: GTIN, lot: 'RC1', range: { count: 3, firstSerial: 'R1' } });
    expect(b.__typename).toBe('RegisterBatchSuccess');
    const events = await count('events');
    const input = { gtin: GTIN, lot: 'RC1', reason: 'faulty valve', idempotencyKey: 'rc-1' };
    const r = await twice('recallBatch', 'RecallBatchInput', input, '... on RecallBatchSuccess { alreadyRecalled event { id leafIndex } custodians { itemCount } }', maker.key);
    expect(r.first).toMatchObject({ __typename: 'RecallBatchSuccess', alreadyRecalled: false, custodians: [{ itemCount: 3 }] });
    expect(r.second).toEqual(r.first);
    expect(await count('events')).toBe(events + 1);
    expect((await r.again({ ...input, reason: 'other' })).__typename).toBe('ConflictError');
    // Without the key, a repeat is a new call: the batch is already recalled and nothing is written.
    const plain = await r.again({ gtin: GTIN, lot: 'RC1', reason: 'faulty valve' });
    expect(plain).toMatchObject({ alreadyRecalled: true, event: null });
  });
});
