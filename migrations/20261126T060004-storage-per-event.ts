import { type Kysely, sql } from 'kysely';

// Storage per event (issue 11):
// - the log stores only subtrees of level ≥ 4; lower ones are recomputed from the events' content hashes when read
//   (src/db/log.ts readNodes), which keeps about one node per eight leaves instead of two per leaf. The level must
//   match STORED_FROM_LEVEL in src/db/log.ts (migrations do not import src/);
// - chain_links drops prev_hash: it is always the hash of the item's link at seq - 1 (zero bytes at seq 0), which
//   readers derive (src/db/ledger.ts), 33 bytes a link;
// - events.field_salts (and pending_events') becomes bytea in the compact form of src/db/event-content.ts
//   encodeFieldSalts: per field, in name order, a LEB128 varint of the name's UTF-8 length, the name, the 16 salt
//   bytes (about half the jsonb of hex strings). Names longer than 16,383 bytes would fail this conversion loudly.
const STORED_FROM_LEVEL = 4;

export async function up(db: Kysely<any>): Promise<void> {
  // log_nodes is append-only for the application; this one-time removal of derivable rows bypasses its trigger.
  await sql`ALTER TABLE log_nodes DISABLE TRIGGER log_nodes_append_only`.execute(db);
  await sql`DELETE FROM log_nodes WHERE level < ${sql.lit(STORED_FROM_LEVEL)}`.execute(db);
  await sql`ALTER TABLE log_nodes ENABLE TRIGGER log_nodes_append_only`.execute(db);
  await sql`ALTER TABLE chain_links DROP COLUMN prev_hash`.execute(db);
  await sql`
    CREATE FUNCTION provenant_salts_to_bytes(j jsonb) RETURNS bytea LANGUAGE sql IMMUTABLE STRICT AS $$
      SELECT coalesce(string_agg(
        CASE WHEN octet_length(convert_to(key, 'UTF8')) < 128 THEN set_byte('\\x00'::bytea, 0, octet_length(convert_to(key, 'UTF8')))
             ELSE set_byte(set_byte('\\x0000'::bytea, 0, (octet_length(convert_to(key, 'UTF8')) & 127) | 128), 1, octet_length(convert_to(key, 'UTF8')) >> 7) END
        || convert_to(key, 'UTF8') || decode(value, 'hex'), ''::bytea ORDER BY key COLLATE "C"), ''::bytea)
      FROM jsonb_each_text(j) $$`.execute(db);
  for (const table of ['events', 'pending_events']) {
    await sql`ALTER TABLE ${sql.table(table)} ALTER COLUMN field_salts TYPE bytea USING provenant_salts_to_bytes(field_salts)`.execute(db);
  }
  await sql`DROP FUNCTION provenant_salts_to_bytes(jsonb)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE FUNCTION provenant_salts_to_json(b bytea) RETURNS jsonb LANGUAGE plpgsql IMMUTABLE STRICT AS $$
      DECLARE i int := 0; len int; shift int; byte int; out jsonb := '{}'::jsonb;
      BEGIN
        WHILE i < length(b) LOOP
          len := 0; shift := 0;
          LOOP
            byte := get_byte(b, i); i := i + 1;
            len := len + ((byte & 127) << shift);
            EXIT WHEN byte < 128;
            shift := shift + 7;
          END LOOP;
          out := out || jsonb_build_object(convert_from(substring(b FROM i + 1 FOR len), 'UTF8'), encode(substring(b FROM i + 1 + len FOR 16), 'hex'));
          i := i + len + 16;
        END LOOP;
        RETURN out;
      END $$`.execute(db);
  for (const table of ['events', 'pending_events']) {
    await sql`ALTER TABLE ${sql.table(table)} ALTER COLUMN field_salts TYPE jsonb USING provenant_salts_to_json(field_salts)`.execute(db);
  }
  await sql`DROP FUNCTION provenant_salts_to_json(bytea)`.execute(db);
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
