import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from '../helpers/server.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { request, Agent } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

// The real `provenant serve` in a child process on the embedded database: SIGTERM while requests are in flight.
const root = new URL('../../', import.meta.url).pathname;
const dataDir = mkdtempSync(join(tmpdir(), 'pvn-shutdown-'));
const children: ChildProcess[] = [];

interface Served {
  child: ChildProcess;
  port: number;
  url: string;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}


async function until(what: string, cond: () => boolean, served: Served, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void served.exited.then(() => (exited = true));
  while (!cond()) {
    if (exited) throw new Error(`server exited while waiting for ${what}\nstdout:\n${served.stdout()}\nstderr:\n${served.stderr()}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\nstdout:\n${served.stdout()}\nstderr:\n${served.stderr()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Spawns `node bin/provenant.mjs serve` on the shared data folder and waits for its GraphQL URL line. */
async function serve(): Promise<Served> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), HOST: '127.0.0.1', PROVENANT_DATA_DIR: dataDir, PROVENANT_SEED_DEMO: 'false', LOG_LEVEL: 'info' };
  delete env.DATABASE_URL;
  delete env.PROVENANT_OPERATOR_KEY;
  delete env.PROVENANT_LOG_KEY;
  delete env.PROVENANT_LOG_ORIGIN;
  const child = spawn(process.execPath, [join(root, 'bin/provenant.mjs'), 'serve'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((r) =>
    child.once('exit', (code, signal) => r({ code, signal, at: performance.now() })),
  );
  const served: Served = { child, port, url: `http://127.0.0.1:${port}/graphql`, stdout: () => out, stderr: () => err, exited };
  await until('the GraphQL URL line', () => /GraphQL .*http:\/\/\S+\/graphql/.test(out), served);
  expect(out).toContain(`GraphQL (GraphiQL in a browser): ${served.url}`);
  expect(out).toContain('on embedded PGlite at');
  return served;
}

async function gql(url: string, key: string, query: string, variables?: Record<string, unknown>) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, body: (await res.json()) as any };
}

/**
 * A request that is in flight on the server: the headers and the first part of the body are sent now, the rest
 * when `finish()` is called. Resolves with the status, the connection header and the parsed body.
 */
function slowRequest(port: number, key: string, query: string, variables: Record<string, unknown>, agent: Agent) {
  const payload = Buffer.from(JSON.stringify({ query, variables }));
  const cut = Math.floor(payload.length / 2);
  let req!: ReturnType<typeof request>;
  const response = new Promise<{ status: number; connection: string | undefined; body: any }>((resolve, reject) => {
    req = request(
      { host: '127.0.0.1', port, path: '/graphql', method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': payload.length, authorization: `Bearer ${key}` } },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (d: string) => (text += d));
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode!, connection: res.headers.connection, body: JSON.parse(text) });
          } catch (e) {
            reject(new Error(`non-JSON response ${res.statusCode}: ${text}`, { cause: e }));
          }
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.flushHeaders();
    req.write(payload.subarray(0, cut));
  });
  const connected = new Promise<void>((r) => req.once('socket', (s) => (s.connecting ? s.once('connect', () => r()) : r())));
  return { response, connected, finish: () => req.end(payload.subarray(cut)) };
}

/** Resolves with the connect error code (e.g. ECONNREFUSED), or 'connected' when the port still accepts. */
function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve('connected');
    });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

afterAll(async () => {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill('SIGKILL');
      await new Promise((r) => c.once('exit', r));
    }
  }
  rmSync(dataDir, { recursive: true, force: true });
});

