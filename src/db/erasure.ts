import { sql } from 'kysely';
import type { FieldColumn } from '../core/v2/event-fields.ts';
import { decodeFieldSalts, encodeFieldSalts } from './event-content.ts';
import type { DbOrTrx, Trx } from './connection.ts';
import type { EventRow } from './types.ts';

/** A logged event by id or hex content hash, its row locked for the rest of the transaction (erasures of it queue). */
export async function findEventForUpdate(trx: Trx, by: { id: string } | { contentHash: string }): Promise<EventRow | undefined> {
  if ('id' in by && !/^[0-9a-f-]{36}$/i.test(by.id)) return undefined;
  const where = 'id' in by ? sql`id = ${by.id}::uuid` : sql`content_hash = decode(${by.contentHash}, 'hex')`;
  const rows = await sql<EventRow>`SELECT * FROM events WHERE ${where} ORDER BY leaf_index LIMIT 1 FOR UPDATE`.execute(trx);
  return rows.rows[0];
}

/** The distinct brand owners of the products of the items an event covers. */
export async function brandOwnersOfEvent(db: DbOrTrx, eventId: string): Promise<string[]> {
  const rows = await sql<{ owner_id: string }>`
    SELECT DISTINCT p.owner_id FROM chain_links l JOIN items i ON i.id = l.item_id JOIN products p ON p.gtin = i.gtin WHERE l.event_id = ${eventId}::uuid`.execute(db);
  return rows.rows.map((r) => r.owner_id);
}

/**
 * Deletes one field's value from the readable columns of a v2 event and its salt, and marks it erased by `eraseHash`
 * (hex content hash of the ERASE event): the one update the events table's trigger allows. Returns the row after it.
 */
export async function eraseFieldColumns(trx: Trx, eventId: string, column: FieldColumn, field: string, eraseHash: string): Promise<EventRow> {
  const keys = column.column === 'data' ? column.keys : [];
  // The salts' stored form is not jsonb: drop the field's salt here (the caller holds the row lock).
  const current = await trx.selectFrom('events').select('field_salts').where('id', '=', eventId).executeTakeFirst();
  const { [field]: _dropped, ...salts } = decodeFieldSalts(current?.field_salts ?? null);
  const rows = await sql<EventRow>`
    UPDATE events SET
      location = CASE WHEN ${column.column} = 'location' THEN NULL ELSE location END,
      counterparty_id = CASE WHEN ${column.column} = 'counterparty' THEN NULL ELSE counterparty_id END,
      data = data - ${keys}::text[],
      field_salts = ${encodeFieldSalts(salts)},
      erased = coalesce(erased, '{}'::jsonb) || jsonb_build_object(${field}::text, ${eraseHash}::text)
    WHERE id = ${eventId}::uuid RETURNING *`.execute(trx);
  return rows.rows[0]!;
}
