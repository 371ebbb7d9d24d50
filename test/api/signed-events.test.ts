import { ed25519 } from '@noble/curves/ed25519.js';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../src/core/bytes.ts';
import { contentHashV2 } from '../../src/core/v2/event-v2.ts';
import type { BundleEventV2, ProofBundleV2 } from '../../src/core/v2/bundle-v2.ts';
import { verifyAnyBundle } from '../../src/core/verify-any.ts';
import { auditLedger } from '../../src/services/audit.ts';
import { startHousekeeping, sweepExpiredPreparations } from '../../src/services/housekeeping.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { createTestActor, lifecycle, minutesAgo, registerProductAndBatch, type TestActor } from '../helpers/ledger.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

// Two-phase signed submit (docs/ledger-format.md §13): prepareSignedEvent, then submitSignedEvent with an Ed25519
// signature over the content hash; bundles carry the signature for offline checking.

let db: TestDatabase;
let srv: TestServer;
let maker: TestActor, dist: TestActor, shop: TestActor;
const GTIN = '04012345111118';
const sg = (s: string) => `urn:epc:id:sgtin:4012345.011111.${s}`;
const SERIALS = Array.from({ length: 10 }, (_, i) => `SIG-${i}`);
const makerSeed = new Uint8Array(32).fill(7);
const distSeed = new Uint8Array(32).fill(9);
const makerKey = toHex(ed25519.getPublicKey(makerSeed));
const distKey = toHex(ed25519.getPublicKey(distSeed));

const PREPARE_RESULT = `__typename ... on Error { message } ... on ValidationError { field }
  ... on PrepareSignedEventSuccess { preparedId canonicalBody contentHash expiresAt }`;
const SUBMIT_RESULT = `__typename ... on Error { message } ... on ValidationError { field }
  ... on RecordEventSuccess { event { id kind contentHash canonicalBody } }`;

async function prepare(actor: TestActor, input: Record<string, unknown>) {
  const { body } = await srv.gql(`mutation($i: PrepareSignedEventInput!) { prepareSignedEvent(input: $i) { ${PREPARE_RESULT} } }`, { i: input }, actor.key);
  expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
  return body.data.prepareSignedEvent;
}
async function submit(actor: TestActor, input: Record<string, unknown>) {
  const { body } = await srv.gql(`mutation($i: SubmitSignedEventInput!) { submitSignedEvent(input: $i) { ${SUBMIT_RESULT} } }`, { i: input }, actor.key);
  expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
  return body.data.submitSignedEvent;
}
async function registerKey(actor: TestActor, publicKey: string) {
  const { body } = await srv.gql(`mutation($i: RegisterActorKeyInput!) { registerActorKey(input: $i) { __typename } }`, { i: { publicKey } }, actor.key);
  expect(body.data.registerActorKey.__typename).toBe('ActorKeySuccess');
}
async function gqlBundle(sgtin: string, key: string): Promise<ProofBundleV2> {
  const { body } = await srv.gql(`query($s: String!) { itemProofBundle(sgtin: $s) }`, { s: sgtin }, key);
  expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
  return body.data.itemProofBundle;
}
const sign = (contentHash: string, seed: Uint8Array) => ed25519.sign(fromHex(contentHash)!, seed);
const counts = async () => {
  const r = await sql<{ events: number; pending: number; links: number }>`
    SELECT (SELECT count(*)::int FROM events) AS events, (SELECT count(*)::int FROM pending_events) AS pending, (SELECT count(*)::int FROM chain_links) AS links`.execute(db.db);
  return r.rows[0]!;
};
const headOf = async (sgtin: string) =>
  (await sql<{ head_seq: number; stage: string }>`SELECT head_seq, stage FROM items WHERE sgtin = ${sgtin}`.execute(db.db)).rows[0]!;

beforeAll(async () => {
  db = await openTestDatabase();
  srv = await startTestServer(db);
  maker = await createTestActor(srv, 'Maker', ['MANUFACTURER'], ['4012345']);
  dist = await createTestActor(srv, 'Dist', ['DISTRIBUTOR']);
  shop = await createTestActor(srv, 'Shop', ['RETAILER']);
  expect((await registerProductAndBatch(srv, maker, { gtin: GTIN, lot: 'L1', serials: SERIALS })).__typename).toBe('RegisterBatchSuccess');
  await registerKey(maker, makerKey);
  await registerKey(dist, distKey);
});
afterAll(async () => {
  await srv?.close();
  await db?.dispose();
});

