import { type Kysely, sql } from 'kysely';

// Embedded PGlite has no autovacuum, so nothing ever runs ANALYZE or VACUUM: without statistics the planner guesses
// table sizes and, at a million events, picks scans that take seconds; without VACUUM every row version an update or
// delete leaves behind (items moving on each event, pending events deleted at integration, head-map nodes rewritten)
// stays on disk for good. PostgreSQL's autovacuum does both itself.

/** ANALYZE every table of the handle's current schema (only that one: tests share one PGlite between schemas). */
export async function analyzeSchema(db: Kysely<any>): Promise<void> {
  const tables = await sql<{ t: string }>`SELECT tablename AS t FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename`.execute(db);
  if (tables.rows.length === 0) return;
  await sql.raw(`ANALYZE ${tables.rows.map((r) => `"${r.t.replace(/"/g, '""')}"`).join(', ')}`).execute(db);
}

/**
 * Tables of the current schema that grew well beyond what their statistics describe: their size on disk against the
 * page count the last ANALYZE or VACUUM recorded (PGlite keeps no row-change counters, but file sizes are always
 * current). Inserts and updates (new row versions) both grow a table; the check reads only the catalog.
 */
export async function outgrownTables(db: Kysely<any>, growth = 0.2, minPages = 16): Promise<string[]> {
  const r = await sql<{ t: string }>`
    SELECT c.relname AS t FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = current_schema() AND c.relkind = 'r'
      AND (pg_relation_size(c.oid)::float8 / current_setting('block_size')::int > c.relpages * ${1 + growth}::float8 + ${minPages}::float8
        -- Analyzed while empty or while its rows were still uncommitted (another connection's open write on
        -- PostgreSQL): the page count is current but the row estimate is not.
        OR (c.reltuples <= 0 AND pg_relation_size(c.oid)::float8 / current_setting('block_size')::int > ${minPages}::float8))
    ORDER BY c.relname`.execute(db);
  return r.rows.map((row) => row.t);
}

/** Whether a table of the current schema outgrew its statistics (see `outgrownTables`). */
export async function statisticsStale(db: Kysely<any>, growth = 0.2, minPages = 16): Promise<boolean> {
  return (await outgrownTables(db, growth, minPages)).length > 0;
}

const quoted = (t: string) => `"${t.replace(/"/g, '""')}"`;

/**
 * VACUUM (ANALYZE) these tables of the current schema: frees the space of dead row versions for reuse (the file does
 * not shrink, it stops growing), marks pages all-visible and refreshes statistics and page counts. Cost: the pages
 * changed since the last VACUUM, plus a pass over each index when there were dead versions. Not in a transaction.
 */
export async function vacuumTables(db: Kysely<any>, tables: readonly string[]): Promise<void> {
  if (tables.length === 0) return;
  await sql.raw(`VACUUM (ANALYZE) ${tables.map(quoted).join(', ')}`).execute(db);
}

// Row versions made dead per table since its last VACUUM, as reported by the code that rewrites or deletes them (the
// integrator: one item update per head move, the pending rows it deletes, the head-map nodes it rewrites). PGlite
// keeps no such counters itself, and a file that reuses freed space does not grow, so growth alone would let dead
// versions pile up between VACUUMs ever longer.
const churn = new WeakMap<object, Map<string, number>>();

/** Records `rows` row versions made dead in each table (by update or delete) on `db`; maintenance VACUUMs by it. */
export function noteChurn(db: Kysely<any>, rows: Readonly<Record<string, number>>): void {
  let m = churn.get(db);
  if (!m) churn.set(db, (m = new Map()));
  for (const [t, n] of Object.entries(rows)) if (n > 0) m.set(t, (m.get(t) ?? 0) + n);
}

/** Dead row versions recorded for `table` on `db` and not yet reclaimed by a maintenance pass. */
export const churnOf = (db: Kysely<any>, table: string): number => churn.get(db)?.get(table) ?? 0;

/** Tables whose recorded dead versions reached `share` of their rows (by the last statistics) and at least `min`. */
async function churnedTables(db: Kysely<any>, share: number, min: number): Promise<string[]> {
  const m = churn.get(db);
  if (!m || m.size === 0) return [];
  const tables = [...m.keys()];
  const r = await sql<{ t: string; rows: number }>`
    SELECT c.relname AS t, greatest(c.reltuples, 0)::float8 AS rows FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.relname = ANY(${tables}::text[])`.execute(db);
  return r.rows.filter((row) => (m.get(row.t) ?? 0) >= Math.max(min, share * Number(row.rows))).map((row) => row.t);
}

/**
 * One maintenance pass: VACUUM (ANALYZE) every table that outgrew its statistics, or whose dead row versions
 * (`noteChurn`) reached 20 % of its rows (and 1,000). Returns the tables it vacuumed.
 */
export async function maintainOutgrown(db: Kysely<any>, growth = 0.2, minPages = 16): Promise<string[]> {
  const tables = [...new Set([...(await outgrownTables(db, growth, minPages)), ...(await churnedTables(db, growth, 1_000))])].sort();
  const counted = new Map(tables.map((t) => [t, churn.get(db)?.get(t) ?? 0]));
  await vacuumTables(db, tables);
  const m = churn.get(db);
  // Only what was counted before the VACUUM started is reclaimed; churn noted meanwhile stays for the next pass.
  for (const [t, n] of counted) if (m?.has(t)) m.set(t, Math.max(0, m.get(t)! - n));
  return tables;
}

export interface StatisticsKeeper {
  /** Runs ANALYZE now (or joins the run in progress). */
  analyzeNow(): Promise<void>;
  /** Runs one maintenance pass now (VACUUM (ANALYZE) of the outgrown tables), or joins the run in progress. */
  maintainNow(): Promise<void>;
  /** Stops the timers; an ANALYZE in progress finishes. */
  stop(): void;
}

export interface KeepStatisticsOptions {
  /** How often to check whether a table outgrew its statistics (default 5 s); an outgrown one is VACUUMed and ANALYZEd. */
  checkIntervalMs?: number;
  /** Unconditional ANALYZE interval (default 10 minutes; updates that do not grow a table change distributions). */
  intervalMs?: number;
  onError?: (e: unknown) => void;
}

/**
 * Keeps planner statistics of `db` current and its dead row versions reclaimed: VACUUM (ANALYZE) of a table within
 * seconds of it growing 20 % beyond what its last VACUUM or ANALYZE recorded (a bulk write, or updates and deletes
 * leaving dead versions), and ANALYZE of every table every `intervalMs` regardless. Timers are unref'd (they never hold the process
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
  const maintainNow = () => run(async () => {
    await maintainOutgrown(db);
  });
  const timers = [
    setInterval(() => void maintainNow(), opts.checkIntervalMs ?? 5_000),
    ...((opts.intervalMs ?? 600_000) > 0 ? [setInterval(() => void analyzeNow(), opts.intervalMs ?? 600_000)] : []),
  ];
  for (const t of timers) t.unref();
  return {
    analyzeNow,
    maintainNow,
    stop() {
      stopped = true;
      for (const t of timers) clearInterval(t);
    },
  };
}
