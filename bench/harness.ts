import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { publicKeyFromPrivate, verifierKeyString } from '../src/core/checkpoint.ts';
import { createPGlite, openPGlite, openPostgres, type DatabaseHandle, type Db } from '../src/db/connection.ts';
import type { LogSigner } from '../src/db/log.ts';
import { ensureOperator } from '../src/db/actors.ts';
import { migrateToLatest } from '../src/db/migrator.ts';
import type { ActorRow } from '../src/db/types.ts';
import { createActor } from '../src/services/create-actor.ts';
import type { LedgerDeps } from '../src/services/deps.ts';
import { registerBatch } from '../src/services/register-batch.ts';
import { registerProduct } from '../src/services/register-product.ts';

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

/** GTIN of the bench product (company prefix 4012345, item reference 011111). */
export const BENCH_GTIN = '04012345111118';
export const benchSgtin = (serial: string) => `urn:epc:id:sgtin:4012345.011111.${serial}`;

/**
 * Migrates `h`, creates a manufacturer ("m", the bench product's brand) and a distributor ("d"), registers the bench
 * product and commissions `count` serials `{prefix}0000001`… in lot `lot`. Returns the actors, the maker's API key
 * and write dependencies with a fresh log key.
 */
export async function seedBenchLedger(h: DatabaseHandle, schema: string | undefined, lot: string, count: number) {
  await migrateToLatest(h.db, schema);
  const op = await ensureOperator(h.db);
  const maker = await createActor(h.db, op, { name: 'm', roles: ['MANUFACTURER'], companyPrefixes: ['4012345'] });
  const dist = await createActor(h.db, op, { name: 'd', roles: ['DISTRIBUTOR'] });
  if (maker.kind !== 'ok' || dist.kind !== 'ok') throw new Error('bench actors');
  await registerProduct(h.db, maker.actor, { gtin: BENCH_GTIN, name: 'bench product' });
  const deps = benchDeps(h.db);
  const b = await registerBatch(deps, maker.actor, { gtin: BENCH_GTIN, lot, producedAt: new Date().toISOString(), site: 'Plant 1', range: { count, firstSerial: `${lot}0000001` } });
  if (b.kind !== 'ok') throw new Error(JSON.stringify(b));
  return { maker: maker.actor as ActorRow, makerKey: maker.secret!, dist: dist.actor as ActorRow, deps };
}
