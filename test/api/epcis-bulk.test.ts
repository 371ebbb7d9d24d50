/**
 * EPCIS bulk capture (services/epcis-bulk.ts): a document of lifecycle events over existing items is decided and
 * written as a whole. It must give exactly what capturing the same events one by one gives, chain items touched by
 * several events of the document in order, and write nothing when any event is refused.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gs1CheckDigit } from '../../src/core/identifiers.ts';
import { ensureOperator } from '../../src/db/actors.ts';
import type { ActorRow } from '../../src/db/types.ts';
import type { EventRow } from '../../src/db/types.ts';
import { readableBodies } from '../../src/db/events.ts';
import { findItemsBySgtins } from '../../src/db/ledger.ts';
import { auditLedger } from '../../src/services/audit.ts';
import { createActor } from '../../src/services/create-actor.ts';
import type { LedgerDeps } from '../../src/services/deps.ts';
import { type EpcisCaptureResult, captureEpcisDocument } from '../../src/services/epcis-capture.ts';
import { recordEvent } from '../../src/services/record-event.ts';
import { registerBatch } from '../../src/services/register-batch.ts';
import { registerProduct } from '../../src/services/register-product.ts';
import { verifyItem } from '../../src/services/verify-item.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { testSigner } from '../helpers/server.ts';

const GTIN = '04012345111118';
const urn = (s: string) => `urn:epc:id:sgtin:4012345.011111.${s}`;
const gln = (twelve: string) => twelve + String(gs1CheckDigit(twelve));
const DIST_GLN = gln('401234500001');
const SHOP_GLN = gln('401234500002');
const BASE = Date.now() - 120 * 60_000;
const at = (minute: number) => new Date(BASE + minute * 60_000).toISOString().replace(/\.\d+Z$/, '.000Z');

interface Ledger {
  db: TestDatabase;
  deps: LedgerDeps;
  maker: ActorRow;
  dist: ActorRow;
  shop: ActorRow;
  names: Map<string, string>;
}

/** A ledger where the maker commissioned `serials` and shipped them all to the distributor (who has not received them). */
async function ledger(serials: string[]): Promise<Ledger> {
  const db = await openTestDatabase();
  const deps: LedgerDeps = { db: db.db, signer: testSigner(), now: () => new Date(), maxClockSkewMs: 300_000 };
  const op = await ensureOperator(db.db);
  const actor = async (name: string, roles: string[], extra: { companyPrefixes?: string[]; gln?: string } = {}) => {
    const r = await createActor(db.db, op, { name, roles, ...extra });
    if (r.kind !== 'ok') throw new Error(JSON.stringify(r));
    return r.actor;
  };
  const maker = await actor('maker', ['MANUFACTURER'], { companyPrefixes: ['4012345'] });
  const dist = await actor('dist', ['DISTRIBUTOR'], { gln: DIST_GLN });
  const shop = await actor('shop', ['RETAILER'], { gln: SHOP_GLN });
  expect((await registerProduct(db.db, maker, { gtin: GTIN, name: 'p' })).kind).toBe('ok');
  expect((await registerBatch(deps, maker, { gtin: GTIN, lot: 'L1', producedAt: at(0), site: 'Plant', serials })).kind).toBe('ok');
  const shipped = await recordEvent(deps, maker, { kind: 'SHIP', items: { refs: serials.map((s) => ({ kind: 'sgtin' as const, value: urn(s) })) }, occurredAt: at(1), counterpartyId: dist.id });
  expect(shipped.kind).toBe('ok');
  return { db, deps, maker, dist, shop, names: new Map([[maker.id, 'maker'], [dist.id, 'dist'], [shop.id, 'shop']]) };
}

const objectEvent = (bizStep: string, serials: string[], minute: number, extra: Record<string, unknown> = {}) => ({
  type: 'ObjectEvent', action: 'OBSERVE', eventTime: at(minute), eventTimeZoneOffset: '+01:00', epcList: serials.map(urn), bizStep,
  readPoint: { id: `https://id.gs1.org/414/${DIST_GLN}` }, ...extra,
});
const receive = (serials: string[], minute: number) => objectEvent('receiving', serials, minute, { disposition: 'in_progress' });
const ship = (serials: string[], minute: number) =>
  objectEvent('shipping', serials, minute, { disposition: 'in_transit', destinationList: [{ type: 'possessing_party', destination: `https://id.gs1.org/417/${SHOP_GLN}` }] });
