/**
 * Generated hostile-input suite: every string input of every mutation and every string argument of every query
 * receives each hostile value (NUL, lone surrogates, RTL override, BOM, emoji with ZWJ sequences, 1 MB). Each response
 * must be a success or a typed error — never INTERNAL_SERVER_ERROR, a masked error or non-JSON — and afterwards the
 * whole ledger must audit clean and every item chain must verify (what was stored re-hashes to what was hashed).
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { encodeGlobalID } from '@pothos/plugin-relay';
import { toHex } from '../../src/core/bytes.ts';
import {
  type GraphQLInputType, type GraphQLNamedType, getNamedType, isInputObjectType, isListType, isNonNullType, isObjectType,
  isAbstractType, isEnumType, isScalarType, type GraphQLField,
} from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gs1CheckDigit, sgtinUrn } from '../../src/core/identifiers.ts';
import { opensField } from '../../src/core/v2/fields.ts';
import { sql } from 'kysely';
import { schema } from '../../src/graphql/schema.ts';
import { decodeFieldSalts } from '../../src/db/event-content.ts';
import { auditLedger } from '../../src/services/audit.ts';
import { verifyItem } from '../../src/services/verify-item.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { captureAndWait } from '../helpers/epcis-capture.ts';
import { createTestActor, lifecycle, minutesAgo, type TestActor } from '../helpers/ledger.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const HOSTILE = {
  nul: 'a\u0000b',
  loneHigh: 'x\ud800y',
  loneLow: '\udc00',
  rtlOverride: 'abc\u202Edcba',
  bom: '\ufeffPlant 7',
  emoji: '📦 Box 👩‍👩‍👧‍👦 🏳️‍🌈',
  oneMegabyte: 'm'.repeat(1024 * 1024),
} as const;
/** Codes of typed top-level errors (bad variables, refused arguments); everything else must be a union member. */
const TYPED_CODES = ['VALIDATION_ERROR', 'BAD_USER_INPUT', 'GRAPHQL_VALIDATION_FAILED', 'RESPONSE_TOO_LARGE'];

let db: TestDatabase;
let srv: TestServer;
let maker: TestActor, dist: TestActor, shop: TestActor, owner: TestActor, recycler: TestActor;
const PREFIX = '4012345';
const gtinOf = (ref: number) => {
  const body = `${PREFIX}${String(ref).padStart(5, '0')}`;
  return `0${body}${gs1CheckDigit(body)}`;
};
const ssccOf = (ref: number) => {
  const body = `0${PREFIX}${String(ref).padStart(9, '0')}`;
  return `${body}${gs1CheckDigit(body)}`;
};
const GTIN = gtinOf(1);
const item = (serial: string) => sgtinUrn(GTIN, PREFIX.length, serial);
const serial = (n: number) => `S${String(n).padStart(4, '0')}`;
const DIST_GLN = `401234500001${gs1CheckDigit('401234500001')}`;
let grantId = '';
/** A signing key registered to the maker (prepareSignedEvent needs one in force to reach its deeper checks). */
const MAKER_SIGNING_KEY = toHex(ed25519.getPublicKey(new Uint8Array(32).fill(3)));
let keyId = '';
/** Hex content hash of the maker's first COMMISSION (the erasure target). */
let eraseTarget = '';

/** Fresh values, so that an accepted hostile value lands on an item that allows the step. */
function pool(from: number, to: number) {
  let next = from;
  return () => {
    if (next > to) throw new Error(`pool ${from}..${to} exhausted`);
    return item(serial(next++));
  };
}
const counters = { gtin: 100, lot: 0, container: 1000, unpack: 0 };
const fresh = {
  toShip: pool(1, 40),
  toReceive: pool(41, 70),
  toSell: pool(71, 96),
  toReturn: pool(101, 116),
  toRecycle: pool(121, 128),
  toDestroy: pool(131, 138),
  toPack: pool(141, 185),
  packed: [] as string[],
};

const RESULT = '__typename ... on Error { message } ... on ValidationError { field }';

