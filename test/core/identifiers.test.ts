import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { sha256 } from '@noble/hashes/sha2.js';
import { describe, expect, it } from 'vitest';
import {
  companyPrefixFor,
  digitalLink,
  epcUrnToDigitalLink,
  gs1CheckDigit,
  normalizeGtin,
  normalizeSscc,
  parseDigitalLink,
  parseSgtinUrn,
  parseSsccUrn,
  sgtinUrn,
  ssccUrn,
  validateSerial,
} from '../../src/core/identifiers.ts';

const vectorsDir = fileURLToPath(new URL('../vectors/epcis/', import.meta.url));

/** Every character of GS1 AI encodable character set 82 except alphanumerics. */
const SPECIALS = `!"%&'()*+,-./:;<=>?_`;

describe('gs1CheckDigit', () => {
  it.each<[string, number]>([
    ['401234511111', 8], // GTIN-13 4012345111118
    ['061414112345', 2], // GTIN-13 0614141123452
    ['9638507', 4], // GTIN-8 96385074
    ['03600029145', 2], // GTIN-12 036000291452
    ['1061414107346', 4], // GTIN-14 10614141073464
    ['8061414112345', 8], // GTIN-14 80614141123458
    ['34012345311111111', 5], // SSCC 340123453111111115
    ['10614141234567890', 8], // SSCC 106141412345678908
    ['0', 0],
    ['000000000000', 0],
  ])('%s → %d', (digits, check) => {
    expect(gs1CheckDigit(digits)).toBe(check);
  });

  it('ignores leading zeros, so padding a GTIN keeps its check digit', () => {
    expect(gs1CheckDigit('00401234511111')).toBe(gs1CheckDigit('401234511111'));
  });

  it.each(['', '12a', ' 123', '１２３'])('throws RangeError on non-digit input %j', (s) => {
    expect(() => gs1CheckDigit(s)).toThrow(RangeError);
  });
});

describe('normalizeGtin', () => {
  it.each<[string, string]>([
    ['96385074', '00000096385074'], // GTIN-8
    ['036000291452', '00036000291452'], // GTIN-12
    ['4012345111118', '04012345111118'], // GTIN-13
    ['0614141123452', '00614141123452'], // GTIN-13
    ['10614141073464', '10614141073464'], // GTIN-14
    ['80614141123458', '80614141123458'], // GTIN-14
  ])('%s → %s', (input, gtin14) => {
    expect(normalizeGtin(input)).toEqual({ ok: true, value: gtin14 });
  });

  it('rejects a wrong check digit with the expected one named', () => {
    expect(normalizeGtin('4012345111119')).toEqual({ ok: false, error: 'GTIN check digit is 9, expected 8' });
    expect(normalizeGtin('96385070')).toEqual({ ok: false, error: 'GTIN check digit is 0, expected 4' });
    expect(normalizeGtin('036000291453')).toEqual({ ok: false, error: 'GTIN check digit is 3, expected 2' });
    expect(normalizeGtin('10614141073465')).toEqual({ ok: false, error: 'GTIN check digit is 5, expected 4' });
  });

  it.each(['', '1234567', '123456789', '1234567890', '12345678901', '123456789012345', '401234511111a', ' 4012345111118', '4012345111118\n', '４０１２３４５１１１１１８', '40123-45111118'])(
    'rejects %j as a bad length/format',
    (input) => {
      expect(normalizeGtin(input)).toEqual({ ok: false, error: 'GTIN must be 8, 12, 13 or 14 digits' });
    },
  );
});

describe('normalizeSscc', () => {
  it('accepts 18 digits with a valid check digit', () => {
    expect(normalizeSscc('340123453111111115')).toEqual({ ok: true, value: '340123453111111115' });
    expect(normalizeSscc('106141412345678908')).toEqual({ ok: true, value: '106141412345678908' });
  });

  it('rejects a bad check digit or length', () => {
    expect(normalizeSscc('340123453111111116')).toEqual({ ok: false, error: 'SSCC check digit is 6, expected 5' });
    expect(normalizeSscc('34012345311111111')).toEqual({ ok: false, error: 'SSCC must be 18 digits' });
    expect(normalizeSscc('3401234531111111150')).toEqual({ ok: false, error: 'SSCC must be 18 digits' });
    expect(normalizeSscc('34012345311111111x')).toEqual({ ok: false, error: 'SSCC must be 18 digits' });
  });
});

