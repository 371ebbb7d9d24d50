import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ZERO_HASH, canonicalEventBody, contentHashOf, linkHash } from '../../src/core/chain.ts';
import { verifyAnyBundle } from '../../src/core/verify-any.ts';
import type { BundleEventV2, ProofBundleV2 } from '../../src/core/v2/bundle-v2.ts';
import { fieldValuesOf, readableOf } from '../../src/core/v2/event-fields.ts';
import { headKey } from '../../src/core/v2/head-map.ts';
import { decodeFieldSalts, encodeFieldSalts } from '../../src/db/event-content.ts';
import { findItemsBySgtins, insertBatch, insertItems, insertLinks } from '../../src/db/ledger.ts';
import { insertPendingEvent } from '../../src/db/pending.ts';
import { auditLedger } from '../../src/services/audit.ts';
import { integrateAll } from '../../src/services/integrate.ts';
import { itemProofBundle } from '../../src/services/log-proofs.ts';
import { verifyItem } from '../../src/services/verify-item.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { createTestActor, lifecycle, minutesAgo, registerProductAndBatch, type TestActor } from '../helpers/ledger.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

let db: TestDatabase;
let srv: TestServer;
let brandA: TestActor, brandB: TestActor, logistics: TestActor, shop: TestActor, buyer: TestActor;
const GTIN_A = '04012345111118';
const GTIN_B = '09506000134352';
const a = (s: string) => `urn:epc:id:sgtin:4012345.011111.${s}`;
const b = (s: string) => `urn:epc:id:sgtin:9506000.013435.${s}`;
const A_SERIALS = Array.from({ length: 40 }, (_, i) => `LEAKA-${String(i).padStart(4, '0')}`);
const B_SERIALS = ['LEAKB-0001', 'LEAKB-0002', 'LEAKB-0003'];
const ok = (r: { __typename: string }) => expect(r.__typename, JSON.stringify(r)).toBe('RecordEventSuccess');

async function gqlBundle(sgtin: string, key: string): Promise<ProofBundleV2> {
  const { body } = await srv.gql(`query($s: String!) { itemProofBundle(sgtin: $s) }`, { s: sgtin }, key);
  expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
  return body.data.itemProofBundle;
}

beforeAll(async () => {
  db = await openTestDatabase();
  srv = await startTestServer(db);
  brandA = await createTestActor(srv, 'Brand A', ['MANUFACTURER'], ['4012345']);
  brandB = await createTestActor(srv, 'Brand B', ['MANUFACTURER'], ['9506000']);
  logistics = await createTestActor(srv, 'Logistics', ['DISTRIBUTOR']);
  shop = await createTestActor(srv, 'Shop', ['RETAILER']);
  buyer = await createTestActor(srv, 'Buyer', []);
  expect((await registerProductAndBatch(srv, brandA, { gtin: GTIN_A, lot: 'LA', serials: A_SERIALS })).__typename).toBe('RegisterBatchSuccess');
  expect((await registerProductAndBatch(srv, brandB, { gtin: GTIN_B, lot: 'LB', serials: B_SERIALS })).__typename).toBe('RegisterBatchSuccess');
  // Both brands hand items to one logistics provider, which moves them on to the shop in ONE SHIP.
  ok(await lifecycle(srv, brandA, 'shipItems', { items: A_SERIALS.slice(0, 5).map(a), to: logistics.id, occurredAt: minutesAgo(30) }));
  ok(await lifecycle(srv, brandB, 'shipItems', { items: B_SERIALS.map(b), to: logistics.id, occurredAt: minutesAgo(30) }));
  ok(await lifecycle(srv, logistics, 'receiveItems', { items: [...A_SERIALS.slice(0, 5).map(a), ...B_SERIALS.map(b)], occurredAt: minutesAgo(29) }));
  ok(await lifecycle(srv, logistics, 'shipItems', { items: [...A_SERIALS.slice(0, 5).map(a), ...B_SERIALS.map(b)], to: shop.id, occurredAt: minutesAgo(28) }));
  ok(await lifecycle(srv, shop, 'receiveItems', { items: [...A_SERIALS.slice(0, 5).map(a), ...B_SERIALS.map(b)], occurredAt: minutesAgo(27) }));
  ok(await lifecycle(srv, shop, 'sellItems', { items: [a(A_SERIALS[0]!), a(A_SERIALS[1]!)], buyer: buyer.id, price: 129.9, currency: 'EUR', occurredAt: minutesAgo(26) }));
});
afterAll(async () => {
  await srv?.close();
  await db?.dispose();
});

