/**
 * Disclosure tiers (docs/ledger-format.md §10): which committed fields of an event a reader sees opened. Pure
 * policy: the server decides the viewer's tier; this decides, per field, opened or withheld.
 */
import type { FieldDisclosure, JsonValue } from './fields.ts';
import type { FullEventV2, KindV2 } from './event-v2.ts';

export const TIERS = ['public', 'participants', 'authorities'] as const;
export type Tier = (typeof TIERS)[number];

export const tierRank = (t: Tier): number => TIERS.indexOf(t);

/** A brand's per-product overrides: `"KIND.field"` (most specific) or `"field"` → tier. */
export type TierOverrides = Readonly<Record<string, Tier>>;

/** Actors of these kinds may be consumers (personal data): their identity defaults to participants. */
const CONSUMER_ACTOR_KINDS: readonly KindV2[] = ['ACTIVATE', 'USE_REPORT', 'RETURN'];
const PARTICIPANT_FIELDS = new Set(['buyer', 'price', 'currency', 'note', 'readings', 'reason']);

/**
 * Default tier of a field: buyer, price, currency, note, readings and free-form reason → participants (RECALL's
 * reason and ERASE's reason are public: a recall must be explainable to consumers, an erasure auditable);
 * actor of ACTIVATE/USE_REPORT/RETURN → participants; everything else (actor, location, counterparty, container(s),
 * gtin, lot, materials, ERASE's target/field) → public.
 */
export function defaultTier(kind: KindV2, field: string): Tier {
  if (field === 'reason') return kind === 'RECALL' || kind === 'ERASE' ? 'public' : 'participants';
  if (field === 'actor') return CONSUMER_ACTOR_KINDS.includes(kind) ? 'participants' : 'public';
  return PARTICIPANT_FIELDS.has(field) ? 'participants' : 'public';
}

/** The tier a field needs, after the brand's overrides (`KIND.field` beats `field` beats the default). */
export function fieldTier(kind: KindV2, field: string, overrides: TierOverrides = {}): Tier {
  return overrides[`${kind}.${field}`] ?? overrides[field] ?? defaultTier(kind, field);
}

/**
 * The `fields` object of a bundle event for a viewer: each field opened if the viewer's tier reaches the field's
 * tier, `{withheld: true}` otherwise, and `{erased: <ERASE content hash>}` for an erased field whatever the tier.
 */
export function discloseEvent(event: Pick<FullEventV2, 'kind' | 'fields'>, viewer: Tier, overrides: TierOverrides = {}): Record<string, FieldDisclosure> {
  const out: Record<string, FieldDisclosure> = {};
  for (const name of Object.keys(event.fields).sort()) {
    const f = event.fields[name]!;
    if ('erased' in f) out[name] = { erased: f.erased };
    else if (tierRank(viewer) >= tierRank(fieldTier(event.kind, name, overrides))) out[name] = { value: f.value as JsonValue, salt: f.salt };
    else out[name] = { withheld: true };
  }
  return out;
}

/**
 * The `fields` object of a bundle event when the server already decided which fields the reader may not see
 * (`withheld`, from the per-event policy of core `tierOfReader` and the products' overrides): every other field
 * opened, erased ones `{erased}` whatever the list says.
 */
export function discloseExcept(event: Pick<FullEventV2, 'fields'>, withheld: readonly string[]): Record<string, FieldDisclosure> {
  const hidden = new Set(withheld);
  const out: Record<string, FieldDisclosure> = {};
  for (const name of Object.keys(event.fields).sort()) {
    const f = event.fields[name]!;
    if ('erased' in f) out[name] = { erased: f.erased };
    else if (hidden.has(name)) out[name] = { withheld: true };
    else out[name] = { value: f.value as JsonValue, salt: f.salt };
  }
  return out;
}
