import { randomBytes, randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureOperator } from '../../src/db/actors.ts';
import { insertBatch, insertCommissionedItems, insertLinks, lines, packBytes } from '../../src/db/ledger.ts';
import { insertPendingEvent } from '../../src/db/pending.ts';
import { createActor } from '../../src/services/create-actor.ts';
import { registerProduct } from '../../src/services/register-product.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/db.ts';

// The bulk row writers pass each column as one parameter (newline-joined text, packed base64 bytes) and take them
// apart in SQL: every stored byte must land on its own row, NULL where a v1 link has no salt or position.
let db: TestDatabase;
let actorId: string;
const GTIN = '04012345666663';
const bytes = (n: number) => new Uint8Array(randomBytes(n));
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

async function pendingEvent(trx: Parameters<typeof insertPendingEvent>[0]) {
  const at = new Date();
  return insertPendingEvent(trx, {
    id: randomUUID(), kind: 'COMMISSION', actor_id: actorId, occurred_at: at, tz_offset: '+00:00', recorded_at: at, location: null, counterparty_id: null,
    data: {}, body: '{}', content_hash: bytes(32), signature: null, item_count: 3, format: 2, field_salts: {}, erased: {}, pad_key: bytes(32), item_tree_top: null,
  });
}

beforeAll(async () => {
  db = await openTestDatabase();
  const op = await ensureOperator(db.db);
  const m = await createActor(db.db, op, { name: 'Rows maker', roles: ['MANUFACTURER'], companyPrefixes: ['4012345'] });
  if (m.kind !== 'ok') throw new Error(JSON.stringify(m));
  actorId = m.actor.id;
  const p = await registerProduct(db.db, m.actor, { gtin: GTIN, name: 'Rows product' });
  if (p.kind !== 'ok') throw new Error(JSON.stringify(p));
});
afterAll(async () => {
  await db?.dispose();
});

describe('bulk row writers', () => {
  it('insertCommissionedItems and insertLinks store every column on its own row (v1 links with NULL salt and position)', async () => {
    const ids: string[] = [randomUUID(), randomUUID(), randomUUID()];
    const serials = ['R1', 'R,2', 'R"3'];
    const sgtins = serials.map((s) => `urn:epc:id:sgtin:4012345.066666.${encodeURIComponent(s)}`);
    const links = [bytes(32), bytes(32), bytes(32)];
    const salts = [bytes(16), bytes(16), bytes(16)].map(hex);
    const next = [bytes(32), bytes(32)];
    await db.db.transaction().execute(async (trx) => {
      const batch = await insertBatch(trx, { gtin: GTIN, lot: 'ROWS1', producedAt: new Date(), site: 'Plant' });
      const first = await pendingEvent(trx);
      await insertCommissionedItems(trx, { eventId: first.id, batchId: batch.id, gtin: GTIN, stage: 'MANUFACTURED', custodianId: actorId, ids, serials, sgtins, links, salts, positions: [7, 0, 131_071] });
      const second = await pendingEvent(trx);
      await insertLinks(trx, second.id, [
        { itemId: ids[0]!, seq: 1, prevHash: links[0]!, hash: next[0]!, stage: 'IN_TRANSIT', recalled: true, entrySalt: salts[2]!, entryPosition: 42 },
        { itemId: ids[2]!, seq: 1, prevHash: links[2]!, hash: next[1]!, stage: 'MANUFACTURED', recalled: false },
      ]);
    });
    const items = await db.db.selectFrom('items').select(['id', 'serial', 'sgtin', 'stage', 'custodian_id', 'head_seq', 'head_hash']).where('id', 'in', ids).execute();
    for (const [i, id] of ids.entries()) {
      const it = items.find((x) => x.id === id)!;
      expect({ serial: it.serial, sgtin: it.sgtin, stage: it.stage, custodian: it.custodian_id, seq: it.head_seq, head: hex(it.head_hash) })
        .toEqual({ serial: serials[i], sgtin: sgtins[i], stage: 'MANUFACTURED', custodian: actorId, seq: 0, head: hex(links[i]!) });
    }
    const rows = await db.db.selectFrom('chain_links').selectAll().where('item_id', 'in', ids).orderBy('item_id').orderBy('seq').execute();
    const got = rows.map((r) => ({ item: ids.indexOf(r.item_id), seq: r.seq, hash: hex(r.hash), stage: r.stage, recalled: r.recalled, salt: r.entry_salt && hex(r.entry_salt), position: r.entry_position }));
    expect(got.sort((a, b) => a.item - b.item || a.seq - b.seq)).toEqual([
      { item: 0, seq: 0, hash: hex(links[0]!), stage: 'MANUFACTURED', recalled: false, salt: salts[0], position: 7 },
      { item: 0, seq: 1, hash: hex(next[0]!), stage: 'IN_TRANSIT', recalled: true, salt: salts[2], position: 42 },
      { item: 1, seq: 0, hash: hex(links[1]!), stage: 'MANUFACTURED', recalled: false, salt: salts[1], position: 0 },
      { item: 2, seq: 0, hash: hex(links[2]!), stage: 'MANUFACTURED', recalled: false, salt: salts[2], position: 131_071 },
      { item: 2, seq: 1, hash: hex(next[1]!), stage: 'MANUFACTURED', recalled: false, salt: null, position: null },
    ]);
  });

  it('a second commission of an existing serial fails as a whole, writing neither items nor links', async () => {
    const before = Number((await sql<{ n: number }>`SELECT count(*)::int AS n FROM chain_links`.execute(db.db)).rows[0]!.n);
    await expect(
      db.db.transaction().execute(async (trx) => {
        const batch = await insertBatch(trx, { gtin: GTIN, lot: 'ROWS2', producedAt: new Date(), site: 'Plant' });
        const e = await pendingEvent(trx);
        await insertCommissionedItems(trx, {
          eventId: e.id, batchId: batch.id, gtin: GTIN, stage: 'MANUFACTURED', custodianId: actorId, ids: [randomUUID(), randomUUID()], serials: ['NEW1', 'R1'],
          sgtins: ['urn:epc:id:sgtin:4012345.066666.NEW1', 'urn:epc:id:sgtin:4012345.066666.R1'], links: [bytes(32), bytes(32)], salts: [hex(bytes(16)), hex(bytes(16))], positions: [1, 2],
        });
      }),
    ).rejects.toThrow(/items_gtin_serial_key|duplicate key/);
    expect(Number((await sql<{ n: number }>`SELECT count(*)::int AS n FROM chain_links`.execute(db.db)).rows[0]!.n)).toBe(before);
    expect(await db.db.selectFrom('items').select('id').where('serial', '=', 'NEW1').executeTakeFirst()).toBeUndefined();
  });

  it('refuses a text element holding a newline and bytes of the wrong width', () => {
    expect(lines(['a', 'b'])).toBe('a\nb');
    expect(() => lines(['a', 'b\nc'])).toThrow(RangeError);
    expect(Buffer.from(packBytes([new Uint8Array([1, 2]), new Uint8Array([3, 4])], 2), 'base64')).toEqual(Buffer.from([1, 2, 3, 4]));
    expect(() => packBytes([new Uint8Array(31)], 32)).toThrow(RangeError);
  });
});
