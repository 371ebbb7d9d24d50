/**
 * SQL of EPCIS capture bookkeeping (which hash IDs were captured as which ledger event). The event query itself
 * (filter, visibility, ordering, paging) is `db/events.ts`, shared with the GraphQL reads and the feeds; the checkpoint
 * a query reads at is `db/log.ts` `findCheckpointRow`.
 */
import { type Kysely, sql } from 'kysely';
import type { DbOrTrx } from './connection.ts';
import type { Database } from './types.ts';

// The capture mapping table (migrations/20261123T190000-epcis-capture.ts), typed here: src/db/types.ts stays as is.
export interface EpcisCapturesTable {
  epcis_event_id: string;
  event_id: string;
  actor_id: string;
  source_event_id: string | null;
  captured_at: Date;
}
export type EpcisDatabase = Database & { epcis_captures: EpcisCapturesTable };
/** The same connection or transaction, typed with the capture table. */
export const epcisDb = (db: DbOrTrx): Kysely<EpcisDatabase> => db as unknown as Kysely<EpcisDatabase>;

/**
 * Every earlier capture of `epcisEventIds`, oldest first (a hash ID may have been captured by several actors who could
 * not see each other's event: one row each).
 */
export async function findCaptures(db: DbOrTrx, epcisEventIds: readonly string[]): Promise<{ epcis_event_id: string; event_id: string; actor_id: string }[]> {
  const out: { epcis_event_id: string; event_id: string; actor_id: string }[] = [];
  for (let i = 0; i < epcisEventIds.length; i += 10_000) {
    const rows = await sql<{ epcis_event_id: string; event_id: string; actor_id: string }>`
      SELECT epcis_event_id, event_id, actor_id FROM epcis_captures WHERE epcis_event_id = ANY(${epcisEventIds.slice(i, i + 10_000)}::text[])
      ORDER BY captured_at, event_id`.execute(db);
    out.push(...rows.rows);
  }
  return out;
}

/** Records captures (one row per recorded event). Precondition: no row of the same hash ID and actor exists. */
export async function insertCaptures(db: DbOrTrx, rows: readonly EpcisCapturesTable[]): Promise<void> {
  for (let i = 0; i < rows.length; i += 10_000) {
    const part = rows.slice(i, i + 10_000);
    await sql`
      INSERT INTO epcis_captures (epcis_event_id, event_id, actor_id, source_event_id, captured_at)
      SELECT * FROM unnest(${part.map((r) => r.epcis_event_id)}::text[], ${part.map((r) => r.event_id)}::uuid[], ${part.map((r) => r.actor_id)}::uuid[],
                           ${part.map((r) => r.source_event_id)}::text[], ${part.map((r) => r.captured_at.toISOString())}::timestamptz[])`.execute(db);
  }
}
