import { sql } from 'kysely';
import { parseSgtinUrn } from '../core/identifiers.ts';
import type { StoredEntry } from '../core/v2/stored-chain.ts';
import type { DbOrTrx, Trx } from './connection.ts';
import type { BatchRow, EventRow, ItemRow, ProductRow } from './types.ts';

/** Hex through Node's native encoder: bytea values travel as text arrays decoded in SQL, identically on pg and PGlite. */
export const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

// Bulk statements pass one array per column through unnest: one round trip per chunk, no 65k-parameter limit.
const CHUNK = 10_000;

export async function findProduct(db: DbOrTrx, gtin: string): Promise<ProductRow | undefined> {
  return db.selectFrom('products').selectAll().where('gtin', '=', gtin).executeTakeFirst();
}

export async function findProductsByGtins(db: DbOrTrx, gtins: readonly string[]): Promise<ProductRow[]> {
  if (gtins.length === 0) return [];
  return db.selectFrom('products').selectAll().where('gtin', 'in', gtins).execute();
}

export async function insertProduct(db: DbOrTrx, p: { gtin: string; ownerId: string; name: string; attributes: unknown; publicHistory?: boolean }): Promise<ProductRow> {
  return db
    .insertInto('products')
    .values({ gtin: p.gtin, owner_id: p.ownerId, name: p.name, attributes: JSON.stringify(p.attributes ?? {}), public_history: p.publicHistory ?? false })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function findBatch(db: DbOrTrx, gtin: string, lot: string): Promise<BatchRow | undefined> {
  return db.selectFrom('batches').selectAll().where('gtin', '=', gtin).where('lot', '=', lot).executeTakeFirst();
}

export async function findBatchesByIds(db: DbOrTrx, ids: readonly string[]): Promise<BatchRow[]> {
  if (ids.length === 0) return [];
  return db.selectFrom('batches').selectAll().where('id', 'in', ids).execute();
}

export async function insertBatch(db: DbOrTrx, b: { gtin: string; lot: string; producedAt: Date; site: string }): Promise<BatchRow> {
  return db
    .insertInto('batches')
    .values({ gtin: b.gtin, lot: b.lot, produced_at: b.producedAt, site: b.site })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** The statement behind `existingSerials` (exported for an EXPLAIN test). gtin is char(14): a bpchar parameter keeps
 * both columns of the (gtin, serial) key usable by the index. */
export const existingSerialsSql = (gtin: string, serials: readonly string[]) =>
  sql<{ serial: string }>`SELECT serial FROM items WHERE gtin = ${gtin}::bpchar AND serial = ANY(${serials}::text[])`;

/** Serials of `gtin` among `serials` that already exist. */
export async function existingSerials(db: DbOrTrx, gtin: string, serials: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < serials.length; i += CHUNK) {
    const rows = await existingSerialsSql(gtin, serials.slice(i, i + CHUNK)).execute(db);
    out.push(...rows.rows.map((r) => r.serial));
  }
  return out;
}

export interface NewItem {
  id: string;
  batchId: string;
  gtin: string;
  serial: string;
  sgtin: string;
  stage: string;
  custodianId: string;
  headHash: Uint8Array;
}

/** Inserts commissioned items (head_seq 0) in chunks of 10,000 rows per statement. */
export async function insertItems(trx: Trx, items: readonly NewItem[]): Promise<void> {
  for (let i = 0; i < items.length; i += CHUNK) {
    const part = items.slice(i, i + CHUNK);
    await sql`
      INSERT INTO items (id, batch_id, gtin, serial, sgtin, stage, custodian_id, head_seq, head_hash)
      SELECT id, batch_id, gtin, serial, sgtin, stage, custodian_id, 0, decode(head_hash, 'hex')
      FROM unnest(${part.map((x) => x.id)}::uuid[], ${part.map((x) => x.batchId)}::uuid[], ${part.map((x) => x.gtin)}::char(14)[],
                  ${part.map((x) => x.serial)}::text[], ${part.map((x) => x.sgtin)}::text[], ${part.map((x) => x.stage)}::text[],
                  ${part.map((x) => x.custodianId)}::uuid[], ${part.map((x) => hex(x.headHash))}::text[])
        AS t(id, batch_id, gtin, serial, sgtin, stage, custodian_id, head_hash)`.execute(trx);
  }
}

export interface NewLink {
  itemId: string;
  seq: number;
  /** The item's link hash at seq - 1 (zero bytes at seq 0). Not stored: readers derive it from that link. */
  prevHash: Uint8Array;
  hash: Uint8Array;
  /** The item's stage and recall flag after the event (what the head map will commit to). */
  stage: string;
  recalled: boolean;
  /** v2: hex salt (16 bytes) of the item's entry in the event's items tree, and its leaf position; absent on v1 links. */
  entrySalt?: string;
  entryPosition?: number;
}

/**
 * Text elements as one parameter for `string_to_array(…, E'\n')`: both drivers pass one string as is, while an array
 * parameter is escaped element by element in JavaScript (most of a 100,000-row insert's client time). Throws
 * RangeError on an element holding a newline.
 */
export function lines(values: readonly string[]): string {
  for (const v of values) if (v.includes('\n')) throw new RangeError('a bulk text element holds a newline');
  return values.join('\n');
}

/**
 * Fixed-width byte strings as one base64 text parameter: SQL decodes it once (`decode(p, 'base64')`, in a one-row
 * subquery) and reads element k (1-based) as `substring(b from (k - 1) * width + 1 for width)`. Text, not a binary
 * parameter: PGlite takes seconds over a binary parameter of a few MB (superlinear), and text costs pg nothing more.
 * Throws RangeError on an element of another width.
 */
export function packBytes(values: readonly Uint8Array[], width: number): string {
  const out = Buffer.allocUnsafe(values.length * width);
  for (let i = 0; i < values.length; i++) {
    if (values[i]!.length !== width) throw new RangeError(`a packed value has ${values[i]!.length} bytes, expected ${width}`);
    out.set(values[i]!, i * width);
  }
  return out.toString('base64');
}

/** The link columns every link insert passes (see `insertLinks`), as compact parameters. */
function linkColumns(part: readonly NewLink[]) {
  return {
    ids: lines(part.map((l) => l.itemId)),
    seqs: part.map((l) => l.seq).join(','),
    hash: packBytes(part.map((l) => l.hash), 32),
    stages: lines(part.map((l) => l.stage)),
    recalled: part.map((l) => (l.recalled ? 't' : 'f')).join(','),
    // Empty for a v1 link (no salt, no position): NULL.
    salts: part.map((l) => l.entrySalt ?? '').join(','),
    positions: part.map((l) => l.entryPosition ?? '').join(','),
  };
}

/** Appends chain links for one event. The (item_id, seq) primary key refuses a second link at the same seq. */
export async function insertLinks(trx: Trx, eventId: string, links: readonly NewLink[]): Promise<void> {
  for (let i = 0; i < links.length; i += CHUNK) {
    const c = linkColumns(links.slice(i, i + CHUNK));
    await sql`
      INSERT INTO chain_links (item_id, seq, event_id, hash, stage, recalled, entry_salt, entry_position)
      SELECT t.item_id, t.seq, ${eventId}::uuid,
             substring(b.hash from (t.k::int - 1) * 32 + 1 for 32), t.stage, t.recalled, decode(t.salt, 'hex'), t.position
      FROM (SELECT decode(${c.hash}, 'base64') AS hash) b CROSS JOIN unnest(string_to_array(${c.ids}, E'\n')::uuid[], string_to_array(${c.seqs}, ',')::int[], string_to_array(${c.stages}, E'\n'),
                  string_to_array(${c.recalled}, ',')::bool[], string_to_array(${c.salts}, ',', ''), string_to_array(${c.positions}, ',', '')::int[])
        WITH ORDINALITY AS t(item_id, seq, stage, recalled, salt, position, k)`.execute(trx);
  }
}

/** Appends the chain links of many events (each link names its event); same key rule as {@link insertLinks}. */
export async function insertEventLinks(trx: Trx, links: readonly (NewLink & { eventId: string })[]): Promise<void> {
  for (let i = 0; i < links.length; i += CHUNK) await eventLinksInsertSql(links.slice(i, i + CHUNK)).execute(trx);
}

/**
 * The INSERT of chain links of several events, as a statement to run or to embed in a data-modifying CTE (a batch
 * write: db/pending.ts `writePendingBatch`). At most `CHUNK` links a statement keeps its parameters a few MB.
 */
export function eventLinksInsertSql(part: readonly (NewLink & { eventId: string })[]) {
  const c = linkColumns(part);
  return sql`
      INSERT INTO chain_links (item_id, seq, event_id, hash, stage, recalled, entry_salt, entry_position)
      SELECT t.item_id, t.seq, t.event_id,
             substring(b.hash from (t.k::int - 1) * 32 + 1 for 32), t.stage, t.recalled, decode(t.salt, 'hex'), t.position
      FROM (SELECT decode(${c.hash}, 'base64') AS hash) b CROSS JOIN unnest(string_to_array(${c.ids}, E'\n')::uuid[], string_to_array(${c.seqs}, ',')::int[], string_to_array(${lines(part.map((l) => l.eventId))}, E'\n')::uuid[],
                  string_to_array(${c.stages}, E'\n'), string_to_array(${c.recalled}, ',')::bool[], string_to_array(${c.salts}, ',', ''),
                  string_to_array(${c.positions}, ',', '')::int[])
        WITH ORDINALITY AS t(item_id, seq, event_id, stage, recalled, salt, position, k)`;
}

/** A COMMISSION's new items (`insertCommissionedItems`): the i-th id, serial, SGTIN, link hash, salt and position go together. */
export interface CommissionedItems {
  eventId: string;
  batchId: string;
  gtin: string;
  stage: string;
  custodianId: string;
  ids: readonly string[];
  serials: readonly string[];
  sgtins: readonly string[];
  /** Each item's first link hash (32 bytes, also its head), its entry salt (32 hex characters) and entry position. */
  links: readonly Uint8Array[];
  salts: readonly string[];
  positions: readonly number[];
}

/**
 * Inserts commissioned items (head_seq 0, head = their first link) and those first links (seq 0)
 * in one statement: one parameter per column, shared by both tables. Chunk it like the other bulk inserts (≤ 10,000
 * items a call keeps a statement's parameters a few MB). The unique keys refuse an item or link that exists.
 */
export async function insertCommissionedItems(trx: Trx, c: CommissionedItems): Promise<void> {
  const n = c.ids.length;
  if (c.serials.length !== n || c.sgtins.length !== n || c.links.length !== n || c.salts.length !== n || c.positions.length !== n) {
    throw new RangeError('commissioned item columns differ in length');
  }
  if (n === 0) return;
  for (const salt of c.salts) if (salt.length !== 32) throw new RangeError('an entry salt is not 32 hex characters');
  const links = packBytes(c.links, 32);
  await sql`
    WITH t AS (
      SELECT t.id, t.serial, t.sgtin, t.position, substring(b.links from (t.k::int - 1) * 32 + 1 for 32) AS link,
             substring(b.salts from (t.k::int - 1) * 16 + 1 for 16) AS salt
      FROM (SELECT decode(${links}, 'base64') AS links, decode(${c.salts.join('')}, 'hex') AS salts) b
      CROSS JOIN unnest(string_to_array(${lines(c.ids)}, E'\n')::uuid[], string_to_array(${lines(c.serials)}, E'\n'),
                  string_to_array(${lines(c.sgtins)}, E'\n'), string_to_array(${c.positions.join(',')}, ',')::int[])
             WITH ORDINALITY AS t(id, serial, sgtin, position, k)
    ), i AS (
      INSERT INTO items (id, batch_id, gtin, serial, sgtin, stage, custodian_id, head_seq, head_hash)
      SELECT id, ${c.batchId}::uuid, ${c.gtin}::bpchar, serial, sgtin, ${c.stage}, ${c.custodianId}::uuid, 0, link FROM t
    )
    INSERT INTO chain_links (item_id, seq, event_id, hash, stage, recalled, entry_salt, entry_position)
    SELECT id, 0, ${c.eventId}::uuid, link, ${c.stage}, false, salt, position FROM t`.execute(trx);
}

/**
 * Moves each item's head from `expectedSeq` to `headSeq` (several events of one transaction may advance an item).
 * Returns how many rows matched; fewer than `moves.length` means another writer moved a head first (roll back).
 */
export async function moveItemHeads(trx: Trx, moves: readonly (ItemAdvance & { headSeq: number })[]): Promise<number> {
  let updated = 0;
  for (let i = 0; i < moves.length; i += CHUNK) {
    const res = await itemHeadMovesSql(moves.slice(i, i + CHUNK)).execute(trx);
    updated += Number(res.numAffectedRows ?? 0);
  }
  return updated;
}

/** The UPDATE behind {@link moveItemHeads}, as a statement to run or to embed in a data-modifying CTE. */
export function itemHeadMovesSql(part: readonly (ItemAdvance & { headSeq: number })[]) {
  return sql`
      UPDATE items SET stage = u.stage, custodian_id = u.custodian_id, pending_receiver_id = u.pending_receiver_id,
        recalled = u.recalled, head_seq = u.head_seq, head_hash = decode(u.head_hash, 'hex')
      FROM unnest(${part.map((a) => a.id)}::uuid[], ${part.map((a) => a.expectedSeq)}::int[], ${part.map((a) => a.headSeq)}::int[],
                  ${part.map((a) => a.stage)}::text[], ${part.map((a) => a.custodianId)}::uuid[], ${part.map((a) => a.pendingReceiverId)}::uuid[],
                  ${part.map((a) => a.recalled)}::bool[], ${part.map((a) => hex(a.headHash))}::text[])
        AS u(id, expected_seq, head_seq, stage, custodian_id, pending_receiver_id, recalled, head_hash)
      WHERE items.id = u.id AND items.head_seq = u.expected_seq`;
}

export interface ItemAdvance {
  id: string;
  expectedSeq: number;
  stage: string;
  custodianId: string;
  pendingReceiverId: string | null;
  recalled: boolean;
  headHash: Uint8Array;
}

export async function findItemsByIds(db: DbOrTrx, ids: readonly string[]): Promise<ItemRow[]> {
  const out: ItemRow[] = [];
  for (let i = 0; i < ids.length; i += CHUNK) {
    const part = ids.slice(i, i + CHUNK);
    out.push(...(await db.selectFrom('items').selectAll().where(sql<boolean>`id = ANY(${part}::uuid[])`).execute()));
  }
  return out;
}

/** Items by SGTIN URN, looked up through their (gtin, serial) key; URNs that do not parse match nothing. */
export async function findItemsBySgtins(db: DbOrTrx, sgtins: readonly string[]): Promise<ItemRow[]> {
  const keys = [];
  for (const urn of sgtins) {
    const p = parseSgtinUrn(urn);
    if (p.ok) keys.push({ gtin: p.value.gtin14, serial: p.value.serial });
  }
  return findItemsByGtinSerial(db, keys);
}

/**
 * The statement behind `findItemsByGtinSerial`, exported so a test can EXPLAIN it. The keys travel as char(14)[]
 * (the column's type): compared as text, PostgreSQL casts the column instead and the unique (gtin, serial) index is
 * usable on serial alone, a scan that grows with the ledger.
 */
export const itemsByGtinSerialSql = (keys: readonly { gtin: string; serial: string }[]) => sql<ItemRow>`
  SELECT i.* FROM unnest(${keys.map((k) => k.gtin)}::char(14)[], ${keys.map((k) => k.serial)}::text[]) AS k(gtin, serial)
    JOIN items i ON i.gtin = k.gtin AND i.serial = k.serial`;

/** Items by (gtin, serial): one index point query per key, whatever the ledger size. */
export async function findItemsByGtinSerial(db: DbOrTrx, keys: readonly { gtin: string; serial: string }[]): Promise<ItemRow[]> {
  const out: ItemRow[] = [];
  for (let i = 0; i < keys.length; i += CHUNK) {
    const rows = await itemsByGtinSerialSql(keys.slice(i, i + CHUNK)).execute(db);
    out.push(...rows.rows);
  }
  return out;
}

export async function findItemsOfBatch(db: DbOrTrx, batchId: string): Promise<ItemRow[]> {
  return db.selectFrom('items').selectAll().where('batch_id', '=', batchId).execute();
}

export async function findEventsByIds(db: DbOrTrx, ids: readonly string[]): Promise<EventRow[]> {
  if (ids.length === 0) return [];
  return db.selectFrom('events').selectAll().where(sql<boolean>`id = ANY(${ids}::uuid[])`).execute();
}

// chain_links stores no prev_hash: a link's previous hash is its item's link at seq - 1 (32 zero bytes at seq 0).
// Readers that need it derive it: over a whole chain with lag(), for scattered links with a join on the primary key.
const ZERO_HASH = sql<Uint8Array>`'\\x0000000000000000000000000000000000000000000000000000000000000000'::bytea`;
const prevHashByLag = sql<Uint8Array>`coalesce(lag(l.hash) OVER (ORDER BY l.seq), ${ZERO_HASH})`.as('prev_hash');
const prevHashByJoin = sql<Uint8Array>`coalesce(p.hash, ${ZERO_HASH})`.as('prev_hash');

/** The item's links with their events, oldest first: what chain verification needs (prev_hash derived). */
export async function findChainWithEvents(db: DbOrTrx, itemId: string) {
  return db
    .selectFrom('chain_links as l')
    .innerJoin('events as e', 'e.id', 'l.event_id')
    .select(['l.seq', prevHashByLag, 'l.hash', 'l.entry_salt', 'l.entry_position', 'e.id as event_id', 'e.kind', 'e.actor_id', 'e.occurred_at', 'e.tz_offset', 'e.recorded_at',
      'e.location', 'e.counterparty_id', 'e.data', 'e.body', 'e.content_hash', 'e.leaf_index', 'e.item_count', 'e.format', 'e.field_salts', 'e.erased',
      'e.pad_key', 'e.signature', 'e.item_tree_top'])
    .where('l.item_id', '=', itemId)
    .orderBy('l.seq')
    .execute();
}

/** Records custody changes (item, seq of the event, new custodian); append-only. */
export async function insertCustodyStarts(trx: Trx, starts: readonly { itemId: string; seq: number; actorId: string }[]): Promise<void> {
  for (let i = 0; i < starts.length; i += CHUNK) await custodyStartsInsertSql(starts.slice(i, i + CHUNK)).execute(trx);
}

/** The INSERT behind {@link insertCustodyStarts}, as a statement to run or to embed in a data-modifying CTE. */
export function custodyStartsInsertSql(part: readonly { itemId: string; seq: number; actorId: string }[]) {
  return sql`
      INSERT INTO custody_starts (item_id, seq, actor_id)
      SELECT * FROM unnest(${part.map((s) => s.itemId)}::uuid[], ${part.map((s) => s.seq)}::int[], ${part.map((s) => s.actorId)}::uuid[])`;
}

/** Marks batch `batchId` recalled at `at` for `reason` (the RECALL event is written by the caller, in the same transaction). */
export async function markBatchRecalled(trx: Trx, batchId: string, at: Date, reason: string): Promise<void> {
  await trx.updateTable('batches').set({ recalled_at: at, recall_reason: reason }).where('id', '=', batchId).execute();

}

/** A stored entry with its link's item and leaf position (null on v1 links). */
export type StoredEntryRow = StoredEntry & { itemId: string; position: number | null };

/**
 * The stored entries of one event whose positions lie in [lo, hi] (an item's 256-wide subtree): index range scan.
 */
export async function entriesInRange(db: DbOrTrx, eventId: string, lo: number, hi: number): Promise<StoredEntryRow[]> {
  const rows = await db
    .selectFrom('chain_links as l')
    .innerJoin('items as i', 'i.id', 'l.item_id')
    .leftJoin('chain_links as p', (j) => j.onRef('p.item_id', '=', 'l.item_id').on(sql<boolean>`p.seq = l.seq - 1`))
    .select(['l.item_id', 'l.seq', prevHashByJoin, 'l.entry_salt', 'l.entry_position', 'i.sgtin'])
    .where('l.event_id', '=', eventId)
    .where('l.entry_position', '>=', lo)
    .where('l.entry_position', '<=', hi)
    .execute();
  return rows.map((r) => ({ itemId: r.item_id, sgtin: r.sgtin, seq: r.seq, prevHash: r.prev_hash, salt: r.entry_salt ? hex(r.entry_salt) : '', position: r.entry_position }));
}

/**
 * The stored items-tree entries of each of `eventIds` (one per chain link: the item's SGTIN, seq, previous link and
 * entry salt; salt '' on v1 links), in item order of the links. Audit and proofs rebuild v2 items trees from them.
 */
export async function entriesOfEvents(db: DbOrTrx, eventIds: readonly string[]): Promise<Map<string, StoredEntryRow[]>> {
  const out = new Map<string, StoredEntryRow[]>();
  if (eventIds.length === 0) return out;
  const rows = await db
    .selectFrom('chain_links as l')
    .innerJoin('items as i', 'i.id', 'l.item_id')
    .leftJoin('chain_links as p', (j) => j.onRef('p.item_id', '=', 'l.item_id').on(sql<boolean>`p.seq = l.seq - 1`))
    .select(['l.event_id', 'l.item_id', 'l.seq', prevHashByJoin, 'l.entry_salt', 'l.entry_position', 'i.sgtin'])
    .where(sql<boolean>`l.event_id = ANY(${eventIds}::uuid[])`)
    .execute();
  // Append in place: copying the list per link made a 100k-item event quadratic.
  for (const r of rows) {
    const e = { itemId: r.item_id, sgtin: r.sgtin, seq: r.seq, prevHash: r.prev_hash, salt: r.entry_salt ? hex(r.entry_salt) : '', position: r.entry_position };
    const list = out.get(r.event_id);
    if (list) list.push(e);
    else out.set(r.event_id, [e]);
  }
  return out;
}
