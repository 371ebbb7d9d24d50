import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gs1CheckDigit } from '../../src/core/identifiers.ts';
import { DEFAULT_FIELD_LIMITS } from '../../src/core/text.ts';
import { ConfigError, loadConfig } from '../../src/server/config.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { createTestActor, lifecycle, minutesAgo, registerProductAndBatch, type TestActor } from '../helpers/ledger.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

let db: TestDatabase;
let srv: TestServer;
let maker: TestActor, recycler: TestActor;
const GTIN = '04012345111118';
const GTIN2 = `0401234522222${gs1CheckDigit('0401234522222')}`;
const urn = (n: number) => `urn:epc:id:sgtin:4012345.011111.B${String(n).padStart(3, '0')}`;
// Small response limit so a few hundred kilobytes of canonical bodies exceed it.
const MAX_RESPONSE = 50_000;

beforeAll(async () => {
  db = await openTestDatabase();
  srv = await startTestServer(db, { fieldLimits: { ...DEFAULT_FIELD_LIMITS, noteChars: 50 }, maxResponseBytes: MAX_RESPONSE });
  maker = await createTestActor(srv, 'Maker', ['MANUFACTURER'], ['4012345']);
  recycler = await createTestActor(srv, 'Recycler', ['RECYCLER']);
  await registerProductAndBatch(srv, maker, { gtin: GTIN, lot: 'L1', range: { count: 40, firstSerial: 'B001' } });
});
afterAll(async () => {
  await srv?.close();
  await db?.dispose();
});

const destroy = (n: number, extra: Record<string, unknown>) => lifecycle(srv, maker, 'destroyItems', { items: [urn(n)], occurredAt: minutesAgo(10), ...extra });

describe('free-form fields are bounded (configurable) with a ValidationError naming the field', () => {
  it('note: the configured limit (50 here), counted in code points', async () => {
    await lifecycle(srv, maker, 'shipItems', { items: [urn(1)], occurredAt: minutesAgo(30), to: recycler.id });
    await lifecycle(srv, recycler, 'receiveItems', { items: [urn(1)], occurredAt: minutesAgo(29) });
    // recordUse is for owners; a RECYCLER custodian may not, but the note is refused before any rights are judged.
    const long = await lifecycle(srv, maker, 'recordUse', { items: [urn(2)], kind: 'USE_REPORT', occurredAt: minutesAgo(5), note: 'n'.repeat(51) });
    expect(long).toMatchObject({ __typename: 'ValidationError', field: 'note' });
    expect(long.message).toMatch(/at most 50 characters, got 51/);
    // 50 emoji are 100 UTF-16 units but 50 characters: not refused for length.
    const emoji = await lifecycle(srv, maker, 'recordUse', { items: [urn(2)], kind: 'USE_REPORT', occurredAt: minutesAgo(5), note: '📦'.repeat(50) });
    expect(emoji.__typename).not.toBe('ValidationError');
  });

  it('readings (16 KB canonical JSON), reason (500), location (200), materials (50 entries of ≤ 100 characters)', async () => {
    const big = { samples: Array.from({ length: 3000 }, (_, i) => i * 1000) };
    expect((await lifecycle(srv, maker, 'recordUse', { items: [urn(2)], kind: 'USE_REPORT', occurredAt: minutesAgo(5), readings: big })))
      .toMatchObject({ __typename: 'ValidationError', field: 'readings', message: expect.stringMatching(/at most 16384 bytes/) });
    expect(await destroy(3, { reason: 'r'.repeat(501) })).toMatchObject({ __typename: 'ValidationError', field: 'reason' });
    expect(await destroy(3, { location: 'l'.repeat(201) })).toMatchObject({ __typename: 'ValidationError', field: 'location' });
    const tooMany = Array.from({ length: 51 }, () => ({ material: 'steel', massKg: 1 }));
    const r1 = await lifecycle(srv, recycler, 'recycleItems', { items: [urn(1)], occurredAt: minutesAgo(5), materials: tooMany });
    expect(r1).toMatchObject({ __typename: 'ValidationError', field: 'materials' });
    const r2 = await lifecycle(srv, recycler, 'recycleItems', { items: [urn(1)], occurredAt: minutesAgo(5), materials: [{ material: 'm'.repeat(101), massKg: 1 }] });
    expect(r2).toMatchObject({ __typename: 'ValidationError', field: 'materials[0].material' });
    // At the limits: accepted, and nothing refused was written.
    const ok = await destroy(3, { reason: 'r'.repeat(500), location: 'l'.repeat(200) });
    expect(ok.__typename).toBe('RecordEventSuccess');
  });

  it('product attributes (16 KB) and names', async () => {
    const attributes = { blob: 'a'.repeat(17 * 1024) };
    const { body } = await srv.gql(`mutation($i: RegisterProductInput!) { registerProduct(input: $i) { __typename ... on ValidationError { field message } } }`,
      { i: { gtin: GTIN2, name: 'Big', attributes } }, maker.key);
    expect(body.data.registerProduct).toMatchObject({ __typename: 'ValidationError', field: 'attributes' });
    const nul = await srv.gql(`mutation($i: RegisterProductInput!) { registerProduct(input: $i) { __typename ... on ValidationError { field } } }`,
      { i: { gtin: GTIN2, name: 'Big', attributes: { ok: { 'k\u0000': 1 } } } }, maker.key);
    expect(nul.body.data.registerProduct).toMatchObject({ __typename: 'ValidationError', field: 'attributes.ok.k\\u0000' });
  });

  it('reads every bound from its environment variable, refusing values out of range', () => {
    const env = { PROVENANT_DATA_DIR: '/tmp/provenant-bounds-test', PROVENANT_MAX_NOTE_CHARS: '5000', PROVENANT_MAX_READINGS_BYTES: '65536', PROVENANT_MAX_RESPONSE_BYTES: '1048576' };
    const config = loadConfig(env);
    expect(config.fieldLimits).toEqual({ ...DEFAULT_FIELD_LIMITS, noteChars: 5000, readingsBytes: 65536 });
    expect(config.maxResponseBytes).toBe(1048576);
    expect(loadConfig({ PROVENANT_DATA_DIR: env.PROVENANT_DATA_DIR }).fieldLimits).toEqual(DEFAULT_FIELD_LIMITS);
    expect(() => loadConfig({ ...env, PROVENANT_MAX_REASON_CHARS: '0' })).toThrow(ConfigError);
    expect(() => loadConfig({ ...env, PROVENANT_MAX_RESPONSE_BYTES: 'lots' })).toThrow(/PROVENANT_MAX_RESPONSE_BYTES/);
  });
});

