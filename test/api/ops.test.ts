import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler, sql, type Driver } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiKeyHash } from '../../src/core/api-key.ts';
import { signerKeyString } from '../../src/core/checkpoint.ts';
import type { Db } from '../../src/db/connection.ts';
import type { Database } from '../../src/db/types.ts';
import { READY_TIMEOUT_MS } from '../../src/server/health.ts';
import { createLogger } from '../../src/server/logger.ts';
import { operationNameLabel } from '../../src/server/metrics.ts';
import { createApp } from '../../src/server/yoga.ts';
import { generateApiKey } from '../../src/services/api-key-secret.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { createTestActor, lifecycle, minutesAgo, registerProductAndBatch, type TestActor } from '../helpers/ledger.ts';
import { startTestServer, testConfig, testSigner, type TestServer } from '../helpers/server.ts';

// Operations: /healthz, /readyz, /metrics, request ids, the access log, and what must never be logged.
let db: TestDatabase;
let srv: TestServer;
let maker: TestActor;
let dist: TestActor;
const GTIN = '04012345111118';
const sgtin = (serial: string) => `urn:epc:id:sgtin:4012345.011111.${serial}`;
const uuidOf = (globalId: string) => Buffer.from(globalId, 'base64').toString().split(':')[1]!;

beforeAll(async () => {
  db = await openTestDatabase();
  srv = await startTestServer(db);
  maker = await createTestActor(srv, 'Maker', ['MANUFACTURER'], ['4012345']);
  dist = await createTestActor(srv, 'Dist', ['DISTRIBUTOR']);
});
afterAll(async () => {
  await srv?.close();
  await db?.dispose();
});

/** An app over a database that refuses connections, or never answers. */
async function startBrokenApp(mode: 'refuse' | 'hang') {
  const driver: Driver = {
    init: async () => {},
    acquireConnection: () => (mode === 'refuse' ? Promise.reject(new Error('connect ECONNREFUSED 10.9.9.9:5432')) : new Promise(() => {})),
    beginTransaction: async () => {},
    commitTransaction: async () => {},
    rollbackTransaction: async () => {},
    releaseConnection: async () => {},
    destroy: async () => {},
  };
  const broken: Db = new Kysely<Database>({
    dialect: {
      createAdapter: () => new PostgresAdapter(),
      createDriver: () => driver,
      createIntrospector: (k) => new PostgresIntrospector(k),
      createQueryCompiler: () => new PostgresQueryCompiler(),
    },
  });
  const logLines: string[] = [];
  const app = createApp(
    { db: broken, config: testConfig(), operatorKeyHash: apiKeyHash(generateApiKey()), signer: testSigner(), now: () => new Date() },
    createLogger('debug', (l) => logLines.push(l)),
  );
  const server: Server = createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { origin, logLines, close: () => new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); }) };
}

interface Sample { labels: Record<string, string>; value: number }

/** Samples of one metric in the Prometheus text format. */
function samples(text: string, name: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ labels, value: Number(m[3]) });
  }
  return out;
}
const valueOf = (text: string, name: string, labels: Record<string, string> = {}) =>
  samples(text, name).find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

