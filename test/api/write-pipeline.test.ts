/**
 * The guarantees of the one write pipeline (issue 11), table-driven over EVERY mutation of the schema, through the
 * real GraphQL API: a repeat with the same idempotency key and request replays the first answer and writes nothing;
 * the same key with another request (or another operation) is a ConflictError; an over-long key is a ValidationError
 * on `idempotencyKey` before anything runs; a refused request writes nothing at all (no row in any table, no key
 * stored) — including a PACK refused after its event was written. And `ledgerWrite` itself: checks before the
 * transaction, a failure of the body rolled back, a pluggable executor, retries that store the key once.
 */
import { randomUUID } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { decodeGlobalID, encodeGlobalID } from '@pothos/plugin-relay';
import {
  type GraphQLField, type GraphQLObjectType, type GraphQLOutputType, getNamedType, isInputObjectType, isLeafType, isObjectType, isUnionType, isNonNullType,
} from 'graphql';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../src/core/bytes.ts';
import { err, ok } from '../../src/core/result.ts';
import { gs1CheckDigit, sgtinUrn } from '../../src/core/identifiers.ts';
import { invalid } from '../../src/core/failures.ts';
import { findActorsByIds, insertActor } from '../../src/db/actors.ts';
import { schema } from '../../src/graphql/schema.ts';
import { type WriteExecutor, type WriteJob, type WriteSpec, ledgerWrite, retriedTransaction } from '../../src/services/ledger-write.ts';
import { HeadMovedError } from '../../src/services/transaction.ts';
import { requestHash } from '../../src/services/idempotency.ts';
import { insertIdempotencyKey } from '../../src/db/idempotency.ts';
import type { LedgerDeps } from '../../src/services/deps.ts';
import { packItems } from '../../src/services/pack-items.ts';
import { registerBatch } from '../../src/services/register-batch.ts';
import { unpackItems } from '../../src/services/unpack-items.ts';
import type { ActorRow } from '../../src/db/types.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { createTestActor, lifecycle, minutesAgo, type TestActor } from '../helpers/ledger.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

let db: TestDatabase;
let srv: TestServer;
let maker: TestActor, dist: TestActor, shop: TestActor, owner: TestActor, recycler: TestActor;
const operator = (): TestActor => ({ id: '', key: srv.operatorKey, name: 'operator' });

const PREFIX = '4012345';
const gtinOf = (ref: number) => {
  const body = `${PREFIX}${String(ref).padStart(5, '0')}`;
  return `0${body}${gs1CheckDigit(body)}`;
};
const ssccOf = (ref: number) => {
  const body = `0${PREFIX}${String(ref).padStart(9, '0')}`;
  return `${body}${gs1CheckDigit(body)}`;
};
const GTIN = gtinOf(7);
const UNREGISTERED = gtinOf(99);
const item = (n: number) => sgtinUrn(GTIN, PREFIX.length, `S${String(n).padStart(4, '0')}`);
const MISSING_ITEM = item(9999);
const seed = (n: number) => new Uint8Array(32).fill(n);
const publicKeyOf = (n: number) => toHex(ed25519.getPublicKey(seed(n)));
const MAKER_SEED = 3;
const sign = (contentHash: string) => toHex(ed25519.sign(fromHex(contentHash)!, seed(MAKER_SEED)));
const epcisDocument = (creationDate: string, events: unknown[] = []) => ({
  '@context': ['https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld'], type: 'EPCISDocument', schemaVersion: '2.0', creationDate, epcisBody: { eventList: events },
});

/** What the table-driven test learns along the way (ids of things earlier cases created). */
const state: Record<string, string> = {};

interface Case {
  actor: () => TestActor;
  /** A request that succeeds (run with a key, then repeated). */
  a: () => Record<string, unknown>;
  /** Another request that passes the input checks (for the ConflictError under A's key). */
  b: () => Record<string, unknown>;
  /** A request refused (typename `failsWith`) after the checks, possibly after writing: it must leave nothing. */
  f: () => Record<string, unknown>;
  failsWith: string;
  /** Fields a replay answers differently by design (the API key secret is shown once; captures say "replayed"). */
  replayDiffers?: Record<string, unknown>;
  /** Remembers what later cases need from the first answer. */
  after?: (first: any) => void;
}

