import { type Result, err, ok } from './result.ts';

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$/;

export interface OccurrenceTime {
  /** The instant, truncated to milliseconds. */
  instant: Date;
  /** The submitted offset as `±HH:MM` (`Z` becomes `+00:00`). */
  offset: string;
}

/**
 * Earliest and latest instant accepted (UTC, after applying the offset): years 1000 to 9999. Both databases store
 * these exactly and JavaScript prints them as four-digit years; PGlite reads years 1–99 back 1900 years later and
 * a year-0 or five-digit-year instant has no RFC 3339 form, so anything outside would break the hash chain.
 */
export const MIN_INSTANT = new Date('1000-01-01T00:00:00.000Z');
export const MAX_INSTANT = new Date('9999-12-31T23:59:59.999Z');

/**
 * Parses an RFC 3339 timestamp that must carry an explicit offset. Sub-millisecond digits are truncated
 * (hashes and storage keep milliseconds). Fails on a missing offset, an impossible date, or an instant outside
 * {@link MIN_INSTANT}..{@link MAX_INSTANT}.
 */
export function parseOccurrenceTime(input: string): Result<OccurrenceTime> {
  const m = RFC3339.exec(input.trim());
  if (!m) return err('must be an RFC 3339 timestamp with a timezone offset, e.g. 2026-03-01T09:30:00.000+01:00');
  const [, y, mo, d, h, mi, s, frac = '', zone] = m as unknown as string[];
  const offset = zone === 'Z' || zone === 'z' ? '+00:00' : zone!;
  const oh = Number(offset.slice(1, 3));
  const om = Number(offset.slice(4, 6));
  if (oh > 23 || om > 59) return err(`timezone offset ${offset} is out of range`);
  const ms = Number((frac + '000').slice(0, 3));
  // Date.UTC maps years 0–99 to 1900–1999; setUTCFullYear takes the year as given.
  const localUtc = new Date(0).setUTCFullYear(Number(y), Number(mo) - 1, Number(d)) + ((Number(h) * 60 + Number(mi)) * 60 + Number(s)) * 1000 + ms;
  const check = new Date(localUtc);
  if (
    check.getUTCFullYear() !== Number(y) || check.getUTCMonth() !== Number(mo) - 1 || check.getUTCDate() !== Number(d) ||
    Number(h) > 23 || Number(mi) > 59 || Number(s) > 59
  ) {
    return err(`${input} is not a valid date and time`);
  }
  const sign = offset.startsWith('-') ? -1 : 1;
  const instant = new Date(localUtc - sign * (oh * 60 + om) * 60_000);
  if (instant.getTime() < MIN_INSTANT.getTime() || instant.getTime() > MAX_INSTANT.getTime()) {
    return err(`${input} is outside the supported range ${MIN_INSTANT.toISOString()} to ${MAX_INSTANT.toISOString()} (UTC)`);
  }
  return ok({ instant, offset });
}

/** RFC 3339 UTC with exactly three fractional digits: the only timestamp form that is hashed. */
export const formatInstant = (d: Date): string => d.toISOString();

/** Renders an instant in its original offset, e.g. for display and EPCIS export. */
export function formatWithOffset(instant: Date, offset: string): string {
  const sign = offset.startsWith('-') ? -1 : 1;
  const minutes = sign * (Number(offset.slice(1, 3)) * 60 + Number(offset.slice(4, 6)));
  const local = new Date(instant.getTime() + minutes * 60_000).toISOString();
  return local.slice(0, 23) + offset;
}
