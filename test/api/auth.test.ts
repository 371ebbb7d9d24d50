import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const CREATE = `mutation($input: CreateActorInput!) { createActor(input: $input) {
  __typename
  ... on CreateActorSuccess { secret actor { id name roles companyPrefixes } apiKey { id hint } }
  ... on Error { message }
  ... on ValidationError { field }
  ... on PermissionDeniedError { rule }
} }`;

let db: TestDatabase;
let srv: TestServer;
beforeAll(async () => {
  db = await openTestDatabase();
  srv = await startTestServer(db);
});
afterAll(async () => {
  await srv?.close();
  await db?.dispose();
});

async function makeActor(name: string, roles: string[] = ['DISTRIBUTOR'], extra: Record<string, unknown> = {}) {
  const { body } = await srv.gql(CREATE, { input: { name, roles, ...extra } });
  expect(body.errors).toBeUndefined();
  expect(body.data.createActor.__typename).toBe('CreateActorSuccess');
  return body.data.createActor as { secret: string; actor: { id: string }; apiKey: { id: string; hint: string } };
}

describe('actors and API keys', () => {
  it('operator creates an actor whose key then authenticates as that actor', async () => {
    const created = await makeActor('Acme', ['MANUFACTURER'], { companyPrefixes: ['4012345'], gln: '4012345000009' });
    expect(created.secret).toMatch(/^pvn_[A-Za-z0-9_-]{32}$/);
    const { body } = await srv.gql('{ viewer { id name roles companyPrefixes isOperator } }', {}, created.secret);
    expect(body.data.viewer).toEqual({ id: created.actor.id, name: 'Acme', roles: ['MANUFACTURER'], companyPrefixes: ['4012345'], isOperator: false });
  });

  it('stores keys only as SHA-256: the raw key appears nowhere in the database', async () => {
    const created = await makeActor('HashCheck');
    const tables = await sql<{ table_name: string }>`SELECT table_name FROM information_schema.tables WHERE table_schema = ${db.schema}`.execute(db.db);
    expect(tables.rows.length).toBeGreaterThan(5);
    for (const { table_name } of tables.rows) {
      const hit = await sql<{ n: number }>`SELECT count(*)::int AS n FROM ${sql.id(table_name)} t WHERE t::text LIKE ${'%' + created.secret.slice(4) + '%'}`.execute(db.db);
      expect(hit.rows[0]!.n, `table ${table_name}`).toBe(0);
    }
    const stored = await db.db.selectFrom('api_keys').select(['key_hash', 'hint']).where('id', '=', Buffer.from(created.apiKey.id, 'base64').toString().split(':')[1]!).executeTakeFirstOrThrow();
    const { createHash } = await import('node:crypto');
    expect(Buffer.from(stored.key_hash).toString('hex')).toBe(createHash('sha256').update(created.secret).digest('hex'));
  });

  it('refuses missing, malformed, unknown and revoked keys with UNAUTHENTICATED', async () => {
    const created = await makeActor('Revokee');
    const cases: [string | null, RegExp][] = [
      [null, /Authentication required/],
      ['not-a-key', /Malformed API key/],
      ['pvn_' + 'A'.repeat(32), /unknown or revoked/],
    ];
    for (const [key, message] of cases) {
      const { body } = await srv.gql('{ viewer { id } }', {}, key);
      expect(body.data).toBeNull();
      expect(body.errors[0].message).toMatch(message);
      expect(body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
    }
    const revoke = await srv.gql(`mutation($id: ID!) { revokeApiKey(input: { keyId: $id }) { __typename ... on RevokeApiKeySuccess { apiKey { revokedAt } } } }`, { id: created.apiKey.id });
    expect(revoke.body.data.revokeApiKey.apiKey.revokedAt).toMatch(/^\d{4}-/);
    const after = await srv.gql('{ viewer { id } }', {}, created.secret);
    expect(after.body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
    expect(after.body.errors[0].message).toMatch(/unknown or revoked/);
  });

  it('issues a second key that works independently of the first', async () => {
    const created = await makeActor('TwoKeys');
    const { body } = await srv.gql(`mutation($a: ID!) { issueApiKey(input: { actor: $a }) { __typename ... on IssueApiKeySuccess { secret } } }`, { a: created.actor.id });
    const second = body.data.issueApiKey.secret as string;
    expect(second).not.toBe(created.secret);
    expect((await srv.gql('{ viewer { name } }', {}, second)).body.data.viewer.name).toBe('TwoKeys');
  });

  it('a non-operator cannot create actors, issue or revoke keys', async () => {
    const created = await makeActor('Mallory');
    const { body } = await srv.gql(CREATE, { input: { name: 'Evil', roles: ['AUDITOR'] } }, created.secret);
    expect(body.data?.createActor ?? null).toBeNull();
    expect(body.errors[0].extensions.code).toBe('FORBIDDEN');
    const issue = await srv.gql(`mutation($a: ID!) { issueApiKey(input: { actor: $a }) { __typename } }`, { a: created.actor.id }, created.secret);
    expect(issue.body.errors[0].extensions.code).toBe('FORBIDDEN');
    const count = await db.db.selectFrom('actors').select(db.db.fn.countAll<number>().as('n')).where('name', '=', 'Evil').executeTakeFirstOrThrow();
    expect(Number(count.n)).toBe(0);
  });

  it('returns typed validation errors for bad input and writes nothing', async () => {
    const bad = [
      [{ name: 'X', roles: ['MANUFACTURER'], gln: '4012345000008' }, 'gln', /check digit/],
      [{ name: 'X', roles: ['MANUFACTURER'], companyPrefixes: ['12ab'] }, 'companyPrefixes', /6 to 12 digits/],
      [{ name: 'X', roles: ['RETAILER'], companyPrefixes: ['4012345'] }, 'companyPrefixes', /MANUFACTURER/],
      [{ name: '   ', roles: [] }, 'name', /1 to 200/],
    ] as const;
    const before = await db.db.selectFrom('actors').select(db.db.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    for (const [input, field, message] of bad) {
      const { body } = await srv.gql(CREATE, { input });
      expect(body.data.createActor.__typename).toBe('ValidationError');
      expect(body.data.createActor.field).toBe(field);
      expect(body.data.createActor.message).toMatch(message);
    }
    const after = await db.db.selectFrom('actors').select(db.db.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    expect(Number(after.n)).toBe(Number(before.n));
  });

  it('resolves actors through node/nodes with opaque global ids', async () => {
    const a = await makeActor('NodeA');
    const b = await makeActor('NodeB');
    expect(a.actor.id).not.toContain('-');
    const { body } = await srv.gql(`query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Actor { name } } }`, { ids: [a.actor.id, b.actor.id] }, a.secret);
    expect(body.data.nodes.map((n: { name: string }) => n.name)).toEqual(['NodeA', 'NodeB']);
  });

  it('masks unexpected errors: no stack or SQL in the response, logged on the server', async () => {
    // A syntactically valid but non-existent global id type triggers an internal lookup failure path.
    const { body } = await srv.gql(`{ node(id: "${Buffer.from('Actor:not-a-uuid').toString('base64')}") { id } }`);
    const text = JSON.stringify(body);
    expect(text).not.toMatch(/invalid input syntax|uuid|at .*\.ts/);
    expect(body.errors[0].message).toBe('Unexpected error.');
    expect(srv.logLines.some((l) => l.includes('unexpected error') && l.includes('uuid'))).toBe(true);
  });
});
