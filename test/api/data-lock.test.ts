import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { acquireDataLock, DataFolderLockedError, LOCK_FILE } from '../../src/server/data-lock.ts';

// One process per embedded data folder: real `provenant` processes on one PROVENANT_DATA_DIR.
const root = new URL('../../', import.meta.url).pathname;
const dataDir = mkdtempSync(join(tmpdir(), 'pvn-lock-'));
const children: ChildProcess[] = [];

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env, PORT: '0', HOST: '127.0.0.1', PROVENANT_DATA_DIR: dataDir, PROVENANT_SEED_DEMO: 'false', LOG_LEVEL: 'warn', ...extra };
  for (const k of ['DATABASE_URL', 'PROVENANT_OPERATOR_KEY', 'PROVENANT_LOG_KEY', 'PROVENANT_LOG_ORIGIN', 'PROVENANT_SERVER', 'PROVENANT_API_KEY']) delete e[k];
  return e;
}

function start(args: string[], extra: Record<string, string> = {}): Run {
  const child = spawn(process.execPath, [join(root, 'bin/provenant.mjs'), ...args], { cwd: root, env: env(extra), stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Runs a CLI command to its end. */
async function cli(args: string[], extra: Record<string, string> = {}) {
  const r = start(args, extra);
  const { code } = await r.exited;
  return { code, stdout: r.stdout(), stderr: r.stderr() };
}

/** `provenant serve` on the shared folder; resolves once it prints its GraphQL URL. */
async function serve(): Promise<Run & { url: string }> {
  const r = start(['serve']);
  const deadline = Date.now() + 90_000;
  let gone = false;
  void r.exited.then(() => (gone = true));
  for (;;) {
    const m = /GraphQL \(GraphiQL in a browser\): (http:\/\/\S+\/graphql)/.exec(r.stdout());
    if (m) return { ...r, url: m[1]! };
    if (gone || Date.now() > deadline) throw new Error(`serve did not start\nstdout:\n${r.stdout()}\nstderr:\n${r.stderr()}`);
    await new Promise((res) => setTimeout(res, 25));
  }
}

async function gql(url: string, key: string, query: string, variables?: Record<string, unknown>) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: JSON.stringify({ query, variables }) });
  return (await res.json()) as any;
}

const holderPid = () => (JSON.parse(readFileSync(join(dataDir, LOCK_FILE), 'utf8')) as { pid: number }).pid;

afterAll(async () => {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill('SIGKILL');
      await new Promise((r) => c.once('exit', r));
    }
  }
  rmSync(dataDir, { recursive: true, force: true });
});

