/**
 * EPCIS 2.0 capture jobs (the REST binding's asynchronous `POST /capture`): a document is accepted as a job, answered
 * at once, and captured by a worker in the server process with `captureEpcisDocument` (all-or-nothing, as the
 * synchronous capture). The caller follows the job (`GET /epcis/capture/{id}`) to its result or its per-event problems.
 *
 * Queue: `capture_jobs` rows, oldest first. A worker claims one with `FOR UPDATE SKIP LOCKED` (several processes on one
 * PostgreSQL share the queue; embedded PGlite has one process per data folder) and holds it under a lease that it
 * renews while the capture runs.
 *
 * Crash safety — a job's events are never recorded twice, and a job is never lost:
 * - the capture's result is written IN the capture's transaction (`onCaptured`), guarded by the worker's claim: the
 *   events and the result commit together or not at all. The job turns `succeeded` once those events are in the log
 *   (integrated, as a synchronous capture returns), so a client that sees it succeeded can read them. A job claimed
 *   again with a result already kept (its worker died between commit and integration) is not captured again: its
 *   events are integrated and it succeeds with that result;
 * - a refused document writes nothing, so recording "failed" afterwards may be lost in a crash and is simply redone;
 * - a job whose worker died (kill -9) is claimed again: at start-up on PGlite (`exclusive`: every running job is an
 *   orphan), or once its lease has run out (PostgreSQL, where another process may still be working on it);
 * - should a lease run out under a live but stalled worker, its claim is void: its in-transaction success update finds
 *   no row it holds and rolls its capture back. And were a capture ever run twice, each event is recognised by its
 *   CBV hash ID (ALREADY_CAPTURED), so nothing is written twice either way.
 * Unexpected errors (a bug, the database away) requeue the job; after {@link MAX_ATTEMPTS} it fails as an internal error
 * (unless its events were recorded: then it is retried until they are integrated).
 */
import { randomUUID } from 'node:crypto';
import { checkIdempotencyKey } from '../core/write-input.ts';
import { captureJobsOf } from '../core/rights.ts';
import { findActorsByIds } from '../db/actors.ts';
import {
  type CaptureJobRow, type CaptureJobStatus, claimNextCaptureJob, findCaptureJob, finishCaptureJob, insertCaptureJob, listCaptureJobs,
  recordCaptureJobResult, renewCaptureJobLease, requeueAllRunningCaptureJobs, requeueCaptureJob,
} from '../db/capture-jobs.ts';
import type { Db } from '../db/connection.ts';
import { isUuid } from '../db/ids.ts';
import { actorFacts } from './actor-facts.ts';
import type { ActorRow } from '../db/types.ts';
import type { LedgerDeps } from './deps.ts';
import { integrateAll } from './integrate.ts';
import {
  type CaptureProblem, type CaptureProblemCode, type CapturedEvent, type EpcisCaptureLimits, type EpcisCaptureRejection, type EpcisCaptureSuccess, captureEpcisDocument,
  outlineRejection,
} from './epcis-capture.ts';
import type { ValidationFailure } from './results.ts';

/** Attempts of a job that keeps failing unexpectedly before it is recorded as failed. */
export const MAX_ATTEMPTS = 3;
/** How long a claim holds without renewal; renewed every third of it while the capture runs. */
export const DEFAULT_LEASE_MS = 5 * 60_000;

/** Why a job failed: the synchronous capture's failure results, or an internal error after {@link MAX_ATTEMPTS}. */
export type CaptureJobFailure =
  | { kind: 'EpcisCaptureError'; code: CaptureProblemCode; message: string }
  | { kind: 'ConflictError'; message: string }
  | { kind: 'ValidationError'; field: string; message: string }
  | { kind: 'InternalError'; message: string };

export interface CaptureJobResult {
  recorded: number;
  skipped: number;
  replayed: boolean;
  events: CapturedEvent[];
}

export interface CaptureJob {
  id: string;
  /** Orders jobs: the listing's page token. */
  seq: number;
  actorId: string;
  status: CaptureJobStatus;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  documentBytes: number;
  eventCount: number;
  idempotencyKey: string | null;
  /** Succeeded: the captured events with their status and ledger event ids. */
  result: CaptureJobResult | null;
  /** Failed: why. */
  failure: CaptureJobFailure | null;
  /** Failed: the problems, per event (index, eventID, field, code, reason). */
  errors: CaptureProblem[];
}

