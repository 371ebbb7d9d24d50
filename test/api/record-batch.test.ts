import { decodeGlobalID } from '@pothos/plugin-relay';
import { type KyselyPlugin, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyCheckpoint } from '../../src/core/checkpoint.ts';
import { findActorsByIds } from '../../src/db/actors.ts';
import type { ActorRow } from '../../src/db/types.ts';
import { auditLedger } from '../../src/services/audit.ts';
import type { LedgerDeps } from '../../src/services/deps.ts';
import { recordEvent, type RecordEventInput, recordEventIn } from '../../src/services/record-event.ts';
import { withRetries } from '../../src/services/transaction.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { createTestActor, minutesAgo, registerProductAndBatch, type TestActor } from '../helpers/ledger.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

// Group commit of lifecycle writes (src/services/record-batch.ts): concurrent recordEvent calls are decided and
// written together in one transaction that also logs them under one checkpoint; each is decided as if alone.
let db: TestDatabase;
let srv: TestServer;
let maker: TestActor, dist: TestActor;
let makerRow: ActorRow, distRow: ActorRow;
let deps: LedgerDeps;
const GTIN = '04012345333312';
const sgtin = (n: number) => `urn:epc:id:sgtin:4012345.033331.B${String(n).padStart(4, '0')}`;
const refs = (...ns: number[]) => ({ refs: ns.map((n) => ({ kind: 'sgtin' as const, value: sgtin(n) })) });
const ship = (n: number, extra: Partial<RecordEventInput> = {}): RecordEventInput => ({
  kind: 'SHIP', items: refs(n), occurredAt: minutesAgo(1), counterpartyId: distRow.id, data: {}, ...extra,
});

async function logFacts() {
  const r = await sql<{ events: number; pending: number; size: number; checkpoints: number }>`
    SELECT (SELECT count(*)::int FROM events) AS events, (SELECT count(*)::int FROM pending_events) AS pending,
           (SELECT size::int FROM log_state) AS size, (SELECT count(*)::int FROM checkpoints) AS checkpoints`.execute(db.db);
  return r.rows[0]!;
}

async function chainOf(n: number) {
  return (await sql<{ seq: number; kind: string; leaf: number }>`
    SELECT l.seq, e.kind, e.leaf_index::int AS leaf FROM chain_links l JOIN items i ON i.id = l.item_id JOIN events e ON e.id = l.event_id
    WHERE i.sgtin = ${sgtin(n)} ORDER BY l.seq`.execute(db.db)).rows;
}

beforeAll(async () => {
  db = await openTestDatabase();
  srv = await startTestServer(db);
  maker = await createTestActor(srv, 'Batch Maker', ['MANUFACTURER'], ['4012345']);
  dist = await createTestActor(srv, 'Batch Dist', ['DISTRIBUTOR']);
  const b = await registerProductAndBatch(srv, maker, { gtin: GTIN, lot: 'G1', range: { count: 120, firstSerial: 'B0001' } });
  expect(b.__typename).toBe('RegisterBatchSuccess');
  [makerRow] = await findActorsByIds(db.db, [decodeGlobalID(maker.id).id]) as [ActorRow];
  [distRow] = await findActorsByIds(db.db, [decodeGlobalID(dist.id).id]) as [ActorRow];
  deps = { db: db.db, signer: srv.signer, now: () => new Date(), maxClockSkewMs: 300_000 };
});
afterAll(async () => {
  await srv?.close();
  await db?.dispose();
});

