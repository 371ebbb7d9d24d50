/**
 * Per-field commitments (docs/ledger-format.md §3): every per-event datum except kind and times is committed on
 * its own so it can be withheld from a reader or erased while the event's content hash stays valid.
 */
import { fromHex, toHex } from '../bytes.ts';
import { canonicalize } from '../jcs.ts';
import type { JsonValue } from '../chain.ts';
import { DOMAIN, HEX16, HEX32, type Sha256, defaultSha256, sha256Of } from './hash.ts';

export type { JsonValue };

/** Field names: lowercase ASCII letters/digits, starting with a letter (they are hashed as UTF-8 before a 0x0A). */
export const FIELD_NAME = /^[a-z][a-zA-Z0-9]{0,63}$/;

/** How a bundle shows one committed field. */
export type FieldDisclosure = { value: JsonValue; salt: string } | { withheld: true } | { erased: string };

/**
 * commitment = SHA-256("provenant:field:v2\n" || salt(16) || utf8(name) || 0x0A || utf8(JCS(value))).
 * Throws RangeError on a salt that is not 16 bytes or a bad name; TypeError (from JCS) on a non-JSON value.
 */
export function fieldCommitment(name: string, value: JsonValue, salt: Uint8Array, sha256: Sha256 = defaultSha256): Uint8Array {
  if (salt.length !== 16) throw new RangeError(`field salt has ${salt.length} bytes, expected 16`);
  if (!FIELD_NAME.test(name)) throw new RangeError(`field name ${JSON.stringify(name)} is not a valid field name`);
  return sha256Of(sha256, DOMAIN.field, salt, name, NL, canonicalize(value));
}
const NL = new Uint8Array([0x0a]);

/** Hex form of `fieldCommitment` with a hex salt. Throws like `fieldCommitment`, or on a salt that is not 32 hex chars. */
export function fieldCommitmentHex(name: string, value: JsonValue, saltHex: string, sha256: Sha256 = defaultSha256): string {
  if (!HEX16.test(saltHex)) throw new RangeError('field salt is not 32 lowercase hex characters');
  return toHex(fieldCommitment(name, value, fromHex(saltHex)!, sha256));
}

/**
 * Whether a disclosed value and salt open `commitmentHex`. Never throws: a malformed salt, name or a value that
 * JCS rejects simply does not open.
 */
export function opensField(name: string, value: unknown, saltHex: unknown, commitmentHex: string, sha256: Sha256 = defaultSha256): boolean {
  if (typeof saltHex !== 'string' || !HEX16.test(saltHex) || !HEX32.test(commitmentHex)) return false;
  try {
    return fieldCommitmentHex(name, value as JsonValue, saltHex, sha256) === commitmentHex;
  } catch {
    return false;
  }
}
