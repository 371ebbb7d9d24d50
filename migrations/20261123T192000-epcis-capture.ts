import { type Kysely, sql } from 'kysely';

// EPCIS capture: which ledger event each captured EPCIS event became, keyed by the event's CBV 2.0 event hash ID
// (computed by the ledger, not taken from the document), so capturing the same event again records nothing new.
// `source_event_id` keeps the eventID as the document wrote it, when it had one. Append-only, like the events.
export async function up(db: Kysely<any>): Promise<void> {
  const statements = [
    `CREATE TABLE epcis_captures (
        epcis_event_id text PRIMARY KEY CHECK (epcis_event_id ~ '^ni:///sha-256;[0-9a-f]{64}[?]ver=CBV2[.]0$'),
        event_id uuid NOT NULL UNIQUE REFERENCES events(id),
        actor_id uuid NOT NULL REFERENCES actors(id),
        source_event_id text CHECK (length(source_event_id) <= 2000),
        captured_at timestamptz NOT NULL
      )`,
    `CREATE INDEX epcis_captures_actor ON epcis_captures (actor_id)`,
    `CREATE TRIGGER epcis_captures_append_only BEFORE UPDATE OR DELETE ON epcis_captures FOR EACH ROW EXECUTE FUNCTION provenant_append_only()`,
  ];
  for (const statement of statements) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE epcis_captures`.execute(db);
}
