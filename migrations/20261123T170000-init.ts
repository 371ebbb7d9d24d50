import { type Kysely, sql } from 'kysely';

// Items and chain links carry no foreign keys: a per-row RI check costs ~35% of bulk commissioning (measured with
// bench/register-batch.ts); their references are written by one service in one transaction and re-checked by audit.
// An item's SGTIN is derived from (gtin, serial), so lookups by SGTIN use that unique key; no second index.
// One statement per call: PGlite's extended protocol refuses multi-statement strings.
// Hash columns are bytea with a length check; events and chain links are append-only (enforced by trigger).
export async function up(db: Kysely<any>): Promise<void> {
  const statements = [
    `CREATE TABLE actors (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
        roles text[] NOT NULL DEFAULT '{}',
        gln text CHECK (gln ~ '^[0-9]{13}$'),
        company_prefixes text[] NOT NULL DEFAULT '{}',
        public_key bytea CHECK (length(public_key) = 32),
        is_operator boolean NOT NULL DEFAULT false,
        created_at timestamptz NOT NULL DEFAULT now()
      )`,
    `CREATE UNIQUE INDEX actors_single_operator ON actors (is_operator) WHERE is_operator`,
    `CREATE TABLE api_keys (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        actor_id uuid NOT NULL REFERENCES actors(id),
        key_hash bytea NOT NULL UNIQUE CHECK (length(key_hash) = 32),
        hint text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        revoked_at timestamptz
      )`,
    `CREATE INDEX api_keys_actor ON api_keys (actor_id)`,
    `CREATE TABLE products (
        gtin char(14) PRIMARY KEY CHECK (gtin ~ '^[0-9]{14}$'),
        owner_id uuid NOT NULL REFERENCES actors(id),
        name text NOT NULL,
        attributes jsonb NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL DEFAULT now()
      )`,
    `CREATE INDEX products_owner ON products (owner_id)`,
    `CREATE TABLE batches (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        gtin char(14) NOT NULL REFERENCES products(gtin),
        lot text NOT NULL CHECK (length(lot) BETWEEN 1 AND 20),
        produced_at timestamptz NOT NULL,
        site text NOT NULL,
        recalled_at timestamptz,
        recall_reason text,
        created_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (gtin, lot)
      )`,
    `CREATE TABLE items (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        batch_id uuid NOT NULL,
        gtin char(14) NOT NULL,
        serial text NOT NULL,
        sgtin text NOT NULL,
        stage text NOT NULL,
        custodian_id uuid NOT NULL,
        pending_receiver_id uuid,
        recalled boolean NOT NULL DEFAULT false,
        head_seq integer NOT NULL CHECK (head_seq >= 0),
        head_hash bytea NOT NULL CHECK (length(head_hash) = 32),
        created_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (gtin, serial)
      )`,
    `CREATE INDEX items_batch ON items (batch_id, id)`,
    `CREATE INDEX items_custodian ON items (custodian_id)`,
    `CREATE TABLE events (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        leaf_index bigint NOT NULL UNIQUE CHECK (leaf_index >= 0),
        kind text NOT NULL,
        actor_id uuid NOT NULL REFERENCES actors(id),
        occurred_at timestamptz NOT NULL,
        tz_offset text NOT NULL CHECK (tz_offset ~ '^[+-][0-9]{2}:[0-9]{2}$'),
        recorded_at timestamptz NOT NULL,
        location text,
        counterparty_id uuid REFERENCES actors(id),
        data jsonb NOT NULL DEFAULT '{}',
        body text NOT NULL,
        content_hash bytea NOT NULL CHECK (length(content_hash) = 32),
        signature bytea,
        item_count integer NOT NULL CHECK (item_count > 0)
      )`,
    `CREATE INDEX events_actor ON events (actor_id, leaf_index)`,
    `CREATE INDEX events_kind ON events (kind, leaf_index)`,
    `CREATE TABLE chain_links (
        item_id uuid NOT NULL,
        seq integer NOT NULL CHECK (seq >= 0),
        event_id uuid NOT NULL,
        prev_hash bytea NOT NULL CHECK (length(prev_hash) = 32),
        hash bytea NOT NULL CHECK (length(hash) = 32),
        PRIMARY KEY (item_id, seq)
      )`,
    `CREATE INDEX chain_links_event ON chain_links (event_id)`,
    `CREATE TABLE idempotency_keys (
        actor_id uuid NOT NULL REFERENCES actors(id),
        key text NOT NULL CHECK (length(key) BETWEEN 1 AND 200),
        operation text NOT NULL,
        request_hash bytea NOT NULL CHECK (length(request_hash) = 32),
        response jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (actor_id, key)
      )`,
    `CREATE TABLE log_state (
        id boolean PRIMARY KEY DEFAULT true CHECK (id),
        size bigint NOT NULL CHECK (size >= 0),
        root_hash bytea NOT NULL CHECK (length(root_hash) = 32)
      )`,
    `CREATE TABLE log_nodes (
        level smallint NOT NULL CHECK (level >= 0 AND level < 64),
        index bigint NOT NULL CHECK (index >= 0),
        hash bytea NOT NULL CHECK (length(hash) = 32),
        PRIMARY KEY (level, index)
      )`,
    `CREATE TABLE checkpoints (
        tree_size bigint PRIMARY KEY CHECK (tree_size >= 0),
        root_hash bytea NOT NULL CHECK (length(root_hash) = 32),
        note text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`,
    `CREATE FUNCTION provenant_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'table % is append-only', TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
      END $$`,
    `CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
        FOR EACH ROW EXECUTE FUNCTION provenant_append_only()`,
    `CREATE TRIGGER chain_links_append_only BEFORE UPDATE OR DELETE ON chain_links
        FOR EACH ROW EXECUTE FUNCTION provenant_append_only()`,
    `CREATE TRIGGER log_nodes_append_only BEFORE UPDATE OR DELETE ON log_nodes
        FOR EACH ROW EXECUTE FUNCTION provenant_append_only()`,
    `CREATE TRIGGER checkpoints_append_only BEFORE UPDATE OR DELETE ON checkpoints
        FOR EACH ROW EXECUTE FUNCTION provenant_append_only()`,
  ];
  for (const statement of statements) await sql.raw(statement).execute(db);
  await sql`INSERT INTO log_state (size, root_hash) VALUES (0, decode('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'hex'))`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE checkpoints, log_nodes, log_state, idempotency_keys, chain_links, events, items, batches, products, api_keys, actors`.execute(db);
  await sql`DROP FUNCTION provenant_append_only()`.execute(db);
}
