import { type Kysely, sql } from 'kysely';

// Storage per event (issue 11):
// - the log stores only subtrees of level ≥ 4; lower ones are recomputed from the events' content hashes when read
//   (src/db/log.ts readNodes), which keeps about one node per eight leaves instead of two per leaf. The level must
//   match STORED_FROM_LEVEL in src/db/log.ts (migrations do not import src/);
// - chain_links drops prev_hash: it is always the hash of the item's link at seq - 1 (zero bytes at seq 0), which
//   readers derive (src/db/ledger.ts), 33 bytes a link.
const STORED_FROM_LEVEL = 4;

export async function up(db: Kysely<any>): Promise<void> {
  // log_nodes is append-only for the application; this one-time removal of derivable rows bypasses its trigger.
  await sql`ALTER TABLE log_nodes DISABLE TRIGGER log_nodes_append_only`.execute(db);
  await sql`DELETE FROM log_nodes WHERE level < ${sql.lit(STORED_FROM_LEVEL)}`.execute(db);
  await sql`ALTER TABLE log_nodes ENABLE TRIGGER log_nodes_append_only`.execute(db);
  await sql`ALTER TABLE chain_links DROP COLUMN prev_hash`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE chain_links ADD COLUMN prev_hash bytea`.execute(db);
  await sql`ALTER TABLE chain_links DISABLE TRIGGER chain_links_append_only`.execute(db);
  await sql`
    UPDATE chain_links l SET prev_hash = coalesce(
      (SELECT p.hash FROM chain_links p WHERE p.item_id = l.item_id AND p.seq = l.seq - 1), decode(repeat('00', 32), 'hex'))`.execute(db);
  await sql`ALTER TABLE chain_links ENABLE TRIGGER chain_links_append_only`.execute(db);
  await sql`ALTER TABLE chain_links ALTER COLUMN prev_hash SET NOT NULL, ADD CONSTRAINT chain_links_prev_hash_check CHECK (length(prev_hash) = 32)`.execute(db);
  // Rebuild the low levels: leaves SHA-256(0x00 || content_hash), then each complete pair SHA-256(0x01 || l || r).
  await sql`INSERT INTO log_nodes (level, index, hash) SELECT 0, leaf_index, sha256('\\x00'::bytea || content_hash) FROM events`.execute(db);
  for (let level = 1; level < STORED_FROM_LEVEL; level++) {
    await sql`
      INSERT INTO log_nodes (level, index, hash)
      SELECT ${sql.lit(level)}, l.index / 2, sha256('\\x01'::bytea || l.hash || r.hash)
      FROM log_nodes l JOIN log_nodes r ON r.level = l.level AND r.index = l.index + 1
      WHERE l.level = ${sql.lit(level - 1)} AND l.index % 2 = 0`.execute(db);
  }
}
