import { type Kysely, sql } from 'kysely';

// Ledger format v2 (docs/ledger-format.md). Events written from now on are v2: their body commits to each field
// separately (salted), and to the items they cover through a salted items tree. The readable columns (actor_id,
// location, counterparty_id, data) keep holding the field values; beside them:
// - format: 1 (a v1 body, hashed with its values and item list) or 2;
// - field_salts: field name → 16-byte salt (hex) of each committed field whose value is still held;
// - erased: field name → hex content hash of the ERASE event that erased it (value and salt deleted);
// - pad_key: the event's secret 32-byte pad key (items-tree pads and rotation; never disclosed);
// - chain_links.entry_salt: the 16-byte salt of the item's entry in the event's items tree, entry_position its leaf;
// - item_tree_top: the real items-tree nodes at levels ≥ 8 (≤ 1,022 records of level, index, hash; core
//   stored-chain.ts) of an event of more than 256 items, so one item's proof needs only the ≈ n/512 entries of its
//   256-wide subtree, not a rebuild (smaller events are rebuilt from their entries).
// An ERASE event covers no items, so item_count may be 0 for it. Erasure rewrites exactly the readable value, its
// salt and `erased` of a v2 event: the append-only trigger of `events` now allows an update of a v2 event that marks
// at least one more field erased and keeps every hashed or identifying column, and nothing else.
export async function up(db: Kysely<any>): Promise<void> {
  const statements = [
    `ALTER TABLE events ADD COLUMN format smallint NOT NULL DEFAULT 1 CHECK (format IN (1, 2)),
        ADD COLUMN field_salts jsonb, ADD COLUMN erased jsonb,
        ADD COLUMN pad_key bytea CHECK (pad_key IS NULL OR length(pad_key) = 32)`,
    `ALTER TABLE pending_events ADD COLUMN format smallint NOT NULL DEFAULT 1 CHECK (format IN (1, 2)),
        ADD COLUMN field_salts jsonb, ADD COLUMN erased jsonb,
        ADD COLUMN pad_key bytea CHECK (pad_key IS NULL OR length(pad_key) = 32)`,
    `ALTER TABLE chain_links ADD COLUMN entry_salt bytea CHECK (entry_salt IS NULL OR length(entry_salt) = 16),
        ADD COLUMN entry_position integer CHECK (entry_position IS NULL OR (entry_position >= 0 AND entry_position < 131072))`,
    `ALTER TABLE events ADD COLUMN item_tree_top bytea`,
    `ALTER TABLE pending_events ADD COLUMN item_tree_top bytea`,
    // Replaces the event index: the same lookups by event, and an item's 256-wide subtree by position range.
    `CREATE INDEX chain_links_event_position ON chain_links (event_id, entry_position)`,
    `DROP INDEX chain_links_event`,
    `ALTER TABLE events DROP CONSTRAINT IF EXISTS events_item_count_check`,
    `ALTER TABLE events ADD CONSTRAINT events_item_count_check CHECK (item_count > 0 OR (kind = 'ERASE' AND item_count = 0))`,
    `ALTER TABLE pending_events DROP CONSTRAINT IF EXISTS pending_events_item_count_check`,
    `ALTER TABLE pending_events ADD CONSTRAINT pending_events_item_count_check CHECK (item_count > 0 OR (kind = 'ERASE' AND item_count = 0))`,
    `CREATE FUNCTION provenant_events_erasure_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'UPDATE' AND OLD.format = 2
           AND NEW.id = OLD.id AND NEW.leaf_index = OLD.leaf_index AND NEW.kind = OLD.kind AND NEW.actor_id = OLD.actor_id
           AND NEW.occurred_at = OLD.occurred_at AND NEW.tz_offset = OLD.tz_offset AND NEW.recorded_at = OLD.recorded_at
           AND NEW.body = OLD.body AND NEW.content_hash = OLD.content_hash AND NEW.signature IS NOT DISTINCT FROM OLD.signature
           AND NEW.item_count = OLD.item_count AND NEW.format = OLD.format AND NEW.pad_key IS NOT DISTINCT FROM OLD.pad_key
           AND NEW.item_tree_top IS NOT DISTINCT FROM OLD.item_tree_top
           AND NEW.erased IS NOT NULL AND NEW.erased @> coalesce(OLD.erased, '{}'::jsonb)
           AND (SELECT count(*) FROM jsonb_object_keys(NEW.erased)) > (SELECT count(*) FROM jsonb_object_keys(coalesce(OLD.erased, '{}'::jsonb))) THEN
          RETURN NEW;
        END IF;
        RAISE EXCEPTION 'table % is append-only (a v2 event''s field may only be erased)', TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
      END $$`,
    `DROP TRIGGER events_append_only ON events`,
    `CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events FOR EACH ROW EXECUTE FUNCTION provenant_events_erasure_only()`,
  ];
  for (const statement of statements) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  const statements = [
    `DROP TRIGGER events_append_only ON events`,
    `CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events FOR EACH ROW EXECUTE FUNCTION provenant_append_only()`,
    `DROP FUNCTION provenant_events_erasure_only()`,
    `CREATE INDEX chain_links_event ON chain_links (event_id)`,
    `DROP INDEX chain_links_event_position`,
    `ALTER TABLE events DROP COLUMN format, DROP COLUMN field_salts, DROP COLUMN erased, DROP COLUMN pad_key, DROP COLUMN item_tree_top`,
    `ALTER TABLE pending_events DROP COLUMN format, DROP COLUMN field_salts, DROP COLUMN erased, DROP COLUMN pad_key, DROP COLUMN item_tree_top`,
    `ALTER TABLE chain_links DROP COLUMN entry_salt, DROP COLUMN entry_position`,
  ];
  for (const statement of statements) await sql.raw(statement).execute(db);
}
