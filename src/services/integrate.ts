/**
 * The group-commit sequencer's integrator (DESIGN.md "Write pipeline"). Writers commit their events as pending,
 * holding only the rows of the items they touch; integration then takes the log's lock, gives every pending event
 * committed so far a leaf index in sequence order, stores the new subtrees, moves the events into `events` and signs
 * ONE checkpoint for the whole batch.
 *
 * Who integrates: every writer, right after its commit, until its own events are in the log (so a mutation still
 * returns its leaf index); the first to take the lock integrates the whole batch waiting, the others then find theirs
 * done. A server also sweeps at start-up and every second, so a pending event whose writer died (kill -9 between its
 * commit and integration) is integrated within seconds. The log lock is a row lock, so on PostgreSQL exactly one
 * process integrates at a time whatever the number of server processes, and a crashed integrator's transaction rolls
 * back and leaves its batch pending for the next one.
 */
import type { Db } from '../db/connection.ts';
import { appendToLog, lockLog, type LogSigner } from '../db/log.ts';
import { hasPending, leafIndexesOf, movePendingToLog, oldestPending } from '../db/pending.ts';

/** Most events one integration moves into the log (one checkpoint each batch). */
export const MAX_INTEGRATION_BATCH = 5_000;

export interface IntegrationResult {
  /** Events integrated by this call. */
  integrated: number;
  /** Tree size after it. */
  treeSize: number;
}

/** One integration round: every pending event (up to `limit`), in sequence order, into the log under one checkpoint. */
export async function integratePending(db: Db, signer: LogSigner, limit = MAX_INTEGRATION_BATCH): Promise<IntegrationResult> {
  return db.transaction().execute(async (trx) => {
    const head = await lockLog(trx);
    const batch = await oldestPending(trx, limit);
    if (batch.length === 0) return { integrated: 0, treeSize: head.size };
    const next = await appendToLog(trx, head, batch.map((p) => p.content_hash), signer);
    await movePendingToLog(trx, batch.map((p) => p.id), head.size);
    return { integrated: batch.length, treeSize: next.size };
  });
}

/**
 * Returns once every event of `eventIds` (committed by the caller) is in the log, integrating pending batches itself
 * as long as one of them is still pending. Returns each id's leaf index.
 */
export async function integrateEvents(db: Db, signer: LogSigner, eventIds: readonly string[]): Promise<Map<string, number>> {
  for (;;) {
    await integratePending(db, signer);
    const leaves = await leafIndexesOf(db, eventIds);
    if (leaves.size === eventIds.length) return leaves;
  }
}

/** Integrates everything pending (start-up, sweeps, tests). Returns how many events it integrated. */
export async function integrateAll(db: Db, signer: LogSigner): Promise<number> {
  let total = 0;
  while (await hasPending(db)) total += (await integratePending(db, signer)).integrated;
  return total;
}

/**
 * A server's sweeper: integrates orphaned pending events every `intervalMs` (the timer does not hold the process
 * open). `stop()` waits for a sweep in progress.
 */
export function startSweeper(db: Db, signer: LogSigner, onError: (e: unknown) => void, intervalMs = 1_000): { stop(): Promise<void> } {
  let running: Promise<unknown> = Promise.resolve();
  let stopped = false;
  const timer = setInterval(() => {
    if (stopped) return;
    running = running.then(() => (stopped ? 0 : integrateAll(db, signer))).catch(onError);
  }, intervalMs);
  timer.unref();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
