/**
 * Rules of the GS1 Digital Link resolver that do not concern links: the request path grammar, scan-count keys and
 * the per-client rate limit. Pure (the caller passes the time in).
 */
import { normalizeGtin, validateCset82, validateSerial } from './identifiers.ts';
import { type Result, err, ok } from './result.ts';

/** What a resolver request path identifies: a product, optionally one lot and/or one serial of it. */
export interface ResolverKey {
  gtin14: string;
  lot: string | null;
  serial: string | null;
  /** Consumer product variant (AI 22): accepted, but links are not kept per variant, so it resolves as the product. */
  cpv: string | null;
  /** Third-party controlled serial (AI 235): accepted, resolves as the product. */
  tpx: string | null;
}

const PCHAR = /^[A-Za-z0-9\-._~!$&'()*+,;=:@%]*$/;

function decodeSegment(ai: string, raw: string | undefined, max: number): Result<string> {
  if (raw === undefined || raw === '') return err(`AI ${ai} needs a value after /${ai}/`);
  if (!PCHAR.test(raw)) return err(`AI ${ai}: the value has characters that must be percent-encoded`);
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    return err(`AI ${ai}: malformed percent-encoding`);
  }
  const valid = ai === '21' ? validateSerial(decoded) : validateCset82(`AI ${ai} value`, decoded, max);
  return valid.ok ? valid : err(ai === '21' ? `AI 21: ${valid.error}` : valid.error);
}

/**
 * Parses the path of a resolver request, `/01/{gtin}` followed by the key qualifiers of GS1 Digital Link 1.2 in their
 * order: `/22/{cpv}`, `/10/{lot}`, `/21/{serial}`, or `/235/{tpx}` alone. A trailing slash is tolerated; query
 * strings are the caller's. GTIN-8/12/13/14 with a valid check digit; values percent-decoded and checked against GS1
 * character set 82 (lot, serial and CPV at most 20 characters, TPX 28). Fails, with a message for a 400 answer, on
 * anything else: another primary key, a bad check digit, qualifiers out of order or repeated, extra segments.
 */
export function parseResolverPath(path: string): Result<ResolverKey> {
  const trimmed = path.endsWith('/') && path.length > 1 ? path.slice(0, -1) : path;
  const segments = trimmed.split('/').slice(1);
  if (segments[0] !== '01') return err('the path must start with /01/{gtin} (this resolver serves GTINs)');
  const gtin = normalizeGtin(segments[1] ?? '');
  if (!gtin.ok) return err(gtin.error);
  const key: ResolverKey = { gtin14: gtin.value, lot: null, serial: null, cpv: null, tpx: null };
  const rest = segments.slice(2);
  if (rest[0] === '235') {
    const tpx = decodeSegment('235', rest[1], 28);
    if (!tpx.ok) return tpx;
    if (rest.length > 2) return err('nothing may follow /235/{tpx}');
    return ok({ ...key, tpx: tpx.value });
  }
  let i = 0;
  for (const [ai, field] of [['22', 'cpv'], ['10', 'lot'], ['21', 'serial']] as const) {
    if (rest[i] !== ai) continue;
    const value = decodeSegment(ai, rest[i + 1], 20);
    if (!value.ok) return value;
    key[field] = value.value;
    i += 2;
  }
  if (i < rest.length) {
    return err(`unexpected path segment ${JSON.stringify(rest[i])}: after /01/{gtin} only /22/{cpv}, /10/{lot}, /21/{serial} (in this order) or /235/{tpx} may follow`);
  }
  return ok(key);
}

/** The canonical path of a key (GTIN-14, qualifiers in order, values percent-encoded but for unreserved characters). */
export function resolverPath(key: Pick<ResolverKey, 'gtin14' | 'lot' | 'serial'>): string {
  const enc = (v: string) => encodeURIComponent(v).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `/01/${key.gtin14}${key.lot !== null ? `/10/${enc(key.lot)}` : ''}${key.serial !== null ? `/21/${enc(key.serial)}` : ''}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Scan counting

/**
 * The country of a scan from a trusted proxy header value (e.g. Cloudflare's `CF-IPCountry`): an ISO 3166 alpha-2
 * code in upper case, or `unknown` when absent or not two letters (Cloudflare's `XX` and `T1` included).
 */
export function scanCountry(headerValue: string | null | undefined): string {
  const v = (headerValue ?? '').trim().toUpperCase();
  return /^[A-Z]{2}$/.test(v) && v !== 'XX' ? v : 'unknown';
}

/** The UTC calendar day (`YYYY-MM-DD`) a scan at `at` is counted on. */
export function scanDay(at: Date): string {
  return at.toISOString().slice(0, 10);
}

// ---------------------------------------------------------------------------------------------------------------
// Rate limit: a token bucket per client

export interface TokenBucket {
  tokens: number;
  /** Milliseconds since the epoch of the last refill. */
  at: number;
}

/**
 * Takes one token from a bucket of capacity `perMinute` that refills continuously at `perMinute` per minute.
 * Returns the bucket after the attempt and, when refused, after how many whole seconds a token will be there.
 * A missing bucket starts full.
 */
export function takeToken(bucket: TokenBucket | undefined, nowMs: number, perMinute: number): { allowed: boolean; bucket: TokenBucket; retryAfterSeconds: number } {
  const ratePerMs = perMinute / 60_000;
  const elapsed = bucket ? Math.max(0, nowMs - bucket.at) : 0;
  const tokens = bucket ? Math.min(perMinute, bucket.tokens + elapsed * ratePerMs) : perMinute;
  if (tokens >= 1) return { allowed: true, bucket: { tokens: tokens - 1, at: nowMs }, retryAfterSeconds: 0 };
  return { allowed: false, bucket: { tokens, at: nowMs }, retryAfterSeconds: Math.max(1, Math.ceil((1 - tokens) / ratePerMs / 1000)) };
}

/** Whether a bucket has refilled completely by `nowMs` (it can then be forgotten without changing any answer). */
export function bucketIsFull(bucket: TokenBucket, nowMs: number, perMinute: number): boolean {
  return bucket.tokens + Math.max(0, nowMs - bucket.at) * (perMinute / 60_000) >= perMinute;
}

/** Longest period one scan-count read may span, in days. */
export const MAX_SCAN_RANGE_DAYS = 366;

/**
 * Validates a scan-count period of UTC days `YYYY-MM-DD`, both ends included: real dates, `from` ≤ `to`, at most
 * {@link MAX_SCAN_RANGE_DAYS} days. Fails naming the argument.
 */
export function scanRange(from: string, to: string): Result<{ from: string; to: string }, { field: 'from' | 'to'; message: string }> {
  const day = (s: string) => {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(s)) return null;
    const d = new Date(`${s}T00:00:00Z`);
    return Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== s ? null : d.getTime();
  };
  const f = day(from);
  if (f === null) return err({ field: 'from', message: `from must be a date YYYY-MM-DD, got ${JSON.stringify(from)}` });
  const t = day(to);
  if (t === null) return err({ field: 'to', message: `to must be a date YYYY-MM-DD, got ${JSON.stringify(to)}` });
  if (t < f) return err({ field: 'to', message: 'to must not be before from' });
  if ((t - f) / 86_400_000 + 1 > MAX_SCAN_RANGE_DAYS) return err({ field: 'to', message: `at most ${MAX_SCAN_RANGE_DAYS} days per request` });
  return ok({ from, to });
}
