import { type Kysely, sql } from 'kysely';

// An EPCIS event hash ID may be captured by several actors: one who cannot see another's capture has its event judged
// as new (capture must not reveal that someone else captured it), and when it is recorded its own capture is kept
// too, so its retries find its own event. One row per (hash ID, capturing actor); a ledger event still has one row.
export async function up(db: Kysely<any>): Promise<void> {
  const statements = [
    `ALTER TABLE epcis_captures DROP CONSTRAINT epcis_captures_pkey`,
    `ALTER TABLE epcis_captures ADD CONSTRAINT epcis_captures_hash_actor UNIQUE (epcis_event_id, actor_id)`,
  ];
  for (const statement of statements) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE epcis_captures DROP CONSTRAINT epcis_captures_hash_actor`.execute(db);
  await sql`ALTER TABLE epcis_captures ADD PRIMARY KEY (epcis_event_id)`.execute(db);
}
