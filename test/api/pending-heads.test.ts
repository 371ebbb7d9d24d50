import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toHex } from '../../src/core/bytes.ts';
import { decodeBase64, parseCheckpoint } from '../../src/core/checkpoint.ts';
import type { Stage } from '../../src/core/lifecycle.ts';
import { HEADS_EXTENSION_PREFIX, buildHeadMap, headKey, headValue, proveHead } from '../../src/core/v2/head-map.ts';
import { createActor } from '../../src/services/create-actor.ts';
import { ensureOperator } from '../../src/db/actors.ts';
import { allLoggedHeads, sqlHeadMapStore } from '../../src/db/head-map.ts';
import { findItemsBySgtins } from '../../src/db/ledger.ts';
import type { ActorRow } from '../../src/db/types.ts';
import { STORED_HEADS_MIN_ITEMS, appendEvent } from '../../src/services/append-event.ts';
import type { LedgerDeps } from '../../src/services/deps.ts';
import { integrateAll } from '../../src/services/integrate.ts';
import { registerBatchIn } from '../../src/services/register-batch.ts';
import { registerProduct } from '../../src/services/register-product.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { testSigner } from '../helpers/server.ts';

// Writers of big events store their head-map entries (pending_heads); the integrator reads those instead of the
// links, and takes the others' from their links. A batch mixing both, with one item moved by two of its events, must
// give the same map as one rebuilt from every item's logged head.
let db: TestDatabase;
let maker: ActorRow;
let deps: LedgerDeps;
const GTIN = '04012345555516';
const N = STORED_HEADS_MIN_ITEMS + 200;
const sgtin = (serial: string) => `urn:epc:id:sgtin:4012345.055551.${serial}`;

async function boundAndRebuilt() {
  const heads = await allLoggedHeads(db.db);
  const rebuilt = buildHeadMap(heads.map((h) => ({ key: headKey(h.sgtin), value: headValue({ seq: h.seq, link: toHex(h.link), stage: h.stage as Stage, recalled: h.recalled }) }))).root;
  const cp = await db.db.selectFrom('checkpoints').select('note').orderBy('tree_size', 'desc').limit(1).executeTakeFirstOrThrow();
  const body = parseCheckpoint(cp.note.slice(0, cp.note.lastIndexOf('\n\n') + 1));
  const line = body.ok ? body.value.extensions.find((e) => e.startsWith(HEADS_EXTENSION_PREFIX)) : undefined;
  return { rebuilt: toHex(rebuilt), bound: line ? toHex(decodeBase64(line.slice(HEADS_EXTENSION_PREFIX.length))!) : null };
}

const countStored = async () => Number((await sql<{ n: number }>`SELECT count(*)::int AS n FROM pending_heads`.execute(db.db)).rows[0]!.n);

beforeAll(async () => {
  db = await openTestDatabase();
  const op = await ensureOperator(db.db);
  const m = await createActor(db.db, op, { name: 'Stored heads maker', roles: ['MANUFACTURER'], companyPrefixes: ['4012345'] });
  if (m.kind !== 'ok') throw new Error(JSON.stringify(m));
  maker = m.actor;
  await registerProduct(db.db, maker, { gtin: GTIN, name: 'Stored heads product' });
  deps = { db: db.db, signer: testSigner(), now: () => new Date(), maxClockSkewMs: 300_000 };
});
afterAll(async () => {
  await db?.dispose();
});

describe('head-map entries stored by the writers of big events', () => {
  it('a batch of a big COMMISSION, a small one and a big event moving the first items again integrates to the rebuilt map; stored rows go with their events', { timeout: 120_000 }, async () => {
    const at = new Date(Date.now() - 60_000).toISOString();
    // Three writers commit before any integration, so one integration batch holds all three events.
    const big = await db.db.transaction().execute((trx) => registerBatchIn(trx, deps, maker, { gtin: GTIN, lot: 'PH1', producedAt: at, site: 'Plant', range: { count: N, firstSerial: 'P00001' } }));
    const small = await db.db.transaction().execute((trx) => registerBatchIn(trx, deps, maker, { gtin: GTIN, lot: 'PH2', producedAt: at, site: 'Plant', serials: ['Q1', 'Q2', 'Q3'] }));
    expect(big.kind).toBe('ok');
    expect(small.kind).toBe('ok');
    expect(await countStored()).toBe(1);
    const moved = (await findItemsBySgtins(db.db, Array.from({ length: STORED_HEADS_MIN_ITEMS }, (_, i) => sgtin(`P${String(i + 1).padStart(5, '0')}`))))
      .sort((a, b) => a.serial.localeCompare(b.serial));
    expect(moved).toHaveLength(STORED_HEADS_MIN_ITEMS);
    await db.db.transaction().execute((trx) =>
      appendEvent(
        trx,
        { kind: 'RECALL', actorId: maker.id, occurredAt: new Date(), offset: '+00:00', recordedAt: new Date(), location: null, counterpartyId: null, data: {} },
        moved.map((it) => ({
          id: it.id, sgtin: it.sgtin, head: { seq: it.head_seq, hash: it.head_hash },
          next: { stage: 'MANUFACTURED', custodianId: maker.id, pendingReceiverId: null, recalled: true },
        })),
      ),
    );
    expect(await countStored()).toBe(2);

    expect(await integrateAll(db.db, deps.signer)).toBe(3);
    const { bound, rebuilt } = await boundAndRebuilt();
    expect(bound).toBe(rebuilt);
    expect(await countStored()).toBe(0);
    // The recalled item's entry is its seq-1 head (the later event won), the others' their COMMISSION heads.
    const [recalledItem] = await findItemsBySgtins(db.db, [sgtin('P00001')]);
    const proof = await proveHead(sqlHeadMapStore(db.db), headKey(sgtin('P00001')));
    expect(toHex(proof!.value)).toBe(toHex(headValue({ seq: 1, link: toHex(recalledItem!.head_hash), stage: 'MANUFACTURED', recalled: true })));
    const lastSgtin = sgtin(`P${String(N).padStart(5, '0')}`);
    const untouched = await proveHead(sqlHeadMapStore(db.db), headKey(lastSgtin));
    const [last] = await findItemsBySgtins(db.db, [lastSgtin]);
    expect(toHex(untouched?.value ?? new Uint8Array())).toBe(toHex(headValue({ seq: 0, link: toHex(last!.head_hash), stage: 'MANUFACTURED', recalled: false })));
  });
});
