/**
 * SQL of disclosure tiers: brands' per-product policies (append-only history, latest = current) and the facts a
 * reader's tier and item counts are decided from, for many events at once (core/reader-tier.ts,
 * core/event-disclosure.ts decide).
 */
import { type ColumnType, type Generated, type Kysely, type RawBuilder, sql } from 'kysely';
import type { PolicyOverride } from '../core/event-disclosure.ts';
import type { ReadScope } from '../core/rights.ts';
import type { DbOrTrx, Trx } from './connection.ts';
import type { Database } from './types.ts';
import { itemVisibleSql } from './visibility.ts';

// Typed here (migrations/20261126T040002-disclosure-policies.ts) so src/db/types.ts stays as is.
export interface DisclosurePoliciesTable {
  id: Generated<string>;
  gtin: string;
  overrides: ColumnType<PolicyOverride[], string, string>;
  set_by: string;
  set_at: Date;
}
export type DisclosureDatabase = Database & { disclosure_policies: DisclosurePoliciesTable };
const ddb = (db: DbOrTrx): Kysely<DisclosureDatabase> => db as unknown as Kysely<DisclosureDatabase>;

/** One setDisclosurePolicy call: the whole policy of a product from `setAt` on. */
export interface PolicyVersion {
  id: string;
  gtin: string;
  overrides: PolicyOverride[];
  setBy: string;
  setAt: Date;
}

const toVersion = (r: { id: string | number; gtin: string; overrides: PolicyOverride[]; set_by: string; set_at: Date }): PolicyVersion => ({
  id: String(r.id), gtin: r.gtin, overrides: r.overrides, setBy: r.set_by, setAt: r.set_at,
});

/** Records a new policy of `gtin` (replacing the current one). */
export async function insertPolicy(trx: Trx, gtin: string, overrides: readonly PolicyOverride[], setBy: string, setAt: Date): Promise<PolicyVersion> {
  const row = await ddb(trx).insertInto('disclosure_policies')
    .values({ gtin, overrides: JSON.stringify(overrides), set_by: setBy, set_at: setAt })
    .returningAll().executeTakeFirstOrThrow();
  return toVersion(row);
}

/** One recorded policy by id (for an idempotent replay). */
export async function findPolicy(db: DbOrTrx, id: string): Promise<PolicyVersion | undefined> {
  const row = await ddb(db).selectFrom('disclosure_policies').selectAll().where('id', '=', id as never).executeTakeFirst();
  return row && toVersion(row);
}

/** The current policy of each of `gtins` that has one (one query). */
export async function currentPolicies(db: DbOrTrx, gtins: readonly string[]): Promise<Map<string, PolicyVersion>> {
  if (gtins.length === 0) return new Map();
  const rows = await sql<{ id: string; gtin: string; overrides: PolicyOverride[]; set_by: string; set_at: Date }>`
    SELECT DISTINCT ON (gtin) id, gtin, overrides, set_by, set_at FROM disclosure_policies
    WHERE gtin = ANY(${[...new Set(gtins)]}::bpchar[]) ORDER BY gtin, id DESC`.execute(db);
  return new Map(rows.rows.map((r) => [r.gtin, toVersion(r)]));
}

/**
 * The current overrides of every product whose items share an event with item `itemId` (its own product included;
 * [] for a product without a policy). One statement; it reads every chain link of the item's events.
 */
export async function chainProductPolicies(db: DbOrTrx, itemId: string): Promise<PolicyOverride[][]> {
  const rows = await sql<{ gtin: string; overrides: PolicyOverride[] | null }>`
    SELECT g.gtin, (SELECT dp.overrides FROM disclosure_policies dp WHERE dp.gtin = g.gtin ORDER BY dp.id DESC LIMIT 1) AS overrides
    FROM (SELECT DISTINCT i.gtin FROM chain_links mine JOIN chain_links l ON l.event_id = mine.event_id JOIN items i ON i.id = l.item_id
          WHERE mine.item_id = ${itemId}) g`.execute(db);
  return rows.rows.map((r) => r.overrides ?? []);
}

/** Every policy recorded for `gtin`, newest first, at most `limit`. */
export async function policyHistory(db: DbOrTrx, gtin: string, limit: number): Promise<PolicyVersion[]> {
  const rows = await ddb(db).selectFrom('disclosure_policies').selectAll().where('gtin', '=', gtin).orderBy('id', 'desc').limit(limit).execute();
  return rows.map(toVersion);
}

/** Facts about the items of one event relative to a reader, per product of the event. */
export interface EventProductFacts {
  gtin: string;
  /** Items of this product the event covers. */
  total: number;
  /** Of those, the items the reader may see (the rule of `itemVisibleSql`). */
  visible: number;
  brandOwner: boolean;
  granted: boolean;
  /** The reader held one of these items in a custody window containing the event. */
  inWindow: boolean;
  /** The product's current disclosure overrides ([] without a policy). */
  overrides: PolicyOverride[];
}

/**
 * Per event of `eventIds`, per product of its items: counts, the reader's relation to them and the product's current
 * disclosure overrides; one statement for any
 * number of events. It reads every chain link of the events; the reader's custody starts are joined as a set (one
 * hash join, not a lookup per item), and the custody-window test runs only for items the reader held, of events in
 * `windowEventIds` (those where the window can change the tier), whose product it neither owns nor is granted.
 * Events without items are absent.
 */
