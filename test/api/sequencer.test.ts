import { decodeGlobalID } from '@pothos/plugin-relay';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyCheckpoint } from '../../src/core/checkpoint.ts';
import { findActorsByIds } from '../../src/db/actors.ts';
import type { ActorRow } from '../../src/db/types.ts';
import { auditLedger } from '../../src/services/audit.ts';
import type { LedgerDeps } from '../../src/services/deps.ts';
import { integrateAll, integratePending } from '../../src/services/integrate.ts';
import { recordEvent, recordEventIn } from '../../src/services/record-event.ts';
import { withRetries } from '../../src/services/transaction.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { createTestActor, minutesAgo, registerProductAndBatch, type TestActor } from '../helpers/ledger.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

// The group-commit sequencer: writers commit pending events holding only their items; integration gives leaf
// indexes in batches under one checkpoint each.
let db: TestDatabase;
let srv: TestServer;
let maker: TestActor, dist: TestActor;
let makerRow: ActorRow;
let deps: LedgerDeps;
const GTIN = '04012345222210';
const sgtin = (n: number) => `urn:epc:id:sgtin:4012345.022221.S${String(n).padStart(4, '0')}`;
const ship = (n: number, to = dist) => ({
  kind: 'SHIP' as const,
  items: { refs: [{ kind: 'sgtin' as const, value: sgtin(n) }] },
  occurredAt: minutesAgo(1),
  counterpartyId: decodeGlobalID(to.id).id,
  data: {},
});

async function logFacts() {
  const r = await sql<{ events: number; pending: number; size: number; checkpoints: number; minLeaf: number | null; maxLeaf: number | null }>`
    SELECT (SELECT count(*)::int FROM events) AS events, (SELECT count(*)::int FROM pending_events) AS pending,
           (SELECT size::int FROM log_state) AS size, (SELECT count(*)::int FROM checkpoints) AS checkpoints,
           (SELECT min(leaf_index)::int FROM events) AS "minLeaf", (SELECT max(leaf_index)::int FROM events) AS "maxLeaf"`.execute(db.db);
  return r.rows[0]!;
}

beforeAll(async () => {
  db = await openTestDatabase();
  srv = await startTestServer(db);
  maker = await createTestActor(srv, 'Seq Maker', ['MANUFACTURER'], ['4012345']);
  dist = await createTestActor(srv, 'Seq Dist', ['DISTRIBUTOR']);
  const b = await registerProductAndBatch(srv, maker, { gtin: GTIN, lot: 'Q1', range: { count: 200, firstSerial: 'S0001' } });
  expect(b.__typename).toBe('RegisterBatchSuccess');
  [makerRow] = await findActorsByIds(db.db, [decodeGlobalID(maker.id).id]) as [ActorRow];
  deps = { db: db.db, signer: srv.signer, now: () => new Date(), maxClockSkewMs: 300_000 };
});
afterAll(async () => {
  await srv?.close();
  await db?.dispose();
});

