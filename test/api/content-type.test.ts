import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

// A GraphQL POST whose content-type the server cannot read gets a 4xx that says what to send, never 200 with
// "Must provide query string".
let db: TestDatabase;
let srv: TestServer;
beforeAll(async () => {
  db = await openTestDatabase();
  srv = await startTestServer(db);
});
afterAll(async () => {
  await srv?.close();
  await db?.dispose();
});

const post = async (headers: Record<string, string>, body: string) => {
  const res = await fetch(srv.url, { method: 'POST', headers: { authorization: `Bearer ${srv.operatorKey}`, ...headers }, body });
  return { status: res.status, type: res.headers.get('content-type'), body: (await res.json()) as { errors?: { message: string; extensions?: Record<string, unknown> }[]; data?: unknown } };
};

describe('GraphQL POST content-type', () => {
  const query = JSON.stringify({ query: '{ viewer { isOperator } }' });

  it('without content-type: 415 naming application/json with {query, variables}, and GET ?query=', async () => {
    // fetch adds text/plain to a string body; a Blob without a type sends no content-type at all.
    const res = await fetch(srv.url, { method: 'POST', headers: { authorization: `Bearer ${srv.operatorKey}` }, body: new Blob([query]) });
    expect(res.status).toBe(415);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await res.json()) as any;
    expect(body.errors).toHaveLength(1);
    expect(body.errors[0].message).toBe(
      'Unsupported content-type: none given. Send a POST with "content-type: application/json" and a JSON body {"query": "...", "variables": {...}}, or a GET with ?query=...',
    );
    expect(body.errors[0].extensions).toEqual({ code: 'UNSUPPORTED_MEDIA_TYPE' });
    expect(body.data).toBeUndefined();
  });

  it('with an unreadable content-type (text/plain): 415 naming what was sent', async () => {
    const r = await post({ 'content-type': 'text/plain' }, query);
    expect(r.status).toBe(415);
    expect(r.body.errors![0]!.message).toMatch(/^Unsupported content-type: "text\/plain"\. Send a POST with "content-type: application\/json"/);
  });

  it("curl -d's application/x-www-form-urlencoded: 415 with a hint to add the JSON content-type (was 200 \"Must provide query string\")", async () => {
    const r = await post({ 'content-type': 'application/x-www-form-urlencoded' }, query);
    expect(r.status).toBe(415);
    expect(r.body.data).toBeUndefined();
    expect(r.body.errors![0]!.message).toBe(
      'Unsupported content-type: "application/x-www-form-urlencoded" (what curl -d sends; add -H "content-type: application/json"). ' +
        'Send a POST with "content-type: application/json" and a JSON body {"query": "...", "variables": {...}}, or a GET with ?query=...',
    );
  });

  it('application/json (with charset) and GET ?query= still work', async () => {
    const r = await post({ 'content-type': 'application/json; charset=utf-8' }, query);
    expect(r).toMatchObject({ status: 200, body: { data: { viewer: { isOperator: true } } } });
    const g = await fetch(`${srv.url}?query=${encodeURIComponent('{ viewer { isOperator } }')}`, { headers: { authorization: `Bearer ${srv.operatorKey}`, accept: 'application/json' } });
    expect(g.status).toBe(200);
    expect(await g.json()).toEqual({ data: { viewer: { isOperator: true } } });
  });
});
