import { decodeGlobalID } from '@pothos/plugin-relay';
import { type KyselyPlugin, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findActorsByIds } from '../../src/db/actors.ts';
import type { Db } from '../../src/db/connection.ts';
import type { ActorRow } from '../../src/db/types.ts';
import { batchWriteFactsSql } from '../../src/db/write-facts.ts';
import type { LedgerDeps } from '../../src/services/deps.ts';
import { recordEventIn, type RecordEventInput } from '../../src/services/record-event.ts';
import { awaitIntegration, withRetries } from '../../src/services/transaction.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { createTestActor, minutesAgo, registerProductAndBatch, type TestActor } from '../helpers/ledger.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

// The writer's transaction reads everything its decisions need in one statement before it writes.
let db: TestDatabase;
let srv: TestServer;
let maker: TestActor, dist: TestActor, other: TestActor;
let makerRow: ActorRow, otherRow: ActorRow;
let deps: LedgerDeps;
const GTIN = '04012345333312';
const N = 500;
const sgtin = (n: number) => `urn:epc:id:sgtin:4012345.033331.W${String(n).padStart(5, '0')}`;
const ship = (n: number, extra: Partial<RecordEventInput> = {}): RecordEventInput => ({
  kind: 'SHIP',
  items: { refs: [{ kind: 'sgtin', value: sgtin(n) }] },
  occurredAt: minutesAgo(1),
  counterpartyId: decodeGlobalID(dist.id).id,
  data: {},
  ...extra,
});

/** Every statement sent through the returned Kysely, as SQL text. */
function logging(base: Db) {
  const statements: string[] = [];
  const plugin: KyselyPlugin = {
    transformQuery: (args) => {
      statements.push(base.getExecutor().compileQuery(args.node, args.queryId).sql.replace(/\s+/g, ' ').trim());
      return args.node;
    },
    transformResult: async (args) => args.result,
  };
  return { db: base.withPlugin(plugin), statements };
}

