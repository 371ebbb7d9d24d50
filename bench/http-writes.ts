/**
 * Benchmark: the HTTP floor and single-item writes through the real GraphQL endpoint, each at the same concurrency,
 * with the load generated from a child process over keep-alive connections:
 *   1. a bare `node:http` JSON endpoint (what Node itself costs per request here),
 *   2. an authenticated trivial query `{ viewer { id } }` through the app (key lookup, context, GraphQL, logging),
 *   3. `shipItems` of one item to a named receiver, returning once the event is integrated into the log.
 * Prints req/s and p50/p99 for each, the server process's CPU time per request (user + system; on PostgreSQL the
 * database's own CPU is not included), and the ratios 3÷2 (target ≥ 0.5) and 2÷1. CPU per request is the figure to
 * compare across runs on a shared machine: req/s moves with the other load, CPU per request much less.
 *   DATABASE_URL=postgres://… node bin/run-ts.mjs bench/http-writes.ts   (PGlite only when unset)
 * BENCH_HTTP_REQUESTS (default 2000) requests per measurement; BENCH_HTTP_LEVELS (default "8,32").
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { apiKeyHash } from '../src/core/api-key.ts';
import type { DatabaseHandle } from '../src/db/connection.ts';
import { createLogger } from '../src/server/logger.ts';
import { createApp } from '../src/server/yoga.ts';
import { generateApiKey } from '../src/services/api-key-secret.ts';
import { testConfig } from '../test/helpers/server.ts';
import { benchSgtin, onEachDatabase, seedBenchLedger } from './harness.ts';

const REQUESTS = Number(process.env.BENCH_HTTP_REQUESTS ?? 2000);
const LEVELS = (process.env.BENCH_HTTP_LEVELS ?? '8,32').split(',').map(Number);

// The load generator, a separate process so the server's CPU time can be read apart from it: `concurrency` loops
// over keep-alive fetches of the given JSON bodies.
const CLIENT = `
process.once('message', ({ url, headers, bodies, concurrency }) => {
  let next = 0;
  const lat = [];
  const t0 = performance.now();
  Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < bodies.length) {
      const i = next++;
      const s = performance.now();
      const res = await fetch(url, { method: 'POST', headers, body: bodies[i] });
      const text = await res.text();
      if (res.status !== 200 || text.includes('"errors"') || text.includes('Error"')) throw new Error(res.status + ' ' + text.slice(0, 300));
      lat.push(performance.now() - s);
    }
  })).then(() => {
    const secs = (performance.now() - t0) / 1000;
    lat.sort((a, b) => a - b);
    const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
    process.send({ rate: bodies.length / secs, p50: q(0.5), p99: q(0.99) }, () => process.exit(0));
  }, (e) => process.send({ error: String(e) }, () => process.exit(1)));
});
`;

type Stats = { rate: number; p50: number; p99: number; cpuUs: number };

function load(url: string, headers: Record<string, string>, bodies: string[], concurrency: number): Promise<Stats> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', CLIENT], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let cpu0: NodeJS.CpuUsage | undefined;
    child.once('spawn', () => {
      cpu0 = process.cpuUsage();
      child.send({ url, headers, bodies, concurrency });
    });
    child.once('message', (m: Omit<Stats, 'cpuUs'> & { error?: string }) => {
      const cpu = process.cpuUsage(cpu0);
      if (m.error) reject(new Error(m.error));
      else resolve({ ...m, cpuUs: (cpu.user + cpu.system) / bodies.length });
    });
    child.once('error', reject);
  });
}

const listen = async (s: Server): Promise<string> => {
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
};
const fmt = (s: Stats) => `${Math.round(s.rate)} req/s (p50 ${s.p50.toFixed(1)} ms, p99 ${s.p99.toFixed(1)} ms, server CPU ${Math.round(s.cpuUs)} µs/req)`;

async function run(label: string, h: DatabaseHandle, schema: string | undefined) {
  const { makerKey, dist, deps } = await seedBenchLedger(h, schema, 'H', REQUESTS * LEVELS.length);
  const signer = deps.signer;
  const config = testConfig({ logLevel: 'info', logOrigin: 'bench/log' });
  // Access lines go to a sink: the bench measures the work of logging, not a terminal.
  const app = createApp({ db: h.db, config, operatorKeyHash: apiKeyHash(generateApiKey()), signer, now: () => new Date() }, createLogger('info', () => {}));
  const server = createServer(app);
  const base = await listen(server);
  const bare = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"data":{"viewer":{"id":"QWN0b3I6MQ=="}}}');
  });
  const bareBase = await listen(bare);
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${makerKey}` };
  const toId = Buffer.from(`Actor:${dist.id}`).toString('base64');
  let serial = 1;
  try {
    for (const n of LEVELS) {
      const viewer = Array.from({ length: REQUESTS }, () => JSON.stringify({ query: '{ viewer { id } }' }));
      const floor = await load(`${bareBase}/`, headers, viewer, n);
      const trivial = await load(`${base}/graphql`, headers, viewer, n);
      const ships = Array.from({ length: REQUESTS }, () =>
        JSON.stringify({
          query: 'mutation($i: ShipItemsInput!) { shipItems(input: $i) { __typename ... on RecordEventSuccess { event { leafIndex } } } }',
          variables: { i: { items: [benchSgtin(`H${String(serial++).padStart(7, '0')}`)], to: toId, occurredAt: new Date().toISOString() } },
        }),
      );
      const writes = await load(`${base}/graphql`, headers, ships, n);
      console.log(`${label}, ${n} clients: bare node:http ${fmt(floor)}; { viewer { id } } ${fmt(trivial)}; shipItems ${fmt(writes)}`);
      console.log(`${label}, ${n} clients: shipItems ÷ viewer = ${(writes.rate / trivial.rate).toFixed(2)} (target ≥ 0.5); viewer ÷ bare = ${(trivial.rate / floor.rate).toFixed(2)}`);
    }
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
    server.closeAllConnections();
    await new Promise<void>((r) => bare.close(() => r()));
    bare.closeAllConnections();
  }
}

console.log(`HTTP floor and writes, ${REQUESTS} requests per measurement, node ${process.version}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
await onEachDatabase((engine, h, schema) => run(engine, h, schema), 40);
