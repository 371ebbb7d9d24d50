/**
 * Capture must not reveal an event another actor captured that the caller may not read (issue 11, "write paths reveal
 * what read paths hide"). Such an event is judged as a new one; once recorded, the caller's own capture answers its
 * retries, exactly as for an event nobody else captured. Through the HTTP binding (jobs) and GraphQL.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gs1CheckDigit, sgtinUrn } from '../../src/core/identifiers.ts';
import { findActorsByIds } from '../../src/db/actors.ts';
import { captureEpcisDocument } from '../../src/services/epcis-capture.ts';
import { openTestDatabase, statementCounter, type TestDatabase } from '../helpers/db.ts';
import { captureAndWait } from '../helpers/epcis-capture.ts';
import { createTestActor, lifecycle, registerProductAndBatch, type TestActor } from '../helpers/ledger.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

type Json = Record<string, any>;

const withCheck = (digits: string): string => digits + String(gs1CheckDigit(digits));
const GTIN = withCheck('0950600013435');
const item = (serial: string): string => sgtinUrn(GTIN, 7, serial);

let db: TestDatabase;
let srv: TestServer;
let brand: TestActor, shop: TestActor, owner: TestActor, reseller: TestActor;

const asDocument = (eventList: Json[]): Json => ({
  '@context': ['https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld', { provenant: 'https://provenant.dev/epcis/' }],
  type: 'EPCISDocument', schemaVersion: '2.0', creationDate: '2026-02-01T12:00:00.000Z', epcisBody: { eventList },
});
/** A USE_REPORT of V1 with a reading: the same event, whoever captures it, has the same CBV 2.0 hash ID. */
const useReport = (eventTime: string) => asDocument([{
  type: 'ObjectEvent', eventTime, eventTimeZoneOffset: '+01:00', action: 'OBSERVE', bizStep: 'sensor_reporting', disposition: 'active',
  epcList: [item('V1')], 'provenant:data': { 'provenant:readings': { km: 120 } },
}]);
const capture = (actor: TestActor, document: Json) => captureAndWait(srv.origin, actor.key, document);
const gqlCapture = async (actor: TestActor, document: Json) => {
  const { body } = await srv.gql(
    `mutation($i: CaptureEpcisDocumentInput!) { captureEpcisDocument(input: $i) { __typename
      ... on CaptureEpcisDocumentSuccess { recorded skipped events { status event { id } } } ... on Error { message } } }`,
    { i: { document } }, actor.key,
  );
  expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
  return body.data.captureEpcisDocument;
};
const step = async (actor: TestActor, mutation: string, input: Json) => {
  const r = await lifecycle(srv, actor, mutation, { items: [item('V1')], ...input });
  expect(r.__typename, JSON.stringify(r)).toBe('RecordEventSuccess');
};
const OTHERS_DOC = useReport('2026-01-14T10:00:00.000+01:00');

beforeAll(async () => {
  db = await openTestDatabase();
  srv = await startTestServer(db);
  brand = await createTestActor(srv, 'Brand', ['MANUFACTURER'], ['9506000']);
  shop = await createTestActor(srv, 'Shop', ['RETAILER']);
  owner = await createTestActor(srv, 'First owner', []);
  reseller = await createTestActor(srv, 'Reseller', ['RETAILER']);
  expect((await registerProductAndBatch(srv, brand, { gtin: GTIN, lot: 'V', serials: ['V1'] })).__typename).toBe('RegisterBatchSuccess');
  await step(brand, 'shipItems', { to: shop.id, occurredAt: '2026-01-11T08:00:00.000+01:00' });
  await step(shop, 'receiveItems', { occurredAt: '2026-01-12T08:00:00.000+01:00' });
  await step(shop, 'sellItems', { buyer: owner.id, occurredAt: '2026-01-13T08:00:00.000+01:00' });
  // The first owner captures a use report, then returns the item; it is resold by another retailer, who cannot read
  // the first owner's events (they are outside its custody).
  const first = await capture(owner, OTHERS_DOC);
  expect(first.status, JSON.stringify(first.body)).toBe(200);
  expect(first.body.events.map((e: Json) => e.status)).toEqual(['RECORDED']);
  await step(owner, 'returnItems', { to: shop.id, occurredAt: '2026-01-15T08:00:00.000+01:00' });
  await step(shop, 'shipItems', { to: reseller.id, occurredAt: '2026-01-16T08:00:00.000+01:00' });
  await step(reseller, 'receiveItems', { occurredAt: '2026-01-17T08:00:00.000+01:00' });
  await step(reseller, 'sellItems', { occurredAt: '2026-01-18T08:00:00.000+01:00' });
});

afterAll(async () => {
  await srv?.close();
  await db?.dispose();
});

