import { decodeGlobalID } from '@pothos/plugin-relay';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiKeyHash } from '../../src/core/api-key.ts';
import { AuthCache } from '../../src/server/auth-cache.ts';
import { generateApiKey } from '../../src/services/api-key-secret.ts';
import { parseAuthorization } from '../../src/services/authenticate.ts';
import { openTestDatabase, statementCounter, type TestDatabase } from '../helpers/db.ts';
import { createTestActor, registerProductAndBatch, type TestActor } from '../helpers/ledger.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

// Verified keys are reused briefly; revocations and grant changes made through the server apply at once.
let db: TestDatabase;
let srv: TestServer;
let maker: TestActor, auditor: TestActor;
const counter = statementCounter();
const GTIN = '04012345444414';
const viewer = (key: string) => srv.gql('{ viewer { id } }', {}, key);
const product = (key: string) => srv.gql(`{ product(gtin: "${GTIN}") { gtin } }`, {}, key);

beforeAll(async () => {
  db = await openTestDatabase();
  srv = await startTestServer({ ...db, db: db.db.withPlugin(counter.plugin) });
  maker = await createTestActor(srv, 'Cache Maker', ['MANUFACTURER'], ['4012345']);
  auditor = await createTestActor(srv, 'Cache Auditor', ['DISTRIBUTOR']);
  const b = await registerProductAndBatch(srv, maker, { gtin: GTIN, lot: 'C1', range: { count: 2, firstSerial: 'C1' } });
  expect(b.__typename).toBe('RegisterBatchSuccess');
});
afterAll(async () => {
  await srv?.close();
  await db?.dispose();
});

describe('verified API keys', () => {
  it('a burst of requests with one key costs one statement, the key lookup and grants together', async () => {
    const fresh = await createTestActor(srv, 'Cache Burst', ['RETAILER']);
    const before = counter.n;
    for (let i = 0; i < 20; i++) expect((await viewer(fresh.key)).body.data.viewer.id).toBe(fresh.id);
    expect(counter.n - before).toBe(1);
  });

  it('a key revoked through the server fails on the very next request', async () => {
    const created = await srv.gql(`mutation($a: ID!) { issueApiKey(input: { actor: $a }) { __typename ... on IssueApiKeySuccess { secret apiKey { id } } } }`, { a: maker.id });
    const { secret, apiKey } = created.body.data.issueApiKey;
    expect((await viewer(secret)).body.data.viewer.id).toBe(maker.id); // now cached
    await srv.gql(`mutation($id: ID!) { revokeApiKey(input: { keyId: $id }) { __typename } }`, { id: apiKey.id });
    const after = await viewer(secret);
    expect(after.body.errors[0].message).toMatch(/unknown or revoked/);
  });

  it('a grant and its revocation apply to the grantee\'s next request', async () => {
    expect((await product(auditor.key)).body.data.product).toBeNull(); // cached without the grant
    const g = await srv.gql(`mutation($i: GrantRightsInput!) { grantRights(input: $i) { __typename ... on GrantSuccess { grant { id } } } }`,
      { i: { grantee: auditor.id, kinds: [], product: GTIN } }, maker.key);
    expect(g.body.data.grantRights.__typename).toBe('GrantSuccess');
    expect((await product(auditor.key)).body.data.product).toEqual({ gtin: GTIN });
    await srv.gql(`mutation($id: ID!) { revokeRights(input: { grant: $id }) { __typename } }`, { id: g.body.data.grantRights.grant.id }, maker.key);
    expect((await product(auditor.key)).body.data.product).toBeNull();
  });
});

describe('AuthCache', () => {
  it('hashes the bearer key exactly as core stores keys', () => {
    for (const key of [maker.key, auditor.key, generateApiKey()]) expect(parseAuthorization(`Bearer ${key}`)).toEqual({ kind: 'key', hash: apiKeyHash(key) });
  });

  it('a revocation made elsewhere (another process, the CLI) applies once the entry expires', async () => {
    let t = 0;
    const cache = new AuthCache(1000, () => t);
    const op = apiKeyHash(generateApiKey());
    const header = `Bearer ${maker.key}`;
    expect((await cache.authenticate(db.db, header, op)).auth.kind).toBe('actor');
    await db.db.updateTable('api_keys').set({ revoked_at: new Date() }).where('key_hash', '=', apiKeyHash(maker.key)).execute();
    t = 999;
    expect((await cache.authenticate(db.db, header, op)).auth.kind).toBe('actor');
    t = 1000;
    expect((await cache.authenticate(db.db, header, op)).auth).toMatchObject({ kind: 'anonymous', message: /unknown or revoked/ });
    await db.db.updateTable('api_keys').set({ revoked_at: null }).where('key_hash', '=', apiKeyHash(maker.key)).execute();
  });

  it('an answer loaded while clear() runs is not kept; unknown keys are never kept', async () => {
    const cache = new AuthCache(60_000);
    const op = apiKeyHash(generateApiKey());
    const loading = cache.authenticate(db.db, `Bearer ${auditor.key}`, op);
    cache.clear();
    expect((await loading).auth.kind).toBe('actor');
    const before = counter.n;
    const counted = db.db.withPlugin(counter.plugin);
    await cache.authenticate(counted, `Bearer ${auditor.key}`, op);
    await cache.authenticate(counted, `Bearer ${auditor.key}`, op);
    expect(counter.n - before).toBe(1);
    const unknown = `Bearer pvn_${'B'.repeat(32)}`;
    await cache.authenticate(counted, unknown, op);
    await cache.authenticate(counted, unknown, op);
    expect(counter.n - before).toBe(3);
    expect(decodeGlobalID(auditor.id).id).toBe(((await cache.authenticate(counted, `Bearer ${auditor.key}`, op)).auth as { actor: { id: string } }).actor.id);
  });
});
