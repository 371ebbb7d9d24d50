import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

let db: TestDatabase;
let srv: TestServer;
let closed: TestServer;

beforeAll(async () => {
  db = await openTestDatabase();
  srv = await startTestServer(db);
  closed = await startTestServer(db, { introspection: false });
});

afterAll(async () => {
  await srv?.close();
  await closed?.close();
  await db?.dispose();
});

// The rendering itself (network off, headless Chromium) is checked by `npm run test:browser`.
describe('GraphiQL page', () => {
  it('is self-contained: no script, style or font from another host; Provenant\'s welcome text', async () => {
    const res = await fetch(srv.url, { headers: { accept: 'text/html' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).toContain('<title>Provenant</title>');
    expect(html).toContain("Welcome to Provenant's GraphQL API");
    expect(html).toContain('{\\"authorization\\": \\"Bearer pvn_…\\"}');
    expect(html).not.toMatch(/<script[^>]+src=/i);
    expect(html).not.toMatch(/<link[^>]+href=["']?https?:/i);
    expect(html).not.toMatch(/unpkg\.com|cdn\.jsdelivr|esm\.sh/);
    // Built once: a second request answers the same page.
    expect(await (await fetch(srv.url, { headers: { accept: 'text/html' } })).text()).toBe(html);
  });

  it('is off with PROVENANT_INTROSPECTION=false', async () => {
    const res = await fetch(closed.url, { headers: { accept: 'text/html' } });
    expect(res.headers.get('content-type') ?? '').not.toContain('text/html');
  });
});
