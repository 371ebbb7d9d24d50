/**
 * The one mapping between an event's readable content — what the server keeps in queryable columns (actor id,
 * location, counterparty, kind-specific data) — and the committed fields of its v2 body (docs/ledger-format.md §3).
 * Read paths keep reading the columns; the writer and every verifier derive the field values from them here, so the
 * two can never drift apart.
 *
 * Mapping: `actor` = actor id; `location` when not null; the counterparty is `buyer` for SELL and `counterparty`
 * for every other kind (when not null); each data key that is a valid field name and not one of the reserved names
 * below is its own field; any other data keys (EPCIS extension keys such as `ex:temp`, or a data key that collides
 * with a reserved name) travel together in one field `extensions`, an object of exactly those keys.
 */
import type { KindV2 } from './event-v2.ts';
import { FIELD_NAME, type JsonValue } from './fields.ts';

/** The readable content of an event (the queryable columns). */
export interface ReadableContent {
  actorId: string;
  location: string | null;
  counterpartyId: string | null;
  data: { [key: string]: JsonValue };
}

const RESERVED = new Set(['actor', 'location', 'counterparty', 'buyer', 'extensions']);
const EXTENSIONS = 'extensions';

/** The field carrying an event's counterparty: SELL's is its buyer. */
export const counterpartyField = (kind: KindV2): 'buyer' | 'counterparty' => (kind === 'SELL' ? 'buyer' : 'counterparty');

/** Field name → value of an event's readable content (absent values omitted). Pure; never throws. */
export function fieldValuesOf(kind: KindV2, c: ReadableContent): Record<string, JsonValue> {
  const out: Record<string, JsonValue> = { actor: c.actorId };
  if (c.location !== null) out['location'] = c.location;
  if (c.counterpartyId !== null) out[counterpartyField(kind)] = c.counterpartyId;
  const extensions: { [key: string]: JsonValue } = {};
  let hasExtensions = false;
  for (const [k, v] of Object.entries(c.data)) {
    if (FIELD_NAME.test(k) && !RESERVED.has(k)) out[k] = v;
    else {
      extensions[k] = v;
      hasExtensions = true;
    }
  }
  if (hasExtensions) out[EXTENSIONS] = extensions;
  return out;
}

/**
 * The inverse of `fieldValuesOf`: readable content from field values. A field missing from `values` (erased) reads
 * as absent: location/counterparty null, the data key left out; `actorId` is '' when the actor field is missing.
 */
export function readableOf(kind: KindV2, values: Readonly<Record<string, JsonValue>>): ReadableContent {
  const cp = counterpartyField(kind);
  const data: { [key: string]: JsonValue } = {};
  for (const [k, v] of Object.entries(values)) {
    if (k === EXTENSIONS && typeof v === 'object' && v !== null && !Array.isArray(v)) Object.assign(data, v);
    else if (!RESERVED.has(k)) data[k] = v;
  }
  const str = (v: JsonValue | undefined): string | null => (typeof v === 'string' ? v : null);
  return { actorId: str(values['actor']) ?? '', location: str(values['location']), counterpartyId: str(values[cp]), data };
}

/**
 * Which readable column a field lives in, for erasure: `actor` cannot be erased (the actor id is what rights and
 * audits are judged by); location/counterparty/buyer clear a column; `extensions` and data fields remove data keys.
 */
export type FieldColumn = { column: 'actor' } | { column: 'location' } | { column: 'counterparty' } | { column: 'data'; keys: string[] };

export function columnOfField(kind: KindV2, field: string, values: Readonly<Record<string, JsonValue>>): FieldColumn | undefined {
  if (!(field in values)) return undefined;
  if (field === 'actor') return { column: 'actor' };
  if (field === 'location') return { column: 'location' };
  if (field === counterpartyField(kind)) return { column: 'counterparty' };
  if (field === EXTENSIONS) {
    const v = values[field];
    return { column: 'data', keys: typeof v === 'object' && v !== null && !Array.isArray(v) ? Object.keys(v) : [] };
  }
  return { column: 'data', keys: [field] };
}
