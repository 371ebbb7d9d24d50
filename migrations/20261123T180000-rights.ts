import { type Kysely, sql } from 'kysely';

// Grants and their revocations are append-only (who granted/revoked what, when), so every event can be checked
// against the rights in force when it was recorded. custody_starts records each change of custodian after
// commissioning: it defines custody windows for visibility without touching the bulk commission path.
export async function up(db: Kysely<any>): Promise<void> {
  const statements = [
    `CREATE TABLE grants (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      grantor_id uuid NOT NULL REFERENCES actors(id),
      grantee_id uuid NOT NULL REFERENCES actors(id),
      kinds text[] NOT NULL,
      product_gtin char(14) REFERENCES products(gtin),
      batch_id uuid REFERENCES batches(id),
      all_products boolean NOT NULL DEFAULT false,
      expires_at timestamptz,
      created_at timestamptz NOT NULL,
      CHECK ((product_gtin IS NOT NULL)::int + (batch_id IS NOT NULL)::int + all_products::int = 1)
    )`,
    `CREATE INDEX grants_grantee ON grants (grantee_id)`,
    `CREATE INDEX grants_grantor ON grants (grantor_id)`,
    `CREATE TABLE grant_revocations (
      grant_id uuid PRIMARY KEY REFERENCES grants(id),
      revoked_by uuid NOT NULL REFERENCES actors(id),
      revoked_at timestamptz NOT NULL
    )`,
    `CREATE TABLE custody_starts (
      item_id uuid NOT NULL,
      seq integer NOT NULL CHECK (seq > 0),
      actor_id uuid NOT NULL,
      PRIMARY KEY (item_id, seq)
    )`,
    `CREATE INDEX custody_starts_actor ON custody_starts (actor_id, item_id)`,
    `ALTER TABLE products ADD COLUMN public_history boolean NOT NULL DEFAULT false`,
    `CREATE TRIGGER grants_append_only BEFORE UPDATE OR DELETE ON grants FOR EACH ROW EXECUTE FUNCTION provenant_append_only()`,
    `CREATE TRIGGER grant_revocations_append_only BEFORE UPDATE OR DELETE ON grant_revocations FOR EACH ROW EXECUTE FUNCTION provenant_append_only()`,
    `CREATE TRIGGER custody_starts_append_only BEFORE UPDATE OR DELETE ON custody_starts FOR EACH ROW EXECUTE FUNCTION provenant_append_only()`,
  ];
  for (const statement of statements) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE custody_starts, grant_revocations, grants`.execute(db);
  await sql`ALTER TABLE products DROP COLUMN public_history`.execute(db);
}
