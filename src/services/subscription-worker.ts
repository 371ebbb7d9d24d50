/**
 * Delivers EPCIS query subscriptions (webhooks). Each round reads the latest signed checkpoint, claims the active
 * subscriptions that are due and behind it (a lease in the database, so several server processes on one PostgreSQL
 * never deliver the same subscription at once), and for each:
 * 1. re-checks the subscriber: the key that created the subscription must still exist unrevoked and its actor
 *    exist (`core/subscriptions.ts` `subscriberStanding`); otherwise the subscription is stopped for good;
 * 2. recomputes the subscriber's read scope from its grants now, so every delivery shows exactly what the subscriber
 *    may see at that moment (the rule of every other read, `eventVisibleSql`);
 * 3. reads the matching visible events after the cursor, in log order, below the checkpoint (at most `batchSize`
 *    events and `scanWindow` positions), exports them and POSTs one signed EPCISQueryDocument to `dest`;
 * 4. on a 2xx answer moves the cursor past every position examined (delivered, invisible or filtered out); on any
 *    other answer, a network error or a timeout keeps the cursor and retries later with exponential backoff.
 * A window with nothing to deliver moves the cursor without a request. Idle subscriptions (cursor at the log's end)
 * are claimed every `idleRecheckMs` for step 1 only, so a revoked key stops them without waiting for a new event.
 *
 * At-least-once: the cursor moves only after the receiver acknowledged, so a crash (or a lost answer) between the POST
 * and the cursor update delivers the same positions again. Receivers de-duplicate by position: each event carries
 * `provenant:leafIndex` and the document `provenant:lastPosition`; a receiver that processed up to position p ignores
 * events at or below p.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { epcisQueryDocument } from '../core/epcis-export.ts';
import { readScope } from '../core/rights.ts';
import {
  type BackoffPolicy, DEFAULT_BACKOFF, SIGNATURE_HEADER, SUBSCRIPTION_HEADER, TIMESTAMP_HEADER, deliveryError, retryDelayMs, signDelivery,
  subscriberStanding, subscriptionQuery,
} from '../core/subscriptions.ts';
import { findActorsByIds, findApiKey } from '../db/actors.ts';
import type { DbOrTrx } from '../db/connection.ts';
import { findCheckpointRow } from '../db/log.ts';
import { findEpcisEventRows } from '../db/events.ts';
import {
  type SubscriptionRow, claimDueSubscriptions, recordDelivered, recordFailure, releaseSubscription, stopSubscription,
} from '../db/epcis-subscriptions.ts';
import { grantsOf } from '../db/visibility.ts';
import { exportEpcisRows, withCheckpoint, withheldFieldGuard } from './epcis-query.ts';

export interface SubscriptionWorkerOptions {
  /** How often an idle worker looks for new log entries. Default 1 s. */
  pollIntervalMs?: number;
  /** Most events in one delivery. Default 100. */
  batchSize?: number;
  /** Most log positions examined per subscription and round. Default 10,000. */
  scanWindow?: number;
  /** Retry delays after failed deliveries. Default 1 s doubling to 5 min, with jitter. */
  backoff?: BackoffPolicy;
  /** A receiver must answer within this. Default 10 s. */
  deliveryTimeoutMs?: number;
  /** An idle subscription (nothing new in the log) still has its subscriber checked this often. Default 60 s. */
  idleRecheckMs?: number;
  /** Most subscriptions handled per round. Default 50. */
  maxPerRound?: number;
  /** Deliveries in flight at once. Default 4. */
  concurrency?: number;
  /** Jitter source, [0, 1). Default Math.random. */
  random?: () => number;
  /** Where failures of the worker itself are reported (delivery failures are recorded on the subscription). */
  onError?: (error: unknown) => void;
}

export interface WorkerDeps {
  db: DbOrTrx;
  now: () => Date;
}

export interface RoundReport {
  /** Subscriptions handled this round. */
  handled: number;
  /** Events acknowledged by receivers. */
  delivered: number;
  failures: number;
  stopped: number;
  /** Some subscription is still behind the log after this round: the next round should start at once. */
  behind: boolean;
}

const DEFAULTS = {
  pollIntervalMs: 1_000, batchSize: 100, scanWindow: 10_000, backoff: DEFAULT_BACKOFF, deliveryTimeoutMs: 10_000, idleRecheckMs: 60_000, maxPerRound: 50,
  concurrency: 4,
};

