import { mkdtempSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSchema, getIntrospectionQuery, parse, print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { printedSchema } from '../../src/graphql/schema.ts';
import { ConfigError, EDGE_DEFAULTS, loadConfig } from '../../src/server/config.ts';
import { withEffectivePageSizes } from '../../src/server/limits.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

// Hostile input at the GraphQL edge: limits, introspection switch, body size, CSRF. One server with the defaults, one
// with tiny limits to probe each boundary exactly, one with introspection off.
let db: TestDatabase;
let srv: TestServer;
let tight: TestServer;
let closed: TestServer;
beforeAll(async () => {
  db = await openTestDatabase();
  srv = await startTestServer(db);
  tight = await startTestServer(db, { maxAliases: 2, maxDirectives: 1, maxTokens: 100, maxQueryDepth: 3, maxQueryCost: 200 });
  closed = await startTestServer(db, { introspection: false });
});
afterAll(async () => {
  await Promise.all([srv?.close(), tight?.close(), closed?.close()]);
  await db?.dispose();
});

const limitErrors = (body: { errors?: { extensions?: { limit?: string } }[] }) => (body.errors ?? []).filter((e) => e.extensions?.limit);

async function post(server: TestServer, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', authorization: `Bearer ${server.operatorKey}`, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as any };
}

describe('configuration of the edge limits', () => {
  const dir = () => mkdtempSync(join(tmpdir(), 'pvn-edge-config-'));

  it('defaults: depth 12, aliases 30, tokens 5000, cost 50000, directives 50, body 12 MiB, introspection on', () => {
    const c = loadConfig({ PROVENANT_DATA_DIR: dir() });
    expect(c).toMatchObject({ maxQueryDepth: 12, maxAliases: 30, maxTokens: 5000, maxQueryCost: 50_000, maxDirectives: 50, maxBodyBytes: 12 * 1024 * 1024, introspection: true });
    expect(c).toMatchObject(EDGE_DEFAULTS);
    expect(c.maxBodyBytes).toBeGreaterThan(10 * 1024 * 1024);
  });

  it('reads every variable', () => {
    const c = loadConfig({
      PROVENANT_DATA_DIR: dir(), PROVENANT_MAX_DEPTH: '8', PROVENANT_MAX_ALIASES: '5', PROVENANT_MAX_TOKENS: '900', PROVENANT_MAX_COST: '1234',
      PROVENANT_MAX_DIRECTIVES: '3', PROVENANT_MAX_BODY_BYTES: String(20 * 1024 * 1024), PROVENANT_INTROSPECTION: 'false',
    });
    expect(c).toMatchObject({ maxQueryDepth: 8, maxAliases: 5, maxTokens: 900, maxQueryCost: 1234, maxDirectives: 3, maxBodyBytes: 20 * 1024 * 1024, introspection: false });
    expect(loadConfig({ PROVENANT_DATA_DIR: dir(), PROVENANT_INTROSPECTION: '0' }).introspection).toBe(false);
    expect(loadConfig({ PROVENANT_DATA_DIR: dir(), PROVENANT_INTROSPECTION: 'TRUE' }).introspection).toBe(true);
  });

  it.each([
    [{ PROVENANT_MAX_DEPTH: 'deep' }, /PROVENANT_MAX_DEPTH must be an integer between 2 and 100, got "deep"/],
    [{ PROVENANT_MAX_DEPTH: '0' }, /PROVENANT_MAX_DEPTH must be an integer between 2 and 100/],
    [{ PROVENANT_MAX_ALIASES: '-1' }, /PROVENANT_MAX_ALIASES must be an integer/],
    [{ PROVENANT_MAX_TOKENS: '10' }, /PROVENANT_MAX_TOKENS must be an integer between 100 and 1000000/],
    [{ PROVENANT_MAX_COST: '1e6' }, /PROVENANT_MAX_COST must be an integer/],
    [{ PROVENANT_MAX_DIRECTIVES: '5000' }, /PROVENANT_MAX_DIRECTIVES must be an integer between 0 and 1000/],
    [{ PROVENANT_MAX_BODY_BYTES: String(1024 * 1024) }, /PROVENANT_MAX_BODY_BYTES must be an integer between 11534336 and 1073741824 \(at least 11 MiB: an EPCIS capture may be 10 MB\)/],
    [{ PROVENANT_MAX_BODY_BYTES: '12MB' }, /PROVENANT_MAX_BODY_BYTES/],
    [{ PROVENANT_INTROSPECTION: 'off' }, /PROVENANT_INTROSPECTION must be true or false, got "off"/],
  ])('rejects %o with a ConfigError naming the variable', (env, message) => {
    expect(() => loadConfig({ PROVENANT_DATA_DIR: dir(), ...env })).toThrow(message);
    expect(() => loadConfig({ PROVENANT_DATA_DIR: dir(), ...env })).toThrow(ConfigError);
  });
});

describe('query limits (graphql-armor) at their exact boundaries', () => {
  it('depth: 3 passes, 4 is refused with BAD_USER_INPUT naming maxDepth', async () => {
    const ok = await post(tight, { query: '{ viewer { apiKeys { hint } } }' });
    expect(ok.body.errors).toBeUndefined();
    expect(ok.body.data.viewer.apiKeys).toEqual([]);
    const refused = await post(tight, { query: '{ viewer { apiKeys { actor { name } } } }' });
    expect(refused.status).toBe(400);
    expect(refused.body.data).toBeUndefined();
    expect(refused.body.errors).toEqual([
      { message: 'Query depth limit of 3 exceeded, found 4.', extensions: { code: 'BAD_USER_INPUT', limit: 'maxDepth', max: 3, found: 4 } },
    ]);
  });

  it('aliases: 2 pass, 3 are refused', async () => {
    const ok = await post(tight, { query: '{ a: logInfo { origin } b: logInfo { origin } }' });
    expect(ok.body.errors).toBeUndefined();
    expect(ok.body.data.b.origin).toBe('test.provenant/log');
    const refused = await post(tight, { query: '{ a: logInfo { origin } b: logInfo { origin } c: logInfo { origin } }' });
    expect(refused.status).toBe(400);
    expect(refused.body.errors).toEqual([
      { message: 'Aliases limit of 2 exceeded, found 3.', extensions: { code: 'BAD_USER_INPUT', limit: 'maxAliases', max: 2, found: 3 } },
    ]);
  });

  it('directives: 1 passes, 2 are refused', async () => {
    const ok = await post(tight, { query: '{ logInfo { origin @include(if: true) } }' });
    expect(ok.body).toEqual({ data: { logInfo: { origin: 'test.provenant/log' } } });
    const refused = await post(tight, { query: '{ logInfo { origin @include(if: true) treeSize @skip(if: false) } }' });
    expect(refused.status).toBe(400);
    expect(limitErrors(refused.body)).toEqual([
      { message: 'Directives limit of 1 exceeded, found 2.', extensions: { code: 'BAD_USER_INPUT', limit: 'maxDirectives', max: 1, found: 2 } },
    ]);
  });

  it('tokens: 100 pass, 101 are refused while parsing', async () => {
    // "{", n × "__typename", "}" is n + 2 tokens.
    const doc = (n: number) => `{ ${'__typename '.repeat(n)}}`;
    const ok = await post(tight, { query: doc(98) });
    expect(ok.body).toEqual({ data: { __typename: 'Query' } });
    const refused = await post(tight, { query: doc(99) });
    expect(refused.status).toBe(400);
    expect(refused.body.errors).toEqual([{ message: 'Token limit of 100 exceeded.', extensions: { code: 'BAD_USER_INPUT', limit: 'maxTokens', max: 100 } }]);
  });

  it('cost: a page of 40 costs 200 and passes, 41 cost 205 and are refused', async () => {
    // (events 2 + (pageInfo 2 + hasNextPage 1)) × first.
    const q = (n: number) => `{ events(first: ${n}) { pageInfo { hasNextPage } } }`;
    const ok = await post(tight, { query: q(40) });
    expect(ok.body).toEqual({ data: { events: { pageInfo: { hasNextPage: false } } } });
    const refused = await post(tight, { query: q(41) });
    expect(refused.status).toBe(400);
    expect(refused.body.errors).toEqual([
      { message: 'Query Cost limit of 200 exceeded, found 205.', extensions: { code: 'BAD_USER_INPUT', limit: 'maxCost', max: 200, found: 205 } },
    ]);
  });

  it('a refused query is a 400 for application/graphql-response+json and a 200 for application/json (GraphQL over HTTP)', async () => {
    const deep = '{ viewer { apiKeys { actor { name } } } }';
    expect((await post(tight, { query: deep }, { accept: 'application/graphql-response+json' })).status).toBe(400);
    const legacy = await post(tight, { query: deep }, { accept: 'application/json' });
    expect(legacy.status).toBe(200);
    expect(legacy.body.errors[0].extensions.limit).toBe('maxDepth');
    const costly = await post(tight, { query: '{ events(first: 41) { pageInfo { hasNextPage } } }' }, { accept: 'application/json' });
    expect(costly.status).toBe(200);
    expect(costly.body.errors[0].extensions.limit).toBe('maxCost');
  });
});

describe('the page-aware cost limit with the default limits', () => {
  const nested = `query Nested($n: Int) { events(first: $n) { edges { node { items(first: $n) { edges { node { events(first: $n) { edges { node { id } } } } } } } } } }`;

  it('counts `first: $n` by the variable: the same document passes with n = 2 and is refused with n = 100', async () => {
    const small = await post(srv, { query: nested, variables: { n: 2 } });
    expect(small.body.errors).toBeUndefined();
    expect(small.body.data.events.edges).toEqual([]);
    // Same document again (yoga's parse and validation caches are warm): the variable still decides.
    const big = await post(srv, { query: nested, variables: { n: 100 } });
    expect(big.status).toBe(400);
    expect(big.body.errors).toHaveLength(1);
    expect(big.body.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit: 'maxCost', max: 50_000 });
    expect(big.body.errors[0].extensions.found).toBeGreaterThan(1_000_000);
    // Verdicts are cached per document and page-size variables: each value keeps its own.
    expect((await post(srv, { query: nested, variables: { n: 2 } })).body.errors).toBeUndefined();
    expect((await post(srv, { query: nested, variables: { n: 100 } })).status).toBe(400);
    expect((await post(srv, { query: nested, variables: { n: 3 } })).body.errors).toBeUndefined();
  });

  it('counts an omitted `first` as the default page size (20): 20 × 20 × 20 events with two fields cost 66520', async () => {
    const { status, body } = await post(srv, { query: '{ events { edges { node { items { edges { node { events { edges { node { id kind } } } } } } } } } }' });
    expect(status).toBe(400);
    // node 4, edges 6, events (2 + 6) × 20 = 160, item 162, edges 164, items 166 × 20 = 3320, event 3322, edges 3324, events 3326 × 20.
    expect(body.errors).toEqual([
      { message: 'Query Cost limit of 50000 exceeded, found 66520.', extensions: { code: 'BAD_USER_INPUT', limit: 'maxCost', max: 50_000, found: 66520 } },
    ]);
  });

  it('lets a full page of 100 items with product, brand, batch, custodian and 5 events each through', async () => {
    const { body } = await post(srv, {
      query: `query Page($gtin: String!, $lot: String!) { batch(gtin: $gtin, lot: $lot) { items(first: 100) { edges { cursor node {
        id sgtin serial stage recalled product { gtin name brand { id name } } batch { lot } custodian { id name }
        events(first: 5) { edges { node { id kind leafIndex occurredAt actor { id name } } } pageInfo { hasNextPage endCursor } }
      } } pageInfo { hasNextPage endCursor } } } }`,
      variables: { gtin: '04012345111118', lot: 'NONE' },
    });
    expect(limitErrors(body)).toEqual([]);
    expect(body.errors).toBeUndefined();
  });

  it('lets the standard introspection query through every limit', async () => {
    const { body } = await post(srv, { query: getIntrospectionQuery() });
    expect(body.errors).toBeUndefined();
    expect(body.data.__schema.queryType.name).toBe('Query');
  });

  it('rewrites first/last of connection fields to the size the resolver will use', () => {
    const schema = buildSchema(printedSchema());
    const doc = parse(`query($a: Int, $b: Int = 7, $c: Int) { events(first: $a) { edges { node { items { edges { cursor } } } } }
      x: events(first: $b) { pageInfo { hasNextPage } } y: events(first: $c) { pageInfo { hasNextPage } } z: events(first: 1000) { pageInfo { hasNextPage } } }`);
    const out = print(withEffectivePageSizes(schema, doc, { a: 42, c: 'nope' }));
    expect(out).toContain('events(first: 42)');
    expect(out).toContain('items(first: 20)');
    expect(out).toContain('x: events(first: 7)');
    expect(out).toContain('y: events(first: 20)');
    expect(out).toContain('z: events(first: 100)');
    // The cached document itself is untouched.
    expect(print(doc)).toContain('events(first: $a)');
  });
});

