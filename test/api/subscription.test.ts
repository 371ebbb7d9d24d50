import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { decodeGlobalID } from '@pothos/plugin-relay';
import { readScope } from '../../src/core/rights.ts';
import { openPostgres } from '../../src/db/connection.ts';
import { FEED_POLL_INTERVAL_MS, endLedgerFeeds, ledgerEventFeed, openFeedCount } from '../../src/services/event-feed.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { createTestActor, lifecycle, minutesAgo, registerProductAndBatch, type TestActor } from '../helpers/ledger.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

let db: TestDatabase;
let srv: TestServer;
// Two unrelated companies, A (with a distributor) and B, each with its own product.
let a: TestActor, aDist: TestActor, b: TestActor, bShop: TestActor;
const GA = '04012345111118';
const GB = '04099999000012';
const urnA = (s: string) => `urn:epc:id:sgtin:4012345.011111.${s}`;
const urnB = (s: string) => `urn:epc:id:sgtin:4099999.000001.${s}`;
/** Long enough for a feed to have polled several times. */
const SETTLE_MS = FEED_POLL_INTERVAL_MS * 4;

const SUBSCRIPTION = `subscription($filter: LedgerEventFilter, $after: Int) {
  ledgerEvents(filter: $filter, after: $after) {
    position
    event { id kind leafIndex actor { name } items(first: 5) { edges { node { sgtin } } } }
  }
}`;

// ---- a minimal GraphQL-over-SSE client: fetch + an event-stream parser ----

interface Subscription {
  /** Payloads of `next` events, in arrival order. */
  messages: any[];
  /** A `complete` event arrived. */
  completed: boolean;
  /** The response body ended (completed, closed by the server, or aborted by us). */
  ended: boolean;
  status: number;
  positions(): number[];
  close(): void;
}

/** Parses one SSE block into its event name and data (comment lines, e.g. yoga's `:` pings, are ignored). */
function parseSseBlock(block: string): { event: string; data: string } | null {
  let event = 'message';
  const data: string[] = [];
  for (const line of block.split(/\r?\n/)) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  return data.length || event !== 'message' ? { event, data: data.join('\n') } : null;
}

const open: Subscription[] = [];

async function subscribe(key: string | null, variables: Record<string, unknown> = {}, server: TestServer = srv): Promise<Subscription> {
  const ctrl = new AbortController();
  const res = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify({ query: SUBSCRIPTION, variables }),
    signal: ctrl.signal,
  });
  const sub: Subscription = {
    messages: [],
    completed: false,
    ended: false,
    status: res.status,
    positions: () => sub.messages.filter((m) => m.data).map((m) => m.data.ledgerEvents.position),
    close: () => ctrl.abort(),
  };
  open.push(sub);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  void (async () => {
    let buffer = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        for (let i = buffer.search(/\r?\n\r?\n/); i >= 0; i = buffer.search(/\r?\n\r?\n/)) {
          const block = buffer.slice(0, i);
          buffer = buffer.slice(i).replace(/^\r?\n\r?\n/, '');
          const ev = parseSseBlock(block);
          if (ev?.event === 'next') sub.messages.push(JSON.parse(ev.data));
          else if (ev?.event === 'complete') sub.completed = true;
        }
      }
    } catch {
      // aborted by close()
    } finally {
      sub.ended = true;
    }
  })();
  return sub;
}

