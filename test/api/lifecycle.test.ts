import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { createTestActor, lifecycle, minutesAgo, registerProductAndBatch, type TestActor } from '../helpers/ledger.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

let db: TestDatabase;
let srv: TestServer;
let maker: TestActor, dist: TestActor, shop: TestActor, owner: TestActor, fixer: TestActor, recycler: TestActor, stranger: TestActor;
const GTIN = '04012345111118';
const sgtin = (serial: string) => `urn:epc:id:sgtin:4012345.011111.${serial}`;

async function counts() {
  const r = await sql<{ events: number; links: number; keys: number; size: number }>`
    SELECT (SELECT count(*)::int FROM events) AS events, (SELECT count(*)::int FROM chain_links) AS links,
           (SELECT count(*)::int FROM idempotency_keys) AS keys, (SELECT size::int FROM log_state) AS size`.execute(db.db);
  return r.rows[0]!;
}

async function itemState(serial: string, key = maker.key) {
  const { body } = await srv.gql(
    `query($s: String!) { item(sgtin: $s) { id stage recalled chainLength custodian { name } verification { valid length firstInvalidSeq reason headHash } } }`,
    { s: sgtin(serial) },
    key,
  );
  return body.data.item;
}

beforeAll(async () => {
  db = await openTestDatabase();
  srv = await startTestServer(db);
  maker = await createTestActor(srv, 'Maker', ['MANUFACTURER'], ['4012345']);
  dist = await createTestActor(srv, 'Dist', ['DISTRIBUTOR']);
  shop = await createTestActor(srv, 'Shop', ['RETAILER']);
  owner = await createTestActor(srv, 'Owner', []);
  fixer = await createTestActor(srv, 'Fixer', ['SERVICER']);
  recycler = await createTestActor(srv, 'Recycler', ['RECYCLER']);
  stranger = await createTestActor(srv, 'Stranger', ['DISTRIBUTOR']);
  const b = await registerProductAndBatch(srv, maker, { gtin: GTIN, lot: 'L1', range: { count: 60, firstSerial: 'S0001' } });
  expect(b.__typename).toBe('RegisterBatchSuccess');
  // The brand authorises the servicer (DESIGN: SERVICE by "owner or SERVICER granted by brand").
  const g = await srv.gql(`mutation($i: GrantRightsInput!) { grantRights(input: $i) { __typename } }`, { i: { grantee: fixer.id, kinds: ['SERVICE', 'USE_REPORT'], product: GTIN } }, maker.key);
  expect(g.body.data.grantRights.__typename).toBe('GrantSuccess');
  expect(b.event).toMatchObject({ kind: 'COMMISSION', itemCount: 60, leafIndex: 0 });
});
afterAll(async () => {
  await srv?.close();
  await db?.dispose();
});

