import { type Kysely, sql } from 'kysely';

// A container belongs to whoever holds what is in it; while empty, to whoever last packed or unpacked it
// (holder_id). The partial index lets "does this actor have anything pending in this batch" stay a point probe.
export async function up(db: Kysely<any>): Promise<void> {
  const statements = [
    `ALTER TABLE containers ADD COLUMN holder_id uuid REFERENCES actors(id)`,
    `UPDATE containers SET holder_id = created_by`,
    `ALTER TABLE containers ALTER COLUMN holder_id SET NOT NULL`,
    `CREATE INDEX items_pending_receiver ON items (pending_receiver_id) WHERE pending_receiver_id IS NOT NULL`,
  ];
  for (const statement of statements) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP INDEX items_pending_receiver`.execute(db);
  await sql`ALTER TABLE containers DROP COLUMN holder_id`.execute(db);
}
