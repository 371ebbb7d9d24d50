import { sha256 } from '@noble/hashes/sha2.js';
import { bytesEqual, concatBytes, toHex, u32be, utf8 } from './bytes.ts';
import { canonicalize } from './jcs.ts';
import type { LedgerKind } from './lifecycle.ts';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Every recorded field of an event that is hashed (DESIGN.md "Hashes"). */
export interface EventBody {
  kind: LedgerKind;
  /** Recording actor's id. */
  actor: string;
  /** RFC 3339 UTC, millisecond precision. */
  occurredAt: string;
  /** The submitter's offset, `±HH:MM`. */
  timezoneOffset: string;
  recordedAt: string;
  location: string | null;
  counterparty: string | null;
  data: { [key: string]: JsonValue };
  /** SGTIN URNs, sorted by code unit. */
  items: string[];
}

const EVENT_DOMAIN = utf8('provenant:event:v1\n');
const LINK_DOMAIN = utf8('provenant:link:v1\n');
export const ZERO_HASH = new Uint8Array(32);

/** The exact bytes that are hashed and stored: RFC 8785 JCS of the body with items sorted. */
export function canonicalEventBody(body: EventBody): string {
  return canonicalize({ ...body, items: [...body.items].sort() });
}

/** contentHash = SHA-256("provenant:event:v1\n" || canonicalBody). Takes the canonical text, not the object. */
export const contentHashOf = (canonicalBody: string): Uint8Array => sha256(concatBytes(EVENT_DOMAIN, utf8(canonicalBody)));

/** link.hash = SHA-256("provenant:link:v1\n" || prevHash || contentHash || utf8(sgtin) || u32be(seq)). */
export function linkHash(prevHash: Uint8Array, contentHash: Uint8Array, sgtin: string, seq: number): Uint8Array {
  return sha256(concatBytes(LINK_DOMAIN, prevHash, contentHash, utf8(sgtin), u32be(seq)));
}

export interface StoredLink {
  seq: number;
  prevHash: Uint8Array;
  hash: Uint8Array;
  /** The canonical body text as stored. */
  body: string;
  contentHash: Uint8Array;
  /** The event's fields as stored beside the body (queryable columns); compared with the body when given. */
  fields?: EventBody;
}

export interface ChainVerification {
  valid: boolean;
  length: number;
  headHash: Uint8Array | null;
  firstInvalidSeq: number | null;
  reason: string | null;
}

/**
 * Recomputes one item's chain from its stored links (any order; sorted by seq here). Reports the first seq whose
 * body, content hash, membership, predecessor or link hash does not check out. An empty chain is invalid.
 */
export function verifyItemChain(sgtin: string, stored: readonly StoredLink[]): ChainVerification {
  const links = [...stored].sort((a, b) => a.seq - b.seq);
  const fail = (seq: number, reason: string): ChainVerification => ({ valid: false, length: links.length, headHash: null, firstInvalidSeq: seq, reason });
  if (links.length === 0) return fail(0, 'item has no chain links');
  let prev: Uint8Array = ZERO_HASH;
  for (let i = 0; i < links.length; i++) {
    const link = links[i]!;
    if (link.seq !== i) return fail(i, `link seq ${i} is missing (next stored seq is ${link.seq})`);
    if (!bytesEqual(contentHashOf(link.body), link.contentHash)) {
      return fail(i, `event content hash mismatch: body hashes to ${toHex(contentHashOf(link.body))}, stored ${toHex(link.contentHash)}`);
    }
    let body: EventBody;
    try {
      body = JSON.parse(link.body) as EventBody;
    } catch {
      return fail(i, 'stored event body is not JSON');
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return fail(i, 'stored event body is not a JSON object');
    if (link.fields && canonicalEventBody(link.fields) !== link.body) {
      return fail(i, `stored event fields differ from the hashed body (${diffFields(link.fields, body)})`);
    }
    if (i === 0 && body.kind !== 'COMMISSION') return fail(0, `chain starts with ${body.kind}, expected COMMISSION`);
    if (!Array.isArray(body.items) || !body.items.includes(sgtin)) return fail(i, `event does not cover item ${sgtin}`);
    if (!bytesEqual(link.prevHash, prev)) return fail(i, 'prevHash does not equal the previous link hash');
    const expected = linkHash(prev, link.contentHash, sgtin, i);
    if (!bytesEqual(expected, link.hash)) return fail(i, 'link hash mismatch');
    prev = link.hash;
  }
  return { valid: true, length: links.length, headHash: prev, firstInvalidSeq: null, reason: null };
}

/** Names the fields whose canonical JSON differs between stored columns and the hashed body. */
export function diffFields(fields: EventBody, body: EventBody): string {
  const names = (Object.keys(fields) as (keyof EventBody)[]).filter((k) => canonicalize(fields[k] ?? null) !== canonicalize(body[k] ?? null));
  return names.length ? `field ${names.join(', ')}` : 'encoding';
}