describe('format v2 on the server', () => {
  it('every event is written as v2: a body with commitments and an items root, no serial and no count', async () => {
    const rows = await sql<{ body: string; format: number; item_count: number; kind: string }>`SELECT body, format, item_count, kind FROM events ORDER BY leaf_index`.execute(db.db);
    expect(rows.rows.length).toBeGreaterThanOrEqual(8);
    for (const r of rows.rows) {
      expect(r.format).toBe(2);
      const body = JSON.parse(r.body);
      expect(body).toMatchObject({ format: 'provenant/event/v2', kind: r.kind, items: expect.stringMatching(/^[0-9a-f]{64}$/) });
      expect(r.body).not.toMatch(/LEAK[AB]-/);
      // Exactly the v2 keys: nothing says how many items the event covers.
      expect(Object.keys(body).sort()).toEqual(['fields', 'format', 'items', 'kind', 'occurredAt', 'recordedAt', 'timezoneOffset']);
    }
    // The readable columns still hold the values (read paths read them); the salts sit beside them.
    const sell = await sql<{ data: Record<string, unknown>; field_salts: Uint8Array; counterparty_id: string }>`SELECT data, field_salts, counterparty_id FROM events WHERE kind = 'SELL'`.execute(db.db);
    expect(sell.rows[0]!.data).toEqual({ price: 129.9, currency: 'EUR' });
    expect(Object.keys(decodeFieldSalts(sell.rows[0]!.field_salts)).sort()).toEqual(['actor', 'buyer', 'currency', 'price']);
    // Stored compactly: per field its name and 16 salt bytes, no hex.
    expect(sell.rows[0]!.field_salts.length).toBe(4 + ['actor', 'buyer', 'currency', 'price'].join('').length + 4 * 16);
  });

  it('a bundle of one item of a 40-item COMMISSION and a two-brand SHIP holds no other serial anywhere, and verifies complete', async () => {
    const bundle = await gqlBundle(a(A_SERIALS[0]!), brandA.key);
    const text = JSON.stringify(bundle);
    for (const s of [...A_SERIALS.slice(1), ...B_SERIALS]) expect(text, s).not.toContain(s);
    expect(text).toContain(A_SERIALS[0]);
    expect(bundle.events.map((e) => JSON.parse(e.body).kind)).toEqual(['COMMISSION', 'SHIP', 'RECEIVE', 'SHIP', 'RECEIVE', 'SELL']);
    const v = verifyAnyBundle(bundle, { verifierKeys: [srv.signer.verifierKey] });
    expect(v.ok && v.summary, JSON.stringify(v)).toMatch(/^complete as of checkpoint \d+ \(tree size \d+\) of test\.provenant\/log: 6 events, head seq 5, stage SOLD, not recalled$/);
    // Brand B's bundle of its item from the same SHIP: none of brand A's serials either.
    const other = JSON.stringify(await gqlBundle(b(B_SERIALS[0]!), brandB.key));
    for (const s of [...A_SERIALS, ...B_SERIALS.slice(1)]) expect(other, s).not.toContain(s);
  });

  it('an event of more than 256 items stores its tree top; a bundle and verifyItem use it and agree with the full tree', async () => {
    const serials = Array.from({ length: 300 }, (_, i) => `BIG-${String(i).padStart(4, '0')}`);
    expect((await registerProductAndBatch(srv, brandA, { gtin: GTIN_A, lot: 'LBIG', serials })).__typename).toBe('RegisterBatchSuccess');
    const stored = await sql<{ top: Uint8Array | null; n: number }>`
      SELECT e.item_tree_top AS top, count(l.*)::int AS n FROM events e JOIN chain_links l ON l.event_id = e.id
      WHERE e.kind = 'COMMISSION' GROUP BY e.id ORDER BY n`.execute(db.db);
    // Small events store no top; the 300-item one does (9 levels of real nodes, level, index and hash each).
    expect(stored.rows.map((r) => [r.n, r.top === null])).toEqual([[3, true], [40, true], [300, false]]);
    for (const s of [serials[0]!, serials[150]!, serials[299]!]) {
      const bundle = await gqlBundle(a(s), brandA.key);
      expect(JSON.stringify(bundle)).not.toMatch(new RegExp(serials.filter((x) => x !== s).join('|')));
      expect(verifyAnyBundle(bundle, { verifierKeys: [srv.signer.verifierKey] })).toMatchObject({ ok: true });
      const [item] = await findItemsBySgtins(db.db, [a(s)]);
      expect(await verifyItem(db.db, item!)).toMatchObject({ valid: true, length: 1 });
    }
    expect((await auditLedger(db.db, srv.signer.verifierKey)).discrepancies).toEqual([]);

    // A stored top node altered in SQL (the last record: a child of the root) breaks the proofs of the items in the
    // other half of the tree, and the audit names the stored top.
    const big = (await sql<{ id: string; top: Uint8Array }>`SELECT id, item_tree_top AS top FROM events WHERE item_tree_top IS NOT NULL`.execute(db.db)).rows[0]!;
    const bad = Uint8Array.from(big.top);
    bad[bad.length - 1]! ^= 1;
    await sql`ALTER TABLE events DISABLE TRIGGER events_append_only`.execute(db.db);
    try {
      await sql`UPDATE events SET item_tree_top = ${bad} WHERE id = ${big.id}`.execute(db.db);
      const verdicts = [];
      for (const s of serials.filter((_, i) => i % 10 === 0)) verdicts.push((await verifyItem(db.db, (await findItemsBySgtins(db.db, [a(s)]))[0]!)).valid);
      expect(verdicts).toContain(false);
      expect(verdicts).toContain(true);
      expect((await auditLedger(db.db, srv.signer.verifierKey)).discrepancies.join('\n')).toMatch(/COMMISSION\): the stored top levels of the items tree differ from the rebuilt tree/);
    } finally {
      await sql`UPDATE events SET item_tree_top = ${big.top} WHERE id = ${big.id}`.execute(db.db);
      await sql`ALTER TABLE events ENABLE TRIGGER events_append_only`.execute(db.db);
    }
  });

  it('participant fields (buyer, price, currency) are withheld from a public reader and still proven; the brand sees them', async () => {
    const [item] = await findItemsBySgtins(db.db, [a(A_SERIALS[0]!)]);
    const pub = await itemProofBundle(db.db, srv.signer, item!, null, undefined, { tier: 'public' });
    expect(pub.kind).toBe('ok');
    const bundle = (pub as { bundle: ProofBundleV2 }).bundle;
    const sell = bundle.events[5] as BundleEventV2;
    expect(sell.fields).toMatchObject({ buyer: { withheld: true }, price: { withheld: true }, currency: { withheld: true }, actor: { value: expect.any(String) } });
    expect(JSON.stringify(bundle)).not.toContain('129.9');
    const v = verifyAnyBundle(bundle, { verifierKeys: [srv.signer.verifierKey] });
    expect(v.ok && v.summary).toMatch(/complete as of checkpoint .*; withheld seq 5: buyer, currency, price$/);
    // An altered withheld commitment is no longer the logged body.
    const forged = structuredClone(bundle);
    forged.events[5]!.body = forged.events[5]!.body.replace(/"price":"[0-9a-f]/, (m) => m.slice(0, -1) + (m.endsWith('0') ? '1' : '0'));
    expect(verifyAnyBundle(forged, { verifierKeys: [srv.signer.verifierKey] })).toMatchObject({ ok: false, failure: { seq: 5, check: 'inclusion' } });

    const brand = await gqlBundle(a(A_SERIALS[0]!), brandA.key);
    expect((brand.events[5] as BundleEventV2).fields).toMatchObject({ price: { value: 129.9 }, currency: { value: 'EUR' } });
  });

  it('fieldValuesOf and readableOf are inverse, extension keys and reserved names included', () => {
    const content = { actorId: 'x', location: 'Dock 4', counterpartyId: 'y', data: { price: 3, 'ex:temp': 4, location: 'data key', extensions: { z: 1 }, Note: 'n' } };
    const values = fieldValuesOf('SELL', content);
    expect(values).toEqual({ actor: 'x', location: 'Dock 4', buyer: 'y', price: 3, extensions: { 'ex:temp': 4, location: 'data key', extensions: { z: 1 }, Note: 'n' } });
    expect(readableOf('SELL', values)).toEqual(content);
    expect(fieldValuesOf('SHIP', { actorId: 'x', location: null, counterpartyId: 'y', data: {} })).toEqual({ actor: 'x', counterparty: 'y' });
  });

  it('audit and item verification are clean; a changed value or salt in SQL is caught by both, naming the field', async () => {
    const clean = await auditLedger(db.db, srv.signer.verifierKey);
    expect(clean.discrepancies).toEqual([]);
    const [item] = await findItemsBySgtins(db.db, [a(A_SERIALS[1]!)]);
    expect(await verifyItem(db.db, item!)).toMatchObject({ valid: true, length: 6 });

    const sell = await sql<{ id: string; field_salts: Uint8Array }>`SELECT id, field_salts FROM events WHERE kind = 'SELL'`.execute(db.db);
    const salts = encodeFieldSalts({ ...decodeFieldSalts(sell.rows[0]!.field_salts), price: '0'.repeat(32) });
    // The trigger refuses an update that does not erase a field.
    await expect(sql`UPDATE events SET field_salts = ${salts} WHERE id = ${sell.rows[0]!.id}`.execute(db.db)).rejects.toThrow(/append-only/);
    await sql`ALTER TABLE events DISABLE TRIGGER events_append_only`.execute(db.db);
    try {
      await sql`UPDATE events SET field_salts = ${salts} WHERE id = ${sell.rows[0]!.id}`.execute(db.db);
      const report = await auditLedger(db.db, srv.signer.verifierKey);
      expect(report.discrepancies.join('\n')).toMatch(/SELL\): stored columns or chain links differ from the hashed body \(field price\)/);
      const v = await verifyItem(db.db, item!);
      expect(v).toMatchObject({ valid: false, firstInvalidSeq: 5 });
      expect(v.reason).toMatch(/field price/);
    } finally {
      await sql`UPDATE events SET field_salts = ${sell.rows[0]!.field_salts} WHERE id = ${sell.rows[0]!.id}`.execute(db.db);
      await sql`ALTER TABLE events ENABLE TRIGGER events_append_only`.execute(db.db);
    }
    // A changed entry salt breaks the items root of its event and the item's link.
    const original = (await sql<{ entry_salt: Uint8Array }>`SELECT entry_salt FROM chain_links WHERE item_id = ${item!.id} AND seq = 2`.execute(db.db)).rows[0]!.entry_salt;
    await sql`ALTER TABLE chain_links DISABLE TRIGGER chain_links_append_only`.execute(db.db);
    try {
      await sql`UPDATE chain_links SET entry_salt = decode(repeat('00', 16), 'hex') WHERE item_id = ${item!.id} AND seq = 2`.execute(db.db);
      const report = (await auditLedger(db.db, srv.signer.verifierKey)).discrepancies.join('\n');
      expect(report).toMatch(/RECEIVE\): stored columns or chain links differ from the hashed body \(field items\)/);
      expect(report).toMatch(new RegExp(`item ${a(A_SERIALS[1]!).replace(/\./g, '\\.')} seq 2: link hash does not match its event's content hash and entry`));
      expect(await verifyItem(db.db, item!)).toMatchObject({ valid: false, firstInvalidSeq: 2 });
    } finally {
      await sql`UPDATE chain_links SET entry_salt = ${original} WHERE item_id = ${item!.id} AND seq = 2`.execute(db.db);
      await sql`ALTER TABLE chain_links ENABLE TRIGGER chain_links_append_only`.execute(db.db);
    }
    expect((await auditLedger(db.db, srv.signer.verifierKey)).discrepancies).toEqual([]);

    // The head map bound to the checkpoint must hold the item's head: a stale leaf value is caught.
    const key = headKey(item!.sgtin);
    // Buckets store key‖value records of 64 bytes (src/db/head-map.ts): overwrite the value after the item's key.
    const bucket = (await sql<{ depth: number; prefix: Uint8Array; entries: Uint8Array }>`
      SELECT depth, prefix, entries FROM head_map_nodes WHERE entries IS NOT NULL AND position(${key} in entries) % 64 = 1`.execute(db.db)).rows[0]!;
    await sql`UPDATE head_map_nodes SET entries = overlay(entries placing decode(repeat('11', 32), 'hex') from position(${key} in entries) + 32 for 32)
      WHERE depth = ${bucket.depth} AND prefix = ${bucket.prefix}`.execute(db.db);
    try {
      const v = await verifyItem(db.db, item!);
      expect(v).toMatchObject({ valid: false, firstInvalidSeq: 5 });
      expect(v.reason).toMatch(/head map of checkpoint \d+ does not hold the item's logged head \(seq 5\)/);
    } finally {
      await sql`UPDATE head_map_nodes SET entries = ${bucket.entries} WHERE depth = ${bucket.depth} AND prefix = ${bucket.prefix}`.execute(db.db);
    }
    expect(await verifyItem(db.db, item!)).toMatchObject({ valid: true });

    // Audit rebuilds that map from the chain links it reads: a head's stage changed in SQL no longer gives the signed root.
    await sql`ALTER TABLE chain_links DISABLE TRIGGER chain_links_append_only`.execute(db.db);
    try {
      await sql`UPDATE chain_links SET stage = 'IN_STOCK' WHERE item_id = ${item!.id} AND seq = 5`.execute(db.db);
      const report = (await auditLedger(db.db, srv.signer.verifierKey)).discrepancies;
      expect(report).toHaveLength(1);
      expect(report[0]).toMatch(/^checkpoint \d+: head-map root [0-9a-f]{64} differs from the map of every item's logged head [0-9a-f]{64}$/);
    } finally {
      await sql`UPDATE chain_links SET stage = 'SOLD' WHERE item_id = ${item!.id} AND seq = 5`.execute(db.db);
      await sql`ALTER TABLE chain_links ENABLE TRIGGER chain_links_append_only`.execute(db.db);
    }
    expect((await auditLedger(db.db, srv.signer.verifierKey)).discrepancies).toEqual([]);
  });
});

