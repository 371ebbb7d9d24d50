import { createServer } from 'node:http';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { randomBytes } from 'node:crypto';
import { apiKeyHash } from '../../src/core/api-key.ts';
import { publicKeyFromPrivate, verifierKeyString } from '../../src/core/checkpoint.ts';
import type { LogSigner } from '../../src/db/log.ts';
import { EDGE_DEFAULTS, RESOLVER_DEFAULTS, type Config } from '../../src/server/config.ts';
import { createLogger } from '../../src/server/logger.ts';
import { createApp } from '../../src/server/yoga.ts';
import { generateApiKey } from '../../src/services/api-key-secret.ts';
import type { TestDatabase } from './db.ts';

export interface TestServer {
  url: string;
  /** `http://127.0.0.1:port` (for /healthz, /readyz, /metrics). */
  origin: string;
  operatorKey: string;
  logLines: string[];
  signer: LogSigner;
  /** POSTs a GraphQL request; returns the parsed body (throws on non-JSON). */
  gql<T = any>(query: string, variables?: Record<string, unknown>, key?: string | null): Promise<{ status: number; body: { data?: T; errors?: any } }>;
  close(): Promise<void>;
  /** Moves the server clock (for skew and expiry tests). */
  setNow(d: Date | undefined): void;
}

export function testConfig(overrides: Partial<Config> = {}): Config {
  return {
    port: 0, host: '127.0.0.1', dataDir: '/nonexistent', databaseUrl: undefined, operatorKey: undefined,
    maxClockSkewMs: 5 * 60_000, seedDemo: false, logLevel: 'debug', logOrigin: 'test.provenant/log', logKey: undefined,
    epcisMaxDocumentBytes: 10 * 1024 * 1024, epcisMaxEvents: 10_000, ...EDGE_DEFAULTS,
    ...RESOLVER_DEFAULTS, countryHeaders: [...RESOLVER_DEFAULTS.countryHeaders],
    ...overrides,
  };
}

/** A real HTTP server on 127.0.0.1:random over the given test database. */
export async function startTestServer(db: TestDatabase, overrides: Partial<Config> = {}): Promise<TestServer> {
  const operatorKey = generateApiKey();
  const logLines: string[] = [];
  let fixedNow: Date | undefined;
  const signer = testSigner();
  const app = createApp(
    { db: db.db, config: testConfig(overrides), operatorKeyHash: apiKeyHash(operatorKey), signer, now: () => fixedNow ?? new Date() },
    createLogger('debug', (l) => logLines.push(l)),
  );
  const server = createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
  return {
    url,
    origin: new URL(url).origin,
    operatorKey,
    signer,
    logLines,
    setNow: (d) => (fixedNow = d),
    async gql(query, variables, key = operatorKey) {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
        body: JSON.stringify({ query, variables }),
      });
      return { status: res.status, body: (await res.json()) as any };
    },
    close: () => new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); }),
  };
}

/** A fresh random log key for one test server. */
export function testSigner(origin = 'test.provenant/log'): LogSigner {
  const seed = new Uint8Array(randomBytes(32));
  return { origin, seed, verifierKey: verifierKeyString(origin, publicKeyFromPrivate(seed)) };
}

/** A TCP port free on 127.0.0.1 right now (for spawned servers). */
export async function freePort(): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
