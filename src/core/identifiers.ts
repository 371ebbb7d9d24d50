/**
 * GS1 identifiers: GTIN and SSCC keys, AI 21 serials, SGTIN/SSCC EPC URNs (GS1 EPC Tag Data Standard 2.x)
 * and GS1 Digital Link URIs, plus the EPCIS event-hash normaliser that maps any EPC URI or Digital Link
 * onto the constrained canonical Digital Link.
 */
import { type Result, err, ok } from './result.ts';

const DIGITS = /^[0-9]+$/;
/** GS1 AI encodable character set 82 (GS1 General Specifications, figure 7.11-1). */
const CSET82_CHAR = /^[!"%&'()*+,\-./0-9:;<=>?A-Z_a-z]$/;
const SGTIN_PREFIX = 'urn:epc:id:sgtin:';
const SSCC_PREFIX = 'urn:epc:id:sscc:';
const CANONICAL_DL_ORIGIN = 'https://id.gs1.org';

// ---------------------------------------------------------------------------------------------------------------
// Keys and check digits

/**
 * GS1 mod-10 check digit (General Specifications §7.9.1) for the digits that precede it, for any key length.
 * @throws RangeError if `digitsWithoutCheck` is empty or holds anything but ASCII digits (a programming error).
 */
export function gs1CheckDigit(digitsWithoutCheck: string): number {
  if (!DIGITS.test(digitsWithoutCheck)) throw new RangeError(`gs1CheckDigit: ${JSON.stringify(digitsWithoutCheck)} is not a digit string`);
  let sum = 0;
  // Weights alternate 3,1,3,… starting from the digit nearest the check digit, so leading zeros never matter.
  for (let i = digitsWithoutCheck.length - 1, weight = 3; i >= 0; i--, weight = 4 - weight) {
    sum += (digitsWithoutCheck.charCodeAt(i) - 48) * weight;
  }
  return (10 - (sum % 10)) % 10;
}

function withCheckDigit(digits: string): string {
  return digits + String(gs1CheckDigit(digits));
}

function checkDigitError(kind: string, key: string): string | undefined {
  const expected = gs1CheckDigit(key.slice(0, -1));
  const actual = key.charCodeAt(key.length - 1) - 48;
  return actual === expected ? undefined : `${kind} check digit is ${actual}, expected ${expected}`;
}

/**
 * Validates a GTIN-8, -12, -13 or -14 (ASCII digits only, no whitespace) and returns its 14-digit form.
 * Fails with "GTIN must be 8, 12, 13 or 14 digits" or "GTIN check digit is X, expected Y".
 */
export function normalizeGtin(input: string): Result<string> {
  if (!DIGITS.test(input) || ![8, 12, 13, 14].includes(input.length)) return err('GTIN must be 8, 12, 13 or 14 digits');
  const bad = checkDigitError('GTIN', input);
  return bad === undefined ? ok(input.padStart(14, '0')) : err(bad);
}

/**
 * Validates an SSCC (AI 00): exactly 18 ASCII digits with a correct check digit; returns it unchanged.
 * Fails with "SSCC must be 18 digits" or "SSCC check digit is X, expected Y".
 */
export function normalizeSscc(input: string): Result<string> {
  if (!DIGITS.test(input) || input.length !== 18) return err('SSCC must be 18 digits');
  const bad = checkDigitError('SSCC', input);
  return bad === undefined ? ok(input) : err(bad);
}

/**
 * Validates a serial number (AI 21): 1–20 characters of GS1 AI encodable character set 82; returns it unchanged.
 * Fails with a message naming the length rule or the first offending character and its 1-based position.
 */
export function validateSerial(serial: string): Result<string> {
  return validateCset82('serial', serial, 20);
}

/** Validates an AI value of GS1 character set 82 of 1–`max` characters (`what` names it in the message). */
export function validateCset82(what: string, value: string, max: number): Result<string> {
  const chars = [...value];
  if (chars.length < 1 || chars.length > max) return err(`${what} must be 1 to ${max} characters, got ${chars.length}`);
  const at = chars.findIndex((c) => !CSET82_CHAR.test(c));
  if (at >= 0) return err(`${what} character ${JSON.stringify(chars[at])} at position ${at + 1} is not in GS1 character set 82`);
  return ok(value);
}

/**
 * The registered GS1 company prefix carried by a GTIN-14 (the digits right after the indicator digit).
 * Entries of `prefixes` that are not 6–12 digits are ignored; the longest match wins. Undefined if none
 * matches or `gtin14` is not 14 digits.
 */
export function companyPrefixFor(gtin14: string, prefixes: readonly string[]): string | undefined {
  if (!DIGITS.test(gtin14) || gtin14.length !== 14) return undefined;
  let best: string | undefined;
  for (const prefix of prefixes) {
    if (prefix.length < 6 || prefix.length > 12 || !DIGITS.test(prefix)) continue;
    if (gtin14.startsWith(prefix, 1) && (best === undefined || prefix.length > best.length)) best = prefix;
  }
  return best;
}

// ---------------------------------------------------------------------------------------------------------------
// Percent-encoding

/** TDS 2.x table I.3.1-1: of CSET 82, only these must be escaped in an EPC URI; all others stay literal. */
const URN_ESCAPED = new Set(['"', '%', '&', '/', '<', '>', '?']);
/** RFC 3986 unreserved characters: the only ones left literal in a Digital Link path value. */
const DL_UNRESERVED = /^[A-Za-z0-9\-._~]$/;

function hexEscape(c: string): string {
  return `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`;
}

function encodeUrnValue(value: string): string {
  let out = '';
  for (const c of value) out += URN_ESCAPED.has(c) ? hexEscape(c) : c;
  return out;
}

function encodeDlValue(value: string): string {
  let out = '';
  for (const c of value) out += DL_UNRESERVED.test(c) ? c : hexEscape(c);
  return out;
}

/**
 * Decodes %HH escapes where every literal character must satisfy `literal`. Only ASCII escapes are accepted:
 * every character GS1 allows in these values is ASCII, so anything else is invalid input rather than UTF-8 to decode.
 */
function percentDecode(raw: string, literal: (c: string) => boolean): Result<string> {
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === '%') {
      const hex = raw.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return err(`malformed percent-escape at position ${i + 1}`);
      const code = parseInt(hex, 16);
      if (code >= 0x80) return err(`percent-escape %${hex} is not an ASCII character`);
      out += String.fromCharCode(code);
      i += 2;
    } else if (literal(c)) {
      out += c;
    } else {
      return err(`character ${JSON.stringify(c)} at position ${i + 1} must be percent-encoded`);
    }
  }
  return ok(out);
}