const once = <T>(f: () => T): (() => T) => {
  let v: T | undefined;
  let done = false;
  return () => (done ? v! : ((done = true), (v = f())));
};

/** Every mutation of the schema: a new mutation without a row here fails the coverage test below. */
const CASES: Record<string, Case> = {
  createActor: {
    actor: operator, a: () => ({ name: 'Pipe A', roles: ['RETAILER'] }), b: () => ({ name: 'Pipe B', roles: ['RETAILER'] }),
    // Nothing in createActor can fail once its input is checked: its refusal is a blank name.
    f: () => ({ name: '   ', roles: ['RETAILER'] }), failsWith: 'ValidationError', replayDiffers: { secret: null },
  },
  issueApiKey: {
    actor: operator, a: () => ({ actor: recycler.id }), b: () => ({ actor: dist.id }), f: () => ({ actor: encodeGlobalID('Actor', randomUUID()) }),
    failsWith: 'NotFoundError', replayDiffers: { secret: null }, after: (r) => (state.issuedKey = r.apiKey.id),
  },
  revokeApiKey: {
    actor: operator, a: () => ({ keyId: state.issuedKey }), b: () => ({ keyId: state.spareKey }),
    f: () => ({ keyId: encodeGlobalID(decodeGlobalID(state.spareKey!).typename, randomUUID()) }), failsWith: 'NotFoundError',
  },
  registerProduct: {
    actor: () => maker, a: () => ({ gtin: gtinOf(2), name: 'Kettle A' }), b: () => ({ gtin: gtinOf(3), name: 'Kettle B' }),
    f: () => ({ gtin: GTIN, name: 'Again' }), failsWith: 'ConflictError',
  },
  registerBatch: {
    actor: () => maker, a: () => ({ gtin: GTIN, lot: 'N1', producedAt: '2026-01-10T08:00:00.000+01:00', site: 'Plant 2', serials: ['N0001'] }),
    b: () => ({ gtin: GTIN, lot: 'N2', producedAt: '2026-01-10T08:00:00.000+01:00', site: 'Plant 2', serials: ['N0002'] }),
    f: () => ({ gtin: GTIN, lot: 'L1', producedAt: '2026-01-10T08:00:00.000+01:00', site: 'Plant 2', serials: ['Z0001'] }), failsWith: 'ConflictError',
  },
  grantRights: {
    actor: () => maker, a: () => ({ grantee: shop.id, kinds: [], product: GTIN }), b: () => ({ grantee: dist.id, kinds: [], product: GTIN }),
    f: () => ({ grantee: shop.id, kinds: [], product: UNREGISTERED }), failsWith: 'NotFoundError', after: (r) => (state.grant = r.grant.id),
  },
  revokeRights: {
    actor: () => maker, a: () => ({ grant: state.grant }), b: () => ({ grant: state.spareGrant }), f: () => ({ grant: encodeGlobalID(decodeGlobalID(state.spareGrant!).typename, randomUUID()) }),
    failsWith: 'NotFoundError',
  },
  setLinks: {
    actor: () => maker, a: () => ({ gtin: GTIN, links: [{ linkType: 'gs1:pip', href: 'https://brand.example/p', title: 'Product' }] }), b: () => ({ gtin: GTIN, links: [] }),
    f: () => ({ gtin: UNREGISTERED, links: [] }), failsWith: 'NotFoundError',
  },
  setDisclosurePolicy: {
    actor: () => maker, a: () => ({ gtin: GTIN, overrides: [{ field: 'price', kind: 'SELL', tier: 'AUTHORITIES' }] }), b: () => ({ gtin: GTIN, overrides: [] }),
    f: () => ({ gtin: UNREGISTERED, overrides: [] }), failsWith: 'NotFoundError',
  },
  registerActorKey: {
    actor: () => dist, a: () => ({ publicKey: publicKeyOf(5) }), b: () => ({ publicKey: publicKeyOf(6) }), f: () => ({ publicKey: publicKeyOf(MAKER_SEED) }), failsWith: 'ConflictError',
  },
  revokeActorKey: {
    actor: () => dist, a: () => ({ publicKey: publicKeyOf(5) }), b: () => ({ publicKey: publicKeyOf(6) }), f: () => ({ publicKey: publicKeyOf(8) }), failsWith: 'NotFoundError',
  },
  recallBatch: {
    actor: () => maker, a: () => ({ gtin: GTIN, lot: 'R1', reason: 'faulty valve' }), b: () => ({ gtin: GTIN, lot: 'R2', reason: 'faulty valve' }),
    f: () => ({ gtin: GTIN, lot: 'NOPE', reason: 'faulty valve' }), failsWith: 'NotFoundError',
  },
  eraseEventField: {
    actor: () => maker, a: () => ({ eventId: state.shipEvent, field: 'location', reason: 'privacy' }), b: () => ({ eventId: state.shipEvent, field: 'location', reason: 'other' }),
    f: () => ({ contentHash: '0'.repeat(64), field: 'location', reason: 'privacy' }), failsWith: 'NotFoundError',
  },
  shipItems: {
    actor: () => maker, a: once(() => ({ items: [item(20)], to: dist.id, occurredAt: minutesAgo(10) })), b: () => ({ items: [item(21)], to: dist.id, occurredAt: minutesAgo(10) }),
    f: () => ({ items: [MISSING_ITEM], to: dist.id, occurredAt: minutesAgo(10) }), failsWith: 'NotFoundError',
  },
  receiveItems: {
    actor: () => dist, a: once(() => ({ items: [item(20)], occurredAt: minutesAgo(9) })), b: () => ({ items: [item(21)], occurredAt: minutesAgo(9) }),
    f: () => ({ items: [MISSING_ITEM], occurredAt: minutesAgo(9) }), failsWith: 'NotFoundError',
  },
  sellItems: {
    actor: () => shop, a: once(() => ({ items: [item(30)], occurredAt: minutesAgo(10) })), b: () => ({ items: [item(31)], occurredAt: minutesAgo(10) }),
    f: () => ({ items: [MISSING_ITEM], occurredAt: minutesAgo(10) }), failsWith: 'NotFoundError',
  },
  recordUse: {
    actor: () => owner, a: once(() => ({ items: [item(32)], kind: 'ACTIVATE', occurredAt: minutesAgo(10) })), b: () => ({ items: [item(32)], kind: 'SERVICE', occurredAt: minutesAgo(10) }),
    f: () => ({ items: [MISSING_ITEM], kind: 'ACTIVATE', occurredAt: minutesAgo(10) }), failsWith: 'NotFoundError',
  },
  returnItems: {
    actor: () => owner, a: once(() => ({ items: [item(33)], to: shop.id, reason: 'broken', occurredAt: minutesAgo(10) })),
    b: () => ({ items: [item(33)], to: shop.id, reason: 'other', occurredAt: minutesAgo(10) }), f: () => ({ items: [MISSING_ITEM], to: shop.id, occurredAt: minutesAgo(10) }), failsWith: 'NotFoundError',
  },
  recycleItems: {
    actor: () => recycler, a: once(() => ({ items: [item(40)], materials: [{ material: 'steel', massKg: 1.5 }], occurredAt: minutesAgo(10) })),
    b: () => ({ items: [item(40)], materials: [], occurredAt: minutesAgo(10) }), f: () => ({ items: [MISSING_ITEM], occurredAt: minutesAgo(10) }), failsWith: 'NotFoundError',
  },
  destroyItems: {
    actor: () => maker, a: once(() => ({ items: [item(41)], reason: 'damaged', occurredAt: minutesAgo(10) })), b: () => ({ items: [item(42)], occurredAt: minutesAgo(10) }),
    f: () => ({ items: [MISSING_ITEM], occurredAt: minutesAgo(10) }), failsWith: 'NotFoundError',
  },
  packItems: {
    actor: () => maker, a: once(() => ({ container: ssccOf(1), items: [item(10)], occurredAt: minutesAgo(10) })), b: () => ({ container: ssccOf(2), items: [item(11)], occurredAt: minutesAgo(10) }),
    // Refused after its PACK event was written (the item is in container 1 already): the event must go too.
    f: () => ({ container: ssccOf(3), items: [item(10)], occurredAt: minutesAgo(9) }), failsWith: 'ValidationError',
  },
  unpackItems: {
    actor: () => maker, a: once(() => ({ container: ssccOf(1), occurredAt: minutesAgo(8) })), b: () => ({ container: ssccOf(2), occurredAt: minutesAgo(8) }),
    f: () => ({ container: ssccOf(9), occurredAt: minutesAgo(8) }), failsWith: 'NotFoundError',
  },
  prepareSignedEvent: {
    actor: () => maker, a: once(() => ({ kind: 'SHIP', publicKey: publicKeyOf(MAKER_SEED), items: [item(45)], occurredAt: minutesAgo(10), counterparty: dist.id })),
    b: () => ({ kind: 'SHIP', publicKey: publicKeyOf(MAKER_SEED), items: [item(46)], occurredAt: minutesAgo(10), counterparty: dist.id }),
    f: () => ({ kind: 'SHIP', publicKey: publicKeyOf(MAKER_SEED), items: [MISSING_ITEM], occurredAt: minutesAgo(10), counterparty: dist.id }), failsWith: 'NotFoundError',
    after: (r) => Object.assign(state, { preparedId: r.preparedId, preparedHash: r.contentHash }),
  },
  submitSignedEvent: {
    actor: () => maker, a: () => ({ preparedId: state.preparedId, signature: sign(state.preparedHash!) }), b: () => ({ preparedId: state.preparedId, signature: 'ab'.repeat(64) }),
    f: () => ({ preparedId: randomUUID(), signature: 'ab'.repeat(64) }), failsWith: 'NotFoundError',
  },
  captureEpcisDocument: {
    actor: () => maker, a: () => ({ document: epcisDocument('2026-03-01T12:00:00.000Z') }), b: () => ({ document: epcisDocument('2026-03-02T12:00:00.000Z') }),
    f: () => ({ document: epcisDocument('2026-03-03T12:00:00.000Z', [{ type: 'ObjectEvent', action: 'OBSERVE', eventTime: minutesAgo(5), eventTimeZoneOffset: '+00:00', bizStep: 'receiving', epcList: [MISSING_ITEM] }]) }),
    failsWith: 'EpcisCaptureError', replayDiffers: { replayed: true },
  },
};

