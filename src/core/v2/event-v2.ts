/**
 * Event bodies, content hashes and link hashes of ledger format v2 (docs/ledger-format.md §4, §6).
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { fromHex, toHex } from '../bytes.ts';
import { canonicalize } from '../jcs.ts';
import { LEDGER_KINDS, type LedgerKind } from '../lifecycle.ts';
import { type JsonValue, fieldCommitmentHex, FIELD_NAME } from './fields.ts';
import { DOMAIN, HEX16, HEX32, type Sha256, defaultSha256, sha256Of } from './hash.ts';

export const EVENT_FORMAT_V2 = 'provenant/event/v2';

/** Every kind a v2 body may carry: the ledger kinds plus ERASE (erasure of one field of an earlier event). */
export type KindV2 = LedgerKind | 'ERASE';
export const KINDS_V2: readonly KindV2[] = [...LEDGER_KINDS, 'ERASE'];

/** The hashed body of a v2 event. */
export interface EventBodyV2 {
  format: typeof EVENT_FORMAT_V2;
  kind: KindV2;
  /** RFC 3339 UTC with milliseconds, `YYYY-MM-DDTHH:MM:SS.sssZ`. */
  occurredAt: string;
  /** `±HH:MM`. */
  timezoneOffset: string;
  recordedAt: string;
  /** Field name → hex field commitment. */
  fields: Record<string, string>;
  /** Hex items root (noItemsRoot() for ERASE). */
  items: string;
  /** Hex Ed25519 public key of the actor that signed the content hash, when it did. */
  signer?: string;
}

/** Field names every body of a kind must commit to (checked by the verifier's `content` step). */
export function requiredFields(kind: KindV2): readonly string[] {
  switch (kind) {
    case 'ERASE':
      return ['actor', 'field', 'reason', 'target'];
    case 'SHIP':
    case 'RETURN':
      return ['actor', 'counterparty'];
    default:
      return ['actor'];
  }
}

export const INSTANT = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{3}Z$/;
export const OFFSET = /^[+-]([01]\d|2[0-3]):[0-5]\d$/;
const BODY_KEYS = new Set(['format', 'kind', 'occurredAt', 'timezoneOffset', 'recordedAt', 'fields', 'items', 'signer']);

/** The canonical text of a v2 body (RFC 8785), exactly the bytes that are hashed. Throws TypeError on non-JSON. */
export function canonicalBodyV2(body: EventBodyV2): string {
  // Servers and audits write one per event: a body of the usual shape (the known keys, every value a string) is
  // written directly, keys in JCS order (fields < format < items < kind < occurredAt < recordedAt < signer <
  // timezoneOffset; field names sorted by UTF-16 code units) and strings as JSON.stringify writes them, which is JCS's
  // own string form. The tests assert it equals canonicalize on such bodies; anything else goes through canonicalize.
  const b = body as unknown as Record<string, unknown>;
  const keys = Object.keys(b);
  const f = b.fields;
  const str = (v: unknown): v is string => typeof v === 'string';
  if (
    keys.length === (b.signer === undefined ? 7 : 8) && !keys.some((k) => !BODY_KEYS.has(k)) &&
    str(b.format) && str(b.kind) && str(b.occurredAt) && str(b.timezoneOffset) && str(b.recordedAt) && str(b.items) &&
    (b.signer === undefined || str(b.signer)) &&
    typeof f === 'object' && f !== null && Object.getPrototypeOf(f) === Object.prototype
  ) {
    const names = Object.keys(f).sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
    let fields = '';
    let plain = true;
    for (const n of names) {
      const v = (f as Record<string, unknown>)[n];
      if (!str(v)) {
        plain = false;
        break;
      }
      fields += `${fields ? ',' : ''}${JSON.stringify(n)}:${JSON.stringify(v)}`;
    }
    if (plain) {
      const J = JSON.stringify;
      return `{"fields":{${fields}},"format":${J(b.format)},"items":${J(b.items)},"kind":${J(b.kind)},"occurredAt":${J(b.occurredAt)},` +
        `"recordedAt":${J(b.recordedAt)}${b.signer === undefined ? '' : `,"signer":${J(b.signer)}`},"timezoneOffset":${J(b.timezoneOffset)}}`;
    }
  }
  return canonicalize(body as unknown as JsonValue);
}

/** contentHash = SHA-256("provenant:event:v2\n" || canonical body text). */
export const contentHashV2 = (canonicalBody: string, sha256: Sha256 = defaultSha256): Uint8Array =>
  sha256Of(sha256, DOMAIN.event, canonicalBody);

/** link hash v2 = SHA-256("provenant:link:v2\n" || contentHash || entry). Both 32 bytes. */
export const linkHashV2 = (contentHash: Uint8Array, entry: Uint8Array, sha256: Sha256 = defaultSha256): Uint8Array =>
  sha256Of(sha256, DOMAIN.link, contentHash, entry);

