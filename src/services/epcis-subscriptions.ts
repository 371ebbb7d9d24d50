/**
 * EPCIS 2.0 query subscriptions (REST binding `/queries/{queryName}/subscriptions`): create, list, read, delete. A
 * subscription snapshots the named query's definition at creation (redefining or deleting the named query later
 * does not change what it delivers) and belongs to the caller's actor: another actor's subscription is not found.
 * Deliveries are made by `subscription-worker.ts`.
 */
import { randomBytes } from 'node:crypto';
import type { EpcFormat } from '../core/epcis-export.ts';
import type { EpcisQueryError } from '../core/epcis-query-params.ts';
import { MAX_ACTIVE_SUBSCRIPTIONS_PER_ACTOR, type SubscriptionFieldError, parseSubscriptionRequest, subscriptionQuery } from '../core/subscriptions.ts';
import type { DbOrTrx } from '../db/connection.ts';
import { findNamedQuery } from '../db/epcis-named-queries.ts';
import { type SubscriptionRow, countActiveSubscriptions, deleteSubscription, findSubscription, insertSubscription, listSubscriptions } from '../db/epcis-subscriptions.ts';
import { readLogHead } from '../db/log.ts';

/** A subscription as the API shows it (the binding's members, then the ledger's `provenant:` ones); never the secret. */
export interface SubscriptionView {
  subscriptionID: string;
  queryName: string;
  dest: string;
  stream: true;
  reportIfEmpty: false;
  createdAt: string;
  lastNotifiedAt: string | null;
  initialRecordTime: string | null;
  epcFormat: 'Always_EPC_URN' | 'Always_GS1_Digital_Link';
  'provenant:status': 'active' | 'stopped';
  'provenant:stoppedReason': string | null;
  /** The last log position examined: deliveries go on with the events after it. */
  'provenant:position': number;
  'provenant:attempts': number;
  'provenant:nextAttemptAt': string | null;
  'provenant:lastError': string | null;
}

export function subscriptionView(r: SubscriptionRow): SubscriptionView {
  return {
    subscriptionID: r.id,
    queryName: r.query_name,
    dest: r.dest,
    stream: true,
    reportIfEmpty: false,
    createdAt: r.created_at.toISOString(),
    lastNotifiedAt: r.last_notified_at?.toISOString() ?? null,
    initialRecordTime: r.initial_record_time?.toISOString() ?? null,
    epcFormat: r.epc_format === 'digitalLink' ? 'Always_GS1_Digital_Link' : 'Always_EPC_URN',
    'provenant:status': r.status,
    'provenant:stoppedReason': r.stopped_reason,
    'provenant:position': r.cursor,
    'provenant:attempts': r.attempts,
    'provenant:nextAttemptAt': r.status === 'active' ? r.next_attempt_at.toISOString() : null,
    'provenant:lastError': r.last_error,
  };
}

export type NoSuchQuery = { kind: 'NoSuchQuery'; message: string };
export type NoSuchSubscription = { kind: 'NoSuchSubscription'; message: string };

const noSuchQuery = (name: string): NoSuchQuery => ({ kind: 'NoSuchQuery', message: `there is no named query ${JSON.stringify(name)}` });
const noSuchSubscription = (id: string): NoSuchSubscription => ({ kind: 'NoSuchSubscription', message: `there is no subscription ${JSON.stringify(id)} to this query` });

export interface Subscriber {
  actorId: string;
  /** The API key of the request (null: the operator key); revoking it stops the subscription. */
  keyId: string | null;
}

/**
 * Subscribes the caller to its named query `queryName`, delivering to `body.dest` the events logged from now on
 * (or recorded since `initialRecordTime`). Fails with NoSuchQuery, InvalidRequest (the body; errors name members)
 * or InvalidQuery (the named query cannot be streamed), TooMany when the actor already has
 * {@link MAX_ACTIVE_SUBSCRIPTIONS_PER_ACTOR} active ones. `secret` is the generated signing secret when the body had
 * no `signatureToken` (shown once), else null.
 */
export async function createSubscription(
  db: DbOrTrx,
  caller: Subscriber,
  queryName: string,
  body: unknown,
  epcFormat: EpcFormat,
  now: Date,
): Promise<
  | { kind: 'ok'; subscription: SubscriptionView; secret: string | null }
  | NoSuchQuery
  | { kind: 'InvalidRequest'; errors: SubscriptionFieldError[] }
  | { kind: 'InvalidQuery'; errors: EpcisQueryError[] }
  | { kind: 'TooMany'; message: string }
> {
  const named = await findNamedQuery(db, caller.actorId, queryName);
  if (!named) return noSuchQuery(queryName);
  const request = parseSubscriptionRequest(body);
  if (!request.ok) return { kind: 'InvalidRequest', errors: request.error };
  const query = subscriptionQuery(named.query, request.value.initialRecordTime);
  if (!query.ok) return { kind: 'InvalidQuery', errors: query.error };
  // Checked before the insert, not with it: concurrent creations may pass the cap by a few, which is harmless.
  if ((await countActiveSubscriptions(db, caller.actorId, MAX_ACTIVE_SUBSCRIPTIONS_PER_ACTOR)) >= MAX_ACTIVE_SUBSCRIPTIONS_PER_ACTOR) {
    return { kind: 'TooMany', message: `an actor may hold at most ${MAX_ACTIVE_SUBSCRIPTIONS_PER_ACTOR} active subscriptions; delete one first` };
  }
  const generated = request.value.signatureToken === null ? randomBytes(32).toString('base64url') : null;
  // From now on: after the last logged position; with initialRecordTime, from the start, filtered by record time.
  const cursor = request.value.initialRecordTime === null ? (await readLogHead(db)).size - 1 : -1;
  const row = await insertSubscription(db, {
    actorId: caller.actorId, apiKeyId: caller.keyId, queryName, query: named.query, dest: request.value.dest,
    secret: generated ?? request.value.signatureToken!, epcFormat, initialRecordTime: request.value.initialRecordTime, cursor, now,
  });
  return { kind: 'ok', subscription: subscriptionView(row), secret: generated };
}

/** One page of the caller's subscriptions to `queryName` (id order) and whether there are more. */
export async function subscriptionPage(
  db: DbOrTrx,
  actorId: string,
  queryName: string,
  afterId: string | null,
  limit: number,
): Promise<{ kind: 'ok'; subscriptions: SubscriptionView[]; more: boolean } | NoSuchQuery> {
  const rows = await listSubscriptions(db, actorId, queryName, afterId, limit + 1);
  // A deleted named query's subscriptions still run (and can be listed and deleted); a name with neither is missing.
  if (rows.length === 0 && afterId === null && !(await findNamedQuery(db, actorId, queryName))) return noSuchQuery(queryName);
  return { kind: 'ok', subscriptions: rows.slice(0, limit).map(subscriptionView), more: rows.length > limit };
}

export async function getSubscription(db: DbOrTrx, actorId: string, queryName: string, id: string): Promise<{ kind: 'ok'; subscription: SubscriptionView } | NoSuchSubscription> {
  const row = await findSubscription(db, actorId, queryName, id);
  return row ? { kind: 'ok', subscription: subscriptionView(row) } : noSuchSubscription(id);
}

/** Unsubscribes: the row is deleted, so nothing more is delivered (a delivery in flight may still arrive once). */
export async function removeSubscription(db: DbOrTrx, actorId: string, queryName: string, id: string): Promise<{ kind: 'ok' } | NoSuchSubscription> {
  return (await deleteSubscription(db, actorId, queryName, id)) ? { kind: 'ok' } : noSuchSubscription(id);
}
