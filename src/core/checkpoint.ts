/**
 * C2SP tlog-checkpoint bodies and C2SP signed notes (golang.org/x/mod/sumdb/note compatible).
 *
 * Signing is Ed25519 (signature type 0x01) only. Verification additionally accepts, so that third-party
 * checkpoints and witness cosignatures can be checked: 0x02 ECDSA P-256 over SHA-256 (as
 * transparency-dev/formats, e.g. Rekor) and 0x04 Ed25519 timestamped cosignatures (c2sp.org/tlog-cosignature).
 * Pure: key bytes come from the caller; no clock, no randomness.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, concatBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { ed25519 } from '@noble/curves/ed25519.js';
import { p256 } from '@noble/curves/nist.js';
import { type Result, ok, err } from './result.ts';

// ---------------------------------------------------------------------------------------------
// Base64 (RFC 4648 §4, standard alphabet, padded)
// ---------------------------------------------------------------------------------------------

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_INDEX = new Map<string, number>([...B64].map((c, i) => [c, i]));

/** Standard padded base64 of `bytes`. Never fails. */
export function encodeBase64(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const a = bytes[i]!;
    const b = bytes[i + 1];
    const c = bytes[i + 2];
    const n = (a << 16) | ((b ?? 0) << 8) | (c ?? 0);
    out += B64[(n >> 18) & 63]! + B64[(n >> 12) & 63]!;
    out += b === undefined ? '=' : B64[(n >> 6) & 63]!;
    out += c === undefined ? '=' : B64[n & 63]!;
  }
  return out;
}

/**
 * Decodes standard padded base64; undefined on bad length, alphabet or padding. With `canonical`,
 * also rejects non-zero unused trailing bits (Go's StdEncoding, used for signature lines, ignores them).
 */
export function decodeBase64(s: string, canonical = true): Uint8Array | undefined {
  if (s.length % 4 !== 0) return undefined;
  const pad = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0;
  const body = s.length - pad;
  const out = new Uint8Array((s.length / 4) * 3 - pad);
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < body; i++) {
    const v = B64_INDEX.get(s[i]!);
    if (v === undefined) return undefined;
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  if (canonical && (acc & ((1 << bits) - 1)) !== 0) return undefined;
  return o === out.length ? out : undefined;
}

// ---------------------------------------------------------------------------------------------
// Checkpoint body (c2sp.org/tlog-checkpoint)
// ---------------------------------------------------------------------------------------------

/** A parsed checkpoint body. */
export type Checkpoint = { origin: string; size: number; rootHash: Uint8Array; extensions: string[] };

// Any ASCII control character other than newline (forbidden anywhere in a signed note).
const CONTROL = /[\u0000-\u0009\u000b-\u001f]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const SIZE_RE = /^(0|[1-9][0-9]*)$/;

function lineError(what: string, line: string): string | undefined {
  if (line === '') return `${what} is empty`;
  if (line.includes('\n')) return `${what} contains a newline`;
  if (CONTROL.test(line)) return `${what} contains an ASCII control character`;
  if (LONE_SURROGATE.test(line)) return `${what} is not valid Unicode`;
  return undefined;
}

/**
 * Checkpoint note text `origin\nsize\nbase64(root)\n` plus one line per extension.
 * Throws RangeError if origin/extensions are empty or contain newlines/control characters, size is not a
 * safe non-negative integer, or rootHash is not 32 bytes.
 */
export function formatCheckpoint(c: {
  origin: string;
  size: number;
  rootHash: Uint8Array;
  extensions?: readonly string[];
}): string {
  const e =
    lineError('checkpoint origin', c.origin) ??
    (c.extensions ?? []).map((x, i) => lineError(`checkpoint extension line ${i}`, x)).find((x) => x !== undefined);
  if (e) throw new RangeError(e);
  if (!Number.isSafeInteger(c.size) || c.size < 0) throw new RangeError(`checkpoint size ${c.size} is not a safe non-negative integer`);
  if (c.rootHash.length !== 32) throw new RangeError(`checkpoint root hash has ${c.rootHash.length} bytes, expected 32`);
  const lines = [c.origin, String(c.size), encodeBase64(c.rootHash), ...(c.extensions ?? [])];
  return lines.map((l) => l + '\n').join('');
}

/**
 * Parses checkpoint note text (the signed-note text, ending in newline). Errs on fewer than 3 lines, any
 * empty line, control characters, a size with sign/leading zeros/beyond 2^53-1, or a root that is not
 * canonical base64 of 32 bytes.
 */
