import { PGlite } from '@electric-sql/pglite';
import { type DatabaseConnection, type Driver, Kysely, PostgresDialect, type Transaction, type TransactionSettings } from 'kysely';
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

// PGlite has one session; handles on different schemas of one instance (tests) must re-point search_path.
const activeSchema = new WeakMap<PGlite, string>();

/** A PGlite driver whose connections run in `schema`, switching the shared session's search_path when needed. */
class SchemaDriver implements Driver {
  constructor(private inner: Driver, private pglite: PGlite, private schema: string) {}
  init() { return this.inner.init(); }
  async acquireConnection(): Promise<DatabaseConnection> {
    const conn = await this.inner.acquireConnection();
    if (activeSchema.get(this.pglite) !== this.schema) {
      await this.pglite.query(`SET search_path TO "${this.schema.replace(/"/g, '""')}"`);
      activeSchema.set(this.pglite, this.schema);
    }
    return conn;
  }
  beginTransaction(c: DatabaseConnection, s: TransactionSettings) { return this.inner.beginTransaction(c, s); }
  commitTransaction(c: DatabaseConnection) { return this.inner.commitTransaction(c); }
  rollbackTransaction(c: DatabaseConnection) { return this.inner.rollbackTransaction(c); }
  releaseConnection(c: DatabaseConnection) { return this.inner.releaseConnection(c); }
  destroy() { return this.inner.destroy(); }
}

/** Wraps an open PGlite. `schema` puts every query of this handle into that schema (test isolation). */
export async function openPGlite(pglite: PGlite, where: string, opts: { schema?: string; ownsPGlite?: boolean } = {}): Promise<DatabaseHandle> {
  const base = new PGliteDialect(pglite);
  const schema = opts.schema;
  const dialect = schema
    ? { createAdapter: () => base.createAdapter(), createIntrospector: (d: Kysely<any>) => base.createIntrospector(d), createQueryCompiler: () => base.createQueryCompiler(), createDriver: () => new SchemaDriver(base.createDriver(), pglite, schema) }
    : base;
  const db = new Kysely<Database>({ dialect });
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