describe('a full life over HTTP', () => {
  it('commission → ship → receive → ship → receive → sell → activate → service → return → recycle, and the chain verifies', async () => {
    const item = sgtin('S0001');
    const steps: [TestActor, string, Record<string, unknown>, string][] = [
      [maker, 'shipItems', { to: dist.id }, 'IN_TRANSIT'],
      [dist, 'receiveItems', {}, 'IN_STOCK'],
      [dist, 'shipItems', { to: shop.id }, 'IN_TRANSIT'],
      [shop, 'receiveItems', {}, 'IN_STOCK'],
      [shop, 'sellItems', { price: 19.99, currency: 'EUR', buyer: owner.id }, 'SOLD'],
      [owner, 'recordUse', { kind: 'ACTIVATE' }, 'IN_USE'],
      [fixer, 'recordUse', { kind: 'SERVICE', note: 'new seal' }, 'IN_USE'],
      [owner, 'returnItems', { to: recycler.id, reason: 'broken' }, 'RETURNED'],
      [recycler, 'recycleItems', { materials: [{ material: 'aluminium', massKg: 1.25 }, { material: 'copper', massKg: 0.2 }] }, 'RECYCLED'],
    ];
    let lastLeaf = 0;
    for (const [actor, mutation, extra, stage] of steps) {
      const r = await lifecycle(srv, actor, mutation, { items: [item], occurredAt: minutesAgo(10), ...extra });
      expect(r.__typename, `${mutation}: ${JSON.stringify(r)}`).toBe('RecordEventSuccess');
      expect(r.event.leafIndex).toBeGreaterThan(lastLeaf);
      lastLeaf = r.event.leafIndex;
      expect((await itemState('S0001')).stage).toBe(stage);
    }
    const final = await itemState('S0001');
    expect(final).toMatchObject({ stage: 'RECYCLED', chainLength: 10, custodian: { name: 'Recycler' } });
    expect(final.verification).toMatchObject({ valid: true, length: 10, firstInvalidSeq: null, reason: null });
    expect(final.verification.headHash).toMatch(/^[0-9a-f]{64}$/);

    const { body } = await srv.gql(`query($s: String!) { item(sgtin: $s) { events(first: 3, order: NEWEST_FIRST) { edges { node { kind data } } pageInfo { hasNextPage } } } }`, { s: item }, maker.key);
    expect(body.data.item.events.edges.map((e: any) => e.node.kind)).toEqual(['RECYCLE', 'RETURN', 'SERVICE']);
    expect(body.data.item.events.edges[0].node.data).toEqual({ materials: [{ material: 'aluminium', massKg: 1.25 }, { material: 'copper', massKg: 0.2 }] });
    expect(body.data.item.events.pageInfo.hasNextPage).toBe(true);

    // Terminal: nothing more is accepted.
    const after = await lifecycle(srv, recycler, 'destroyItems', { items: [item], occurredAt: minutesAgo(1) });
    expect(after.__typename).toBe('InvalidTransitionError');
    expect(after.items[0]).toMatchObject({ item, from: 'RECYCLED', kind: 'DESTROY' });
  });

  it('resolves an item by id, SGTIN and Digital Link, and pages events oldest first', async () => {
    const s = await itemState('S0002');
    const byDl = await srv.gql(`{ item(digitalLink: "https://id.gs1.org/01/04012345111118/21/S0002") { id sgtin digitalLink } }`, {}, maker.key);
    expect(byDl.body.data.item).toEqual({ id: s.id, sgtin: sgtin('S0002'), digitalLink: 'https://id.gs1.org/01/04012345111118/21/S0002' });
    const byId = await srv.gql(`query($id: ID!) { item(id: $id) { sgtin } node(id: $id) { ... on Item { serial } } }`, { id: s.id }, maker.key);
    expect(byId.body.data).toEqual({ item: { sgtin: sgtin('S0002') }, node: { serial: 'S0002' } });
    const none = await srv.gql(`{ item(sgtin: "urn:epc:id:sgtin:4012345.011111.NOPE") { id } }`, {}, maker.key);
    expect(none.body.data.item).toBeNull();
  });
});

