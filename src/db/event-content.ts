/**
 * The one mapping from a stored event row to its bodies, shared by audit, item verification, proof bundles and the
 * EPCIS export: the v1 body its columns reproduce, the v2 full event (values + salts, erased commitments) and the
 * readable v1-shaped body an export shows. Field values come from the readable columns through core
 * `fieldValuesOf` (core/v2/event-fields.ts), so the columns stay the only copy of each value.
 */
import { type EventBody, canonicalEventBody } from '../core/chain.ts';
import type { LedgerKind } from '../core/lifecycle.ts';
import { formatInstant } from '../core/time.ts';
import { fieldValuesOf } from '../core/v2/event-fields.ts';
import { type EventBodyV2, type FullEventV2, type KindV2, hashEventV2 } from '../core/v2/event-v2.ts';
import type { JsonValue } from '../core/v2/fields.ts';
import type { Sha256 } from '../core/v2/hash.ts';
import type { EventRow } from './types.ts';

/** The columns of an event row the mapping reads. */
export type StoredEventColumns = Pick<
  EventRow,
  'kind' | 'actor_id' | 'occurred_at' | 'tz_offset' | 'recorded_at' | 'location' | 'counterparty_id' | 'data' | 'body' | 'format' | 'field_salts' | 'erased' | 'signature'
>;

// field_salts is stored compactly (issue 11, storage per event): per field, in name order, the name's UTF-8 length as
// an unsigned LEB128 varint, the name, then the 16 salt bytes. A jsonb of hex strings took about twice the bytes.
const SALT_BYTES = 16;
const HEX_SALT = /^[0-9a-f]{32}$/;

/** The stored form of field name → salt (32 lowercase hex characters). Throws RangeError on any other salt. */
export function encodeFieldSalts(salts: Readonly<Record<string, string>>): Uint8Array {
  const parts: number[] = [];
  for (const name of Object.keys(salts).sort()) {
    const salt = salts[name]!;
    if (!HEX_SALT.test(salt)) throw new RangeError(`field ${name}: salt is not 32 lowercase hex characters`);
    const n = Buffer.from(name, 'utf8');
    for (let len = n.length; ; len >>>= 7) {
      if (len < 0x80) {
        parts.push(len);
        break;
      }
      parts.push((len & 0x7f) | 0x80);
    }
    parts.push(...n, ...Buffer.from(salt, 'hex'));
  }
  return Uint8Array.from(parts);
}

/** Field name → hex salt from the stored form ({} for null). Throws RangeError when the bytes are not that form. */
export function decodeFieldSalts(stored: Uint8Array | null): Record<string, string> {
  const out: Record<string, string> = {};
  if (!stored) return out;
  const b = Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength);
  let i = 0;
  while (i < b.length) {
    let len = 0;
    for (let shift = 0; ; shift += 7) {
      if (i >= b.length || shift > 28) throw new RangeError('stored field salts are malformed');
      const byte = b[i++]!;
      len += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) break;
    }
    if (i + len + SALT_BYTES > b.length) throw new RangeError('stored field salts are malformed');
    out[b.toString('utf8', i, i + len)] = b.toString('hex', i + len, i + len + SALT_BYTES);
    i += len + SALT_BYTES;
  }
  return out;
}

/** 1 or 2 (rows written before format v2 have 1). */
export const formatOf = (r: Pick<EventRow, 'format'>): 1 | 2 => (Number(r.format) === 2 ? 2 : 1);

/**
 * The readable, v1-shaped body of an event: kind, actor, times, location, counterparty, data (erased fields absent)
 * and `items`, the SGTIN URNs it covers (a v1 body lists them; a v2 event's come from its chain links). What the EPCIS
 * export and v1 verification read.
 */
