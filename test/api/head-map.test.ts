import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toHex } from '../../src/core/bytes.ts';
import { decodeBase64, parseCheckpoint } from '../../src/core/checkpoint.ts';
import type { Stage } from '../../src/core/lifecycle.ts';
import { randomBytes } from 'node:crypto';
import { BUCKET_SIZE, HEADS_EXTENSION_PREFIX, MemoryHeadMapStore, buildHeadMap, foldHeadProof, headKey, headValue, prefixOf, proveHead, updateHeadMap } from '../../src/core/v2/head-map.ts';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { canonicalize } from '../../src/core/jcs.ts';
import { utf8 } from '../../src/core/bytes.ts';
import { verifyItemStatement } from '../../src/core/v2/statement.ts';
import { verifyAnyBundle } from '../../src/core/verify-any.ts';
import { allLoggedHeads, sqlHeadMapStore } from '../../src/db/head-map.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { createTestActor, lifecycle, minutesAgo, registerProductAndBatch, type TestActor } from '../helpers/ledger.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

// The head map: every integrated batch moves it and its root is bound to the batch's signed checkpoint; the public
// item statement proves an item's stage and recall flag as of that checkpoint with the log key alone.
let db: TestDatabase;
let srv: TestServer;
let maker: TestActor, dist: TestActor;
const GTIN = '04012345444414';
const sgtin = (n: number) => `urn:epc:id:sgtin:4012345.044441.H${n}`;

async function statement(n: number) {
  const r = await srv.gql(`query($s: String!) { itemStatement(sgtin: $s) }`, { s: sgtin(n) }, null);
  expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
  return r.body.data.itemStatement;
}

/** The root of a map rebuilt from scratch over every item's logged head, and the root the latest checkpoint binds. */
async function roots() {
  const heads = await allLoggedHeads(db.db);
  const rebuilt = buildHeadMap(heads.map((h) => ({ key: headKey(h.sgtin), value: headValue({ seq: h.seq, link: toHex(h.link), stage: h.stage as Stage, recalled: h.recalled }) }))).root;
  const cp = await db.db.selectFrom('checkpoints').select('note').orderBy('tree_size', 'desc').limit(1).executeTakeFirstOrThrow();
  const body = parseCheckpoint(cp.note.slice(0, cp.note.lastIndexOf('\n\n') + 1));
  const line = body.ok ? body.value.extensions.find((e) => e.startsWith(HEADS_EXTENSION_PREFIX)) : undefined;
  return { rebuilt: toHex(rebuilt), bound: line ? toHex(decodeBase64(line.slice(HEADS_EXTENSION_PREFIX.length))!) : null };
}

beforeAll(async () => {
  db = await openTestDatabase();
  srv = await startTestServer(db);
  maker = await createTestActor(srv, 'Heads Maker', ['MANUFACTURER'], ['4012345']);
  dist = await createTestActor(srv, 'Heads Dist', ['DISTRIBUTOR']);
  const b = await registerProductAndBatch(srv, maker, { gtin: GTIN, lot: 'HM1', range: { count: 5, firstSerial: 'H1' } });
  expect(b.__typename).toBe('RegisterBatchSuccess');
});
afterAll(async () => {
  await srv?.close();
  await db?.dispose();
});

