import { describe, expect, it } from 'vitest';
import { type OccurrenceTime, formatInstant, formatWithOffset, parseOccurrenceTime } from '../../src/core/time.ts';

function parsed(input: string): OccurrenceTime {
  const r = parseOccurrenceTime(input);
  if (!r.ok) throw new Error(`expected ${input} to parse, got: ${r.error}`);
  return r.value;
}

function rejected(input: string): string {
  const r = parseOccurrenceTime(input);
  if (r.ok) throw new Error(`expected ${input} to be rejected, got ${r.value.instant.toISOString()} ${r.value.offset}`);
  return r.error;
}

describe('parseOccurrenceTime', () => {
  it('maps Z (and z) to +00:00 and keeps the instant', () => {
    for (const input of ['2026-03-01T09:30:00Z', '2026-03-01t09:30:00z']) {
      const t = parsed(input);
      expect(t.offset).toBe('+00:00');
      expect(t.instant.getTime()).toBe(Date.UTC(2026, 2, 1, 9, 30, 0, 0));
    }
  });

  it('keeps a positive offset and computes the UTC instant', () => {
    const t = parsed('2026-03-01T09:30:00.000+01:00');
    expect(t.offset).toBe('+01:00');
    expect(t.instant.toISOString()).toBe('2026-03-01T08:30:00.000Z');
  });

  it('keeps a negative offset with minutes and computes the UTC instant', () => {
    const t = parsed('2026-03-01T09:30:00-03:30');
    expect(t.offset).toBe('-03:30');
    expect(t.instant.toISOString()).toBe('2026-03-01T13:00:00.000Z');
  });

  it('crosses day, month and year boundaries correctly', () => {
    expect(parsed('2026-01-01T00:30:00+01:00').instant.toISOString()).toBe('2025-12-31T23:30:00.000Z');
    expect(parsed('2026-02-28T23:15:00-05:45').instant.toISOString()).toBe('2026-03-01T05:00:00.000Z');
    expect(parsed('2026-03-01T05:00:00+14:00').instant.toISOString()).toBe('2026-02-28T15:00:00.000Z');
  });

  it('keeps -00:00 distinct from +00:00 as an offset but at the same instant', () => {
    const minus = parsed('2026-03-01T09:30:00-00:00');
    expect(minus.offset).toBe('-00:00');
    expect(minus.instant.getTime()).toBe(parsed('2026-03-01T09:30:00Z').instant.getTime());
  });

  it('keeps up to 3 fractional digits exactly and pads shorter ones', () => {
    expect(parsed('2026-03-01T09:30:00.5Z').instant.toISOString()).toBe('2026-03-01T09:30:00.500Z');
    expect(parsed('2026-03-01T09:30:00.05Z').instant.toISOString()).toBe('2026-03-01T09:30:00.050Z');
    expect(parsed('2026-03-01T09:30:00.123Z').instant.toISOString()).toBe('2026-03-01T09:30:00.123Z');
  });

  it('truncates (does not round) more than 3 fractional digits', () => {
    expect(parsed('2026-03-01T09:30:00.123999+01:00').instant.toISOString()).toBe('2026-03-01T08:30:00.123Z');
    expect(parsed('2026-03-01T09:30:00.0009Z').instant.toISOString()).toBe('2026-03-01T09:30:00.000Z');
    // Rounding would carry into the next year.
    expect(parsed('2026-12-31T23:59:59.999999999Z').instant.toISOString()).toBe('2026-12-31T23:59:59.999Z');
  });

  it('returns an instant with no sub-millisecond part and accepts surrounding whitespace', () => {
    const t = parsed('  2026-03-01T09:30:00.123456Z\n');
    expect(t.instant.getTime() % 1).toBe(0);
    expect(t.instant.getTime()).toBe(Date.UTC(2026, 2, 1, 9, 30, 0, 123));
  });

  it('rejects a missing offset', () => {
    for (const input of ['2026-03-01T09:30:00', '2026-03-01T09:30:00.000', '2026-03-01']) {
      expect(rejected(input)).toMatch(/timezone offset/);
    }
  });

  it('rejects malformed timestamps', () => {
    for (const input of [
      '', '2026-03-01 09:30:00Z', '2026-3-1T09:30:00Z', '2026-03-01T09:30Z', '2026-03-01T09:30:00+0100', '2026-03-01T09:30:00+01',
      '2026-03-01T09:30:00.Z', '2026-03-01T09:30:00.1234567890Z', '2026-03-01T09:30:00 +01:00', 'yesterday',
    ]) {
      expect(rejected(input), input).toMatch(/RFC 3339/);
    }
  });

  it('rejects impossible dates and times', () => {
    for (const input of [
      '2026-02-30T09:30:00Z', '2026-02-29T09:30:00Z', '2026-04-31T00:00:00Z', '2026-13-01T00:00:00Z', '2026-00-10T00:00:00Z',
      '2026-03-00T00:00:00Z', '2026-03-01T24:00:00Z', '2026-03-01T23:60:00Z', '2026-03-01T23:59:60Z',
    ]) {
      expect(rejected(input), input).toMatch(/not a valid date/);
    }
  });

  it('takes years literally (not as 19xx) and still validates the calendar of early years', () => {
    expect(formatInstant(parsed('1000-06-01T00:00:00Z').instant)).toBe('1000-06-01T00:00:00.000Z');
    expect(rejected('0001-02-29T00:00:00Z')).toMatch(/not a valid date/);
  });

  it('accepts only instants in years 1000–9999 UTC (what PGlite and PostgreSQL store exactly), offsets applied', () => {
    // Lower edge: exactly 1000-01-01T00:00:00.000Z, given in UTC or in an offset.
    expect(parsed('1000-01-01T00:00:00.000Z').instant.toISOString()).toBe('1000-01-01T00:00:00.000Z');
    expect(parsed('1000-01-01T01:00:00.000+01:00').instant.toISOString()).toBe('1000-01-01T00:00:00.000Z');
    expect(rejected('0999-12-31T23:59:59.999Z')).toMatch(/outside the supported range/);
    expect(rejected('1000-01-01T00:30:00+01:00')).toMatch(/outside the supported range/);
    // The years PGlite stored 1900/2000 years later, and year 0.
    for (const input of ['0099-06-01T00:00:00Z', '0050-06-01T00:00:00Z', '0000-02-29T00:00:00Z', '0001-01-01T00:00:00+01:00']) {
      expect(rejected(input), input).toMatch(/outside the supported range/);
    }
    // Upper edge: 9999-12-31T23:59:59.999Z; a local time in 9999 that is in year 10000 UTC is refused.
    expect(parsed('9999-12-31T23:59:59.999Z').instant.toISOString()).toBe('9999-12-31T23:59:59.999Z');
    expect(parsed('9999-12-31T23:59:59.999+05:00').instant.toISOString()).toBe('9999-12-31T18:59:59.999Z');
    expect(rejected('9999-12-31T23:30:00-01:00')).toMatch(/outside the supported range/);
  });

  it('accepts 29 February in a leap year', () => {
    expect(parsed('2028-02-29T12:00:00+02:00').instant.toISOString()).toBe('2028-02-29T10:00:00.000Z');
  });

  it('rejects offsets out of range and accepts the extremes', () => {
    for (const input of ['2026-03-01T09:30:00+24:00', '2026-03-01T09:30:00-25:00', '2026-03-01T09:30:00+01:60', '2026-03-01T09:30:00-99:99']) {
      expect(rejected(input), input).toMatch(/out of range/);
    }
    expect(parsed('2026-03-01T09:30:00+23:59').instant.toISOString()).toBe('2026-02-28T09:31:00.000Z');
    expect(parsed('2026-03-01T09:30:00-23:59').instant.toISOString()).toBe('2026-03-02T09:29:00.000Z');
  });
});