export async function eventProductFacts(db: DbOrTrx, scope: ReadScope, eventIds: readonly string[], windowEventIds: readonly string[] = eventIds): Promise<Map<string, EventProductFacts[]>> {
  const out = new Map<string, EventProductFacts[]>();
  if (eventIds.length === 0) return out;
  const a = scope.actorId;
  const all = scope.allProducts;
  const owned = all ? sql<boolean>`false` : sql<boolean>`(p.owner_id = ${a})`;
  const granted: RawBuilder<boolean> = all ? sql<boolean>`true`
    : sql<boolean>`(i.gtin = ANY(${scope.gtins}::bpchar[]) OR i.batch_id = ANY(${scope.batchIds}::uuid[]))`;
  const sure = sql<boolean>`(${owned} OR ${granted})`;
  const held = sql<boolean>`(i.custodian_id = ${a} OR i.pending_receiver_id = ${a} OR h.item_id IS NOT NULL)`;
  // CASE evaluates lazily: the window subquery runs only for held items of events that need it.
  const window = sql<boolean>`EXISTS (SELECT 1 FROM custody_starts cs WHERE cs.item_id = l.item_id AND cs.actor_id = ${a} AND cs.seq <= l.seq
    AND NOT EXISTS (SELECT 1 FROM custody_starts c2 WHERE c2.item_id = cs.item_id AND c2.seq > cs.seq AND c2.seq <= l.seq))`;
  const rows = await sql<{ event_id: string; gtin: string; total: number; visible: number; brand_owner: boolean; granted: boolean; in_window: boolean; overrides: PolicyOverride[] | null }>`
    WITH h AS (SELECT DISTINCT item_id FROM custody_starts WHERE actor_id = ${a})
    SELECT l.event_id, i.gtin, count(*)::int AS total,
      count(*) FILTER (WHERE ${sure} OR ${held})::int AS visible,
      bool_or(${owned}) AS brand_owner, bool_or(${granted}) AS granted,
      bool_or(CASE WHEN ${sure} OR h.item_id IS NULL OR NOT (l.event_id = ANY(${[...windowEventIds]}::uuid[])) THEN false ELSE ${window} END) AS in_window,
      (SELECT dp.overrides FROM disclosure_policies dp WHERE dp.gtin = i.gtin ORDER BY dp.id DESC LIMIT 1) AS overrides
    FROM chain_links l JOIN items i ON i.id = l.item_id JOIN products p ON p.gtin = i.gtin LEFT JOIN h ON h.item_id = l.item_id
    WHERE l.event_id = ANY(${[...eventIds]}::uuid[])
    GROUP BY l.event_id, i.gtin`.execute(db);
  for (const r of rows.rows) {
    const list = out.get(r.event_id) ?? [];
    list.push({
      gtin: r.gtin, total: Number(r.total), visible: Number(r.visible), brandOwner: r.brand_owner, granted: r.granted, inWindow: r.in_window,
      overrides: r.overrides ?? [],
    });
    out.set(r.event_id, list);
  }
  return out;
}

/** The SGTIN URNs of the items of each event the reader may see (as `itemVisibleSql`), in URN order (one query). */
export async function visibleEventItems(db: DbOrTrx, scope: ReadScope, eventIds: readonly string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  if (eventIds.length === 0) return out;
  const rows = await sql<{ event_id: string; sgtin: string }>`
    SELECT l.event_id, i.sgtin FROM chain_links l JOIN items i ON i.id = l.item_id
    WHERE l.event_id = ANY(${[...eventIds]}::uuid[]) AND ${itemVisibleSql(scope, 'i')}
    ORDER BY l.event_id, i.sgtin COLLATE "C"`.execute(db);
  for (const r of rows.rows) {
    const list = out.get(r.event_id) ?? [];
    list.push(r.sgtin);
    out.set(r.event_id, list);
  }
  return out;
}

/**
 * Events (aliased `alias`) whose reader is at least a participant (core/reader-tier.ts, overrides aside): the
 * reader recorded it or is named in it, owns or is granted the product or batch of one of its items, or held one of
 * its items in a custody window containing it. For filters on a participants-only value (the consumer actor).
 */
export function eventParticipantSql(scope: ReadScope, alias: string): RawBuilder<boolean> {
  if (scope.allProducts) return sql<boolean>`true`;
  const a = scope.actorId;
  const e = (c: string) => sql.ref(`${alias}.${c}`);
  return sql<boolean>`(${e('actor_id')} = ${a} OR ${e('counterparty_id')} = ${a} OR EXISTS (
    SELECT 1 FROM chain_links pl JOIN items pi ON pi.id = pl.item_id JOIN products pp ON pp.gtin = pi.gtin
    WHERE pl.event_id = ${e('id')} AND (pp.owner_id = ${a} OR pi.gtin = ANY(${scope.gtins}::bpchar[]) OR pi.batch_id = ANY(${scope.batchIds}::uuid[])
      OR EXISTS (SELECT 1 FROM custody_starts cs WHERE cs.item_id = pl.item_id AND cs.actor_id = ${a} AND cs.seq <= pl.seq
        AND NOT EXISTS (SELECT 1 FROM custody_starts c2 WHERE c2.item_id = cs.item_id AND c2.seq > cs.seq AND c2.seq <= pl.seq)))))`;
}