async function scrape(origin: string) {
  const res = await fetch(`${origin}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return res.text();
}

async function eventsByKind(): Promise<Record<string, number>> {
  const r = await sql<{ kind: string; n: number }>`SELECT kind, count(*)::int AS n FROM events GROUP BY kind`.execute(db.db);
  return Object.fromEntries(r.rows.map((x) => [x.kind, x.n]));
}

describe('health and readiness', () => {
  it('GET /healthz answers 200 JSON while the process is up', async () => {
    const res = await fetch(`${srv.origin}/healthz`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/json');
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = (await res.json()) as any;
    expect(body.status).toBe('ok');
    expect(body.uptimeSeconds).toBeGreaterThanOrEqual(0);
    expect((await fetch(`${srv.origin}/healthz`, { method: 'POST' })).status).toBe(405);
  });

  it('GET /readyz answers 200 when the database answers and no migration is pending', async () => {
    const res = await fetch(`${srv.origin}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ready' });
  });

  it('GET /readyz answers 503 naming a pending migration, and 200 again once it is applied', async () => {
    const last = await sql<{ name: string; timestamp: string }>`SELECT name, timestamp FROM kysely_migration ORDER BY name DESC LIMIT 1`.execute(db.db);
    const { name, timestamp } = last.rows[0]!;
    await sql`DELETE FROM kysely_migration WHERE name = ${name}`.execute(db.db);
    try {
      const res = await fetch(`${srv.origin}/readyz`);
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({ status: 'unavailable', reason: `migrations pending: ${name} (run provenant migrate)` });
    } finally {
      await sql`INSERT INTO kysely_migration (name, timestamp) VALUES (${name}, ${timestamp})`.execute(db.db);
    }
    expect((await fetch(`${srv.origin}/readyz`)).status).toBe(200);
  });

  it('GET /readyz answers 503 "database unreachable" when the database refuses (the cause goes to the log only); /healthz stays 200', async () => {
    const broken = await startBrokenApp('refuse');
    try {
      const res = await fetch(`${broken.origin}/readyz`);
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({ status: 'unavailable', reason: 'database unreachable' });
      expect(broken.logLines.some((l) => l.includes('readiness: database unreachable') && l.includes('ECONNREFUSED 10.9.9.9:5432'))).toBe(true);
      expect((await fetch(`${broken.origin}/healthz`)).status).toBe(200);
      // Metrics still answer; the ledger figures are missing and provenant_database_up says why.
      const text = await scrape(broken.origin);
      expect(valueOf(text, 'provenant_database_up')).toBe(0);
      expect(valueOf(text, 'provenant_log_size')).toBe(0);
      // A GraphQL request fails with a masked error; the log line with the cause carries the request id.
      const key = generateApiKey();
      const res2 = await fetch(`${broken.origin}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, 'x-request-id': 'broken-db-1' },
        body: JSON.stringify({ query: '{ viewer { id } }' }),
      });
      expect(res2.headers.get('x-request-id')).toBe('broken-db-1');
      const body = (await res2.json()) as any;
      expect(body.errors[0].message).toBe('Unexpected error.');
      expect(JSON.stringify(body)).not.toContain('10.9.9.9');
      const logged = broken.logLines.map((l) => JSON.parse(l)).filter((l) => l.requestId === 'broken-db-1');
      expect(logged.find((l) => l.level === 'error')).toMatchObject({ msg: 'unexpected error', error: { message: 'connect ECONNREFUSED 10.9.9.9:5432' } });
      expect(logged.find((l) => l.msg === 'request')).toMatchObject({ status: res2.status, path: '/graphql' });
      expect(broken.logLines.join('\n')).not.toContain(key.slice(4));
    } finally {
      await broken.close();
    }
  });

  it(`GET /readyz gives up on a database that never answers after ${READY_TIMEOUT_MS} ms with 503`, async () => {
    const broken = await startBrokenApp('hang');
    try {
      const t0 = Date.now();
      const res = await fetch(`${broken.origin}/readyz`);
      expect(res.status).toBe(503);
      expect(((await res.json()) as any).reason).toBe('database unreachable');
      expect(Date.now() - t0).toBeGreaterThanOrEqual(READY_TIMEOUT_MS - 50);
      expect(Date.now() - t0).toBeLessThan(READY_TIMEOUT_MS + 2000);
    } finally {
      await broken.close();
    }
  });
});

describe('Prometheus metrics at /metrics', () => {
  it('counts GraphQL requests and their latency by operation name', async () => {
    for (let i = 0; i < 3; i++) expect((await srv.gql('query LogHead { logInfo { treeSize } }', {}, null)).status).toBe(200);
    await srv.gql('query Broken { logInfo { nope } }', {}, null);
    const text = await scrape(srv.origin);
    const op = { operationName: 'LogHead', operationType: 'query' };
    expect(valueOf(text, 'graphql_envelop_request', op)).toBe(3);
    expect(valueOf(text, 'graphql_envelop_request_duration_count', op)).toBe(3);
    expect(valueOf(text, 'graphql_envelop_request_duration_bucket', { ...op, le: '+Inf' })).toBe(3);
    expect(valueOf(text, 'graphql_envelop_request_duration_sum', op)).toBeGreaterThan(0);
    expect(valueOf(text, 'graphql_yoga_http_duration_count', { ...op, method: 'POST', statusCode: '200' })).toBe(3);
    expect(valueOf(text, 'graphql_yoga_http_duration_bucket', { ...op, method: 'POST', statusCode: '200', le: '+Inf' })).toBe(3);
    // The invalid operation is an error of the validate phase, not an executed request.
    expect(valueOf(text, 'graphql_envelop_error_result', { operationName: 'Broken', phase: 'validate' })).toBe(1);
    expect(valueOf(text, 'graphql_envelop_request', { operationName: 'Broken' })).toBeUndefined();
    // No URL label anywhere: GET URLs carry queries and variables.
    expect(text).not.toMatch(/url="/);
    expect(text).toMatch(/^process_cpu_user_seconds_total /m);
  });

  it('reports provenant_log_size and provenant_events_recorded_total{kind} from the database, incrementally and across restarts', async () => {
    const b = await registerProductAndBatch(srv, maker, { gtin: GTIN, lot: 'MET1', serials: ['M1', 'M2', 'M3'] });
    expect(b.__typename).toBe('RegisterBatchSuccess');
    let text = await scrape(srv.origin);
    let byKind = await eventsByKind();
    const size = async () => Number((await sql<{ size: number }>`SELECT size FROM log_state`.execute(db.db)).rows[0]!.size);
    expect(byKind.COMMISSION).toBe(1);
    expect(valueOf(text, 'provenant_log_size')).toBe(await size());
    expect(valueOf(text, 'provenant_events_recorded_total', { kind: 'COMMISSION' })).toBe(1);
    expect(valueOf(text, 'provenant_database_up')).toBe(1);

    // More events after the first scrape: only the new ones are read, the totals stay exact.
    for (const s of ['M1', 'M2']) {
      expect((await lifecycle(srv, maker, 'shipItems', { items: [sgtin(s)], to: dist.id, occurredAt: minutesAgo(5) })).__typename).toBe('RecordEventSuccess');
    }
    expect((await lifecycle(srv, dist, 'receiveItems', { items: [sgtin('M1')], occurredAt: minutesAgo(1) })).__typename).toBe('RecordEventSuccess');
    text = await scrape(srv.origin);
    byKind = await eventsByKind();
    expect(byKind).toEqual({ COMMISSION: 1, SHIP: 2, RECEIVE: 1 });
    expect(valueOf(text, 'provenant_log_size')).toBe(4);
    expect(valueOf(text, 'provenant_log_size')).toBe(await size());
    for (const [kind, n] of Object.entries(byKind)) expect(valueOf(text, 'provenant_events_recorded_total', { kind }), kind).toBe(n);
    expect(samples(text, 'provenant_events_recorded_total')).toHaveLength(3);
    // Scraping again without new events changes nothing (no double counting).
    const again = await scrape(srv.origin);
    for (const [kind, n] of Object.entries(byKind)) expect(valueOf(again, 'provenant_events_recorded_total', { kind })).toBe(n);

    // A restarted process (a new app on the same database) reports the same totals from its first scrape, and its
    // own request counters start at zero: the registry belongs to the app, not to the process.
    const restarted = await startTestServer(db);
    try {
      const fresh = await scrape(restarted.origin);
      expect(valueOf(fresh, 'provenant_log_size')).toBe(4);
      for (const [kind, n] of Object.entries(byKind)) expect(valueOf(fresh, 'provenant_events_recorded_total', { kind })).toBe(n);
      expect(valueOf(fresh, 'graphql_envelop_request', { operationName: 'LogHead' })).toBeUndefined();
      expect(valueOf(await scrape(srv.origin), 'graphql_envelop_request', { operationName: 'LogHead' })).toBe(3);
    } finally {
      await restarted.close();
    }
  });

  it('bounds the operation-name label values a client can create', () => {
    const label = operationNameLabel(2);
    expect([label('A'), label('B'), label('C'), label('A'), label(undefined), label('Anonymous'), label('not a name!')]).toEqual([
      'A', 'B', '__other', 'A', 'Anonymous', 'Anonymous', '__invalid',
    ]);
  });
});

describe('request ids and the access log', () => {
  const accessLines = (id: string) => srv.logLines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'request' && l.requestId === id);

  it('echoes a sane incoming x-request-id and replaces an unsafe or missing one with a generated UUID', async () => {
    const sane = await fetch(`${srv.origin}/healthz`, { headers: { 'x-request-id': 'trace-42.abc:7' } });
    expect(sane.headers.get('x-request-id')).toBe('trace-42.abc:7');
    for (const bad of ['has space', 'x'.repeat(200), '"quoted"', '<script>']) {
      const res = await fetch(`${srv.origin}/healthz`, { headers: { 'x-request-id': bad } });
      expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    }
    const none = await fetch(srv.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ __typename }' }) });
    const id = none.headers.get('x-request-id')!;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(accessLines(id)).toHaveLength(1);
  });

  it('writes one JSON line per request: method, path, status, duration, operation, request id and actor id', async () => {
    const res = await fetch(srv.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${maker.key}`, 'x-request-id': 'access-log-1' },
      body: JSON.stringify({ query: 'query WhoAmI { viewer { id name } }' }),
    });
    expect(res.status).toBe(200);
    const viewer = ((await res.json()) as any).data.viewer;
    const lines = accessLines('access-log-1');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'info', msg: 'request', requestId: 'access-log-1', method: 'POST', path: '/graphql', status: 200, operationName: 'WhoAmI', operationType: 'query', actorId: uuidOf(viewer.id) });
    expect(typeof lines[0].durationMs).toBe('number');
    expect(lines[0].durationMs).toBeGreaterThanOrEqual(0);
    expect(lines[0].time).toMatch(/^\d{4}-\d\d-\d\dT/);

    // Anonymous, refused and GET requests: no actor id, the error count, and the path without its query string.
    await fetch(`${srv.url}?query=${encodeURIComponent('query Pub { viewer { id } }')}`, { headers: { 'x-request-id': 'access-log-2', 'x-graphql-yoga-csrf': '1' } });
    const [anon] = accessLines('access-log-2');
    expect(anon).toMatchObject({ method: 'GET', path: '/graphql', status: 401, operationName: 'Pub', operationType: 'query', errors: 1 });
    expect(anon.actorId).toBeUndefined();

    // Probes and scrapes are logged at debug level only.
    await fetch(`${srv.origin}/readyz`, { headers: { 'x-request-id': 'access-log-3' } });
    expect(accessLines('access-log-3')).toMatchObject([{ level: 'debug', path: '/readyz', status: 200 }]);
  });

  it('never logs an API key, a bearer token or a signer key, wherever a client puts it', async () => {
    const before = srv.logLines.length;
    const notAKey = 'sk_live_hunter2_plain_secret_0123456789';
    const unknownKey = generateApiKey();
    const signerKey = signerKeyString(srv.signer.origin, srv.signer.seed);
    const post = (body: unknown, authorization?: string, extra: Record<string, string> = {}) =>
      fetch(srv.url, { method: 'POST', headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}), ...extra }, body: JSON.stringify(body) });
    // A real key, on POST and on GET.
    expect((await post({ query: 'query Me { viewer { name } }' }, `Bearer ${maker.key}`)).status).toBe(200);
    await fetch(`${srv.url}?query=${encodeURIComponent('query Me { viewer { name } }')}`, { headers: { authorization: `Bearer ${maker.key}` } });
    // Invalid credentials of every shape.
    for (const auth of [`Bearer ${notAKey}`, notAKey, `Bearer ${unknownKey}`, `Basic ${Buffer.from(`user:${notAKey}`).toString('base64')}`, `Bearer ${signerKey}`]) {
      const res = await post({ query: 'query Me { viewer { name } }' }, auth);
      expect(((await res.json()) as any).errors[0].extensions.code).toBe('UNAUTHENTICATED');
    }
    // Keys in the variables of mutations (valid and invalid variable types), in a GET query string, in a bad document.
    await post({ query: 'mutation Revoke($id: ID!) { revokeApiKey(input: { keyId: $id }) { __typename } }', variables: { id: maker.key } }, `Bearer ${srv.operatorKey}`);
    await post({ query: 'mutation Revoke($id: ID!) { revokeApiKey(input: { keyId: $id }) { __typename } }', variables: { id: { secret: notAKey, key: maker.key } } }, `Bearer ${srv.operatorKey}`);
    await post({ query: 'mutation Make($i: CreateActorInput!) { createActor(input: $i) { __typename } }', variables: { i: { name: 'x', roles: [notAKey] } } }, `Bearer ${maker.key}`);
    await fetch(`${srv.url}?query=${encodeURIComponent('query Q($k: String) { __typename }')}&variables=${encodeURIComponent(JSON.stringify({ k: maker.key, s: notAKey }))}`, {
      headers: { authorization: `Bearer ${maker.key}` },
    });
    await post({ query: `{ viewer { name } } ${notAKey} ${maker.key}` }, `Bearer ${maker.key}`);
    await post({ query: '{ __typename }' }, `Bearer ${maker.key}`, { 'x-request-id': notAKey.replace(/_/g, '-') + '!' });

    const written = srv.logLines.slice(before);
    // 13 requests, 13 access lines (and yoga's debug lines besides).
    expect(written.filter((l) => l.includes('"msg":"request"'))).toHaveLength(13);
    expect(written.some((l) => l.includes('"level":"debug"') && !l.includes('"msg":"request"'))).toBe(true);
    const secrets = [maker.key, maker.key.slice(4), srv.operatorKey.slice(4), notAKey, unknownKey.slice(4), signerKey, Buffer.from(srv.signer.seed).toString('base64')];
    for (const line of written) {
      for (const s of secrets) expect(line.includes(s), `log line contains a secret: ${line}`).toBe(false);
      expect(line.toLowerCase()).not.toContain('authorization');
      expect(line).not.toMatch(/Bearer /i);
    }
  });
});