describe('eraseEventField', () => {
  const ERASE = `mutation($i: EraseEventFieldInput!) { eraseEventField(input: $i) { __typename
    ... on EraseEventFieldSuccess { target { kind data erasedFields { field erasedBy } canonicalBody contentHash } erasure { kind itemCount contentHash } }
    ... on Error { message } ... on ValidationError { field } ... on PermissionDeniedError { rule } } }`;
  const hashOf = async (kind: string) =>
    (await sql<{ h: string }>`SELECT encode(content_hash, 'hex') AS h FROM events WHERE kind = ${kind} ORDER BY leaf_index DESC LIMIT 1`.execute(db.db)).rows[0]!.h;

  it('the brand erases the price of a sale: an ERASE event is logged, the value and salt are gone, the bundle shows it erased and verifies, audit stays clean', async () => {
    const sellHash = await hashOf('SELL');
    const before = await sql<{ body: string }>`SELECT body FROM events WHERE content_hash = decode(${sellHash}, 'hex')`.execute(db.db);
    const { body } = await srv.gql(ERASE, { i: { contentHash: sellHash, field: 'price', reason: 'customer asked (GDPR art. 17)', idempotencyKey: 'erase-1' } }, brandA.key);
    const r = body.data.eraseEventField;
    expect(r.__typename, JSON.stringify(body)).toBe('EraseEventFieldSuccess');
    expect(r.erasure).toMatchObject({ kind: 'ERASE', itemCount: 0 });
    expect(r.target.data).toEqual({ currency: 'EUR' });
    expect(r.target.erasedFields).toEqual([{ field: 'price', erasedBy: r.erasure.contentHash }]);
    // The hashed body and its content hash are untouched.
    expect(r.target.canonicalBody).toBe(before.rows[0]!.body);
    expect(r.target.contentHash).toBe(sellHash);
    const row = await sql<{ field_salts: Uint8Array; erased: Record<string, string> }>`SELECT field_salts, erased FROM events WHERE content_hash = decode(${sellHash}, 'hex')`.execute(db.db);
    expect(Object.keys(decodeFieldSalts(row.rows[0]!.field_salts)).sort()).toEqual(['actor', 'buyer', 'currency']);
    expect(row.rows[0]!.erased).toEqual({ price: r.erasure.contentHash });
    // A repeat with the same key replays; nothing more is written.
    const size = (await sql<{ n: number }>`SELECT count(*)::int AS n FROM events`.execute(db.db)).rows[0]!.n;
    const again = await srv.gql(ERASE, { i: { contentHash: sellHash, field: 'price', reason: 'customer asked (GDPR art. 17)', idempotencyKey: 'erase-1' } }, brandA.key);
    expect(again.body.data.eraseEventField.erasure.contentHash).toBe(r.erasure.contentHash);
    expect((await sql<{ n: number }>`SELECT count(*)::int AS n FROM events`.execute(db.db)).rows[0]!.n).toBe(size);

    const bundle = await gqlBundle(a(A_SERIALS[0]!), brandA.key);
    expect((bundle.events[5] as BundleEventV2).fields['price']).toEqual({ erased: r.erasure.contentHash });
    expect(bundle.erasures).toHaveLength(1);
    expect(bundle.erasures[0]!.fields).toMatchObject({ target: { value: sellHash }, field: { value: 'price' }, reason: { value: 'customer asked (GDPR art. 17)' } });
    const v = verifyAnyBundle(bundle, { verifierKeys: [srv.signer.verifierKey] });
    expect(v.ok && v.summary, JSON.stringify(v)).toMatch(/complete as of checkpoint .*: 6 events, head seq 5, stage SOLD, not recalled; erased seq 5: price$/);
    // The erased commitment cannot be swapped for another: the body is the logged one.
    const forged = structuredClone(bundle);
    forged.erasures[0]!.fields['field'] = { value: 'currency', salt: (forged.erasures[0]!.fields['field'] as { salt: string }).salt };
    expect(verifyAnyBundle(forged, { verifierKeys: [srv.signer.verifierKey] })).toMatchObject({ ok: false, failure: { check: 'fields' } });

    expect((await auditLedger(db.db, srv.signer.verifierKey)).discrepancies).toEqual([]);
    const [item] = await findItemsBySgtins(db.db, [a(A_SERIALS[0]!)]);
    expect(await verifyItem(db.db, item!)).toMatchObject({ valid: true, length: 6 });
  });

  it('refuses a second erasure of the field, the actor, a stranger and a brand that does not own every item of the event', async () => {
    const sellHash = await hashOf('SELL');
    const second = await srv.gql(ERASE, { i: { contentHash: sellHash, field: 'price', reason: 'again' } }, brandA.key);
    expect(second.body.data.eraseEventField).toMatchObject({ __typename: 'ConflictError', message: 'field price of this event is already erased' });
    const actor = await srv.gql(ERASE, { i: { contentHash: sellHash, field: 'actor', reason: 'x' } }, brandA.key);
    expect(actor.body.data.eraseEventField).toMatchObject({ __typename: 'ValidationError', field: 'field' });
    const stranger = await srv.gql(ERASE, { i: { contentHash: sellHash, field: 'currency', reason: 'x' } }, brandB.key);
    expect(stranger.body.data.eraseEventField.__typename).toBe('NotFoundError');
    // The logistics SHIP covers both brands' items: neither brand alone may erase its fields; the operator may.
    const shipHash = (await sql<{ h: string }>`SELECT encode(content_hash, 'hex') AS h FROM events WHERE kind = 'SHIP' AND item_count = 8`.execute(db.db)).rows[0]!.h;
    const shared = await srv.gql(ERASE, { i: { contentHash: shipHash, field: 'counterparty', reason: 'x' } }, brandA.key);
    expect(shared.body.data.eraseEventField).toMatchObject({ __typename: 'PermissionDeniedError', rule: 'NOT_BRAND_OWNER' });
    const byOperator = await srv.gql(ERASE, { i: { contentHash: shipHash, field: 'counterparty', reason: 'court order' } });
    expect(byOperator.body.data.eraseEventField.__typename, JSON.stringify(byOperator.body)).toBe('EraseEventFieldSuccess');
    expect((await auditLedger(db.db, srv.signer.verifierKey)).discrepancies).toEqual([]);
    // Brand B's bundle now shows the SHIP's counterparty erased and still verifies complete.
    const bBundle = await gqlBundle(b(B_SERIALS[0]!), brandB.key);
    expect((bBundle.events[3] as BundleEventV2).fields['counterparty']).toEqual({ erased: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(verifyAnyBundle(bBundle, { verifierKeys: [srv.signer.verifierKey] })).toMatchObject({ ok: true });
  });

  it('audit reports a field erased in SQL without a logged ERASE event (a value silently deleted)', async () => {
    const sellHash = await hashOf('SELL');
    const row = (await sql<{ id: string; data: Record<string, unknown>; field_salts: Uint8Array; erased: Record<string, string> }>`
      SELECT id, data, field_salts, erased FROM events WHERE content_hash = decode(${sellHash}, 'hex')`.execute(db.db)).rows[0]!;
    const { currency: _c, ...data } = row.data;
    const { currency: _s, ...salts } = decodeFieldSalts(row.field_salts);
    const bogus = 'ab'.repeat(32);
    await sql`UPDATE events SET data = ${JSON.stringify(data)}::jsonb, field_salts = ${encodeFieldSalts(salts)},
      erased = ${JSON.stringify({ ...row.erased, currency: bogus })}::jsonb WHERE id = ${row.id}`.execute(db.db);
    try {
      const report = (await auditLedger(db.db, srv.signer.verifierKey)).discrepancies.join('\n');
      expect(report).toMatch(new RegExp(`SELL\\): field currency is marked erased by ${bogus}, which is no logged ERASE event`));
    } finally {
      await sql`ALTER TABLE events DISABLE TRIGGER events_append_only`.execute(db.db);
      await sql`UPDATE events SET data = ${JSON.stringify(row.data)}::jsonb, field_salts = ${row.field_salts}, erased = ${JSON.stringify(row.erased)}::jsonb WHERE id = ${row.id}`.execute(db.db);
      await sql`ALTER TABLE events ENABLE TRIGGER events_append_only`.execute(db.db);
    }
    expect((await auditLedger(db.db, srv.signer.verifierKey)).discrepancies).toEqual([]);
  });
});

describe('an item whose chain began in v1 continues in v2', () => {
  it('the v1 COMMISSION is the prefix; audit, verifyItem and the v2 bundle accept the mixed chain', async () => {
    const GTIN_C = '04012345333336';
    const sgtin = 'urn:epc:id:sgtin:4012345.033333.OLD-1';
    const made = await srv.gql('mutation($i: RegisterProductInput!) { registerProduct(input: $i) { __typename } }', { i: { gtin: GTIN_C, name: 'Old product' } }, brandA.key);
    expect(made.body.data.registerProduct.__typename).toBe('RegisterProductSuccess');
    const actorId = (await sql<{ id: string }>`SELECT id FROM actors WHERE name = 'Brand A'`.execute(db.db)).rows[0]!.id;
    // Written as the server wrote events before format v2 (a v1 body listing its items, the v1 link rule).
    await db.db.transaction().execute(async (trx) => {
      const batch = await insertBatch(trx, { gtin: GTIN_C, lot: 'OLD', producedAt: new Date('2026-01-01T00:00:00Z'), site: 'Plant 0' });
      const at = new Date('2026-01-01T00:00:00Z');
      const body = canonicalEventBody({
        kind: 'COMMISSION', actor: actorId, occurredAt: at.toISOString(), timezoneOffset: '+00:00', recordedAt: at.toISOString(),
        location: 'Plant 0', counterparty: null, data: { gtin: GTIN_C, lot: 'OLD' }, items: [sgtin],
      });
      const contentHash = contentHashOf(body);
      const link = linkHash(ZERO_HASH, contentHash, sgtin, 0);
      const itemId = randomUUID();
      const event = await insertPendingEvent(trx, {
        id: randomUUID(), kind: 'COMMISSION', actor_id: actorId, occurred_at: at, tz_offset: '+00:00', recorded_at: at, location: 'Plant 0', counterparty_id: null,
        data: { gtin: GTIN_C, lot: 'OLD' }, body, content_hash: contentHash, signature: null, item_count: 1, format: 1, field_salts: null, erased: null, pad_key: null, item_tree_top: null,
      });
      await insertItems(trx, [{ id: itemId, batchId: batch.id, gtin: GTIN_C, serial: 'OLD-1', sgtin, stage: 'MANUFACTURED', custodianId: actorId, headHash: link }]);
      await insertLinks(trx, event.id, [{ itemId, seq: 0, prevHash: ZERO_HASH, hash: link, stage: 'MANUFACTURED', recalled: false }]);
    });
    await integrateAll(db.db, srv.signer);
    // While the item has only v1 events, its bundle stays v1 (the v1 verifier path).
    const v1 = await gqlBundle(sgtin, brandA.key);
    expect(v1.format).toBe('provenant-proof-bundle/v1');
    expect(verifyAnyBundle(v1, { verifierKeys: [srv.signer.verifierKey] })).toMatchObject({ ok: true, kind: 'bundle-v1' });
    ok(await lifecycle(srv, brandA, 'shipItems', { items: [sgtin], to: shop.id, occurredAt: minutesAgo(5) }));
    ok(await lifecycle(srv, shop, 'receiveItems', { items: [sgtin], occurredAt: minutesAgo(4) }));

    expect((await auditLedger(db.db, srv.signer.verifierKey)).discrepancies).toEqual([]);
    const [item] = await findItemsBySgtins(db.db, [sgtin]);
    expect(await verifyItem(db.db, item!)).toMatchObject({ valid: true, length: 3 });
    const bundle = await gqlBundle(sgtin, brandA.key);
    expect(bundle.format).toBe('provenant-proof-bundle/v2');
    expect(bundle.events[0]).toHaveProperty('prevHash');
    expect(bundle.events[1]).toHaveProperty('entry');
    const v = verifyAnyBundle(bundle, { verifierKeys: [srv.signer.verifierKey] });
    expect(v.ok && v.summary, JSON.stringify(v)).toMatch(/^complete as of checkpoint \d+ .*: 3 events, head seq 2, stage IN_STOCK, not recalled$/);
    expect(v.ok && v.v2?.ok && v.v2.events.map((e) => e.version)).toEqual([1, 2, 2]);
  });
});
