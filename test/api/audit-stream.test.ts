import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toHex } from '../../src/core/bytes.ts';
import { contentHashV2 } from '../../src/core/v2/event-v2.ts';
import { auditLedger } from '../../src/services/audit.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { createTestActor, lifecycle, minutesAgo, registerProductAndBatch, type TestActor } from '../helpers/ledger.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

// Audit reads the events once in leaf order and the items with their chain links once in (item, seq) order, checking
// each v2 event's items tree as the chains reach its entries (services/audit.ts). Tampering the stored rows in SQL
// must be found whichever stream sees it, and an honest ledger stays clean.

let db: TestDatabase;
let srv: TestServer;
let maker: TestActor, shop: TestActor;
const GTIN = '04012345111118';
const sg = (s: string) => `urn:epc:id:sgtin:4012345.011111.${s}`;
const SERIALS = Array.from({ length: 12 }, (_, i) => `AUD-${String(i).padStart(3, '0')}`);
const ok = (r: { __typename: string }) => expect(r.__typename, JSON.stringify(r)).toBe('RecordEventSuccess');
const audit = async () => (await auditLedger(db.db, srv.signer.verifierKey)).discrepancies;

/** Runs `change` with the append-only triggers off, audits, then `undo`s and checks the ledger is clean again. */
async function tampered(change: () => Promise<unknown>, undo: () => Promise<unknown>): Promise<string> {
  await sql`ALTER TABLE events DISABLE TRIGGER events_append_only`.execute(db.db);
  await sql`ALTER TABLE chain_links DISABLE TRIGGER chain_links_append_only`.execute(db.db);
  try {
    await change();
    return (await audit()).join('\n');
  } finally {
    await undo();
    await sql`ALTER TABLE events ENABLE TRIGGER events_append_only`.execute(db.db);
    await sql`ALTER TABLE chain_links ENABLE TRIGGER chain_links_append_only`.execute(db.db);
    expect(await audit()).toEqual([]);
  }
}

const eventOf = async (kind: string) =>
  (await sql<{ id: string; leaf_index: number; body: string; content_hash: Uint8Array; item_count: number }>`
    SELECT id, leaf_index, body, content_hash, item_count FROM events WHERE kind = ${kind} ORDER BY leaf_index LIMIT 1`.execute(db.db)).rows[0]!;
const itemId = async (serial: string) => (await sql<{ id: string }>`SELECT id FROM items WHERE serial = ${serial}`.execute(db.db)).rows[0]!.id;
const re = (s: string) => new RegExp(s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));

beforeAll(async () => {
  db = await openTestDatabase();
  srv = await startTestServer(db);
  maker = await createTestActor(srv, 'Maker', ['MANUFACTURER'], ['4012345']);
  shop = await createTestActor(srv, 'Shop', ['RETAILER']);
  expect((await registerProductAndBatch(srv, maker, { gtin: GTIN, lot: 'L1', serials: SERIALS })).__typename).toBe('RegisterBatchSuccess');
  ok(await lifecycle(srv, maker, 'shipItems', { items: SERIALS.slice(0, 3).map(sg), to: shop.id, occurredAt: minutesAgo(10), location: 'Dock 1' }));
  ok(await lifecycle(srv, shop, 'receiveItems', { items: [sg(SERIALS[0]!)], occurredAt: minutesAgo(9) }));
  ok(await lifecycle(srv, shop, 'sellItems', { items: [sg(SERIALS[0]!)], occurredAt: minutesAgo(8), price: 10, currency: 'EUR' }));
});
afterAll(async () => {
  await srv?.close();
  await db?.dispose();
});

