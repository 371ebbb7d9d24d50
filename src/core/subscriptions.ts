/**
 * EPCIS 2.0 query subscriptions (webhooks): the rules, pure. What a subscription request may say, which named queries
 * can be subscribed to, whether a subscriber may still be delivered to, how long to wait before retrying, and how a
 * delivery is signed. The use cases are `services/epcis-subscriptions.ts` and `services/subscription-worker.ts`.
 *
 * Deviations from the REST binding (`POST /queries/{queryName}/subscriptions`):
 * - Only `stream: true` subscriptions; a `schedule` is refused (ValidationException), not ignored.
 * - `signatureToken` is optional: without one the ledger generates a secret and shows it once, in the 201 answer.
 * - `reportIfEmpty: true` is refused: a stream reports when events match, never an empty document.
 * - `dest` must be `https://`, or `http://` to a loopback host (127.0.0.0/8, ::1, localhost) for local receivers.
 */
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { toHex } from './bytes.ts';
import { type EpcisQuery, type EpcisQueryError, namedQueryParams, parseEpcisQuery } from './epcis-query-params.ts';
import { type Result, err, ok } from './result.ts';
import { parseOccurrenceTime } from './time.ts';

/** The header carrying `sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>` (the binding's `GS1-Signature`). */
export const SIGNATURE_HEADER = 'GS1-Signature';
/** Unix seconds at signing; part of the signed text, so a receiver can refuse old replays. */
export const TIMESTAMP_HEADER = 'X-Provenant-Timestamp';
/** The subscription's id (also `subscriptionID` in the document). */
export const SUBSCRIPTION_HEADER = 'X-Provenant-Subscription';

/** Active subscriptions one actor may hold: each costs the worker reads every round and requests to its receiver. */
export const MAX_ACTIVE_SUBSCRIPTIONS_PER_ACTOR = 100;
export const MAX_DEST_LENGTH = 2000;
export const MIN_SECRET_LENGTH = 16;
export const MAX_SECRET_LENGTH = 256;

export interface SubscriptionRequest {
  dest: string;
  /** The client's secret (`signatureToken`), or null: the ledger generates one. */
  signatureToken: string | null;
  /** Also deliver events recorded since this instant (added to the query as `GE_recordTime`); null: from now on. */
  initialRecordTime: Date | null;
}

export interface SubscriptionFieldError {
  /** The body member at fault (`body` for the body as a whole). */
  field: string;
  message: string;
}

const KNOWN = new Set(['@context', 'dest', 'signatureToken', 'stream', 'schedule', 'reportIfEmpty', 'initialRecordTime']);
const LOOPBACK = /^(127(?:\.\d{1,3}){3}|\[::1\]|localhost)$/i;