describe("capturing an event another actor captured and the caller may not read", () => {
  it('the reseller cannot read the first owner\'s use report (the premise)', async () => {
    const { body } = await srv.gql(`query($s: String!) { item(sgtin: $s) { events(first: 50) { edges { node { kind } } } } }`, { s: item('V1') }, reseller.key);
    expect(body.data.item.events.edges.map((e: Json) => e.node.kind)).not.toContain('USE_REPORT');
  });

  it('answers exactly as for an event nobody captured: RECORDED, then ALREADY_CAPTURED with its own event on every retry', async () => {
    const first = await capture(reseller, OTHERS_DOC);
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(first.body).toMatchObject({ recorded: 1, skipped: 0 });
    const mine = first.body.events[0].ledgerEventId as string;
    // A retry finds the reseller's own event (before the fix: recorded again, a second USE_REPORT, which told the
    // reseller that someone else had captured this event first).
    const again = await capture(reseller, OTHERS_DOC);
    expect(again.body).toMatchObject({ recorded: 0, skipped: 1 });
    expect(again.body.events.map((e: Json) => [e.status, e.ledgerEventId])).toEqual([['ALREADY_CAPTURED', mine]]);
    const viaGraphql = await gqlCapture(reseller, OTHERS_DOC);
    expect(viaGraphql).toMatchObject({ __typename: 'CaptureEpcisDocumentSuccess', recorded: 0, skipped: 1, events: [{ status: 'ALREADY_CAPTURED' }] });
    // The same sequence for an event nobody else captured.
    const fresh = useReport('2026-01-19T10:00:00.000+01:00');
    const [f1, f2] = [await capture(reseller, fresh), await capture(reseller, fresh)];
    const shape = (r: Json) => ({ recorded: r.recorded, skipped: r.skipped, statuses: r.events.map((e: Json) => e.status), warnings: r.events.map((e: Json) => e.warnings) });
    expect([shape(first.body), shape(again.body)]).toEqual([shape(f1.body), shape(f2.body)]);
    // One USE_REPORT per captured event in the reseller's history.
    const { body } = await srv.gql(`query($s: String!) { item(sgtin: $s) { events(first: 50) { edges { node { kind } } } } }`, { s: item('V1') }, reseller.key);
    expect(body.data.item.events.edges.filter((e: Json) => e.node.kind === 'USE_REPORT')).toHaveLength(2);
  });

  it('each capturer keeps its own answer; an actor who may read both gets the first capture', async () => {
    const ownerAgain = await capture(owner, OTHERS_DOC);
    const resellerAgain = await capture(reseller, OTHERS_DOC);
    expect(ownerAgain.body.events[0].status).toBe('ALREADY_CAPTURED');
    expect(resellerAgain.body.events[0].status).toBe('ALREADY_CAPTURED');
    expect(ownerAgain.body.events[0].ledgerEventId).not.toBe(resellerAgain.body.events[0].ledgerEventId);
    const byBrand = await capture(brand, OTHERS_DOC);
    expect(byBrand.body.events.map((e: Json) => [e.status, e.ledgerEventId])).toEqual([['ALREADY_CAPTURED', ownerAgain.body.events[0].ledgerEventId]]);
  });

  it('an actor who may not record it either is refused exactly as for a new event', async () => {
    // The shop no longer holds the item: the hidden captures make no difference to its refusal.
    const captured = await capture(shop, OTHERS_DOC);
    const fresh = await capture(shop, useReport('2026-01-20T10:00:00.000+01:00'));
    expect(captured.status).toBe(fresh.status);
    expect(captured.body.problems.map((p: Json) => [p.field, p.code, p.rule, p.reason])).toEqual(fresh.body.problems.map((p: Json) => [p.field, p.code, p.rule, p.reason]));
  });

  it('takes the same statements as for an event nobody captured (no timing difference to measure)', async () => {
    const counter = statementCounter();
    const deps = { db: db.db.withPlugin(counter.plugin), signer: srv.signer, now: () => new Date(), maxClockSkewMs: 300_000 };
    const [caller] = await findActorsByIds(db.db, [Buffer.from(shop.id, 'base64').toString('utf8').split(':')[1]!]);
    const cost = async (document: Json) => {
      const before = counter.n;
      const r = await captureEpcisDocument(deps, caller!, { document });
      expect(r.kind).toBe('EpcisCaptureError');
      return counter.n - before;
    };
    // Before the fix, a capture by someone else cost two more statements (the caller's grants, the event's visibility).
    expect(await cost(OTHERS_DOC)).toBe(await cost(useReport('2026-01-22T10:00:00.000+01:00')));
  });
});

describe('the operator is never a party, whatever GLN it carries', () => {
  it('a destination GLN only the operator holds reads as an unknown GLN, in capture and in the mutations', async () => {
    const operatorGln = withCheck('400000100077');
    const unknownGln = withCheck('400000100088');
    await sql`UPDATE actors SET gln = ${operatorGln} WHERE is_operator`.execute(db.db);
    const ship = (gln: string) => asDocument([{
      type: 'ObjectEvent', eventTime: '2026-01-21T10:00:00.000+01:00', eventTimeZoneOffset: '+01:00', action: 'OBSERVE', bizStep: 'shipping',
      epcList: [item('V1')], destinationList: [{ type: 'owning_party', destination: `https://id.gs1.org/417/${gln}` }],
    }]);
    const [toOperator, toNobody] = [await capture(reseller, ship(operatorGln)), await capture(reseller, ship(unknownGln))];
    expect(toOperator.status).toBe(400);
    const outline = (r: Json, gln: string) => r.body.problems.map((p: Json) => [p.field, p.code, p.reason.replace(gln, '?')]);
    expect(outline(toOperator, operatorGln)).toEqual(outline(toNobody, unknownGln));
    expect(toOperator.body.problems[0]).toMatchObject({ field: 'destinationList[0].destination', code: 'NOT_FOUND' });
    const shipItems = async (gln: string) => (await lifecycle(srv, reseller, 'shipItems', { items: [item('V1')], to: gln, occurredAt: '2026-01-21T10:00:00.000+01:00' }));
    const [a, b] = [await shipItems(operatorGln), await shipItems(unknownGln)];
    expect(a.__typename).toBe('NotFoundError');
    expect({ ...a, message: a.message.replace(operatorGln, '?') }).toEqual({ ...b, message: b.message.replace(unknownGln, '?') });
  });
});