interface MutationCase {
  /** Input for one attempt; called afresh for every attempt. */
  base: () => Record<string, unknown>;
  actor: () => TestActor;
  /** Paths of string inputs to replace (`a.b`, `list[0]`); JSON inputs get an object with the hostile key and value. */
  paths: string[];
  json?: string[];
}

const CASES: Record<string, MutationCase[]> = {
  createActor: [{ actor: () => ({ key: srv.operatorKey } as TestActor), base: () => ({ name: 'Partner', roles: ['MANUFACTURER'], gln: DIST_GLN, companyPrefixes: ['999999'], idempotencyKey: `ca-${Math.random()}` }), paths: ['name', 'gln', 'companyPrefixes[0]', 'idempotencyKey'] }],
  registerProduct: [{ actor: () => maker, base: () => ({ gtin: gtinOf(counters.gtin++), name: 'Kettle', attributes: { colour: 'red' }, idempotencyKey: `rp-${Math.random()}` }), paths: ['gtin', 'name', 'idempotencyKey'], json: ['attributes'] }],
  registerBatch: [
    { actor: () => maker, base: () => ({ gtin: GTIN, lot: `B${counters.lot++}`, producedAt: minutesAgo(500), site: 'Plant 1', serials: [`X${counters.lot}`], idempotencyKey: `rb-${counters.lot}` }), paths: ['gtin', 'lot', 'producedAt', 'site', 'serials[0]', 'idempotencyKey'] },
    { actor: () => maker, base: () => ({ gtin: GTIN, lot: `R${counters.lot++}`, producedAt: minutesAgo(500), site: 'Plant 1', range: { count: 1, firstSerial: `Y${counters.lot}0` } }), paths: ['range.firstSerial'] },
  ],
  shipItems: [
    { actor: () => maker, base: () => ({ items: [fresh.toShip()], occurredAt: minutesAgo(100), location: 'Dock 1', to: dist.id, idempotencyKey: `ship-${Math.random()}` }), paths: ['items[0]', 'occurredAt', 'location', 'to', 'idempotencyKey'] },
  ],
  receiveItems: [{ actor: () => dist, base: () => ({ items: [fresh.toReceive()], occurredAt: minutesAgo(90), location: 'DC', idempotencyKey: `rcv-${Math.random()}` }), paths: ['items[0]', 'occurredAt', 'location', 'idempotencyKey'] }],
  sellItems: [{ actor: () => shop, base: () => ({ items: [fresh.toSell()], occurredAt: minutesAgo(80), location: 'Till 2', price: 10, currency: 'EUR', buyer: owner.id }), paths: ['currency', 'buyer', 'location'] }],
  recordUse: [{ actor: () => owner, base: () => ({ items: [item(serial(100))], kind: 'USE_REPORT', occurredAt: minutesAgo(10), location: 'Home', note: 'ok' }), paths: ['note', 'location'], json: ['readings'] }],
  returnItems: [{ actor: () => owner, base: () => ({ items: [fresh.toReturn()], occurredAt: minutesAgo(10), to: shop.id, reason: 'broken' }), paths: ['to', 'reason'] }],
  recycleItems: [{ actor: () => recycler, base: () => ({ items: [fresh.toRecycle()], occurredAt: minutesAgo(10), materials: [{ material: 'aluminium', massKg: 0.5 }] }), paths: ['materials[0].material'] }],
  destroyItems: [{ actor: () => maker, base: () => ({ items: [fresh.toDestroy()], occurredAt: minutesAgo(10), reason: 'flood damage' }), paths: ['reason'] }],
  packItems: [{
    actor: () => maker,
    base: () => ({ container: ssccOf(counters.container++), items: [fresh.toPack()], occurredAt: minutesAgo(50), location: 'Packing', idempotencyKey: `pack-${Math.random()}`, containers: [] }),
    paths: ['container', 'items[0]', 'occurredAt', 'location', 'idempotencyKey', 'containers[0]'],
  }],
  unpackItems: [{ actor: () => maker, base: () => ({ container: fresh.packed[counters.unpack++] ?? ssccOf(1), occurredAt: minutesAgo(40), location: 'Unpacking', idempotencyKey: `unpack-${Math.random()}` }), paths: ['container', 'occurredAt', 'location', 'idempotencyKey'] }],
  grantRights: [
    { actor: () => maker, base: () => ({ grantee: dist.id, kinds: [], product: GTIN, expiresAt: new Date(Date.now() + 3_600_000).toISOString(), idempotencyKey: `gr-${Math.random()}` }), paths: ['grantee', 'product', 'expiresAt', 'idempotencyKey'] },
    { actor: () => maker, base: () => ({ grantee: DIST_GLN, kinds: ['SERVICE'], batch: { gtin: GTIN, lot: 'L1' } }), paths: ['batch.gtin', 'batch.lot'] },
  ],
  revokeRights: [{ actor: () => maker, base: () => ({ grant: grantId, idempotencyKey: `rr-${Math.random()}` }), paths: ['grant', 'idempotencyKey'] }],
  setLinks: [
    {
      actor: () => maker,
      base: () => ({ gtin: GTIN, serial: serial(1), idempotencyKey: `sl-${Math.random()}`, links: [{ linkType: 'gs1:pip', href: 'https://brand.example/p', title: 'Product page', language: 'en', context: 'gb', mediaType: 'text/html' }] }),
      paths: ['gtin', 'serial', 'idempotencyKey', 'links[0].linkType', 'links[0].href', 'links[0].title', 'links[0].language', 'links[0].context', 'links[0].mediaType'],
    },
    { actor: () => maker, base: () => ({ gtin: GTIN, lot: 'L1', links: [] }), paths: ['lot'] },
  ],
  setDisclosurePolicy: [{
    actor: () => maker,
    base: () => ({ gtin: GTIN, overrides: [{ field: 'price', kind: 'SELL', tier: 'AUTHORITIES' }], idempotencyKey: `dp-${Math.random()}` }),
    paths: ['gtin', 'idempotencyKey', 'overrides[0].field', 'overrides[0].kind'],
  }],
  registerActorKey: [{ actor: () => dist, base: () => ({ publicKey: 'ab'.repeat(32), idempotencyKey: `ak-${Math.random()}` }), paths: ['publicKey', 'idempotencyKey'] }],
  revokeActorKey: [{ actor: () => dist, base: () => ({ publicKey: 'ab'.repeat(32), idempotencyKey: `rak-${Math.random()}` }), paths: ['publicKey', 'idempotencyKey'] }],
  eraseEventField: [
    { actor: () => maker, base: () => ({ contentHash: eraseTarget, field: 'location', reason: 'hostile test', idempotencyKey: `er-${Math.random()}` }), paths: ['contentHash', 'field', 'reason', 'idempotencyKey'] },
    { actor: () => maker, base: () => ({ eventId: 'RXZlbnQ6MDAwMDAwMDAtMDAwMC0wMDAwLTAwMDAtMDAwMDAwMDAwMDAw', field: 'location', reason: 'hostile test' }), paths: ['eventId'] },
  ],
  prepareSignedEvent: [
    { actor: () => maker, base: () => ({ kind: 'SHIP', publicKey: MAKER_SIGNING_KEY, items: [item(serial(199))], occurredAt: minutesAgo(10), location: 'Dock 2', counterparty: dist.id, idempotencyKey: `ps-${Math.random()}` }), paths: ['publicKey', 'items[0]', 'occurredAt', 'location', 'counterparty', 'idempotencyKey'] },
    { actor: () => maker, base: () => ({ kind: 'SHIP', publicKey: MAKER_SIGNING_KEY, batch: { gtin: GTIN, lot: 'L1' }, containers: [ssccOf(500)], occurredAt: minutesAgo(10), counterparty: dist.id }), paths: ['batch.gtin', 'batch.lot', 'containers[0]'] },
    { actor: () => maker, base: () => ({ kind: 'SELL', publicKey: MAKER_SIGNING_KEY, items: [item(serial(199))], occurredAt: minutesAgo(10), price: 10, currency: 'EUR' }), paths: ['currency'] },
    { actor: () => maker, base: () => ({ kind: 'USE_REPORT', publicKey: MAKER_SIGNING_KEY, items: [item(serial(199))], occurredAt: minutesAgo(10), note: 'ok' }), paths: ['note'], json: ['readings'] },
    { actor: () => maker, base: () => ({ kind: 'RETURN', publicKey: MAKER_SIGNING_KEY, items: [item(serial(199))], occurredAt: minutesAgo(10), counterparty: shop.id, reason: 'broken' }), paths: ['reason'] },
    { actor: () => maker, base: () => ({ kind: 'RECYCLE', publicKey: MAKER_SIGNING_KEY, items: [item(serial(199))], occurredAt: minutesAgo(10), materials: [{ material: 'steel', massKg: 1 }] }), paths: ['materials[0].material'] },
  ],
  submitSignedEvent: [{ actor: () => maker, base: () => ({ preparedId: '00000000-0000-4000-8000-000000000000', signature: 'ab'.repeat(64), idempotencyKey: `ss-${Math.random()}` }), paths: ['preparedId', 'signature', 'idempotencyKey'] }],
  recallBatch: [{ actor: () => maker, base: () => ({ gtin: GTIN, lot: 'RECALL', reason: 'faulty valve', occurredAt: minutesAgo(5), idempotencyKey: `rc-${Math.random()}` }), paths: ['gtin', 'lot', 'reason', 'occurredAt', 'idempotencyKey'] }],
  issueApiKey: [{ actor: () => ({ key: srv.operatorKey } as TestActor), base: () => ({ actor: dist.id, idempotencyKey: `ik-${Math.random()}` }), paths: ['actor', 'idempotencyKey'] }],
  revokeApiKey: [{ actor: () => ({ key: srv.operatorKey } as TestActor), base: () => ({ keyId, idempotencyKey: `rk-${Math.random()}` }), paths: ['keyId', 'idempotencyKey'] }],
  captureEpcisDocument: [{
    actor: () => maker,
    base: () => ({
      idempotencyKey: `cap-${Math.random()}`,
      document: {
        '@context': ['https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld', { provenant: 'https://provenant.dev/epcis/' }],
        type: 'EPCISDocument', schemaVersion: '2.0', creationDate: '2026-03-01T12:00:00.000Z',
        epcisBody: {
          eventList: [{
            type: 'ObjectEvent', eventTime: minutesAgo(30), eventTimeZoneOffset: '+01:00', action: 'ADD', bizStep: 'commissioning', disposition: 'active',
            epcList: [item(`E${counters.lot++}`)], ilmd: { 'cbvmda:lotNumber': `EP${counters.lot}` }, 'provenant:location': 'Line 3',
          }],
        },
      },
    }),
    paths: ['idempotencyKey', 'document.epcisBody.eventList[0].provenant:location', 'document.epcisBody.eventList[0].ilmd.cbvmda:lotNumber', 'document.epcisBody.eventList[0].epcList[0]', 'document.epcisBody.eventList[0].eventTime'],
    json: ['document.epcisBody.eventList[0].provenant:data'],
  }],
};