describe('formatInstant', () => {
  it('always renders UTC with exactly three fractional digits', () => {
    expect(formatInstant(new Date(Date.UTC(2026, 2, 1, 8, 30, 0, 0)))).toBe('2026-03-01T08:30:00.000Z');
    expect(formatInstant(new Date(Date.UTC(2026, 2, 1, 8, 30, 0, 7)))).toBe('2026-03-01T08:30:00.007Z');
    expect(formatInstant(new Date(Date.UTC(1999, 11, 31, 23, 59, 59, 999)))).toBe('1999-12-31T23:59:59.999Z');
    for (const ms of [0, 1, 10, 100, 999]) expect(formatInstant(new Date(Date.UTC(2026, 0, 1, 0, 0, 0, ms)))).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  });

  it('renders the parsed instant of an offset timestamp in UTC', () => {
    expect(formatInstant(parsed('2026-03-01T09:30:00.1239-05:00').instant)).toBe('2026-03-01T14:30:00.123Z');
  });
});

describe('formatWithOffset', () => {
  it('renders an instant in a given offset with three fractional digits', () => {
    const instant = new Date(Date.UTC(2026, 2, 1, 8, 30, 0, 5));
    expect(formatWithOffset(instant, '+01:00')).toBe('2026-03-01T09:30:00.005+01:00');
    expect(formatWithOffset(instant, '-05:30')).toBe('2026-03-01T03:00:00.005-05:30');
    expect(formatWithOffset(instant, '+00:00')).toBe('2026-03-01T08:30:00.005+00:00');
    expect(formatWithOffset(instant, '+14:00')).toBe('2026-03-01T22:30:00.005+14:00');
    expect(formatWithOffset(new Date(Date.UTC(2026, 0, 1, 0, 30)), '-01:00')).toBe('2025-12-31T23:30:00.000-01:00');
  });

  it('round-trips: parse → formatWithOffset gives the normalised input, and parses back to the same instant and offset', () => {
    const cases: [input: string, normalised: string][] = [
      ['2026-03-01T09:30:00+01:00', '2026-03-01T09:30:00.000+01:00'],
      ['2026-03-01T09:30:00.1Z', '2026-03-01T09:30:00.100+00:00'],
      ['2026-03-01T09:30:00.123456-03:30', '2026-03-01T09:30:00.123-03:30'],
      ['2026-01-01T00:00:00.000+05:45', '2026-01-01T00:00:00.000+05:45'],
      ['2025-12-31T23:59:59.999-11:00', '2025-12-31T23:59:59.999-11:00'],
      ['2028-02-29T00:15:00+23:59', '2028-02-29T00:15:00.000+23:59'],
      ['2026-03-01T09:30:00-00:00', '2026-03-01T09:30:00.000-00:00'],
    ];
    for (const [input, normalised] of cases) {
      const first = parsed(input);
      const text = formatWithOffset(first.instant, first.offset);
      expect(text, input).toBe(normalised);
      const again = parsed(text);
      expect(again.instant.getTime(), input).toBe(first.instant.getTime());
      expect(again.offset, input).toBe(first.offset);
    }
  });
});