export function parseCheckpoint(body: string): Result<Checkpoint> {
  if (!body.endsWith('\n')) return err('checkpoint must end with a newline');
  const lines = body.slice(0, -1).split('\n');
  if (lines.length < 3) return err(`checkpoint has ${lines.length} lines, expected at least 3`);
  for (let i = 0; i < lines.length; i++) {
    const e = lineError(`checkpoint line ${i + 1}`, lines[i]!);
    if (e) return err(e);
  }
  const [origin, sizeStr, rootStr] = lines as [string, string, string];
  if (!SIZE_RE.test(sizeStr) || !Number.isSafeInteger(Number(sizeStr))) {
    return err(`checkpoint tree size ${JSON.stringify(sizeStr)} is not a canonical decimal below 2^53`);
  }
  const rootHash = decodeBase64(rootStr);
  if (!rootHash || rootHash.length !== 32) return err(`checkpoint root hash ${JSON.stringify(rootStr)} is not base64 of 32 bytes`);
  return ok({ origin, size: Number(sizeStr), rootHash, extensions: lines.slice(3) });
}

// ---------------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------------

/** Signature type bytes (c2sp.org/signed-note). */
export const SIG_TYPE = { ed25519: 0x01, ecdsaP256: 0x02, cosignatureV1: 0x04 } as const;

/** A parsed verifier key. `publicKey` is the key material after the type byte (32 bytes, or DER SPKI for ECDSA). */
export type VerifierKey = {
  name: string;
  keyId: Uint8Array;
  publicKey: Uint8Array;
  type: 'ed25519' | 'ecdsa-p256' | 'cosignature-v1';
};

// Go unicode.IsSpace: Latin-1 spaces plus the Unicode White_Space characters.
const SPACE = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/;

/** Key names: non-empty, valid Unicode, no Unicode spaces, no '+'. */
function isValidName(name: string): boolean {
  return name !== '' && !SPACE.test(name) && !name.includes('+') && !LONE_SURROGATE.test(name) && !CONTROL.test(name);
}

const NL = new Uint8Array([0x0a]);

/**
 * Signed-note key ID: SHA-256(name || 0x0A || type || publicKey)[:4], type 0x01 (Ed25519) by default
 * (0x04 for cosignature keys). Never fails; callers validate name and key length.
 */
export function keyId(name: string, publicKey: Uint8Array, type: number = SIG_TYPE.ed25519): Uint8Array {
  return sha256(concatBytes(utf8ToBytes(name), NL, new Uint8Array([type]), publicKey)).slice(0, 4);
}

function checkSignerInput(name: string, key: Uint8Array, what: string): void {
  if (!isValidName(name)) throw new RangeError(`invalid key name ${JSON.stringify(name)}: must be non-empty without spaces or '+'`);
  if (key.length !== 32) throw new RangeError(`${what} has ${key.length} bytes, expected 32`);
}

/** Ed25519 public key (32 bytes) of a 32-byte private key seed. Throws RangeError if the seed is not 32 bytes. */
export function publicKeyFromPrivate(seed: Uint8Array): Uint8Array {
  if (seed.length !== 32) throw new RangeError(`Ed25519 private key seed has ${seed.length} bytes, expected 32`);
  return ed25519.getPublicKey(seed);
}

/**
 * Verifier key string `name+hex8(keyId)+base64(type || publicKey)` for an Ed25519 public key (type 0x01,
 * or 0x04 for a tlog-cosignature witness key). Throws RangeError on an invalid name or a non-32-byte key.
 */
export function verifierKeyString(
  name: string,
  publicKey: Uint8Array,
  type: typeof SIG_TYPE.ed25519 | typeof SIG_TYPE.cosignatureV1 = SIG_TYPE.ed25519,
): string {
  checkSignerInput(name, publicKey, 'Ed25519 public key');
  return `${name}+${bytesToHex(keyId(name, publicKey, type))}+${encodeBase64(concatBytes(new Uint8Array([type]), publicKey))}`;
}

/**
 * Signer key string `PRIVATE+KEY+name+hex8(keyId)+base64(0x01 || seed)` (golang.org/x/mod/sumdb/note).
 * Secret: never log it. Throws RangeError on an invalid name or a non-32-byte seed.
 */