// Every lifecycle mutation also names items by batch and containers: one more case each, for those inputs.
for (const name of ['shipItems', 'receiveItems', 'sellItems', 'recordUse', 'returnItems', 'recycleItems', 'destroyItems']) {
  const first = CASES[name]![0]!;
  let template: Record<string, unknown> | undefined;
  CASES[name]!.push({
    actor: first.actor,
    base: () => ({ ...(template ??= first.base()), items: [item(serial(1))], batch: { gtin: GTIN, lot: 'NOPE' }, containers: [ssccOf(999_999)], idempotencyKey: `sel-${Math.random()}` }),
    // Only the inputs the first case does not already exercise.
    paths: ['items[0]', 'batch.gtin', 'batch.lot', 'containers[0]', 'occurredAt', 'location', 'idempotencyKey'].filter((p) => !first.paths.includes(p)),
  });
}

/** Sets `path` (dots and [i]; keys may contain ':') in a deep copy of `input`. */
function withValue(input: Record<string, unknown>, path: string, value: unknown): Record<string, unknown> {
  const copy = structuredClone(input);
  const steps = path.split('.').flatMap((p) => p.split(/\[(\d+)\]/).filter((s) => s !== '')).map((s) => (/^\d+$/.test(s) ? Number(s) : s));
  let at: any = copy;
  for (let i = 0; i < steps.length - 1; i++) {
    const step = steps[i]!;
    at[step] ??= typeof steps[i + 1] === 'number' ? [] : {};
    at = at[step];
  }
  at[steps[steps.length - 1]!] = value;
  return copy;
}