/**
 * Checks the shape of a parsed v2 body: exact key set, format, known kind, times, hex commitments with valid names,
 * the kind's required fields, items root and signer. Returns a message naming the first problem, or undefined.
 */
export function bodyV2Error(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'body is not a JSON object';
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b)) if (!BODY_KEYS.has(k)) return `body has unknown key ${JSON.stringify(k)}`;
  if (b.format !== EVENT_FORMAT_V2) return `body format is ${JSON.stringify(b.format ?? null)}, expected ${EVENT_FORMAT_V2}`;
  if (typeof b.kind !== 'string' || !(KINDS_V2 as readonly string[]).includes(b.kind)) return `body has unknown event kind ${JSON.stringify(b.kind ?? null)}`;
  for (const t of ['occurredAt', 'recordedAt'] as const) {
    if (typeof b[t] !== 'string' || !INSTANT.test(b[t] as string)) return `body ${t} is not an RFC 3339 UTC instant with milliseconds`;
  }
  if (typeof b.timezoneOffset !== 'string' || !OFFSET.test(b.timezoneOffset)) return 'body timezoneOffset is not ±HH:MM';
  const f = b.fields;
  if (typeof f !== 'object' || f === null || Array.isArray(f)) return 'body fields is not an object';
  for (const [name, c] of Object.entries(f)) {
    if (!FIELD_NAME.test(name)) return `body field name ${JSON.stringify(name)} is not valid`;
    if (typeof c !== 'string' || !HEX32.test(c)) return `body field ${name} is not a 64-hex commitment`;
  }
  for (const r of requiredFields(b.kind as KindV2)) if (!(r in f)) return `${b.kind} body lacks the required field ${r}`;
  if (typeof b.items !== 'string' || !HEX32.test(b.items)) return 'body items is not a 64-hex root';
  if (b.signer !== undefined && (typeof b.signer !== 'string' || !HEX32.test(b.signer))) return 'body signer is not a 64-hex Ed25519 public key';
  return undefined;
}

/** A v2 event as the server holds it: body data plus every field's value and salt (erased ones: commitment only). */
export interface FullEventV2 {
  kind: KindV2;
  occurredAt: string;
  timezoneOffset: string;
  recordedAt: string;
  /** name → opening; an erased field keeps only its commitment and the ERASE event's content hash. */
  fields: Record<string, { value: JsonValue; salt: string } | { commitment: string; erased: string }>;
  /** Hex items root. */
  items: string;
  signer?: string;
  /** Base64 Ed25519 signature over the 32-byte content hash by `signer`. */
  signature?: string;
}

/**
 * The hashed body of a full event (commitments computed from values and salts). Throws RangeError on a bad salt
 * or name, TypeError on a non-JSON value.
 */
export function bodyOf(e: FullEventV2, sha256: Sha256 = defaultSha256): EventBodyV2 {
  const fields: Record<string, string> = {};
  for (const [name, f] of Object.entries(e.fields)) {
    fields[name] = 'commitment' in f ? f.commitment : fieldCommitmentHex(name, f.value, f.salt, sha256);
  }
  const body: EventBodyV2 = {
    format: EVENT_FORMAT_V2,
    kind: e.kind,
    occurredAt: e.occurredAt,
    timezoneOffset: e.timezoneOffset,
    recordedAt: e.recordedAt,
    fields,
    items: e.items,
  };
  if (e.signer !== undefined) body.signer = e.signer;
  return body;
}

/** Canonical body text and content hash of a full event. Throws like `bodyOf`. */
export function hashEventV2(e: FullEventV2, sha256: Sha256 = defaultSha256): { body: EventBodyV2; canonical: string; contentHash: Uint8Array } {
  const body = bodyOf(e, sha256);
  const canonical = canonicalBodyV2(body);
  return { body, canonical, contentHash: contentHashV2(canonical, sha256) };
}

/** Actor signature: Ed25519 over the 32-byte content hash (phase 2 of the two-phase submit). */
export function signContentHash(contentHash: Uint8Array, actorSeed: Uint8Array): Uint8Array {
  return ed25519.sign(contentHash, actorSeed);
}

/** Whether `signature` (64 bytes) by `signerHex` verifies over `contentHash`. Never throws. */
export function verifyActorSignature(contentHash: Uint8Array, signature: Uint8Array, signerHex: string): boolean {
  try {
    const pk = HEX32.test(signerHex) ? fromHex(signerHex) : undefined;
    return !!pk && signature.length === 64 && ed25519.verify(signature, contentHash, pk, { zip215: false });
  } catch {
    return false;
  }
}

/** A random-looking salt from caller-provided bytes (core has no randomness). Throws unless 16 bytes. */
export function saltHex(bytes: Uint8Array): string {
  if (bytes.length !== 16) throw new RangeError(`salt has ${bytes.length} bytes, expected 16`);
  const s = toHex(bytes);
  if (!HEX16.test(s)) throw new RangeError('salt is not hex');
  return s;
}
