/**
 * What a reader is shown of each of many events (docs/ledger-format.md §15), for every read path (GraphQL `Event`,
 * the EPCIS export and query, subscriptions): the reader's tier per event (core `tierOfReader`), the fields withheld
 * at that tier under the brands' policies (core `withheldFields`), how many of the event's items the reader sees and
 * whether the canonical body may be shown (core `bodyShown`). A constant number of queries for any number of events.
 */
import type { JsonValue } from '../core/chain.ts';
import { type EventContent, bodyFormatOf, bodyShown, toTierOverrides, withheldFields } from '../core/event-disclosure.ts';
import { tierOfReader } from '../core/reader-tier.ts';
import type { ReadScope } from '../core/rights.ts';
import type { Tier } from '../core/v2/disclosure.ts';
import { findActorsByIds } from '../db/actors.ts';
import type { DbOrTrx } from '../db/connection.ts';
import { eventProductFacts } from '../db/disclosure.ts';

/** The columns of an event the decision needs. */
export interface DisclosableEvent {
  id: string;
  kind: string;
  actor_id: string;
  counterparty_id: string | null;
  location: string | null;
  data: unknown;
  body: string;
  item_count: number;
}

export interface EventReadView {
  tier: Tier;
  /** Names of the fields the reader may not see, sorted. */
  withheld: string[];
  /** How many of the event's items the reader may see. */
  visibleItems: number;
  /** Whether the reader sees every item of the event (nothing needs to be left out of item lists). */
  allItemsVisible: boolean;
  /** Whether the canonical body may be shown (a v1 body lists every serial and every value). */
  bodyShown: boolean;
}

/** The readable content of an event row. */
export const contentOf = (e: DisclosableEvent): EventContent => ({
  kind: e.kind, actorId: e.actor_id, location: e.location, counterpartyId: e.counterparty_id, data: (e.data ?? {}) as { [k: string]: JsonValue },
});

/**
 * The view of each event for `scope`'s reader. `auditor` (the reader has the AUDITOR role) is read from the
 * database when not given (only if the reader is a grantee of one of the events). Two queries at most, whatever the
 * number of events (none for an all-products reader).
 */
export async function eventReadViews(db: DbOrTrx, scope: ReadScope, events: readonly DisclosableEvent[], auditor?: boolean): Promise<Map<string, EventReadView>> {
  const out = new Map<string, EventReadView>();
  if (events.length === 0) return out;
  if (scope.allProducts) {
    // No field needs more than authorities, and such a reader sees every item: nothing to load.
    for (const e of events) out.set(e.id, { tier: 'authorities', withheld: [], visibleItems: Number(e.item_count), allItemsVisible: true, bodyShown: true });
    return out;
  }
  // A party of the event is a participant already: its custody window cannot change its tier.
  const windowIds = events.filter((e) => e.actor_id !== scope.actorId && e.counterparty_id !== scope.actorId).map((e) => e.id);
  const facts = await eventProductFacts(db, scope, [...new Set(events.map((e) => e.id))], windowIds);
  // The AUDITOR role only matters to a grantee (an auditor reading under a grant is an authority).
  if (auditor === undefined) {
    const granted = [...facts.values()].some((list) => list.some((f) => f.granted));
    auditor = granted && ((await findActorsByIds(db, [scope.actorId]))[0]?.roles.includes('AUDITOR') ?? false);
  }
  for (const e of events) {
    const products = facts.get(e.id) ?? [];
    const total = products.reduce((n, p) => n + p.total, 0);
    const visible = products.reduce((n, p) => n + p.visible, 0);
    const tier = tierOfReader({
      operator: scope.isOperator,
      allProducts: scope.allProducts,
      auditor,
      brandOwner: products.some((p) => p.brandOwner),
      grantee: products.some((p) => p.granted),
      party: e.actor_id === scope.actorId || e.counterparty_id === scope.actorId,
      holderInWindow: products.some((p) => p.inWindow),
    });
    const overrides = products.map((p) => toTierOverrides(p.overrides));
    const withheld = withheldFields(contentOf(e), tier, overrides);
    out.set(e.id, {
      tier,
      withheld,
      visibleItems: visible,
      allItemsVisible: visible >= total,
      bodyShown: bodyShown(bodyFormatOf(e.body), visible, total, withheld.length),
    });
  }
  return out;
}
