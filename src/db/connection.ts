import { PGlite } from '@electric-sql/pglite';
import { Kysely, PostgresDialect, sql, type Transaction } from 'kysely';
import { PGliteDialect } from 'kysely-pglite-dialect';
import pg from 'pg';
import type { Database } from './types.ts';

export type Db = Kysely<Database>;
export type Trx = Transaction<Database>;
/** Any query executor: the pool or an open transaction. Repositories take this. */
export type DbOrTrx = Db | Trx;

export interface DatabaseHandle {
  db: Db;
  engine: 'pglite' | 'postgres';
  /** Human-readable location for startup logs (never contains a password). */
  where: string;
  close(): Promise<void>;
}

const INT8_OID = 20;
// Leaf indexes and counts stay far below 2^53; numbers are simpler for every caller than strings or bigint.
const parseInt8 = (value: string) => Number(value);

/** Opens PostgreSQL through a `pg` pool. Fails with a clear error when the server is unreachable. */
export async function openPostgres(url: string, opts: { schema?: string; max?: number } = {}): Promise<DatabaseHandle> {
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.max ?? 10,
    connectionTimeoutMillis: 10_000,
    ...(opts.schema ? { options: `-c search_path=${opts.schema}` } : {}),
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8_OID ? parseInt8 : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
    },
  });
  try {
    const client = await pool.connect();
    client.release();
  } catch (e) {
    await pool.end().catch(() => {});
    const safe = new URL(url);
    safe.password = safe.password ? '***' : '';
    throw new Error(`cannot connect to DATABASE_URL ${safe.toString()}: ${(e as Error).message}`);
  }
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  const safe = new URL(url);
  safe.password = safe.password ? '***' : '';
  return { db, engine: 'postgres', where: safe.toString(), close: () => db.destroy() };
}

/** Creates a PGlite instance (in memory when `dataDir` is undefined) with the same int8 parsing as `pg`. */
export async function createPGlite(dataDir?: string): Promise<PGlite> {
  const pglite = new PGlite(dataDir, { parsers: { [INT8_OID]: parseInt8 } });
  await pglite.waitReady;
  return pglite;
}

/** Wraps an open PGlite. `schema` puts every query of this handle into that schema (test isolation). */
export async function openPGlite(pglite: PGlite, where: string, opts: { schema?: string; ownsPGlite?: boolean } = {}): Promise<DatabaseHandle> {
  const db = new Kysely<Database>({ dialect: new PGliteDialect(pglite) });
  if (opts.schema) await sql`SET search_path TO ${sql.id(opts.schema)}`.execute(db);
  return {
    db,
    engine: 'pglite',
    where,
    // The dialect closes PGlite on destroy; shared (test) instances must outlive this handle.
    close: async () => {
      if (opts.ownsPGlite ?? true) await db.destroy();
    },
  };
}
