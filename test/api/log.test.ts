import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ProofBundleV2, verifyBundleV2 } from '../../src/core/v2/bundle-v2.ts';
import { fromHex } from '../../src/core/bytes.ts';
import { signNote, verifyCheckpoint } from '../../src/core/checkpoint.ts';
import { verifyConsistency, verifyInclusion } from '../../src/core/merkle.ts';
import { runVerify } from '../../src/cli/verify.ts';
import { auditLedger } from '../../src/services/audit.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { createTestActor, lifecycle, minutesAgo, registerProductAndBatch, type TestActor } from '../helpers/ledger.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

let db: TestDatabase;
let srv: TestServer;
let maker: TestActor, dist: TestActor, shop: TestActor;
const GTIN = '04012345111118';
const sgtin = (s: string) => `urn:epc:id:sgtin:4012345.011111.${s}`;
const dir = mkdtempSync(join(tmpdir(), 'pvn-log-'));

async function bundleOf(serial: string, since?: number): Promise<ProofBundleV2> {
  const { body } = await srv.gql(`query($s: String!, $since: Int) { itemProofBundle(sgtin: $s, sinceTreeSize: $since) }`, { s: sgtin(serial), since }, maker.key);
  expect(body.errors).toBeUndefined();
  return body.data.itemProofBundle;
}