describe('audit over the two streams', () => {
  it('is clean and counts every event, item and link', async () => {
    const r = await auditLedger(db.db, srv.signer.verifierKey);
    expect(r.discrepancies).toEqual([]);
    expect(r).toMatchObject({ events: 4, treeSize: 4, items: 12, links: 12 + 3 + 1 + 1 });
  });

  it('a stored body that is not canonical is found even when its content hash was recomputed to match it', async () => {
    const ship = await eventOf('SHIP');
    // Same JSON, other bytes: a space after the opening brace (no JCS serialiser writes it).
    const loose = `{ ${ship.body.slice(1)}`;
    const text = await tampered(
      () => sql`UPDATE events SET body = ${loose}, content_hash = ${contentHashV2(loose)} WHERE id = ${ship.id}`.execute(db.db),
      () => sql`UPDATE events SET body = ${ship.body}, content_hash = ${ship.content_hash} WHERE id = ${ship.id}`.execute(db.db),
    );
    expect(text).toMatch(re(`event ${ship.id} (leaf ${ship.leaf_index}, SHIP): stored columns or chain links differ from the hashed body (field encoding)`));
    expect(text).toMatch(/log: recomputed root [0-9a-f]{64} differs from the stored head root/);
    expect(text).toMatch(re(`item ${sg(SERIALS[1]!)} seq 1: link hash does not match its event's content hash and entry`));
  });

  it('a column that disagrees with the body names the field', async () => {
    const ship = await eventOf('SHIP');
    const text = await tampered(
      () => sql`UPDATE events SET location = 'Dock 2' WHERE id = ${ship.id}`.execute(db.db),
      () => sql`UPDATE events SET location = 'Dock 1' WHERE id = ${ship.id}`.execute(db.db),
    );
    expect(text).toBe(`event ${ship.id} (leaf ${ship.leaf_index}, SHIP): stored columns or chain links differ from the hashed body (field location)`);
  });

  it('a stored content hash that is not the body\'s is found', async () => {
    const sell = await eventOf('SELL');
    const text = await tampered(
      () => sql`UPDATE events SET content_hash = decode(repeat('cd', 32), 'hex') WHERE id = ${sell.id}`.execute(db.db),
      () => sql`UPDATE events SET content_hash = ${sell.content_hash} WHERE id = ${sell.id}`.execute(db.db),
    );
    expect(text).toMatch(re(`event ${sell.id} (leaf ${sell.leaf_index}, SELL): body hashes to ${toHex(contentHashV2(sell.body))}, stored contentHash ${'cd'.repeat(32)}`));
  });

  it('an item_count lower or higher than the links is reported, and the items tree is still judged on every link', async () => {
    const commission = await eventOf('COMMISSION');
    expect(commission.item_count).toBe(12);
    for (const wrong of [5, 13]) {
      const text = await tampered(
        () => sql`UPDATE events SET item_count = ${wrong} WHERE id = ${commission.id}`.execute(db.db),
        () => sql`UPDATE events SET item_count = 12 WHERE id = ${commission.id}`.execute(db.db),
      );
      // Only the count: the tree rebuilt from all 12 entries is the body's (no false "field items").
      expect(text).toBe(`event ${commission.id} (leaf 0, COMMISSION): item_count ${wrong} but the chain links hold 12 items`);
    }
    // A lowered count and a changed entry: the tree is re-read whole and its root differs.
    const id = await itemId(SERIALS[11]!);
    const salt = (await sql<{ entry_salt: Uint8Array }>`SELECT entry_salt FROM chain_links WHERE item_id = ${id} AND seq = 0`.execute(db.db)).rows[0]!.entry_salt;
    const text = await tampered(
      async () => {
        await sql`UPDATE events SET item_count = 3 WHERE id = ${commission.id}`.execute(db.db);
        await sql`UPDATE chain_links SET entry_salt = decode(repeat('00', 16), 'hex') WHERE item_id = ${id} AND seq = 0`.execute(db.db);
      },
      async () => {
        await sql`UPDATE events SET item_count = 12 WHERE id = ${commission.id}`.execute(db.db);
        await sql`UPDATE chain_links SET entry_salt = ${salt} WHERE item_id = ${id} AND seq = 0`.execute(db.db);
      },
    );
    expect(text).toMatch(re(`event ${commission.id} (leaf 0, COMMISSION): item_count 3 but the chain links hold 12 items`));
    expect(text).toMatch(re(`event ${commission.id} (leaf 0, COMMISSION): stored columns or chain links differ from the hashed body (field items): the items root rebuilt from the stored entries is`));
    expect(text).toMatch(re(`item ${sg(SERIALS[11]!)} seq 0: link hash does not match its event's content hash and entry`));
  });

  it('a moved entry position, a rewritten earlier link (the prev of the next entry) and a missing entry salt are each found', async () => {
    const commission = await eventOf('COMMISSION');
    const ship = await eventOf('SHIP');
    const id = await itemId(SERIALS[2]!);
    const link = (await sql<{ entry_position: number }>`
      SELECT entry_position FROM chain_links WHERE item_id = ${id} AND seq = 1`.execute(db.db)).rows[0]!;
    const moved = await tampered(
      () => sql`UPDATE chain_links SET entry_position = ${(link.entry_position + 1) % 131072} WHERE item_id = ${id} AND seq = 1`.execute(db.db),
      () => sql`UPDATE chain_links SET entry_position = ${link.entry_position} WHERE item_id = ${id} AND seq = 1`.execute(db.db),
    );
    expect(moved).toMatch(re(`event ${ship.id} (leaf ${ship.leaf_index}, SHIP): the stored position of ${sg(SERIALS[2]!)} is ${(link.entry_position + 1) % 131072}, the tree puts it at ${link.entry_position}`));

    // No prev hash is stored (migration 060004): the next link's entry opens the link before it, so rewriting that
    // link is caught at the link itself and in the next event's items tree.
    const hash0 = (await sql<{ hash: Uint8Array }>`SELECT hash FROM chain_links WHERE item_id = ${id} AND seq = 0`.execute(db.db)).rows[0]!.hash;
    const prev = await tampered(
      () => sql`UPDATE chain_links SET hash = decode(repeat('ee', 32), 'hex') WHERE item_id = ${id} AND seq = 0`.execute(db.db),
      () => sql`UPDATE chain_links SET hash = ${hash0} WHERE item_id = ${id} AND seq = 0`.execute(db.db),
    );
    expect(prev).toMatch(re(`item ${sg(SERIALS[2]!)} seq 0: link hash does not match its event's content hash and entry`));
    expect(prev).toMatch(re(`item ${sg(SERIALS[2]!)} seq 1: link hash does not match its event's content hash and entry`));
    expect(prev).toMatch(re(`event ${ship.id} (leaf ${ship.leaf_index}, SHIP): stored columns or chain links differ from the hashed body (field items)`));

    const salt0 = (await sql<{ entry_salt: Uint8Array }>`SELECT entry_salt FROM chain_links WHERE item_id = ${id} AND seq = 0`.execute(db.db)).rows[0]!.entry_salt;
    const noSalt = await tampered(
      () => sql`UPDATE chain_links SET entry_salt = NULL WHERE item_id = ${id} AND seq = 0`.execute(db.db),
      () => sql`UPDATE chain_links SET entry_salt = ${salt0} WHERE item_id = ${id} AND seq = 0`.execute(db.db),
    );
    expect(noSalt).toMatch(re(`item ${sg(SERIALS[2]!)} seq 0: v2 link has no entry salt`));
    expect(noSalt).toMatch(re(`event ${commission.id} (leaf 0, COMMISSION): stored columns or chain links differ from the hashed body (field items): the items root rebuilt from the stored entries is (entries do not form a tree:`));
  });
});