describe('validateSerial (AI 21, CSET 82, 1–20 characters)', () => {
  it('accepts every character of CSET 82', () => {
    const all = `${SPECIALS}0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz`;
    for (const c of all) expect(validateSerial(c)).toEqual({ ok: true, value: c });
    expect(validateSerial(SPECIALS)).toEqual({ ok: true, value: SPECIALS });
  });

  it('accepts 1 and 20 characters, rejects 0 and 21', () => {
    expect(validateSerial('x').ok).toBe(true);
    expect(validateSerial('a'.repeat(20)).ok).toBe(true);
    expect(validateSerial('')).toEqual({ ok: false, error: 'serial must be 1 to 20 characters, got 0' });
    expect(validateSerial('a'.repeat(21))).toEqual({ ok: false, error: 'serial must be 1 to 20 characters, got 21' });
  });

  it.each([' ', 'AB 12', '#', '$', '@', '[', '\\', ']', '^', '`', '{', '|', '}', '~', 'é', '\t', '\u0000', '😂'])(
    'rejects %j (outside CSET 82)',
    (serial) => {
      const r = validateSerial(serial);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error).toMatch(/is not in GS1 character set 82/);
    },
  );

  it('names the offending character and its position', () => {
    expect(validateSerial('AB 12')).toEqual({ ok: false, error: 'serial character " " at position 3 is not in GS1 character set 82' });
  });
});

describe('companyPrefixFor', () => {
  it('finds the prefix after the indicator digit, longest match first', () => {
    expect(companyPrefixFor('80614141123458', ['0614141'])).toBe('0614141');
    expect(companyPrefixFor('04012345111118', ['401234', '4012345', '40123451'])).toBe('40123451');
    expect(companyPrefixFor('04012345111118', ['4012345', '401234'])).toBe('4012345');
    expect(companyPrefixFor('04150567890128', ['415056789012'])).toBe('415056789012');
  });

  it('does not match the indicator digit or prefixes elsewhere in the GTIN', () => {
    expect(companyPrefixFor('80614141123458', ['806141'])).toBeUndefined();
    expect(companyPrefixFor('80614141123458', ['141123'])).toBeUndefined();
    expect(companyPrefixFor('80614141123458', [])).toBeUndefined();
  });

  it('ignores prefixes that are not 6–12 digits and GTINs that are not 14 digits', () => {
    expect(companyPrefixFor('04012345111118', ['40123', '4012345111118', '40123a', '4012345'])).toBe('4012345');
    expect(companyPrefixFor('4012345111118', ['012345'])).toBeUndefined();
  });
});