type Outcome = { kind: 'delivered' | 'advanced'; events: number; behind: boolean } | { kind: 'failed' } | { kind: 'stopped' } | { kind: 'released' };

/**
 * One round of deliveries (see the module comment). `signal` aborts deliveries in flight (shutdown): their
 * subscriptions are released unchanged, due at once. Database errors propagate; a subscription whose round failed
 * that way is retried when its lease ends.
 */
export async function runSubscriptionRound(deps: WorkerDeps, options: SubscriptionWorkerOptions = {}, signal?: AbortSignal): Promise<RoundReport> {
  const o = { ...DEFAULTS, ...options };
  const report: RoundReport = { handled: 0, delivered: 0, failures: 0, stopped: 0, behind: false };
  const cp = await findCheckpointRow(deps.db, null);
  if (!cp) return report;
  const now = deps.now();
  const lease = new Date(now.getTime() + 2 * o.deliveryTimeoutMs + 5_000);
  const recheckBefore = new Date(now.getTime() - o.idleRecheckMs);
  const due = await claimDueSubscriptions(deps.db, now, lease, cp.treeSize - 1, recheckBefore, o.maxPerRound);
  report.handled = due.length;
  let next = 0;
  const lane = async () => {
    while (next < due.length) {
      const sub = due[next++]!;
      const outcome = await deliverOne(deps, o, sub, cp, signal);
      if (outcome.kind === 'delivered' || outcome.kind === 'advanced') {
        report.delivered += outcome.events;
        report.behind ||= outcome.behind;
      } else if (outcome.kind === 'failed') report.failures++;
      else if (outcome.kind === 'stopped') report.stopped++;
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(o.concurrency, due.length)) }, lane));
  // More were due than one round takes: go on at once.
  if (due.length === o.maxPerRound) report.behind = true;
  return report;
}

