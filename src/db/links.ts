/** SQL of the Digital Link resolver: brands' link sets (append-only history, current view) and scan counts. */
import { sql } from 'kysely';
import type { Link } from '../core/links.ts';
import type { DbOrTrx, Trx } from './connection.ts';
import type { LinksTable } from './types.ts';

/** One level a link set belongs to: the product (lot and serial null), one lot, or one serial. */
export interface LinkScope {
  gtin: string;
  lot: string | null;
  serial: string | null;
}

export interface LinkSetVersion {
  id: string;
  gtin: string;
  lot: string | null;
  serial: string | null;
  setBy: string;
  setAt: Date;
  links: Link[];
}

const toLink = (r: Pick<LinksTable, 'link_type' | 'href' | 'title' | 'language' | 'context' | 'media_type' | 'is_default'>): Link => ({
  linkType: r.link_type,
  href: r.href,
  title: r.title,
  language: r.language,
  context: r.context,
  mediaType: r.media_type,
  isDefault: r.is_default,
});

/** Records a new link set for one scope (replacing the current one) with its links, in one statement each. */
export async function insertLinkSet(trx: Trx, scope: LinkScope, links: readonly Link[], setBy: string, setAt: Date): Promise<LinkSetVersion> {
  const set = await trx
    .insertInto('link_sets')
    .values({ gtin: scope.gtin, lot: scope.lot, serial: scope.serial, set_by: setBy, set_at: setAt })
    .returning(['id'])
    .executeTakeFirstOrThrow();
  if (links.length > 0) {
    await trx
      .insertInto('links')
      .values(links.map((l, position) => ({
        set_id: set.id, position, link_type: l.linkType, href: l.href, title: l.title, language: l.language, context: l.context,
        media_type: l.mediaType, is_default: l.isDefault,
      })))
      .execute();
  }
  return { id: String(set.id), ...scope, setBy, setAt, links: [...links] };
}

/** One recorded link set by id (for an idempotent replay of `setLinks`). */
export async function findLinkSet(db: DbOrTrx, id: string): Promise<LinkSetVersion | undefined> {
  const set = await db.selectFrom('link_sets').selectAll().where('id', '=', id as never).executeTakeFirst();
  if (!set) return undefined;
  const rows = await db.selectFrom('links').selectAll().where('set_id', '=', set.id).orderBy('position').execute();
  return { id: String(set.id), gtin: set.gtin, lot: set.lot, serial: set.serial, setBy: set.set_by, setAt: set.set_at, links: rows.map(toLink) };
}

/**
 * The current links of several scopes of one product, in one query: a map from {@link scopeKey} to its links in
 * the order written (an absent key: no set, or an empty one).
 */
export async function currentLinks(db: DbOrTrx, gtin: string, scopes: readonly Omit<LinkScope, 'gtin'>[]): Promise<Map<string, Link[]>> {
  const out = new Map<string, Link[]>();
  if (scopes.length === 0) return out;
  const rows = await db
    .selectFrom('current_links')
    .select(['lot', 'serial', 'link_type', 'href', 'title', 'language', 'context', 'media_type', 'is_default'])
    .where('gtin', '=', gtin)
    .where((eb) => eb.or(scopes.map((s) => eb.and([
      s.lot === null ? eb('lot', 'is', null) : eb('lot', '=', s.lot),
      s.serial === null ? eb('serial', 'is', null) : eb('serial', '=', s.serial),
    ]))))
    .orderBy('set_id')
    .orderBy('position')
    .execute();
  for (const r of rows) {
    const key = scopeKey(r);
    let list = out.get(key);
    if (!list) out.set(key, (list = []));
    list.push(toLink(r));
  }
  return out;
}

/** Key of a scope within one product in {@link currentLinks}' map. */
export const scopeKey = (s: { lot: string | null; serial: string | null }): string => JSON.stringify([s.lot, s.serial]);

/** Every link set ever recorded for one scope, newest first (at most `limit`). */
export async function linkHistory(db: DbOrTrx, scope: LinkScope, limit: number): Promise<LinkSetVersion[]> {
  let q = db.selectFrom('link_sets').selectAll().where('gtin', '=', scope.gtin);
  q = scope.lot === null ? q.where('lot', 'is', null) : q.where('lot', '=', scope.lot);
  q = scope.serial === null ? q.where('serial', 'is', null) : q.where('serial', '=', scope.serial);
  const sets = await q.orderBy('id', 'desc').limit(limit).execute();
  if (sets.length === 0) return [];
  const links = await db.selectFrom('links').selectAll().where('set_id', 'in', sets.map((s) => s.id)).orderBy('set_id').orderBy('position').execute();
  return sets.map((s) => ({
    id: String(s.id), gtin: s.gtin, lot: s.lot, serial: s.serial, setBy: s.set_by, setAt: s.set_at,
    links: links.filter((l) => String(l.set_id) === String(s.id)).map(toLink),
  }));
}

// ---------------------------------------------------------------------------------------------------------------
// Scan counts

export interface ScanDelta {
  gtin: string;
  /** YYYY-MM-DD (UTC). */
  day: string;
  country: string;
  count: number;
}

/** Adds counts in one upsert statement (rows with the same key must be merged by the caller). */
export async function addScanCounts(db: DbOrTrx, deltas: readonly ScanDelta[]): Promise<void> {
  if (deltas.length === 0) return;
  await sql`INSERT INTO scan_counts (gtin, day, country, count)
    SELECT * FROM unnest(${deltas.map((d) => d.gtin)}::text[], ${deltas.map((d) => d.day)}::date[], ${deltas.map((d) => d.country)}::text[], ${deltas.map((d) => d.count)}::bigint[])
    ON CONFLICT (gtin, day, country) DO UPDATE SET count = scan_counts.count + excluded.count`.execute(db);
}

/** Counts of one product per day and country between two UTC days inclusive, by day then country. */
export async function scanCounts(db: DbOrTrx, gtin: string, from: string, to: string): Promise<ScanDelta[]> {
  const rows = await db
    .selectFrom('scan_counts')
    .select([sql<string>`to_char(day, 'YYYY-MM-DD')`.as('day'), 'country', 'count'])
    .where('gtin', '=', gtin)
    .where('day', '>=', from)
    .where('day', '<=', to)
    .orderBy('day')
    .orderBy('country')
    .execute();
  return rows.map((r) => ({ gtin, day: r.day, country: r.country, count: Number(r.count) }));
}