describe('SGTIN URN', () => {
  it('builds the TDS form for every company prefix length', () => {
    expect(sgtinUrn('80614141123458', 7, '6789')).toBe('urn:epc:id:sgtin:0614141.812345.6789');
    expect(sgtinUrn('04012345111118', 7, '98"')).toBe('urn:epc:id:sgtin:4012345.011111.98%22');
    expect(sgtinUrn('04150567890128', 12, '987654')).toBe('urn:epc:id:sgtin:415056789012.0.987654');
    expect(sgtinUrn('04012345111118', 6, 'a')).toBe('urn:epc:id:sgtin:401234.0511111.a');
  });

  it('escapes exactly "%&/<>? and leaves the rest of CSET 82 literal (TDS table I.3.1-1)', () => {
    expect(sgtinUrn('80614141123458', 7, SPECIALS)).toBe(`urn:epc:id:sgtin:0614141.812345.!%22%25%26'()*+,-.%2F:;%3C=%3E%3F_`);
    expect(sgtinUrn('80614141123458', 7, '6789/&%"!?()')).toBe('urn:epc:id:sgtin:0614141.812345.6789%2F%26%25%22!%3F()');
  });

  it('throws RangeError on violated preconditions', () => {
    expect(() => sgtinUrn('80614141123459', 7, '1')).toThrow(RangeError);
    expect(() => sgtinUrn('4012345111118', 7, '1')).toThrow(RangeError);
    expect(() => sgtinUrn('80614141123458', 5, '1')).toThrow(RangeError);
    expect(() => sgtinUrn('80614141123458', 13, '1')).toThrow(RangeError);
    expect(() => sgtinUrn('80614141123458', 7.5, '1')).toThrow(RangeError);
    expect(() => sgtinUrn('80614141123458', 7, '')).toThrow(RangeError);
    expect(() => sgtinUrn('80614141123458', 7, 'a b')).toThrow(RangeError);
  });

  it('parses back, recomputing the check digit and decoding escapes', () => {
    expect(parseSgtinUrn('urn:epc:id:sgtin:0614141.812345.6789%2F%26%25%22!%3F()')).toEqual({
      ok: true,
      value: { gtin14: '80614141123458', companyPrefix: '0614141', serial: '6789/&%"!?()' },
    });
    expect(parseSgtinUrn('urn:epc:id:sgtin:415056789012.0.987654')).toEqual({
      ok: true,
      value: { gtin14: '04150567890128', companyPrefix: '415056789012', serial: '987654' },
    });
    // Dots belong to the serial after the second separator; lower-case and non-required escapes are accepted.
    expect(parseSgtinUrn('urn:epc:id:sgtin:4012345.011111.a.b%2fc%21')).toEqual({
      ok: true,
      value: { gtin14: '04012345111118', companyPrefix: '4012345', serial: 'a.b/c!' },
    });
  });

  it.each([
    ['', /not an SGTIN URN/],
    ['urn:epc:id:sscc:4012345.3111111111', /not an SGTIN URN/],
    ['URN:EPC:ID:SGTIN:4012345.011111.1', /not an SGTIN URN/],
    ['urn:epc:id:sgtin:4012345.011111', /form CompanyPrefix/],
    ['urn:epc:id:sgtin:4012345011111.1', /form CompanyPrefix/],
    ['urn:epc:id:sgtin:40123.0111111.1', /6 to 12 digits/],
    ['urn:epc:id:sgtin:4012345678901.0.1', /6 to 12 digits/],
    ['urn:epc:id:sgtin:4012345.01111.1', /13 digits together/],
    ['urn:epc:id:sgtin:4012345.0111111.1', /13 digits together/],
    ['urn:epc:id:sgtin:4012345.01111a.1', /13 digits together/],
    ['urn:epc:id:sgtin:4012345.011111.', /1 to 20 characters, got 0/],
    ['urn:epc:id:sgtin:4012345.011111.123456789012345678901', /1 to 20 characters, got 21/],
    ['urn:epc:id:sgtin:4012345.011111.a b', /must be percent-encoded/],
    ['urn:epc:id:sgtin:4012345.011111.a/b', /must be percent-encoded/],
    ['urn:epc:id:sgtin:4012345.011111.a"b', /must be percent-encoded/],
    ['urn:epc:id:sgtin:4012345.011111.a?b', /must be percent-encoded/],
    ['urn:epc:id:sgtin:4012345.011111.50%', /malformed percent-escape/],
    ['urn:epc:id:sgtin:4012345.011111.50%2', /malformed percent-escape/],
    ['urn:epc:id:sgtin:4012345.011111.50%zz', /malformed percent-escape/],
    ['urn:epc:id:sgtin:4012345.011111.a%20b', /not in GS1 character set 82/],
    ['urn:epc:id:sgtin:4012345.011111.a%23b', /not in GS1 character set 82/],
    ['urn:epc:id:sgtin:4012345.011111.%C3%A9', /not an ASCII character/],
  ])('rejects %j', (urn, message) => {
    const r = parseSgtinUrn(urn);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(message);
  });
});

