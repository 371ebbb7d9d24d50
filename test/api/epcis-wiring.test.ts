import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { createTestActor, registerProductAndBatch, type TestActor } from '../helpers/ledger.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

let db: TestDatabase;
let srv: TestServer;
let maker: TestActor;
beforeAll(async () => {
  db = await openTestDatabase();
  srv = await startTestServer(db);
  maker = await createTestActor(srv, 'Maker', ['MANUFACTURER'], ['4012345']);
  await registerProductAndBatch(srv, maker, { gtin: '04012345111118', lot: 'L1', serials: ['A1'] });
});
afterAll(async () => {
  await srv?.close();
  await db?.dispose();
});

describe('EPCIS endpoints on the production app', () => {
  const base = () => srv.url.replace(/\/graphql$/, '');
  it('GET /epcis/events answers an EPCISQueryDocument for the key holder and 401 without a key', async () => {
    const res = await fetch(`${base()}/epcis/events?EQ_bizStep=commissioning`, { headers: { authorization: `Bearer ${maker.key}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/application\/ld\+json/);
    const doc = (await res.json()) as any;
    expect(doc.type).toBe('EPCISQueryDocument');
    expect(doc.epcisBody.queryResults.resultsBody.eventList).toHaveLength(1);
    expect(doc.epcisBody.queryResults.resultsBody.eventList[0].eventID).toMatch(/^ni:\/\/\/sha-256;[0-9a-f]{64}\?ver=CBV2\.0$/);
    expect((await fetch(`${base()}/epcis/events`)).status).toBe(401);
  });

  it('POST /epcis/capture refuses a non-EPCIS body with a problem document', async () => {
    const res = await fetch(`${base()}/epcis/capture`, {
      method: 'POST', headers: { authorization: `Bearer ${maker.key}`, 'content-type': 'application/json' }, body: JSON.stringify({ hello: 'world' }),
    });
    expect(res.status).toBe(400);
    expect(JSON.stringify(await res.json())).toMatch(/EPCISDocument|schema/i);
  });
});