describe('signed events', () => {
  it('a signed SHIP is logged with its signature and verifies offline in the item\'s v2 bundle; an altered signature fails the signature check', async () => {
    const before = await counts();
    const p = await prepare(maker, { kind: 'SHIP', publicKey: makerKey, items: [sg(SERIALS[0]!)], counterparty: dist.id, occurredAt: minutesAgo(5) });
    expect(p.__typename, JSON.stringify(p)).toBe('PrepareSignedEventSuccess');
    // The body names the signer; the content hash is the hash of exactly that text; nothing is logged yet.
    expect(JSON.parse(p.canonicalBody)).toMatchObject({ kind: 'SHIP', signer: makerKey });
    expect(toHex(contentHashV2(p.canonicalBody))).toBe(p.contentHash);
    expect(new Date(p.expiresAt).getTime() - Date.now()).toBeGreaterThan(4 * 60_000);
    expect(await counts()).toEqual(before);
    expect((await headOf(sg(SERIALS[0]!))).stage).toBe('MANUFACTURED');

    const s = await submit(maker, { preparedId: p.preparedId, signature: Buffer.from(sign(p.contentHash, makerSeed)).toString('base64'), idempotencyKey: 'sig-1' });
    expect(s.__typename, JSON.stringify(s)).toBe('RecordEventSuccess');
    expect(s.event).toMatchObject({ kind: 'SHIP', contentHash: p.contentHash, canonicalBody: p.canonicalBody });
    expect(await headOf(sg(SERIALS[0]!))).toEqual({ head_seq: 1, stage: 'IN_TRANSIT' });
    // A retry with the same idempotency key returns the same event and writes nothing.
    const after = await counts();
    const again = await submit(maker, { preparedId: p.preparedId, signature: Buffer.from(sign(p.contentHash, makerSeed)).toString('base64'), idempotencyKey: 'sig-1' });
    expect(again.event.id).toBe(s.event.id);
    expect(await counts()).toEqual(after);
    // Without the key, the preparation is gone once used.
    expect((await submit(maker, { preparedId: p.preparedId, signature: toHex(sign(p.contentHash, makerSeed)) })).__typename).toBe('NotFoundError');

    const bundle = await gqlBundle(sg(SERIALS[0]!), maker.key);
    const shipOf = (b: ProofBundleV2) => b.events.find((e) => JSON.parse(e.body).kind === 'SHIP') as BundleEventV2;
    const ship = shipOf(bundle);
    expect(ship.signature).toBe(Buffer.from(sign(p.contentHash, makerSeed)).toString('base64'));
    const v = verifyAnyBundle(bundle, { verifierKeys: [srv.signer.verifierKey] });
    expect(v.ok, JSON.stringify(v)).toBe(true);
    const forged = structuredClone(bundle);
    const sig = Buffer.from(shipOf(forged).signature!, 'base64');
    sig[5]! ^= 1;
    shipOf(forged).signature = sig.toString('base64');
    const bad = verifyAnyBundle(forged, { verifierKeys: [srv.signer.verifierKey] });
    expect(bad).toMatchObject({ ok: false, failure: { check: 'actor-signature' } });
  });

  it('refuses a wrong signature, another actor\'s preparation, an expired one, a revoked key and a moved head, writing nothing', async () => {
    const item = sg(SERIALS[1]!);
    const p = await prepare(maker, { kind: 'SHIP', publicKey: makerKey, items: [item], counterparty: dist.id, occurredAt: minutesAgo(5) });
    expect(p.__typename).toBe('PrepareSignedEventSuccess');
    const before = await counts();
    // Wrong signature: signed by another key, or not a signature at all.
    expect(await submit(maker, { preparedId: p.preparedId, signature: toHex(sign(p.contentHash, distSeed)) })).toMatchObject({ __typename: 'ValidationError', field: 'signature' });
    expect(await submit(maker, { preparedId: p.preparedId, signature: 'not-a-signature' })).toMatchObject({ __typename: 'ValidationError', field: 'signature' });
    // Another actor's preparation is not found (even with a signature valid for it).
    expect((await submit(dist, { preparedId: p.preparedId, signature: toHex(sign(p.contentHash, makerSeed)) })).__typename).toBe('NotFoundError');
    expect((await submit(maker, { preparedId: '00000000-0000-4000-8000-000000000000', signature: toHex(sign(p.contentHash, makerSeed)) })).__typename).toBe('NotFoundError');
    // Expired: six minutes later.
    srv.setNow(new Date(Date.now() + 6 * 60_000));
    try {
      expect(await submit(maker, { preparedId: p.preparedId, signature: toHex(sign(p.contentHash, makerSeed)) })).toMatchObject({ __typename: 'ConflictError', message: expect.stringMatching(/expired/) });
    } finally {
      srv.setNow(undefined);
    }
    expect(await counts()).toEqual(before);
    expect((await headOf(item)).head_seq).toBe(0);

    // Moved head: the item is shipped by the normal write between preparation and submit.
    const moved = await prepare(maker, { kind: 'SHIP', publicKey: makerKey, items: [item], counterparty: dist.id, occurredAt: minutesAgo(5) });
    expect((await lifecycle(srv, maker, 'shipItems', { items: [item], to: shop.id, occurredAt: minutesAgo(4) })).__typename).toBe('RecordEventSuccess');
    const mid = await counts();
    expect(await submit(maker, { preparedId: moved.preparedId, signature: toHex(sign(moved.contentHash, makerSeed)) })).toMatchObject({ __typename: 'ConflictError', message: expect.stringMatching(/prepare again/) });
    expect(await counts()).toEqual(mid);
    expect(await headOf(item)).toEqual({ head_seq: 1, stage: 'IN_TRANSIT' });

    // Revoked key: a preparation made before the revocation cannot be submitted, and no new one is made with it.
    const item2 = sg(SERIALS[2]!);
    const p2 = await prepare(maker, { kind: 'SHIP', publicKey: makerKey, items: [item2], counterparty: dist.id, occurredAt: minutesAgo(5) });
    const { body } = await srv.gql(`mutation($i: RevokeActorKeyInput!) { revokeActorKey(input: $i) { __typename } }`, { i: { publicKey: makerKey } }, maker.key);
    expect(body.data.revokeActorKey.__typename).toBe('ActorKeySuccess');
    const before2 = await counts();
    expect(await submit(maker, { preparedId: p2.preparedId, signature: toHex(sign(p2.contentHash, makerSeed)) })).toMatchObject({ __typename: 'ConflictError', message: expect.stringMatching(/revoked/) });
    expect(await prepare(maker, { kind: 'SHIP', publicKey: makerKey, items: [item2], counterparty: dist.id, occurredAt: minutesAgo(5) })).toMatchObject({ __typename: 'ValidationError', field: 'publicKey' });
    expect(await counts()).toEqual(before2);
    expect((await headOf(item2)).head_seq).toBe(0);
  });

  it('preparation runs the lifecycle write\'s checks: rights, visibility, a key of another actor, kind fields', async () => {
    const item = sg(SERIALS[3]!);
    // dist is not the custodian: refused by the lifecycle rule in core, exactly like shipItems.
    const notMine = await prepare(dist, { kind: 'SHIP', publicKey: distKey, items: [item], counterparty: shop.id, occurredAt: minutesAgo(5) });
    const plain = await lifecycle(srv, dist, 'shipItems', { items: [item], to: shop.id, occurredAt: minutesAgo(5) });
    expect(notMine.__typename).toBe(plain.__typename);
    expect(notMine.message).toBe(plain.message);
    // Another actor's key cannot be named as signer.
    expect(await prepare(dist, { kind: 'RECEIVE', publicKey: makerKey, items: [sg(SERIALS[0]!)], occurredAt: minutesAgo(5) })).toMatchObject({ __typename: 'ValidationError', field: 'publicKey' });
    // SHIP needs a counterparty; price does not apply to SHIP.
    expect(await prepare(dist, { kind: 'SHIP', publicKey: distKey, items: [sg(SERIALS[0]!)], occurredAt: minutesAgo(5) })).toMatchObject({ __typename: 'ValidationError', field: 'counterparty' });
    expect(await prepare(dist, { kind: 'RECEIVE', publicKey: distKey, items: [sg(SERIALS[0]!)], price: 3, occurredAt: minutesAgo(5) })).toMatchObject({ __typename: 'ValidationError', field: 'price' });
    // The receiver signs its RECEIVE of the signed SHIP.
    const r = await prepare(dist, { kind: 'RECEIVE', publicKey: distKey, items: [sg(SERIALS[0]!)], occurredAt: minutesAgo(3) });
    expect(r.__typename, JSON.stringify(r)).toBe('PrepareSignedEventSuccess');
    expect((await submit(dist, { preparedId: r.preparedId, signature: toHex(sign(r.contentHash, distSeed)) })).__typename).toBe('RecordEventSuccess');
    const v = verifyAnyBundle(await gqlBundle(sg(SERIALS[0]!), maker.key), { verifierKeys: [srv.signer.verifierKey] });
    expect(v.ok && v.summary, JSON.stringify(v)).toMatch(/stage IN_STOCK/);
  });

  it('a grant the prepared event relied on and that was revoked since is refused at submission', async () => {
    const item = sg(SERIALS[5]!);
    const servicer = await createTestActor(srv, 'Servicer', ['SERVICER']);
    const seed = new Uint8Array(32).fill(11);
    const pk = toHex(ed25519.getPublicKey(seed));
    await registerKey(servicer, pk);
    expect((await lifecycle(srv, maker, 'shipItems', { items: [item], to: shop.id, occurredAt: minutesAgo(20) })).__typename).toBe('RecordEventSuccess');
    expect((await lifecycle(srv, shop, 'receiveItems', { items: [item], occurredAt: minutesAgo(19) })).__typename).toBe('RecordEventSuccess');
    expect((await lifecycle(srv, shop, 'sellItems', { items: [item], occurredAt: minutesAgo(18) })).__typename).toBe('RecordEventSuccess');
    const g = await srv.gql(`mutation($i: GrantRightsInput!) { grantRights(input: $i) { __typename ... on GrantSuccess { grant { id } } } }`, { i: { grantee: servicer.id, kinds: ['SERVICE'], product: GTIN } }, maker.key);
    const grantId = g.body.data.grantRights.grant.id;
    const p = await prepare(servicer, { kind: 'SERVICE', publicKey: pk, items: [item], occurredAt: minutesAgo(5), note: 'new seal' });
    expect(p.__typename, JSON.stringify(p)).toBe('PrepareSignedEventSuccess');
    const r = await srv.gql(`mutation($i: RevokeRightsInput!) { revokeRights(input: $i) { __typename } }`, { i: { grant: grantId } }, maker.key);
    expect(r.body.data.revokeRights.__typename, JSON.stringify(r.body)).not.toMatch(/Error/);
    const before = await counts();
    expect(await submit(servicer, { preparedId: p.preparedId, signature: toHex(sign(p.contentHash, seed)) })).toMatchObject({ __typename: 'ConflictError', message: expect.stringMatching(/grant/) });
    expect(await counts()).toEqual(before);
  });

  it('housekeeping deletes preparations expired over an hour ago and keeps the others; a late submit is still refused as expired', async () => {
    // The maker's first key was revoked above: a new one.
    const seed = new Uint8Array(32).fill(13);
    await registerKey(maker, toHex(ed25519.getPublicKey(seed)));
    const open = async (serial: string) => {
      const p = await prepare(maker, { kind: 'SHIP', publicKey: toHex(ed25519.getPublicKey(seed)), items: [sg(serial)], counterparty: dist.id, occurredAt: minutesAgo(5) });
      expect(p.__typename, JSON.stringify(p)).toBe('PrepareSignedEventSuccess');
      return p;
    };
    const old = await open(SERIALS[6]!);
    const late = await open(SERIALS[7]!);
    const fresh = await open(SERIALS[8]!);
    // Expired two hours ago (past the one-hour retention) and five minutes ago.
    await sql`UPDATE prepared_events SET expires_at = now() - interval '2 hours' WHERE id = ${old.preparedId}`.execute(db.db);
    await sql`UPDATE prepared_events SET expires_at = now() - interval '5 minutes' WHERE id = ${late.preparedId}`.execute(db.db);
    const stored = async () =>
      (await sql<{ id: string }>`SELECT id FROM prepared_events WHERE id = ANY(${[old.preparedId, late.preparedId, fresh.preparedId]}::uuid[])`.execute(db.db)).rows.map((r) => r.id).sort();
    expect(await stored()).toEqual([old.preparedId, late.preparedId, fresh.preparedId].sort());

    // The server's periodic housekeeping (here every 20 ms) removes the old one only.
    const housekeeping = startHousekeeping(db.db, { now: () => new Date(), onError: (e) => { throw e; }, intervalMs: 20 });
    try {
      for (let t = Date.now(); (await stored()).includes(old.preparedId) && Date.now() - t < 5_000; ) await new Promise((r) => setTimeout(r, 20));
    } finally {
      await housekeeping.stop();
    }
    expect(await stored()).toEqual([late.preparedId, fresh.preparedId].sort());
    // A second sweep finds nothing more to delete.
    expect(await sweepExpiredPreparations(db.db, new Date())).toBe(0);

    const before = await counts();
    expect(await submit(maker, { preparedId: late.preparedId, signature: toHex(sign(late.contentHash, seed)) })).toMatchObject({ __typename: 'ConflictError', message: expect.stringMatching(/expired/) });
    expect((await submit(maker, { preparedId: old.preparedId, signature: toHex(sign(old.contentHash, seed)) })).__typename).toBe('NotFoundError');
    expect(await counts()).toEqual(before);
    expect((await submit(maker, { preparedId: fresh.preparedId, signature: toHex(sign(fresh.contentHash, seed)) })).__typename).toBe('RecordEventSuccess');
  });

  it('audit stays clean', async () => {
    const report = await auditLedger(db.db, srv.signer.verifierKey);
    expect(report.discrepancies).toEqual([]);
  });
});
