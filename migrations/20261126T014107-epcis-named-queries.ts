import { type Kysely, sql } from 'kysely';

// EPCIS 2.0 named queries (`/epcis/queries`): a SimpleEventQuery saved under a name by one actor. Names are per actor
// (each company has its own namespace); the definition is kept as the client sent it (query-schema.json form), already
// validated. Deleting a named query deletes the row: a query is a view, not a ledger fact.
export async function up(db: Kysely<any>): Promise<void> {
  const statements = [
    `CREATE TABLE epcis_named_queries (
        actor_id uuid NOT NULL REFERENCES actors(id),
        name text NOT NULL CHECK (name ~ '^[A-Za-z0-9._~-]{1,100}$'),
        query jsonb NOT NULL CHECK (jsonb_typeof(query) = 'object' AND length(query::text) <= 100000),
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (actor_id, name)
      )`,
  ];
  for (const statement of statements) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE epcis_named_queries`.execute(db);
}
