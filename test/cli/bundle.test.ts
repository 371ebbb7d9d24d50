import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBundle, runCheckpoint } from '../../src/cli/bundle.ts';
import { runVerify } from '../../src/cli/verify.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { createTestActor, lifecycle, minutesAgo, registerProductAndBatch, type TestActor } from '../helpers/ledger.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

// `provenant checkpoint` → later `provenant bundle --since` → `provenant verify --previous`, against a real server.
let db: TestDatabase;
let srv: TestServer;
let maker: TestActor;
let stranger: TestActor;
const GTIN = '04012345111118';
const SGTIN = 'urn:epc:id:sgtin:4012345.011111.B1';
const dir = mkdtempSync(join(tmpdir(), 'pvn-bundle-'));
const path = (name: string) => join(dir, name);

beforeAll(async () => {
  db = await openTestDatabase();
  srv = await startTestServer(db);
  maker = await createTestActor(srv, 'Bundle Maker', ['MANUFACTURER'], ['4012345']);
  stranger = await createTestActor(srv, 'Stranger', ['DISTRIBUTOR']);
  expect((await registerProductAndBatch(srv, maker, { gtin: GTIN, lot: 'L1', serials: ['B1', 'B2'] })).__typename).toBe('RegisterBatchSuccess');
});
afterAll(async () => {
  await srv?.close();
  await db?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

async function run(fn: typeof runBundle, args: string[], env: NodeJS.ProcessEnv = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await fn(args, { out: (s) => out.push(s), err: (s) => err.push(s), env });
  return { code, out: out.join('\n'), err: err.join('\n') };
}
const verify = (args: string[]) => run((a, io) => runVerify(a, io), args);

describe('provenant checkpoint, bundle and verify --previous, end to end', () => {
  it('saves a checkpoint, then a bundle since it, which verifies as consistent (exit 0)', async () => {
    const saved = await run(runCheckpoint, ['--server', srv.url, '-o', path('prev.checkpoint')]);
    expect(saved).toEqual({ code: 0, out: '', err: `wrote the signed checkpoint of tree size 1 to ${path('prev.checkpoint')}` });
    const { body } = await srv.gql('{ checkpoint { note } }');
    expect(readFileSync(path('prev.checkpoint'), 'utf8')).toBe(body.data.checkpoint.note);

    // The log grows after the checkpoint was kept.
    expect((await registerProductAndBatch(srv, maker, { gtin: GTIN, lot: 'L2', serials: ['B3'] })).__typename).toBe('RegisterBatchSuccess');

    const fetched = await run(runBundle, [SGTIN, '--server', srv.url, '--key', maker.key, '--since', path('prev.checkpoint'), '-o', path('item.json')]);
    expect(fetched).toEqual({ code: 0, out: '', err: `wrote the proof bundle of ${SGTIN} to ${path('item.json')}` });
    const bundle = JSON.parse(readFileSync(path('item.json'), 'utf8'));
    expect(bundle).toMatchObject({ format: 'provenant-proof-bundle/v2', item: { sgtin: SGTIN }, consistency: { fromSize: 1 } });

    const v = await verify([path('item.json'), '--key', srv.signer.verifierKey, '--previous', path('prev.checkpoint')]);
    expect(v).toEqual({
      code: 0,
      out: expect.stringMatching(/^VALID: item urn:epc:id:sgtin:4012345\.011111\.B1: complete as of checkpoint 2 \(tree size 2\) of .+: 1 event, head seq 0, stage MANUFACTURED, not recalled; the log extends the previous checkpoint \(tree size 1\)$/),
      err: '',
    });
  });

  it('names the item by Digital Link, takes the key from PROVENANT_API_KEY and a numeric --since, writes to stdout what the query returns', async () => {
    const item = await srv.gql(`{ item(sgtin: "${SGTIN}") { digitalLink } }`, {}, maker.key);
    const dl = item.body.data.item.digitalLink as string;
    const r = await run(runBundle, [dl, '--since', '1'], { PROVENANT_SERVER: srv.origin, PROVENANT_API_KEY: maker.key });
    expect(r.code, r.err).toBe(0);
    const viaApi = await srv.gql(`{ itemProofBundle(sgtin: "${SGTIN}", sinceTreeSize: 1) }`, {}, maker.key);
    expect(JSON.parse(r.out)).toEqual(viaApi.body.data.itemProofBundle);
    writeFileSync(path('stdout.json'), r.out);
    expect((await verify([path('stdout.json'), '--key', srv.signer.verifierKey])).code).toBe(0);
  });

  it('a checkpoint of a given size, and the latest to stdout, exactly as signed', async () => {
    const one = await run(runCheckpoint, ['--server', srv.url, '--size', '1']);
    expect(one.code).toBe(0);
    expect(one.out + '\n').toBe(readFileSync(path('prev.checkpoint'), 'utf8'));
    const none = await run(runCheckpoint, ['--server', srv.url, '--size', '99']);
    expect(none).toEqual({ code: 1, out: '', err: 'provenant checkpoint: no signed checkpoint of tree size 99' });
  });

  it('a consumer (an actor with no roles) buys an item, records use, and fetches and verifies its bundle (public history)', async () => {
    const shop = await createTestActor(srv, 'Corner Shop', ['RETAILER']);
    const jane = await createTestActor(srv, 'Jane Doe', []);
    const PUBLIC_GTIN = '04012345222227';
    const made = await srv.gql('mutation($i: RegisterProductInput!) { registerProduct(input: $i) { __typename } }', { i: { gtin: PUBLIC_GTIN, name: 'Kettle', publicHistory: true } }, maker.key);
    expect(made.body.data.registerProduct.__typename).toBe('RegisterProductSuccess');
    expect((await registerProductAndBatch(srv, maker, { gtin: PUBLIC_GTIN, lot: 'P1', serials: ['K1'], producedAt: minutesAgo(60) })).__typename).toBe('RegisterBatchSuccess');
    const kettle = 'urn:epc:id:sgtin:4012345.022222.K1';
    const items = [kettle];
    expect((await lifecycle(srv, maker, 'shipItems', { items, to: shop.id, occurredAt: minutesAgo(50) })).__typename).toBe('RecordEventSuccess');
    expect((await lifecycle(srv, shop, 'receiveItems', { items, occurredAt: minutesAgo(40) })).__typename).toBe('RecordEventSuccess');
    expect((await lifecycle(srv, shop, 'sellItems', { items, buyer: jane.id, price: 19.99, currency: 'EUR', occurredAt: minutesAgo(30) })).__typename).toBe('RecordEventSuccess');
    expect((await lifecycle(srv, jane, 'recordUse', { items, kind: 'ACTIVATE', occurredAt: minutesAgo(20) })).__typename).toBe('RecordEventSuccess');
    // No roles: the owner cannot sell on.
    expect((await lifecycle(srv, jane, 'sellItems', { items, occurredAt: minutesAgo(10) })).__typename).not.toBe('RecordEventSuccess');

    const r = await run(runBundle, [kettle, '--server', srv.url, '--key', jane.key, '-o', path('kettle.json')]);
    expect(r.code, r.err).toBe(0);
    const v = await verify([path('kettle.json'), '--key', srv.signer.verifierKey]);
    expect(v.out).toMatch(/^VALID: item urn:epc:id:sgtin:4012345\.022222\.K1: complete as of checkpoint \d+ \(tree size \d+\) of .+: 5 events, head seq 4, stage IN_USE, not recalled$/);
    // Jane bought it: a participant, so the sale's buyer and price are opened to her, not withheld.
    const kettleBundle = JSON.parse(readFileSync(path('kettle.json'), 'utf8'));
    expect(kettleBundle.events[3].fields).toMatchObject({ buyer: { value: expect.any(String) }, price: { value: 19.99 }, currency: { value: 'EUR' } });
  });

  it('unknown or invisible item: exit 1 "not found", nothing written', async () => {
    for (const [item, key] of [['urn:epc:id:sgtin:4012345.011111.NOPE', maker.key], [SGTIN, stranger.key]] as const) {
      const r = await run(runBundle, [item, '--server', srv.url, '--key', key, '-o', path('nope.json')]);
      expect(r).toEqual({ code: 1, out: '', err: `provenant bundle: item ${item} not found (or not visible to this API key)` });
    }
    expect(() => readFileSync(path('nope.json'))).toThrow(/ENOENT/);
  });

  it('a refused key is exit 2 (authentication failed), a missing one a usage error', async () => {
    const bad = await run(runBundle, [SGTIN, '--server', srv.url, '--key', 'pvn_notAKeyAtAllButLongEnough123']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/^provenant bundle: authentication failed: .* \(pass a valid key with --key or PROVENANT_API_KEY\)$/);
    const none = await run(runBundle, [SGTIN, '--server', srv.url]);
    expect(none.code).toBe(2);
    expect(none.err).toMatch(/^provenant bundle: no API key: pass --key or set PROVENANT_API_KEY\nUsage: provenant bundle/);
  });

  it('an unreachable server is exit 3', async () => {
    const s = createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
    const { port } = s.address() as AddressInfo;
    await new Promise<void>((r) => s.close(() => r()));
    const r = await run(runBundle, [SGTIN, '--server', `http://127.0.0.1:${port}/graphql`, '--key', maker.key]);
    expect(r).toEqual({ code: 3, out: '', err: `provenant bundle: cannot reach the server at http://127.0.0.1:${port}/graphql: ECONNREFUSED` });
    const c = await run(runCheckpoint, ['--server', `http://127.0.0.1:${port}`]);
    expect(c.code).toBe(3);
  });

  it('usage errors: no item, not an item reference, bad --since, unknown option (exit 2)', async () => {
    expect((await run(runBundle, [])).err).toMatch(/^provenant bundle: name the item/);
    const notItem = await run(runBundle, ['B1', '--key', maker.key]);
    expect(notItem.code).toBe(2);
    expect(notItem.err).toMatch(/"B1" is neither an SGTIN URN/);
    const since = await run(runBundle, [SGTIN, '--key', maker.key, '--since', path('missing.checkpoint')]);
    expect(since.code).toBe(2);
    expect(since.err).toMatch(/--since .*missing\.checkpoint: not a tree size, and cannot read it as a checkpoint file: ENOENT/);
    const opt = await run(runBundle, [SGTIN, '--frobnicate']);
    expect(opt.code).toBe(2);
    expect(opt.err).toMatch(/Unknown option '--frobnicate'/);
    expect((await run(runBundle, ['--help'])).out).toMatch(/^Usage: provenant bundle /);
    expect((await run(runCheckpoint, ['--help'])).out).toMatch(/^Usage: provenant checkpoint /);
  });
});