export function signerKeyString(name: string, seed: Uint8Array): string {
  checkSignerInput(name, seed, 'Ed25519 private key seed');
  const id = bytesToHex(keyId(name, publicKeyFromPrivate(seed)));
  return `PRIVATE+KEY+${name}+${id}+${encodeBase64(concatBytes(new Uint8Array([SIG_TYPE.ed25519]), seed))}`;
}

/**
 * Parses an Ed25519 signer key string into name, key ID, seed and public key. Errs on a malformed
 * string, a non-Ed25519 type, a wrong seed length, or a key ID that does not match the derived public key.
 */
export function parseSignerKey(s: string): Result<{ name: string; keyId: Uint8Array; seed: Uint8Array; publicKey: Uint8Array }> {
  const parts = splitPlus(s, 5);
  if (!parts || parts[0] !== 'PRIVATE' || parts[1] !== 'KEY') return err('malformed signer key');
  const [, , name, hash16, key64] = parts as [string, string, string, string, string];
  const key = decodeBase64(key64);
  if (!isValidName(name) || !/^[0-9a-fA-F]{8}$/.test(hash16) || !key || key.length === 0) return err('malformed signer key');
  if (key[0] !== SIG_TYPE.ed25519) return err(`unsupported signer key algorithm 0x${key[0]!.toString(16).padStart(2, '0')}`);
  const seed = key.slice(1);
  if (seed.length !== 32) return err(`signer key seed has ${seed.length} bytes, expected 32`);
  const publicKey = publicKeyFromPrivate(seed);
  const id = keyId(name, publicKey);
  if (bytesToHex(id) !== hash16.toLowerCase()) return err('signer key hash does not match its public key');
  return ok({ name, keyId: id, seed, publicKey });
}

/** Splits on the first n-1 '+' (like Go's successive chop); undefined if there are fewer parts. */
function splitPlus(s: string, n: number): string[] | undefined {
  const out: string[] = [];
  let rest = s;
  for (let i = 0; i < n - 1; i++) {
    const j = rest.indexOf('+');
    if (j < 0) return undefined;
    out.push(rest.slice(0, j));
    rest = rest.slice(j + 1);
  }
  out.push(rest);
  return out;
}

// DER SubjectPublicKeyInfo prefix of an uncompressed NIST P-256 key (id-ecPublicKey, prime256v1).
const P256_SPKI_PREFIX = Uint8Array.from([
  0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d,
  0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
]);

/** Uncompressed SEC1 point from a P-256 SPKI, or undefined. */
function p256PointFromSpki(der: Uint8Array): Uint8Array | undefined {
  if (der.length !== P256_SPKI_PREFIX.length + 65) return undefined;
  for (let i = 0; i < P256_SPKI_PREFIX.length; i++) if (der[i] !== P256_SPKI_PREFIX[i]) return undefined;
  const point = der.slice(P256_SPKI_PREFIX.length);
  try {
    p256.Point.fromBytes(point).assertValidity();
  } catch {
    return undefined;
  }
  return point;
}

/**
 * Parses a verifier key string `name+hex8+base64(type || key)`. Types: 0x01 Ed25519, 0x04 Ed25519
 * cosignature/v1 (key ID over name), 0x02 ECDSA P-256 DER SPKI (key ID = SHA-256(SPKI)[:4]). Errs on
 * malformed strings, bad names, unknown types, wrong key lengths, invalid points, or a key ID mismatch.
 */
export function parseVerifierKey(s: string): Result<VerifierKey> {
  const parts = splitPlus(s, 3);
  if (!parts) return err('malformed verifier key');
  const [name, hash16, key64] = parts as [string, string, string];
  const key = decodeBase64(key64);
  if (!isValidName(name) || !/^[0-9a-fA-F]{8}$/.test(hash16) || !key || key.length === 0) return err('malformed verifier key');
  const type = key[0]!;
  const material = key.slice(1);
  let id: Uint8Array;
  let kind: VerifierKey['type'];
  if (type === SIG_TYPE.ed25519 || type === SIG_TYPE.cosignatureV1) {
    if (material.length !== 32) return err(`verifier key has ${material.length} key bytes, expected 32`);
    id = keyId(name, material, type);
    kind = type === SIG_TYPE.ed25519 ? 'ed25519' : 'cosignature-v1';
  } else if (type === SIG_TYPE.ecdsaP256) {
    if (!p256PointFromSpki(material)) return err('verifier key is not an uncompressed P-256 SubjectPublicKeyInfo');
    id = sha256(material).slice(0, 4);
    kind = 'ecdsa-p256';
  } else {
    return err(`unknown verifier key algorithm 0x${type.toString(16).padStart(2, '0')}`);
  }
  if (bytesToHex(id) !== hash16.toLowerCase()) return err('verifier key hash does not match its key');
  return ok({ name, keyId: id, publicKey: material, type: kind });
}

