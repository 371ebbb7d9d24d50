import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RoundReport, type SubscriptionWorkerOptions, runSubscriptionRound, startSubscriptionWorker } from '../../src/services/subscription-worker.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { createTestActor, registerProductAndBatch, type TestActor } from '../helpers/ledger.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

// Webhook subscriptions end to end: REST resources, then deliveries made by the worker (driven round by round) to a
// receiver on 127.0.0.1 that records every request.

let db: TestDatabase;
let srv: TestServer;
// Two unrelated brands; the reader sees brand A's product through a grant.
let a: TestActor, b: TestActor, reader: TestActor;
const GA = '04012345111118';
const GB = '04099999000012';
let lots = 0;

interface Received {
  headers: Record<string, string | string[] | undefined>;
  body: string;
  doc: any;
}

/** A webhook receiver: records every POST; answers `503` while `failures` > 0 (counting down), else 204. */
class Receiver {
  requests: Received[] = [];
  failures = 0;
  /** Answer this late (0: at once). */
  answerDelayMs = 0;
  /** Called when a request's body has been received, before it is answered. */
  onReceived?: () => void;
  server!: Server;
  url = '';
  async start(path = '/hook') {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        this.requests.push({ headers: req.headers, body, doc: JSON.parse(body) });
        this.onReceived?.();
        const answer = () => {
          if (this.failures > 0) {
            this.failures--;
            res.writeHead(503).end('busy');
          } else res.writeHead(204).end();
        };
        if (this.answerDelayMs > 0) setTimeout(answer, this.answerDelayMs);
        else answer();
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${path}`;
    return this;
  }
  /** Positions (leaf indexes) of every event received, in arrival order. */
  positions(): number[] {
    return this.requests.flatMap((r) => events(r.doc).map((e: any) => e['provenant:leafIndex'] as number));
  }
  close() {
    return new Promise<void>((r) => { this.server.close(() => r()); this.server.closeAllConnections(); });
  }
}

const events = (doc: any): any[] => doc.epcisBody.queryResults.resultsBody.eventList;

/** What a receiver does: HMAC-SHA256 over `${timestamp}.${body}` with the secret, compared in constant time. */
function signatureValid(r: Received, secret: string): boolean {
  const ts = r.headers['x-provenant-timestamp'] as string;
  const sig = r.headers['gs1-signature'] as string;
  const expected = `sha256=${createHmac('sha256', secret).update(`${ts}.${r.body}`).digest('hex')}`;
  return sig.length === expected.length && timingSafeEqual(Buffer.from(sig), Buffer.from(expected));
}

/** The worker's clock: real time plus an offset the tests move forward to skip a backoff. */
let clockOffsetMs = 0;
const deps = () => ({ db: db.db, now: () => new Date(Date.now() + clockOffsetMs) });
const FAST: SubscriptionWorkerOptions = { backoff: { baseMs: 1_000, maxMs: 8_000 }, random: () => 0, deliveryTimeoutMs: 2_000 };
const round = (o: SubscriptionWorkerOptions = {}): Promise<RoundReport> => runSubscriptionRound(deps(), { ...FAST, ...o });
/** Rounds until no subscription is behind (at most 20). */
async function drain(): Promise<void> {
  for (let i = 0; i < 20; i++) if (!(await round()).behind) return;
}

async function rest(method: string, path: string, key: string | null, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${srv.origin}${path}`, {
    method,
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
}

async function namedQuery(key: string, name: string, query: Record<string, unknown> = {}) {
  const r = await rest('POST', '/epcis/queries', key, { name, query });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
}

async function subscribe(key: string, queryName: string, dest: string, extra: Record<string, unknown> = {}) {
  const r = await rest('POST', `/epcis/queries/${queryName}/subscriptions`, key, { dest, stream: true, ...extra });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body as { subscriptionID: string; signatureToken?: string; [k: string]: unknown };
}

const getSub = async (key: string, queryName: string, id: string) => (await rest('GET', `/epcis/queries/${queryName}/subscriptions/${id}`, key)).body;

/** Commissions a new batch of `maker`'s product; returns the event's log position. */
async function commission(maker: TestActor, gtin: string): Promise<number> {
  lots++;
  const r = await registerProductAndBatch(srv, maker, { gtin, lot: `L${lots}`, serials: [`S${lots}`] });
  expect(r.__typename, JSON.stringify(r)).toBe('RegisterBatchSuccess');
  return r.event.leafIndex as number;
}

async function grant(by: TestActor, grantee: TestActor, gtin: string): Promise<string> {
  const g = await srv.gql(`mutation($i: GrantRightsInput!) { grantRights(input: $i) { __typename ... on GrantSuccess { grant { id } } } }`, { i: { grantee: grantee.id, kinds: [], product: gtin } }, by.key);
  expect(g.body.data.grantRights.__typename, JSON.stringify(g.body)).toBe('GrantSuccess');
  return g.body.data.grantRights.grant.id;
}

async function issueKey(actor: TestActor): Promise<{ secret: string; id: string }> {
  const issued = await srv.gql(`mutation($a: ID!) { issueApiKey(input: { actor: $a }) { __typename ... on IssueApiKeySuccess { secret apiKey { id } } } }`, { a: actor.id });
  const { secret, apiKey } = issued.body.data.issueApiKey;
  return { secret, id: apiKey.id };
}

beforeAll(async () => {
  db = await openTestDatabase();
  srv = await startTestServer(db);
  a = await createTestActor(srv, 'Brand A', ['MANUFACTURER'], ['4012345']);
  b = await createTestActor(srv, 'Brand B', ['MANUFACTURER'], ['4099999']);
  reader = await createTestActor(srv, 'Reader', []);
  await commission(a, GA);
  await commission(b, GB);
  await namedQuery(reader.key, 'everything');
  await namedQuery(a.key, 'mine');
});

afterAll(async () => {
  await srv?.close();
  await db?.dispose();
});

describe('subscription resources', () => {
  it('creates (201, Location, the generated secret once), reads, lists and deletes; another actor sees none', async () => {
    const created = await rest('POST', '/epcis/queries/everything/subscriptions', reader.key, { dest: 'https://receiver.example/hook', stream: true });
    expect(created.status).toBe(201);
    const id = created.body.subscriptionID as string;
    expect(created.headers.get('location')).toBe(`${srv.origin}/epcis/queries/everything/subscriptions/${id}`);
    expect(created.body).toMatchObject({ queryName: 'everything', dest: 'https://receiver.example/hook', stream: true, 'provenant:status': 'active' });
    expect(created.body.signatureToken).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const got = await rest('GET', `/epcis/queries/everything/subscriptions/${id}`, reader.key);
    expect(got.status).toBe(200);
    expect(got.body.subscriptionID).toBe(id);
    expect(got.body).not.toHaveProperty('signatureToken');
    expect(JSON.stringify(got.body)).not.toContain(created.body.signatureToken);
    const list = await rest('GET', '/epcis/queries/everything/subscriptions', reader.key);
    expect(list.status).toBe(200);
    expect(list.body.map((s: any) => s.subscriptionID)).toContain(id);

    // A client's own signatureToken is used and never echoed.
    const own = await rest('POST', '/epcis/queries/everything/subscriptions', reader.key, { dest: 'https://receiver.example/2', stream: true, signatureToken: 'client-chosen-secret-0001' });
    expect(own.status).toBe(201);
    expect(own.body).not.toHaveProperty('signatureToken');

    // Another actor: the same ids are missing.
    expect((await rest('GET', `/epcis/queries/everything/subscriptions/${id}`, a.key)).status).toBe(404);
    expect((await rest('DELETE', `/epcis/queries/everything/subscriptions/${id}`, a.key)).status).toBe(404);
    expect((await rest('GET', '/epcis/queries/everything/subscriptions', a.key)).status).toBe(404);

    const del = await rest('DELETE', `/epcis/queries/everything/subscriptions/${id}`, reader.key);
    expect(del.status).toBe(204);
    const gone = await rest('GET', `/epcis/queries/everything/subscriptions/${id}`, reader.key);
    expect(gone.status).toBe(404);
    expect(gone.body.type).toBe('epcisException:NoSuchSubscriptionException');
    expect((await rest('DELETE', `/epcis/queries/everything/subscriptions/${own.body.subscriptionID}`, reader.key)).status).toBe(204);
  });

  it('pages the list with perPage and nextPageToken', async () => {
    await namedQuery(reader.key, 'paged');
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await subscribe(reader.key, 'paged', `https://receiver.example/p${i}`)).subscriptionID);
    const first = await rest('GET', '/epcis/queries/paged/subscriptions?perPage=2', reader.key);
    expect(first.body).toHaveLength(2);
    const next = /<([^>]+)>; rel="next"/.exec(first.headers.get('link') ?? '')![1]!;
    const second = await rest('GET', new URL(next).pathname + new URL(next).search, reader.key);
    expect(second.body).toHaveLength(1);
    expect([...first.body, ...second.body].map((s: any) => s.subscriptionID).sort()).toEqual(ids.sort());
    expect(second.headers.get('link')).toBeNull();
    for (const id of ids) await rest('DELETE', `/epcis/queries/paged/subscriptions/${id}`, reader.key);
  });

  it('refuses bad requests with problem details naming the member', async () => {
    const post = (body: unknown, name = 'everything', key: string | null = reader.key) => rest('POST', `/epcis/queries/${name}/subscriptions`, key, body);
    const noStream = await post({ dest: 'https://r.example/h' });
    expect(noStream.status).toBe(400);
    expect(noStream.body).toMatchObject({ type: 'epcisException:ValidationException', status: 400 });
    expect(noStream.body.parameters.map((p: any) => p.name)).toEqual(['stream']);
    const schedule = await post({ dest: 'https://r.example/h', schedule: { hour: '1' } });
    expect(schedule.body.parameters.map((p: any) => p.name)).toEqual(['schedule']);
    const insecure = await post({ dest: 'http://receiver.example/h', stream: true });
    expect(insecure.status).toBe(400);
    expect(insecure.body.parameters[0]).toMatchObject({ name: 'dest' });
    const several = await post({ dest: 'ftp://x', stream: true, signatureToken: 'short', initialRecordTime: 'yesterday', color: 'red' });
    expect(several.body.parameters.map((p: any) => p.name).sort()).toEqual(['color', 'dest', 'initialRecordTime', 'signatureToken']);
    expect((await post({ dest: 'https://r.example/h', stream: true }, 'nosuchquery')).body.type).toBe('epcisException:NoSuchNameException');
    expect((await post({ dest: 'https://r.example/h', stream: true }, 'everything', null)).status).toBe(401);
    await namedQuery(reader.key, 'capped', { maxEventCount: 5 });
    const capped = await post({ dest: 'https://r.example/h', stream: true }, 'capped');
    expect(capped.status).toBe(400);
    expect(capped.body.type).toBe('epcisException:QueryParameterException');
    expect(capped.body.parameters[0].name).toBe('maxEventCount');
  });
});