describe('invalid writes change nothing', () => {
  it('rejects each invalid transition with a typed error naming every offending item, and writes nothing', async () => {
    const before = await counts();
    const cases: [TestActor, string, Record<string, unknown>, string, RegExp | string][] = [
      [maker, 'receiveItems', { items: [sgtin('S0003')] }, 'InvalidTransitionError', /requires stage IN_TRANSIT/],
      [maker, 'sellItems', { items: [sgtin('S0003')] }, 'InvalidTransitionError', /requires stage IN_STOCK/],
      // An item the actor may not see is "not found", never "not yours".
      [stranger, 'shipItems', { items: [sgtin('S0003')], to: dist.id }, 'NotFoundError', `item ${sgtin('S0003')} not found`],
      [stranger, 'shipItems', { items: [sgtin('NOPE')], to: dist.id }, 'NotFoundError', `item ${sgtin('NOPE')} not found`],
      // A former holder still sees the item, so it learns the real reason.
      [dist, 'shipItems', { items: [sgtin('S0001')], to: shop.id }, 'InvalidTransitionError', /item is closed \(RECYCLED\)/],
      [maker, 'recordUse', { items: [sgtin('S0003')], kind: 'ACTIVATE' }, 'InvalidTransitionError', /requires stage SOLD or IN_USE/],
      [maker, 'recycleItems', { items: [sgtin('S0003')] }, 'InvalidTransitionError', /requires stage RETURNED or IN_STOCK/],
      // An unknown serial anywhere in the list is "not found", before any transition is judged.
      [maker, 'shipItems', { items: [sgtin('S0003'), sgtin('S0001'), sgtin('NOPE')], to: dist.id }, 'NotFoundError', `item ${sgtin('NOPE')} not found`],
    ];
    for (const [actor, mutation, input, type, why] of cases) {
      const r = await lifecycle(srv, actor, mutation, { occurredAt: minutesAgo(5), ...input });
      expect(r.__typename, `${mutation} ${JSON.stringify(r)}`).toBe(type);
      if (type === 'PermissionDeniedError') expect(r.rule).toBe(why);
      else if (type === 'NotFoundError') expect(r.message).toBe(why);
      else expect(r.items.map((p: any) => p.reason).join(' | ')).toMatch(why as RegExp);
    }
    const mixed = await lifecycle(srv, maker, 'shipItems', { items: [sgtin('S0003'), sgtin('S0001')], to: dist.id, occurredAt: minutesAgo(5) });
    expect(mixed.items).toEqual([{ item: sgtin('S0001'), from: 'RECYCLED', kind: 'SHIP', reason: 'item is closed (RECYCLED)' }]);
    expect(await counts()).toEqual(before);
    expect((await itemState('S0003')).stage).toBe('MANUFACTURED');
  });

  it('rejects future timestamps beyond the skew, missing offsets and bad kind-specific fields', async () => {
    const before = await counts();
    const future = new Date(Date.now() + 10 * 60_000).toISOString();
    const r1 = await lifecycle(srv, maker, 'shipItems', { items: [sgtin('S0004')], to: dist.id, occurredAt: future });
    expect(r1).toMatchObject({ __typename: 'ValidationError', field: 'occurredAt' });
    expect(r1.message).toMatch(/future/);
    const r2 = await lifecycle(srv, maker, 'shipItems', { items: [sgtin('S0004')], to: dist.id, occurredAt: '2026-01-01T10:00:00' });
    expect(r2).toMatchObject({ __typename: 'ValidationError', field: 'occurredAt' });
    const r3 = await lifecycle(srv, maker, 'sellItems', { items: [sgtin('S0004')], occurredAt: minutesAgo(1), price: 5 });
    expect(r3).toMatchObject({ __typename: 'ValidationError', field: 'currency' });
    const r4 = await lifecycle(srv, maker, 'recycleItems', { items: [sgtin('S0004')], occurredAt: minutesAgo(1), materials: [{ material: 'x', massKg: -1 }] });
    expect(r4).toMatchObject({ __typename: 'ValidationError', field: 'materials[0].massKg' });
    const r5 = await lifecycle(srv, maker, 'shipItems', { items: [sgtin('S0004')], to: maker.id, occurredAt: minutesAgo(1) });
    expect(r5).toMatchObject({ __typename: 'ValidationError', field: 'to' });
    // Within the skew is accepted.
    const near = new Date(Date.now() + 60_000).toISOString();
    expect((await lifecycle(srv, maker, 'destroyItems', { items: [sgtin('S0060')], occurredAt: near })).__typename).toBe('RecordEventSuccess');
    expect((await counts()).events).toBe(before.events + 1);
  });

  it('stores occurrence time at millisecond precision in UTC and keeps the submitted offset', async () => {
    const r = await lifecycle(srv, maker, 'destroyItems', { items: [sgtin('S0059')], occurredAt: '2026-03-01T09:30:00.123456+05:30' });
    const { body } = await srv.gql(`query($id: ID!) { node(id: $id) { ... on Event { occurredAt occurredAtLocal timezoneOffset canonicalBody } } }`, { id: r.event.id }, maker.key);
    expect(body.data.node).toMatchObject({ occurredAt: '2026-03-01T04:00:00.123Z', occurredAtLocal: '2026-03-01T09:30:00.123+05:30', timezoneOffset: '+05:30' });
    expect(JSON.parse(body.data.node.canonicalBody)).toMatchObject({ occurredAt: '2026-03-01T04:00:00.123Z', timezoneOffset: '+05:30' });
  });
});