/** A selection of the mutation's result: typename, scalars of each member, ids (and leaf index, revocation) one level down. */
function selectionOf(field: GraphQLField<unknown, unknown>): string {
  const union = getNamedType(field.type);
  const members: readonly GraphQLObjectType[] = isUnionType(union) ? union.getTypes() : isObjectType(union) ? [union] : [];
  const level2 = (t: GraphQLOutputType): string => {
    const named = getNamedType(t);
    if (!isObjectType(named)) return '';
    const f = named.getFields();
    const picked = ['id', 'leafIndex', 'revokedAt', 'status', 'eventID'].filter((n) => f[n] && isLeafType(getNamedType(f[n]!.type)));
    return picked.length ? `{ ${picked.join(' ')} }` : '';
  };
  const parts = members.map((m) => {
    const fields = Object.values(m.getFields()).filter((f) => f.args.every((a) => !isNonNullType(a.type))).map((f) => {
      if (isLeafType(getNamedType(f.type))) return f.name;
      const sub = level2(f.type);
      return sub ? `${f.name} ${sub}` : '';
    }).filter(Boolean);
    return `... on ${m.name} { __typename ${fields.join(' ')} }`;
  });
  return `__typename ${parts.join(' ')}`;
}

async function call(name: string, actor: TestActor, input: Record<string, unknown>) {
  const field = schema.getMutationType()!.getFields()[name]!;
  const res = await srv.gql(`mutation($i: ${String(field.args[0]!.type)}) { r: ${name}(input: $i) { ${selectionOf(field)} } }`, { i: input }, actor.key);
  expect(res.body.errors, `${name}: ${JSON.stringify(res.body.errors)}`).toBeUndefined();
  return res.body.data.r;
}

