import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ProofBundleV2, verifyBundleV2 } from '../../src/core/v2/bundle-v2.ts';
import { appendLeaves, leafHash, verifyConsistency, verifyInclusion } from '../../src/core/merkle.ts';
import { toHex } from '../../src/core/bytes.ts';
import { decodeFieldSalts, encodeFieldSalts, fullEventOf } from '../../src/db/event-content.ts';
import { findItemsBySgtins } from '../../src/db/ledger.ts';
import type { EventRow } from '../../src/db/types.ts';
import { findCheckpointRow, STORED_FROM_LEVEL } from '../../src/db/log.ts';
import { auditLedger } from '../../src/services/audit.ts';
import { consistencyProofFor, inclusionProofFor } from '../../src/services/log-proofs.ts';
import { verifyItem } from '../../src/services/verify-item.ts';
import * as migration from '../../migrations/20261126T060004-storage-per-event.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { createTestActor, lifecycle, minutesAgo, registerProductAndBatch, type TestActor } from '../helpers/ledger.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

// Storage per event (issue 11): the log keeps only subtrees of level ≥ STORED_FROM_LEVEL (lower ones are recomputed
// from the events' content hashes), chain links keep no prev_hash (it is the link at seq - 1) and field salts are
// bytes, not a jsonb of hex. Every read path must still prove and verify, and audit must still catch tampering.
let db: TestDatabase;
let srv: TestServer;
let maker: TestActor, dist: TestActor;
const GTIN = '04012345111118';
const sgtin = (s: string) => `urn:epc:id:sgtin:4012345.011111.${s}`;
const SERIALS = Array.from({ length: 24 }, (_, i) => `T${String(i + 1).padStart(2, '0')}`);

beforeAll(async () => {
  db = await openTestDatabase();
  srv = await startTestServer(db);
  maker = await createTestActor(srv, 'Maker', ['MANUFACTURER'], ['4012345']);
  dist = await createTestActor(srv, 'Dist', ['DISTRIBUTOR']);
  expect((await registerProductAndBatch(srv, maker, { gtin: GTIN, lot: 'L1', serials: SERIALS })).__typename).toBe('RegisterBatchSuccess');
  // One leaf per write: 1 COMMISSION + 24 SHIP + 3 RECEIVE = 28 leaves, past one 16-leaf tile.
  for (const s of SERIALS) expect((await lifecycle(srv, maker, 'shipItems', { items: [sgtin(s)], to: dist.id, occurredAt: minutesAgo(5) })).__typename).toBe('RecordEventSuccess');
  for (const s of SERIALS.slice(0, 3)) expect((await lifecycle(srv, dist, 'receiveItems', { items: [sgtin(s)], occurredAt: minutesAgo(4) })).__typename).toBe('RecordEventSuccess');
});
afterAll(async () => {
  await srv?.close();
  await db?.dispose();
});

