import { type ColumnType, type Generated, type Kysely, sql } from 'kysely';
import type { DbOrTrx } from './connection.ts';
import type { Database } from './types.ts';

// The capture-job table (migrations/20261126T021009-capture-jobs.ts), typed here: src/db/types.ts stays as is.
type Json<T> = ColumnType<T | null, string | null, string | null>;
export type CaptureJobStatus = 'queued' | 'running' | 'succeeded' | 'failed';

interface CaptureJobsTable {
  id: Generated<string>;
  seq: ColumnType<number, never, never>;
  actor_id: string;
  status: Generated<CaptureJobStatus>;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  document: string | null;
  document_bytes: number;
  event_count: number;
  idempotency_key: string | null;
  attempts: Generated<number>;
  claim: string | null;
  lease_until: Date | null;
  result: Json<unknown>;
  failure: Json<unknown>;
  errors: Json<unknown[]>;
}
type CaptureJobDatabase = Database & { capture_jobs: CaptureJobsTable };
const cj = (db: DbOrTrx): Kysely<CaptureJobDatabase> => db as unknown as Kysely<CaptureJobDatabase>;

/** A job as reported (without its document). */
export interface CaptureJobRow {
  id: string;
  seq: number;
  actor_id: string;
  status: CaptureJobStatus;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  document_bytes: number;
  event_count: number;
  idempotency_key: string | null;
  attempts: number;
  result: unknown;
  failure: unknown;
  errors: unknown[] | null;
}

/** A claimed job: its row, the document to capture and the claim that must still hold when its outcome is written. */
export interface ClaimedCaptureJob extends CaptureJobRow {
  document: string;
  claim: string;
}

const REPORTED = ['id', 'seq', 'actor_id', 'status', 'created_at', 'started_at', 'finished_at', 'document_bytes', 'event_count', 'idempotency_key', 'attempts', 'result', 'failure', 'errors'] as const;

export async function insertCaptureJob(
  db: DbOrTrx,
  job: { actorId: string; createdAt: Date; document: string; documentBytes: number; eventCount: number; idempotencyKey: string | null },
): Promise<CaptureJobRow> {
  return cj(db)
    .insertInto('capture_jobs')
    .values({
      actor_id: job.actorId, created_at: job.createdAt, document: job.document, document_bytes: job.documentBytes, event_count: job.eventCount,
      idempotency_key: job.idempotencyKey, started_at: null, finished_at: null, claim: null, lease_until: null, result: null, failure: null, errors: null,
    })
    .returning(REPORTED)
    .executeTakeFirstOrThrow() as Promise<CaptureJobRow>;
}

/** The job `id`, when `actorId` submitted it (any job when `actorId` is null: the operator). */
export async function findCaptureJob(db: DbOrTrx, id: string, actorId: string | null): Promise<CaptureJobRow | undefined> {
  let q = cj(db).selectFrom('capture_jobs').select(REPORTED).where('id', '=', id);
  if (actorId !== null) q = q.where('actor_id', '=', actorId);
  return q.executeTakeFirst() as Promise<CaptureJobRow | undefined>;
}

/** Jobs of `actorId` (every actor's when null), newest first, before `beforeSeq`, at most `limit`. */
export async function listCaptureJobs(db: DbOrTrx, actorId: string | null, beforeSeq: number | null, limit: number): Promise<CaptureJobRow[]> {
  let q = cj(db).selectFrom('capture_jobs').select(REPORTED);
  if (actorId !== null) q = q.where('actor_id', '=', actorId);
  if (beforeSeq !== null) q = q.where('seq', '<', beforeSeq);
  return q.orderBy('seq', 'desc').limit(limit).execute() as Promise<CaptureJobRow[]>;
}

/**
 * Claims the oldest job that is queued, or running under a lease that ran out before `now` (its worker died), with
 * `FOR UPDATE SKIP LOCKED`: workers of several processes never claim the same job at once. The claim holds until
 * `leaseUntil` unless renewed.
 */
export async function claimNextCaptureJob(db: DbOrTrx, claim: string, now: Date, leaseUntil: Date): Promise<ClaimedCaptureJob | undefined> {
  const r = await sql<ClaimedCaptureJob>`
    UPDATE capture_jobs SET status = 'running', started_at = coalesce(started_at, ${now}), claim = ${claim}, lease_until = ${leaseUntil}, attempts = attempts + 1
    WHERE id = (
      SELECT id FROM capture_jobs
      WHERE status = 'queued' OR (status = 'running' AND lease_until < ${now})
      ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED
    )
    RETURNING ${sql.join(REPORTED.map((c) => sql.ref(c)))}, document, claim`.execute(cj(db));
  return r.rows[0];
}

/** Extends the lease of a job this worker still holds; false when the claim was lost. */
export async function renewCaptureJobLease(db: DbOrTrx, id: string, claim: string, leaseUntil: Date): Promise<boolean> {
  const r = await cj(db).updateTable('capture_jobs').set({ lease_until: leaseUntil }).where('id', '=', id).where('claim', '=', claim).where('status', '=', 'running').executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/**
 * Records how a claimed job ended and drops its document; false (nothing changed) when the claim no longer holds
 * (another worker took the job over after the lease ran out), or for `failed` when the job has a result kept (its
 * events were recorded: such a job can only succeed).
 */
export async function finishCaptureJob(
  db: DbOrTrx,
  id: string,
  claim: string,
  outcome: { status: 'succeeded' | 'failed'; finishedAt: Date; result?: unknown; failure?: unknown; errors?: unknown[] },
): Promise<boolean> {
  const r = await cj(db)
    .updateTable('capture_jobs')
    .set({
      status: outcome.status, finished_at: outcome.finishedAt, document: null, claim: null, lease_until: null,
      result: outcome.result === undefined ? null : JSON.stringify(outcome.result),
      failure: outcome.failure === undefined ? null : JSON.stringify(outcome.failure),
      errors: JSON.stringify(outcome.errors ?? []),
    })
    .where('id', '=', id).where('claim', '=', claim).where('status', '=', 'running')
    .$if(outcome.status === 'failed', (q) => q.where('result', 'is', null))
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/**
 * Keeps the result of a claimed job's capture (in the capture's transaction: it commits with the events); false when
 * the claim no longer holds. The job stays running until its events are in the log.
 */
export async function recordCaptureJobResult(db: DbOrTrx, id: string, claim: string, result: unknown): Promise<boolean> {
  const r = await cj(db).updateTable('capture_jobs').set({ result: JSON.stringify(result) })
    .where('id', '=', id).where('claim', '=', claim).where('status', '=', 'running').executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/** Puts a claimed job back in the queue (its attempt failed unexpectedly); false when the claim was lost. */
export async function requeueCaptureJob(db: DbOrTrx, id: string, claim: string): Promise<boolean> {
  const r = await cj(db).updateTable('capture_jobs').set({ status: 'queued', claim: null, lease_until: null })
    .where('id', '=', id).where('claim', '=', claim).where('status', '=', 'running').executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/**
 * Requeues every running job: only for a process that owns the database alone (embedded PGlite, one process per data
 * folder), where a running job at start-up can only be one whose worker died with the previous process.
 */
export async function requeueAllRunningCaptureJobs(db: DbOrTrx): Promise<number> {
  const r = await cj(db).updateTable('capture_jobs').set({ status: 'queued', claim: null, lease_until: null }).where('status', '=', 'running').executeTakeFirst();
  return Number(r.numUpdatedRows);
}