describe('SSCC URN', () => {
  it('builds and parses the TDS form', () => {
    expect(ssccUrn('340123451111111111', 7)).toBe('urn:epc:id:sscc:4012345.3111111111');
    expect(ssccUrn('106141412345678908', 7)).toBe('urn:epc:id:sscc:0614141.1234567890');
    expect(ssccUrn('340123451111111111', 12)).toBe('urn:epc:id:sscc:401234511111.31111');
    expect(parseSsccUrn('urn:epc:id:sscc:4012345.3111111111')).toEqual({ ok: true, value: { sscc18: '340123451111111111', companyPrefix: '4012345' } });
    expect(parseSsccUrn('urn:epc:id:sscc:401234511111.31111')).toEqual({ ok: true, value: { sscc18: '340123451111111111', companyPrefix: '401234511111' } });
  });

  it('round-trips with every company prefix length', () => {
    for (let cp = 6; cp <= 12; cp++) {
      const r = parseSsccUrn(ssccUrn('106141412345678908', cp));
      expect(r).toEqual({ ok: true, value: { sscc18: '106141412345678908', companyPrefix: '106141412345678908'.slice(1, 1 + cp) } });
    }
  });

  it('rejects malformed URNs and violated preconditions', () => {
    for (const urn of ['urn:epc:id:sscc:4012345.311111111', 'urn:epc:id:sscc:4012345.31111111111', 'urn:epc:id:sscc:40123.311111111111', 'urn:epc:id:sscc:4012345.3111111111.1', 'urn:epc:id:sscc:4012345', 'urn:epc:id:sgtin:4012345.3111111111']) {
      expect(parseSsccUrn(urn).ok).toBe(false);
    }
    expect(() => ssccUrn('340123451111111112', 7)).toThrow(RangeError);
    expect(() => ssccUrn('340123451111111111', 5)).toThrow(RangeError);
  });
});

