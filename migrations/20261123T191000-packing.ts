import { type Kysely, sql } from 'kysely';

// Containers (SSCC) and what is packed in them now. Membership is a projection of PACK/UNPACK events (which are
// chained per item and logged like every event), so it is updated in place; the history lives in the events.
export async function up(db: Kysely<any>): Promise<void> {
  const statements = [
    `CREATE TABLE containers (
      sscc char(18) PRIMARY KEY CHECK (sscc ~ '^[0-9]{18}$'),
      created_by uuid NOT NULL REFERENCES actors(id),
      created_at timestamptz NOT NULL DEFAULT now()
    )`,
    `CREATE TABLE container_members (
      parent_sscc char(18) NOT NULL REFERENCES containers(sscc),
      item_id uuid UNIQUE,
      child_sscc char(18) UNIQUE REFERENCES containers(sscc),
      CHECK ((item_id IS NULL) <> (child_sscc IS NULL)),
      CHECK (child_sscc IS NULL OR child_sscc <> parent_sscc)
    )`,
    `CREATE INDEX container_members_parent ON container_members (parent_sscc)`,
  ];
  for (const statement of statements) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE container_members, containers`.execute(db);
}
