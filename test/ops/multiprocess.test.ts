import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSignerKey, signerKeyString, verifyCheckpoint, verifierKeyString } from '../../src/core/checkpoint.ts';
import { generateApiKey } from '../../src/services/api-key-secret.ts';
import { root, type ServedProcess, spawnServer, startThrowawayPostgres, type ThrowawayPostgres } from './harness.ts';

// Two `provenant serve` processes on ONE PostgreSQL, writing concurrently: one log (contiguous leaves, one signed
// checkpoint per integrated batch, no fork), and when one process is killed mid-load the other integrates what it
// left pending and keeps serving.
let cluster: ThrowawayPostgres;
const servers: ServedProcess[] = [];
const operatorKey = generateApiKey();
const logKey = signerKeyString('multi.provenant/log', new Uint8Array(randomBytes(32)));
const parsedKey = parseSignerKey(logKey);
const verifierKey = parsedKey.ok ? verifierKeyString(parsedKey.value.name, parsedKey.value.publicKey) : '';
const env = (n: number) => ({
  PROVENANT_DATA_DIR: join(cluster.work, `data-${n}`), DATABASE_URL: cluster.url, PROVENANT_OPERATOR_KEY: operatorKey,
  PROVENANT_LOG_KEY: logKey, PROVENANT_LOG_ORIGIN: 'multi.provenant/log', LOG_LEVEL: 'warn',
});

async function gql(url: string, key: string, query: string, variables: Record<string, unknown> = {}) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: JSON.stringify({ query, variables }) });
  return (await res.json()) as any;
}

async function sql<T>(text: string): Promise<T[]> {
  const c = new pg.Client({ connectionString: cluster.url });
  await c.connect();
  try {
    return (await c.query(text)).rows as T[];
  } finally {
    await c.end();
  }
}

let maker: { secret: string }, dist: { id: string };
const SHIP = `mutation($i: ShipItemsInput!) { shipItems(input: $i) { __typename ... on RecordEventSuccess { event { id leafIndex } } ... on Error { message } } }`;
const ship = (url: string, serial: number) =>
  gql(url, maker.secret, SHIP, { i: { items: [`urn:epc:id:sgtin:4012345.022221.M${String(serial).padStart(4, '0')}`], to: dist.id, occurredAt: new Date().toISOString() } });

beforeAll(async () => {
  expect(parsedKey.ok).toBe(true);
  cluster = await startThrowawayPostgres('pvn-multi-');
  // The first process migrates; the second then starts on the migrated database.
  servers.push(await spawnServer(env(1)));
  servers.push(await spawnServer(env(2)));
  const [a] = servers;
  const mk = async (name: string, roles: string[], companyPrefixes: string[] = []) =>
    (await gql(a!.url, operatorKey, `mutation($i: CreateActorInput!) { createActor(input: $i) { ... on CreateActorSuccess { secret actor { id } } } }`, { i: { name, roles, companyPrefixes } })).data.createActor;
  maker = await mk('Multi Maker', ['MANUFACTURER'], ['4012345']);
  dist = (await mk('Multi Dist', ['DISTRIBUTOR'])).actor;
  await gql(a!.url, maker.secret, `mutation { registerProduct(input: { gtin: "04012345222210", name: "p" }) { __typename } }`);
  const b = await gql(a!.url, maker.secret, `mutation { registerBatch(input: { gtin: "04012345222210", lot: "M1", producedAt: "2026-01-01T00:00:00Z", site: "s", range: { count: 600, firstSerial: "M0001" } }) { __typename } }`);
  expect(b.data.registerBatch.__typename).toBe('RegisterBatchSuccess');
});

afterAll(async () => {
  for (const s of servers) await s.kill();
  cluster?.dispose();
});

