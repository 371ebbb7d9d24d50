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
import { acquireDataLock } from './data-lock.ts';
import type { Logger } from './logger.ts';

/**
 * Opens the configured database: PostgreSQL when DATABASE_URL is set, otherwise PGlite in the data folder. The
 * embedded folder belongs to one process: this takes its lock (see data-lock.ts) for `command` and releases it when
 * the handle closes; throws `DataFolderLockedError` naming the PID that holds it. With DATABASE_URL, `logger` gets
 * a warning for each lost connection.
 */
export async function openConfiguredDatabase(config: Config, command: string, logger?: Logger): Promise<DatabaseHandle> {
  if (config.databaseUrl) {
    // Lost connections are logged and replaced; requests meanwhile get DATABASE_UNAVAILABLE (see health.ts).
    const onConnectionError = logger ? (error: Error) => logger.warn('database connection error', { error }) : undefined;
    return openPostgres(config.databaseUrl, onConnectionError ? { onConnectionError } : {});
  }
  const lock = await acquireDataLock(config.dataDir, command);
  try {
    const dir = join(config.dataDir, 'pglite');
    const pglite = await createPGlite(dir);
    const handle = await openPGlite(pglite, dir);
    return {
      ...handle,
      close: async () => {
        try {
          await handle.close();
        } finally {
          lock.release();
        }
      },
    };
  } catch (e) {
    lock.release();
    throw e;
  }
}

/**
 * Creates `file` with `content` (mode 0600) unless it exists; returns what the file holds afterwards. Two processes
 * generating a key at once (possible with DATABASE_URL, where the data folder is not locked) agree on the first one.
 */
function createOnce(file: string, content: string): { text: string; created: boolean } {
  try {
    writeFileSync(file, content, { mode: 0o600, flag: 'wx' });
    return { text: content, created: true };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    return { text: readFileSync(file, 'utf8'), created: false };
  }
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
  const created = createOnce(file, generateApiKey() + '\n');
  const key = created.text.trim();
  return created.created ? { hash: apiKeyHash(key), generated: key, file } : { hash: apiKeyHash(key), file };
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
    const created = createOnce(file, signerKeyString(config.logOrigin, new Uint8Array(randomBytes(32))) + '\n');
    keyString = created.text.trim();
    if (created.created) generatedFile = file;
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
