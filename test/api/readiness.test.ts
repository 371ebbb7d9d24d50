import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiKeyHash } from '../../src/core/api-key.ts';
import { createLogger } from '../../src/server/logger.ts';
import { createApp } from '../../src/server/yoga.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { testConfig, testSigner } from '../helpers/server.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await openTestDatabase();
});
afterAll(async () => {
  await db?.dispose();
});

describe('readiness during shutdown', () => {
  it('/readyz turns 503 "shutting down" once draining starts, while /healthz stays 200', async () => {
    let draining = false;
    const app = createApp(
      { db: db.db, config: testConfig(), operatorKeyHash: apiKeyHash('pvn_' + 'x'.repeat(32)), signer: testSigner(), now: () => new Date(), draining: () => draining },
      createLogger('silent'),
    );
    expect((await app.fetch('http://localhost/readyz')).status).toBe(200);
    draining = true;
    const res = await app.fetch('http://localhost/readyz');
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ status: 'unavailable', reason: 'shutting down' });
    expect((await app.fetch('http://localhost/healthz')).status).toBe(200);
  });
});
