import { type Kysely, sql } from 'kysely';

// The head-map entries a big event's writer computed (per item: key, value, u32be seq; 68 bytes), so the integrator
// reads one row instead of joining every link with its item and hashing each head again. Gone with its pending event.
// Stored uncompressed: hashes do not compress, and trying costs CPU on every write.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE pending_heads (
      event_id uuid PRIMARY KEY REFERENCES pending_events(id) ON DELETE CASCADE,
      entries bytea NOT NULL CHECK (length(entries) > 0 AND length(entries) % 68 = 0)
    )`.execute(db);
  await sql`ALTER TABLE pending_heads ALTER COLUMN entries SET STORAGE EXTERNAL`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE pending_heads`.execute(db);
}
