import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The server survives its database: a real PostgreSQL (started here, on a free port, in a temporary folder) is
// stopped and its backends terminated under a running `provenant serve`.
const root = new URL('../../', import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), 'pvn-ops-'));
const pgData = join(work, 'pg');
const dataDir = join(work, 'data');
let pgBin = '';
let pgPort = 0;
let server: { child: ChildProcess; url: string; origin: string; stdout: () => string; stderr: () => string } | undefined;
let operatorKey = '';

function findPgBin(): string {
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base) ? readdirSync(base).filter((v) => existsSync(join(base, v, 'bin', 'initdb'))) : [];
  versions.sort((a, b) => Number(a) - Number(b));
  if (versions.length === 0) throw new Error('test:ops needs the PostgreSQL server binaries in /usr/lib/postgresql/*/bin (apt-get install postgresql)');
  return join(base, versions[versions.length - 1]!, 'bin');
}

/** Runs a PostgreSQL tool as the postgres user when we are root (initdb refuses root). */
function asPg(tool: string, args: string[]): string {
  const cmd = join(pgBin, tool);
  return userInfo().uid === 0
    ? execFileSync('runuser', ['-u', 'postgres', '--', cmd, ...args], { encoding: 'utf8' })
    : execFileSync(cmd, args, { encoding: 'utf8' });
}

const startPg = () =>
  asPg('pg_ctl', ['-D', pgData, '-l', join(work, 'pg.log'), '-w', '-t', '60', '-o', `-p ${pgPort} -k ${work} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50`, 'start']);
const stopPg = () => asPg('pg_ctl', ['-D', pgData, '-m', 'fast', '-w', 'stop']);

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

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

const alive = () => server!.child.exitCode === null && server!.child.signalCode === null;
const createActor = (name: string) =>
  gql('mutation($i: CreateActorInput!) { createActor(input: $i) { __typename } }', { i: { name, roles: ['DISTRIBUTOR'], companyPrefixes: [] } });

beforeAll(async () => {
  pgBin = findPgBin();
  if (userInfo().uid === 0) {
    const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(work, id('-u'), id('-g'));
  }
  asPg('initdb', ['-D', pgData, '-U', 'postgres', '--auth=trust', '-E', 'UTF8']);
  pgPort = await freePort();
  startPg();
  asPg('createdb', ['-h', '127.0.0.1', '-p', String(pgPort), '-U', 'postgres', 'provenant']);

  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env, PORT: String(port), HOST: '127.0.0.1', PROVENANT_DATA_DIR: dataDir, PROVENANT_SEED_DEMO: 'false', LOG_LEVEL: 'info',
    DATABASE_URL: `postgres://postgres@127.0.0.1:${pgPort}/provenant`,
  };
  for (const k of ['PROVENANT_OPERATOR_KEY', 'PROVENANT_LOG_KEY', 'PROVENANT_LOG_ORIGIN']) delete env[k];
  const child = spawn(process.execPath, [join(root, 'bin/provenant.mjs'), 'serve'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const url = `http://127.0.0.1:${port}/graphql`;
  server = { child, url, origin: `http://127.0.0.1:${port}`, stdout: () => out, stderr: () => err };
  const deadline = Date.now() + 120_000;
  while (!out.includes(`GraphQL (GraphiQL in a browser): ${url}`)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`server did not start\nstdout:\n${out}\nstderr:\n${err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  expect(out).toContain('on PostgreSQL postgres://postgres@127.0.0.1');
  operatorKey = /Generated operator API key[^\n]*\n\s*(pvn_\S+)\n/.exec(out)![1]!;
});

afterAll(async () => {
  if (server && alive()) {
    server.child.kill('SIGKILL');
    await new Promise((r) => server!.child.once('exit', r));
  }
  try {
    stopPg();
  } catch {
    // already stopped
  }
  rmSync(work, { recursive: true, force: true });
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
    const admin = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${pgPort}/postgres` });
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