/** Runs one write in its own transaction on a logging Kysely; returns the result and what the transaction sent. */
async function loggedWrite(actor: ActorRow, input: RecordEventInput) {
  const log = logging(db.db);
  const { result, pending } = await withRetries(log.db, (trx) => recordEventIn(trx, { ...deps, db: log.db }, actor, input));
  await awaitIntegration(deps, pending);
  const firstWrite = log.statements.findIndex((s) => /^(insert|update|delete|with .* as \( ?(insert|update|delete))/i.test(s));
  return { result, statements: log.statements, reads: firstWrite < 0 ? log.statements.length : firstWrite };
}

beforeAll(async () => {
  db = await openTestDatabase();
  srv = await startTestServer(db);
  maker = await createTestActor(srv, 'Stmt Maker', ['MANUFACTURER'], ['4012345']);
  dist = await createTestActor(srv, 'Stmt Dist', ['DISTRIBUTOR']);
  other = await createTestActor(srv, 'Stmt Other', ['MANUFACTURER'], ['4099999']);
  const b = await registerProductAndBatch(srv, maker, { gtin: GTIN, lot: 'W1', range: { count: N, firstSerial: 'W00001' } });
  expect(b.__typename).toBe('RegisterBatchSuccess');
  const rows = await findActorsByIds(db.db, [decodeGlobalID(maker.id).id, decodeGlobalID(other.id).id]);
  makerRow = rows.find((r) => r.name === 'Stmt Maker')!;
  otherRow = rows.find((r) => r.name === 'Stmt Other')!;
  deps = { db: db.db, signer: srv.signer, now: () => new Date(), maxClockSkewMs: 300_000 };
  await sql`ANALYZE items`.execute(db.db);
}, 60_000);
afterAll(async () => {
  await srv?.close();
  await db?.dispose();
});

describe('the writer transaction of a single-item write', () => {
  it('reads grants, counterparty, idempotency key and the item in ONE statement, then writes', async () => {
    const plain = await loggedWrite(makerRow, ship(1));
    expect(plain.result.kind).toBe('ok');
    expect(plain.reads, plain.statements.join('\n')).toBe(1);
    expect(plain.statements[0]).toMatch(/FROM grants g/);
    const keyedInput = ship(2, { idempotencyKey: 'stmt-1' });
    const keyed = await loggedWrite(makerRow, keyedInput);
    expect(keyed.result.kind).toBe('ok');
    expect(keyed.reads, keyed.statements.join('\n')).toBe(1);
    // The replay is judged from the same statement and writes nothing.
    const replay = await loggedWrite(makerRow, keyedInput);
    expect(replay.result).toMatchObject({ kind: 'ok' });
    expect((replay.result as { event: { id: string } }).event.id).toBe((keyed.result as { event: { id: string } }).event.id);
    expect(replay.statements.some((s) => /^insert/i.test(s))).toBe(false);
    const conflict = await loggedWrite(makerRow, ship(3, { idempotencyKey: 'stmt-1' }));
    expect(conflict.result.kind).toBe('ConflictError');
  });

  it('an item the writer cannot see and one that does not exist take the same single statement and the same answer', async () => {
    const hidden = await loggedWrite(otherRow, { kind: 'DESTROY', items: { refs: [{ kind: 'sgtin', value: sgtin(10) }] }, occurredAt: minutesAgo(1), data: {} });
    const missing = await loggedWrite(otherRow, { kind: 'DESTROY', items: { refs: [{ kind: 'sgtin', value: sgtin(N + 10) }] }, occurredAt: minutesAgo(1), data: {} });
    expect(hidden.statements).toHaveLength(1);
    expect(missing.statements).toHaveLength(1);
    expect(hidden.result).toMatchObject({ kind: 'NotFoundError', message: `item ${sgtin(10)} not found` });
    expect(missing.result).toMatchObject({ kind: 'NotFoundError', message: `item ${sgtin(N + 10)} not found` });
  });

  it('a missing or operator counterparty is "not found" from the same statement', async () => {
    const nobody = await loggedWrite(makerRow, ship(20, { counterpartyId: '00000000-0000-4000-8000-000000000001' }));
    expect(nobody.result).toMatchObject({ kind: 'NotFoundError', message: 'the named receiving actor was not found' });
    expect(nobody.statements).toHaveLength(1);
    const malformed = await loggedWrite(makerRow, ship(20, { counterpartyId: 'not-a-uuid' }));
    expect(malformed.result).toMatchObject({ kind: 'NotFoundError', message: 'the named receiving actor was not found' });
  });

  it('finds items through the (gtin, serial) index and the primary key: point queries whatever the ledger size', async () => {
    const explained = await sql<Record<string, string>>`EXPLAIN ${batchWriteFactsSql({
      actorIds: [makerRow.id], counterpartyIds: [], idempotency: [],
      ids: [{ actorId: makerRow.id, id: '00000000-0000-4000-8000-000000000002' }], keys: [{ actorId: makerRow.id, gtin: GTIN, serial: 'W00500' }],
    })}`.execute(db.db);
    const text = explained.rows.map((r) => Object.values(r)[0]).join('\n');
    expect(text).toMatch(/Index Scan using items_gtin_serial_key on items/);
    expect(text).toMatch(/Index Scan using items_pkey on items/);
    expect(text).not.toMatch(/Seq Scan on items/);
  });

  it('shipItems over HTTP: the receiver named by id is checked in that statement, with no lookup of its own', async () => {
    const log = logging(db.db);
    const logged = await startTestServer({ ...db, db: log.db });
    try {
      const ship = (to: string, n: number) => logged.gql(
        `mutation($i: ShipItemsInput!) { shipItems(input: $i) { __typename ... on Error { message } } }`,
        { i: { items: [sgtin(n)], to, occurredAt: minutesAgo(1) } }, maker.key,
      );
      const ok = await ship(dist.id, 30);
      expect(ok.body.data.shipItems.__typename).toBe('RecordEventSuccess');
      expect(log.statements.filter((s) => /from "actors"/i.test(s)), log.statements.join('\n')).toEqual([]);
      const nobody = Buffer.from('Actor:00000000-0000-4000-8000-000000000003').toString('base64');
      const missing = await ship(nobody, 31);
      expect(missing.body.data.shipItems).toEqual({ __typename: 'NotFoundError', message: 'to: the named actor was not found' });
    } finally {
      await logged.close();
    }
  });
});