// ---------------------------------------------------------------------------------------------------------------
// EPC URNs

function assertGtin14(fn: string, gtin14: string): void {
  const n = normalizeGtin(gtin14);
  if (!n.ok || gtin14.length !== 14) throw new RangeError(`${fn}: ${JSON.stringify(gtin14)} is not a valid GTIN-14${n.ok ? '' : ` (${n.error})`}`);
}

function assertPrefixLength(fn: string, companyPrefixLength: number): void {
  if (!Number.isInteger(companyPrefixLength) || companyPrefixLength < 6 || companyPrefixLength > 12) {
    throw new RangeError(`${fn}: company prefix length ${companyPrefixLength} is not an integer from 6 to 12`);
  }
}

function assertSerial(fn: string, serial: string): void {
  const v = validateSerial(serial);
  if (!v.ok) throw new RangeError(`${fn}: ${v.error}`);
}

/**
 * SGTIN pure-identity URN `urn:epc:id:sgtin:CompanyPrefix.IndicatorItemRef.Serial` (TDS §6.3.1), serial escaped
 * per TDS table I.3.1-1 (`"%&/<>?` become %HH; everything else in CSET 82, `,` included, stays literal).
 * @throws RangeError unless `gtin14` is a valid GTIN-14, the prefix length is 6–12 and the serial passes
 * {@link validateSerial}: callers validate first, so a failure here is a programming error.
 */