describe('one process per embedded data folder', () => {
  let first: Run & { url: string };
  let operatorKey = '';

  it('refuses a second serve, and migrate, seed and audit, naming the PID that holds the folder (exit 3)', { timeout: 180_000 }, async () => {
    first = await serve();
    operatorKey = /Generated operator API key[^\n]*\n\s*(pvn_\S+)\n/.exec(first.stdout())![1]!;
    const pid = first.child.pid!;
    expect(holderPid()).toBe(pid);

    const [second, migrate, seed, audit] = await Promise.all([cli(['serve']), cli(['migrate']), cli(['seed']), cli(['audit'])]);
    for (const [cmd, r] of Object.entries({ serve: second, migrate, seed, audit })) {
      expect(r.code, `${cmd}: ${r.stderr}`).toBe(3);
      expect(r.stderr).toContain(
        `provenant ${cmd}: refused: the data folder ${dataDir} is in use by another Provenant process (PID ${pid}, "provenant serve" since `,
      );
      expect(r.stderr).toContain('stop that process first, or run "provenant audit --server URL" to audit through it');
      // Never a discrepancy report, never a GraphQL URL.
      expect(r.stdout).not.toMatch(/FAILED|GraphQL \(GraphiQL/);
    }
    // The owner is untouched and still serves.
    expect(first.child.exitCode).toBeNull();
    expect(holderPid()).toBe(pid);
    expect(await gql(first.url, operatorKey, '{ viewer { isOperator } }')).toEqual({ data: { viewer: { isOperator: true } } });
  });

  it('audit --server runs through the owner while writes go on: clean, exit 0; a non-operator key is exit 2', { timeout: 180_000 }, async () => {
    const made = await gql(first.url, operatorKey, 'mutation($i: CreateActorInput!) { createActor(input: $i) { ... on CreateActorSuccess { secret } } }', {
      i: { name: 'Lock Maker', roles: ['MANUFACTURER'], companyPrefixes: ['4012345'] },
    });
    const maker = made.data.createActor.secret as string;
    const gtin = '04012345111118';
    const p = await gql(first.url, maker, 'mutation($i: RegisterProductInput!) { registerProduct(input: $i) { __typename } }', { i: { gtin, name: 'Lamp' } });
    expect(p.data.registerProduct.__typename).toBe('RegisterProductSuccess');

    // Writes (each a COMMISSION event of 3 items) in a loop until the audit has ended.
    let stop = false;
    let written = 0;
    const writer = (async () => {
      for (let i = 0; !stop; i++) {
        const b = await gql(first.url, maker, 'mutation($i: RegisterBatchInput!) { registerBatch(input: $i) { __typename } }', {
          i: { gtin, lot: `L${i}`, producedAt: new Date(Date.now() - 60_000).toISOString(), site: 'Plant', range: { count: 3, firstSerial: `S${i}-1` } },
        });
        expect(b.data.registerBatch.__typename).toBe('RegisterBatchSuccess');
        written++;
      }
    })();
    while (written < 2) await new Promise((r) => setTimeout(r, 20));
    const before = written;
    const audit = await cli(['audit', '--server', first.url, '--key', operatorKey]);
    const during = written - before;
    stop = true;
    await writer;
    expect(audit.code, audit.stderr).toBe(0);
    expect(audit.stdout).toMatch(/^audited \d+ events \(tree size \d+\), \d+ items, \d+ chain links\nOK: log root, checkpoint and every item chain verify\n$/);
    expect(Number(/tree size (\d+)/.exec(audit.stdout)![1])).toBeGreaterThanOrEqual(before);
    expect(during, 'writes went on while the audit ran').toBeGreaterThan(0);

    // The operator key can also come from the data folder's operator-key file.
    const fromFile = await cli(['audit', '--server', first.url]);
    expect(fromFile.code, fromFile.stderr).toBe(0);
    // Another actor's key is a configuration error (2), never "discrepancies found" (1).
    const notOperator = await cli(['audit', '--server', first.url, '--key', maker]);
    expect(notOperator.code).toBe(2);
    expect(notOperator.stderr).toBe('provenant audit: not allowed: Forbidden: this field is for the operator only (the audit needs the operator key)\n');
  });

  it('kill -9 leaves no lock that blocks: the next serve takes the folder over and keeps the data', { timeout: 180_000 }, async () => {
    const oldPid = first.child.pid!;
    first.child.kill('SIGKILL');
    expect(await first.exited).toEqual({ code: null, signal: 'SIGKILL' });
    // The dead holder's lock file is still there ...
    expect(holderPid()).toBe(oldPid);
    // ... and does not stop the next start.
    const next = await serve();
    expect(holderPid()).toBe(next.child.pid);
    expect((await gql(next.url, operatorKey, '{ viewer { isOperator } }')).data.viewer.isOperator).toBe(true);
    // A graceful stop removes the lock file.
    next.child.kill('SIGTERM');
    expect((await next.exited).code).toBe(0);
    expect(existsSync(join(dataDir, LOCK_FILE))).toBe(false);
  });
});

describe('acquireDataLock', () => {
  const dir = () => mkdtempSync(join(tmpdir(), 'pvn-lock-unit-'));
  const holder = (d: string, h: Record<string, unknown>) =>
    writeFileSync(join(d, LOCK_FILE), JSON.stringify({ hostname: hostname(), command: 'serve', since: '2026-01-01T00:00:00.000Z', ...h }));
  const deadPid = async () => {
    const c = spawn(process.execPath, ['-e', '0']);
    await new Promise((r) => c.once('exit', r));
    return c.pid!;
  };

  it('refuses a second acquire in the same process, naming this PID; free again after release', async () => {
    const d = dir();
    const lock = await acquireDataLock(d, 'serve');
    await expect(acquireDataLock(d, 'audit')).rejects.toThrow(`in use by another Provenant process (PID ${process.pid}, "provenant serve"`);
    lock.release();
    expect(existsSync(join(d, LOCK_FILE))).toBe(false);
    (await acquireDataLock(d, 'migrate')).release();
    rmSync(d, { recursive: true });
  });

  it('takes over the lock of a dead PID, of a reused PID (other start time) and a torn lock file', async () => {
    const stales: (Record<string, unknown> | 'torn')[] = [{ pid: await deadPid() }, { pid: process.ppid, startTicks: '1' }, 'torn'];
    for (const stale of stales) {
      const d = dir();
      if (stale === 'torn') writeFileSync(join(d, LOCK_FILE), '{"pid": 12');
      else holder(d, stale);
      const lock = await acquireDataLock(d, 'serve');
      expect(JSON.parse(readFileSync(lock.file, 'utf8'))).toMatchObject({ pid: process.pid, command: 'serve' });
      lock.release();
      rmSync(d, { recursive: true });
    }
  });

  it('refuses a live holder (its start time matches) and one on another host, whose liveness it cannot check', async () => {
    const d = dir();
    const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    children.push(sleeper);
    const ticks = readFileSync(`/proc/${sleeper.pid}/stat`, 'utf8');
    holder(d, { pid: sleeper.pid, startTicks: ticks.slice(ticks.lastIndexOf(')') + 2).split(' ')[19] });
    const live = await acquireDataLock(d, 'serve').catch((e: unknown) => e);
    expect(live).toBeInstanceOf(DataFolderLockedError);
    expect((live as DataFolderLockedError).holder.pid).toBe(sleeper.pid);
    sleeper.kill('SIGKILL');
    await new Promise((r) => sleeper.once('exit', r));
    // Once it is gone, the folder is free.
    (await acquireDataLock(d, 'serve')).release();

    holder(d, { pid: 4242, hostname: 'elsewhere.example' });
    await expect(acquireDataLock(d, 'serve')).rejects.toThrow(
      `in use by another Provenant process (PID 4242 on host elsewhere.example, "provenant serve" since 2026-01-01T00:00:00.000Z). ` +
        `One process owns an embedded data folder: stop that process first, or run "provenant audit --server URL" to audit through it. If that process is gone, delete ${join(d, LOCK_FILE)}.`,
    );
    rmSync(d, { recursive: true });
  });
});
