import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { apiKeyHash } from '../core/api-key.ts';
import { ensureOperator } from '../db/actors.ts';
import { createPGlite, openPGlite, openPostgres, type DatabaseHandle } from '../db/connection.ts';
import { migrateToLatest } from '../db/migrator.ts';
import { generateApiKey } from '../services/api-key-secret.ts';
import type { Config } from './config.ts';

/** Opens the configured database: PostgreSQL when DATABASE_URL is set, otherwise PGlite in the data folder. */
export async function openConfiguredDatabase(config: Config): Promise<DatabaseHandle> {
  if (config.databaseUrl) return openPostgres(config.databaseUrl);
  const dir = join(config.dataDir, 'pglite');
  const pglite = await createPGlite(dir);
  return openPGlite(pglite, dir);
}

export interface OperatorKey {
  hash: Uint8Array;
  /** Set only when the key was generated during this call (print it once). */
  generated?: string;
  file?: string;
}

/** The operator key: from config, else the one kept in the data folder, else a new one written there (mode 0600). */
export function loadOperatorKey(config: Config): OperatorKey {
  if (config.operatorKey) return { hash: apiKeyHash(config.operatorKey) };
  const file = join(config.dataDir, 'operator-key');
  if (existsSync(file)) {
    const key = readFileSync(file, 'utf8').trim();
    return { hash: apiKeyHash(key), file };
  }
  const key = generateApiKey();
  writeFileSync(file, key + '\n', { mode: 0o600, flag: 'wx' });
  return { hash: apiKeyHash(key), generated: key, file };
}

/** Migrates and makes sure the operator actor exists. */
export async function prepareDatabase(handle: DatabaseHandle): Promise<void> {
  await migrateToLatest(handle.db);
  await ensureOperator(handle.db);
}
