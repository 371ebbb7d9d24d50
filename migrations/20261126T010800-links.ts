import { type Kysely, sql } from 'kysely';

// Digital Link resolver data.
// - link_sets: one row per setLinks call, append-only: who replaced the links of one product (lot and serial null),
//   one lot (serial null) or one serial (lot null), and when. The rows of `links` with its id are the whole new set,
//   so an empty set is a set without rows. History is every set; the current links of a scope are its latest set.
// - links: the link rows of a set, append-only too, in the order given.
// - current_links: the latest set's links per scope (product / lot / serial).
// - scan_counts: resolver hits per product, UTC day and country (ISO 3166 alpha-2 or 'unknown'); no IP, no agent.
export async function up(db: Kysely<any>): Promise<void> {
  const statements = [
    `CREATE TABLE link_sets (
        id bigserial PRIMARY KEY,
        gtin char(14) NOT NULL REFERENCES products(gtin),
        lot text CHECK (length(lot) BETWEEN 1 AND 20),
        serial text CHECK (length(serial) BETWEEN 1 AND 20),
        CHECK (lot IS NULL OR serial IS NULL),
        set_by uuid NOT NULL REFERENCES actors(id),
        set_at timestamptz NOT NULL
      )`,
    `CREATE INDEX link_sets_scope ON link_sets (gtin, (coalesce(lot, '')), (coalesce(serial, '')), id DESC)`,
    `CREATE TABLE links (
        set_id bigint NOT NULL REFERENCES link_sets(id),
        position int NOT NULL CHECK (position >= 0),
        link_type text NOT NULL CHECK (length(link_type) BETWEEN 1 AND 300),
        href text NOT NULL CHECK (length(href) BETWEEN 1 AND 2048),
        title text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
        language text CHECK (length(language) BETWEEN 1 AND 35),
        context text CHECK (length(context) BETWEEN 1 AND 64),
        media_type text CHECK (length(media_type) BETWEEN 1 AND 127),
        is_default boolean NOT NULL DEFAULT false,
        PRIMARY KEY (set_id, position)
      )`,
    `CREATE TRIGGER link_sets_append_only BEFORE UPDATE OR DELETE ON link_sets FOR EACH ROW EXECUTE FUNCTION provenant_append_only()`,
    `CREATE TRIGGER links_append_only BEFORE UPDATE OR DELETE ON links FOR EACH ROW EXECUTE FUNCTION provenant_append_only()`,
    `CREATE VIEW current_links AS
        SELECT s.gtin, s.lot, s.serial, s.set_by, s.set_at, l.*
        FROM (SELECT DISTINCT ON (gtin, coalesce(lot, ''), coalesce(serial, '')) * FROM link_sets
              ORDER BY gtin, coalesce(lot, ''), coalesce(serial, ''), id DESC) s
        JOIN links l ON l.set_id = s.id`,
    `CREATE TABLE scan_counts (
        gtin char(14) NOT NULL REFERENCES products(gtin),
        day date NOT NULL,
        country text NOT NULL CHECK (country ~ '^([A-Z]{2}|unknown)$'),
        count bigint NOT NULL CHECK (count >= 0),
        PRIMARY KEY (gtin, day, country)
      )`,
  ];
  for (const statement of statements) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP VIEW current_links`.execute(db);
  await sql`DROP TABLE scan_counts, links, link_sets`.execute(db);
}