async function cli(bundle: unknown, extra: string[] = []): Promise<{ code: number; out: string; err: string }> {
  const file = join(dir, `b-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(bundle));
  const out: string[] = [];
  const err: string[] = [];
  const code = await runVerify([file, '--key', srv.signer.verifierKey, ...extra], { out: (s) => out.push(s), err: (s) => err.push(s) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

beforeAll(async () => {
  db = await openTestDatabase();
  srv = await startTestServer(db);
  maker = await createTestActor(srv, 'Maker', ['MANUFACTURER'], ['4012345']);
  dist = await createTestActor(srv, 'Dist', ['DISTRIBUTOR']);
  shop = await createTestActor(srv, 'Shop', ['RETAILER']);
  await registerProductAndBatch(srv, maker, { gtin: GTIN, lot: 'L1', range: { count: 10, firstSerial: 'S01' } });
  for (const [a, m, extra] of [
    [maker, 'shipItems', { to: dist.id }], [dist, 'receiveItems', {}], [dist, 'shipItems', { to: shop.id }], [shop, 'receiveItems', {}], [shop, 'sellItems', {}],
  ] as const) {
    // Interleave unrelated events so the item's leaves are not contiguous.
    expect((await lifecycle(srv, a, m, { items: [sgtin('S01')], occurredAt: minutesAgo(5), ...extra })).__typename).toBe('RecordEventSuccess');
    expect((await lifecycle(srv, maker, 'destroyItems', { items: [sgtin(`S0${m.length % 8 + 2}`)], occurredAt: minutesAgo(5) })).__typename).toMatch(/RecordEventSuccess|InvalidTransitionError/);
  }
});
afterAll(async () => {
  await srv?.close();
  await db?.dispose();
});

describe('log info, checkpoints and proofs', () => {
  it('publishes the verifier key; every write produced a signed checkpoint; old checkpoints stay retrievable', async () => {
    const { body } = await srv.gql(`{ logInfo { origin verifierKey treeSize } checkpoint { treeSize rootHash note } first: checkpoint(treeSize: 1) { treeSize note } }`, {}, null);
    expect(body.data.logInfo).toEqual({ origin: 'test.provenant/log', verifierKey: srv.signer.verifierKey, treeSize: body.data.checkpoint.treeSize });
    const latest = verifyCheckpoint(body.data.checkpoint.note, [srv.signer.verifierKey]);
    expect(latest.ok && latest.value.size).toBe(body.data.checkpoint.treeSize);
    const first = verifyCheckpoint(body.data.first.note, [srv.signer.verifierKey]);
    expect(first.ok && first.value.size).toBe(1);
    const sizes = await sql<{ n: number }>`SELECT count(*)::int AS n FROM checkpoints`.execute(db.db);
    expect(sizes.rows[0]!.n).toBe(body.data.checkpoint.treeSize);
  });

  it('inclusion and consistency proofs from the API verify with the core verifier', async () => {
    const item = await srv.gql(`{ item(sgtin: "${sgtin('S01')}") { events(first: 10) { edges { node { id leafIndex contentHash } } } } checkpoint { treeSize rootHashHex } }`, {}, maker.key);
    const { treeSize, rootHashHex } = item.body.data.checkpoint;
    for (const { node } of item.body.data.item.events.edges) {
      const p = await srv.gql(`query($id: ID!) { inclusionProof(eventId: $id) { leafIndex treeSize leafHash rootHash proof } }`, { id: node.id }, maker.key);
      const proof = p.body.data.inclusionProof;
      expect(proof).toMatchObject({ leafIndex: node.leafIndex, treeSize, rootHash: rootHashHex });
      expect(verifyInclusion(fromHex(proof.leafHash)!, proof.leafIndex, treeSize, proof.proof.map((h: string) => fromHex(h)!), fromHex(rootHashHex)!)).toEqual({ ok: true, value: true });
    }
    const c = await srv.gql(`{ consistencyProof(fromSize: 3) { fromSize toSize fromRoot toRoot proof } old: checkpoint(treeSize: 3) { rootHashHex } }`, {}, null);
    const cp = c.body.data.consistencyProof;
    expect(cp.fromRoot).toBe(c.body.data.old.rootHashHex);
    expect(verifyConsistency(3, cp.toSize, cp.proof.map((h: string) => fromHex(h)!), fromHex(cp.fromRoot)!, fromHex(cp.toRoot)!)).toEqual({ ok: true, value: true });
    const bad = await srv.gql(`{ consistencyProof(fromSize: 0) { proof } }`, {}, null);
    expect(bad.body.errors[0].extensions).toMatchObject({ code: 'VALIDATION_ERROR', field: 'fromSize' });
  });
});

describe('offline verification of a real item bundle', () => {
  it('verifies with the pinned key (core and CLI, exit 0)', async () => {
    const bundle = await bundleOf('S01');
    // Every event is written in format v2: the bundle proves the history complete as of its checkpoint.
    expect(bundle.format).toBe('provenant-proof-bundle/v2');
    expect(bundle.events.map((e) => e.seq)).toEqual([0, 1, 2, 3, 4, 5]);
    const v = verifyBundleV2(bundle, { verifierKeys: [srv.signer.verifierKey] });
    expect(v).toMatchObject({ ok: true, head: { seq: 5, stage: 'SOLD', recalled: false } });
    const r = await cli(bundle);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^VALID: item urn:epc:id:sgtin:4012345\.011111\.S01: complete as of checkpoint \d+ \(tree size \d+\) of test\.provenant\/log: 6 events, head seq 5, stage SOLD/);
  });

  it('each single corruption fails with exit 1 and a precise message', async () => {
    const good = await bundleOf('S01');
    const clone = (): ProofBundleV2 => structuredClone(good);
    const cases: [string, (b: ProofBundleV2) => void, RegExp][] = [
      ['flipped byte in an event body', (b) => { b.events[2]!.body = b.events[2]!.body.replace('"occurredAt":"2', '"occurredAt":"3'); }, /seq 2: inclusion: event is not proven/],
      ['dropped event', (b) => { b.events.splice(3, 1); }, /seq 4: item-entry: entry.prev is [0-9a-f]{64}, but the previous link/],
      ['dropped latest event (truncation)', (b) => { b.events.splice(5, 1); }, /seq 5: head: the head map says the item's latest event is seq 5, the bundle ends at seq 4: the history is truncated/],
      ['two events swapped', (b) => { const [x, y] = [b.events[1]!, b.events[2]!]; [x.seq, y.seq] = [y.seq, x.seq]; }, /seq 2: item-tree: the item's entry \(seq 2, /],
      ['proof hash changed', (b) => { const p = b.events[4]!.inclusionProof; p[0] = (p[0]!.startsWith('0') ? '1' : '0') + p[0]!.slice(1); }, /seq 4: inclusion: /],
      ['checkpoint signed by another key', (b) => {
        const text = b.checkpoint.slice(0, b.checkpoint.indexOf('\n\n') + 1);
        b.checkpoint = signNote(text, 'test.provenant/log', new Uint8Array(32).fill(7));
      }, /seq -: signature: bundle checkpoint: note has no verifiable signatures/],
    ];
    for (const [what, corrupt, message] of cases) {
      const b = clone();
      corrupt(b);
      const r = await cli(b);
      expect(r.code, what).toBe(1);
      expect(r.out, what).toMatch(/^INVALID: item urn:epc:id:sgtin:4012345\.011111\.S01 /);
      expect(r.out, what).toMatch(message);
    }
  });

  it('a rewritten log fails the consistency check against a checkpoint the auditor kept', async () => {
    const { body } = await srv.gql(`{ checkpoint(treeSize: 4) { note } }`, {}, null);
    const kept = join(dir, 'kept.note');
    writeFileSync(kept, body.data.checkpoint.note);
    // Honest log: the bundle carries a consistency proof from size 4 and verifies.
    expect((await cli(await bundleOf('S01', 4), ['--previous', kept])).code).toBe(0);

    // A second database signed with the same key, whose first 4 leaves differ: the operator rewrote history.
    const db2 = await openTestDatabase();
    const srv2 = await startTestServer(db2);
    Object.assign(srv2.signer, srv.signer);
    try {
      const m2 = await createTestActor(srv2, 'Maker', ['MANUFACTURER'], ['4012345']);
      await registerProductAndBatch(srv2, m2, { gtin: GTIN, lot: 'L1', range: { count: 10, firstSerial: 'S01' } });
      for (let i = 0; i < 6; i++) await lifecycle(srv2, m2, 'destroyItems', { items: [sgtin(`S0${i + 2}`)], occurredAt: minutesAgo(1) });
      const rewritten = (await srv2.gql(`query($s: String!) { itemProofBundle(sgtin: $s, sinceTreeSize: 4) }`, { s: sgtin('S01') }, m2.key)).body.data.itemProofBundle;
      expect(verifyBundleV2(rewritten, { verifierKeys: [srv.signer.verifierKey] }).ok).toBe(true);
      const r = await cli(rewritten, ['--previous', kept]);
      expect(r.code).toBe(1);
      expect(r.out).toMatch(/consistency: the log was rewritten/);
    } finally {
      await srv2.close();
      await db2.dispose();
    }
  });
});

describe('audit', () => {
  it('is clean on an honest ledger and catches an updated event, a deleted link and a forged event', async () => {
    const clean = await auditLedger(db.db, srv.signer.verifierKey);
    expect(clean.discrepancies).toEqual([]);
    expect(clean.events).toBe(clean.treeSize);

    const ev = await sql<{ id: string; leaf_index: number }>`SELECT e.id, e.leaf_index FROM events e WHERE kind = 'RECEIVE' ORDER BY leaf_index LIMIT 1`.execute(db.db);
    await sql`ALTER TABLE events DISABLE TRIGGER events_append_only`.execute(db.db);
    await sql`ALTER TABLE chain_links DISABLE TRIGGER chain_links_append_only`.execute(db.db);
    try {
      await sql`UPDATE events SET occurred_at = occurred_at - interval '1 day' WHERE id = ${ev.rows[0]!.id}`.execute(db.db);
      await sql`DELETE FROM chain_links WHERE item_id = (SELECT id FROM items WHERE serial = 'S05') AND seq = 0`.execute(db.db);
      const last = await sql<{ leaf: number; actor: string }>`SELECT max(leaf_index)::int AS leaf, (SELECT actor_id FROM events LIMIT 1) AS actor FROM events`.execute(db.db);
      await sql`INSERT INTO events (leaf_index, kind, actor_id, occurred_at, tz_offset, recorded_at, body, content_hash, item_count)
        VALUES (${last.rows[0]!.leaf + 1}, 'DESTROY', ${last.rows[0]!.actor}, now(), '+00:00', now(), '{}', decode(repeat('ab', 32), 'hex'), 1)`.execute(db.db);
    } finally {
      await sql`ALTER TABLE events ENABLE TRIGGER events_append_only`.execute(db.db);
      await sql`ALTER TABLE chain_links ENABLE TRIGGER chain_links_append_only`.execute(db.db);
    }
    const report = await auditLedger(db.db, srv.signer.verifierKey);
    const text = report.discrepancies.join("\n");
    expect(text).toMatch(new RegExp(`event ${ev.rows[0]!.id} \\(leaf ${ev.rows[0]!.leaf_index}, RECEIVE\\): stored columns .* differ from the hashed body \\(field occurredAt\\)`));
    expect(text).toMatch(/item urn:epc:id:sgtin:4012345\.011111\.S05: head is at seq 0 but 0 links are stored/);
    expect(text).toMatch(/\(leaf 0, COMMISSION\): stored columns or chain links differ from the hashed body \(field items\)/);
    expect(text).toMatch(/DESTROY\): body hashes to .* stored contentHash abab/);
    expect(text).toMatch(/checkpoint: latest signed checkpoint covers \d+ events, \d+ are stored/);
  });
});
