import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ServedProcess, spawnServer, startThrowawayPostgres, type ThrowawayPostgres } from './harness.ts';

// The server survives its database: a real PostgreSQL (started here, on a free port, in a temporary folder) is
// stopped and its backends terminated under a running `provenant serve`.
let cluster: ThrowawayPostgres;
let server: ServedProcess | undefined;
let operatorKey = '';
const startPg = () => cluster.start();
const stopPg = () => cluster.stop();

async function gql(query: string, variables?: Record<string, unknown>) {
  const res = await fetch(server!.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${operatorKey}` },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as any };
}

async function readyz() {
  const res = await fetch(`${server!.origin}/readyz`);
  return { status: res.status, body: (await res.json()) as any };
}

async function eventually<T>(what: string, probe: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    try {
      last = await probe();
      if (ok(last)) return last;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}\nserver stderr:\n${server?.stderr()}`);
}

const alive = () => server!.alive();
const createActor = (name: string) =>
  gql('mutation($i: CreateActorInput!) { createActor(input: $i) { __typename } }', { i: { name, roles: ['DISTRIBUTOR'], companyPrefixes: [] } });

beforeAll(async () => {
  cluster = await startThrowawayPostgres('pvn-ops-');
  server = await spawnServer({ PROVENANT_DATA_DIR: join(cluster.work, 'data'), DATABASE_URL: cluster.url });
  expect(server.stdout()).toContain('on PostgreSQL postgres://postgres@127.0.0.1');
  operatorKey = /Generated operator API key[^\n]*\n\s*(pvn_\S+)\n/.exec(server.stdout())![1]!;
});

afterAll(async () => {
  await server?.kill();
  cluster?.dispose();
});

describe('the server survives its PostgreSQL', () => {
  it('serves, with /readyz 200', async () => {
    expect(await readyz()).toEqual({ status: 200, body: { status: 'ready' } });
    expect((await gql('{ viewer { isOperator } }')).body).toEqual({ data: { viewer: { isOperator: true } } });
    // Several requests at once leave several idle pooled connections behind: the ones a stop breaks.
    const many = await Promise.all(Array.from({ length: 6 }, () => gql('{ viewer { id } logInfo { treeSize } }')));
    expect(many.every((r) => r.status === 200)).toBe(true);
  });

  it('PostgreSQL stopped for 2 s: the process lives, /readyz and GraphQL answer 503 DATABASE_UNAVAILABLE; after the restart it serves again', async () => {
    stopPg();
    await new Promise((r) => setTimeout(r, 2000));
    expect(alive(), server!.stderr()).toBe(true);

    expect(await readyz()).toEqual({ status: 503, body: { status: 'unavailable', reason: 'database unreachable' } });
    for (const r of [await gql('{ viewer { isOperator } }'), await createActor('During Outage'), await gql('{ logInfo { treeSize } }')]) {
      expect(r.status, JSON.stringify(r.body)).toBe(503);
      expect(r.retryAfter).toBe('5');
      expect(r.body.errors).toEqual([{ message: 'The database is unavailable; try again shortly', extensions: { code: 'DATABASE_UNAVAILABLE' } }]);
    }
    // The EPCIS REST endpoint says the same.
    const epcis = await fetch(`${server!.origin}/epcis/events`, { headers: { authorization: `Bearer ${operatorKey}` } });
    expect(epcis.status).toBe(503);
    expect(epcis.headers.get('retry-after')).toBe('5');
    expect(await epcis.json()).toMatchObject({ status: 503, title: 'the database is unavailable; try again shortly' });
    // Healthy as a process (liveness does not touch the database).
    expect((await fetch(`${server!.origin}/healthz`)).status).toBe(200);

    startPg();
    await eventually('/readyz 200 after the restart', readyz, (r) => r.status === 200);
    expect((await gql('{ viewer { isOperator } }')).body).toEqual({ data: { viewer: { isOperator: true } } });
    expect((await createActor('After Outage')).body).toEqual({ data: { createActor: { __typename: 'CreateActorSuccess' } } });
    expect(alive()).toBe(true);

    const lines = server!.stderr().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { level: string; msg: string });
    expect(lines.some((l) => l.level === 'warn' && l.msg === 'database connection error')).toBe(true);
    expect(lines.some((l) => l.msg === 'unexpected error')).toBe(false);
  });

  it('pg_terminate_backend of every server connection: the process lives and the next requests are served', async () => {
    await Promise.all(Array.from({ length: 6 }, () => gql('{ viewer { id } }')));
    const admin = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${cluster.port}/postgres` });
    await admin.connect();
    try {
      const killed = await admin.query(`SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE datname = 'provenant' AND pid <> pg_backend_pid()`);
      expect(killed.rowCount).toBeGreaterThan(0);
    } finally {
      await admin.end();
    }
    await new Promise((r) => setTimeout(r, 500));
    expect(alive(), server!.stderr()).toBe(true);
    const r = await eventually('a served query after the backends were terminated', () => gql('{ viewer { isOperator } }'), (x) => x.status === 200, 10_000);
    expect(r.body).toEqual({ data: { viewer: { isOperator: true } } });
    expect((await createActor('After Terminate')).body.data.createActor.__typename).toBe('CreateActorSuccess');
    expect(await readyz()).toEqual({ status: 200, body: { status: 'ready' } });
  });

  it('a stop in the middle of a stream of writes: every request is answered (200 or 503), none crashes the server', async () => {
    let stop = false;
    const statuses: number[] = [];
    const writer = (async () => {
      for (let i = 0; !stop; i++) {
        const r = await createActor(`Stream ${i}`).catch(() => ({ status: -1, body: {} }));
        statuses.push(r.status);
        if (r.status !== 200 && r.status !== 503) throw new Error(`unexpected ${r.status}: ${JSON.stringify(r.body)}`);
      }
    })();
    await new Promise((r) => setTimeout(r, 300));
    stopPg();
    await new Promise((r) => setTimeout(r, 1000));
    startPg();
    await eventually('/readyz 200', readyz, (r) => r.status === 200);
    await new Promise((r) => setTimeout(r, 300));
    stop = true;
    await writer;
    expect(alive()).toBe(true);
    expect(statuses).toContain(503);
    expect(statuses[statuses.length - 1]).toBe(200);
  });
});