describe('provenant serve: graceful shutdown on SIGTERM', () => {
  let operatorKey = '';
  let actor = { id: '', secret: '' };

  it('finishes in-flight requests, refuses new connections, logs "shutting down" and exits 0 within 10 s', { timeout: 120_000 }, async () => {
    const first = await serve();
    await until('the generated operator key', () => /Generated operator API key[^\n]*\n\s*(pvn_\S+)\n/.test(first.stdout()), first);
    operatorKey = /Generated operator API key[^\n]*\n\s*(pvn_\S+)\n/.exec(first.stdout())![1]!;
    expect(operatorKey).toMatch(/^pvn_[A-Za-z0-9_-]{22,}$/);
    const viewer = await gql(first.url, operatorKey, '{ viewer { isOperator } }');
    expect(viewer).toEqual({ status: 200, body: { data: { viewer: { isOperator: true } } } });

    // Two requests in flight on their own keep-alive connections: a write and a read, each with half a body sent.
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    const write = slowRequest(
      first.port, operatorKey,
      'mutation($i: CreateActorInput!) { createActor(input: $i) { __typename ... on CreateActorSuccess { secret actor { id name roles } } ... on Error { message } } }',
      { i: { name: 'Survivor GmbH', roles: ['DISTRIBUTOR'], companyPrefixes: [] } },
      agent,
    );
    const read = slowRequest(first.port, operatorKey, 'query($n: Int) { viewer { id name isOperator } events(first: $n) { edges { cursor } } t: __typename }', { n: 5 }, agent);
    await Promise.all([write.connected, read.connected]);
    // Give the server time to accept both connections and parse the request headers.
    await new Promise((r) => setTimeout(r, 300));

    const t0 = performance.now();
    expect(first.child.kill('SIGTERM')).toBe(true);
    await until('the "shutting down" log line', () => first.stderr().includes('"shutting down"'), first, 10_000);
    // The listener is closed as soon as shutdown starts: a new connection is refused while the old ones finish.
    expect(await tryConnect(first.port)).toBe('ECONNREFUSED');
    expect(first.child.exitCode).toBeNull();

    write.finish();
    read.finish();
    const [w, r] = await Promise.all([write.response, read.response]);
    expect(w.status, JSON.stringify(w.body)).toBe(200);
    expect(w.body.errors).toBeUndefined();
    expect(w.body.data.createActor).toMatchObject({ __typename: 'CreateActorSuccess', actor: { name: 'Survivor GmbH', roles: ['DISTRIBUTOR'] } });
    expect(w.body.data.createActor.secret).toMatch(/^pvn_/);
    actor = { id: w.body.data.createActor.actor.id, secret: w.body.data.createActor.secret };
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.errors).toBeUndefined();
    expect(r.body.data).toMatchObject({ viewer: { isOperator: true }, events: { edges: [] }, t: 'Query' });
    const tAnswered = performance.now();
    // The client is done: it closes its keep-alive connections (see the note on keep-alive in the report).
    agent.destroy();

    const exit = await first.exited;
    const exitMs = exit.at - t0;
    console.log(`[shutdown] SIGTERM → in-flight answered ${(tAnswered - t0).toFixed(0)} ms; → exit ${exitMs.toFixed(0)} ms (code ${exit.code}, signal ${exit.signal}); connection headers: ${w.connection}, ${r.connection}`);
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(exitMs).toBeLessThan(10_000);
    expect(await tryConnect(first.port)).toBe('ECONNREFUSED');

    const logLines = first.stderr().split('\n').filter((l) => l.trim().startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(logLines).toContainEqual(expect.objectContaining({ level: 'info', msg: 'shutting down', signal: 'SIGTERM' }));
    expect(logLines.filter((l) => l.level === 'error')).toEqual([]);
    // Keys never reach the log.
    expect(first.stderr()).not.toContain(operatorKey);
  });

  it('a restart on the same data folder keeps the data and does not print a new operator key', { timeout: 120_000 }, async () => {
    expect(actor.id, 'the first test created the actor').not.toBe('');
    const second = await serve();
    const viewer = await gql(second.url, operatorKey, '{ viewer { isOperator } }');
    expect(viewer).toEqual({ status: 200, body: { data: { viewer: { isOperator: true } } } });
    const found = await gql(second.url, operatorKey, 'query($id: ID!) { node(id: $id) { ... on Actor { id name roles } } }', { id: actor.id });
    expect(found.body).toEqual({ data: { node: { id: actor.id, name: 'Survivor GmbH', roles: ['DISTRIBUTOR'] } } });
    // The new actor's key, issued during shutdown, still authenticates.
    const self = await gql(second.url, actor.secret, '{ viewer { id name } }');
    expect(self.body).toEqual({ data: { viewer: { id: actor.id, name: 'Survivor GmbH' } } });
    // By now every startup line is out; none announces a new key.
    expect(second.stdout()).not.toContain('Generated operator API key');
    expect(second.stdout()).not.toMatch(/pvn_/);

    const t0 = performance.now();
    second.child.kill('SIGTERM');
    const exit = await second.exited;
    console.log(`[shutdown] idle server: SIGTERM → exit ${(exit.at - t0).toFixed(0)} ms (code ${exit.code})`);
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(exit.at - t0).toBeLessThan(10_000);
  });
});
