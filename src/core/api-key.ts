import { sha256 } from '@noble/hashes/sha2.js';
import { utf8 } from './bytes.ts';

/** API keys are `pvn_` + base64url of ≥ 16 random bytes; the server stores only `apiKeyHash`. */
export const API_KEY_PATTERN = /^pvn_[A-Za-z0-9_-]{22,}$/;

export const isWellFormedApiKey = (key: string): boolean => API_KEY_PATTERN.test(key);

/** SHA-256 of the key's UTF-8 bytes; the only form a key is kept in. */
export const apiKeyHash = (key: string): Uint8Array => sha256(utf8(key));

/** A short, non-secret label shown in listings (prefix of the key's hash, never of the key). */
export const apiKeyHint = (hash: Uint8Array): string =>
  'pvn_…' + Array.from(hash.slice(0, 3), (b) => b.toString(16).padStart(2, '0')).join('');
