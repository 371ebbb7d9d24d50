import { type Kysely, sql } from 'kysely';

// Two-phase signed submit (docs/ledger-format.md §13): an event sealed for an actor to sign waits here, unlogged,
// until its signature arrives or it expires. `sealed` holds the exact rows the submit writes (event row, chain links,
// the head moves with the heads they start from), so what is logged is byte for byte what was signed.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE prepared_events (
      id uuid PRIMARY KEY,
      actor_id uuid NOT NULL REFERENCES actors(id),
      signer bytea NOT NULL CHECK (length(signer) = 32),
      content_hash bytea NOT NULL CHECK (length(content_hash) = 32),
      prepared_at timestamptz NOT NULL,
      expires_at timestamptz NOT NULL,
      sealed jsonb NOT NULL
    )`.execute(db);
  await sql`CREATE INDEX prepared_events_expires ON prepared_events (expires_at)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE prepared_events`.execute(db);
}
