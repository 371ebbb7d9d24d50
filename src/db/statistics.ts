import { type Kysely, sql } from 'kysely';

// Embedded PGlite has no autovacuum, so nothing ever runs ANALYZE: without statistics the planner guesses table
// sizes and, at a million events, picks scans that take seconds. PostgreSQL's autovacuum does this itself.

/** ANALYZE every table of the handle's current schema (only that one: tests share one PGlite between schemas). */
export async function analyzeSchema(db: Kysely<any>): Promise<void> {
  const tables = await sql<{ t: string }>`SELECT tablename AS t FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename`.execute(db);
  if (tables.rows.length === 0) return;
  await sql.raw(`ANALYZE ${tables.rows.map((r) => `"${r.t.replace(/"/g, '""')}"`).join(', ')}`).execute(db);
}

/**
 * Whether a table of the current schema grew well beyond what its statistics describe: its size on disk against the
 * page count the last ANALYZE recorded (PGlite keeps no row-change counters, but file sizes are always current).
 * Inserts and updates (new row versions) both grow a table; the check reads only the catalog.
 */
export async function statisticsStale(db: Kysely<any>, growth = 0.2, minPages = 16): Promise<boolean> {
  const r = await sql<{ stale: boolean }>`
    SELECT EXISTS (
      SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = current_schema() AND c.relkind = 'r'
        AND pg_relation_size(c.oid)::float8 / current_setting('block_size')::int > c.relpages * ${1 + growth}::float8 + ${minPages}::float8
    ) AS stale`.execute(db);
  return r.rows[0]?.stale ?? false;
}

export interface StatisticsKeeper {
  /** Runs ANALYZE now (or joins the run in progress). */
  analyzeNow(): Promise<void>;
  /** Stops the timers; an ANALYZE in progress finishes. */
  stop(): void;
}

export interface KeepStatisticsOptions {
  /** How often to check whether a table outgrew its statistics (default 5 s); an outgrown one triggers ANALYZE. */
  checkIntervalMs?: number;
  /** Unconditional ANALYZE interval (default 10 minutes; updates that do not grow a table change distributions). */
  intervalMs?: number;
  onError?: (e: unknown) => void;
}

/**
 * Keeps planner statistics of `db` current: ANALYZE within seconds of a bulk write (a table grew 20 % beyond what
 * its statistics describe) and every `intervalMs` regardless. Timers are unref'd (they never hold the process
 * open). For embedded PGlite only; call `stop()` before closing the database.
 */
export function keepStatistics(db: Kysely<any>, opts: KeepStatisticsOptions = {}): StatisticsKeeper {
  const onError = opts.onError ?? (() => {});
  let running: Promise<void> | null = null;
  let stopped = false;
  const run = (job: () => Promise<void>): Promise<void> => {
    if (running || stopped) return running ?? Promise.resolve();
    running = job().catch(onError).finally(() => {
      running = null;
    });
    return running;
  };
  const analyzeNow = () => run(() => analyzeSchema(db));
  const check = () => run(async () => {
    if (await statisticsStale(db)) await analyzeSchema(db);
  });
  const timers = [
    setInterval(() => void check(), opts.checkIntervalMs ?? 5_000),
    ...((opts.intervalMs ?? 600_000) > 0 ? [setInterval(() => void analyzeNow(), opts.intervalMs ?? 600_000)] : []),
  ];
  for (const t of timers) t.unref();
  return {
    analyzeNow,
    stop() {
      stopped = true;
      for (const t of timers) clearInterval(t);
    },
  };
}