/** Every String/ID/DateTime/JSON leaf of an input type, as paths like `batch.lot` or `items[0]`. */
function stringLeaves(type: GraphQLInputType, prefix: string, depth = 0): string[] {
  if (isNonNullType(type)) return stringLeaves(type.ofType, prefix, depth);
  if (isListType(type)) return stringLeaves(type.ofType, `${prefix}[0]`, depth);
  if (isInputObjectType(type)) {
    if (depth > 4) return [];
    return Object.values(type.getFields()).flatMap((f) => stringLeaves(f.type, prefix ? `${prefix}.${f.name}` : f.name, depth + 1));
  }
  return isScalarType(type) && ['String', 'ID', 'DateTime', 'JSON'].includes(type.name) ? [prefix] : [];
}

function expectTyped(where: string, status: number, body: any, field?: string) {
  const errors: any[] = body?.errors ?? [];
  for (const e of errors) {
    expect(TYPED_CODES, `${where}: ${JSON.stringify(e).slice(0, 400)}`).toContain(e.extensions?.code);
    expect(e.message, where).not.toMatch(/Unexpected error/);
  }
  expect(status, where).toBeLessThan(500);
  if (field && errors.length === 0) expect(body.data?.[field]?.__typename, `${where}: ${JSON.stringify(body).slice(0, 300)}`).toBeTruthy();
}

