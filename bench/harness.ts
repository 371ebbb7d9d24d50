import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { publicKeyFromPrivate, verifierKeyString } from '../src/core/checkpoint.ts';
import { createPGlite, openPGlite, openPostgres, type DatabaseHandle, type Db } from '../src/db/connection.ts';
import type { LogSigner } from '../src/db/log.ts';
import type { LedgerDeps } from '../src/services/deps.ts';

/** A fresh random log key for one bench run. */
export function benchSigner(origin = 'bench/log'): LogSigner {
  const seed = new Uint8Array(randomBytes(32));
  return { origin, seed, verifierKey: verifierKeyString(origin, publicKeyFromPrivate(seed)) };
}

/** Ledger write dependencies on `db` with a fresh log key and the real clock. */
export const benchDeps = (db: Db): LedgerDeps => ({ db, signer: benchSigner(), now: () => new Date(), maxClockSkewMs: 300_000 });

/**
 * Runs `run` on a fresh in-memory PGlite, then, when DATABASE_URL is set, on PostgreSQL in a throwaway schema
 * (dropped afterwards) with a pool of `pgPoolSize`. Handles are closed whatever `run` does.
 */
export async function onEachDatabase(
  run: (engine: 'PGlite' | 'PostgreSQL', handle: DatabaseHandle, schema: string | undefined) => Promise<void>,
  pgPoolSize = 10,
): Promise<void> {
  const lite = await openPGlite(await createPGlite(), 'memory');
  try {
    await run('PGlite', lite, undefined);
  } finally {
    await lite.close();
  }
  const url = process.env.DATABASE_URL;
  if (!url) return;
  const schema = `bench_${Date.now().toString(36)}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  try {
    const handle = await openPostgres(url, { schema, max: pgPoolSize });
    try {
      await run('PostgreSQL', handle, schema);
    } finally {
      await handle.close();
    }
  } finally {
    await admin.query(`DROP SCHEMA ${schema} CASCADE`);
    await admin.end();
  }
}