describe('GS1 Digital Link (item level)', () => {
  it('builds the canonical id.gs1.org form, percent-encoding all but RFC 3986 unreserved characters', () => {
    expect(digitalLink('04012345111118', '98765')).toBe('https://id.gs1.org/01/04012345111118/21/98765');
    expect(digitalLink('80614141123458', SPECIALS)).toBe('https://id.gs1.org/01/80614141123458/21/%21%22%25%26%27%28%29%2A%2B%2C-.%2F%3A%3B%3C%3D%3E%3F_');
    expect(() => digitalLink('4012345111118', '1')).toThrow(RangeError);
    expect(() => digitalLink('04012345111118', 'a'.repeat(21))).toThrow(RangeError);
  });

  it('parses custom hosts, path prefixes, short GTINs, qualifiers, queries and fragments', () => {
    const value = (gtin14: string, serial: string) => ({ ok: true, value: { gtin14, serial } });
    expect(parseDigitalLink('https://id.gs1.org/01/04012345111118/21/98765')).toEqual(value('04012345111118', '98765'));
    expect(parseDigitalLink('https://brand.example.com/01/4012345111118/21/98765')).toEqual(value('04012345111118', '98765'));
    expect(parseDigitalLink('https://example.com:8443/resolver/v1/01/96385074/21/A1')).toEqual(value('00000096385074', 'A1'));
    expect(parseDigitalLink('https://example.com/01/036000291452/21/A1?17=201231#top')).toEqual(value('00036000291452', 'A1'));
    expect(parseDigitalLink('https://example.com/01/04012345111118/10/LOT%2F1/21/S1')).toEqual(value('04012345111118', 'S1'));
    expect(parseDigitalLink('https://example.com/01/04012345111118/22/2A/10/L1/21/S1')).toEqual(value('04012345111118', 'S1'));
    expect(parseDigitalLink('HTTPS://EXAMPLE.COM/01/04012345111118/21/S1')).toEqual(value('04012345111118', 'S1'));
    // Literal sub-delimiters are legal in a path segment and decode to themselves.
    expect(parseDigitalLink("https://example.com/01/80614141123458/21/a!'()*+,;=:b")).toEqual(value('80614141123458', "a!'()*+,;=:b"));
    // A path prefix that itself contains "01" is skipped.
    expect(parseDigitalLink('https://example.com/01/x/01/04012345111118/21/S1')).toEqual(value('04012345111118', 'S1'));
  });

  it.each([
    ['http://id.gs1.org/01/04012345111118/21/1', /https URI/],
    ['https://id.gs1.org', /https URI/],
    ['https://user@id.gs1.org/01/04012345111118/21/1', /https URI/],
    ['urn:epc:id:sgtin:4012345.011111.1', /https URI/],
    ['https://id.gs1.org/gtin/04012345111118/ser/1', /no \/01\/\{gtin\}/],
    ['https://id.gs1.org/01/04012345111119/21/1', /check digit is 9, expected 8/],
    ['https://id.gs1.org/01/04012345111/21/1', /8, 12, 13 or 14 digits/],
    ['https://id.gs1.org/01/04012345111118', /carry a serial/],
    ['https://id.gs1.org/01/04012345111118/10/L1', /carry a serial/],
    ['https://id.gs1.org/01/04012345111118/21/1/10/L1', /end with \/21\/\{serial\}/],
    ['https://id.gs1.org/01/04012345111118/21/1/', /end with \/21\/\{serial\}/],
    ['https://id.gs1.org/01/04012345111118/10/L1/22/C/21/1', /carry a serial/],
    ['https://id.gs1.org/01/04012345111118/21/', /1 to 20 characters, got 0/],
    ['https://id.gs1.org/01/04012345111118/21/123456789012345678901', /1 to 20 characters, got 21/],
    ['https://id.gs1.org/01/04012345111118/21/a%20b', /not in GS1 character set 82/],
    ['https://id.gs1.org/01/04012345111118/21/a b', /must be percent-encoded/],
    ['https://id.gs1.org/01/04012345111118/21/a"b', /must be percent-encoded/],
    ['https://id.gs1.org/01/04012345111118/21/a%2', /malformed percent-escape/],
    ['https://id.gs1.org/01/04012345111118/21/a~b', /not in GS1 character set 82/],
    ['https://id.gs1.org/01/04012345111118/21/a$b', /not in GS1 character set 82/],
    ['https://id.gs1.org/01/04012345111118/10/a%20b/21/1', /AI 10/],
  ])('rejects %j', (uri, message) => {
    const r = parseDigitalLink(uri);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(message);
  });
});

describe('round trips for serials with every special character', () => {
  const serials = [
    ...SPECIALS.split('').map((c) => `A${c}1`),
    SPECIALS,
    '6789/&%"!?()',
    '%25%2F',
    '..',
    'x'.repeat(20),
  ];
  const gtins: readonly [string, number][] = [
    ['80614141123458', 7],
    ['04150567890128', 12],
    ['00000096385074', 6],
  ];

  it.each(serials)('%j: URN ⇄ Digital Link', (serial) => {
    for (const [gtin14, cpLength] of gtins) {
      const companyPrefix = gtin14.slice(1, 1 + cpLength);
      const urn = sgtinUrn(gtin14, cpLength, serial);
      expect(parseSgtinUrn(urn)).toEqual({ ok: true, value: { gtin14, companyPrefix, serial } });
      const dl = digitalLink(gtin14, serial);
      expect(parseDigitalLink(dl)).toEqual({ ok: true, value: { gtin14, serial } });
      // URN → parse → Digital Link → parse gives back the same item.
      const fromUrn = parseSgtinUrn(urn);
      if (!fromUrn.ok) throw new Error(fromUrn.error);
      expect(digitalLink(fromUrn.value.gtin14, fromUrn.value.serial)).toBe(dl);
      // The EPCIS normaliser's Digital Link (URN escapes kept verbatim) names the same item too.
      const normalised = epcUrnToDigitalLink(urn);
      expect(normalised).not.toBeNull();
      expect(parseDigitalLink(normalised!)).toEqual({ ok: true, value: { gtin14, serial } });
      expect(companyPrefixFor(gtin14, [companyPrefix])).toBe(companyPrefix);
    }
  });
});