/** Row counts of every table of the test schema: "nothing written" means none of them moved. */
async function fingerprint(): Promise<Record<string, number>> {
  const tables = await sql<{ t: string }>`SELECT table_name AS t FROM information_schema.tables WHERE table_schema = ${db.schema} AND table_type = 'BASE TABLE' ORDER BY 1`.execute(db.db);
  const counts = await sql<{ t: string; n: number }>`${sql.join(tables.rows.map(({ t }) => sql`SELECT ${t} AS t, count(*)::int AS n FROM ${sql.table(t)}`), sql` UNION ALL `)}`.execute(db.db);
  return Object.fromEntries(counts.rows.map((r) => [r.t, Number(r.n)]));
}

beforeAll(async () => {
  db = await openTestDatabase();
  srv = await startTestServer(db);
  maker = await createTestActor(srv, 'Pipe Maker', ['MANUFACTURER'], [PREFIX]);
  dist = await createTestActor(srv, 'Pipe Dist', ['DISTRIBUTOR']);
  shop = await createTestActor(srv, 'Pipe Shop', ['RETAILER']);
  owner = await createTestActor(srv, 'Pipe Owner', []);
  recycler = await createTestActor(srv, 'Pipe Recycler', ['RECYCLER']);
  const ok = async (name: string, actor: TestActor, input: Record<string, unknown>) => {
    const r = await call(name, actor, input);
    expect(r.__typename, `${name}: ${JSON.stringify(r)}`).toMatch(/Success$/);
    return r;
  };
  await ok('registerProduct', maker, { gtin: GTIN, name: 'Valve' });
  await ok('registerBatch', maker, { gtin: GTIN, lot: 'L1', producedAt: '2026-01-10T08:00:00.000+01:00', site: 'Plant 1', range: { count: 60, firstSerial: 'S0001' } });
  await ok('registerBatch', maker, { gtin: GTIN, lot: 'R1', producedAt: '2026-01-10T08:00:00.000+01:00', site: 'Plant 1', serials: ['R0001'] });
  await ok('registerBatch', maker, { gtin: GTIN, lot: 'R2', producedAt: '2026-01-10T08:00:00.000+01:00', site: 'Plant 1', serials: ['R0002'] });
  const step = async (a: TestActor, m: string, input: Record<string, unknown>) => {
    const r = await lifecycle(srv, a, m, { occurredAt: minutesAgo(100), ...input });
    expect(r.__typename, `${m}: ${JSON.stringify(r)}`).toBe('RecordEventSuccess');
    return r;
  };
  await step(maker, 'shipItems', { items: [30, 31, 32, 33].map(item), to: shop.id });
  await step(shop, 'receiveItems', { items: [30, 31, 32, 33].map(item) });
  await step(shop, 'sellItems', { items: [32, 33].map(item), buyer: owner.id });
  await step(maker, 'shipItems', { items: [item(40)], to: recycler.id });
  await step(recycler, 'receiveItems', { items: [item(40)] });
  state.shipEvent = (await step(maker, 'shipItems', { items: [item(50)], to: dist.id, location: 'Dock 9' })).event.id;
  await ok('registerActorKey', maker, { publicKey: publicKeyOf(MAKER_SEED) });
  state.spareKey = (await ok('issueApiKey', operator(), { actor: shop.id })).apiKey.id;
  state.spareGrant = (await ok('grantRights', maker, { grantee: recycler.id, kinds: [], product: GTIN })).grant.id;
}, 60_000);
afterAll(async () => {
  await srv?.close();
  await db?.dispose();
});