describe('limits', () => {
  it('an actor holds at most 100 active subscriptions (409 SubscribeNotPermittedException)', async () => {
    const spammer = await createTestActor(srv, 'Spammer', []);
    await namedQuery(spammer.key, 'q');
    try {
      for (let i = 0; i < 100; i += 20) {
        await Promise.all(Array.from({ length: 20 }, (_, j) => subscribe(spammer.key, 'q', `https://spam.example/${i + j}`)));
      }
      const refused = await rest('POST', '/epcis/queries/q/subscriptions', spammer.key, { dest: 'https://spam.example/100', stream: true });
      expect(refused.status).toBe(409);
      expect(refused.body.type).toBe('epcisException:SubscribeNotPermittedException');
      // Another actor is not affected.
      expect((await rest('POST', '/epcis/queries/everything/subscriptions', reader.key, { dest: 'https://spam.example/r', stream: true })).status).toBe(201);
    } finally {
      await sql`DELETE FROM epcis_subscriptions WHERE dest LIKE 'https://spam.example/%'`.execute(db.db);
    }
  });
});

describe('deliveries', () => {
  it('delivers only what the subscriber may see, signed, with positions; not after its grant is revoked', async () => {
    const rx = await new Receiver().start();
    try {
      const grantId = await grant(a, reader, GA);
      const sub = await subscribe(reader.key, 'everything', rx.url);
      const secret = sub.signatureToken!;
      const seen = await commission(a, GA);
      const other = await commission(b, GB); // a second company's event: never delivered
      await drain();
      expect(rx.requests).toHaveLength(1);
      const r = rx.requests[0]!;
      expect(signatureValid(r, secret)).toBe(true);
      expect(signatureValid({ ...r, body: r.body.replace('"EPCISQueryDocument"', '"EPCISDocument"') }, secret)).toBe(false);
      expect(r.headers['x-provenant-subscription']).toBe(sub.subscriptionID);
      expect(r.headers['content-type']).toBe('application/ld+json');
      expect(r.doc.type).toBe('EPCISQueryDocument');
      expect(r.doc.epcisBody.queryResults).toMatchObject({ queryName: 'everything', subscriptionID: sub.subscriptionID });
      expect(rx.positions()).toEqual([seen]);
      expect(r.doc['provenant:lastPosition']).toBe(other);
      expect(r.doc['provenant:checkpoint']['provenant:treeSize']).toBeGreaterThan(other);
      let state = await getSub(reader.key, 'everything', sub.subscriptionID);
      expect(state['provenant:position']).toBe(other);
      expect(state.lastNotifiedAt).not.toBeNull();

      const revoked = await srv.gql(`mutation($g: ID!) { revokeRights(input: { grant: $g }) { __typename } }`, { g: grantId }, a.key);
      expect(revoked.body.data.revokeRights.__typename).toBe('GrantSuccess');
      const after = await commission(a, GA);
      await drain();
      expect(rx.requests).toHaveLength(1);
      state = await getSub(reader.key, 'everything', sub.subscriptionID);
      // Examined and filtered out: the cursor moved past it without a request.
      expect(state['provenant:position']).toBeGreaterThanOrEqual(after);
      expect(state['provenant:status']).toBe('active');
      expect((await rest('DELETE', `/epcis/queries/everything/subscriptions/${sub.subscriptionID}`, reader.key)).status).toBe(204);
    } finally {
      await rx.close();
    }
  });

  it('retries failed deliveries with backoff, the same events again, moving the cursor only on success', async () => {
    const rx = await new Receiver().start();
    try {
      const sub = await subscribe(a.key, 'mine', rx.url);
      const id = sub.subscriptionID;
      const before = (await getSub(a.key, 'mine', id))['provenant:position'];
      const p1 = await commission(a, GA);
      const p2 = await commission(a, GA);
      rx.failures = 2;

      await round();
      let state = await getSub(a.key, 'mine', id);
      expect(rx.requests).toHaveLength(1);
      expect(state).toMatchObject({ 'provenant:position': before, 'provenant:attempts': 1, 'provenant:lastError': 'HTTP 503: Service Unavailable' });
      const firstWait = Date.parse(state['provenant:nextAttemptAt']) - Date.now();
      expect(firstWait).toBeGreaterThan(300); // 1 s × jitter 0.5, minus the test's own time
      // Not due yet: a round delivers nothing.
      await round();
      expect(rx.requests).toHaveLength(1);

      clockOffsetMs += 600;
      await round();
      state = await getSub(a.key, 'mine', id);
      expect(rx.requests).toHaveLength(2);
      expect(state).toMatchObject({ 'provenant:position': before, 'provenant:attempts': 2 });
      // The second wait is twice the first (1 s, then 2 s, jitter 0.5).
      expect(Date.parse(state['provenant:nextAttemptAt']) - (Date.now() + clockOffsetMs)).toBeGreaterThan(700);

      clockOffsetMs += 1_100;
      await round();
      state = await getSub(a.key, 'mine', id);
      expect(rx.requests).toHaveLength(3);
      expect(state).toMatchObject({ 'provenant:position': p2, 'provenant:attempts': 0, 'provenant:lastError': null });
      // At least once: every attempt carried the same events, and the same signature check holds for each.
      for (const r of rx.requests) {
        expect(events(r.doc).map((e) => e['provenant:leafIndex'])).toEqual([p1, p2]);
        expect(r.doc['provenant:afterPosition']).toBe(before);
        expect(signatureValid(r, sub.signatureToken!)).toBe(true);
      }
      await round();
      expect(rx.requests).toHaveLength(3);
      expect((await rest('DELETE', `/epcis/queries/mine/subscriptions/${id}`, a.key)).status).toBe(204);
    } finally {
      await rx.close();
    }
  });

  it('a delivery cut off by a shutdown is delivered again (at least once), and the cursor had not moved', async () => {
    const rx = await new Receiver().start();
    try {
      const sub = await subscribe(a.key, 'mine', rx.url);
      const before = (await getSub(a.key, 'mine', sub.subscriptionID))['provenant:position'];
      const p = await commission(a, GA);
      const shutdown = new AbortController();
      // The receiver got the document, but the worker stops before the answer arrives.
      rx.answerDelayMs = 200;
      rx.onReceived = () => shutdown.abort();
      await runSubscriptionRound(deps(), FAST, shutdown.signal);
      expect(rx.requests).toHaveLength(1);
      rx.answerDelayMs = 0;
      rx.onReceived = undefined;
      const state = await getSub(a.key, 'mine', sub.subscriptionID);
      expect(state).toMatchObject({ 'provenant:position': before, 'provenant:attempts': 0 });
      await drain();
      expect(rx.positions()).toEqual([p, p]);
      expect((await getSub(a.key, 'mine', sub.subscriptionID))['provenant:position']).toBe(p);
      expect((await rest('DELETE', `/epcis/queries/mine/subscriptions/${sub.subscriptionID}`, a.key)).status).toBe(204);
    } finally {
      await rx.close();
    }
  });

  it('an unreachable receiver is a failure too, recorded with its reason', async () => {
    const rx = await new Receiver().start();
    const dest = rx.url;
    await rx.close();
    const sub = await subscribe(a.key, 'mine', dest);
    await commission(a, GA);
    await round();
    const state = await getSub(a.key, 'mine', sub.subscriptionID);
    expect(state['provenant:attempts']).toBe(1);
    expect(state['provenant:lastError']).toMatch(/ECONNREFUSED|fetch failed/);
    expect((await rest('DELETE', `/epcis/queries/mine/subscriptions/${sub.subscriptionID}`, a.key)).status).toBe(204);
  });

  it('initialRecordTime delivers the events recorded since then, exactly those GET /epcis/events returns', async () => {
    const rx = await new Receiver().start();
    try {
      await commission(a, GA);
      await new Promise((r) => setTimeout(r, 5));
      const since = new Date().toISOString();
      const p1 = await commission(a, GA);
      await commission(b, GB);
      const p2 = await commission(a, GA);
      const sub = await subscribe(a.key, 'mine', rx.url, { initialRecordTime: since });
      await drain();
      expect(rx.positions()).toEqual([p1, p2]);
      const viaQuery = await rest('GET', `/epcis/events?perPage=1000&GE_recordTime=${encodeURIComponent(since)}`, a.key);
      expect(viaQuery.body.epcisBody.queryResults.resultsBody.eventList.map((e: any) => e['provenant:leafIndex'])).toEqual([p1, p2]);
      expect((await rest('DELETE', `/epcis/queries/mine/subscriptions/${sub.subscriptionID}`, a.key)).status).toBe(204);
    } finally {
      await rx.close();
    }
  });

  it('a restarted worker resumes from the cursor: every event once, in order, no gap', async () => {
    const rx = await new Receiver().start();
    const opts = { ...FAST, pollIntervalMs: 10, batchSize: 2 };
    try {
      const sub = await subscribe(a.key, 'mine', rx.url);
      const expected: number[] = [];
      let worker = startSubscriptionWorker(deps(), opts);
      for (let i = 0; i < 3; i++) expected.push(await commission(a, GA));
      // Stop once the cursor moved past the third event: stopping mid-delivery would (rightly) deliver it again.
      await untilAsync(async () => (await getSub(a.key, 'mine', sub.subscriptionID))['provenant:position'] === expected[2]);
      await worker.stop();
      // Recorded while no worker runs: delivered after the restart, in batches of 2.
      for (let i = 0; i < 3; i++) expected.push(await commission(a, GA));
      await new Promise((r) => setTimeout(r, 50));
      expect(rx.positions()).toEqual(expected.slice(0, 3));
      worker = startSubscriptionWorker(deps(), opts);
      await untilAsync(async () => (await getSub(a.key, 'mine', sub.subscriptionID))['provenant:position'] === expected[5]);
      await worker.stop();
      expect(rx.positions()).toEqual(expected);
      expect(rx.requests.every((r) => events(r.doc).length <= 2)).toBe(true);
      expect((await getSub(a.key, 'mine', sub.subscriptionID))['provenant:position']).toBe(expected[5]);
      await rest('DELETE', `/epcis/queries/mine/subscriptions/${sub.subscriptionID}`, a.key);
    } finally {
      await rx.close();
    }
  });

  it('revoking the key that subscribed stops the subscription for good, idle or with events pending', async () => {
    const rx = await new Receiver().start();
    try {
      const key = await issueKey(a);
      const sub = await subscribe(key.secret, 'mine', rx.url);
      await commission(a, GA);
      await drain();
      expect(rx.requests).toHaveLength(1);
      const revokeKey = async (id: string) => {
        const revoke = await srv.gql(`mutation($id: ID!) { revokeApiKey(input: { keyId: $id }) { __typename } }`, { id });
        expect(revoke.body.data.revokeApiKey.__typename).toBe('RevokeApiKeySuccess');
      };
      // Idle (nothing new in the log): stopped at its periodic check.
      await revokeKey(key.id);
      expect((await round()).stopped).toBe(0); // checked less than idleRecheckMs ago
      expect((await round({ idleRecheckMs: 0 })).stopped).toBe(1);
      // The owner (with its other key) sees why.
      const state = await getSub(a.key, 'mine', sub.subscriptionID);
      expect(state).toMatchObject({ 'provenant:status': 'stopped', 'provenant:stoppedReason': 'the API key that created the subscription was revoked', 'provenant:nextAttemptAt': null });

      // With an event waiting: stopped instead of delivering it.
      const key2 = await issueKey(a);
      const sub2 = await subscribe(key2.secret, 'mine', rx.url);
      await revokeKey(key2.id);
      await commission(a, GA);
      expect((await round()).stopped).toBe(1);
      expect((await getSub(a.key, 'mine', sub2.subscriptionID))['provenant:status']).toBe('stopped');
      await commission(a, GA);
      await drain();
      expect(rx.requests).toHaveLength(1);
    } finally {
      await rx.close();
    }
  });
});

async function untilAsync(cond: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}