// ---------------------------------------------------------------------------------------------
// Signed notes (c2sp.org/signed-note)
// ---------------------------------------------------------------------------------------------

const SIG_PREFIX = '\u2014 '; // em dash, space
/** Maximum signature lines accepted (golang.org/x/mod/sumdb/note); C2SP requires at least 16. */
export const MAX_NOTE_SIGNATURES = 100;

function textError(text: string): string | undefined {
  if (LONE_SURROGATE.test(text)) return 'note is not valid UTF-8';
  if (CONTROL.test(text)) return 'note contains an ASCII control character other than newline';
  return undefined;
}

/**
 * Signs note `text` with an Ed25519 seed under key `name`, returning `text\n— name base64(keyId||sig)\n`.
 * Throws RangeError unless text ends in newline and is valid Unicode without control characters (besides
 * newline), name is a valid key name, and the seed is 32 bytes.
 */
export function signNote(text: string, name: string, privateKey32: Uint8Array): string {
  checkSignerInput(name, privateKey32, 'Ed25519 private key seed');
  const id = keyId(name, publicKeyFromPrivate(privateKey32));
  return appendNoteSignature(text, name, id, ed25519.sign(utf8ToBytes(checkNoteText(text)), privateKey32));
}

/** Validates note text for signing and returns it; throws RangeError as `signNote` does. */
export function checkNoteText(text: string): string {
  if (!text.endsWith('\n')) throw new RangeError('note text must end with a newline');
  const e = textError(text);
  if (e) throw new RangeError(e);
  return text;
}

/**
 * The signed note for a signature made elsewhere (e.g. a native Ed25519 signer over `checkNoteText(text)`'s UTF-8
 * bytes): `text\n— name base64(keyId||signature)\n`. Throws RangeError on a bad key id or signature length.
 */
export function appendNoteSignature(text: string, name: string, id: Uint8Array, signature: Uint8Array): string {
  if (id.length !== 4) throw new RangeError(`key id has ${id.length} bytes, expected 4`);
  if (signature.length !== 64) throw new RangeError(`Ed25519 signature has ${signature.length} bytes, expected 64`);
  return `${text}\n${SIG_PREFIX}${name} ${encodeBase64(concatBytes(id, signature))}\n`;
}

/** Outcome of a successful `verifyNote`. Key strings are `name+hex8(keyId)`. */
export type NoteVerification = {
  /** The note text, including its final newline (excluding the blank separator line). */
  text: string;
  /** Known keys whose signature verified, in note order. */
  verifiedBy: string[];
  /** Signature lines from unknown keys (ignored), deduplicated, in note order. */
  unverified: string[];
  /** Verified 0x04 witness cosignatures with their signed Unix timestamps (also listed in verifiedBy). */
  cosignatures: { key: string; timestamp: number }[];
};

const keyString = (name: string, id: Uint8Array): string => `${name}+${bytesToHex(id)}`;

function decodeNote(note: string | Uint8Array): string | undefined {
  if (typeof note === 'string') return LONE_SURROGATE.test(note) ? undefined : note;
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(note);
  } catch {
    return undefined;
  }
}

function verifySig(key: VerifierKey, text: string, textBytes: Uint8Array, sig: Uint8Array): { ok: boolean; timestamp?: number } {
  try {
    switch (key.type) {
      case 'ed25519':
        return { ok: sig.length === 64 && ed25519.verify(sig, textBytes, key.publicKey, { zip215: false }) };
      case 'cosignature-v1': {
        // c2sp.org/tlog-cosignature: sig = u64be(timestamp) || Ed25519("cosignature/v1\ntime <ts>\n" || text)
        if (sig.length !== 72 || text.split('\n').length < 3) return { ok: false };
        const ts = new DataView(sig.buffer, sig.byteOffset, 8).getBigUint64(0, false);
        const msg = concatBytes(utf8ToBytes(`cosignature/v1\ntime ${ts}\n`), textBytes);
        return { ok: ed25519.verify(sig.slice(8), msg, key.publicKey, { zip215: false }), timestamp: Number(ts) };
      }
      case 'ecdsa-p256': {
        const point = p256PointFromSpki(key.publicKey);
        // ASN.1 DER ECDSA over SHA-256(text); high-S accepted like Go's ecdsa.VerifyASN1.
        return { ok: !!point && p256.verify(sig, textBytes, point, { format: 'der', lowS: false, prehash: true }) };
      }
    }
  } catch {
    return { ok: false };
  }
}