async function checkLog() {
  const [facts] = await sql<{ events: string; min: string; max: string; pending: string; size: string }>(
    `SELECT (SELECT count(*) FROM events) AS events, (SELECT min(leaf_index) FROM events) AS min, (SELECT max(leaf_index) FROM events) AS max,
            (SELECT count(*) FROM pending_events) AS pending, (SELECT size FROM log_state) AS size`,
  );
  expect(Number(facts!.min)).toBe(0);
  expect(Number(facts!.max)).toBe(Number(facts!.events) - 1);
  expect(Number(facts!.size)).toBe(Number(facts!.events));
  const notes = await sql<{ tree_size: string; note: string }>(`SELECT tree_size, note FROM checkpoints ORDER BY tree_size`);
  for (const n of notes) {
    const v = verifyCheckpoint(n.note, [verifierKey]);
    expect(v.ok && v.value.size).toBe(Number(n.tree_size));
  }
  return { events: Number(facts!.events), pending: Number(facts!.pending), checkpoints: notes.length };
}

describe('two server processes on one PostgreSQL', () => {
  it('concurrent writers through both processes: every write integrated once, leaves contiguous, one checkpoint per batch', async () => {
    const before = await checkLog();
    let next = 1;
    const acknowledged: number[] = [];
    const writer = (s: ServedProcess) => async () => {
      while (next <= 300) {
        const r = await ship(s.url, next++);
        expect(r.data.shipItems.__typename, JSON.stringify(r)).toBe('RecordEventSuccess');
        acknowledged.push(r.data.shipItems.event.leafIndex);
      }
    };
    await Promise.all([...Array.from({ length: 6 }, writer(servers[0]!)), ...Array.from({ length: 6 }, writer(servers[1]!))]);
    expect(new Set(acknowledged).size).toBe(300);
    const after = await checkLog();
    expect(after.events - before.events).toBe(300);
    expect(after.pending).toBe(0);
    // Group commit: fewer checkpoints than events (each signed checkpoint covers a batch).
    expect(after.checkpoints - before.checkpoints).toBeLessThan(300);
  });

  it('one process killed mid-load: the other integrates what it left pending, and the audit is clean', async () => {
    const [a, b] = servers as [ServedProcess, ServedProcess];
    let next = 301;
    const acknowledged: string[] = [];
    let stop = false;
    const writer = (s: ServedProcess) => async () => {
      while (!stop && next <= 600) {
        try {
          const r = await ship(s.url, next++);
          if (r.data?.shipItems?.__typename === 'RecordEventSuccess') acknowledged.push(r.data.shipItems.event.id);
        } catch {
          // the connection died with process a
        }
      }
    };
    const writers = [...Array.from({ length: 6 }, writer(a)), ...Array.from({ length: 6 }, writer(b))];
    while (acknowledged.length < 40) await new Promise((r) => setTimeout(r, 10));
    await a.kill();
    await new Promise((r) => setTimeout(r, 500));
    stop = true;
    await Promise.all(writers);
    // Process b's sweeper integrates anything a committed but did not live to integrate, within seconds.
    const deadline = Date.now() + 15_000;
    while ((await checkLog()).pending > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect((await checkLog()).pending).toBe(0);
    const ids = acknowledged.map((id) => `'${Buffer.from(id, 'base64').toString('utf8').split(':')[1]}'`).join(',');
    const [found] = await sql<{ n: string }>(`SELECT count(*) AS n FROM events WHERE id IN (${ids})`);
    expect(Number(found!.n)).toBe(acknowledged.length);
    // Still serving through b, reads and writes.
    expect((await gql(b.url, maker.secret, '{ viewer { name } }')).data.viewer.name).toBe('Multi Maker');
    const more = await gql(b.url, maker.secret, `mutation { registerBatch(input: { gtin: "04012345222210", lot: "M2", producedAt: "2026-01-01T00:00:00Z", site: "s", serials: ["Z1"] }) { __typename } }`);
    expect(more.data.registerBatch.__typename).toBe('RegisterBatchSuccess');
    const audit = spawnSync(process.execPath, [join(root, 'bin/provenant.mjs'), 'audit'], {
      cwd: root, env: { ...process.env, ...env(3) }, encoding: 'utf8',
    });
    expect(audit.stdout, audit.stderr).toContain('OK: log root, checkpoint and every item chain verify');
    expect(audit.status).toBe(0);
  });
});