async function deliverOne(
  deps: WorkerDeps,
  o: typeof DEFAULTS & SubscriptionWorkerOptions,
  sub: SubscriptionRow,
  cp: { treeSize: number; rootHash: Uint8Array; note: string },
  signal: AbortSignal | undefined,
): Promise<Outcome> {
  const { db } = deps;
  const now = deps.now();
  // 1. The subscriber as it stands now.
  const [actor] = await findActorsByIds(db, [sub.actor_id]);
  const key = sub.api_key_id === null ? undefined : await findApiKey(db, sub.api_key_id);
  const standing = subscriberStanding({
    createdWithKey: sub.api_key_id !== null,
    key: key ? { revokedAt: key.revoked_at, actorId: key.actor_id } : null,
    actor: actor ? { id: actor.id, isOperator: actor.is_operator } : null,
  });
  if (!standing.ok) {
    await stopSubscription(db, sub.id, standing.reason, now);
    return { kind: 'stopped' };
  }
  const query = subscriptionQuery(sub.query, sub.initial_record_time);
  if (!query.ok) {
    await stopSubscription(db, sub.id, `the subscribed query is no longer valid: ${query.error.map((e) => e.message).join('; ')}`, now);
    return { kind: 'stopped' };
  }
  // 2. What it may see now.
  const scope = readScope(actor!.id, actor!.is_operator, await grantsOf(db, actor!.id), now);
  // 3. The window after the cursor, below the checkpoint (all committed with it).
  const last = cp.treeSize - 1;
  // Never below the cursor: a subscription created after this round's checkpoint was read is ahead of it.
  const upTo = Math.max(sub.cursor, Math.min(last, sub.cursor + o.scanWindow));
  const rows = await findEpcisEventRows(db, scope, query.value.filter, {
    treeSize: upTo + 1, order: { by: null, direction: 'ASC' }, afterLeafIndex: sub.cursor, limit: o.batchSize,
  });
  // A full batch may stop short of upTo; otherwise every position up to upTo has been examined.
  const to = rows.length === o.batchSize ? rows[rows.length - 1]!.leaf_index : upTo;
  let events = await exportEpcisRows(db, scope, rows, sub.epc_format);
  const ids = query.value.filter.eventIds;
  if (ids) {
    const wanted = new Set(ids);
    events = events.filter((e) => wanted.has(e['eventID'] as string));
  }
  const guard = withheldFieldGuard(scope, query.value.filter);
  if (guard) events = events.filter(guard);
  if (events.length === 0) {
    await recordDelivered(db, sub.id, sub.cursor, to, now, false);
    return { kind: 'advanced', events: 0, behind: to < last };
  }
  const doc = epcisQueryDocument(events, now.toISOString(), sub.query_name);
  ((doc['epcisBody'] as Record<string, Record<string, unknown>>)['queryResults']!)['subscriptionID'] = sub.id;
  doc['provenant:afterPosition'] = sub.cursor;
  doc['provenant:lastPosition'] = to;
  withCheckpoint(doc, { treeSize: cp.treeSize, rootHash: Buffer.from(cp.rootHash).toString('base64'), note: cp.note });
  const body = JSON.stringify(doc);
  const timestamp = Math.floor(now.getTime() / 1000);

  // 4. POST, signed; the cursor moves only on 2xx.
  let failure: string;
  try {
    const timeout = AbortSignal.timeout(o.deliveryTimeoutMs);
    const res = await fetch(sub.dest, {
      method: 'POST',
      headers: {
        'content-type': 'application/ld+json',
        'GS1-EPCIS-Version': '2.0.0',
        'GS1-CBV-Version': '2.0.0',
        [SIGNATURE_HEADER]: signDelivery(sub.secret, timestamp, body),
        [TIMESTAMP_HEADER]: String(timestamp),
        [SUBSCRIPTION_HEADER]: sub.id,
        'user-agent': 'provenant-subscriptions',
      },
      body,
      // A redirect is not followed: the receiver acknowledged nothing, and the subscription names its destination.
      redirect: 'manual',
      signal: signal ? AbortSignal.any([timeout, signal]) : timeout,
    });
    await res.body?.cancel().catch(() => {});
    if (res.status >= 200 && res.status < 300) {
      await recordDelivered(db, sub.id, sub.cursor, to, now, true);
      return { kind: 'delivered', events: events.length, behind: to < last };
    }
    failure = deliveryError(res.status, res.statusText);
  } catch (e) {
    if (signal?.aborted) {
      await releaseSubscription(db, sub.id, now);
      return { kind: 'released' };
    }
    const err = e as Error & { cause?: { code?: string; message?: string } };
    failure = deliveryError(null, err.name === 'TimeoutError' ? `no answer within ${o.deliveryTimeoutMs} ms` : (err.cause?.code ?? err.cause?.message ?? err.message));
  }
  const attempts = sub.attempts + 1;
  const wait = retryDelayMs(attempts, o.backoff, (o.random ?? Math.random)());
  await recordFailure(db, sub.id, attempts, new Date(now.getTime() + wait), failure, now);
  return { kind: 'failed' };
}

export interface SubscriptionWorker {
  /** Runs one round now (between the worker's own rounds); mostly for tests. */
  runOnce(): Promise<RoundReport>;
  /** Stops polling, aborts deliveries in flight and waits for the current round to end. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts delivering in the background: a round every `pollIntervalMs`, at once again while some subscription is
 * behind. Stop it before closing the database.
 */
export function startSubscriptionWorker(deps: WorkerDeps, options: SubscriptionWorkerOptions = {}): SubscriptionWorker {
  const o = { ...DEFAULTS, ...options };
  const controller = new AbortController();
  const { signal } = controller;
  let chain: Promise<unknown> = Promise.resolve();
  // Rounds never overlap within one process: runOnce and the loop queue behind each other.
  const round = (): Promise<RoundReport> => {
    const r = chain.then(() => runSubscriptionRound(deps, o, signal));
    chain = r.catch(() => {});
    return r;
  };
  const loop = (async () => {
    while (!signal.aborted) {
      let behind = false;
      try {
        behind = (await round()).behind;
      } catch (e) {
        if (!signal.aborted) (o.onError ?? ((x: unknown) => console.error('subscription round failed', x)))(e);
      }
      if (signal.aborted) break;
      await delay(behind ? 0 : o.pollIntervalMs, undefined, { signal }).catch(() => {});
    }
  })();
  let stopped: Promise<void> | undefined;
  return {
    runOnce: round,
    stop: () =>
      (stopped ??= (async () => {
        controller.abort();
        await loop;
        await chain;
      })()),
  };
}