describe('every write mutation has the same idempotency and failure semantics', () => {
  it('the table covers every mutation of the schema, and each takes idempotencyKey', () => {
    const mutations = schema.getMutationType()!.getFields();
    expect(Object.keys(CASES).sort()).toEqual(Object.keys(mutations).sort());
    for (const [name, field] of Object.entries(mutations)) {
      const input = getNamedType(field.args[0]!.type);
      expect(isInputObjectType(input) ? String(input.getFields()['idempotencyKey']?.type) : null, `${name} takes no idempotencyKey`).toBe('String');
    }
  });

  it('replay, conflict, over-long key and a refusal that leaves nothing, for each mutation', async () => {
    const lastKeyOf = new Map<string, string>();
    for (const [name, c] of Object.entries(CASES)) {
      const actor = c.actor();
      const key = `pipe-${name}`;
      const first = await call(name, actor, { ...c.a(), idempotencyKey: key });
      expect(first.__typename, `${name} A: ${JSON.stringify(first)}`).toMatch(/Success$/);
      c.after?.(first);
      const written = await fingerprint();
      const second = await call(name, actor, { ...c.a(), idempotencyKey: key });
      expect(second, `${name}: the replay answers as the first call`).toEqual({ ...first, ...c.replayDiffers });
      expect(await fingerprint(), `${name}: the replay wrote something`).toEqual(written);

      const other = await call(name, actor, { ...c.b(), idempotencyKey: key });
      expect(other.__typename, `${name}: another request under the same key`).toBe('ConflictError');
      const previous = lastKeyOf.get(actor.key);
      if (previous) expect((await call(name, actor, { ...c.a(), idempotencyKey: previous })).__typename, `${name}: a key of another operation`).toBe('ConflictError');
      lastKeyOf.set(actor.key, key);
      const long = await call(name, actor, { ...c.b(), idempotencyKey: 'k'.repeat(201) });
      expect(long, `${name}: over-long key`).toMatchObject({ __typename: 'ValidationError', field: 'idempotencyKey' });

      const failed = await call(name, actor, { ...c.f(), idempotencyKey: `${key}-refused` });
      expect(failed.__typename, `${name} F: ${JSON.stringify(failed)}`).toBe(c.failsWith);
      expect(await fingerprint(), `${name}: the refused request wrote something (or stored its key)`).toEqual(written);
    }
  }, 120_000);
});