interface NormalisationCase {
  input: string;
  expected: string | null;
  latestPr123BehaviourMayDiffer?: boolean;
}
const normalisation = JSON.parse(readFileSync(`${vectorsDir}dl-normalisation-vectors.json`, 'utf8')) as {
  description: string;
  cases: NormalisationCase[];
};

/**
 * Flagged cases where the reference's latest (PR #123) rules give a different answer from the older test file the
 * vectors were extracted from. PR #123 stopped percent-encoding `! ( ) * + , :` taken from an EPC URI
 * ("permitted literally", TDS table I.3.1-1) and copies the URN value verbatim. DESIGN.md requires the latest
 * reference rules for EPCIS hashing, and the CBV 2.0 hash vector for epclist_normalisation.jsonld (checked below)
 * only matches the verbatim rule, so these are asserted with the PR #123 value, not the vector's `expected`.
 * The other flagged cases (ID patterns) carry none of those characters in their output and agree with `expected`.
 */
const PR123_OVERRIDES: Readonly<Record<string, string>> = {
  'urn:epc:id:sgtin:0614141.812345.6789%2F%26%25%22!%3F()': 'https://id.gs1.org/01/80614141123458/21/6789%2F%26%25%22!%3F()',
  'urn:epc:id:upui:1234567.098765.51qIgY)%3C%26Jp3*j7SDB': 'https://id.gs1.org/01/01234567987651/235/51qIgY)%3C%26Jp3*j7SDB',
};

describe('epcUrnToDigitalLink: dl-normalisation-vectors.json', () => {
  it('has the expected shape and flags', () => {
    expect(normalisation.cases).toHaveLength(70);
    const flagged = normalisation.cases.filter((c) => c.latestPr123BehaviourMayDiffer).map((c) => c.input);
    expect(flagged).toHaveLength(9);
    for (const input of Object.keys(PR123_OVERRIDES)) expect(flagged).toContain(input);
  });

  const unflagged = normalisation.cases.filter((c) => !c.latestPr123BehaviourMayDiffer);
  it.each(unflagged.map((c) => [c.input, c.expected] as const))('%s → %s', (input, expected) => {
    expect(epcUrnToDigitalLink(input)).toBe(expected);
  });

  const flagged = normalisation.cases.filter((c) => c.latestPr123BehaviourMayDiffer);
  it.each(flagged.map((c) => [c.input, c.expected] as const))('flagged %s (PR #123 rules)', (input, expected) => {
    const pr123 = PR123_OVERRIDES[input];
    if (pr123 === undefined) {
      expect(epcUrnToDigitalLink(input)).toBe(expected);
    } else {
      expect(epcUrnToDigitalLink(input)).toBe(pr123);
      expect(pr123).not.toBe(expected);
      // Both forms decode to the same value: only the escaping of URI sub-delimiters differs.
      expect(decodeURIComponent(pr123)).toBe(decodeURIComponent(expected!));
    }
  });

  it('the PR #123 rule reproduces the CBV 2.0 event hash of epclist_normalisation.jsonld', () => {
    const hashes = JSON.parse(readFileSync(`${vectorsDir}hash-vectors.json`, 'utf8')) as {
      vectors: { file: string; cbvVersion: string; eventIndex: number; expectedHash: string }[];
    };
    const vector = hashes.vectors.find((v) => v.file.endsWith('/epclist_normalisation.jsonld') && v.cbvVersion === 'CBV2.0');
    expect(vector).toBeDefined();
    const doc = JSON.parse(readFileSync(`${vectorsDir}${vector!.file}`, 'utf8')) as {
      epcisBody: { eventList: { epcList: string[]; eventTime: string; readPoint: { id: string } }[] };
    };
    const event = doc.epcisBody.eventList[vector!.eventIndex]!;
    expect(event.eventTime).toBe('2019-04-02T15:00:00.000+01:00');
    const epcs = event.epcList.map((e) => `epc=${epcUrnToDigitalLink(e) ?? e}`).sort();
    // Pre-hash string per the reference algorithm; time converted to UTC by hand, bizStep expanded to its CBV URI.
    const prehash =
      'eventType=ObjectEventeventTime=2019-04-02T14:00:00.000ZeventTimeZoneOffset=+01:00epcList' +
      epcs.join('') +
      'action=OBSERVEbizStep=https://ref.gs1.org/cbv/BizStep-inspectingreadPointid=' +
      epcUrnToDigitalLink(event.readPoint.id)!;
    const hex = Buffer.from(sha256(new TextEncoder().encode(prehash))).toString('hex');
    expect(`ni:///sha-256;${hex}?ver=CBV2.0`).toBe(vector!.expectedHash);
  });
});