const gqlType = (field: GraphQLField<unknown, unknown>) => String(field.args[0]!.type);

beforeAll(async () => {
  db = await openTestDatabase();
  srv = await startTestServer(db);
  maker = await createTestActor(srv, 'Maker', ['MANUFACTURER'], [PREFIX]);
  const d = await srv.gql(`mutation($i: CreateActorInput!) { createActor(input: $i) { ... on CreateActorSuccess { secret actor { id } } } }`, { i: { name: 'Rapid Freight', roles: ['DISTRIBUTOR'], gln: DIST_GLN } });
  dist = { id: d.body.data.createActor.actor.id, key: d.body.data.createActor.secret, name: 'Rapid Freight' };
  shop = await createTestActor(srv, 'Shop', ['RETAILER']);
  owner = await createTestActor(srv, 'Owner', []);
  recycler = await createTestActor(srv, 'Recycler', ['RECYCLER']);
  const reg = async (lot: string, first: number, count: number) => {
    const r = await srv.gql(`mutation($i: RegisterBatchInput!) { registerBatch(input: $i) { ${RESULT} } }`, { i: { gtin: GTIN, lot, producedAt: minutesAgo(1000), site: 'Plant 1', range: { count, firstSerial: serial(first) } } }, maker.key);
    expect(r.body.data.registerBatch.__typename, JSON.stringify(r.body)).toBe('RegisterBatchSuccess');
  };
  await srv.gql(`mutation($i: RegisterProductInput!) { registerProduct(input: $i) { __typename } }`, { i: { gtin: GTIN, name: 'Valve' } }, maker.key);
  await reg('L1', 1, 200);
  await reg('RECALL', 900, 3);
  const items = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => item(serial(a + i)));
  const step = async (a: TestActor, m: string, input: Record<string, unknown>) => {
    const r = await lifecycle(srv, a, m, { occurredAt: minutesAgo(200), ...input });
    expect(r.__typename, `${m}: ${JSON.stringify(r)}`).toBe('RecordEventSuccess');
  };
  await step(maker, 'shipItems', { items: items(41, 70), to: dist.id });
  await step(maker, 'shipItems', { items: items(71, 116), to: shop.id });
  await step(shop, 'receiveItems', { items: items(71, 116) });
  await step(shop, 'sellItems', { items: items(100, 116), buyer: owner.id });
  await step(owner, 'recordUse', { items: [item(serial(100))], kind: 'ACTIVATE' });
  await step(maker, 'shipItems', { items: items(121, 128), to: recycler.id });
  await step(recycler, 'receiveItems', { items: items(121, 128) });
  for (let i = 0; i < 12; i++) {
    const sscc = ssccOf(500 + i);
    const r = await srv.gql(`mutation($i: PackItemsInput!) { packItems(input: $i) { ${RESULT} } }`, { i: { container: sscc, items: [item(serial(186 + i))], occurredAt: minutesAgo(150) } }, maker.key);
    expect(r.body.data.packItems.__typename).toBe('RecordEventSuccess');
    fresh.packed.push(sscc);
  }
  const g = await srv.gql(`mutation($i: GrantRightsInput!) { grantRights(input: $i) { ... on GrantSuccess { grant { id } } } }`, { i: { grantee: shop.id, kinds: [], product: GTIN } }, maker.key);
  grantId = g.body.data.grantRights.grant.id;
  const sk = await srv.gql(`mutation($i: RegisterActorKeyInput!) { registerActorKey(input: $i) { __typename } }`, { i: { publicKey: MAKER_SIGNING_KEY } }, maker.key);
  expect(sk.body.data.registerActorKey.__typename).toBe('ActorKeySuccess');
  const k = await srv.gql(`{ viewer { apiKeys { id } } }`, {}, recycler.key);
  keyId = k.body.data.viewer.apiKeys[0].id;
  eraseTarget = (await sql<{ h: string }>`SELECT encode(content_hash, 'hex') AS h FROM events WHERE kind = 'COMMISSION' ORDER BY leaf_index LIMIT 1`.execute(db.db)).rows[0]!.h;
}, 60_000);
afterAll(async () => {
  await srv?.close();
  await db?.dispose();
});