describe('head map and item statements', () => {
  it('every checkpoint binds the head map, and the incrementally kept map equals one rebuilt from every item', async () => {
    const start = await roots();
    expect(start.bound).not.toBeNull();
    expect(start.bound).toBe(start.rebuilt);
    const r = await lifecycle(srv, maker, 'shipItems', { items: [sgtin(1), sgtin(2)], to: dist.id, occurredAt: minutesAgo(5) });
    expect(r.__typename).toBe('RecordEventSuccess');
    const after = await roots();
    expect(after.bound).toBe(after.rebuilt);
  });

  it('anyone can fetch an item statement; it verifies offline with the log key and says stage and recall', async () => {
    const s = await statement(1);
    const v = verifyItemStatement(s, { verifierKeys: [srv.signer.verifierKey] });
    expect(v.ok, JSON.stringify(v)).toBe(true);
    if (!v.ok) return;
    expect(v.head).toMatchObject({ stage: 'IN_TRANSIT', recalled: false, seq: 1 });
    expect(v.summary).toMatch(/^stage IN_TRANSIT, not recalled, latest event seq 1, as of checkpoint \d+/);
    // The CLI's dispatcher verifies it too.
    expect(verifyAnyBundle(s, { verifierKeys: [srv.signer.verifierKey] }).ok).toBe(true);
    // An unshipped item of the same batch is MANUFACTURED at seq 0; an unknown serial has no statement.
    expect(verifyItemStatement(await statement(3), { verifierKeys: [srv.signer.verifierKey] })).toMatchObject({ ok: true, head: { stage: 'MANUFACTURED', seq: 0 } });
    expect(await statement(99)).toBeNull();
  });

  it('a recall shows in the next statement; an altered stage or recall flag fails the head check; another key fails the signature', async () => {
    const before = await statement(3);
    const recall = await srv.gql(`mutation { recallBatch(input: { gtin: "${GTIN}", lot: "HM1", reason: "valve" }) { __typename } }`, {}, maker.key);
    expect(recall.body.data.recallBatch.__typename).toBe('RecallBatchSuccess');
    const after = await statement(3);
    expect(verifyItemStatement(after, { verifierKeys: [srv.signer.verifierKey] })).toMatchObject({ ok: true, head: { stage: 'MANUFACTURED', recalled: true, seq: 1 } });
    // The older statement still verifies against its own (older) checkpoint: freshness is the reader's to judge.
    expect(verifyItemStatement(before, { verifierKeys: [srv.signer.verifierKey] })).toMatchObject({ ok: true, head: { recalled: false } });
    for (const forged of [{ ...after, head: { ...after.head, recalled: false } }, { ...after, head: { ...after.head, stage: 'SOLD' } }, { ...after, head: { ...after.head, seq: 0 } }]) {
      expect(verifyItemStatement(forged, { verifierKeys: [srv.signer.verifierKey] })).toMatchObject({ ok: false, failure: { check: 'head' } });
    }
    // A statement of another item with this item's head does not verify either.
    expect(verifyItemStatement({ ...after, sgtin: sgtin(4) }, { verifierKeys: [srv.signer.verifierKey] })).toMatchObject({ ok: false, failure: { check: 'head' } });
    const other = (await import('../helpers/server.ts')).testSigner();
    expect(verifyItemStatement(after, { verifierKeys: [other.verifierKey] })).toMatchObject({ ok: false, failure: { check: 'signature' } });
  });

  it('a ledger whose log predates the map gets it built whole at the next integration', async () => {
    await sql`DELETE FROM head_map_nodes`.execute(db.db);
    const r = await lifecycle(srv, dist, 'receiveItems', { items: [sgtin(1)], occurredAt: minutesAgo(1) });
    expect(r.__typename).toBe('RecordEventSuccess');
    const after = await roots();
    expect(after.bound).toBe(after.rebuilt);
    expect(verifyItemStatement(await statement(2), { verifierKeys: [srv.signer.verifierKey] })).toMatchObject({ ok: true, head: { stage: 'IN_TRANSIT', recalled: true } });
  });

  it('the SQL node store keeps the same map as the in-memory one over random batches of new and updated keys', async () => {
    // node-postgres returns bytea as Buffers, whose slice() is a view: a key read back from the store once got
    // masked in place when its prefix was computed, and the map forked (caught on PostgreSQL only).
    await sql`DELETE FROM head_map_nodes`.execute(db.db);
    const memory = new MemoryHeadMapStore();
    const all = new Map<string, { key: Uint8Array; value: Uint8Array }>();
    const keys: Uint8Array[] = [];
    for (let round = 0; round < 30; round++) {
      const updates = Array.from({ length: 1 + (round % 5) }, (_, i) => {
        const key = keys.length > 0 && (round + i) % 2 === 0 ? keys[(round * 7 + i) % keys.length]! : new Uint8Array(randomBytes(32));
        if (!keys.includes(key)) keys.push(key);
        const e = { key, value: new Uint8Array(randomBytes(32)) };
        all.set(toHex(key), e);
        return e;
      });
      const stored = await db.db.transaction().execute((trx) => updateHeadMap(sqlHeadMapStore(trx), updates));
      const inMemory = await updateHeadMap(memory, updates);
      expect(toHex(stored.root), `round ${round}`).toBe(toHex(inMemory.root));
      expect(toHex(stored.root), `round ${round}`).toBe(toHex(buildHeadMap([...all.values()]).root));
    }
    // prefixOf never writes into the key it is given, whatever its class.
    const key = Buffer.from(randomBytes(32));
    const before = Buffer.from(key);
    prefixOf(key, 5);
    expect(key.equals(before)).toBe(true);
  });

  it('stored in buckets: big batches of new keys split buckets, and the proof of a key from the SQL store folds to the rebuilt root', async () => {
    await sql`DELETE FROM head_map_nodes`.execute(db.db);
    const all = new Map<string, { key: Uint8Array; value: Uint8Array }>();
    const fresh = (n: number) => Array.from({ length: n }, () => ({ key: new Uint8Array(randomBytes(32)), value: new Uint8Array(randomBytes(32)) }));
    // One key, a lot far bigger than a bucket, updates of existing keys mixed with new ones, then one more key.
    const first = fresh(1);
    const lot = fresh(BUCKET_SIZE * 40);
    const mixed = [...[...lot.slice(0, 30), ...first].map((e) => ({ key: e.key, value: new Uint8Array(randomBytes(32)) })), ...fresh(BUCKET_SIZE * 3)];
    for (const updates of [first, lot, mixed, fresh(1)]) {
      for (const e of updates) all.set(toHex(e.key), e);
      const stored = await db.db.transaction().execute((trx) => updateHeadMap(sqlHeadMapStore(trx), updates));
      expect(toHex(stored.root)).toBe(toHex(buildHeadMap([...all.values()]).root));
    }
    const rows = await sql<{ buckets: number; inner: number; most: number }>`
      SELECT count(*) FILTER (WHERE entries IS NOT NULL)::int AS buckets, count(*) FILTER (WHERE entries IS NULL)::int AS inner,
             max(length(entries))::int / 64 AS most FROM head_map_nodes`.execute(db.db);
    const { buckets, inner, most } = rows.rows[0]!;
    expect(most).toBeLessThanOrEqual(BUCKET_SIZE);
    expect(buckets + inner).toBeLessThan(all.size / 2); // one row per node would be ≈ 2 per key
    const root = buildHeadMap([...all.values()]).root;
    for (const e of [...all.values()].filter((_, i) => i % 7 === 0)) {
      const p = (await proveHead(sqlHeadMapStore(db.db), e.key))!;
      expect(toHex(p.value)).toBe(toHex(e.value));
      expect(toHex(foldHeadProof(e.key, p.value, p.siblings)!)).toBe(toHex(root));
    }
    expect(await proveHead(sqlHeadMapStore(db.db), new Uint8Array(randomBytes(32)))).toBeUndefined();
    // A write of one item reads its whole path in one round trip (not one query per depth).
    let calls = 0;
    const one = [{ key: [...all.values()][3]!.key, value: new Uint8Array(randomBytes(32)) }];
    all.set(toHex(one[0]!.key), one[0]!);
    const stored = await db.db.transaction().execute((trx) => {
      const inner = sqlHeadMapStore(trx);
      return updateHeadMap({ get: (d, p) => (calls++, inner.get(d, p)), getMany: (r) => (calls++, inner.getMany!(r)), put: (w) => inner.put(w) }, one);
    });
    expect(calls).toBe(1);
    expect(toHex(stored.root)).toBe(toHex(buildHeadMap([...all.values()]).root));
  });

  it('the head value is SHA-256 over the JCS text of the head, whatever the values', () => {
    const reference = (h: { link: unknown; recalled: unknown; seq: unknown; stage: unknown }) =>
      toHex(nobleSha256(utf8(`provenant:head:v2\n${canonicalize({ link: h.link, recalled: h.recalled, seq: h.seq, stage: h.stage })}`)));
    const heads = [
      { link: 'ab'.repeat(32), recalled: false, seq: 0, stage: 'MANUFACTURED' },
      { link: 'cd'.repeat(32), recalled: true, seq: 123456789, stage: 'IN_TRANSIT' },
      { link: 'x"\\\u2028\u0001é', recalled: false, seq: 1e21, stage: 'ü"' },
      { link: 'ab', recalled: false, seq: -0, stage: 'SOLD' },
      { link: 'ab', recalled: null, seq: 1.5, stage: 'SOLD' },
    ];
    for (const h of heads) expect(toHex(headValue(h as never))).toBe(reference(h));
    expect(() => headValue({ link: 'ab', recalled: false, seq: Number.NaN, stage: 'SOLD' })).toThrow(TypeError);
  });
});