// ---- ledgerWrite itself ----------------------------------------------------------------------------------------

describe('ledgerWrite', () => {
  let caller: ActorRow;
  const actorCount = async () => Number((await sql<{ n: number }>`SELECT count(*)::int AS n FROM actors`.execute(db.db)).rows[0]!.n);
  const counting = (): { execute: WriteExecutor; runs: number } => {
    const box = { runs: 0, execute: (async (deps, attempt, job) => { box.runs++; return retriedTransaction(deps, attempt, job); }) as WriteExecutor };
    return box;
  };
  type R = { kind: 'ok'; actor: ActorRow } | ReturnType<typeof invalid> | { kind: 'ConflictError'; message: string };
  const spec = (over: Partial<WriteSpec<string, R, { id: string }>>): WriteSpec<string, R, { id: string }> => ({
    operation: 'testWrite', caller, request: { name: 'x' }, idempotencyKey: null,
    check: () => ok('Pipeline Actor'),
    write: async (trx, name) => ({ kind: 'ok', actor: await insertActor(trx, { name, roles: [], gln: null, companyPrefixes: [], publicKey: null }) }),
    save: (r) => ({ id: r.kind === 'ok' ? r.actor.id : '' }),
    replay: async (trx, s) => ({ kind: 'ok', actor: (await findActorsByIds(trx, [s.id]))[0]! }),
    ...over,
  });

  beforeAll(async () => {
    caller = (await findActorsByIds(db.db, [decodeGlobalID(maker.id).id]))[0]!;
  });

  it('runs the checks and the key check before any transaction: a refusal there opens none', async () => {
    const ex = counting();
    const refused = await ledgerWrite({ db: db.db }, spec({ execute: ex.execute, check: () => err(invalid('name', 'bad name')) }));
    expect(refused).toMatchObject({ kind: 'ValidationError', field: 'name' });
    const badKey = await ledgerWrite({ db: db.db }, spec({ execute: ex.execute, idempotencyKey: 'a\u0000b' }));
    expect(badKey).toMatchObject({ kind: 'ValidationError', field: 'idempotencyKey' });
    expect(ex.runs).toBe(0);
  });

  it('rolls back whatever the body wrote before it returned a failure, and stores no key', async () => {
    const before = await actorCount();
    const body = async (trx: Parameters<WriteSpec<string, R, { id: string }>['write']>[0], name: string): Promise<R> => {
      await insertActor(trx, { name, roles: [], gln: null, companyPrefixes: [], publicKey: null });
      return invalid('name', 'refused after writing');
    };
    expect(await ledgerWrite({ db: db.db }, spec({ idempotencyKey: 'rollback-1', write: body }))).toMatchObject({ kind: 'ValidationError', message: 'refused after writing' });
    expect(await actorCount()).toBe(before);
    // The key was not stored: the same key runs again (and now succeeds).
    expect(await ledgerWrite({ db: db.db }, spec({ idempotencyKey: 'rollback-1' }))).toMatchObject({ kind: 'ok' });
    expect(await actorCount()).toBe(before + 1);
  });

  it('uses the executor it is given, and a retried attempt stores its key once', async () => {
    const ex = counting();
    let attempts = 0;
    const flaky = async (trx: Parameters<WriteSpec<string, R, { id: string }>['write']>[0], name: string): Promise<R> => {
      const actor = await insertActor(trx, { name, roles: [], gln: null, companyPrefixes: [], publicKey: null });
      if (++attempts === 1) throw new HeadMovedError('a concurrent writer moved a head');
      return { kind: 'ok', actor };
    };
    const before = await actorCount();
    const first = await ledgerWrite({ db: db.db }, spec({ execute: ex.execute, idempotencyKey: 'retry-1', write: flaky }));
    expect(first.kind).toBe('ok');
    expect(attempts).toBe(2);
    expect(ex.runs).toBe(1);
    expect(await actorCount()).toBe(before + 1);
    const replay = await ledgerWrite({ db: db.db }, spec({ execute: ex.execute, idempotencyKey: 'retry-1', write: flaky }));
    expect(replay).toEqual(first);
    expect(attempts).toBe(2);
    const keys = await sql<{ n: number }>`SELECT count(*)::int AS n FROM idempotency_keys WHERE key = 'retry-1'`.execute(db.db);
    expect(keys.rows[0]!.n).toBe(1);
    expect(await ledgerWrite({ db: db.db }, spec({ idempotencyKey: 'retry-1', request: { name: 'y' } }))).toMatchObject({ kind: 'ConflictError' });
    expect(await ledgerWrite({ db: db.db }, spec({ idempotencyKey: 'retry-1', operation: 'otherWrite' }))).toMatchObject({ kind: 'ConflictError' });
  });

  it('hands an executor the checked write, so a batcher deciding many writes together can take it over', async () => {
    const jobs: WriteJob[] = [];
    const batcher = (async (_deps, _attempt, job) => { jobs.push(job); return { kind: 'ok', actor: caller }; }) as WriteExecutor;
    const r = await ledgerWrite({ db: db.db }, spec({ idempotencyKey: 'batched-1', request: (name: string) => ({ name }), execute: batcher }));
    expect(r).toEqual({ kind: 'ok', actor: caller });
    expect(jobs).toEqual([{ operation: 'testWrite', callerId: caller.id, idempotencyKey: 'batched-1', checked: 'Pipeline Actor', request: { name: 'Pipeline Actor' } }]);
    // A write refused by its checks never reaches the executor.
    await ledgerWrite({ db: db.db }, spec({ execute: batcher, check: () => err(invalid('name', 'bad')) }));
    expect(jobs).toHaveLength(1);
  });

  it('judges the key from the row the write reads itself when it supplies readKey (one statement with its facts)', async () => {
    const reads: string[] = [];
    const stored = { operation: 'testWrite', requestHash: requestHash('testWrite', { name: 'x' }), response: { id: caller.id } };
    const replayed = await ledgerWrite({ db: db.db }, spec({ idempotencyKey: 'own-read', readKey: async (_trx, key) => (reads.push(key), stored), write: async () => { throw new Error('a replay must not write'); } }));
    expect(replayed).toEqual({ kind: 'ok', actor: caller });
    expect(reads).toEqual(['own-read']);
    expect(await ledgerWrite({ db: db.db }, spec({ idempotencyKey: 'own-read', request: { name: 'other' }, readKey: async () => stored }))).toMatchObject({ kind: 'ConflictError' });
  });

  it('concurrent first calls under one key write once and all answer the same (the loser of the key retries into a replay)', async () => {
    const before = await actorCount();
    const results = await Promise.all(Array.from({ length: 6 }, () => ledgerWrite({ db: db.db }, spec({ idempotencyKey: 'race-1' }))));
    const ids = new Set(results.map((r) => (r.kind === 'ok' ? r.actor.id : r.kind)));
    expect([...ids]).toHaveLength(1);
    expect(results[0]!.kind).toBe('ok');
    expect(await actorCount()).toBe(before + 1);
  });
});