/** Waits until `cond` holds; fails (never hangs) after `ms`. */
async function until(cond: () => boolean, what: () => string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---- writing events ----

let lots = 0;
/** A new batch of `maker`'s product with `serials.length` items: one COMMISSION event; returns its leaf index. */
async function commission(maker: TestActor, gtin: string, serials?: string[]): Promise<{ position: number; lot: string }> {
  const lot = `L${++lots}`;
  const r = await registerProductAndBatch(srv, maker, { gtin, lot, serials: serials ?? [`${lot}-1`] });
  expect(r.__typename, JSON.stringify(r)).toBe('RegisterBatchSuccess');
  return { position: r.event.leafIndex, lot };
}

async function ship(from: TestActor, items: string[], to: TestActor): Promise<number> {
  const r = await lifecycle(srv, from, 'shipItems', { items, to: to.id, occurredAt: minutesAgo(1) });
  expect(r.__typename, JSON.stringify(r)).toBe('RecordEventSuccess');
  return r.event.leafIndex;
}

beforeAll(async () => {
  db = await openTestDatabase();
  srv = await startTestServer(db);
  a = await createTestActor(srv, 'A-Maker', ['MANUFACTURER'], ['4012345']);
  aDist = await createTestActor(srv, 'A-Dist', ['DISTRIBUTOR']);
  b = await createTestActor(srv, 'B-Maker', ['MANUFACTURER'], ['4099999']);
  bShop = await createTestActor(srv, 'B-Shop', ['RETAILER']);
  await commission(a, GA, ['S01', 'S02', 'S03', 'S04', 'S05']);
  await commission(b, GB, ['S01', 'S02', 'S03']);
});
afterEach(async () => {
  for (const s of open.splice(0)) s.close();
  // Every feed ends when its client goes away.
  await until(() => openFeedCount() === 0, () => `${openFeedCount()} feeds to end`);
});
afterAll(async () => {
  await srv?.close();
  await db?.dispose();
});

describe('ledgerEvents over SSE', () => {
  it('delivers events recorded after subscribing, in log order, each with its position', async () => {
    const sub = await subscribe(a.key);
    const expected = [(await commission(a, GA)).position, await ship(a, [urnA('S01')], aDist), (await commission(a, GA)).position];
    await until(() => sub.messages.length >= 3, () => `3 messages, got ${JSON.stringify(sub.messages)}`);
    await sleep(SETTLE_MS);
    expect(sub.messages.every((m) => !m.errors)).toBe(true);
    expect(sub.positions()).toEqual(expected);
    expect(expected).toEqual([...expected].sort((x, y) => x - y));
    const events = sub.messages.map((m) => m.data.ledgerEvents.event);
    expect(events.map((e) => e.kind)).toEqual(['COMMISSION', 'SHIP', 'COMMISSION']);
    expect(events.map((e) => e.leafIndex)).toEqual(expected);
    expect(events[1].items.edges.map((e: any) => e.node.sgtin)).toEqual([urnA('S01')]);
    expect(sub.completed).toBe(false);
  });

  it('replays from `after`, and a client that disconnects and resumes from its last position gets every event exactly once', async () => {
    const base = (await commission(a, GA)).position;
    const expected: number[] = [];
    // Before subscribing: replayed from the database.
    for (let i = 0; i < 3; i++) expected.push((await commission(a, GA)).position);
    const first = await subscribe(a.key, { after: base });
    await until(() => first.messages.length >= 3, () => 'the replayed events');
    // While connected: the client handles 2 of these, then drops the connection with the rest possibly in flight.
    for (let i = 0; i < 4; i++) expected.push((await commission(a, GA)).position);
    await until(() => first.messages.length >= 5, () => 'live events');
    const handled = first.positions().slice(0, 5);
    first.close();
    await until(() => first.ended, () => 'the first stream to close');
    // While disconnected.
    for (let i = 0; i < 3; i++) expected.push((await commission(a, GA)).position);
    const second = await subscribe(a.key, { after: handled[handled.length - 1] });
    // After resuming.
    for (let i = 0; i < 2; i++) expected.push((await commission(a, GA)).position);
    await until(() => second.positions().at(-1) === expected.at(-1), () => `position ${expected.at(-1)}, got ${second.positions()}`);
    await sleep(SETTLE_MS);
    const all = [...handled, ...second.positions()];
    expect(all).toEqual(expected);
    expect(new Set(all).size).toBe(all.length);
    second.close();
    await until(() => openFeedCount() === 0, () => 'the feeds to end after the disconnects');
  });

  it('replays in pages: a backlog arrives complete, in order, across page and scan-window boundaries', async () => {
    const base = (await commission(a, GA)).position;
    const serials = Array.from({ length: 5 }, (_, i) => `P${i}`);
    const expected = [(await commission(a, GA, serials)).position];
    // A's events interleaved with B's (invisible to A), so windows end on positions A never receives.
    for (const s of serials) {
      expected.push(await ship(a, [urnA(s)], aDist));
      await commission(b, GB);
    }
    const last = (await commission(b, GB)).position;
    const stop = new AbortController();
    const got: number[] = [];
    let authorizations = 0;
    const feed = ledgerEventFeed({
      db: db.db, after: base, filter: { kinds: [], gtins: [], batches: [], itemIds: [], itemKeys: [] }, signal: stop.signal,
      authorize: async () => (authorizations++, { ok: true, scope: readScope(decodeGlobalID(a.id).id, false, [], new Date()) }),
      pageSize: 2, scanWindow: 3, pollIntervalMs: 20,
    });
    const timer = setTimeout(() => stop.abort(), 10_000);
    try {
      for await (const m of feed) {
        if (m.kind !== 'event') throw new Error(`unexpected ${m.kind}`);
        got.push(m.position);
        if (got.length === expected.length) break;
      }
    } finally {
      clearTimeout(timer);
    }
    expect(got).toEqual(expected);
    expect(authorizations).toBeGreaterThanOrEqual(Math.ceil((last - base) / 3));
    // Over HTTP, -1 replays the whole log from the start.
    const everything = await subscribe(srv.operatorKey, { after: -1 });
    await until(() => everything.positions().at(-1) === last, () => 'the whole log');
    expect(everything.positions()).toEqual(Array.from({ length: last + 1 }, (_, i) => i));
  });

  it('two subscribers from different companies each receive only their own company’s events', async () => {
    const subA = await subscribe(a.key);
    const subB = await subscribe(b.key);
    const forA: number[] = [];
    const forB: number[] = [];
    forA.push((await commission(a, GA)).position);
    forB.push((await commission(b, GB)).position);
    forA.push(await ship(a, [urnA('S02')], aDist));
    forB.push(await ship(b, [urnB('S01')], bShop));
    forB.push((await commission(b, GB)).position);
    forA.push((await commission(a, GA)).position);
    await until(() => subA.messages.length >= forA.length && subB.messages.length >= forB.length, () => 'both companies’ events');
    await sleep(SETTLE_MS);
    expect(subA.positions()).toEqual(forA);
    expect(subB.positions()).toEqual(forB);
    expect(subA.messages.every((m) => m.data.ledgerEvents.event.actor.name === 'A-Maker')).toBe(true);
    expect(subB.messages.every((m) => m.data.ledgerEvents.event.actor.name === 'B-Maker')).toBe(true);
    // The distributor A shipped to sees that shipment (it is named in it), nothing else of A's.
    const dist = await subscribe(aDist.key, { after: forA[0]! - 1 });
    await until(() => dist.messages.length >= 1, () => 'the distributor’s event');
    await sleep(SETTLE_MS);
    expect(dist.positions()).toEqual([forA[1]]);
  });

  it('a revoked API key stops delivery at once and ends the stream with UNAUTHENTICATED', async () => {
    const issued = await srv.gql(`mutation($a: ID!) { issueApiKey(input: { actor: $a }) { __typename ... on IssueApiKeySuccess { secret apiKey { id } } } }`, { a: a.id });
    const { secret, apiKey } = issued.body.data.issueApiKey;
    const sub = await subscribe(secret);
    const before = (await commission(a, GA)).position;
    await until(() => sub.messages.length >= 1, () => 'the event before revocation');
    const revoke = await srv.gql(`mutation($id: ID!) { revokeApiKey(input: { keyId: $id }) { __typename } }`, { id: apiKey.id });
    expect(revoke.body.data.revokeApiKey.__typename).toBe('RevokeApiKeySuccess');
    const afterRevocation = (await commission(a, GA)).position;
    await until(() => sub.ended, () => 'the stream to end');
    expect(sub.completed).toBe(true);
    expect(sub.positions()).toEqual([before]);
    expect(sub.positions()).not.toContain(afterRevocation);
    const last = sub.messages.at(-1);
    expect(last.data).toBeNull();
    expect(last.errors[0].extensions.code).toBe('UNAUTHENTICATED');
    expect(last.errors[0].message).toMatch(/unknown or revoked/);
  });

  it('an idle subscription of a revoked key ends too, without any new event', async () => {
    const issued = await srv.gql(`mutation($a: ID!) { issueApiKey(input: { actor: $a }) { ... on IssueApiKeySuccess { secret apiKey { id } } } }`, { a: b.id });
    const { secret, apiKey } = issued.body.data.issueApiKey;
    const sub = await subscribe(secret);
    await sleep(FEED_POLL_INTERVAL_MS);
    await srv.gql(`mutation($id: ID!) { revokeApiKey(input: { keyId: $id }) { __typename } }`, { id: apiKey.id });
    await until(() => sub.ended, () => 'the idle stream to end', 5_000);
    expect(sub.completed).toBe(true);
    expect(sub.messages).toHaveLength(1);
    expect(sub.messages[0].errors[0].extensions.code).toBe('UNAUTHENTICATED');
  });

  it('an expired grant stops the events it covered; the stream stays open', async () => {
    const reader = await createTestActor(srv, 'Reader', []);
    const g = await srv.gql(
      `mutation($i: GrantRightsInput!) { grantRights(input: $i) { __typename } }`,
      { i: { grantee: reader.id, kinds: [], product: GA, expiresAt: new Date(Date.now() + 3_600_000).toISOString() } },
      a.key,
    );
    expect(g.body.data.grantRights.__typename).toBe('GrantSuccess');
    const sub = await subscribe(reader.key);
    const covered = (await commission(a, GA)).position;
    await until(() => sub.messages.length >= 1, () => 'the covered event');
    try {
      srv.setNow(new Date(Date.now() + 2 * 3_600_000));
      const notCovered = (await commission(a, GA)).position;
      await sleep(SETTLE_MS);
      expect(sub.positions()).toEqual([covered]);
      expect(sub.positions()).not.toContain(notCovered);
      expect(sub.ended).toBe(false);
    } finally {
      srv.setNow(undefined);
    }
  });

  it('filters by kinds, products, batches (also ones registered later) and items', async () => {
    const nextLot = `L${lots + 1}`;
    const op = srv.operatorKey;
    const kinds = await subscribe(op, { filter: { kinds: ['SHIP'] } });
    const batch = await subscribe(op, { filter: { batches: [{ gtin: GA, lot: nextLot }] } });
    const shipsOfBatch = await subscribe(op, { filter: { kinds: ['SHIP'], batches: [{ gtin: GA, lot: nextLot }] } });
    const product = await subscribe(op, { filter: { products: [GB] } });
    const item = await subscribe(op, { filter: { items: [urnA(`${nextLot}-2`)] } });
    const c = await commission(a, GA, [`${nextLot}-1`, `${nextLot}-2`]);
    expect(c.lot).toBe(nextLot);
    const cB = (await commission(b, GB)).position;
    const ship1 = await ship(a, [urnA(`${nextLot}-1`)], aDist);
    const shipOther = await ship(a, [urnA('S03')], aDist);
    const shipB = await ship(b, [urnB('S02')], bShop);
    const ship2 = await ship(a, [urnA(`${nextLot}-2`)], aDist);
    const want = new Map([
      [kinds, [ship1, shipOther, shipB, ship2]],
      [batch, [c.position, ship1, ship2]],
      [shipsOfBatch, [ship1, ship2]],
      [product, [cB, shipB]],
      [item, [c.position, ship2]],
    ]);
    await until(() => [...want].every(([s, w]) => s.messages.length >= w.length), () => 'every filtered stream');
    await sleep(SETTLE_MS);
    for (const [s, w] of want) expect(s.positions()).toEqual(w);
  });

  it('works across server processes on one database (no in-process bus), and a shutdown completes the streams', async () => {
    // On PostgreSQL the second server has its own connection pool, as a second process would.
    const url = process.env.DATABASE_URL;
    const ownPool = url ? await openPostgres(url, { schema: db.schema }) : undefined;
    const other = await startTestServer(ownPool ? { ...db, db: ownPool.db } : db);
    try {
      const sub = await subscribe(a.key, {}, other);
      const all = await subscribe(other.operatorKey, {}, other);
      // Written through the first server, delivered by the second, which only shares the database.
      const written = [(await commission(a, GA)).position, await ship(a, [urnA('S04')], aDist)];
      await until(() => sub.messages.length >= 2, () => 'events written through the other server');
      expect(sub.positions()).toEqual(written);
      // Concurrent writers: positions still arrive without a gap or a duplicate.
      const concurrent = await Promise.all(Array.from({ length: 8 }, (_, i) => commission(i % 2 ? a : b, i % 2 ? GA : GB)));
      const last = Math.max(...concurrent.map((c) => c.position));
      await until(() => all.positions().at(-1) === last, () => `position ${last}, got ${all.positions()}`);
      expect(all.positions()).toEqual(Array.from({ length: last - written[0]! + 1 }, (_, i) => written[0]! + i));
      expect(endLedgerFeeds(ownPool?.db ?? db.db)).toBe(2);
      await until(() => sub.ended && all.ended, () => 'the streams to end on shutdown');
      expect(sub.completed && all.completed).toBe(true);
      expect([...sub.messages, ...all.messages].every((m) => !m.errors)).toBe(true);
    } finally {
      await other.close();
      await ownPool?.close();
    }
  });

  it('refuses anonymous callers and invalid filters', async () => {
    const anon = await subscribe(null);
    expect(anon.status).toBe(401);
    await until(() => anon.ended, () => 'the anonymous stream to end');
    expect(anon.messages[0].errors[0].extensions.code).toBe('UNAUTHENTICATED');
    const bad = await subscribe(a.key, { filter: { products: ['123'] } });
    await until(() => bad.ended, () => 'the invalid stream to end');
    expect(bad.messages[0].errors[0].extensions).toMatchObject({ code: 'VALIDATION_ERROR', field: 'filter.products[0]' });
    const badAfter = await subscribe(a.key, { after: -5 });
    await until(() => badAfter.ended, () => 'the invalid stream to end');
    expect(badAfter.messages[0].errors[0].extensions).toMatchObject({ code: 'VALIDATION_ERROR', field: 'after' });
  });
});
