import { type ColumnType, type Generated, type Kysely, type Selectable, sql } from 'kysely';
import type { DbOrTrx } from './connection.ts';
import type { Database } from './types.ts';

// The subscription table (migrations/20261126T021010-subscriptions.ts), typed here: src/db/types.ts stays as is.
interface SubscriptionsTable {
  id: Generated<string>;
  actor_id: string;
  api_key_id: string | null;
  query_name: string;
  query: ColumnType<Record<string, unknown>, string, string>;
  dest: string;
  secret: string;
  epc_format: 'urn' | 'digitalLink';
  initial_record_time: Date | null;
  /** bigint: read as a string by node-postgres, as a number by PGlite; always read through {@link toRow}. */
  cursor: ColumnType<number | string, number, number>;
  status: Generated<'active' | 'stopped'>;
  stopped_reason: string | null;
  stopped_at: Date | null;
  attempts: Generated<number>;
  next_attempt_at: Date;
  last_error: string | null;
  last_notified_at: Date | null;
  checked_at: Date | null;
  created_at: Date;
}
type SubscriptionDatabase = Database & { epcis_subscriptions: SubscriptionsTable };
const sdb = (db: DbOrTrx): Kysely<SubscriptionDatabase> => db as unknown as Kysely<SubscriptionDatabase>;

export type SubscriptionRow = Omit<Selectable<SubscriptionsTable>, 'cursor'> & { cursor: number };
const toRow = (r: Selectable<SubscriptionsTable>): SubscriptionRow => ({ ...r, cursor: Number(r.cursor) });

export interface NewSubscription {
  actorId: string;
  apiKeyId: string | null;
  queryName: string;
  query: Record<string, unknown>;
  dest: string;
  secret: string;
  epcFormat: 'urn' | 'digitalLink';
  initialRecordTime: Date | null;
  cursor: number;
  now: Date;
}

export async function insertSubscription(db: DbOrTrx, s: NewSubscription): Promise<SubscriptionRow> {
  const row = await sdb(db)
    .insertInto('epcis_subscriptions')
    .values({
      actor_id: s.actorId, api_key_id: s.apiKeyId, query_name: s.queryName, query: JSON.stringify(s.query), dest: s.dest, secret: s.secret,
      epc_format: s.epcFormat, initial_record_time: s.initialRecordTime, cursor: s.cursor, next_attempt_at: s.now, created_at: s.now,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toRow(row);
}

/** The actor's subscription `id` to `queryName`; undefined when there is none (or `id` is no uuid). */
export async function findSubscription(db: DbOrTrx, actorId: string, queryName: string, id: string): Promise<SubscriptionRow | undefined> {
  if (!UUID.test(id)) return undefined;
  const row = await sdb(db).selectFrom('epcis_subscriptions').selectAll()
    .where('id', '=', id).where('actor_id', '=', actorId).where('query_name', '=', queryName).executeTakeFirst();
  return row && toRow(row);
}

/** The actor's subscriptions to `queryName` in id order, after `afterId`, at most `limit`. */
export async function listSubscriptions(db: DbOrTrx, actorId: string, queryName: string, afterId: string | null, limit: number): Promise<SubscriptionRow[]> {
  let q = sdb(db).selectFrom('epcis_subscriptions').selectAll().where('actor_id', '=', actorId).where('query_name', '=', queryName);
  if (afterId !== null) q = q.where('id', '>', afterId);
  return (await q.orderBy('id').limit(limit).execute()).map(toRow);
}

/** How many active subscriptions the actor has, counting no further than `cap`. */
export async function countActiveSubscriptions(db: DbOrTrx, actorId: string, cap: number): Promise<number> {
  const inner = sdb(db).selectFrom('epcis_subscriptions').select(sql<number>`1`.as('one')).where('actor_id', '=', actorId).where('status', '=', 'active').limit(cap);
  const row = await sdb(db).selectFrom(inner.as('t')).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Deletes the actor's subscription; false when there was none. */
export async function deleteSubscription(db: DbOrTrx, actorId: string, queryName: string, id: string): Promise<boolean> {
  if (!UUID.test(id)) return false;
  const r = await sdb(db).deleteFrom('epcis_subscriptions')
    .where('id', '=', id).where('actor_id', '=', actorId).where('query_name', '=', queryName).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Claims up to `limit` active subscriptions that are due at `now` and behind `lastPosition` (or idle and not checked
 * since `recheckBefore`, so a revoked key stops an idle subscription too), by moving their
 * `next_attempt_at` to `leaseUntil`: another worker (another process on the same PostgreSQL) skips them until the
 * lease ends, so one subscription is delivered by one worker at a time. A claimed subscription is released by
 * {@link recordDelivered} / {@link recordFailure} / {@link stopSubscription}, or when its lease ends (a crash).
 */
export async function claimDueSubscriptions(
  db: DbOrTrx,
  now: Date,
  leaseUntil: Date,
  lastPosition: number,
  recheckBefore: Date,
  limit: number,
): Promise<SubscriptionRow[]> {
  const rows = await sql<Selectable<SubscriptionsTable>>`
    UPDATE epcis_subscriptions SET next_attempt_at = ${leaseUntil}
    WHERE id IN (
      SELECT id FROM epcis_subscriptions
      WHERE status = 'active' AND next_attempt_at <= ${now}
        AND (cursor < ${lastPosition} OR checked_at IS NULL OR checked_at < ${recheckBefore})
      ORDER BY next_attempt_at LIMIT ${limit}
      FOR UPDATE SKIP LOCKED)
    RETURNING *`.execute(db);
  return rows.rows.map(toRow);
}

/**
 * A delivery was acknowledged (or there was nothing to deliver): the cursor moves from `from` to `to` and the
 * subscription is due again at `now`. Only while it is still active at `from`; false otherwise (it was stopped or
 * deleted meanwhile, or another worker moved it).
 */
export async function recordDelivered(db: DbOrTrx, id: string, from: number, to: number, now: Date, notified: boolean): Promise<boolean> {
  const r = await sdb(db).updateTable('epcis_subscriptions')
    .set({ cursor: to, attempts: 0, last_error: null, next_attempt_at: now, checked_at: now, ...(notified ? { last_notified_at: now } : {}) })
    .where('id', '=', id).where('status', '=', 'active').where('cursor', '=', from)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/** A delivery failed: the cursor stays, the next attempt waits until `nextAttemptAt`. */
export async function recordFailure(db: DbOrTrx, id: string, attempts: number, nextAttemptAt: Date, error: string, now: Date): Promise<void> {
  await sdb(db).updateTable('epcis_subscriptions')
    .set({ attempts, next_attempt_at: nextAttemptAt, last_error: error, checked_at: now })
    .where('id', '=', id).where('status', '=', 'active')
    .execute();
}

/** Stops a subscription for good (it delivers nothing more); the first reason wins. */
export async function stopSubscription(db: DbOrTrx, id: string, reason: string, now: Date): Promise<void> {
  await sdb(db).updateTable('epcis_subscriptions')
    .set({ status: 'stopped', stopped_reason: reason, stopped_at: now })
    .where('id', '=', id).where('status', '=', 'active')
    .execute();
}

/** Gives a claimed subscription back (due at `at`) when a round ended without deciding anything. */
export async function releaseSubscription(db: DbOrTrx, id: string, at: Date): Promise<void> {
  await sdb(db).updateTable('epcis_subscriptions').set({ next_attempt_at: at }).where('id', '=', id).where('status', '=', 'active').execute();
}
