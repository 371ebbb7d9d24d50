import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { freePort } from '../helpers/server.ts';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

// kill -9 of a real server while concurrent writes are in flight: after a restart every acknowledged write is in the
// log, nothing is left pending, and the audit is clean.
const root = new URL('../../', import.meta.url).pathname;
const dataDir = mkdtempSync(join(tmpdir(), 'pvn-crash-'));
const children: ChildProcess[] = [];

afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

function env(port: number): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), HOST: '127.0.0.1', PROVENANT_DATA_DIR: dataDir, PROVENANT_SEED_DEMO: 'false', LOG_LEVEL: 'warn' };
  for (const k of ['DATABASE_URL', 'PROVENANT_OPERATOR_KEY', 'PROVENANT_LOG_KEY', 'PROVENANT_LOG_ORIGIN']) delete e[k];
  return e;
}


async function serve(): Promise<{ child: ChildProcess; url: string; exited: Promise<void> }> {
  const port = await freePort();
  const child = spawn(process.execPath, [join(root, 'bin/provenant.mjs'), 'serve'], { cwd: root, env: env(port), stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const deadline = Date.now() + 90_000;
  while (!/GraphQL .*http:\/\/\S+\/graphql/.test(out)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`server did not start\n${out}\n${err}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return { child, url: `http://127.0.0.1:${port}/graphql`, exited };
}

async function gql(url: string, key: string, query: string, variables: Record<string, unknown> = {}) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: JSON.stringify({ query, variables }) });
  return (await res.json()) as any;
}

describe('crash safety of the sequencer (real processes)', () => {
  it('kill -9 under concurrent writes loses no acknowledged write and leaves nothing pending after a restart', async () => {
    const first = await serve();
    const op = readFileSync(join(dataDir, 'operator-key'), 'utf8').trim();
    const mk = async (name: string, roles: string[], companyPrefixes: string[] = []) => {
      const r = await gql(first.url, op, `mutation($i: CreateActorInput!) { createActor(input: $i) { ... on CreateActorSuccess { secret actor { id } } } }`, { i: { name, roles, companyPrefixes } });
      return r.data.createActor as { secret: string; actor: { id: string } };
    };
    const maker = await mk('Crash Maker', ['MANUFACTURER'], ['4012345']);
    const dist = await mk('Crash Dist', ['DISTRIBUTOR']);
    await gql(first.url, maker.secret, `mutation { registerProduct(input: { gtin: "04012345222210", name: "p" }) { __typename } }`);
    const b = await gql(first.url, maker.secret, `mutation { registerBatch(input: { gtin: "04012345222210", lot: "K1", producedAt: "2026-01-01T00:00:00Z", site: "s", range: { count: 400, firstSerial: "C0001" } }) { __typename } }`);
    expect(b.data.registerBatch.__typename).toBe('RegisterBatchSuccess');

    const acknowledged: string[] = [];
    let next = 1;
    let killed = false;
    const writer = async () => {
      while (!killed && next <= 400) {
        const serial = `C${String(next++).padStart(4, '0')}`;
        try {
          const r = await gql(first.url, maker.secret, `mutation($i: ShipItemsInput!) { shipItems(input: $i) { __typename ... on RecordEventSuccess { event { id leafIndex } } } }`, {
            i: { items: [`urn:epc:id:sgtin:4012345.022221.${serial}`], to: dist.actor.id, occurredAt: new Date().toISOString() },
          });
          if (r.data?.shipItems?.__typename === 'RecordEventSuccess') acknowledged.push(r.data.shipItems.event.id);
        } catch {
          // The connection died with the server: this write was not acknowledged.
        }
      }
    };
    const writers = Array.from({ length: 12 }, writer);
    // Kill while writes are in flight, once enough have been acknowledged to make the check meaningful (a loaded
    // machine writes slowly, so this waits for a count, not a time).
    const deadline = Date.now() + 90_000;
    while (acknowledged.length < 20 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    first.child.kill('SIGKILL');
    killed = true;
    await first.exited;
    await Promise.all(writers);
    expect(acknowledged.length).toBeGreaterThanOrEqual(20);

    const second = await serve();
    const missing: string[] = [];
    for (let i = 0; i < acknowledged.length; i += 50) {
      const ids = acknowledged.slice(i, i + 50);
      const r = await gql(second.url, op, `query($ids: [ID!]!) { nodes(ids: $ids) { ... on Event { id leafIndex } } }`, { ids });
      r.data.nodes.forEach((n: any, j: number) => {
        if (!n || typeof n.leafIndex !== 'number') missing.push(ids[j]!);
      });
    }
    expect(missing).toEqual([]);
    second.child.kill('SIGTERM');
    await second.exited;

    const audit = spawnSync(process.execPath, [join(root, 'bin/provenant.mjs'), 'audit'], { cwd: root, env: env(0), encoding: 'utf8' });
    expect(audit.stdout, audit.stderr).toContain('OK: log root, checkpoint and every item chain verify');
    expect(audit.stdout).not.toContain('pending');
    expect(audit.status).toBe(0);
  }, 180_000);
});
