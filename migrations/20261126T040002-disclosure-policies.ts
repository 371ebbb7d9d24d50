import { type Kysely, sql } from 'kysely';

// Disclosure tiers (docs/ledger-format.md §15) and actor keys (§13).
// - disclosure_policies: one row per setDisclosurePolicy call, append-only: the whole set of per-product tier
//   overrides of one product from then on ([{field, kind, tier}], kind null = every kind), who set it and when.
//   The current policy of a product is its latest row; history is every row.
// - actor_keys: Ed25519 public keys an actor registered to sign its events, append-only; a revocation is its own
//   row in actor_key_revocations (as for grants), so the key a past signature was checked against stays on record.
export async function up(db: Kysely<any>): Promise<void> {
  const statements = [
    `CREATE TABLE disclosure_policies (
        id bigserial PRIMARY KEY,
        gtin char(14) NOT NULL REFERENCES products(gtin),
        overrides jsonb NOT NULL CHECK (jsonb_typeof(overrides) = 'array'),
        set_by uuid NOT NULL REFERENCES actors(id),
        set_at timestamptz NOT NULL
      )`,
    `CREATE INDEX disclosure_policies_gtin ON disclosure_policies (gtin, id DESC)`,
    `CREATE TRIGGER disclosure_policies_append_only BEFORE UPDATE OR DELETE ON disclosure_policies FOR EACH ROW EXECUTE FUNCTION provenant_append_only()`,
    `CREATE TABLE actor_keys (
        id bigserial PRIMARY KEY,
        actor_id uuid NOT NULL REFERENCES actors(id),
        public_key bytea NOT NULL CHECK (length(public_key) = 32),
        registered_at timestamptz NOT NULL,
        UNIQUE (public_key)
      )`,
    `CREATE INDEX actor_keys_actor ON actor_keys (actor_id, id)`,
    `CREATE TABLE actor_key_revocations (
        key_id bigint PRIMARY KEY REFERENCES actor_keys(id),
        revoked_at timestamptz NOT NULL,
        revoked_by uuid NOT NULL REFERENCES actors(id)
      )`,
    `CREATE TRIGGER actor_keys_append_only BEFORE UPDATE OR DELETE ON actor_keys FOR EACH ROW EXECUTE FUNCTION provenant_append_only()`,
    `CREATE TRIGGER actor_key_revocations_append_only BEFORE UPDATE OR DELETE ON actor_key_revocations FOR EACH ROW EXECUTE FUNCTION provenant_append_only()`,
  ];
  for (const statement of statements) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE actor_key_revocations, actor_keys, disclosure_policies`.execute(db);
}
