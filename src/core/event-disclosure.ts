/**
 * What one reader is shown of one event (docs/ledger-format.md §15), for every read path: which fields are withheld
 * at the reader's tier under the brands' per-product overrides, whether the canonical body may be shown, and the
 * validation of a brand's overrides. Pure: the server loads the facts and applies the decision.
 */
import type { JsonValue } from './chain.ts';
import { LEDGER_KINDS } from './lifecycle.ts';
import { type Result, err, ok } from './result.ts';
import { TIERS, type Tier, type TierOverrides, fieldTier, tierRank } from './v2/disclosure.ts';
import { KINDS_V2, type KindV2 } from './v2/event-v2.ts';

/**
 * Field names an override may name (docs/ledger-format.md §3): the parties, the location and every data field the
 * ledger records. `counterparty` is the receiver of SHIP/RETURN (and the sender of RECEIVE), `buyer` SELL's.
 */
export const DISCLOSURE_FIELDS = [
  'actor', 'location', 'counterparty', 'buyer', 'price', 'currency', 'note', 'readings', 'reason', 'materials',
  'container', 'containers', 'gtin', 'lot', 'authorizedBy', 'target', 'field',
] as const;
const KNOWN_FIELDS: ReadonlySet<string> = new Set(DISCLOSURE_FIELDS);
const KINDS: ReadonlySet<string> = new Set([...LEDGER_KINDS, 'ERASE']);
export const MAX_POLICY_OVERRIDES = 100;

/** One override as a brand submits it: `kind` null → every kind. */
export interface OverrideInput {
  field: string;
  kind?: string | null;
  tier: string;
}

/** One stored override. */
export interface PolicyOverride {
  field: string;
  kind: KindV2 | null;
  tier: Tier;
}

export interface PolicyProblem {
  field: string;
  message: string;
}

/**
 * Validates a brand's overrides: known field names, known kinds, tiers among public/participants/authorities, each
 * (kind, field) at most once, at most {@link MAX_POLICY_OVERRIDES}. Returns them sorted (kind-less first, then by
 * kind, then field), so equal policies are stored equally. Errors name the input path (`overrides[2].tier`).
 */
export function validatePolicy(input: readonly OverrideInput[]): Result<PolicyOverride[], PolicyProblem> {
  if (input.length > MAX_POLICY_OVERRIDES) return err({ field: 'overrides', message: `at most ${MAX_POLICY_OVERRIDES} overrides` });
  const seen = new Set<string>();
  const out: PolicyOverride[] = [];
  for (const [i, o] of input.entries()) {
    if (!KNOWN_FIELDS.has(o.field)) return err({ field: `overrides[${i}].field`, message: `unknown field ${JSON.stringify(o.field.slice(0, 80))}; one of ${DISCLOSURE_FIELDS.join(', ')}` });
    const kind = o.kind ?? null;
    if (kind !== null && !KINDS.has(kind)) return err({ field: `overrides[${i}].kind`, message: `unknown kind ${JSON.stringify(kind.slice(0, 80))}` });
    if (!(TIERS as readonly string[]).includes(o.tier)) return err({ field: `overrides[${i}].tier`, message: `tier must be one of ${TIERS.join(', ')}` });
    const key = overrideKey(kind as KindV2 | null, o.field);
    if (seen.has(key)) return err({ field: `overrides[${i}]`, message: `${key} is given twice` });
    seen.add(key);
    out.push({ field: o.field, kind: kind as KindV2 | null, tier: o.tier as Tier });
  }
  out.sort((a, b) => (a.kind ?? '').localeCompare(b.kind ?? '') || a.field.localeCompare(b.field));
  return ok(out);
}

const overrideKey = (kind: KindV2 | null, field: string) => (kind === null ? field : `${kind}.${field}`);

/** The `TierOverrides` map of `core/v2/disclosure.ts` (`"KIND.field"` / `"field"` → tier) of stored overrides. */
export function toTierOverrides(policy: readonly PolicyOverride[]): TierOverrides {
  return Object.fromEntries(policy.map((o) => [overrideKey(o.kind, o.field), o.tier]));
}

/**
 * The tier a field of an event needs when its items belong to several products: the highest tier any of their
 * policies asks (a product without a policy counts with the defaults), so one brand's stricter policy is never
 * undone by another brand's items in the same event.
 */
export function combinedFieldTier(kind: KindV2, field: string, policies: readonly TierOverrides[]): Tier {
  if (policies.length === 0) return fieldTier(kind, field);
  let tier: Tier = 'public';
  for (const p of policies) {
    const t = fieldTier(kind, field, p);
    if (tierRank(t) > tierRank(tier)) tier = t;
  }
  return tier;
}

/**
 * One `TierOverrides` map for every event of a chain whose events carry items of products with these `policies`
 * (one list per product; [] for a product without a policy): each field any policy names gets, for every kind, the
 * highest tier any product asks (as {@link combinedFieldTier}); other fields keep their defaults. Stricter than
 * deciding event by event (a product counts for all of the chain's events), never looser: no brand's lowered tier
 * opens a field of an event that also carries another brand's items.
 */
