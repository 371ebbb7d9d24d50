/**
 * The server's capture worker (src/server/main.ts): a job a dead process left queued or running in the data folder is
 * captured after the restart, once. In-process servers on one embedded PGlite data folder; the orphans are written
 * between the two runs, as a process killed with -9 leaves them.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, expect, it } from 'vitest';
import { openConfiguredDatabase } from '../../src/server/bootstrap.ts';
import { startServer } from '../../src/server/main.ts';
import { createLogger } from '../../src/server/logger.ts';
import { testConfig } from '../helpers/server.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'pvn-jobs-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

const config = testConfig({ dataDir, logLevel: 'error' });
const quiet = { out: () => {}, logger: createLogger('error', () => {}) };
const GTIN = '09506000134352';
const doc = (lot: string, serial: string) => JSON.stringify({
  '@context': ['https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld'], type: 'EPCISDocument', schemaVersion: '2.0', creationDate: '2026-03-01T12:00:00.000Z',
  epcisBody: { eventList: [{
    type: 'ObjectEvent', eventTime: '2026-03-01T10:00:00.000+01:00', eventTimeZoneOffset: '+01:00', action: 'ADD', bizStep: 'commissioning',
    epcList: [`urn:epc:id:sgtin:9506000.013435.${serial}`], readPoint: { id: 'https://id.gs1.org/414/9506000000018' }, ilmd: { 'cbvmda:lotNumber': lot },
  }] },
});

async function job(origin: string, key: string, id: string): Promise<any> {
  for (let i = 0; i < 500; i++) {
    const body = (await (await fetch(`${origin}/epcis/capture/${id}`, { headers: { authorization: `Bearer ${key}` } })).json()) as any;
    if (!body.running) return body;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`job ${id} did not finish`);
}

it('captures the jobs a killed server left queued or running, after the restart, each once', async () => {
  // First run: an actor, its product, and one capture through the server's worker.
  let srv = await startServer(config, quiet.out, quiet.logger);
  const origin = new URL(srv.url).origin;
  const op = readFileSync(join(dataDir, 'operator-key'), 'utf8').trim();
  const gql = async (key: string, query: string, variables: Record<string, unknown> = {}) =>
    (await (await fetch(srv.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: JSON.stringify({ query, variables }) })).json()) as any;
  const created = await gql(op, `mutation($i: CreateActorInput!) { createActor(input: $i) { ... on CreateActorSuccess { secret actor { id } } } }`, { i: { name: 'Maker', roles: ['MANUFACTURER'], companyPrefixes: ['9506000'] } });
  const key: string = created.data.createActor.secret;
  const actorId = Buffer.from(created.data.createActor.actor.id, 'base64').toString('utf8').split(':')[1]!;
  expect((await gql(key, `mutation { registerProduct(input: { gtin: "${GTIN}", name: "Lamp" }) { __typename } }`)).data.registerProduct.__typename).toBe('RegisterProductSuccess');
  const posted = await fetch(`${origin}/epcis/capture`, { method: 'POST', headers: { 'content-type': 'application/ld+json', authorization: `Bearer ${key}` }, body: doc('RUN-1', 'S1') });
  expect(posted.status).toBe(202);
  expect(await job(origin, key, ((await posted.json()) as any).captureID)).toMatchObject({ status: 'succeeded', result: { recorded: 1 } });
  await srv.close();

  // What a kill -9 leaves: a job queued and never looked at, and one a worker had claimed (lease still running).
  const handle = await openConfiguredDatabase(config, 'test');
  const insert = async (lot: string, serial: string, running: boolean) => {
    const text = doc(lot, serial);
    const r = await sql<{ id: string }>`
      INSERT INTO capture_jobs (actor_id, status, created_at, started_at, document, document_bytes, event_count, attempts, claim, lease_until)
      VALUES (${actorId}, ${running ? 'running' : 'queued'}, now(), ${running ? new Date() : null}, ${text}, ${Buffer.byteLength(text)}, 1, ${running ? 1 : 0},
              ${running ? '22222222-2222-4222-8222-222222222222' : null}, ${running ? new Date(Date.now() + 3600_000) : null})
      RETURNING id`.execute(handle.db);
    return r.rows[0]!.id;
  };
  const queued = await insert('RUN-2', 'S2', false);
  const orphan = await insert('RUN-3', 'S3', true);
  await handle.close();

  // Second run: this process owns the data folder, so the running job is an orphan: both are captured at start.
  srv = await startServer(config, quiet.out, quiet.logger);
  try {
    expect(await job(new URL(srv.url).origin, key, queued)).toMatchObject({ status: 'succeeded', result: { recorded: 1 } });
    expect(await job(new URL(srv.url).origin, key, orphan)).toMatchObject({ status: 'succeeded', result: { recorded: 1, events: [{ status: 'RECORDED' }] } });
    const tree = await gql(key, `{ logInfo { treeSize } }`);
    // Product registration is not a log event: the three commissions are.
    expect(tree.data.logInfo.treeSize).toBe(3);
  } finally {
    await srv.close();
  }
}, 60_000);
