import { type Kysely, sql } from 'kysely';

// Embedded PGlite has no autovacuum, so nothing ever runs ANALYZE: without statistics the planner guesses table
// sizes and, at a million events, picks scans that take seconds. PostgreSQL's autovacuum does this itself.

/** ANALYZE every table of the handle's current schema (only that one: tests share one PGlite between schemas). */
export async function analyzeSchema(db: Kysely<any>): Promise<void> {
  const tables = await sql<{ t: string }>`SELECT tablename AS t FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename`.execute(db);
  if (tables.rows.length === 0) return;
  await sql.raw(`ANALYZE ${tables.rows.map((r) => `"${r.t.replace(/"/g, '""')}"`).join(', ')}`).execute(db);
}

export interface StatisticsKeeper {
  /** Counts rows a committed write added; passing the threshold schedules an ANALYZE. */
  noteWrites(rows: number): void;
  /** Runs ANALYZE now (or joins the run in progress). */
  analyzeNow(): Promise<void>;
  /** Stops the timer and forgets the database; an ANALYZE in progress finishes. */
  stop(): void;
}

export interface KeepStatisticsOptions {
  /** Rows written since the last ANALYZE that trigger the next one (default 10,000). */
  rowThreshold?: number;
  /** Periodic ANALYZE interval in ms (default 10 minutes); 0 disables the timer. */
  intervalMs?: number;
  onError?: (e: unknown) => void;
}

const keepers = new WeakMap<object, StatisticsKeeper>();

/**
 * Keeps planner statistics of `db` current: ANALYZE when `rowThreshold` rows were written since the last one, and
 * every `intervalMs` on an unref'd timer (it never holds the process open). For embedded PGlite only; `stop()` on close.
 */
export function keepStatistics(db: Kysely<any>, opts: KeepStatisticsOptions = {}): StatisticsKeeper {
  const threshold = opts.rowThreshold ?? 10_000;
  const onError = opts.onError ?? (() => {});
  let pending = 0;
  let running: Promise<void> | null = null;
  let stopped = false;
  const analyzeNow = (): Promise<void> => {
    if (running) return running;
    pending = 0;
    running = analyzeSchema(db).catch(onError).finally(() => {
      running = null;
    });
    return running;
  };
  const interval = opts.intervalMs ?? 600_000;
  const timer = interval > 0 ? setInterval(() => void analyzeNow(), interval) : null;
  timer?.unref();
  const keeper: StatisticsKeeper = {
    noteWrites(rows) {
      if (stopped) return;
      pending += rows;
      if (pending >= threshold) void analyzeNow();
    },
    analyzeNow,
    stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      if (keepers.get(db) === keeper) keepers.delete(db);
    },
  };
  keepers.set(db, keeper);
  return keeper;
}

/** Tells the statistics keeper of `db`, if any, that a committed write added `rows` rows. */
export function noteWrittenRows(db: Kysely<any>, rows: number): void {
  keepers.get(db)?.noteWrites(rows);
}