describe('group-commit sequencer', () => {
  it('a written event stays pending until integrated; one integration logs a whole batch under ONE checkpoint, in write order', async () => {
    const before = await logFacts();
    const ids: string[] = [];
    // Five writes committed without integrating (as if each writer died right after its commit).
    for (const n of [1, 2, 3, 4, 5]) {
      const { result, pending } = await withRetries(db.db, (trx) => recordEventIn(trx, deps, makerRow, ship(n)));
      expect(result.kind).toBe('ok');
      expect(pending).toHaveLength(1);
      expect(pending[0]!.leaf_index).toBe(-1);
      ids.push(pending[0]!.id);
    }
    const mid = await logFacts();
    expect(mid).toMatchObject({ events: before.events, pending: 5, size: before.size, checkpoints: before.checkpoints });
    // Read paths only show integrated events: the items' histories do not list the pending SHIPs yet.
    const hist = await srv.gql(`{ item(sgtin: "${sgtin(1)}") { stage events { edges { node { kind } } } } }`, {}, maker.key);
    expect(hist.body.data.item.events.edges.map((e: any) => e.node.kind)).toEqual(['COMMISSION']);

    const r = await integratePending(db.db, srv.signer);
    expect(r).toMatchObject({ integrated: 5, treeSize: before.size + 5 });
    expect([...r.leaves.values()]).toEqual([0, 1, 2, 3, 4].map((i) => before.size + i));
    const after = await logFacts();
    expect(after).toMatchObject({ events: before.events + 5, pending: 0, size: before.size + 5, checkpoints: before.checkpoints + 1 });
    const leaves = await db.db.selectFrom('events').select(['id', 'leaf_index']).where('id', 'in', ids).execute();
    const leafOf = new Map(leaves.map((l) => [l.id, Number(l.leaf_index)]));
    expect(ids.map((id) => leafOf.get(id))).toEqual([0, 1, 2, 3, 4].map((i) => before.size + i));
    const cp = await db.db.selectFrom('checkpoints').select('note').orderBy('tree_size', 'desc').limit(1).executeTakeFirstOrThrow();
    const v = verifyCheckpoint(cp.note, [srv.signer.verifierKey]);
    expect(v.ok && v.value.size).toBe(before.size + 5);
    // Nothing left: another round integrates nothing and signs nothing.
    expect(await integratePending(db.db, srv.signer)).toMatchObject({ integrated: 0, treeSize: before.size + 5 });
    expect((await logFacts()).checkpoints).toBe(after.checkpoints);
  });

  it('the next writer integrates events another writer left pending, and returns its own leaf index', async () => {
    const { pending } = await withRetries(db.db, (trx) => recordEventIn(trx, deps, makerRow, ship(10)));
    const orphan = pending[0]!.id;
    const r = await recordEvent(deps, makerRow, ship(11));
    expect(r.kind).toBe('ok');
    if (r.kind !== 'ok') return;
    const orphanLeaf = await db.db.selectFrom('events').select('leaf_index').where('id', '=', orphan).executeTakeFirstOrThrow();
    expect(r.event.leaf_index).toBe(Number(orphanLeaf.leaf_index) + 1);
    expect((await logFacts()).pending).toBe(0);
  });

  it('40 concurrent writers on disjoint items: every write returns an integrated leaf, leaves are contiguous, checkpoints verify', async () => {
    const before = await logFacts();
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => recordEvent(deps, makerRow, ship(20 + i))));
    const leaves = results.map((r) => (r.kind === 'ok' ? r.event.leaf_index : -2));
    expect(leaves.every((l) => l >= before.size)).toBe(true);
    expect(new Set(leaves).size).toBe(40);
    const after = await logFacts();
    expect(after).toMatchObject({ events: before.events + 40, pending: 0, size: before.size + 40, minLeaf: 0, maxLeaf: before.size + 39 });
    expect(after.checkpoints - before.checkpoints).toBeGreaterThanOrEqual(1);
    expect(after.checkpoints - before.checkpoints).toBeLessThanOrEqual(40);
    const notes = await db.db.selectFrom('checkpoints').select(['tree_size', 'note']).where('tree_size', '>', before.size).execute();
    for (const n of notes) expect(verifyCheckpoint(n.note, [srv.signer.verifierKey]).ok).toBe(true);
  });

  it('30 concurrent writers racing on ONE item: one wins, the chain stays linear, leaves in chain order', async () => {
    const item = 100;
    const first = await recordEvent(deps, makerRow, ship(item));
    expect(first.kind).toBe('ok');
    // 30 racing RECEIVEs by the named receiver: with no log lock, they contend on the item's row alone; exactly one
    // wins, the others then see IN_STOCK and are refused, and nothing is lost or forked.
    const distRow = (await findActorsByIds(db.db, [decodeGlobalID(dist.id).id]))[0]!;
    const receive = { kind: 'RECEIVE' as const, items: { refs: [{ kind: 'sgtin' as const, value: sgtin(item) }] }, occurredAt: minutesAgo(1), data: {} };
    const results = await Promise.all(Array.from({ length: 30 }, () => recordEvent(deps, distRow, receive)));
    expect(results.filter((r) => r.kind === 'ok')).toHaveLength(1);
    expect(results.filter((r) => r.kind === 'InvalidTransitionError')).toHaveLength(29);
    const chain = await sql<{ seq: number; leaf: number }>`
      SELECT l.seq, e.leaf_index::int AS leaf FROM chain_links l JOIN items i ON i.id = l.item_id JOIN events e ON e.id = l.event_id
      WHERE i.sgtin = ${sgtin(item)} ORDER BY l.seq`.execute(db.db);
    expect(chain.rows.map((r) => r.seq)).toEqual([0, 1, 2]);
    const ls = chain.rows.map((r) => r.leaf);
    expect([...ls].sort((a, b) => a - b)).toEqual(ls);
  });

  it('audit is clean with no event pending, and reports pending events without calling them discrepancies', async () => {
    await withRetries(db.db, (trx) => recordEventIn(trx, deps, makerRow, ship(150)));
    const withPending = await auditLedger(db.db, srv.signer.verifierKey);
    expect(withPending.discrepancies).toEqual([]);
    expect(withPending.pending).toBe(1);
    const v = await srv.gql(`{ item(sgtin: "${sgtin(150)}") { chainLength verification { valid length } } }`, {}, maker.key);
    expect(v.body.data.item).toEqual({ chainLength: 2, verification: { valid: true, length: 1 } });
    expect(await integrateAll(db.db, srv.signer)).toBe(1);
    const clean = await auditLedger(db.db, srv.signer.verifierKey);
    expect(clean).toMatchObject({ pending: 0, discrepancies: [] });
  });
});
