import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toEpcisEvent } from '../../src/core/epcis-export.ts';
import { verifyAnyBundle } from '../../src/core/verify-any.ts';
import { readableBodies } from '../../src/db/events.ts';
import type { EventRow } from '../../src/db/types.ts';
import { LEDGER_KINDS } from '../../src/core/lifecycle.ts';
import { runVerify } from '../../src/cli/verify.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { RESULT_FIELDS, createTestActor, lifecycle, minutesAgo, registerProductAndBatch, type TestActor } from '../helpers/ledger.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

let db: TestDatabase;
let srv: TestServer;
let maker: TestActor, dist: TestActor, other: TestActor;
const GTIN = '04012345111118';
const urn = (n: number) => `urn:epc:id:sgtin:4012345.011111.P${String(n).padStart(3, '0')}`;
const CASE_A = '340123450000000017';
const CASE_B = '340123450000000024';
const PALLET = '340123450000000031';

async function pack(actor: TestActor, input: Record<string, unknown>) {
  const { body } = await srv.gql(`mutation($i: PackItemsInput!) { packItems(input: $i) { ${RESULT_FIELDS} } }`, { i: { occurredAt: minutesAgo(20), ...input } }, actor.key);
  expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
  return body.data.packItems;
}

async function kinds(n: number, key = maker.key) {
  const { body } = await srv.gql(`{ item(sgtin: "${urn(n)}") { stage verification { valid } events(first: 20) { edges { node { kind } } } } }`, {}, key);
  return { stage: body.data.item.stage, valid: body.data.item.verification.valid, kinds: body.data.item.events.edges.map((e: any) => e.node.kind) };
}

beforeAll(async () => {
  db = await openTestDatabase();
  srv = await startTestServer(db);
  maker = await createTestActor(srv, 'Maker', ['MANUFACTURER'], ['4012345']);
  dist = await createTestActor(srv, 'Dist', ['DISTRIBUTOR']);
  other = await createTestActor(srv, 'Other', ['DISTRIBUTOR']);
  await registerProductAndBatch(srv, maker, { gtin: GTIN, lot: 'L1', range: { count: 30, firstSerial: 'P001' } });
});
afterAll(async () => {
  await srv?.close();
  await db?.dispose();
});