describe('registerBatch', () => {
  it('rejects duplicate serials in the input or already registered, writing nothing', async () => {
    const before = await counts();
    const dupIn = await registerProductAndBatch(srv, maker, { gtin: GTIN, lot: 'L2', serials: ['A1', 'A2', 'A1'] });
    expect(dupIn).toMatchObject({ __typename: 'ValidationError', field: 'serials' });
    expect(dupIn.message).toContain('A1');
    const dupDb = await registerProductAndBatch(srv, maker, { gtin: GTIN, lot: 'L3', serials: ['NEW1', 'S0005'] });
    expect(dupDb.__typename).toBe('ConflictError');
    expect(dupDb.message).toContain('S0005');
    expect(await counts()).toEqual(before);
    const batch = await srv.gql(`{ batch(gtin: "${GTIN}", lot: "L3") { id } }`, {}, maker.key);
    expect(batch.body.data.batch).toBeNull();
  });

  it('only the product owner registers batches', async () => {
    const other = await createTestActor(srv, 'OtherMaker', ['MANUFACTURER'], ['4099999']);
    const r = await srv.gql(`mutation($i: RegisterBatchInput!) { registerBatch(input: $i) { __typename ... on PermissionDeniedError { rule } } }`,
      { i: { gtin: GTIN, lot: 'X', producedAt: minutesAgo(1), site: 's', serials: ['Z1'] } }, other.key);
    // Another brand's product it cannot see is "not found", exactly like an unregistered GTIN.
    expect(r.body.data.registerBatch).toEqual({ __typename: 'NotFoundError' });
    const p = await srv.gql(`mutation($i: RegisterProductInput!) { registerProduct(input: $i) { __typename ... on PermissionDeniedError { rule } } }`, { i: { gtin: '4012345000016', name: 'x' } }, other.key);
    expect(p.body.data.registerProduct).toEqual({ __typename: 'PermissionDeniedError', rule: 'NOT_PREFIX_OWNER' });
  });

  it('lists batch items with stage filter and pagination', async () => {
    const page1 = await srv.gql(`{ batch(gtin: "${GTIN}", lot: "L1") { items(first: 25, stage: MANUFACTURED) { edges { cursor node { serial stage } } pageInfo { hasNextPage endCursor } } } }`, {}, maker.key);
    const conn = page1.body.data.batch.items;
    expect(conn.edges).toHaveLength(25);
    expect(conn.edges.every((e: any) => e.node.stage === 'MANUFACTURED')).toBe(true);
    const page2 = await srv.gql(`query($a: String) { batch(gtin: "${GTIN}", lot: "L1") { items(first: 100, after: $a, stage: MANUFACTURED) { edges { node { serial } } pageInfo { hasNextPage } } } }`, { a: conn.pageInfo.endCursor }, maker.key);
    const seen = new Set([...conn.edges.map((e: any) => e.node.serial), ...page2.body.data.batch.items.edges.map((e: any) => e.node.serial)]);
    const manufactured = await db.db.selectFrom('items').select(db.db.fn.countAll<number>().as('n')).where('stage', '=', 'MANUFACTURED').executeTakeFirstOrThrow();
    expect(seen.size).toBe(Number(manufactured.n));
    const tooBig = await srv.gql(`{ batch(gtin: "${GTIN}", lot: "L1") { items(first: 101) { edges { cursor } } } }`, {}, maker.key);
    expect(tooBig.body.errors[0].extensions).toMatchObject({ code: 'VALIDATION_ERROR', field: 'first' });
  });
});

describe('idempotency', () => {
  it('a retry with the same key returns the first result and writes nothing; a different input conflicts', async () => {
    const input = { items: [sgtin('S0010')], to: dist.id, occurredAt: minutesAgo(3), idempotencyKey: 'ship-s10' };
    const first = await lifecycle(srv, maker, 'shipItems', input);
    expect(first.__typename).toBe('RecordEventSuccess');
    const before = await counts();
    const again = await lifecycle(srv, maker, 'shipItems', input);
    expect(again).toEqual(first);
    expect(await counts()).toEqual(before);
    const different = await lifecycle(srv, maker, 'shipItems', { ...input, items: [sgtin('S0011')] });
    expect(different.__typename).toBe('ConflictError');
    expect(await counts()).toEqual(before);
    // Keys are per actor: another actor may use the same key string.
    const other = await lifecycle(srv, dist, 'receiveItems', { items: [sgtin('S0010')], occurredAt: minutesAgo(2), idempotencyKey: 'ship-s10' });
    expect(other.__typename).toBe('RecordEventSuccess');
  });
});