function jobOf(row: CaptureJobRow): CaptureJob {
  return {
    id: row.id, seq: Number(row.seq), actorId: row.actor_id, status: row.status, createdAt: row.created_at, startedAt: row.started_at, finishedAt: row.finished_at,
    documentBytes: row.document_bytes, eventCount: row.event_count, idempotencyKey: row.idempotency_key,
    result: (row.result as CaptureJobResult | null) ?? null, failure: (row.failure as CaptureJobFailure | null) ?? null, errors: (row.errors as CaptureProblem[] | null) ?? [],
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Submission and reading

export interface CaptureJobSubmission {
  /** The parsed document (only its outline is checked here). */
  document: unknown;
  /** Its JSON text as received: what the worker captures (event hash IDs come from the numbers as written). */
  text: string;
  byteLength: number;
  idempotencyKey?: string | null;
}

/**
 * Queues a capture of `input.document` by `caller`. Refused at once, with nothing queued: a bad idempotency key
 * (`ValidationError`) and what the document's outline decides (`EpcisCaptureError`: not an EPCISDocument, above the
 * size or event-count limit). Kick the worker (`captureWorkerFor(...).kick()`) after it returns.
 */
export async function submitCaptureJob(
  deps: { db: Db; now: () => Date },
  caller: ActorRow,
  input: CaptureJobSubmission,
  limits: EpcisCaptureLimits,
): Promise<{ kind: 'ok'; job: CaptureJob } | ValidationFailure | EpcisCaptureRejection> {
  const key = input.idempotencyKey ?? null;
  // The key is judged when the job captures (through the capture's idempotency); refused here by the same rule.
  const keyProblem = checkIdempotencyKey(key);
  if (keyProblem) return keyProblem;
  const refused = outlineRejection(input.document, input.byteLength, limits);
  if (refused) return refused;
  const list = (input.document as { epcisBody?: { eventList?: unknown } }).epcisBody?.eventList;
  const row = await insertCaptureJob(deps.db, {
    actorId: caller.id, createdAt: deps.now(), document: input.text, documentBytes: input.byteLength, eventCount: Array.isArray(list) ? list.length : 0, idempotencyKey: key,
  });
  return { kind: 'ok', job: jobOf(row) };
}

/** The job `id` as `caller` may see it: its own jobs, every job for the operator; undefined otherwise (as for no such job). */
export async function getCaptureJob(db: Db, caller: ActorRow, id: string): Promise<CaptureJob | undefined> {
  if (!isUuid(id)) return undefined;
  const row = await findCaptureJob(db, id, captureJobsOf(actorFacts(caller)));
  return row && jobOf(row);
}

/** The caller's jobs (every job for the operator), newest first, older than the job numbered `beforeSeq`. */
export async function captureJobPage(db: Db, caller: ActorRow, beforeSeq: number | null, perPage: number): Promise<{ jobs: CaptureJob[]; more: boolean }> {
  const rows = await listCaptureJobs(db, captureJobsOf(actorFacts(caller)), beforeSeq, perPage + 1);
  return { jobs: rows.slice(0, perPage).map(jobOf), more: rows.length > perPage };
}

// ---------------------------------------------------------------------------------------------------------------
// Processing

class ClaimLost extends Error {
  override name = 'ClaimLost';
}

// Limits were checked when the job was submitted (under the limits of that moment); the worker does not re-check.
const NO_LIMITS: EpcisCaptureLimits = Object.freeze({ maxBytes: Number.MAX_SAFE_INTEGER, maxEvents: Number.MAX_SAFE_INTEGER });

export interface RunOptions {
  leaseMs?: number;
  /** Unexpected errors of a job (it is requeued, or failed after MAX_ATTEMPTS). */
  onError?: (error: unknown, jobId: string) => void;
}

/**
 * Claims the oldest runnable job (queued, or running under an expired lease) and captures it. Returns the job as it
 * ended, `'none'` when nothing was runnable, `'lost'` when another worker took the job over meanwhile (its outcome is
 * that worker's to record). Throws only when the database cannot be reached for the claim itself.
 */
export async function runNextCaptureJob(deps: LedgerDeps, options: RunOptions = {}): Promise<CaptureJob | 'none' | 'lost'> {
  const leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
  const claim = randomUUID();
  const leaseFrom = () => new Date(deps.now().getTime() + leaseMs);
  const job = await claimNextCaptureJob(deps.db, claim, deps.now(), leaseFrom());
  if (!job) return 'none';
  let lost = false;
  const renew = setInterval(() => {
    renewCaptureJobLease(deps.db, job.id, claim, leaseFrom()).then((held) => { if (!held) lost = true; }, () => {});
  }, Math.max(10, Math.floor(leaseMs / 3)));
  renew.unref();
  try {
    if (job.result !== null) {
      // Captured by a worker that died before its events were integrated: integrate them, keep its result.
      await integrateAll(deps.db, deps.signer);
      if (!(await finishCaptureJob(deps.db, job.id, claim, { status: 'succeeded', finishedAt: deps.now(), result: job.result }))) return 'lost';
      return jobOrLost(deps, job.id);
    }
    const [caller] = await findActorsByIds(deps.db, [job.actor_id]);
    if (!caller) throw new Error(`the actor ${job.actor_id} of capture job ${job.id} does not exist`);
    const result = await captureEpcisDocument(
      deps,
      caller,
      {
        document: JSON.parse(job.document) as unknown,
        text: job.document,
        byteLength: job.document_bytes,
        idempotencyKey: job.idempotency_key,
        onCaptured: async (trx, captured) => {
          if (!(await recordCaptureJobResult(trx, job.id, claim, summaryOf(captured)))) throw new ClaimLost();
        },
      },
      NO_LIMITS,
    );
    // captureEpcisDocument returns once the events are integrated into the log.
    if (result.kind === 'ok') {
      if (!(await finishCaptureJob(deps.db, job.id, claim, { status: 'succeeded', finishedAt: deps.now(), result: summaryOf(result) }))) return 'lost';
    } else {
      const failure: CaptureJobFailure = result.kind === 'EpcisCaptureError'
        ? { kind: result.kind, code: result.code, message: result.message }
        : result.kind === 'ValidationError' ? { kind: result.kind, field: result.field, message: result.message } : { kind: result.kind, message: result.message };
      const errors = result.kind === 'EpcisCaptureError' ? result.problems : [];
      if (!(await finishCaptureJob(deps.db, job.id, claim, { status: 'failed', finishedAt: deps.now(), failure, errors }))) return 'lost';
    }
  } catch (error) {
    if (error instanceof ClaimLost || lost) return 'lost';
    options.onError?.(error, job.id);
    try {
      // A job whose events were recorded (result kept) is never failed: it is retried until they are integrated.
      const failed = job.attempts >= MAX_ATTEMPTS
        && (await finishCaptureJob(deps.db, job.id, claim, { status: 'failed', finishedAt: deps.now(), failure: { kind: 'InternalError', message: 'internal error' } }));
      if (!failed && !(await requeueCaptureJob(deps.db, job.id, claim))) return 'lost';
    } catch {
      // The database is away: the job stays claimed until its lease runs out, then it is claimed again.
      return 'lost';
    }
  } finally {
    clearInterval(renew);
  }
  return jobOrLost(deps, job.id);
}

async function jobOrLost(deps: LedgerDeps, id: string): Promise<CaptureJob | 'lost'> {
  const row = await findCaptureJob(deps.db, id, null);
  return row ? jobOf(row) : 'lost';
}

const summaryOf = (captured: EpcisCaptureSuccess): CaptureJobResult => ({ recorded: captured.recorded, skipped: captured.skipped, replayed: captured.replayed, events: captured.events });

export interface CaptureWorker {
  /** Makes the worker look for jobs now (after a submission). Ignored once stopped. */
  kick(): void;
  /** Resolves when the worker has nothing in hand. */
  idle(): Promise<void>;
  /** Stops polling and kicking; waits for the job in hand. */
  stop(): Promise<void>;
}

export interface WorkerOptions extends RunOptions {
  /** Poll for jobs of other processes and expired leases every `pollMs` (0: only when kicked). */
  pollMs?: number;
  /** This process owns the database alone (PGlite): every running job is requeued at start. */
  exclusive?: boolean;
  /** Errors of the worker loop itself (the database away while claiming). */
  onLoopError?: (error: unknown) => void;
}

class Worker implements CaptureWorker {
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  private timer: NodeJS.Timeout | null = null;

  constructor(private deps: LedgerDeps, private options: WorkerOptions) {
    if (options.pollMs) {
      this.timer = setInterval(() => this.kick(), options.pollMs);
      this.timer.unref();
    }
  }

  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      // A job submitted while the loop decides it has nothing left: look once more.
      this.again = true;
      return;
    }
    this.running = this.loop().finally(() => {
      this.running = null;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    });
  }

  private async loop(): Promise<void> {
    try {
      while (!this.stopped) {
        this.again = false;
        if ((await runNextCaptureJob(this.deps, this.options)) === 'none') return;
      }
    } catch (error) {
      (this.options.onLoopError ?? ((e) => console.error('capture worker:', e)))(error);
    }
  }

  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.idle();
  }
}

const workers = new WeakMap<Db, Worker>();

/**
 * The capture worker of `deps.db` in this process: the one `startCaptureWorker` started, else one created on first
 * use that runs only when kicked (test servers, embedded apps).
 */
export function captureWorkerFor(deps: LedgerDeps, options: WorkerOptions = {}): CaptureWorker {
  let w = workers.get(deps.db);
  if (!w) workers.set(deps.db, (w = new Worker(deps, options)));
  return w;
}

/**
 * Starts the server's capture worker: requeues orphans when `exclusive`, polls every `pollMs` (default 1 s) and runs
 * the jobs already queued. Replaces a kick-only worker of the same database. `stop()` waits for the job in hand.
 */
export async function startCaptureWorker(deps: LedgerDeps, options: WorkerOptions = {}): Promise<CaptureWorker> {
  if (options.exclusive) await requeueAllRunningCaptureJobs(deps.db);
  await workers.get(deps.db)?.stop();
  const w = new Worker(deps, { pollMs: 1_000, ...options });
  workers.set(deps.db, w);
  w.kick();
  return {
    kick: () => w.kick(),
    idle: () => w.idle(),
    stop: async () => {
      await w.stop();
      if (workers.get(deps.db) === w) workers.delete(deps.db);
    },
  };
}