describe('packing hierarchy', () => {
  it('cases in a pallet: shipping and receiving the pallet moves every item inside, each chain gets the links', async () => {
    expect((await pack(maker, { container: CASE_A, items: [1, 2, 3, 4, 5].map(urn) })).__typename).toBe('RecordEventSuccess');
    expect((await pack(maker, { container: CASE_B, items: [6, 7, 8, 9, 10].map(urn) })).__typename).toBe('RecordEventSuccess');
    const pallet = await pack(maker, { container: PALLET, containers: [CASE_A, CASE_B], items: [urn(11)] });
    expect(pallet).toMatchObject({ __typename: 'RecordEventSuccess', event: { kind: 'PACK', itemCount: 11 } });

    const ship = await lifecycle(srv, maker, 'shipItems', { containers: [PALLET], to: dist.id, occurredAt: minutesAgo(10) });
    expect(ship).toMatchObject({ __typename: 'RecordEventSuccess', event: { kind: 'SHIP', itemCount: 11 } });
    const recv = await lifecycle(srv, dist, 'receiveItems', { containers: [PALLET], occurredAt: minutesAgo(9) });
    expect(recv.event.itemCount).toBe(11);
    expect(await kinds(1)).toEqual({ stage: 'IN_STOCK', valid: true, kinds: ['COMMISSION', 'PACK', 'PACK', 'SHIP', 'RECEIVE'] });
    expect(await kinds(11)).toEqual({ stage: 'IN_STOCK', valid: true, kinds: ['COMMISSION', 'PACK', 'SHIP', 'RECEIVE'] });
    expect((await kinds(12)).stage).toBe('MANUFACTURED');

    // Unpacking the pallet leaves the cases packed: shipping a case still moves its five items.
    const unpack = await srv.gql(`mutation($i: UnpackItemsInput!) { unpackItems(input: $i) { ${RESULT_FIELDS} } }`, { i: { container: PALLET, occurredAt: minutesAgo(8) } }, dist.key);
    expect(unpack.body.data.unpackItems).toMatchObject({ __typename: 'RecordEventSuccess', event: { kind: 'UNPACK', itemCount: 11 } });
    const shipCase = await lifecycle(srv, dist, 'shipItems', { containers: [CASE_B], to: other.id, occurredAt: minutesAgo(7) });
    expect(shipCase.event.itemCount).toBe(5);
    expect((await kinds(6)).kinds).toEqual(['COMMISSION', 'PACK', 'PACK', 'SHIP', 'RECEIVE', 'UNPACK', 'SHIP']);
    const members = await sql<{ n: number }>`SELECT count(*)::int AS n FROM container_members WHERE parent_sscc = ${PALLET}`.execute(db.db);
    expect(members.rows[0]!.n).toBe(0);
  });

  it('refuses double packing, cycles, non-custodians and unknown containers, writing nothing', async () => {
    const before = await sql<{ n: number }>`SELECT count(*)::int AS n FROM events`.execute(db.db);
    const twice = await pack(maker, { container: '340123450000000048', items: [urn(12), urn(13)] });
    expect(twice.__typename).toBe('RecordEventSuccess');
    const again = await pack(maker, { container: '340123450000000055', items: [urn(12)] });
    expect(again).toMatchObject({ __typename: 'ValidationError', field: 'items' });
    expect(again.message).toMatch(/already packed in 340123450000000048/);
    // CASE_A is in stock at the distributor now; packing PALLET into CASE_A's child would need CASE_A in PALLET first.
    expect((await pack(dist, { container: PALLET, containers: [CASE_A] })).__typename).toBe('RecordEventSuccess');
    const cycle = await pack(dist, { container: CASE_A, containers: [PALLET] });
    expect(cycle).toMatchObject({ __typename: 'ValidationError', field: 'containers' });
    expect(cycle.message).toMatch(/cycle/);
    const notMine = await pack(other, { container: '340123450000000062', items: [urn(14)] });
    expect(notMine).toEqual({ __typename: 'NotFoundError', message: `item ${urn(14)} not found` });
    const unknown = await lifecycle(srv, maker, 'shipItems', { containers: ['340123450000000079'], to: dist.id, occurredAt: minutesAgo(1) });
    expect(unknown.__typename).toBe('NotFoundError');
    const badSscc = await pack(maker, { container: '340123450000000076', items: [urn(15)] });
    expect(badSscc).toMatchObject({ __typename: 'ValidationError', field: 'container' });
    const after = await sql<{ n: number }>`SELECT count(*)::int AS n FROM events`.execute(db.db);
    expect(after.rows[0]!.n).toBe(before.rows[0]!.n + 2);
  });

  it('exports PACK and UNPACK as EPCIS AggregationEvents with parentID and childEPCs', async () => {
    const rows = await sql<EventRow>`SELECT * FROM events WHERE kind IN ('PACK', 'UNPACK') ORDER BY leaf_index LIMIT 4`.execute(db.db);
    // v2 bodies name no item: the readable body (values from the columns, items from the chain links) is what is exported.
    const readable = await readableBodies(db.db, rows.rows);
    for (const r of rows.rows) {
      expect(JSON.parse(r.body).format).toBe('provenant/event/v2');
      const body = readable.get(r.id)!;
      const e = toEpcisEvent({ body, contentHash: Buffer.from(r.content_hash).toString('hex'), leafIndex: Number(r.leaf_index), actorGln: null, counterpartyGln: null, actorId: r.actor_id, counterpartyId: null }, { epcFormat: 'urn' });
      // Direct children: the packed items, then any child containers (items inside them are listed too: a stored
      // event does not record which items were packed directly).
      const children = body.kind === 'PACK' && Array.isArray(body.data.containers) ? (body.data.containers as string[]).map((c) => `https://id.gs1.org/00/${c}`) : [];
      expect(e).toMatchObject({ type: 'AggregationEvent', action: body.kind === 'PACK' ? 'ADD' : 'DELETE', parentID: `https://id.gs1.org/00/${body.data.container}`, childEPCs: [...body.items, ...children] });
      expect(e['bizStep']).toBe(body.kind === 'PACK' ? 'packing' : 'unpacking');
    }
  });

  it('MATCH_epc with a case finds the pallet PACK that lists it among its childEPCs; MATCH_anyEPC also finds its own PACK', async () => {
    const base = srv.url.replace(/\/graphql$/, '');
    const get = async (q: string) => {
      // Digital Links: in the URN format, containers of a registered company prefix are SSCC URNs.
      const res = await fetch(`${base}/epcis/events?${q}`, { headers: { authorization: `Bearer ${maker.key}`, 'GS1-EPC-Format': 'Always_GS1_Digital_Link' } });
      expect(res.status).toBe(200);
      return ((await res.json()) as any).epcisBody.queryResults.resultsBody.eventList as any[];
    };
    const byChild = await get(`MATCH_epc=${encodeURIComponent(`https://id.gs1.org/00/${CASE_A}`)}`);
    expect(byChild.map((e) => e.parentID)).toContain(`https://id.gs1.org/00/${PALLET}`);
    expect(byChild.every((e) => e.parentID !== `https://id.gs1.org/00/${CASE_A}`)).toBe(true);
    const any = await get(`MATCH_anyEPC=${encodeURIComponent(`https://id.gs1.org/00/${CASE_A}`)}`);
    expect(any.map((e) => e.parentID)).toContain(`https://id.gs1.org/00/${CASE_A}`);
  });
});

describe('proof bundles of items that went through every kind, packing included', () => {
  it('core verifyBundle and the CLI verify accept a real bundle from the API', async () => {
    const shop = await createTestActor(srv, 'Shop', ['RETAILER']);
    const consumer = await createTestActor(srv, 'Consumer', []);
    const recycler = await createTestActor(srv, 'Recycler', ['RECYCLER']);
    const q = (n: number) => `urn:epc:id:sgtin:4012345.011111.Q${n}`;
    const BOX = '340123450000001007';
    await registerProductAndBatch(srv, maker, { gtin: GTIN, lot: 'LQ', serials: ['Q1', 'Q2'] });
    const ok = (r: any) => expect(r.__typename, JSON.stringify(r)).toBe('RecordEventSuccess');
    ok(await pack(maker, { container: BOX, items: [q(1), q(2)] }));
    ok(await lifecycle(srv, maker, 'shipItems', { containers: [BOX], to: shop.id, occurredAt: minutesAgo(19) }));
    ok(await lifecycle(srv, shop, 'receiveItems', { containers: [BOX], occurredAt: minutesAgo(18) }));
    const unpack = await srv.gql(`mutation($i: UnpackItemsInput!) { unpackItems(input: $i) { ${RESULT_FIELDS} } }`, { i: { container: BOX, occurredAt: minutesAgo(17) } }, shop.key);
    ok(unpack.body.data.unpackItems);
    ok(await lifecycle(srv, shop, 'sellItems', { items: [q(1), q(2)], buyer: consumer.id, occurredAt: minutesAgo(16) }));
    for (const kind of ['ACTIVATE', 'SERVICE', 'USE_REPORT']) ok(await lifecycle(srv, consumer, 'recordUse', { items: [q(1), q(2)], kind, occurredAt: minutesAgo(15) }));
    const recall = await srv.gql(`mutation($i: RecallBatchInput!) { recallBatch(input: $i) { __typename } }`, { i: { gtin: GTIN, lot: 'LQ', reason: 'brake cable' } }, maker.key);
    expect(recall.body.data.recallBatch.__typename).toBe('RecallBatchSuccess');
    ok(await lifecycle(srv, consumer, 'returnItems', { items: [q(1)], to: recycler.id, occurredAt: minutesAgo(14) }));
    ok(await lifecycle(srv, recycler, 'recycleItems', { items: [q(1)], materials: [{ material: 'steel', massKg: 1.5 }], occurredAt: minutesAgo(13) }));
    ok(await lifecycle(srv, consumer, 'destroyItems', { items: [q(2)], occurredAt: minutesAgo(13) }));

    const dir = mkdtempSync(join(tmpdir(), 'pvn-bundle-'));
    try {
      const seen = new Set<string>();
      for (const n of [1, 2]) {
        const { body } = await srv.gql(`query($s: String!) { itemProofBundle(sgtin: $s) }`, { s: q(n) }, maker.key);
        const bundle = body.data.itemProofBundle;
        for (const e of bundle.events) seen.add(JSON.parse(e.body).kind);
        const v = verifyAnyBundle(bundle, { verifierKeys: [srv.signer.verifierKey] });
        expect(v, JSON.stringify(v)).toMatchObject({ ok: true, kind: 'bundle-v2' });
        expect(v.ok && v.summary).toMatch(new RegExp(`^complete as of checkpoint \\d+ \\(tree size \\d+\\) of test\\.provenant/log: ${bundle.events.length} events, head seq ${bundle.events.length - 1}, stage ${n === 1 ? 'RECYCLED' : 'DESTROYED'}, recalled`));
        const file = join(dir, `q${n}.json`);
        writeFileSync(file, JSON.stringify(bundle));
        const out: string[] = [];
        const code = await runVerify([file, '--key', srv.signer.verifierKey], { out: (s) => out.push(s), err: (s) => out.push(s) });
        expect(code, out.join('\n')).toBe(0);
        expect(out.join('\n')).toMatch(/^VALID: .*: complete as of checkpoint \d+ /);
      }
      expect([...seen].sort()).toEqual([...LEDGER_KINDS].sort());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
