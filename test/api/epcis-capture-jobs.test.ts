/**
 * EPCIS 2.0 capture jobs (REST binding): `POST /epcis/capture` → 202 + Location; `GET /epcis/capture/{id}` follows the
 * job to its result or its per-event problems; `GET /epcis/capture` lists the caller's jobs. The worker is driven
 * directly for the restart cases (a job left queued or running by a process that died).
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gs1CheckDigit, sgtinUrn } from '../../src/core/identifiers.ts';
import { findActorsByIds } from '../../src/db/actors.ts';
import { claimNextCaptureJob, finishCaptureJob, recordCaptureJobResult } from '../../src/db/capture-jobs.ts';
import { captureWorkerFor, runNextCaptureJob, startCaptureWorker, submitCaptureJob } from '../../src/services/capture-jobs.ts';
import type { LedgerDeps } from '../../src/services/deps.ts';
import { EPCIS_CAPTURE_DEFAULTS, captureEpcisDocument } from '../../src/services/epcis-capture.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

type Json = Record<string, any>;

const withCheck = (digits: string): string => digits + String(gs1CheckDigit(digits));
const GTIN = withCheck('0950600013435');
const FACTORY_GLN = withCheck('950600000001');
const item = (serial: string) => sgtinUrn(GTIN, 7, serial);
const asDocument = (events: Json[]): Json => ({
  '@context': ['https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld'],
  type: 'EPCISDocument',
  schemaVersion: '2.0',
  creationDate: '2026-03-01T12:00:00.000Z',
  epcisBody: { eventList: events },
});
const at = (day: number) => `2026-03-${String(day).padStart(2, '0')}T10:00:00.000+01:00`;
const commission = (lot: string, serials: string[], day = 1): Json => ({
  type: 'ObjectEvent', eventTime: at(day), eventTimeZoneOffset: '+01:00', action: 'ADD', bizStep: 'commissioning', disposition: 'active',
  epcList: serials.map(item), readPoint: { id: `https://id.gs1.org/414/${FACTORY_GLN}` }, ilmd: { 'cbvmda:lotNumber': lot },
});
const destroy = (serials: string[], day: number): Json => ({
  type: 'ObjectEvent', eventTime: at(day), eventTimeZoneOffset: '+01:00', action: 'OBSERVE', bizStep: 'destroying', epcList: serials.map(item),
});

interface Actor { key: string; uuid: string }

let db: TestDatabase;
let srv: TestServer;
let maker: Actor;
let stranger: Actor;
let deps: LedgerDeps;

async function createActor(name: string, roles: string[], companyPrefixes: string[] = []): Promise<Actor> {
  const { body } = await srv.gql(
    `mutation($input: CreateActorInput!) { createActor(input: $input) { __typename ... on CreateActorSuccess { secret actor { id } } ... on Error { message } } }`,
    { input: { name, roles, companyPrefixes } },
  );
  expect(body.data?.createActor?.__typename, JSON.stringify(body)).toBe('CreateActorSuccess');
  return { key: body.data.createActor.secret, uuid: Buffer.from(body.data.createActor.actor.id, 'base64').toString('utf8').split(':')[1]! };
}

const auth = (key: string | null): Record<string, string> => (key ? { authorization: `Bearer ${key}` } : {});

async function post(key: string | null, document: unknown, headers: Record<string, string> = {}, query = '') {
  const res = await fetch(`${srv.origin}/epcis/capture${query}`, {
    method: 'POST', headers: { 'content-type': 'application/ld+json', ...auth(key), ...headers }, body: typeof document === 'string' ? document : JSON.stringify(document),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Json };
}

async function get(key: string | null, path: string) {
  const res = await fetch(new URL(path, srv.origin), { headers: auth(key) });
  return { status: res.status, headers: res.headers, body: (await res.json()) as any };
}

/** Follows a job's Location until it has finished (a few seconds at most). */
async function finished(key: string, location: string): Promise<Json> {
  for (let i = 0; i < 500; i++) {
    const r = await get(key, location);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    if (!r.body.running) return r.body;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`capture job ${location} did not finish`);
}

