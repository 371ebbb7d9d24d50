import type { KyselyPlugin } from 'kysely';
import type { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { sql } from 'kysely';
import { createPGlite, openPGlite, openPostgres, type DatabaseHandle } from '../../src/db/connection.ts';
import { ensureOperator } from '../../src/db/actors.ts';
import { migrateToLatest } from '../../src/db/migrator.ts';

// One PGlite per worker (vitest runs with isolate: false, so this module state outlives a test file).
let sharedPGlite: Promise<PGlite> | undefined;

export interface TestDatabase extends DatabaseHandle {
  schema: string;
  /** Drops the test schema (PostgreSQL) and releases connections. */
  dispose(): Promise<void>;
}

/**
 * A fresh, migrated database for one test file: its own schema in the worker's shared in-memory PGlite, or in the
 * PostgreSQL of DATABASE_URL when set. Files never see each other's rows.
 */
export async function openTestDatabase(): Promise<TestDatabase> {
  const schema = `t_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  const url = process.env.DATABASE_URL;
  let handle: DatabaseHandle;
  if (url) {
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
    await admin.end();
    handle = await openPostgres(url, { schema, max: 20 });
  } else {
    sharedPGlite ??= createPGlite();
    const pglite = await sharedPGlite;
    await pglite.exec(`CREATE SCHEMA ${schema}`);
    handle = await openPGlite(pglite, 'memory', { schema, ownsPGlite: false });
  }
  await migrateToLatest(handle.db, schema);
  await ensureOperator(handle.db);
  return {
    ...handle,
    schema,
    dispose: async () => {
      if (url) {
        await handle.close();
        const admin = new pg.Client({ connectionString: url });
        await admin.connect();
        await admin.query(`DROP SCHEMA ${schema} CASCADE`);
        await admin.end();
      } else {
        await sql`DROP SCHEMA ${sql.id(schema)} CASCADE`.execute(handle.db);
        await handle.close();
      }
    },
  };
}

/** A Kysely plugin that counts every statement sent through it (`counter.n`), for tests bounding queries per request. */
export function statementCounter(): { plugin: KyselyPlugin; readonly n: number } {
  let n = 0;
  return {
    plugin: {
      transformQuery: (args) => {
        n++;
        return args.node;
      },
      transformResult: async (args) => args.result,
    },
    get n() {
      return n;
    },
  };
}