/**
 * Opens a C2SP signed note (string, or raw bytes that must be valid UTF-8) against trusted verifier keys.
 * Errs "malformed note" (bad UTF-8, control characters, no blank line before signatures, missing final
 * newline, bad signature line, > 100 signatures), "invalid signature for key name+id" if ANY signature
 * from a known key fails, "note has no verifiable signatures" if none verifies, or on a bad/ambiguous key.
 * Unknown keys (name or ID differs) are ignored.
 */
export function verifyNote(
  note: string | Uint8Array,
  verifierKeys: readonly (string | VerifierKey)[],
): Result<NoteVerification> {
  const known = new Map<string, VerifierKey>();
  for (const k of verifierKeys) {
    const parsed = typeof k === 'string' ? parseVerifierKey(k) : ok(k);
    if (!parsed.ok) return err(`invalid verifier key: ${parsed.error}`);
    const v = parsed.value;
    const ks = keyString(v.name, v.keyId);
    const prev = known.get(ks);
    if (prev && (prev.type !== v.type || bytesToHex(prev.publicKey) !== bytesToHex(v.publicKey))) {
      return err(`ambiguous verifier key ${ks}`);
    }
    known.set(ks, v);
  }

  const msg = decodeNote(note);
  if (msg === undefined || CONTROL.test(msg)) return err('malformed note');
  const split = msg.lastIndexOf('\n\n');
  if (split < 0) return err('malformed note');
  const text = msg.slice(0, split + 1);
  const sigs = msg.slice(split + 2);
  if (sigs === '' || !sigs.endsWith('\n')) return err('malformed note');
  const lines = sigs.slice(0, -1).split('\n');
  if (lines.length > MAX_NOTE_SIGNATURES) return err('malformed note');

  const textBytes = utf8ToBytes(text);
  const out: NoteVerification = { text, verifiedBy: [], unverified: [], cosignatures: [] };
  const seenUnverified = new Set<string>();
  for (const line of lines) {
    if (!line.startsWith(SIG_PREFIX)) return err('malformed note');
    const rest = line.slice(SIG_PREFIX.length);
    const sp = rest.indexOf(' ');
    const name = sp < 0 ? rest : rest.slice(0, sp);
    const b64 = sp < 0 ? '' : rest.slice(sp + 1);
    const blob = decodeBase64(b64, false);
    if (!isValidName(name) || b64 === '' || !blob || blob.length < 5) return err('malformed note');
    const ks = keyString(name, blob.subarray(0, 4));
    const key = known.get(ks);
    if (!key) {
      if (!seenUnverified.has(line)) {
        seenUnverified.add(line);
        out.unverified.push(ks);
      }
      continue;
    }
    // Every signature line from a known key is verified (also repeats; x/mod skips repeats).
    const r = verifySig(key, text, textBytes, blob.subarray(4));
    if (!r.ok) return err(`invalid signature for key ${ks}`);
    if (!out.verifiedBy.includes(ks)) {
      out.verifiedBy.push(ks);
      if (r.timestamp !== undefined) out.cosignatures.push({ key: ks, timestamp: r.timestamp });
    }
  }
  if (out.verifiedBy.length === 0) return err('note has no verifiable signatures');
  return ok(out);
}

/**
 * Opens a signed checkpoint: `verifyNote` then `parseCheckpoint` on its text, optionally requiring
 * `origin`. Errs with the first failure. Callers needing a specific signer must check `verifiedBy`.
 */
export function verifyCheckpoint(
  note: string | Uint8Array,
  verifierKeys: readonly (string | VerifierKey)[],
  expectedOrigin?: string,
): Result<Checkpoint & { verifiedBy: string[]; cosignatures: NoteVerification['cosignatures'] }> {
  const n = verifyNote(note, verifierKeys);
  if (!n.ok) return n;
  const c = parseCheckpoint(n.value.text);
  if (!c.ok) return c;
  if (expectedOrigin !== undefined && c.value.origin !== expectedOrigin) {
    return err(`checkpoint origin ${JSON.stringify(c.value.origin)} does not match expected ${JSON.stringify(expectedOrigin)}`);
  }
  return ok({ ...c.value, verifiedBy: n.value.verifiedBy, cosignatures: n.value.cosignatures });
}