describe('group commit of lifecycle writes', () => {
  it('concurrent writes on disjoint items are logged in batches: contiguous leaves, fewer checkpoints than writes, nothing pending, each checkpoint verifies', async () => {
    const before = await logFacts();
    const results = await Promise.all(Array.from({ length: 24 }, (_, i) => recordEvent(deps, makerRow, ship(i + 1))));
    expect(results.every((r) => r.kind === 'ok')).toBe(true);
    const leaves = results.map((r) => (r.kind === 'ok' ? r.event.leaf_index : -1)).sort((a, b) => a - b);
    expect(leaves).toEqual(Array.from({ length: 24 }, (_, i) => before.size + i));
    const after = await logFacts();
    expect(after.events - before.events).toBe(24);
    expect(after.pending).toBe(0);
    // Group commit: the first write runs alone, the 23 that arrived meanwhile share the next batch (one checkpoint).
    expect(after.checkpoints - before.checkpoints).toBeLessThanOrEqual(3);
    const cps = await sql<{ note: string }>`SELECT note FROM checkpoints WHERE tree_size > ${before.size} ORDER BY tree_size`.execute(db.db);
    for (const c of cps.rows) expect(verifyCheckpoint(c.note, [srv.signer.verifierKey]).ok).toBe(true);
    for (const n of [1, 12, 24]) expect((await chainOf(n)).map((l) => l.kind)).toEqual(['COMMISSION', 'SHIP']);
  });

  it('two writes on one item in the same burst run one after the other: the second sees the first (one SHIP wins, the other is refused)', async () => {
    const [a, b] = await Promise.all([recordEvent(deps, makerRow, ship(30)), recordEvent(deps, makerRow, ship(30))]);
    const kinds = [a.kind, b.kind].sort();
    expect(kinds).toEqual(['InvalidTransitionError', 'ok']);
    const chain = await chainOf(30);
    expect(chain.map((l) => l.kind)).toEqual(['COMMISSION', 'SHIP']);
    // Then a receive of the same item in the same burst as another ship: chain order equals leaf order.
    const [recv, other] = await Promise.all([
      recordEvent(deps, distRow, { kind: 'RECEIVE', items: refs(30), occurredAt: minutesAgo(1), data: {} }),
      recordEvent(deps, makerRow, ship(31)),
    ]);
    expect([recv.kind, other.kind]).toEqual(['ok', 'ok']);
    const c30 = await chainOf(30);
    expect(c30.map((l) => l.kind)).toEqual(['COMMISSION', 'SHIP', 'RECEIVE']);
    expect(c30[2]!.leaf).toBeGreaterThan(c30[1]!.leaf);
  });

  it('a write that fails its checks answers its own failure and writes nothing; the others of its batch are written', async () => {
    const before = await logFacts();
    const [ok1, missing, invalid, ok2] = await Promise.all([
      recordEvent(deps, makerRow, ship(40)),
      recordEvent(deps, makerRow, { ...ship(40), items: { refs: [{ kind: 'sgtin', value: 'urn:epc:id:sgtin:4012345.033331.NOPE' }] } }),
      recordEvent(deps, distRow, { kind: 'SELL', items: refs(41), occurredAt: minutesAgo(1), data: {} }),
      recordEvent(deps, makerRow, ship(42)),
    ]);
    expect(ok1.kind).toBe('ok');
    expect(missing).toMatchObject({ kind: 'NotFoundError', message: 'item urn:epc:id:sgtin:4012345.033331.NOPE not found' });
    // The distributor cannot see the maker's unshipped item: answered as not found, like a missing one.
    expect(invalid.kind).toBe('NotFoundError');
    expect(ok2.kind).toBe('ok');
    const after = await logFacts();
    expect(after.events - before.events).toBe(2);
    expect((await chainOf(41)).map((l) => l.kind)).toEqual(['COMMISSION']);
  });

  it('the same idempotency key used twice in one burst: one event, and both calls answer it; another request under the key is a ConflictError', async () => {
    const before = await logFacts();
    const at = minutesAgo(1);
    const [a, b] = await Promise.all([
      recordEvent(deps, makerRow, ship(50, { idempotencyKey: 'burst-1', occurredAt: at })),
      recordEvent(deps, makerRow, ship(50, { idempotencyKey: 'burst-1', occurredAt: at })),
    ]);
    expect(a.kind).toBe('ok');
    expect(b.kind).toBe('ok');
    if (a.kind !== 'ok' || b.kind !== 'ok') return;
    expect(b.event.id).toBe(a.event.id);
    expect(b.event.leaf_index).toBe(a.event.leaf_index);
    expect((await logFacts()).events - before.events).toBe(1);
    const c = await recordEvent(deps, makerRow, ship(51, { idempotencyKey: 'burst-1' }));
    expect(c.kind).toBe('ConflictError');
  });

  it('an event committed as pending before a batch that writes the same item is logged first (leaf order = chain order)', async () => {
    // A write committed without integrating (its writer died before integration)...
    const { result, pending } = await withRetries(db.db, (trx) => recordEventIn(trx, deps, makerRow, ship(60)));
    expect(result.kind).toBe('ok');
    expect(pending[0]!.leaf_index).toBe(-1);
    // ...then the receiver's write on the same item goes through a batch, which logs the pending SHIP before it.
    const recv = await recordEvent(deps, distRow, { kind: 'RECEIVE', items: refs(60), occurredAt: minutesAgo(1), data: {} });
    expect(recv.kind).toBe('ok');
    const chain = await chainOf(60);
    expect(chain.map((l) => l.kind)).toEqual(['COMMISSION', 'SHIP', 'RECEIVE']);
    expect(chain[2]!.leaf).toBe(chain[1]!.leaf + 1);
    expect((await logFacts()).pending).toBe(0);
    const audit = await auditLedger(db.db, srv.signer.verifierKey);
    expect(audit).toMatchObject({ discrepancies: [], pending: 0 });
  });

  it('a batch whose statement fails for another reason than a lost race is re-run write by write: every write still lands once', async () => {
    // Fault injection: the second batch write statement of this handle (the batch of the three writes that arrived
    // while the first one was being written) fails with a non-retryable error.
    let failed = 0;
    let seen = 0;
    const failOnce: KyselyPlugin = {
      transformQuery(args) {
        if (args.node.kind === 'RawNode' && JSON.stringify(args.node).includes('INSERT INTO pending_events') && ++seen === 2) {
          failed++;
          throw Object.assign(new Error('injected failure'), { code: 'XX000' });
        }
        return args.node;
      },
      async transformResult(args) {
        return args.result;
      },
    };
    const faulty: LedgerDeps = { ...deps, db: db.db.withPlugin(failOnce) };
    const before = await logFacts();
    const results = await Promise.all([70, 71, 72, 73].map((n) => recordEvent(faulty, makerRow, ship(n))));
    expect(failed).toBe(1);
    expect(results.map((r) => r.kind)).toEqual(['ok', 'ok', 'ok', 'ok']);
    const after = await logFacts();
    expect(after.events - before.events).toBe(4);
    expect(after.pending).toBe(0);
    for (const n of [70, 71, 72, 73]) expect((await chainOf(n)).map((l) => l.kind)).toEqual(['COMMISSION', 'SHIP']);
  });

  it('the ledger audits clean after all of it', async () => {
    const audit = await auditLedger(db.db, srv.signer.verifierKey);
    expect(audit).toMatchObject({ discrepancies: [], pending: 0 });
    expect(audit.events).toBe(37); // the COMMISSION and every write that answered ok above, once each
  });
});
