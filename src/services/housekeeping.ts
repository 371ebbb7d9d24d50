/**
 * A server's periodic housekeeping that is not integration (services/integrate.ts sweeps pending events) nor planner
 * statistics (db/statistics.ts, PGlite only): today, deleting prepared signed events long expired.
 */
import { preparedSweepCutoff } from '../core/signed-submit.ts';
import type { Db } from '../db/connection.ts';
import { deleteExpiredPreparedEvents } from '../db/prepared-events.ts';
import { runPeriodically } from './periodic.ts';

/**
 * Deletes the prepared signed events that expired more than PREPARED_EVENT_RETENTION_MS before `now` (a submit of
 * one expired more recently is still answered "expired"; of a deleted one, "not found"). Returns how many went.
 * Rethrows database errors (what was deleted before stays deleted: each batch commits on its own).
 */
export function sweepExpiredPreparations(db: Db, now: Date): Promise<number> {
  return deleteExpiredPreparedEvents(db, preparedSweepCutoff(now));
}

/**
 * Runs the housekeeping every `intervalMs` (default one minute; the timer does not hold the process open), on either
 * engine; any number of server processes on one PostgreSQL may run it (a row already deleted by another is skipped).
 * Errors go to `onError` and the next round tries again. `stop()` waits for a round in progress.
 */
export function startHousekeeping(db: Db, opts: { now: () => Date; onError: (e: unknown) => void; intervalMs?: number }): { stop(): Promise<void> } {
  return runPeriodically(() => sweepExpiredPreparations(db, opts.now()), opts.intervalMs ?? 60_000, opts.onError);
}
