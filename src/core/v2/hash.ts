/**
 * Hashing primitives of ledger format v2 (docs/ledger-format.md §2). Every function that hashes takes an optional
 * `Sha256` so a server can inject a native implementation; the default is @noble/hashes (runs in browsers).
 */
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { concatBytes, utf8 } from '../bytes.ts';

/** SHA-256 of one byte string; must return 32 bytes. */
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

/** Lowercase hex of exactly 32 bytes (64 chars), or 16 bytes (32 chars) for salts. */
export const HEX32 = /^[0-9a-f]{64}$/;
export const HEX16 = /^[0-9a-f]{32}$/;