describe('storage per event', () => {
  it('the log stores exactly the subtrees of level ≥ STORED_FROM_LEVEL; every inclusion and consistency proof verifies', async () => {
    const events = (await sql<{ id: string; content_hash: Uint8Array }>`SELECT id, content_hash FROM events ORDER BY leaf_index`.execute(db.db)).rows;
    const size = events.length;
    expect(size).toBe(28);
    const all = appendLeaves(0, new Map(), events.map((e) => leafHash(e.content_hash)));
    const expected = all.nodes.filter((n) => n.id.level >= STORED_FROM_LEVEL).map((n) => `${n.id.level}:${n.id.index}:${toHex(n.hash)}`).sort();
    const stored = (await sql<{ level: number; index: string; hash: Uint8Array }>`SELECT level, index, hash FROM log_nodes`.execute(db.db)).rows
      .map((n) => `${n.level}:${Number(n.index)}:${toHex(n.hash)}`).sort();
    expect(stored).toEqual(expected);
    expect(stored.length).toBe(1); // the one complete 16-leaf subtree

    const cp = (await findCheckpointRow(db.db))!;
    expect(cp.treeSize).toBe(size);
    expect(toHex(cp.rootHash)).toBe(toHex(all.root));
    for (let i = 0; i < size; i++) {
      const r = await inclusionProofFor(db.db, events[i]!.id);
      if (r.kind !== 'ok') throw new Error(JSON.stringify(r));
      expect(verifyInclusion(r.leafHash, i, size, r.proof, cp.rootHash)).toEqual({ ok: true, value: true });
    }
    for (let from = 1; from <= size; from++) {
      const r = await consistencyProofFor(db.db, from, size);
      if (r.kind !== 'ok') throw new Error(JSON.stringify(r));
      expect(verifyConsistency(from, size, r.proof, r.fromRoot, cp.rootHash)).toEqual({ ok: true, value: true });
    }
    expect((await auditLedger(db.db, srv.signer.verifierKey)).discrepancies).toEqual([]);
  });

  it('the migration down rebuilds every dropped row and column exactly, and up removes them again', async () => {
    const events = (await sql<{ content_hash: Uint8Array }>`SELECT content_hash FROM events ORDER BY leaf_index`.execute(db.db)).rows;
    const all = appendLeaves(0, new Map(), events.map((e) => leafHash(e.content_hash)));
    const key = (n: { level: number; index: number | string; hash: Uint8Array }) => `${n.level}:${Number(n.index)}:${toHex(n.hash)}`;
    const saltsBefore = (await sql<{ id: string; field_salts: Uint8Array | null }>`SELECT id, field_salts FROM events ORDER BY leaf_index`.execute(db.db)).rows;
    expect(saltsBefore.filter((r) => r.field_salts && r.field_salts.length > 0)).toHaveLength(28);
    await migration.down(db.db);
    try {
      const json = (await sql<{ id: string; field_salts: Record<string, string> | null }>`SELECT id, field_salts FROM events ORDER BY leaf_index`.execute(db.db)).rows;
      expect(json).toEqual(saltsBefore.map((r) => ({ id: r.id, field_salts: r.field_salts && decodeFieldSalts(r.field_salts) })));
      const nodes = (await sql<{ level: number; index: string; hash: Uint8Array }>`SELECT level, index, hash FROM log_nodes`.execute(db.db)).rows.map(key).sort();
      expect(nodes).toEqual(all.nodes.map((n) => key({ ...n.id, hash: n.hash })).sort());
      const links = await sql<{ ok: boolean; n: number }>`
        SELECT bool_and(l.prev_hash = coalesce(p.hash, decode(repeat('00', 32), 'hex'))) AS ok, count(*)::int AS n
        FROM chain_links l LEFT JOIN chain_links p ON p.item_id = l.item_id AND p.seq = l.seq - 1`.execute(db.db);
      expect(links.rows[0]).toEqual({ ok: true, n: 24 + 24 + 3 });
    } finally {
      await migration.up(db.db);
    }
    expect((await sql<{ n: number }>`SELECT count(*)::int AS n FROM log_nodes WHERE level < ${STORED_FROM_LEVEL}`.execute(db.db)).rows[0]!.n).toBe(0);
    // The SQL conversion writes the very bytes the application writes.
    const saltsAfter = (await sql<{ id: string; field_salts: Uint8Array | null }>`SELECT id, field_salts FROM events ORDER BY leaf_index`.execute(db.db)).rows;
    expect(saltsAfter.map((r) => r.field_salts && toHex(r.field_salts))).toEqual(saltsBefore.map((r) => r.field_salts && toHex(r.field_salts)));
    expect((await auditLedger(db.db, srv.signer.verifierKey)).discrepancies).toEqual([]);
  });

  it('field salts are stored compactly (name and 16 bytes each) and read back exactly; malformed bytes are a reported problem', async () => {
    const salt = (i: number) => i.toString(16).padStart(2, '0').repeat(16);
    const long = 'n'.repeat(200); // a two-byte length
    const salts = { actor: salt(1), 'prix €': salt(2), [long]: salt(3), '': salt(4) };
    const bytes = encodeFieldSalts(salts);
    expect(bytes.length).toBe(1 + 5 + 16 + 1 + Buffer.byteLength('prix €') + 16 + 2 + 200 + 16 + 1 + 0 + 16);
    expect(decodeFieldSalts(bytes)).toEqual(salts);
    expect(decodeFieldSalts(null)).toEqual({});
    expect(() => encodeFieldSalts({ actor: 'AB'.repeat(16) })).toThrow(RangeError);
    expect(() => decodeFieldSalts(bytes.subarray(0, bytes.length - 1))).toThrow(/malformed/);
    const stored = (await sql<EventRow>`SELECT * FROM events WHERE kind = 'SHIP' LIMIT 1`.execute(db.db)).rows[0]!;
    expect('event' in fullEventOf(stored)).toBe(true);
    expect(fullEventOf({ ...stored, field_salts: stored.field_salts!.subarray(1) })).toEqual({ problem: 'stored field salts are malformed' });
  });

  it('chain links store no prev_hash; verification and bundles derive it; audit still catches a rewritten link hash', async () => {
    const cols = await sql<{ column_name: string }>`SELECT column_name FROM information_schema.columns WHERE table_name = 'chain_links' AND table_schema = current_schema()`.execute(db.db);
    expect(cols.rows.map((c) => c.column_name)).not.toContain('prev_hash');

    const [item] = await findItemsBySgtins(db.db, [sgtin('T01')]);
    expect(item!.head_seq).toBe(2);
    expect(await verifyItem(db.db, item!)).toMatchObject({ valid: true, length: 3 });
    const { body } = await srv.gql(`query($s: String!) { itemProofBundle(sgtin: $s) }`, { s: sgtin('T01') }, maker.key);
    expect(body.errors).toBeUndefined();
    const bundle = body.data.itemProofBundle as ProofBundleV2;
    expect(verifyBundleV2(bundle, { verifierKeys: [srv.signer.verifierKey] }).ok).toBe(true);

    // Rewrite the middle link's hash: its own recomputation fails, and so does the next event's items tree (whose
    // entry commits to it as prev).
    await sql`ALTER TABLE chain_links DISABLE TRIGGER chain_links_append_only`.execute(db.db);
    try {
      await sql`UPDATE chain_links SET hash = decode(repeat('cd', 32), 'hex') WHERE item_id = ${item!.id} AND seq = 1`.execute(db.db);
    } finally {
      await sql`ALTER TABLE chain_links ENABLE TRIGGER chain_links_append_only`.execute(db.db);
    }
    const text = (await auditLedger(db.db, srv.signer.verifierKey)).discrepancies.join('\n');
    expect(text).toMatch(/item urn:epc:id:sgtin:4012345\.011111\.T01 seq 1: link hash does not match/);
    expect(text).toMatch(/RECEIVE\): stored columns or chain links differ from the hashed body \(field items\)/);
    expect(await verifyItem(db.db, item!)).toMatchObject({ valid: false });
  });
});