describe('hostile input never corrupts the ledger', () => {
  it('every string input of every mutation is covered by this suite', () => {
    const mutations = schema.getMutationType()!.getFields();
    expect(Object.keys(CASES).sort()).toEqual(Object.keys(mutations).sort());
    for (const [name, field] of Object.entries(mutations)) {
      const declared = new Set(CASES[name]!.flatMap((c) => [...c.paths, ...(c.json ?? [])]).map((p) => p.replace(/^document\..*/, 'document')));
      for (const leaf of stringLeaves(field.args[0]!.type, '')) expect(declared.has(leaf), `${name}.${leaf} is not exercised`).toBe(true);
    }
  });

  it('mutations answer each hostile value with success or a typed error', async () => {
    let sent = 0;
    for (const [name, cases] of Object.entries(CASES)) {
      const inputType = gqlType(schema.getMutationType()!.getFields()[name]!);
      for (const c of cases) {
        for (const path of [...c.paths, ...(c.json ?? [])]) {
          // The values of one input go out together (they touch different fresh items).
          await Promise.all(Object.entries(HOSTILE).map(async ([label, value]) => {
            const hostile = c.json?.includes(path) ? { [value]: value, nested: { list: [value] } } : value;
            const input = withValue(c.base(), path, hostile);
            const res = await fetch(srv.url, {
              method: 'POST',
              headers: { 'content-type': 'application/json', authorization: `Bearer ${c.actor().key}` },
              body: JSON.stringify({ query: `mutation($i: ${inputType}) { ${name}(input: $i) { ${RESULT} } }`, variables: { i: input } }),
            });
            const text = await res.text();
            let body: any;
            expect(() => (body = JSON.parse(text)), `${name}.${path}=${label}: not JSON: ${text.slice(0, 200)}`).not.toThrow();
            expectTyped(`${name}.${path}=${label}`, res.status, body, name);
            sent++;
          }));
        }
      }
    }
    expect(sent).toBeGreaterThan(400);
  }, 120_000);

  it('a NUL or lone surrogate is refused by name in these places, and valid exotic text is stored exactly', async () => {
    // The location that used to be stored as U+FFFD while its \ud800 escape was hashed.
    const lone = await lifecycle(srv, owner, 'recordUse', { items: [item(serial(100))], kind: 'USE_REPORT', occurredAt: minutesAgo(5), location: 'Hall \ud800' });
    expect(lone).toMatchObject({ __typename: 'ValidationError', field: 'location' });
    const nulReading = await lifecycle(srv, owner, 'recordUse', { items: [item(serial(100))], kind: 'USE_REPORT', occurredAt: minutesAgo(5), readings: { ['t\u0000']: 1 } });
    expect(nulReading).toMatchObject({ __typename: 'ValidationError', field: 'readings.t\\u0000' });
    const exotic = await lifecycle(srv, owner, 'recordUse', { items: [item(serial(100))], kind: 'USE_REPORT', occurredAt: minutesAgo(5), location: HOSTILE.rtlOverride, note: HOSTILE.emoji + HOSTILE.bom });
    expect(exotic.__typename).toBe('RecordEventSuccess');
    const { body } = await srv.gql(`query($id: ID!) { node(id: $id) { ... on Event { location data canonicalBody } } }`, { id: exotic.event.id }, owner.key);
    expect(body.data.node.location).toBe(HOSTILE.rtlOverride);
    expect(body.data.node.data.note).toBe(HOSTILE.emoji + HOSTILE.bom);
    // v2: the hashed body commits to each value; the stored value and salt must open the commitment exactly.
    const stored = await sql<{ body: string; field_salts: Uint8Array }>`SELECT body, field_salts FROM events WHERE body = ${body.data.node.canonicalBody}`.execute(db.db);
    const committed = JSON.parse(stored.rows[0]!.body).fields;
    const salts = decodeFieldSalts(stored.rows[0]!.field_salts);
    expect(opensField('location', HOSTILE.rtlOverride, salts['location']!, committed.location)).toBe(true);
    expect(opensField('note', HOSTILE.emoji + HOSTILE.bom, salts['note']!, committed.note)).toBe(true);
    // Read arguments: a typed VALIDATION_ERROR naming the argument, never an internal error.
    for (const [query, vars, field] of [
      ['query($l: String!) { batch(gtin: "' + GTIN + '", lot: $l) { id } }', { l: 'L\u00001' }, 'lot'],
      ['query($m: String) { materialLots(material: $m) { edges { cursor } } }', { m: 'alu\u0000' }, 'material'],
      ['{ product(gtin: "0401\\u0000") { gtin } }', {}, 'gtin'],
      ['query($s: String) { item(sgtin: $s) { id } }', { s: 'urn:\ud800' }, 'sgtin'],
      ['query($f: EventFilter) { events(filter: $f) { totalCount } }', { f: { batch: { gtin: GTIN, lot: '\u0000' } } }, 'filter.batch.lot'],
    ] as const) {
      const r = await srv.gql(query, vars, maker.key);
      expect(r.body.errors?.[0]?.extensions, query).toMatchObject({ code: 'VALIDATION_ERROR', field });
    }
  });

  it('query string arguments answer each hostile value with data or a typed error', async () => {
    const itemId = encodeGlobalID('Item', '00000000-0000-4000-8000-000000000000');
    const defaults: Record<string, unknown> = { String: 'x', ID: itemId, DateTime: minutesAgo(1), Int: 1, Boolean: true, JSON: {} };
    const defaultFor = (type: GraphQLInputType): unknown => {
      if (isNonNullType(type)) return defaultFor(type.ofType);
      if (isListType(type)) return [defaultFor(type.ofType)];
      if (isInputObjectType(type)) {
        return Object.fromEntries(Object.values(type.getFields()).filter((f) => isNonNullType(f.type)).map((f) => [f.name, defaultFor(f.type)]));
      }
      if (isEnumType(type)) return type.getValues()[0]!.value;
      return defaults[(type as GraphQLNamedType).name];
    };
    /** A value of `type` with `value` at `path` and every required field around it filled in. */
    const build = (type: GraphQLInputType, path: string[], value: unknown): unknown => {
      if (isNonNullType(type)) return build(type.ofType, path, value);
      if (path.length === 0) return value;
      if (isListType(type)) return [build(type.ofType, path.slice(1), value)];
      if (!isInputObjectType(type)) throw new Error(`no field ${path[0]} in ${String(type)}`);
      return { ...(defaultFor(type) as Record<string, unknown>), [path[0]!]: build(type.getFields()[path[0]!]!.type, path.slice(1), value) };
    };
    const selection = (t: GraphQLNamedType) => (isObjectType(t) || isAbstractType(t) ? '{ __typename }' : '');
    let sent = 0;
    for (const [name, field] of Object.entries(schema.getQueryType()!.getFields())) {
      for (const arg of field.args) {
        for (const leaf of stringLeaves(arg.type, '')) {
          await Promise.all(Object.entries(HOSTILE).map(async ([label, value]) => {
            const vars: Record<string, unknown> = {};
            for (const a of field.args) if (isNonNullType(a.type)) vars[a.name] = defaultFor(a.type);
            // The argument itself (a scalar, a list or an input object with its required fields) with the hostile leaf.
            vars[arg.name] = build(arg.type, leaf.split('.').flatMap((p) => p.split(/\[(\d+)\]/).filter((x) => x !== '')), value);
            const decl = field.args.filter((a) => a.name in vars).map((a) => `$${a.name}: ${String(a.type)}`).join(', ');
            const use = field.args.filter((a) => a.name in vars).map((a) => `${a.name}: $${a.name}`).join(', ');
            const query = `query${decl ? `(${decl})` : ''} { ${name}${use ? `(${use})` : ''} ${selection(getNamedType(field.type))} }`;
            const res = await fetch(srv.url, {
              method: 'POST',
              headers: { 'content-type': 'application/json', authorization: `Bearer ${maker.key}` },
              body: JSON.stringify({ query, variables: vars }),
            });
            const text = await res.text();
            let body: any;
            expect(() => (body = JSON.parse(text)), `${name}(${arg.name}${leaf})=${label}: ${text.slice(0, 200)}`).not.toThrow();
            expectTyped(`${name}(${arg.name}${leaf})=${label}`, res.status, body);
            sent++;
          }));
        }
      }
    }
    expect(sent).toBeGreaterThan(100);
  }, 120_000);

  it('EPCIS REST: every query parameter and a captured provenant:location answer with a 2xx/4xx JSON body', async () => {
    for (const param of ['MATCH_epc', 'MATCH_anyEPC', 'EQ_bizStep', 'GE_eventTime', 'LT_eventTime', 'EQ_action', 'perPage', 'nextPageToken']) {
      await Promise.all(Object.entries(HOSTILE).map(async ([label, value]) => {
        // URLSearchParams encodes a lone surrogate as U+FFFD (UTF-8 has no form for it); NUL travels as %00.
        const url = `${srv.origin}/epcis/events?${new URLSearchParams({ [param]: label === 'oneMegabyte' ? value.slice(0, 4000) : value })}`;
        const res = await fetch(url, { headers: { authorization: `Bearer ${maker.key}` } });
        expect(res.status, `${param}=${label}`).toBeLessThan(500);
        await res.json();
      }));
    }
    for (const [label, value] of Object.entries(HOSTILE)) {
      const doc = withValue(CASES.captureEpcisDocument![0]!.base(), 'document.epcisBody.eventList[0].provenant:location', value)['document'];
      // Accepted as a capture job (the hostile text is stored with it) and followed to its end.
      const { status, body } = await captureAndWait(srv.origin, maker.key, doc);
      expect(status, `capture provenant:location=${label}`).toBeLessThan(500);
      if (['nul', 'loneHigh', 'loneLow'].includes(label)) expect(body.problems?.[0], label).toMatchObject({ eventIndex: 0, field: 'provenant:location' });
    }
  });

  it('afterwards the ledger audits clean and every item chain verifies', async () => {
    const report = await auditLedger(db.db, srv.signer.verifierKey);
    expect(report.discrepancies).toEqual([]);
    expect(report.events).toBeGreaterThan(20);
    const items = await db.db.selectFrom('items').selectAll().execute();
    const invalid: string[] = [];
    for (const i of items) {
      const v = await verifyItem(db.db, i);
      if (!v.valid) invalid.push(`${i.sgtin}: ${v.reason}`);
    }
    expect(invalid).toEqual([]);
    // Some hostile-but-valid values were accepted and stored (emoji, RTL override, BOM).
    const exotic = await db.db.selectFrom('events').select('location').where('location', '=', HOSTILE.emoji).execute();
    expect(exotic.length).toBeGreaterThan(0);
  }, 60_000);
});