describe('introspection switch', () => {
  it('is on by default: __schema and __type answer', async () => {
    const { body } = await post(srv, { query: '{ __schema { queryType { name } } __type(name: "Item") { name } }' });
    expect(body).toEqual({ data: { __schema: { queryType: { name: 'Query' } }, __type: { name: 'Item' } } });
  });

  it('PROVENANT_INTROSPECTION=false refuses __schema and __type, keeps __typename, hides field suggestions and GraphiQL', async () => {
    for (const query of ['{ __schema { queryType { name } } }', '{ __type(name: "Item") { name } }', getIntrospectionQuery()]) {
      const { status, body } = await post(closed, { query });
      expect(status).toBe(400);
      expect(body.errors[0].message).toMatch(/GraphQL introspection has been disabled/);
    }
    expect((await post(closed, { query: '{ __typename logInfo { origin } }' })).body).toEqual({ data: { __typename: 'Query', logInfo: { origin: 'test.provenant/log' } } });
    const typo = await post(closed, { query: '{ logInfo { orign } }' });
    expect(typo.body.errors[0].message).toMatch(/Cannot query field "orign"/);
    expect(typo.body.errors[0].message).not.toMatch(/Did you mean/);
    const openTypo = await post(srv, { query: '{ logInfo { orign } }' });
    expect(openTypo.body.errors[0].message).toMatch(/Did you mean "origin"/);
    const page = await fetch(closed.url, { headers: { accept: 'text/html' } });
    expect(page.headers.get('content-type') ?? '').not.toContain('text/html');
    const open = await fetch(srv.url, { headers: { accept: 'text/html' } });
    expect(open.status).toBe(200);
    expect(await open.text()).toContain('Provenant');
  });
});

