import { type Kysely, sql } from 'kysely';

// Group-commit sequencer: writers record their event here (committed, not yet in the log); an integrator moves a batch
// of them into `events` with consecutive leaf indexes under the log lock and signs one checkpoint for the batch.
// `pending_seq` orders the batch: a later write to the same item can only commit after the earlier one (it read the
// earlier head), so it draws a higher sequence value and gets a higher leaf index. Rows are deleted once integrated.
// Capture records may now point at a pending event, so their foreign key to `events` goes (audit re-checks it).
export async function up(db: Kysely<any>): Promise<void> {
  const statements = [
    `CREATE TABLE pending_events (
        id uuid PRIMARY KEY,
        pending_seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
        kind text NOT NULL,
        actor_id uuid NOT NULL,
        occurred_at timestamptz NOT NULL,
        tz_offset text NOT NULL,
        recorded_at timestamptz NOT NULL,
        location text,
        counterparty_id uuid,
        data jsonb NOT NULL DEFAULT '{}',
        body text NOT NULL,
        content_hash bytea NOT NULL CHECK (length(content_hash) = 32),
        signature bytea,
        item_count integer NOT NULL CHECK (item_count > 0)
      )`,
    `ALTER TABLE epcis_captures DROP CONSTRAINT IF EXISTS epcis_captures_event_id_fkey`,
  ];
  for (const statement of statements) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE pending_events`.execute(db);
}