export function readableBodyOf(r: StoredEventColumns, items: readonly string[]): EventBody {
  return {
    kind: r.kind as LedgerKind,
    actor: r.actor_id,
    occurredAt: formatInstant(r.occurred_at),
    timezoneOffset: r.tz_offset,
    recordedAt: formatInstant(r.recorded_at),
    location: r.location,
    counterparty: r.counterparty_id,
    data: r.data as EventBody['data'],
    items: [...items],
  };
}

/** The item list of a stored v1 body ([] when it has none). */
export function v1ItemsOf(body: string): string[] {
  try {
    const items = (JSON.parse(body) as { items?: unknown }).items;
    return Array.isArray(items) ? items.filter((i): i is string => typeof i === 'string') : [];
  } catch {
    return [];
  }
}

/**
 * A v2 row as a full event: each committed field's value from the readable columns with its stored salt, or, when
 * erased, its commitment (from the stored body) and the ERASE event's content hash; times from the columns; items
 * root and signer from the stored body. `problem` when the columns cannot form one (a value without salt, …).
 */
export function fullEventOf(r: StoredEventColumns): { event: FullEventV2 } | { problem: string } {
  let stored: { fields?: Record<string, string>; items?: string; signer?: string };
  try {
    stored = JSON.parse(r.body) as typeof stored;
  } catch {
    return { problem: 'stored body is not JSON' };
  }
  const kind = r.kind as KindV2;
  const values = fieldValuesOf(kind as LedgerKind, { actorId: r.actor_id, location: r.location, counterpartyId: r.counterparty_id, data: r.data as Record<string, JsonValue> });
  let salts: Record<string, string>;
  try {
    salts = decodeFieldSalts(r.field_salts);
  } catch (e) {
    return { problem: (e as Error).message };
  }
  const erased = r.erased ?? {};
  const fields: FullEventV2['fields'] = {};
  for (const [name, value] of Object.entries(values)) {
    const salt = salts[name];
    if (salt === undefined) return { problem: `field ${name} has a value but no salt` };
    fields[name] = { value, salt };
  }
  for (const [name, by] of Object.entries(erased)) {
    if (name in fields) return { problem: `field ${name} is marked erased but still has a value` };
    const commitment = stored.fields?.[name];
    if (typeof commitment !== 'string') return { problem: `field ${name} is marked erased but the body commits no such field` };
    fields[name] = { commitment, erased: by };
  }
  const event: FullEventV2 = {
    kind,
    occurredAt: formatInstant(r.occurred_at),
    timezoneOffset: r.tz_offset,
    recordedAt: formatInstant(r.recorded_at),
    fields,
    items: typeof stored.items === 'string' ? stored.items : '',
  };
  if (stored.signer !== undefined) event.signer = stored.signer;
  if (r.signature) event.signature = Buffer.from(r.signature).toString('base64');
  return { event };
}

/**
 * The canonical body the stored columns reproduce (v1: with `items`, the item list the caller judges right — the
 * chain links in an audit), or why they cannot. Comparing it with the stored body checks every value (and, in v2,
 * every salt) against the hash.
 */
export function expectedBodyOf(r: StoredEventColumns, v1Items: readonly string[], sha256?: Sha256): string | { problem: string } {
  const x = expectedContentOf(r, v1Items, sha256);
  return 'problem' in x ? x : x.canonical;
}

/**
 * As `expectedBodyOf`, with (v2) the content hash of that canonical body and the body object, computed on the way:
 * when it equals the stored body, the caller need neither hash nor parse the stored body again. `sha256` hashes field commitments and the body.
 */
export function expectedContentOf(
  r: StoredEventColumns,
  v1Items: readonly string[],
  sha256?: Sha256,
): { canonical: string; contentHash?: Uint8Array; body?: EventBodyV2 } | { problem: string } {
  if (formatOf(r) === 1) return { canonical: canonicalEventBody(readableBodyOf(r, v1Items)) };
  const full = fullEventOf(r);
  if ('problem' in full) return full;
  try {
    return hashEventV2(full.event, sha256);
  } catch (e) {
    return { problem: (e as Error).message };
  }
}

export type { JsonValue };