describe('request body size', () => {
  const bigBody = (bytes: number) => {
    const head = '{"query":"{ __typename }","variables":{"padding":"';
    const tail = '"}}';
    return head + 'x'.repeat(bytes - head.length - tail.length) + tail;
  };

  it('accepts an 11.5 MiB request (room for a 10 MB EPCIS capture)', async () => {
    const body = bigBody(11.5 * 1024 * 1024);
    expect(body.length).toBeGreaterThan(10 * 1024 * 1024);
    const res = await post(srv, body);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ data: { __typename: 'Query' } });
  });

  it('refuses a 13 MiB request with 413, a message naming the limit, and closes the connection', async () => {
    const res = await post(srv, bigBody(13 * 1024 * 1024));
    expect(res.status).toBe(413);
    expect(res.headers.get('connection')).toBe('close');
    expect(res.body.errors).toEqual([
      { message: `Request body too large: the limit is ${12 * 1024 * 1024} bytes`, extensions: { code: 'REQUEST_ENTITY_TOO_LARGE', limit: 'maxBodyBytes', max: 12 * 1024 * 1024 } },
    ]);
    // The server is fine afterwards.
    expect((await post(srv, { query: '{ __typename }' })).body).toEqual({ data: { __typename: 'Query' } });
  });

  it('refuses a declared Content-Length over the limit before any of the body arrives', async () => {
    const url = new URL(srv.url);
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(url.port), url.hostname, () => {
        // Headers only: a 1 GB body is announced but never sent; the answer must come anyway.
        socket.write(`POST /graphql HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/json\r\nAuthorization: Bearer ${srv.operatorKey}\r\nContent-Length: 1000000000\r\n\r\n`);
      });
      let data = '';
      socket.setEncoding('utf8');
      socket.on('data', (d) => (data += d));
      socket.on('end', () => resolve(data));
      socket.on('close', () => resolve(data));
      socket.on('error', reject);
      setTimeout(() => {
        socket.destroy();
        resolve(data);
      }, 5000);
    });
    expect(reply).toMatch(/^HTTP\/1\.1 413 /);
    expect(reply).toContain('Request body too large: the limit is 12582912 bytes');
  });

  it('stops reading a chunked body (no Content-Length) at the limit with 413', async () => {
    const payload = new TextEncoder().encode(bigBody(13 * 1024 * 1024));
    const res = await fetch(srv.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${srv.operatorKey}` },
      body: new ReadableStream({
        start(c) {
          for (let i = 0; i < payload.length; i += 1 << 20) c.enqueue(payload.subarray(i, i + (1 << 20)));
          c.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(413);
    expect(((await res.json()) as any).errors[0].extensions.code).toBe('REQUEST_ENTITY_TOO_LARGE');
  });
});

describe('CSRF prevention (browsers) without breaking API-key clients', () => {
  const getUrl = (server: TestServer, query: string) => `${server.url}?query=${encodeURIComponent(query)}`;

  it('refuses a simple GET with no preflight-requiring header (what an <img> or link from another site sends)', async () => {
    const res = await fetch(getUrl(srv, '{ logInfo { origin } }'));
    expect(res.status).toBe(403);
    expect(((await res.json()) as any).errors[0].message).toBe('Required CSRF header(s) not present');
  });

  it('refuses simple POSTs: form-urlencoded, text/plain and multipart without a CSRF header', async () => {
    const form = await fetch(srv.url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `query=${encodeURIComponent('{ logInfo { origin } }')}` });
    expect(form.status).toBe(403);
    const text = await fetch(srv.url, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ query: '{ logInfo { origin } }' }) });
    expect(text.status).toBe(403);
    const fd = new FormData();
    fd.set('operations', JSON.stringify({ query: '{ logInfo { origin } }' }));
    fd.set('map', '{}');
    const multipart = await fetch(srv.url, { method: 'POST', body: fd });
    expect(multipart.status).toBe(403);
  });

  it('lets API-key clients through: GET with Authorization, POST application/json with or without a key', async () => {
    const get = await fetch(getUrl(srv, '{ viewer { isOperator } }'), { headers: { authorization: `Bearer ${srv.operatorKey}` } });
    expect(get.status).toBe(200);
    expect(await get.json()).toEqual({ data: { viewer: { isOperator: true } } });
    expect((await srv.gql('{ viewer { isOperator } }')).body).toEqual({ data: { viewer: { isOperator: true } } });
    const anonymous = await srv.gql('{ logInfo { origin } }', {}, null);
    expect(anonymous.status).toBe(200);
    expect(anonymous.body.data.logInfo.origin).toBe('test.provenant/log');
  });

  it('lets a GET through with the x-graphql-yoga-csrf header (browser clients that must use GET)', async () => {
    const res = await fetch(getUrl(srv, '{ logInfo { origin } }'), { headers: { 'x-graphql-yoga-csrf': '1' } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as any).data.logInfo.origin).toBe('test.provenant/log');
  });
});
