import { createServer as createHttpServer } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditThroughServer } from '../../src/cli/audit.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { createTestActor, registerProductAndBatch, type TestActor } from '../helpers/ledger.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

// `provenant audit --server`: the operator-only `audit` query, and exit codes that never confuse a failure to audit
// with "discrepancies found".
let db: TestDatabase;
let srv: TestServer;
let maker: TestActor;

beforeAll(async () => {
  db = await openTestDatabase();
  srv = await startTestServer(db);
  maker = await createTestActor(srv, 'Audit Maker', ['MANUFACTURER'], ['4012345']);
  expect((await registerProductAndBatch(srv, maker, { gtin: '04012345111118', lot: 'A1', serials: ['A1', 'A2'] })).__typename).toBe('RegisterBatchSuccess');
});
afterAll(async () => {
  await srv?.close();
  await db?.dispose();
});

async function audit(server: string, key: string | undefined, env: NodeJS.ProcessEnv = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await auditThroughServer(server, key, { out: (s) => out.push(s), err: (s) => err.push(s), env });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('provenant audit --server', () => {
  it('clean ledger: exit 0 with the summary; the key may come from PROVENANT_OPERATOR_KEY', async () => {
    const r = await audit(srv.url, undefined, { PROVENANT_OPERATOR_KEY: srv.operatorKey });
    expect(r).toEqual({ code: 0, out: 'audited 1 events (tree size 1), 2 items, 2 chain links\nOK: log root, checkpoint and every item chain verify', err: '' });
  });

  it('the query is for the operator only', async () => {
    const { body } = await srv.gql('{ audit { treeSize } }', {}, maker.key);
    expect(body.errors[0]).toMatchObject({ message: 'Forbidden: this field is for the operator only', extensions: { code: 'FORBIDDEN' } });
    const anonymous = await srv.gql('{ audit { treeSize } }', {}, null);
    expect(anonymous.body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
  });

  it('no key, a bad key or a bad URL: exit 2', async () => {
    expect((await audit(srv.url, undefined, { PROVENANT_DATA_DIR: '/nonexistent' })).code).toBe(2);
    const bad = await audit(srv.url, 'pvn_notTheOperatorKeyAtAll12345');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/^provenant audit: authentication failed: .*\(the audit needs the operator key\)$/);
    expect((await audit('ftp://example', srv.operatorKey)).code).toBe(2);
  });

  it('unreachable server, or a server that fails internally: exit 3, never 1', async () => {
    const port = await closedPort();
    const down = await audit(`http://127.0.0.1:${port}`, srv.operatorKey);
    expect(down).toEqual({ code: 3, out: '', err: `provenant audit: cannot reach the server at http://127.0.0.1:${port}/graphql: ECONNREFUSED` });

    // What yoga answers when a resolver throws: a masked internal error.
    const failing = createHttpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ message: 'Unexpected error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } }], data: null }));
    });
    await new Promise<void>((r) => failing.listen(0, '127.0.0.1', () => r()));
    try {
      const r = await audit(`http://127.0.0.1:${(failing.address() as AddressInfo).port}/graphql`, srv.operatorKey);
      expect(r).toEqual({ code: 3, out: '', err: 'provenant audit: the server could not answer: Unexpected error. (INTERNAL_SERVER_ERROR)' });
    } finally {
      await new Promise<void>((r) => failing.close(() => r()));
    }
  });

  it('a tampered event: exit 1 listing the discrepancy', async () => {
    // An attacker with database access disables the append-only trigger first.
    await sql`ALTER TABLE events DISABLE TRIGGER events_append_only`.execute(db.db);
    await sql`UPDATE events SET location = 'Elsewhere'`.execute(db.db);
    await sql`ALTER TABLE events ENABLE TRIGGER events_append_only`.execute(db.db);
    const r = await audit(srv.url, srv.operatorKey);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^audited 1 events \(tree size 1\), 2 items, 2 chain links\nFAILED: 1 discrepancies\n {2}- event .* stored columns or chain links differ from the hashed body \(.*location.*\)$/);
  });
});
