import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { apiKeyHash } from '../core/api-key.ts';
import { parseSignerKey, signerKeyString, verifierKeyString } from '../core/checkpoint.ts';
import type { LogSigner } from '../db/log.ts';
import { ensureOperator } from '../db/actors.ts';
import { createPGlite, openPGlite, openPostgres, type DatabaseHandle } from '../db/connection.ts';
import { migrateToLatest } from '../db/migrator.ts';
import { generateApiKey } from '../services/api-key-secret.ts';
import { ConfigError, type Config } from './config.ts';

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

/**
 * The log's signing key: PROVENANT_LOG_KEY, else `log-key` in the data folder, else a new Ed25519 key written there
 * (mode 0600). Its name is the log origin; a mismatch with PROVENANT_LOG_ORIGIN is a configuration error.
 */
export function loadLogSigner(config: Config): LogSigner & { generatedFile?: string } {
  const file = join(config.dataDir, 'log-key');
  let keyString = config.logKey;
  let generatedFile: string | undefined;
  if (!keyString && existsSync(file)) keyString = readFileSync(file, 'utf8').trim();
  if (!keyString) {
    keyString = signerKeyString(config.logOrigin, new Uint8Array(randomBytes(32)));
    writeFileSync(file, keyString + '\n', { mode: 0o600, flag: 'wx' });
    generatedFile = file;
  }
  const parsed = parseSignerKey(keyString);
  if (!parsed.ok) throw new ConfigError(`log signing key (${config.logKey ? 'PROVENANT_LOG_KEY' : file}) is invalid: ${parsed.error}`);
  if (parsed.value.name !== config.logOrigin) {
    throw new ConfigError(`log signing key is for origin "${parsed.value.name}" but PROVENANT_LOG_ORIGIN is "${config.logOrigin}"`);
  }
  return {
    origin: parsed.value.name,
    seed: parsed.value.seed,
    verifierKey: verifierKeyString(parsed.value.name, parsed.value.publicKey),
    ...(generatedFile ? { generatedFile } : {}),
  };
}