export function overridesAcrossProducts(policies: readonly (readonly PolicyOverride[])[]): TierOverrides {
  const maps = policies.map(toTierOverrides);
  const fields = new Set(policies.flatMap((p) => p.map((o) => o.field)));
  const out: Record<string, Tier> = {};
  for (const kind of KINDS_V2) for (const field of fields) out[`${kind}.${field}`] = combinedFieldTier(kind, field, maps);
  return out;
}

/**
 * One `TierOverrides` map that makes `discloseEvent(event, tier, map)` (core/v2/disclosure.ts, bundles) decide each of
 * `fieldNames` of an event of `kind` exactly as {@link combinedFieldTier} over `policies` does.
 */
export function mergedOverrides(kind: KindV2, fieldNames: readonly string[], policies: readonly TierOverrides[]): TierOverrides {
  return Object.fromEntries(fieldNames.map((f) => [`${kind}.${f}`, combinedFieldTier(kind, f, policies)]));
}

/** The readable content of an event as stored (events.actor_id, location, counterparty_id, data). */
export interface EventContent {
  kind: string;
  actorId: string;
  location: string | null;
  counterpartyId: string | null;
  data: { [key: string]: JsonValue };
}

/** The field name of an event's counterparty column: SELL's is its `buyer`, every other kind's `counterparty`. */
export const counterpartyField = (kind: string): 'buyer' | 'counterparty' => (kind === 'SELL' ? 'buyer' : 'counterparty');

/** The names of the fields an event has (absent ones omitted), sorted. */
export function eventFieldNames(e: EventContent): string[] {
  const names = ['actor', ...Object.keys(e.data)];
  if (e.location !== null) names.push('location');
  if (e.counterpartyId !== null) names.push(counterpartyField(e.kind));
  return [...new Set(names)].sort();
}

/** The fields of `e` a reader of tier `reader` may not see under `policies` (one per product of the event), sorted. */
export function withheldFields(e: EventContent, reader: Tier, policies: readonly TierOverrides[]): string[] {
  return eventFieldNames(e).filter((name) => tierRank(reader) < tierRank(combinedFieldTier(e.kind as KindV2, name, policies)));
}

/** `e` without the `withheld` fields: parties and location become null, data members are dropped. */
export function projectContent(e: EventContent, withheld: readonly string[]): EventContent {
  if (withheld.length === 0) return e;
  const w = new Set(withheld);
  const data: { [key: string]: JsonValue } = {};
  for (const [k, v] of Object.entries(e.data)) if (!w.has(k)) data[k] = v;
  return {
    kind: e.kind,
    actorId: w.has('actor') ? '' : e.actorId,
    location: w.has('location') ? null : e.location,
    counterpartyId: w.has(counterpartyField(e.kind)) ? null : e.counterpartyId,
    data,
  };
}

/**
 * Whether a reader may be shown an event's canonical body: a v2 body lists no serial, no count and no value (only
 * commitments), so always; a v1 body lists every serial and every value, so only when the reader sees all of its
 * items and no field is withheld from it.
 */
export function bodyShown(bodyFormat: 'v1' | 'v2', visibleItems: number, totalItems: number, withheldCount = 0): boolean {
  return bodyFormat === 'v2' || (visibleItems >= totalItems && withheldCount === 0);
}

/** `v2` for a body of format `provenant/event/v2` (JCS puts `"fields"` then `"format"` first), else `v1`. */
export function bodyFormatOf(canonicalBody: string): 'v1' | 'v2' {
  return /^\{"fields":\{[^}]*\},"format":"provenant\/event\/v2"/.test(canonicalBody) ? 'v2' : 'v1';
}

/** The parts of an EPCIS query filter that select on an event's field values (core/epcis-query-params.ts). */
export interface FieldSelectingFilter {
  readPoints?: readonly unknown[] | null;
  bizLocations?: readonly unknown[] | null;
  sources?: readonly unknown[] | null;
  destinations?: readonly unknown[] | null;
  actorId?: string | null;
}

/**
 * Fields whose stored values `filter` selects on: `location` (EQ_readPoint, EQ_bizLocation), the parties (EQ_source_*,
 * EQ_destination_*, the actor filter). An event whose export withholds one of them must not match (else filtering
 * would test a guessed value of a withheld field).
 */
export function filterSelectedFields(filter: FieldSelectingFilter): string[] {
  const out = new Set<string>();
  if (filter.readPoints?.length || filter.bizLocations?.length) out.add('location');
  if (filter.sources?.length || filter.destinations?.length) for (const f of ['actor', 'counterparty', 'buyer']) out.add(f);
  if (filter.actorId) out.add('actor');
  return [...out].sort();
}

/** Whether an event with `withheld` fields may match a filter selecting on `selected` fields. */
export const matchesDespiteWithheld = (withheld: readonly string[], selected: readonly string[]): boolean => !selected.some((f) => withheld.includes(f));