async function treeSize(): Promise<number> {
  return (await srv.gql(`{ logInfo { treeSize } }`, {}, null)).body.data.logInfo.treeSize;
}
const count = async (table: 'epcis_captures' | 'capture_jobs') => (await sql<{ n: number }>`SELECT count(*)::int AS n FROM ${sql.table(table)}`.execute(db.db)).rows[0]!.n;

beforeAll(async () => {
  db = await openTestDatabase();
  srv = await startTestServer(db);
  deps = { db: db.db, signer: srv.signer, now: () => new Date(), maxClockSkewMs: 5 * 60_000 };
  maker = await createActor('Maker', ['MANUFACTURER'], ['9506000']);
  stranger = await createActor('Stranger', ['MANUFACTURER'], []);
  const p = await srv.gql(`mutation($i: RegisterProductInput!) { registerProduct(input: $i) { __typename } }`, { i: { gtin: GTIN, name: 'Lamp' } }, maker.key);
  expect(p.body.data.registerProduct.__typename).toBe('RegisterProductSuccess');
});
afterAll(async () => {
  await srv?.close();
  await captureWorkerFor(deps).idle();
  await db?.dispose();
});

describe('POST /epcis/capture (REST binding: asynchronous)', () => {
  it('answers 202 with the job and its Location; the job finishes with the captured events, and the document is dropped', async () => {
    const before = await treeSize();
    const r = await post(maker.key, asDocument([commission('JOB-1', ['J1', 'J2']), destroy(['J2'], 2)]));
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    const location = r.headers.get('location')!;
    expect(location).toMatch(/^\/epcis\/capture\/[0-9a-f-]{36}$/);
    expect(r.body).toMatchObject({ captureID: location.split('/').pop(), captureErrorBehaviour: 'rollback', running: true, success: true, errors: [], eventCount: 2 });
    expect(r.body.documentBytes).toBe(Buffer.byteLength(JSON.stringify(asDocument([commission('JOB-1', ['J1', 'J2']), destroy(['J2'], 2)]))));
    expect(r.headers.get('gs1-capture-error-behaviour')).toBe('rollback');

    const job = await finished(maker.key, location);
    expect(job).toMatchObject({ running: false, success: true, status: 'succeeded', errors: [], result: { recorded: 2, skipped: 0, replayed: false } });
    expect(job.result.events.map((e: Json) => [e.index, e.kind, e.status])).toEqual([[0, 'COMMISSION', 'RECORDED'], [1, 'DESTROY', 'RECORDED']]);
    expect(job.result.events[0].ledgerEventId).toMatch(/^[0-9a-f-]{36}$/);
    expect(job.result.events[0].eventID).toMatch(/^ni:\/\/\/sha-256;[0-9a-f]{64}\?ver=CBV2\.0$/);
    expect(Date.parse(job.finishedAt)).toBeGreaterThanOrEqual(Date.parse(job.createdAt));
    expect(await treeSize()).toBe(before + 2);
    const stage = await srv.gql(`query($s: String!) { item(sgtin: $s) { stage } }`, { s: item('J2') }, maker.key);
    expect(stage.body.data.item.stage).toBe('DESTROYED');
    // The document's text is kept only until the job is done.
    const row = await sql<{ document: string | null }>`SELECT document FROM capture_jobs WHERE id = ${job.captureID}`.execute(db.db);
    expect(row.rows[0]!.document).toBeNull();
  });

  it('fails a refused document with per-event errors, and writes nothing of it', async () => {
    const size = await treeSize();
    const captures = await count('epcis_captures');
    // Event 1 destroys an item nobody commissioned: the commission before it is rolled back too.
    const r = await post(maker.key, asDocument([commission('JOB-2', ['K1']), destroy(['NOPE'], 2)]));
    expect(r.status).toBe(202);
    const job = await finished(maker.key, r.headers.get('location')!);
    expect(job).toMatchObject({ running: false, success: false, status: 'failed', problem: { type: 'epcisException:ValidationException', status: 400 } });
    expect(job.problem.title).toMatch(/^EPCIS document rejected, nothing was recorded: event 1 epcList: /);
    expect(job.errors).toHaveLength(1);
    expect(job.errors[0]).toMatchObject({ type: 'epcisException:ValidationException', status: 400, eventIndex: 1, field: 'epcList', code: 'NOT_FOUND', reason: `item ${item('NOPE')} not found` });
    expect(job.errors[0].eventID).toMatch(/^ni:\/\/\/sha-256;/);
    expect(job.result).toBeUndefined();
    expect(await treeSize()).toBe(size);
    expect(await count('epcis_captures')).toBe(captures);
    expect((await srv.gql(`query($s: String!) { item(sgtin: $s) { stage } }`, { s: item('K1') }, maker.key)).body.data.item).toBeNull();
  });

  it('refuses at submission, without a job: over the limits, not JSON, not an EPCISDocument, proceed', async () => {
    const jobs = await count('capture_jobs');
    const many = asDocument(Array.from({ length: EPCIS_CAPTURE_DEFAULTS.maxEvents + 1 }, () => destroy(['X'], 3)));
    const tooMany = await post(maker.key, many);
    expect(tooMany.status).toBe(413);
    expect(tooMany.body).toMatchObject({ type: 'epcisException:CaptureLimitExceededException', problems: [{ field: 'epcisBody.eventList', code: 'LIMIT' }] });
    const tooBig = await post(maker.key, { ...asDocument([]), padding: 'x'.repeat(EPCIS_CAPTURE_DEFAULTS.maxBytes) });
    expect(tooBig.status).toBe(413);
    expect((await post(maker.key, '{"type": ')).status).toBe(400);
    const bare = await post(maker.key, destroy(['X'], 3));
    expect(bare.status).toBe(400);
    expect(bare.body.problems[0]).toMatchObject({ field: 'type', code: 'SCHEMA' });
    const proceed = await post(maker.key, asDocument([]), { 'GS1-Capture-Error-Behaviour': 'proceed' });
    expect(proceed).toMatchObject({ status: 400, body: { type: 'epcisException:ValidationException' } });
    expect((await post(maker.key, asDocument([]), { 'Idempotency-Key': 'x'.repeat(201) })).status).toBe(400);
    expect((await post(maker.key, asDocument([]), {}, '?mode=fast')).status).toBe(400);
    expect((await post(null, asDocument([]))).status).toBe(401);
    expect(await count('capture_jobs')).toBe(jobs);
  });

  it('shows a job only to its submitter and the operator: 404 for anyone else, as for a missing id', async () => {
    const r = await post(maker.key, asDocument([]));
    const location = r.headers.get('location')!;
    await finished(maker.key, location);
    const other = await get(stranger.key, location);
    const missing = await get(stranger.key, '/epcis/capture/00000000-0000-4000-8000-000000000000');
    const garbage = await get(stranger.key, '/epcis/capture/not-a-uuid');
    expect(other.status).toBe(404);
    expect(other.body).toMatchObject({ type: 'epcisException:NoSuchNameException', status: 404 });
    expect([missing.status, garbage.status]).toEqual([404, 404]);
    expect(other.body.title.replace(location.split('/').pop()!, '?')).toBe(missing.body.title.replace('00000000-0000-4000-8000-000000000000', '?'));
    expect((await get(srv.operatorKey, location)).body).toMatchObject({ captureID: location.split('/').pop(), status: 'succeeded' });
    expect((await get(null, location)).status).toBe(401);
    // The stranger's list does not show it either.
    expect((await get(stranger.key, '/epcis/capture')).body).toEqual([]);
  });

  it('lists the caller\'s jobs newest first, paged with perPage and nextPageToken', async () => {
    const a = await post(maker.key, asDocument([]));
    const b = await post(maker.key, asDocument([]));
    await finished(maker.key, b.headers.get('location')!);
    const first = await get(maker.key, '/epcis/capture?perPage=1');
    expect(first.status).toBe(200);
    expect(first.body.map((j: Json) => j.captureID)).toEqual([b.body.captureID]);
    const next = /<([^>]+)>; rel="next"/.exec(first.headers.get('link') ?? '')?.[1];
    expect(next).toBeDefined();
    const second = await get(maker.key, next!);
    expect(second.body.map((j: Json) => j.captureID)).toEqual([a.body.captureID]);
    const all = await get(maker.key, '/epcis/capture?perPage=100');
    expect(all.body.length).toBeGreaterThanOrEqual(5);
    expect(all.body.every((j: Json) => typeof j.running === 'boolean' && j.captureErrorBehaviour === 'rollback')).toBe(true);
    expect((await get(maker.key, '/epcis/capture?nextPageToken=abc')).status).toBe(400);
    expect((await get(maker.key, '/epcis/capture?EQ_bizStep=x')).status).toBe(400);
  });

  it('is idempotent across a resubmission of the same document (event hash IDs) and on the Idempotency-Key', async () => {
    const doc = asDocument([commission('JOB-IDEM', ['I1'])]);
    const first = await finished(maker.key, (await post(maker.key, doc)).headers.get('location')!);
    expect(first.result).toMatchObject({ recorded: 1, skipped: 0 });
    const size = await treeSize();
    const again = await finished(maker.key, (await post(maker.key, doc)).headers.get('location')!);
    expect(again).toMatchObject({ success: true, result: { recorded: 0, skipped: 1, replayed: false } });
    expect(again.result.events[0]).toMatchObject({ status: 'ALREADY_CAPTURED', ledgerEventId: first.result.events[0].ledgerEventId });
    // With a key: the second job replays the first one's answer.
    const keyed = asDocument([commission('JOB-KEY', ['Q1'])]);
    const k1 = await finished(maker.key, (await post(maker.key, keyed, { 'Idempotency-Key': 'jobs-1' })).headers.get('location')!);
    const k2 = await finished(maker.key, (await post(maker.key, keyed, { 'Idempotency-Key': 'jobs-1' })).headers.get('location')!);
    expect([k1.result.replayed, k2.result.replayed]).toEqual([false, true]);
    expect(k2.result.events[0]).toMatchObject({ status: 'RECORDED', ledgerEventId: k1.result.events[0].ledgerEventId });
    expect(k2.idempotencyKey).toBe('jobs-1');
    // The same key with another document: the job fails with a conflict.
    const k3 = await finished(maker.key, (await post(maker.key, asDocument([]), { 'Idempotency-Key': 'jobs-1' })).headers.get('location')!);
    expect(k3).toMatchObject({ success: false, problem: { type: 'epcisException:ConflictException', status: 409 }, errors: [{ status: 409 }] });
    expect(await treeSize()).toBe(size + 1);
  });

  it('keeps the synchronous capture at ?sync=true (200 with the events, or the problem)', async () => {
    const ok = await post(maker.key, asDocument([commission('JOB-SYNC', ['S1'])]), {}, '?sync=true');
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(ok.body).toMatchObject({ recorded: 1, events: [{ kind: 'COMMISSION', status: 'RECORDED' }] });
    const refused = await post(maker.key, asDocument([destroy(['NOPE'], 4)]), {}, '?sync=true');
    expect(refused.status).toBe(400);
    expect(refused.body.problems[0]).toMatchObject({ eventIndex: 0, code: 'NOT_FOUND' });
  });
});

