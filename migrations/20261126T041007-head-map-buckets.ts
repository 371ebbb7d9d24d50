import { type Kysely, sql } from 'kysely';

// The head map's nodes are stored in buckets: a subtree holding at most 16 keys is one row (its keys and values, 64
// bytes each, and its hash); only the inner nodes above the buckets have rows of their own. The tree and its hashes
// are unchanged (docs/ledger-format.md §7); one row per node cost two upserted rows per item (≈ 500 B per item and
// 6–18 s of a 100,000-serial registerBatch). Prefixes are stored as bytes. The map is a projection of the chain
// links: the old rows are dropped and the integrator rebuilds the map (same root) at its next round, as it does for
// a ledger that predates the map. fillfactor leaves room on each page so that rewriting a node is a HOT update that
// page pruning reclaims without VACUUM (embedded PGlite has no autovacuum).
export async function up(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE head_map_nodes`.execute(db);
  await sql`
    CREATE TABLE head_map_nodes (
      depth smallint NOT NULL CHECK (depth >= 0 AND depth <= 256),
      prefix bytea NOT NULL CHECK (length(prefix) <= 32),
      hash bytea NOT NULL CHECK (length(hash) = 32),
      entries bytea CHECK (entries IS NULL OR (length(entries) BETWEEN 64 AND 4096 AND length(entries) % 64 = 0)),
      PRIMARY KEY (depth, prefix)
    ) WITH (fillfactor = 80)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE head_map_nodes`.execute(db);
  await sql`
    CREATE TABLE head_map_nodes (
      depth smallint NOT NULL CHECK (depth >= 0 AND depth <= 256),
      prefix text NOT NULL,
      leaf_key bytea CHECK (leaf_key IS NULL OR length(leaf_key) = 32),
      leaf_value bytea CHECK (leaf_value IS NULL OR length(leaf_value) = 32),
      hash bytea NOT NULL CHECK (length(hash) = 32),
      CHECK ((leaf_key IS NULL) = (leaf_value IS NULL)),
      PRIMARY KEY (depth, prefix)
    )`.execute(db);
}
