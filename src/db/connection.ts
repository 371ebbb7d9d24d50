import { PGlite } from '@electric-sql/pglite';
import { createHash } from 'node:crypto';
import { type DatabaseConnection, type Driver, Kysely, PostgresDialect, type RawBuilder, sql, type Transaction, type TransactionSettings } from 'kysely';
import { PGliteDialect } from 'kysely-pglite-dialect';
import pg from 'pg';
import { Semaphore } from 'async-mutex';
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

/** The database cannot be reached (at startup: DATABASE_URL refuses connections). */
export class DatabaseUnavailableError extends Error {
  override name = 'DatabaseUnavailableError';
}

// Node socket errors of a lost or refused connection.
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED']);
// SQLSTATEs of a server going away or not accepting: admin_shutdown (also pg_terminate_backend), crash_shutdown,
// cannot_connect_now (starting or stopping), too_many_connections; class 08 is "connection exception".
const UNAVAILABLE_STATES = new Set(['57P01', '57P02', '57P03', '53300']);
// pg's own errors for a connection that died or never came up carry no code.
const PG_MESSAGES = [/^Connection terminated/, /^timeout exceeded when trying to connect/, /^Client has encountered a connection error and is not queryable/, /^Cannot use a pool after calling end/];

/**
 * True when `e` (or an error in its `cause` chain) says the database is unreachable or went away, rather than that
 * a query was wrong: callers answer 503 and try again later instead of reporting an internal error.
 */
export function isDatabaseUnavailable(e: unknown): boolean {
  for (let cur: unknown = e, depth = 0; cur && typeof cur === 'object' && depth < 5; cur = (cur as { cause?: unknown; originalError?: unknown }).cause ?? (cur as { originalError?: unknown }).originalError, depth++) {
    if (cur instanceof DatabaseUnavailableError) return true;
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string' && (NETWORK_CODES.has(code) || UNAVAILABLE_STATES.has(code) || code.startsWith('08'))) return true;
    const message = (cur as { message?: unknown }).message;
    if (typeof message === 'string' && PG_MESSAGES.some((m) => m.test(message))) return true;
  }
  return false;
}

/**
 * Opens PostgreSQL through a `pg` pool. Fails with `DatabaseUnavailableError` when the server is unreachable.
 * Afterwards the pool survives the database going away: an error on an idle or checked-out connection (PostgreSQL
 * stopped, a backend terminated) is passed to `onConnectionError` instead of crashing the process, the broken
 * connection is dropped, and the next query opens a new one once the database is back.
 */
export async function openPostgres(
  url: string,
  opts: { schema?: string; max?: number; onConnectionError?: (error: Error) => void } = {},
): Promise<DatabaseHandle> {
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.max ?? 10,
    connectionTimeoutMillis: 10_000,
    // A database host that vanishes without closing its connections (network partition) is noticed by TCP
    // keepalive instead of hanging a query until the OS gives up hours later.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    ...(opts.schema ? { options: `-c search_path=${opts.schema}` } : {}),
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8_OID ? parseInt8 : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
    },
  });
  const onError = opts.onConnectionError ?? ((e: Error) => console.error(`database connection error: ${e.message}`));
  // Every client gets a listener for its lifetime: a checked-out client (between the queries of a transaction) has
  // none from the pool, and an unheard 'error' event would end the process. This one reports each error once.
  pool.on('connect', (client) => {
    client.on('error', (e) => onError(e));
    preparesMarked(client);
  });
  // The pool re-emits an idle client's error (already reported above); unheard, that too would end the process.
  pool.on('error', () => {});
  const safe = new URL(url);
  safe.password = safe.password ? '***' : '';
  try {
    const client = await pool.connect();
    client.release();
  } catch (e) {
    await pool.end().catch(() => {});
    throw new DatabaseUnavailableError(`cannot connect to DATABASE_URL ${safe.toString()}: ${(e as Error).message}`, { cause: e });
  }
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  // Write transactions may wait on a contended item's row lock while holding a connection; the integration that lets
  // them finish needs a connection of its own. Two of the pool's connections are kept out of writers' reach.
  writeSlots.set(db, new Semaphore(Math.max(1, (opts.max ?? 10) - 2)));
  return { db, engine: 'postgres', where: safe.toString(), close: () => db.destroy() };
}

const writeSlots = new WeakMap<Db, Semaphore>();

/** What a statement's text starts with when it should run as a named prepared statement ({@link prepared}). */
const PREPARED_MARK = '/* prepared */ ';

/**
 * A hot statement of the write path, marked to run as a named prepared statement on PostgreSQL: each pooled
 * connection parses and plans it once instead of at every execution (planning these multi-CTE statements cost more
 * than running them). Only for statements whose text does not vary with their input (arrays as parameters), since
 * every distinct text is kept prepared on each connection. PGlite runs it as any other statement.
 */
export const prepared = <T>(statement: RawBuilder<T>): RawBuilder<T> => sql<T>`${sql.raw(PREPARED_MARK)}${statement}`;

/** Makes a pg client run marked statements as named prepared statements (named after a hash of their text). */
function preparesMarked(client: pg.PoolClient): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  const names = new Map<string, string>();
  (client as unknown as { query: (...args: unknown[]) => unknown }).query = (text: unknown, ...rest: unknown[]) => {
    if (typeof text !== 'string' || !text.startsWith(PREPARED_MARK) || typeof rest[0] === 'function') return query(text, ...rest);
    let name = names.get(text);
    if (!name) names.set(text, (name = `pvn_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`));
    return query({ name, text, values: rest[0] ?? [] }, ...rest.slice(1));
  };
}

/**
 * Runs a write transaction within the handle's write slots (PostgreSQL: the pool size less two; PGlite: unbounded,
 * its single connection serialises everything anyway), so writers blocked on a row lock cannot take every
 * connection and starve the integration they wait for.
 */
export function withWriteSlot<T>(db: Db, fn: () => Promise<T>): Promise<T> {
  const slots = writeSlots.get(db);
  return slots ? slots.runExclusive(fn) : fn();
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