const documentOf = (events: unknown[]) => ({
  '@context': ['https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld'], type: 'EPCISDocument', schemaVersion: '2.0',
  creationDate: '2026-03-01T12:00:00.000Z', epcisBody: { eventList: events },
});

/** The ledger's events, chains and items with actor ids replaced by names and the recording time left out. */
async function snapshot(l: Ledger) {
  const name = (id: string | null) => (id === null ? null : l.names.get(id) ?? id);
  // Readable bodies (v2 bodies carry random salts, so two recordings of one event never hash alike).
  const events = await sql<EventRow>`SELECT * FROM events ORDER BY leaf_index`.execute(l.db.db);
  const readable = await readableBodies(l.db.db, events.rows);
  const bodies = events.rows.map((e) => {
    const b = readable.get(e.id)!;
    return { ...b, actor: name(b.actor), counterparty: name(b.counterparty), recordedAt: undefined };
  });
  const links = await sql<{ sgtin: string; seq: number; kind: string; stage: string }>`
    SELECT i.sgtin, l.seq, e.kind, l.stage
    FROM chain_links l JOIN items i ON i.id = l.item_id JOIN events e ON e.id = l.event_id ORDER BY i.sgtin, l.seq`.execute(l.db.db);
  const items = await sql<{ sgtin: string; stage: string; custodian_id: string; pending_receiver_id: string | null; head_seq: number }>`
    SELECT sgtin, stage, custodian_id, pending_receiver_id, head_seq FROM items ORDER BY sgtin`.execute(l.db.db);
  const custody = await sql<{ sgtin: string; seq: number; actor_id: string }>`
    SELECT i.sgtin, c.seq, c.actor_id FROM custody_starts c JOIN items i ON i.id = c.item_id ORDER BY i.sgtin, c.seq`.execute(l.db.db);
  return {
    bodies,
    links: links.rows,
    items: items.rows.map((i) => ({ ...i, custodian_id: name(i.custodian_id), pending_receiver_id: name(i.pending_receiver_id) })),
    custody: custody.rows.map((c) => ({ ...c, actor_id: name(c.actor_id) })),
  };
}

const outcome = (r: EpcisCaptureResult) =>
  r.kind === 'ok' ? { recorded: r.recorded, skipped: r.skipped, events: r.events.map(({ ledgerEventId: _, ...e }) => e) } : r;

const ledgers: Ledger[] = [];
afterAll(async () => {
  for (const l of ledgers) await l.db.dispose();
});

