import { describe, expect, it } from 'vitest';
import { parseResolverPath, resolverPath, scanCountry, scanDay, scanRange, takeToken } from '../../src/core/resolver.ts';

describe('parseResolverPath', () => {
  it('accepts the key qualifiers of GTIN in order, GTIN-8/12/13/14, percent-encoding and a trailing slash', () => {
    const key = (gtin14: string, over = {}) => ({ ok: true, value: { gtin14, lot: null, serial: null, cpv: null, tpx: null, ...over } });
    expect(parseResolverPath('/01/04012345111118')).toEqual(key('04012345111118'));
    expect(parseResolverPath('/01/96385074/')).toEqual(key('00000096385074'));
    expect(parseResolverPath('/01/4012345111118/22/V%2B1/10/L%2F1/21/S1')).toEqual(key('04012345111118', { cpv: 'V+1', lot: 'L/1', serial: 'S1' }));
    expect(parseResolverPath('/01/04012345111118/21/S1')).toEqual(key('04012345111118', { serial: 'S1' }));
    expect(parseResolverPath('/01/04012345111118/235/TPX')).toEqual(key('04012345111118', { tpx: 'TPX' }));
  });

  it('refuses bad keys, order and trailing segments with a reason', () => {
    const error = (p: string) => { const r = parseResolverPath(p); return r.ok ? null : r.error; };
    expect(error('/01/04012345111117')).toBe('GTIN check digit is 7, expected 8');
    expect(error('/01/12345')).toBe('GTIN must be 8, 12, 13 or 14 digits');
    expect(error('/00/340123450000000000')).toMatch(/must start with \/01\//);
    expect(error('/01/04012345111118/21/S1/10/L1')).toMatch(/unexpected path segment "10"/);
    expect(error('/01/04012345111118/21/S1/foo')).toMatch(/unexpected path segment "foo"/);
    expect(error('/01/04012345111118/21')).toBe('AI 21 needs a value after /21/');
    expect(error('/01/04012345111118/21/%E2%82%AC')).toMatch(/^AI 21: serial character "€"/);
    expect(error('/01/04012345111118/10/%zz')).toBe('AI 10: malformed percent-encoding');
    expect(error('/01/04012345111118/22/V%201')).toBe('AI 22 value character " " at position 2 is not in GS1 character set 82');
    expect(error(`/01/04012345111118/10/${'x'.repeat(21)}`)).toBe('AI 10 value must be 1 to 20 characters, got 21');
    expect(error('/01/04012345111118/235/T/21/S')).toBe('nothing may follow /235/{tpx}');
  });

  it('prints the canonical path back', () => {
    expect(resolverPath({ gtin14: '04012345111118', lot: 'L/1', serial: "a'b" })).toBe('/01/04012345111118/10/L%2F1/21/a%27b');
  });
});

describe('scan counting rules', () => {
  it('takes the country from a two-letter header value, else unknown', () => {
    expect(scanCountry('de')).toBe('DE');
    expect(scanCountry(' FR ')).toBe('FR');
    for (const v of [null, undefined, '', 'XX', 'T1', 'DEU']) expect(scanCountry(v)).toBe('unknown');
  });
  it('counts on the UTC day', () => {
    expect(scanDay(new Date('2026-03-01T23:30:00-02:00'))).toBe('2026-03-02');
  });
  it('validates the read period', () => {
    expect(scanRange('2026-01-01', '2026-12-31')).toEqual({ ok: true, value: { from: '2026-01-01', to: '2026-12-31' } });
    expect(scanRange('2026-02-30', '2026-03-01')).toMatchObject({ ok: false, error: { field: 'from' } });
    expect(scanRange('2026-03-02', '2026-03-01')).toMatchObject({ ok: false, error: { field: 'to' } });
    expect(scanRange('2025-01-01', '2026-01-02')).toMatchObject({ ok: false, error: { field: 'to' } });
  });
});

describe('takeToken', () => {
  it('allows a burst of the per-minute rate, then refills continuously', () => {
    let bucket;
    const t0 = 1_000_000;
    for (let i = 0; i < 3; i++) {
      const r = takeToken(bucket, t0, 3);
      expect(r.allowed).toBe(true);
      bucket = r.bucket;
    }
    const refused = takeToken(bucket, t0, 3);
    expect(refused).toMatchObject({ allowed: false, retryAfterSeconds: 20 });
    expect(takeToken(refused.bucket, t0 + 19_000, 3).allowed).toBe(false);
    expect(takeToken(refused.bucket, t0 + 20_000, 3).allowed).toBe(true);
    // A clock that goes back does not mint tokens.
    expect(takeToken(refused.bucket, t0 - 60_000, 3).allowed).toBe(false);
  });
});