export function sgtinUrn(gtin14: string, companyPrefixLength: number, serial: string): string {
  assertGtin14('sgtinUrn', gtin14);
  assertPrefixLength('sgtinUrn', companyPrefixLength);
  assertSerial('sgtinUrn', serial);
  const cp = gtin14.slice(1, 1 + companyPrefixLength);
  const itemRef = gtin14[0]! + gtin14.slice(1 + companyPrefixLength, 13);
  return `${SGTIN_PREFIX}${cp}.${itemRef}.${encodeUrnValue(serial)}`;
}

/**
 * Parses an SGTIN pure-identity URN, recomputing the GTIN check digit and decoding the serial.
 * Fails on another scheme, a prefix outside 6–12 digits, prefix + item reference ≠ 13 digits, a literal
 * character the TDS requires escaped, a malformed escape, or a decoded serial failing {@link validateSerial}.
 * Any %HH escape of a CSET 82 character is accepted on input.
 */
export function parseSgtinUrn(urn: string): Result<{ gtin14: string; companyPrefix: string; serial: string }> {
  if (!urn.startsWith(SGTIN_PREFIX)) return err(`not an SGTIN URN (expected ${SGTIN_PREFIX}…)`);
  const body = urn.slice(SGTIN_PREFIX.length);
  const dot1 = body.indexOf('.');
  const dot2 = dot1 < 0 ? -1 : body.indexOf('.', dot1 + 1);
  // The serial may itself contain dots, so only the first two separate fields.
  if (dot2 < 0) return err('SGTIN URN must have the form CompanyPrefix.IndicatorItemRef.Serial');
  const cp = body.slice(0, dot1);
  const itemRef = body.slice(dot1 + 1, dot2);
  if (!DIGITS.test(cp) || cp.length < 6 || cp.length > 12) return err('SGTIN company prefix must be 6 to 12 digits');
  if (!DIGITS.test(itemRef) || cp.length + itemRef.length !== 13) {
    return err('SGTIN company prefix and indicator/item reference must be 13 digits together');
  }
  const decoded = percentDecode(body.slice(dot2 + 1), (c) => CSET82_CHAR.test(c) && !URN_ESCAPED.has(c));
  if (!decoded.ok) return err(`SGTIN serial: ${decoded.error}`);
  const serial = validateSerial(decoded.value);
  if (!serial.ok) return serial;
  return ok({ gtin14: withCheckDigit(itemRef[0]! + cp + itemRef.slice(1)), companyPrefix: cp, serial: serial.value });
}

/**
 * SSCC pure-identity URN `urn:epc:id:sscc:CompanyPrefix.ExtensionSerialRef` (TDS §6.3.2).
 * @throws RangeError unless `sscc18` passes {@link normalizeSscc} and the prefix length is 6–12 (programming error).
 */
export function ssccUrn(sscc18: string, companyPrefixLength: number): string {
  const v = normalizeSscc(sscc18);
  if (!v.ok) throw new RangeError(`ssccUrn: ${JSON.stringify(sscc18)} is not a valid SSCC (${v.error})`);
  assertPrefixLength('ssccUrn', companyPrefixLength);
  return `${SSCC_PREFIX}${sscc18.slice(1, 1 + companyPrefixLength)}.${sscc18[0]!}${sscc18.slice(1 + companyPrefixLength, 17)}`;
}

/**
 * Parses an SSCC pure-identity URN and recomputes the check digit. Fails on another scheme, a prefix outside
 * 6–12 digits, or prefix + extension/serial reference ≠ 17 digits.
 */
export function parseSsccUrn(urn: string): Result<{ sscc18: string; companyPrefix: string }> {
  if (!urn.startsWith(SSCC_PREFIX)) return err(`not an SSCC URN (expected ${SSCC_PREFIX}…)`);
  const parts = urn.slice(SSCC_PREFIX.length).split('.');
  if (parts.length !== 2) return err('SSCC URN must have the form CompanyPrefix.ExtensionSerialRef');
  const [cp, ref] = parts as [string, string];
  if (!DIGITS.test(cp) || cp.length < 6 || cp.length > 12) return err('SSCC company prefix must be 6 to 12 digits');
  if (!DIGITS.test(ref) || cp.length + ref.length !== 17) {
    return err('SSCC company prefix and extension/serial reference must be 17 digits together');
  }
  return ok({ sscc18: withCheckDigit(ref[0]! + cp + ref.slice(1)), companyPrefix: cp });
}