describe('EPCIS bulk capture', () => {
  const SERIALS = ['A', 'B', 'C', 'D', 'E', 'F'];
  // Items touched twice and three times, an event repeated inside the document, several items per event.
  const mixed = documentOf([
    receive(['A', 'B', 'C'], 10),
    ship(['A'], 11),
    ship(['B', 'C'], 12),
    receive(['D'], 13),
    ship(['A'], 11), // the same event again: DUPLICATE_IN_DOCUMENT
    receive(['E', 'F'], 14),
    ship(['D', 'E'], 15),
  ]);
  let bulk: Ledger, single: Ledger;
  let bulkResult: EpcisCaptureResult, singleResult: EpcisCaptureResult;

  beforeAll(async () => {
    bulk = await ledger(SERIALS);
    single = await ledger(SERIALS);
    ledgers.push(bulk, single);
    bulkResult = await captureEpcisDocument(bulk.deps, bulk.dist, { document: mixed });
    singleResult = await captureEpcisDocument(single.deps, single.dist, { document: mixed, writePath: 'one-by-one' });
  });

  it('a document captured on the bulk path gives exactly what capturing its events one by one gives', async () => {
    expect(bulkResult.kind, JSON.stringify(bulkResult)).toBe('ok');
    expect(outcome(bulkResult)).toEqual(outcome(singleResult));
    expect(outcome(bulkResult)).toMatchObject({ recorded: 6, skipped: 1 });
    const [a, b] = [await snapshot(bulk), await snapshot(single)];
    expect(a).toEqual(b);
    expect(a.bodies.map((e) => e.kind)).toEqual(['COMMISSION', 'SHIP', 'RECEIVE', 'SHIP', 'SHIP', 'RECEIVE', 'RECEIVE', 'SHIP']);
    for (const l of [bulk, single]) {
      const audit = await auditLedger(l.db.db, l.deps.signer.verifierKey);
      expect(audit.discrepancies).toEqual([]);
      expect(audit.pending).toBe(0);
    }
  });

  it('items touched by several events of the document chain in document order (seq and prev)', async () => {
    const { links, items } = await snapshot(bulk);
    const chainOf = (s: string) => links.filter((l) => l.sgtin === urn(s)).map((l) => [l.seq, l.kind]);
    expect(chainOf('A')).toEqual([[0, 'COMMISSION'], [1, 'SHIP'], [2, 'RECEIVE'], [3, 'SHIP']]);
    expect(chainOf('D')).toEqual([[0, 'COMMISSION'], [1, 'SHIP'], [2, 'RECEIVE'], [3, 'SHIP']]);
    // Each link's prev is the link before it (stored links keep no prev_hash): the chains verify link by link.
    for (const item of await findItemsBySgtins(bulk.db.db, [urn('A'), urn('D')])) expect(await verifyItem(bulk.db.db, item)).toMatchObject({ valid: true, length: 4 });
    expect(items.find((i) => i.sgtin === urn('A'))).toMatchObject({ stage: 'IN_TRANSIT', custodian_id: 'dist', pending_receiver_id: 'shop', head_seq: 3 });
    expect(items.find((i) => i.sgtin === urn('F'))).toMatchObject({ stage: 'IN_STOCK', custodian_id: 'dist', head_seq: 2 });
  });

  it('capturing the document again skips every event, on either path', async () => {
    const again = await captureEpcisDocument(bulk.deps, bulk.dist, { document: mixed });
    expect(again).toMatchObject({ kind: 'ok', recorded: 0, skipped: 7 });
    if (again.kind === 'ok' && bulkResult.kind === 'ok') expect(again.events.map((e) => e.ledgerEventId)).toEqual(bulkResult.events.map((e) => e.ledgerEventId));
  });
});

describe('EPCIS bulk capture is all-or-nothing', () => {
  it('a refusal in event 100 of 120 leaves nothing written, and is reported as the one-by-one path reports it', async () => {
    const serials = Array.from({ length: 120 }, (_, i) => `N${String(i).padStart(4, '0')}`);
    const l = await ledger(serials);
    ledgers.push(l);
    const events = serials.map((s, i) => receive([s], 20 + (i % 50)));
    // Event 100 ships an item to the shop before it was received: the distributor is not yet its custodian.
    events[100] = ship([serials[110]!], 30);
    const count = async () => {
      const r = await sql<{ t: string; n: string }>`
        SELECT 'events' AS t, count(*)::text AS n FROM events UNION ALL SELECT 'pending', count(*)::text FROM pending_events
        UNION ALL SELECT 'links', count(*)::text FROM chain_links UNION ALL SELECT 'captures', count(*)::text FROM epcis_captures
        UNION ALL SELECT 'heads', sum(head_seq)::text FROM items`.execute(l.db.db);
      return Object.fromEntries(r.rows.map((x) => [x.t, x.n]));
    };
    const before = await count();
    const r = await captureEpcisDocument(l.deps, l.dist, { document: documentOf(events) });
    expect(r).toMatchObject({ kind: 'EpcisCaptureError', code: 'INVALID_TRANSITION', problems: [{ eventIndex: 100, field: 'epcList' }] });
    expect(await count()).toEqual(before);
    const one = await captureEpcisDocument(l.deps, l.dist, { document: documentOf(events), writePath: 'one-by-one' });
    expect(one).toEqual(r);
    // Without the bad event, the same document captures whole.
    events[100] = receive([serials[100]!], 30);
    const ok = await captureEpcisDocument(l.deps, l.dist, { document: documentOf(events) });
    expect(ok).toMatchObject({ kind: 'ok', recorded: 120 });
    expect((await auditLedger(l.db.db, l.deps.signer.verifierKey)).discrepancies).toEqual([]);
  });
});
