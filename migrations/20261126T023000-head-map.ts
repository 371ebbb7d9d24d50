import { type Kysely, sql } from 'kysely';

// The head map (docs/ledger-format.md): a compact sparse Merkle tree over every item's head (seq, link, stage,
// recalled), updated by the integrator with each batch and bound to the batch's signed checkpoint by its
// `provenant-heads` extension line. Nodes are keyed by (depth, path prefix) and replaced in place (the map is a
// projection of the chain links; audit rebuilds it). Each chain link now records the item's stage and recall flag
// after its event, so the integrator knows an item's head as of the batch even when later writes are still pending.
export async function up(db: Kysely<any>): Promise<void> {
  const statements = [
    `CREATE TABLE head_map_nodes (
        depth smallint NOT NULL CHECK (depth >= 0 AND depth <= 256),
        prefix text NOT NULL,
        leaf_key bytea CHECK (leaf_key IS NULL OR length(leaf_key) = 32),
        leaf_value bytea CHECK (leaf_value IS NULL OR length(leaf_value) = 32),
        hash bytea NOT NULL CHECK (length(hash) = 32),
        CHECK ((leaf_key IS NULL) = (leaf_value IS NULL)),
        PRIMARY KEY (depth, prefix)
      )`,
    `ALTER TABLE chain_links ADD COLUMN stage text`,
    `ALTER TABLE chain_links ADD COLUMN recalled boolean`,
  ];
  for (const statement of statements) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE head_map_nodes`.execute(db);
  await sql`ALTER TABLE chain_links DROP COLUMN stage, DROP COLUMN recalled`.execute(db);
}