describe('the capture worker after a crash', () => {
  it('captures a job left queued, and one left running by a dead worker, once restarted; each is captured once', async () => {
    const [caller] = await findActorsByIds(db.db, [maker.uuid]);
    const submit = async (doc: Json) => {
      const text = JSON.stringify(doc);
      const s = await submitCaptureJob(deps, caller!, { document: doc, text, byteLength: Buffer.byteLength(text) }, EPCIS_CAPTURE_DEFAULTS);
      if (s.kind !== 'ok') throw new Error(JSON.stringify(s));
      return s.job;
    };
    // Queued by a process that died before its worker looked (no kick here).
    const queued = await submit(asDocument([commission('CRASH-1', ['C1'])]));
    // Claimed by a worker that died mid-capture: running, under a lease.
    const orphan = await submit(asDocument([commission('CRASH-2', ['C2'])]));
    await sql`UPDATE capture_jobs SET status = 'running', started_at = now(), attempts = 1, claim = gen_random_uuid(), lease_until = now() + interval '1 hour' WHERE id = ${orphan.id}`.execute(db.db);
    const size = await treeSize();

    // Another worker on PostgreSQL may not take the orphan while its lease holds; the queued job it does take.
    const done = await runNextCaptureJob(deps);
    expect(done).toMatchObject({ id: queued.id, status: 'succeeded', result: { recorded: 1 } });
    expect(await runNextCaptureJob(deps)).toBe('none');
    // Once the lease has run out (here: the clock moved on by two hours), the orphan is claimed again.
    const later = { ...deps, now: () => new Date(Date.now() + 2 * 3600_000) };
    const recovered = await runNextCaptureJob(later);
    expect(recovered).toMatchObject({ id: orphan.id, status: 'succeeded', result: { recorded: 1, events: [{ status: 'RECORDED' }] } });
    expect(await treeSize()).toBe(size + 2);
    expect(await runNextCaptureJob(later)).toBe('none');
  });

  it('requeues every running job when started as the only process (PGlite), and a lost claim records nothing', async () => {
    const [caller] = await findActorsByIds(db.db, [maker.uuid]);
    const doc = asDocument([commission('CRASH-3', ['C3'])]);
    const text = JSON.stringify(doc);
    const s = await submitCaptureJob(deps, caller!, { document: doc, text, byteLength: Buffer.byteLength(text) }, EPCIS_CAPTURE_DEFAULTS);
    if (s.kind !== 'ok') throw new Error(JSON.stringify(s));
    // A worker claims it and "dies" (its claim stays, with a lease far in the future).
    const claimed = await claimNextCaptureJob(db.db, '11111111-1111-4111-8111-111111111111', new Date(), new Date(Date.now() + 3600_000));
    expect(claimed?.id).toBe(s.job.id);
    const size = await treeSize();
    const worker = await startCaptureWorker(deps, { exclusive: true, pollMs: 0 });
    await worker.idle();
    await worker.stop();
    const job = await get(maker.key, `/epcis/capture/${s.job.id}`);
    expect(job.body).toMatchObject({ status: 'succeeded', result: { recorded: 1 } });
    expect(await treeSize()).toBe(size + 1);
    // The dead worker's claim is void: recording an outcome under it changes nothing.
    expect(await finishCaptureJob(db.db, s.job.id, '11111111-1111-4111-8111-111111111111', { status: 'failed', finishedAt: new Date() })).toBe(false);
    expect((await get(maker.key, `/epcis/capture/${s.job.id}`)).body.status).toBe('succeeded');
  });

  it('a job that keeps failing unexpectedly is retried, then failed as an internal error (500 in its problem)', async () => {
    // A document that cannot be parsed can only come from outside the API (here: written directly).
    const r = await sql<{ id: string }>`INSERT INTO capture_jobs (actor_id, created_at, document, document_bytes, event_count) VALUES (${maker.uuid}, now(), '{"broken', 8, 0) RETURNING id`.execute(db.db);
    const id = r.rows[0]!.id;
    const seen: string[] = [];
    const onError = (_e: unknown, jobId: string) => seen.push(jobId);
    expect(await runNextCaptureJob(deps, { onError })).toMatchObject({ id, status: 'queued' });
    expect(await runNextCaptureJob(deps, { onError })).toMatchObject({ id, status: 'queued' });
    expect(await runNextCaptureJob(deps, { onError })).toMatchObject({ id, status: 'failed', failure: { kind: 'InternalError' } });
    expect(seen).toEqual([id, id, id]);
    const job = await get(maker.key, `/epcis/capture/${id}`);
    expect(job.body).toMatchObject({ running: false, success: false, problem: { type: 'epcisException:ImplementationException', status: 500, title: 'internal error' } });
    expect(await runNextCaptureJob(deps)).toBe('none');
  });

  it('what the capture hook writes commits with the events or not at all (how a job records its success)', async () => {
    const [caller] = await findActorsByIds(db.db, [maker.uuid]);
    const size = await treeSize();
    const captures = await count('epcis_captures');
    const document = asDocument([commission('HOOK', ['H1'])]);
    await expect(captureEpcisDocument(deps, caller!, { document, onCaptured: async () => { throw new Error('claim lost'); } })).rejects.toThrow('claim lost');
    expect([await treeSize(), await count('epcis_captures')]).toEqual([size, captures]);
    // Without the failure, the hook's write and the events commit together.
    const r = await captureEpcisDocument(deps, caller!, {
      document,
      onCaptured: async (trx) => { await sql`UPDATE actors SET name = 'Maker (hooked)' WHERE id = ${maker.uuid}`.execute(trx); },
    });
    expect(r).toMatchObject({ kind: 'ok', recorded: 1 });
    expect((await sql<{ name: string }>`SELECT name FROM actors WHERE id = ${maker.uuid}`.execute(db.db)).rows[0]!.name).toBe('Maker (hooked)');
    expect(await treeSize()).toBe(size + 1);
  });

  it('a job whose worker died after its capture committed succeeds with the kept result, without capturing again', async () => {
    const [caller] = await findActorsByIds(db.db, [maker.uuid]);
    const doc = asDocument([commission('CRASH-4', ['C4'])]);
    const text = JSON.stringify(doc);
    const s = await submitCaptureJob(deps, caller!, { document: doc, text, byteLength: Buffer.byteLength(text) }, EPCIS_CAPTURE_DEFAULTS);
    if (s.kind !== 'ok') throw new Error(JSON.stringify(s));
    // The dead worker: claimed the job, captured it (result kept in the capture's transaction), died before finishing.
    const claim = '33333333-3333-4333-8333-333333333333';
    expect((await claimNextCaptureJob(db.db, claim, new Date(), new Date(Date.now() + 60_000)))?.id).toBe(s.job.id);
    const captured = await captureEpcisDocument(deps, caller!, {
      document: doc, text, onCaptured: async (trx, r) => { expect(await recordCaptureJobResult(trx, s.job.id, claim, { recorded: r.recorded, skipped: r.skipped, replayed: r.replayed, events: r.events })).toBe(true); },
    });
    if (captured.kind !== 'ok') throw new Error(JSON.stringify(captured));
    expect((await get(maker.key, `/epcis/capture/${s.job.id}`)).body).toMatchObject({ running: true, status: 'running' });
    const size = await treeSize();
    const later = { ...deps, now: () => new Date(Date.now() + 2 * 60_000) };
    const done = await runNextCaptureJob(later);
    expect(done).toMatchObject({ id: s.job.id, status: 'succeeded', result: { recorded: 1, events: [{ status: 'RECORDED', ledgerEventId: captured.events[0]!.ledgerEventId }] } });
    expect(await treeSize()).toBe(size);
  });

  it('workers running at once (processes sharing one PostgreSQL) each claim a different job', async () => {
    const [caller] = await findActorsByIds(db.db, [maker.uuid]);
    const ids: string[] = [];
    for (const n of [5, 6, 7]) {
      const doc = asDocument([commission(`SHARE-${n}`, [`W${n}`])]);
      const text = JSON.stringify(doc);
      const s = await submitCaptureJob(deps, caller!, { document: doc, text, byteLength: Buffer.byteLength(text) }, EPCIS_CAPTURE_DEFAULTS);
      if (s.kind !== 'ok') throw new Error(JSON.stringify(s));
      ids.push(s.job.id);
    }
    const size = await treeSize();
    const done = await Promise.all([runNextCaptureJob(deps), runNextCaptureJob(deps), runNextCaptureJob(deps)]);
    expect(done.map((j) => (typeof j === 'string' ? j : j.id)).sort()).toEqual([...ids].sort());
    expect(done.every((j) => typeof j !== 'string' && j.status === 'succeeded' && j.result?.recorded === 1)).toBe(true);
    expect(await treeSize()).toBe(size + 3);
  });
});
