/**
 * Hashing primitives of ledger format v2 (docs/ledger-format.md §2). Every function that hashes takes an optional
 * `Sha256` so a server can inject a native implementation; the default is @noble/hashes (runs in browsers).
 */
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { concatBytes, utf8 } from '../bytes.ts';

/**
 * SHA-256 of one byte string; must return 32 bytes (its own array) and keep no reference to `data` once it returns:
 * callers hash views of reused scratch buffers.
 */
export type Sha256 = (data: Uint8Array) => Uint8Array;

export const defaultSha256: Sha256 = nobleSha256;

/** Domain-separation prefixes (ASCII, each ending in a newline byte). */
export const DOMAIN = {
  event: utf8('provenant:event:v2\n'),
  field: utf8('provenant:field:v2\n'),
  item: utf8('provenant:item:v2\n'),
  link: utf8('provenant:link:v2\n'),
  pad: utf8('provenant:pad:v2\n'),
  key: utf8('provenant:key:v2\n'),
  head: utf8('provenant:head:v2\n'),
  noItems: utf8('provenant:no-items:v2\n'),
} as const;

/** Concatenates byte strings into one buffer (core/bytes.ts). */
export const cat = concatBytes;

const SCRATCH = new Uint8Array(16_384);
const encoder = new TextEncoder();

/**
 * `sha256` of the concatenation of `parts` (bytes as they are, text as UTF-8), written into one reused buffer instead
 * of a fresh one per part and per call (an audit hashes a million small inputs; their garbage cost more than copying).
 * Inputs too long for the buffer are concatenated as before. Hashing is synchronous, so the buffer is free again on return.
 */
export function sha256Of(sha256: Sha256, ...parts: (Uint8Array | string)[]): Uint8Array {
  let o = 0;
  for (const p of parts) {
    if (typeof p === 'string') {
      // UTF-8 takes at most 3 bytes per UTF-16 code unit.
      if (o + 3 * p.length > SCRATCH.length) return sha256(cat(...parts.map((x) => (typeof x === 'string' ? utf8(x) : x))));
      o += encoder.encodeInto(p, SCRATCH.subarray(o)).written;
    } else {
      if (o + p.length > SCRATCH.length) return sha256(cat(...parts.map((x) => (typeof x === 'string' ? utf8(x) : x))));
      SCRATCH.set(p, o);
      o += p.length;
    }
  }
  return sha256(SCRATCH.subarray(0, o));
}

/** Lowercase hex of exactly 32 bytes (64 chars), or 16 bytes (32 chars) for salts. */
export const HEX32 = /^[0-9a-f]{64}$/;
export const HEX16 = /^[0-9a-f]{32}$/;