// ---- keys stored before a write moved onto the pipeline ----------------------------------------------------------

describe('keys stored by earlier versions', () => {
  // The rows below are what the code before the pipeline stored (operation, request as it hashed it, response), written
  // by hand: a client retrying with such a key after an upgrade must get its first answer back, not a ConflictError.
  let makerRow: ActorRow;
  let deps: LedgerDeps;
  const keyed = async (key: string, operation: string, request: unknown, response: unknown) =>
    insertIdempotencyKey(db.db, { actorId: makerRow.id, key, operation, requestHash: requestHash(operation, request), response });

  beforeAll(async () => {
    makerRow = (await findActorsByIds(db.db, [decodeGlobalID(maker.id).id]))[0]!;
    deps = { db: db.db, signer: srv.signer, now: () => new Date(), maxClockSkewMs: 300_000 };
  });

  it('registerBatch: the whole input, key included, under "registerBatch"', async () => {
    const input = { gtin: GTIN, lot: 'OLD1', producedAt: '2026-01-10T08:00:00.000+01:00', site: 'Plant 3', serials: ['O0001'] };
    const first = await registerBatch(deps, makerRow, input);
    if (first.kind !== 'ok') throw new Error(JSON.stringify(first));
    await keyed('old-batch', 'registerBatch', { ...input, idempotencyKey: 'old-batch' }, { batchId: first.batch.id, eventId: first.event.id });
    const before = await fingerprint();
    const again = await registerBatch(deps, makerRow, { ...input, idempotencyKey: 'old-batch' });
    expect(again).toMatchObject({ kind: 'ok', batch: { id: first.batch.id }, event: { id: first.event.id } });
    expect(await fingerprint()).toEqual(before);
  });

  it('packItems and unpackItems: the PACK / UNPACK event as recordEvent keyed it', async () => {
    const container = ssccOf(30);
    const pack = { container, items: [{ kind: 'sgtin' as const, value: item(12) }], occurredAt: minutesAgo(7) };
    const packed = await packItems(deps, makerRow, pack);
    if (packed.kind !== 'ok') throw new Error(JSON.stringify(packed));
    await keyed('old-pack', 'PACK', {
      kind: 'PACK', items: { refs: pack.items, containers: [] }, occurredAt: pack.occurredAt, location: null, data: { container }, idempotencyKey: 'old-pack',
    }, { eventId: packed.event.id });
    const unpack = { container, occurredAt: minutesAgo(6) };
    const unpacked = await unpackItems(deps, makerRow, unpack);
    if (unpacked.kind !== 'ok') throw new Error(JSON.stringify(unpacked));
    await keyed('old-unpack', 'UNPACK', {
      kind: 'UNPACK', items: { containers: [container] }, occurredAt: unpack.occurredAt, location: null, data: { container }, idempotencyKey: 'old-unpack',
    }, { eventId: unpacked.event.id });
    const before = await fingerprint();
    expect(await packItems(deps, makerRow, { ...pack, idempotencyKey: 'old-pack' })).toMatchObject({ kind: 'ok', event: { id: packed.event.id } });
    expect(await unpackItems(deps, makerRow, { ...unpack, idempotencyKey: 'old-unpack' })).toMatchObject({ kind: 'ok', event: { id: unpacked.event.id } });
    expect(await fingerprint()).toEqual(before);
  });
});
