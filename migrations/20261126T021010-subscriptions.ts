import { type Kysely, sql } from 'kysely';

// EPCIS 2.0 query subscriptions (webhooks, `/epcis/queries/{name}/subscriptions`): a named query's definition,
// snapshotted at creation, delivered to `dest` as events are logged. `cursor` is the last log position examined
// (delivered or filtered out); it only moves when the receiver acknowledged a delivery with 2xx. `api_key_id` is the
// key that created the subscription (null: the operator key of the configuration); revoking it stops deliveries.
// `checked_at` is when the subscriber's key was last checked (idle subscriptions are re-checked now and then).
// `secret` signs deliveries (HMAC-SHA256), so it is kept as is: a receiver must be able to check it.
export async function up(db: Kysely<any>): Promise<void> {
  const statements = [
    `CREATE TABLE epcis_subscriptions (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        actor_id uuid NOT NULL REFERENCES actors(id),
        api_key_id uuid REFERENCES api_keys(id),
        query_name text NOT NULL CHECK (query_name ~ '^[A-Za-z0-9._~-]{1,100}$'),
        query jsonb NOT NULL CHECK (jsonb_typeof(query) = 'object' AND length(query::text) <= 100000),
        dest text NOT NULL CHECK (length(dest) <= 2000),
        secret text NOT NULL CHECK (length(secret) BETWEEN 16 AND 256),
        epc_format text NOT NULL CHECK (epc_format IN ('urn', 'digitalLink')),
        initial_record_time timestamptz,
        cursor bigint NOT NULL CHECK (cursor >= -1),
        status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'stopped')),
        stopped_reason text,
        stopped_at timestamptz,
        attempts integer NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL,
        last_error text,
        last_notified_at timestamptz,
        checked_at timestamptz,
        created_at timestamptz NOT NULL,
        CHECK ((status = 'stopped') = (stopped_reason IS NOT NULL))
      )`,
    `CREATE INDEX epcis_subscriptions_owner ON epcis_subscriptions (actor_id, query_name, created_at, id)`,
    `CREATE INDEX epcis_subscriptions_due ON epcis_subscriptions (next_attempt_at) WHERE status = 'active'`,
  ];
  for (const statement of statements) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE epcis_subscriptions`.execute(db);
}