describe('occurrence times both databases store exactly', () => {
  it('refuses years before 1000 (PGlite read 0099 back as 1999) and year 0 with a ValidationError; the edges are stored exactly', async () => {
    for (const occurredAt of ['0099-06-01T00:00:00Z', '0000-01-01T00:30:00+01:00', '0999-12-31T23:59:59.999Z', '9999-12-31T23:00:00-02:00']) {
      expect(await destroy(4, { occurredAt }), occurredAt).toMatchObject({ __typename: 'ValidationError', field: 'occurredAt' });
    }
    const low = await destroy(4, { occurredAt: '1000-01-01T00:00:00.000Z' });
    expect(low.__typename).toBe('RecordEventSuccess');
    const { body } = await srv.gql(`query($id: ID!) { node(id: $id) { ... on Event { occurredAt } } item(sgtin: "${urn(4)}") { verification { valid reason } } }`, { id: low.event.id }, maker.key);
    expect(body.data.node.occurredAt).toBe('1000-01-01T00:00:00.000Z');
    expect(body.data.item.verification).toEqual({ valid: true, reason: null });
    // A filter or grant expiry outside the range is refused too, with a VALIDATION_ERROR naming it.
    const f = await srv.gql(`{ events(filter: { since: "0050-01-01T00:00:00Z" }) { totalCount } }`, {}, maker.key);
    expect(f.body.errors[0].extensions).toMatchObject({ code: 'VALIDATION_ERROR', field: 'filter.since' });
    const old = await registerProductAndBatch(srv, maker, { gtin: GTIN, lot: 'OLD', serials: ['O1'], producedAt: '0099-06-01T00:00:00Z' });
    expect(old).toMatchObject({ __typename: 'ValidationError', field: 'producedAt' });
  });
});

describe('response size', () => {
  it('a response larger than PROVENANT_MAX_RESPONSE_BYTES is refused with RESPONSE_TOO_LARGE; smaller ones are served', async () => {
    // Each of these events has a ~1.5 KB canonical body plus its data: one alias reads ~16 KB, five ~80 KB (within the cost limit).
    for (let i = 0; i < 10; i++) await destroy(10 + i, { reason: 'x'.repeat(450) });
    const aliases = Array.from({ length: 5 }, (_, i) => `a${i}: events(first: 100) { edges { node { canonicalBody data } } }`).join(' ');
    const big = await srv.gql(`{ ${aliases} }`, {}, maker.key);
    expect(big.status).toBeLessThan(500);
    expect(big.body.data ?? null).toBeNull();
    expect(big.body.errors).toHaveLength(1);
    expect(big.body.errors[0].extensions).toMatchObject({ code: 'RESPONSE_TOO_LARGE', limit: 'maxResponseBytes', max: MAX_RESPONSE });
    expect(big.body.errors[0].message).toMatch(/Response too large/);
    const small = await srv.gql(`{ events(first: 100) { edges { node { canonicalBody } } } }`, {}, maker.key);
    expect(small.body.errors).toBeUndefined();
    expect(small.body.data.events.edges.length).toBeGreaterThan(10);
  });

  it('large fields weigh in the cost limit: ten aliases of 100 canonical bodies are refused before anything runs', async () => {
    const aliases = (n: number, page: string) => Array.from({ length: n }, (_, i) => `a${i}: events(${page}) { edges { node { canonicalBody } } }`).join(' ');
    const refused = await srv.gql(`{ ${aliases(10, 'first: 100')} }`, {}, maker.key);
    expect(refused.body.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit: 'maxCost', max: 50_000 });
    expect(refused.body.errors[0].message).toMatch(/canonicalBody/);
    // Through a fragment and a variable page size too.
    const viaFragment = await srv.gql(`query($n: Int) { ${Array.from({ length: 10 }, (_, i) => `a${i}: events(first: $n) { ...B }`).join(' ')} } fragment B on QueryEventsConnection { edges { node { canonicalBody } } }`, { n: 100 }, maker.key);
    expect(viaFragment.body.errors[0].extensions).toMatchObject({ limit: 'maxCost' });
    const fine = await srv.gql(`{ ${aliases(3, 'first: 100')} }`, {}, maker.key);
    expect(fine.body.errors).toBeUndefined();
  });
});