// ---------------------------------------------------------------------------------------------------------------
// GS1 Digital Link (item level)

/**
 * Item Digital Link `{base}/01/{gtin14}/21/{serial}`, by default on `https://id.gs1.org`; `base` is the resolver a
 * brand prints on its codes (an https origin, optionally with a path, without a trailing slash). The serial is
 * percent-encoded except for RFC 3986 unreserved characters, the strictest form GS1 Digital Link allows.
 * This deliberately differs from {@link epcUrnToDigitalLink}, which reproduces the EPCIS hash reference byte for byte.
 * @throws RangeError unless `gtin14` is a valid GTIN-14 and `serial` passes {@link validateSerial} (programming error).
 */
export function digitalLink(gtin14: string, serial: string, base: string = CANONICAL_DL_ORIGIN): string {
  assertGtin14('digitalLink', gtin14);
  assertSerial('digitalLink', serial);
  return `${base}/01/${gtin14}/21/${encodeDlValue(serial)}`;
}

const PCHAR = /^[A-Za-z0-9\-._~!$&'()*+,;=:@]$/;
const HTTPS_URI = /^https:\/\/([A-Za-z0-9.-]+(?::[0-9]+)?)(\/[^?#]*)(?:\?[^#]*)?(?:#.*)?$/i;

function decodeAiValue(ai: string, raw: string, max: number): Result<string> {
  const decoded = percentDecode(raw, (c) => PCHAR.test(c));
  if (!decoded.ok) return err(`AI ${ai}: ${decoded.error}`);
  return validateCset82(`AI ${ai} value`, decoded.value, max);
}

/**
 * Parses an item-level GS1 Digital Link `https://{any host}/{optional path prefix}/01/{gtin}[/22/{cpv}][/10/{lot}]/21/{serial}`,
 * ignoring query and fragment. GTIN-8/12/13 are normalised to 14 digits; percent-escapes are decoded.
 * Fails for other schemes (http included), hosts with user info, a missing or invalid GTIN or serial,
 * qualifiers out of order, extra path segments after the serial, or characters not allowed in a URI path.
 */
export function parseDigitalLink(uri: string): Result<{ gtin14: string; serial: string }> {
  const m = HTTPS_URI.exec(uri);
  if (!m) return err('Digital Link must be an https URI with a host and a path');
  const segments = m[2]!.slice(1).split('/');
  let firstFailure: string | undefined;
  // A custom resolver may put its own path before /01/, so try every "01" segment as the start of the key.
  for (let start = 0; start < segments.length; start++) {
    if (segments[start] !== '01') continue;
    const parsed = parseGtinPath(segments.slice(start + 1));
    if (parsed.ok) return parsed;
    firstFailure ??= parsed.error;
  }
  return err(firstFailure ?? 'Digital Link path has no /01/{gtin} segment');
}

function parseGtinPath(rest: readonly string[]): Result<{ gtin14: string; serial: string }> {
  const gtin = normalizeGtin(rest[0] ?? '');
  if (!gtin.ok) return gtin;
  let i = 1;
  // Key qualifiers must appear in the GS1 order 22, 10, 21 and the serial must be last.
  for (const [ai, max] of [['22', 20], ['10', 20]] as const) {
    if (rest[i] === ai) {
      const value = decodeAiValue(ai, rest[i + 1] ?? '', max);
      if (!value.ok) return value;
      i += 2;
    }
  }
  if (rest[i] !== '21') return err('Digital Link must carry a serial as /21/{serial} after the GTIN');
  if (rest.length !== i + 2) return err('Digital Link must end with /21/{serial}');
  const serial = decodeAiValue('21', rest[i + 1]!, 20);
  if (!serial.ok) return serial;
  return ok({ gtin14: gtin.value, serial: serial.value });
}

// ---------------------------------------------------------------------------------------------------------------
// EPCIS event-hash normaliser
//
// A re-implementation of `normaliser()` in RalphTro/epcis-event-hash-generator (dl_normaliser.py) as of the
// PR #123 state that produced the CBV 2.0 event-hash vectors this project must reproduce. Its quirks are kept on
// purpose, because any deviation changes event hash IDs:
// - URN-derived values are copied verbatim, so `! ( ) * + , :` stay literal and existing %HH escapes are kept
//   (the older state percent-encoded `! ( ) * + , :`; the CBV 2.0 hash of epclist_normalisation.jsonld only
//   matches the verbatim rule);
// - a Digital Link input is re-emitted only if its values fall within a narrow character class that excludes `%`,
//   so a percent-encoded Digital Link yields null (the hash generator then keeps the original string);
// - "id.gs1.org" is matched with unescaped dots, segments are located with first-occurrence string searches and
//   short names are replaced anywhere in the string, exactly as the reference does.
// Only ASCII digits count as digits here (Python's \d would also take other Unicode digits; no GS1 key has them).

/** Company-prefix alternatives for keys whose prefix and reference together have `total` digits. */
function prefixAndRef(total: number, twelve = `[0-9]{12}\\.${total > 12 ? `[0-9]{${total - 12}}` : ''}`): string {
  const alts: string[] = [];
  for (let cp = 6; cp <= 11; cp++) alts.push(`[0-9]{${cp}}\\.[0-9]{${total - cp}}`);
  alts.push(twelve);
  return `(?:${alts.join('|')})`;
}

/** Company-prefix alternatives followed by a value of at most `budget - cp` characters of `char`. */
function prefixAndValue(char: string, budget: number): string {
  const alts: string[] = [];
  for (let cp = 6; cp <= 12; cp++) alts.push(`[0-9]{${cp}}\\.${char}{1,${budget - cp}}`);
  return `(?:${alts.join('|')})`;
}

const URN_CHAR = "(?:%2[125-9A-Fa-f]|%3[0-9A-Fa-f]|%4[1-9A-Fa-f]|%5[0-9AaFf]|%6[1-9A-Fa-f]|%7[0-9Aa]|[!')(*+,.0-9:;=A-Za-z_-])";
const CPI_CHAR = '(?:%2[3dfDF]|%3[0-9]|%4[1-9A-Fa-f]|%5[0-9Aa]|[0-9A-Z-])';
const DOUBLE_DOT_TWELVE = '[0-9]{12}\\.\\.';

interface UrnRule {
  readonly prefix: string;
  readonly body: RegExp;
  /** `cp` is the company prefix, `ref` the text after its dot; positions in `uri` follow the reference's fixed offsets. */
  readonly build: (uri: string, cp: string, ref: string) => string;
}

function rule(prefix: string, body: string, build: UrnRule['build']): UrnRule {
  return { prefix, body: new RegExp(`^${body}$`), build };
}

/** GTIN from an SGTIN-style "indicator + item reference" field and the company prefix. */
function gtinOf(cp: string, ref: string): string {
  const itemRef = ref.slice(0, 13 - cp.length);
  return withCheckDigit(itemRef.slice(0, 1) + cp + itemRef.slice(1));
}

const DL = CANONICAL_DL_ORIGIN;
const URN_RULES: readonly UrnRule[] = [
  rule('urn:epc:id:sgtin:', `${prefixAndRef(13)}\\.${URN_CHAR}{1,20}`, (u, cp, ref) => `${DL}/01/${gtinOf(cp, ref)}/21/${u.slice(32)}`),
  rule('urn:epc:id:sscc:', prefixAndRef(17), (_u, cp, ref) => `${DL}/00/${withCheckDigit(ref.slice(0, 1) + cp + ref.slice(1))}`),
  rule('urn:epc:id:sgln:', `${prefixAndRef(12)}\\.${URN_CHAR}{1,20}`, (u, cp, ref) => {
    const gln = withCheckDigit(cp + ref.slice(0, 12 - cp.length));
    const extension = u.slice(30);
    return extension === '0' ? `${DL}/414/${gln}` : `${DL}/414/${gln}/254/${extension}`;
  }),
  rule('urn:epc:id:grai:', `${prefixAndRef(12, DOUBLE_DOT_TWELVE)}\\.${URN_CHAR}{1,16}`, (u, cp, ref) =>
    `${DL}/8003/${withCheckDigit(`0${cp}${ref.slice(0, 12 - cp.length)}`)}${u.slice(30)}`),
  rule('urn:epc:id:giai:', prefixAndValue(URN_CHAR, 30), (_u, cp, ref) => `${DL}/8004/${cp}${ref}`),
  rule('urn:epc:id:gsrn:', prefixAndRef(17), (_u, cp, ref) => `${DL}/8018/${withCheckDigit(cp + ref)}`),
  rule('urn:epc:id:gsrnp:', prefixAndRef(17), (_u, cp, ref) => `${DL}/8017/${withCheckDigit(cp + ref)}`),
  // The reference has no separator dot between document type and serial here: the dot is counted in the serial.
  rule('urn:epc:id:gdti:', `${prefixAndRef(12, DOUBLE_DOT_TWELVE)}${URN_CHAR}{1,20}`, (u, cp, ref) =>
    `${DL}/253/${withCheckDigit(cp + ref.slice(0, 12 - cp.length))}${u.slice(30)}`),
  rule('urn:epc:id:cpi:', `${prefixAndValue(CPI_CHAR, 30)}\\.[0-9]{1,12}`, (u, cp, ref) => {
    const last = u.lastIndexOf('.');
    return `${DL}/8010/${cp}${ref.slice(0, ref.length - (u.length - last))}/8011/${u.slice(last + 1)}`;
  }),
  rule('urn:epc:id:sgcn:', `${prefixAndRef(12)}\\.[0-9]{1,12}`, (u, cp, ref) =>
    `${DL}/255/${withCheckDigit(cp + ref.slice(0, 12 - cp.length))}${u.slice(30)}`),
  rule('urn:epc:id:ginc:', prefixAndValue(URN_CHAR, 30), (_u, cp, ref) => `${DL}/401/${cp}${ref}`),
  rule('urn:epc:id:gsin:', prefixAndRef(16), (_u, cp, ref) => `${DL}/402/${withCheckDigit(cp + ref)}`),
  rule('urn:epc:id:itip:', `${prefixAndRef(13)}\\.[0-9]{2}\\.[0-9]{2}\\.${URN_CHAR}{1,20}`, (u, cp, ref) =>
    `${DL}/8006/${gtinOf(cp, ref)}${u.slice(31, 33)}${u.slice(34, 36)}/21/${u.slice(37)}`),
  rule('urn:epc:id:upui:', `${prefixAndRef(13)}\\.${URN_CHAR}{1,28}`, (u, cp, ref) => `${DL}/01/${gtinOf(cp, ref)}/235/${u.slice(31)}`),
  rule('urn:epc:id:pgln:', prefixAndRef(12), (_u, cp, ref) => `${DL}/417/${withCheckDigit(cp + ref)}`),
  rule('urn:epc:class:lgtin:', `${prefixAndRef(13)}\\.${URN_CHAR}{1,20}`, (u, cp, ref) => `${DL}/01/${gtinOf(cp, ref)}/10/${u.slice(35)}`),
  rule('urn:epc:idpat:sgtin:', `${prefixAndRef(13)}\\.\\*`, (_u, cp, ref) => `${DL}/01/${gtinOf(cp, ref)}`),
  rule('urn:epc:idpat:grai:', `${prefixAndRef(12, DOUBLE_DOT_TWELVE)}\\.\\*`, (_u, cp, ref) =>
    `${DL}/8003/${withCheckDigit(`0${cp}${ref.slice(0, 12 - cp.length)}`)}`),
  rule('urn:epc:idpat:gdti:', `${prefixAndRef(12, DOUBLE_DOT_TWELVE)}\\.\\*`, (_u, cp, ref) =>
    `${DL}/253/${withCheckDigit(cp + ref.slice(0, 12 - cp.length))}`),
  rule('urn:epc:idpat:sgcn:', `${prefixAndRef(12, DOUBLE_DOT_TWELVE)}\\.\\*`, (_u, cp, ref) =>
    `${DL}/255/${withCheckDigit(cp + ref.slice(0, 12 - cp.length))}`),
  rule('urn:epc:idpat:cpi:', `${prefixAndValue(CPI_CHAR, 30)}\\.\\*`, (u, cp, ref) =>
    `${DL}/8010/${cp}${ref.slice(0, ref.length - (u.length - u.lastIndexOf('.')))}`),
  rule('urn:epc:idpat:itip:', `${prefixAndRef(13)}\\.[0-9]{2}\\.[0-9]{2}\\.\\*`, (u, cp, ref) =>
    `${DL}/8006/${gtinOf(cp, ref)}${u.slice(34, 36)}${u.slice(37, 39)}`),
  rule('urn:epc:idpat:upui:', `${prefixAndRef(13)}\\.\\*`, (_u, cp, ref) => `${DL}/01/${gtinOf(cp, ref)}`),
];

const KEY_SEGMENTS = '01|gtin|8006|itip|8010|cpid|414|gln|417|party|8017|gsrnp|8018|gsrn|255|gcn|00|sscc|253|gdti|401|ginc|402|gsin|8003|grai|8004|giai';
/** Reference precondition for Digital Link input: some `/key/` segment followed by at least 4 digits and more. */
const DL_SHAPE = new RegExp(
  `^https?:(?://(?:[^/?#]*@)?[^/?#:]*(?::[^/?#]*)?)?(?:[^?#]*/(?:${KEY_SEGMENTS})/[0-9]{4}[^/]|/[A-Za-z_-]{10}$)`,
);
const SHORT_NAMES: readonly (readonly [string, string])[] = [
  ['gtin', '01'], ['itip', '8006'], ['cpid', '8010'], ['gln', '414'], ['party', '417'], ['gsrnp', '8017'],
  ['gsrn', '8018'], ['gcn', '255'], ['sscc', '00'], ['gdti', '253'], ['ginc', '401'], ['gsin', '402'],
  ['grai', '8003'], ['giai', '8004'], ['cpv', '22'], ['lot', '10'], ['ser', '21'],
];
/** Unescaped dots as in the reference, so "id.gs1.org" matches any character in their place. */
const ORIGIN = 'https://id.gs1.org';
const ALREADY_CANONICAL = new RegExp(`^${ORIGIN}/(?:01|8006|8010|414|417|8017|8018|255|00|253|401|402|8003|8004)/[0-9]{4}[^/]`);
/** Prefix tests only: the reference pads 8–11 digit values alike with six zeros. */
const GTIN_PADDING = ([[14, ''], [13, '0'], [12, '00'], [8, '000000']] as const).map(([digits, zeros]) => ({
  re: new RegExp(`^${ORIGIN}/01/[0-9]{${digits}}`),
  zeros,
}));
const REBASE_ORDER = ['00', '01', '253', '255', '401', '402', '414', '417', '8003', '8004', '8006', '8010', '8017', '8018'];
/** The reference's value class: " ' - . 0-9 ; < = > ? A-Z _ a-z (no %, so percent-encoded values never pass). */
const V = `["'\\-.0-9;-?A-Z_a-z]`;
const CPV_LAST = [new RegExp(`^${ORIGIN}/8006/[0-9]{18}/22/${V}{0,20}$`), new RegExp(`^${ORIGIN}/01/[0-9]{14}/22/${V}{0,20}$`)];
const CPV_THEN_MORE = [new RegExp(`^${ORIGIN}/8006/[0-9]{18}/22/(?:/|${V}){0,20}$`), new RegExp(`^${ORIGIN}/01/[0-9]{14}/22/(?:/|${V}){0,20}$`)];
const LOT_AND_SERIAL = [
  new RegExp(`^${ORIGIN}/8006/[0-9]{18}/10/${V}{0,20}/21/${V}{0,20}$`),
  new RegExp(`^${ORIGIN}/01/[0-9]{14}/10/${V}{0,20}/21/${V}{0,20}$`),
];
const VALID_OUTPUT = [
  `00/[0-9]{18}`, `01/[0-9]{14}/21/${V}{0,20}`, `01/[0-9]{14}/10/${V}{0,20}`, `01/[0-9]{14}`, `01/[0-9]{14}/235/${V}{0,28}`,
  `253/[0-9]{13}${V}{0,17}`, `255/[0-9]{13}[0-9]{0,12}`, `401/${V}{0,30}`, `402/[0-9]{17}`, `414/[0-9]{13}`,
  `414/[0-9]{13}/254/${V}{0,20}`, `417/[0-9]{13}`, `8003/[0-9]{14}${V}{0,16}`, `8004/${V}{0,30}`,
  `8006/[0-9]{18}/21/${V}{0,20}`, `8006/[0-9]{18}/10/${V}{0,20}`, `8006/[0-9]{18}`,
  `8010/[#\\-/0-9A-Z]{0,30}/8011/[0-9]{0,12}`, `8010/[#\\-/0-9A-Z]{0,30}`, `8017/[0-9]{18}`, `8018/[0-9]{18}`,
].map((tail) => new RegExp(`^${ORIGIN}/${tail}$`));

/**
 * Maps an EPC URI (id, class `lgtin` or idpat: sgtin, sscc, sgln, grai, giai, gsrn, gsrnp, gdti, cpi, sgcn, ginc,
 * gsin, itip, upui, pgln) or a GS1 Digital Link (any host, short names, qualifiers, query) to the constrained
 * canonical Digital Link used in CBV 2.0 event hash pre-hash strings, exactly as the reference normaliser
 * (RalphTro/epcis-event-hash-generator, latest/PR #123 rules) does. Null where the reference returns None:
 * not a GS1 key, malformed, or a Digital Link whose values fall outside the reference's character class.
 * Total: never throws. This is the single implementation: `epcis-hash.ts` uses it and keeps the value as written on null.
 */
export function epcUrnToDigitalLink(urn: string): string | null {
  const firstDot = urn.indexOf('.');
  if (firstDot < 0) return null;
  for (const r of URN_RULES) {
    if (!urn.startsWith(r.prefix)) continue;
    const body = urn.slice(r.prefix.length);
    if (!r.body.test(body)) continue;
    return r.build(urn, urn.slice(r.prefix.length, firstDot), urn.slice(firstDot + 1));
  }
  return normaliseDigitalLink(urn);
}

function normaliseDigitalLink(input: string): string | null {
  if (!DL_SHAPE.test(input)) return null;
  let uri = input;
  const query = uri.indexOf('?');
  if (query >= 0) uri = uri.slice(0, query);
  for (const [name, ai] of SHORT_NAMES) uri = uri.replaceAll(`/${name}/`, `/${ai}/`);

  if (!ALREADY_CANONICAL.test(uri)) {
    for (const ai of REBASE_ORDER) {
      const at = uri.indexOf(`/${ai}/`);
      if (at >= 0) {
        uri = CANONICAL_DL_ORIGIN + uri.slice(at);
        break;
      }
    }
  }

  if (!GTIN_PADDING[0]!.re.test(uri)) {
    // Shorter GTINs are padded by rewriting every "/01/", as the reference does.
    const padding = GTIN_PADDING.find((p) => p.re.test(uri));
    if (padding) uri = uri.replaceAll('/01/', `/01/${padding.zeros}`);
  }

  // The CPV is dropped whether it ends the path or other qualifiers follow it.
  const cpvAt = uri.indexOf('/22/');
  const afterCpv = uri.slice(cpvAt + 4);
  if (CPV_LAST.some((re) => re.test(uri))) uri = uri.slice(0, cpvAt);
  if (CPV_THEN_MORE.some((re) => re.test(uri))) uri = uri.slice(0, cpvAt) + afterCpv.slice(afterCpv.indexOf('/'));

  // Only the finest identification level is kept: a serial makes the lot redundant.
  if (LOT_AND_SERIAL.some((re) => re.test(uri))) {
    const lotAt = uri.indexOf('/10/');
    const afterLot = uri.slice(lotAt + 4);
    uri = uri.slice(0, lotAt) + afterLot.slice(afterLot.indexOf('/'));
  }

  return VALID_OUTPUT.some((re) => re.test(uri)) ? uri : null;
}