/** Checks a destination URL: absolute https, or http to a loopback host; no credentials, no fragment. */
export function checkDest(dest: unknown): Result<string> {
  if (typeof dest !== 'string' || dest.length === 0) return err('dest must be the URL deliveries are POSTed to');
  if (dest.length > MAX_DEST_LENGTH) return err(`dest is at most ${MAX_DEST_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(dest);
  } catch {
    return err('dest is not an absolute URL');
  }
  if (url.username || url.password) return err('dest must not carry credentials: authenticate deliveries by their signature');
  if (url.hash) return err('dest must not have a fragment');
  if (url.protocol === 'https:') return ok(url.toString());
  if (url.protocol === 'http:' && LOOPBACK.test(url.hostname)) return ok(url.toString());
  return err('dest must be an https:// URL (http:// only to a loopback host such as 127.0.0.1)');
}

/**
 * Validates a `POST /queries/{name}/subscriptions` body: `dest`, `stream: true`, optional `signatureToken`
 * (16…256 printable ASCII characters), optional `initialRecordTime` (RFC 3339 with offset). Unknown members, a
 * `schedule`, `reportIfEmpty: true` and a missing or false `stream` are errors naming the member.
 */
export function parseSubscriptionRequest(body: unknown): Result<SubscriptionRequest, SubscriptionFieldError[]> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return err([{ field: 'body', message: 'the body must be a JSON object {"dest": …, "stream": true, …}' }]);
  }
  const b = body as Record<string, unknown>;
  const errors: SubscriptionFieldError[] = [];
  for (const key of Object.keys(b)) if (!KNOWN.has(key)) errors.push({ field: key, message: `unknown member ${key}` });
  const dest = checkDest(b['dest']);
  if (!dest.ok) errors.push({ field: 'dest', message: dest.error });
  let token: string | null = null;
  if (b['signatureToken'] !== undefined && b['signatureToken'] !== null) {
    const t = b['signatureToken'];
    if (typeof t !== 'string' || t.length < MIN_SECRET_LENGTH || t.length > MAX_SECRET_LENGTH || !/^[\x21-\x7e]+$/.test(t)) {
      errors.push({ field: 'signatureToken', message: `signatureToken must be ${MIN_SECRET_LENGTH} to ${MAX_SECRET_LENGTH} printable ASCII characters without spaces` });
    } else token = t;
  }
  if (b['schedule'] !== undefined) {
    errors.push({ field: 'schedule', message: 'scheduled subscriptions are not supported: subscribe with "stream": true' });
  } else if (b['stream'] !== true) {
    errors.push({ field: 'stream', message: 'stream must be true (deliveries as matching events are recorded); schedules are not supported' });
  }
  if (b['reportIfEmpty'] !== undefined && b['reportIfEmpty'] !== false) {
    errors.push({ field: 'reportIfEmpty', message: 'reportIfEmpty applies to scheduled subscriptions; a stream never sends an empty report' });
  }
  let initialRecordTime: Date | null = null;
  if (b['initialRecordTime'] !== undefined && b['initialRecordTime'] !== null) {
    const t = typeof b['initialRecordTime'] === 'string' ? parseOccurrenceTime(b['initialRecordTime']) : err('must be a string');
    if (t.ok) initialRecordTime = t.value.instant;
    else errors.push({ field: 'initialRecordTime', message: `initialRecordTime ${t.error}` });
  }
  if (errors.length > 0 || !dest.ok) return err(errors);
  return ok({ dest: dest.value, signatureToken: token, initialRecordTime });
}

/**
 * The query a subscription to a named query runs: its definition, with `GE_recordTime` = `initialRecordTime` when
 * given (the later of the two if the definition has one). `eventCountLimit` and `maxEventCount` bound one result and
 * make no sense for a stream: such definitions are refused. `orderBy` is allowed but deliveries are in log order.
 */
export function subscriptionQuery(definition: Record<string, unknown>, initialRecordTime: Date | null): Result<EpcisQuery, EpcisQueryError[]> {
  const parsed = parseEpcisQuery(namedQueryParams(definition));
  if (!parsed.ok) return parsed;
  const q = parsed.value;
  const errors: EpcisQueryError[] = [];
  if (q.eventCountLimit !== null) errors.push({ parameter: 'eventCountLimit', message: 'a query with eventCountLimit cannot be subscribed to: a stream has no end to count from' });
  if (q.maxEventCount !== null) errors.push({ parameter: 'maxEventCount', message: 'a query with maxEventCount cannot be subscribed to: deliveries are batched, not one result' });
  if (errors.length > 0) return err(errors);
  const ge = q.filter.geRecordTime ?? null;
  const from = initialRecordTime === null ? ge : ge === null || ge < initialRecordTime ? initialRecordTime : ge;
  return ok({ ...q, orderBy: null, orderDirection: 'ASC', filter: { ...q.filter, geRecordTime: from } });
}

/** What the worker knows about a subscriber right before a delivery. */
export interface SubscriberFacts {
  /** The subscription was created with an API key of the database (false: with the operator key of the configuration). */
  createdWithKey: boolean;
  /** That key, or null when it no longer exists. */
  key: { revokedAt: Date | null; actorId: string } | null;
  /** The subscribing actor, or null when it no longer exists. */
  actor: { id: string; isOperator: boolean } | null;
}

/**
 * Whether deliveries may go on: the actor exists, and the creating key exists, belongs to it and is not revoked (a
 * subscription made with the operator key lasts while its actor is the operator). Otherwise the reason to stop.
 */
export function subscriberStanding(f: SubscriberFacts): { ok: true } | { ok: false; reason: string } {
  if (!f.actor) return { ok: false, reason: 'the subscribing actor no longer exists' };
  if (!f.createdWithKey) return f.actor.isOperator ? { ok: true } : { ok: false, reason: 'the subscribing actor is no longer the operator' };
  if (!f.key || f.key.actorId !== f.actor.id) return { ok: false, reason: 'the API key that created the subscription no longer exists' };
  if (f.key.revokedAt !== null) return { ok: false, reason: 'the API key that created the subscription was revoked' };
  return { ok: true };
}

export interface BackoffPolicy {
  /** Delay after the first failure. */
  baseMs: number;
  /** Longest delay. */
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 1_000, maxMs: 5 * 60_000 };

/**
 * Wait before retry number `failures` (1 after the first failure): base·2^(failures−1), capped at max, scaled by a
 * jitter in [0.5, 1) from `random01` ∈ [0, 1), so receivers coming back are not hit by every subscription at once.
 */
export function retryDelayMs(failures: number, policy: BackoffPolicy, random01: number): number {
  const exp = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(Math.max(failures - 1, 0), 30));
  return Math.round(exp * (0.5 + Math.min(Math.max(random01, 0), 0.999999) / 2));
}

/** `sha256=<hex HMAC-SHA256(secret, `${timestamp}.${body}`)>`: the value of {@link SIGNATURE_HEADER}. */
export function signDelivery(secret: string, timestamp: number, body: string): string {
  const enc = new TextEncoder();
  return `sha256=${toHex(hmac(sha256, enc.encode(secret), enc.encode(`${timestamp}.${body}`)))}`;
}

/** Shortens a receiver's error text for `last_error` (kept, shown to the owner). */
export function deliveryError(status: number | null, detail: string): string {
  const text = status === null ? detail : `HTTP ${status}${detail ? `: ${detail}` : ''}`;
  return text.length > 500 ? `${text.slice(0, 499)}…` : text;
}