describe('concurrency', () => {
  it('50 concurrent appends to one item leave one linear chain with no lost event', async () => {
    // The shop holds S0020 in stock after ship+receive; then 50 USE_REPORTs race once it is sold.
    await lifecycle(srv, maker, 'shipItems', { items: [sgtin('S0020')], to: shop.id, occurredAt: minutesAgo(9) });
    await lifecycle(srv, shop, 'receiveItems', { items: [sgtin('S0020')], occurredAt: minutesAgo(8) });
    await lifecycle(srv, shop, 'sellItems', { items: [sgtin('S0020')], occurredAt: minutesAgo(7), buyer: owner.id });
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        lifecycle(srv, i % 2 ? owner : fixer, 'recordUse', { items: [sgtin('S0020')], kind: 'USE_REPORT', occurredAt: minutesAgo(6), readings: { n: i } }),
      ),
    );
    expect(results.every((r) => r.__typename === 'RecordEventSuccess')).toBe(true);
    const state = await itemState('S0020');
    expect(state.chainLength).toBe(54);
    expect(state.verification).toMatchObject({ valid: true, length: 54 });
    const seqs = await sql<{ seq: number }>`SELECT l.seq FROM chain_links l JOIN items i ON i.id = l.item_id WHERE i.serial = 'S0020' ORDER BY l.seq`.execute(db.db);
    expect(seqs.rows.map((r) => r.seq)).toEqual(Array.from({ length: 54 }, (_, i) => i));
    const leaves = new Set(results.map((r) => r.event.leafIndex));
    expect(leaves.size).toBe(50);
    // Every event has exactly one leaf: 0..n-1 with no gap and no duplicate. Group commit signs one checkpoint per
    // integrated batch, so there are at most as many checkpoints as events, and the latest covers them all.
    const all = await sql<{ leaf_index: number }>`SELECT leaf_index FROM events ORDER BY leaf_index`.execute(db.db);
    expect(all.rows.map((r) => Number(r.leaf_index))).toEqual(Array.from({ length: all.rows.length }, (_, i) => i));
    const cps = await sql<{ n: number; max: number }>`SELECT count(*)::int AS n, max(tree_size)::int AS max FROM checkpoints`.execute(db.db);
    expect(cps.rows[0]!.max).toBe(all.rows.length);
    expect(cps.rows[0]!.n).toBeLessThanOrEqual(all.rows.length);
  });
});

describe('tamper detection', () => {
  it('an UPDATE of one event’s data in SQL is caught and pinpointed at its seq', async () => {
    await lifecycle(srv, maker, 'shipItems', { items: [sgtin('S0030')], to: dist.id, occurredAt: minutesAgo(9) });
    await lifecycle(srv, dist, 'receiveItems', { items: [sgtin('S0030')], occurredAt: minutesAgo(8) });
    await lifecycle(srv, dist, 'shipItems', { items: [sgtin('S0030')], to: shop.id, occurredAt: minutesAgo(7) });
    expect((await itemState('S0030')).verification.valid).toBe(true);
    const target = await sql<{ event_id: string }>`SELECT l.event_id FROM chain_links l JOIN items i ON i.id = l.item_id WHERE i.serial = 'S0030' AND l.seq = 2`.execute(db.db);
    // The append-only trigger refuses the edit; an attacker with DB access disables it first.
    await expect(sql`UPDATE events SET location = 'elsewhere' WHERE id = ${target.rows[0]!.event_id}`.execute(db.db)).rejects.toThrow(/append-only/);
    await sql`ALTER TABLE events DISABLE TRIGGER events_append_only`.execute(db.db);
    await sql`UPDATE events SET location = 'elsewhere' WHERE id = ${target.rows[0]!.event_id}`.execute(db.db);
    await sql`ALTER TABLE events ENABLE TRIGGER events_append_only`.execute(db.db);
    const v = (await itemState('S0030')).verification;
    expect(v).toMatchObject({ valid: false, firstInvalidSeq: 2 });
    expect(v.reason).toMatch(/location/);

    // Rewriting the hashed body too is caught by the content hash.
    await lifecycle(srv, maker, 'shipItems', { items: [sgtin('S0031')], to: dist.id, occurredAt: minutesAgo(9) });
    const t2 = await sql<{ event_id: string; body: string }>`SELECT l.event_id, e.body FROM chain_links l JOIN items i ON i.id = l.item_id JOIN events e ON e.id = l.event_id WHERE i.serial = 'S0031' AND l.seq = 1`.execute(db.db);
    // A v2 body: the forger moves the occurrence a year back in the body and in the column alike.
    const forged = t2.rows[0]!.body.replace(/"occurredAt":"(\d{4})/, (_m, y: string) => `"occurredAt":"${Number(y) - 1}`);
    expect(forged).not.toBe(t2.rows[0]!.body);
    await sql`ALTER TABLE events DISABLE TRIGGER events_append_only`.execute(db.db);
    await sql`UPDATE events SET body = ${forged}, occurred_at = occurred_at - interval '1 year' WHERE id = ${t2.rows[0]!.event_id}`.execute(db.db);
    await sql`ALTER TABLE events ENABLE TRIGGER events_append_only`.execute(db.db);
    const v2 = (await itemState('S0031')).verification;
    expect(v2).toMatchObject({ valid: false, firstInvalidSeq: 1 });
    expect(v2.reason).toMatch(/content hash mismatch/);
  });
});