describe('epcUrnToDigitalLink: agreement with the item-level builders', () => {
  it('maps SGTIN and SSCC URNs built here onto the canonical Digital Link', () => {
    expect(epcUrnToDigitalLink(sgtinUrn('04012345111118', 7, 'ABC-1.2'))).toBe(digitalLink('04012345111118', 'ABC-1.2'));
    for (let cp = 6; cp <= 12; cp++) {
      expect(epcUrnToDigitalLink(ssccUrn('106141412345678908', cp))).toBe('https://id.gs1.org/00/106141412345678908');
      expect(epcUrnToDigitalLink(sgtinUrn('10614141073464', cp, 'S1'))).toBe('https://id.gs1.org/01/10614141073464/21/S1');
    }
  });
});

describe('epcUrnToDigitalLink: reference quirks kept on purpose (they change event hashes)', () => {
  it('returns null for a Digital Link whose serial is percent-encoded (the reference keeps the input as is)', () => {
    expect(epcUrnToDigitalLink('https://id.gs1.org/01/04012345111118/21/98%22')).toBeNull();
    expect(epcUrnToDigitalLink(digitalLink('80614141123458', 'A/B'))).toBeNull();
  });

  it('does not validate check digits of Digital Link input', () => {
    expect(epcUrnToDigitalLink('https://example.com/01/04012345111119/21/1')).toBe('https://id.gs1.org/01/04012345111119/21/1');
  });

  it('rejects a 12-digit-prefix GRAI with an empty asset type, as the reference pattern does', () => {
    expect(epcUrnToDigitalLink('urn:epc:id:grai:401234500000..5')).toBeNull();
  });

  it('copies URN values verbatim, including sub-delimiters and existing escapes', () => {
    expect(epcUrnToDigitalLink("urn:epc:id:sgtin:4012345.011111.a!'()*+,:;=b")).toBe("https://id.gs1.org/01/04012345111118/21/a!'()*+,:;=b");
    expect(epcUrnToDigitalLink('urn:epc:id:giai:4012345.A%2FB')).toBe('https://id.gs1.org/8004/4012345A%2FB');
  });

  it.each([
    '',
    'urn',
    'urn:epc:id:sgtin:4012345.011111',
    'urn:epc:id:sgtin:4012345.0111111.1',
    'urn:epc:id:sgtin:4012345.011111.123456789012345678901',
    'urn:epc:id:sgtin:4012345.011111.a b',
    'urn:epc:id:sgtin:4012345.011111.a#b',
    'urn:epc:id:sscc:4012345.311111111',
    'urn:epc:id:unknown:4012345.1',
    'urn:epc:idpat:sgtin:4012345.011111.1',
    'https://id.gs1.org/01/04012345111118/21/a b',
    'https://id.gs1.org/01/04012345111118/21/1#frag',
    'https://example.com/about.html',
    'ftp://id.gs1.org/01/04012345111118',
  ])('malformed %j → null', (input) => {
    expect(epcUrnToDigitalLink(input)).toBeNull();
  });
});
