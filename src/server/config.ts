import { accessSync, constants, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { DEFAULT_FIELD_LIMITS, type FieldLimits } from '../core/text.ts';

/** Validated runtime configuration; read once at startup from the environment. */
export interface Config {
  port: number;
  host: string;
  /** Folder for the embedded database and generated keys. */
  dataDir: string;
  /** When set, PostgreSQL through `pg`; otherwise embedded PGlite under `dataDir`. */
  databaseUrl: string | undefined;
  /** Bearer key of the platform operator; generated and kept in `dataDir` when unset. */
  operatorKey: string | undefined;
  /** Log origin line of checkpoints (and the signing key's name). */
  logOrigin: string;
  /** Signer key string (PRIVATE+KEY+origin+…) of the log; generated and kept in `dataDir` when unset. */
  logKey: string | undefined;
  /** How far in the future an event's occurrence time may lie. */
  maxClockSkewMs: number;
  /** Seed demo data on first start of an empty database. */
  seedDemo: boolean;
  logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  /** EPCIS capture: largest document in bytes and most events per document. */
  epcisMaxDocumentBytes: number;
  epcisMaxEvents: number;
  /** Deepest selection nesting a GraphQL operation may have (introspection's `__schema` is not counted). */
  maxQueryDepth: number;
  /** Most aliases in one operation (`__typename` aliases not counted). */
  maxAliases: number;
  /** Most lexical tokens in one GraphQL document (checked while parsing). */
  maxTokens: number;
  /**
   * Largest estimated cost of one operation: 2 per object field, 1 per scalar, times the page size of connections —
   * the literal `first`/`last`, the value of its variable, or the default page size when omitted.
   */
  maxQueryCost: number;
  /** Most directives in one operation. */
  maxDirectives: number;
  /** Largest request body in bytes; larger requests get HTTP 413 before the body is read. */
  maxBodyBytes: number;
  /** Schema introspection (and GraphiQL); on by default. */
  introspection: boolean;
  /** Digital Link resolver: origin (https, optional path, no trailing slash) printed in items' Digital Links. */
  publicBaseUrl: string;
  /** Headers (lower case) a trusted proxy sets to the client's country; the first present one counts a scan. */
  countryHeaders: string[];
  /** Resolver requests per minute per client IP (token bucket); beyond it 429. */
  resolverRatePerMinute: number;
  /** Header (lower case) carrying the client IP from a trusted proxy (its first address); unset: the socket address. */
  clientIpHeader: string | undefined;
  /** Bounds of free-form input fields (note, readings, reason, location, names, attributes …). */
  fieldLimits: FieldLimits;
  /** Largest GraphQL response (estimated UTF-8 bytes of its JSON); a larger result is replaced by an error. */
  maxResponseBytes: number;
  /**
   * How long a verified API key (with its actor's grants) is reused without asking the database (0: never). Changes
   * made through this process apply at once; those made by another process on the same database within this time.
   * Default 1000 ms.
   */
  authCacheMs?: number;
}

/** Defaults of the GraphQL edge limits (each overridable through its environment variable). */
export const EDGE_DEFAULTS = {
  maxQueryDepth: 12,
  maxAliases: 30,
  maxTokens: 5000,
  maxQueryCost: 50_000,
  maxDirectives: 50,
  maxBodyBytes: 12 * 1024 * 1024,
  introspection: true,
  fieldLimits: DEFAULT_FIELD_LIMITS,
  maxResponseBytes: 32 * 1024 * 1024,
} as const satisfies Partial<Config>;

/** Environment variable of each field bound, with the range it may be set to. */
export const FIELD_LIMIT_ENV: Record<keyof FieldLimits, { name: string; min: number; max: number }> = {
  noteChars: { name: 'PROVENANT_MAX_NOTE_CHARS', min: 1, max: 1_000_000 },
  readingsBytes: { name: 'PROVENANT_MAX_READINGS_BYTES', min: 2, max: 8 * 1024 * 1024 },
  reasonChars: { name: 'PROVENANT_MAX_REASON_CHARS', min: 1, max: 100_000 },
  locationChars: { name: 'PROVENANT_MAX_LOCATION_CHARS', min: 13, max: 10_000 },
  materialNameChars: { name: 'PROVENANT_MAX_MATERIAL_NAME_CHARS', min: 1, max: 10_000 },
  materialsEntries: { name: 'PROVENANT_MAX_MATERIALS', min: 1, max: 10_000 },
  attributesBytes: { name: 'PROVENANT_MAX_ATTRIBUTES_BYTES', min: 2, max: 8 * 1024 * 1024 },
  productNameChars: { name: 'PROVENANT_MAX_PRODUCT_NAME_CHARS', min: 1, max: 10_000 },
  actorNameChars: { name: 'PROVENANT_MAX_ACTOR_NAME_CHARS', min: 1, max: 10_000 },
};

/** An EPCIS capture document may be 10 MB; the body limit must leave room for it plus the GraphQL envelope. */
export const MIN_BODY_BYTES = 11 * 1024 * 1024;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;

function intIn(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number, why = ''): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const bad = () => new ConfigError(`${name} must be an integer between ${min} and ${max}${why}, got "${raw}"`);
  if (!/^\d+$/.test(raw.trim())) throw bad();
  const value = Number(raw.trim());
  if (value < min || value > max) throw bad();
  return value;
}

function bool(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = (env[name] ?? '').trim().toLowerCase();
  if (raw === '') return fallback;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new ConfigError(`${name} must be true or false, got "${env[name]}"`);
}

/**
 * Parses and validates the environment. Throws `ConfigError` with a message naming the variable on any bad value.
 * Creates the data folder when missing and fails if it is not readable and writable.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const port = intIn(env, 'PORT', 4000, 0, 65535);
  const maxClockSkewMs = intIn(env, 'PROVENANT_MAX_CLOCK_SKEW_MS', 5 * 60_000, 0, 24 * 3600_000);
  const dataDir = resolve(env.PROVENANT_DATA_DIR || './.provenant');
  try {
    mkdirSync(dataDir, { recursive: true });
    accessSync(dataDir, constants.R_OK | constants.W_OK);
  } catch (e) {
    throw new ConfigError(`PROVENANT_DATA_DIR "${dataDir}" is not a readable and writable folder: ${(e as Error).message}`);
  }
  const databaseUrl = env.DATABASE_URL?.trim() || undefined;
  if (databaseUrl !== undefined) {
    let url: URL;
    try {
      url = new URL(databaseUrl);
    } catch {
      throw new ConfigError('DATABASE_URL is not a valid URL (expected postgres://user:password@host:port/database)');
    }
    if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
      throw new ConfigError(`DATABASE_URL must use the postgres:// scheme, got "${url.protocol}"`);
    }
  }
  const operatorKey = env.PROVENANT_OPERATOR_KEY?.trim() || undefined;
  if (operatorKey !== undefined && !/^pvn_[A-Za-z0-9_-]{22,}$/.test(operatorKey)) {
    throw new ConfigError('PROVENANT_OPERATOR_KEY must look like pvn_ followed by at least 22 base64url characters (≥ 128 bits)');
  }
  const logOrigin = env.PROVENANT_LOG_ORIGIN?.trim() || 'provenant.local/log';
  if (!/^[\x21-\x7e]+$/.test(logOrigin) || logOrigin.includes('+')) {
    throw new ConfigError(`PROVENANT_LOG_ORIGIN must be printable ASCII without spaces or "+", got "${logOrigin}"`);
  }
  const logKey = env.PROVENANT_LOG_KEY?.trim() || undefined;
  if (logKey !== undefined && !logKey.startsWith('PRIVATE+KEY+')) {
    throw new ConfigError('PROVENANT_LOG_KEY must be a signer key string PRIVATE+KEY+<origin>+<id>+<base64> (see provenant log-key)');
  }
  const logLevel = (env.LOG_LEVEL || 'info') as Config['logLevel'];
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);
  const seedRaw = (env.PROVENANT_SEED_DEMO ?? 'true').toLowerCase();
  if (!['true', 'false', '1', '0'].includes(seedRaw)) throw new ConfigError(`PROVENANT_SEED_DEMO must be true or false, got "${seedRaw}"`);
  const maxQueryDepth = intIn(env, 'PROVENANT_MAX_DEPTH', EDGE_DEFAULTS.maxQueryDepth, 2, 100);
  const maxAliases = intIn(env, 'PROVENANT_MAX_ALIASES', EDGE_DEFAULTS.maxAliases, 0, 1000);
  const maxTokens = intIn(env, 'PROVENANT_MAX_TOKENS', EDGE_DEFAULTS.maxTokens, 100, 1_000_000);
  const maxQueryCost = intIn(env, 'PROVENANT_MAX_COST', EDGE_DEFAULTS.maxQueryCost, 100, 100_000_000);
  const maxDirectives = intIn(env, 'PROVENANT_MAX_DIRECTIVES', EDGE_DEFAULTS.maxDirectives, 0, 1000);
  const maxBodyBytes = intIn(env, 'PROVENANT_MAX_BODY_BYTES', EDGE_DEFAULTS.maxBodyBytes, MIN_BODY_BYTES, 1024 * 1024 * 1024, ' (at least 11 MiB: an EPCIS capture may be 10 MB)');
  const introspection = bool(env, 'PROVENANT_INTROSPECTION', EDGE_DEFAULTS.introspection);
  const resolver = resolverConfig(env);
  const fieldLimits = Object.fromEntries(
    (Object.keys(FIELD_LIMIT_ENV) as (keyof FieldLimits)[]).map((k) => [k, intIn(env, FIELD_LIMIT_ENV[k].name, DEFAULT_FIELD_LIMITS[k], FIELD_LIMIT_ENV[k].min, FIELD_LIMIT_ENV[k].max)]),
  ) as unknown as FieldLimits;
  const maxResponseBytes = intIn(env, 'PROVENANT_MAX_RESPONSE_BYTES', EDGE_DEFAULTS.maxResponseBytes, 64 * 1024, 1024 * 1024 * 1024);
  const authCacheMs = intIn(env, 'PROVENANT_AUTH_CACHE_MS', 1000, 0, 60_000);
  return {
    port,
    host: env.HOST || '0.0.0.0',
    dataDir,
    databaseUrl,
    operatorKey,
    logOrigin,
    logKey,
    maxClockSkewMs,
    seedDemo: seedRaw === 'true' || seedRaw === '1',
    logLevel,
    epcisMaxDocumentBytes: intIn(env, 'PROVENANT_EPCIS_MAX_BYTES', 10 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    epcisMaxEvents: intIn(env, 'PROVENANT_EPCIS_MAX_EVENTS', 10_000, 1, 1_000_000),
    maxQueryDepth,
    maxAliases,
    maxTokens,
    maxQueryCost,
    maxDirectives,
    maxBodyBytes,
    introspection,
    ...resolver,
    fieldLimits,
    maxResponseBytes,
    authCacheMs,
  };
}

const HEADER_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;

/** The resolver's settings; see README "Digital Link resolver". */
function resolverConfig(env: NodeJS.ProcessEnv): Pick<Config, 'publicBaseUrl' | 'countryHeaders' | 'resolverRatePerMinute' | 'clientIpHeader'> {
  const rawBase = env.PROVENANT_PUBLIC_BASE_URL?.trim() || RESOLVER_DEFAULTS.publicBaseUrl;
  let base: URL;
  try {
    base = new URL(rawBase);
  } catch {
    throw new ConfigError(`PROVENANT_PUBLIC_BASE_URL must be an https URL such as https://id.brand.example, got "${rawBase}"`);
  }
  // Digital Links must parse as such everywhere (proof bundles, lookups), and GS1 Digital Link parsing here is https-only.
  if (base.protocol !== 'https:' || base.username || base.password || base.search || base.hash) {
    throw new ConfigError(`PROVENANT_PUBLIC_BASE_URL must be an https URL without user, query or fragment, got "${rawBase}"`);
  }
  const countryRaw = env.PROVENANT_COUNTRY_HEADERS ?? RESOLVER_DEFAULTS.countryHeaders.join(',');
  const countryHeaders = countryRaw.split(',').map((h) => h.trim().toLowerCase()).filter((h) => h !== '');
  const bad = countryHeaders.find((h) => !HEADER_NAME.test(h));
  if (bad !== undefined) throw new ConfigError(`PROVENANT_COUNTRY_HEADERS must be a comma-separated list of header names, got "${bad}"`);
  const clientIpHeader = env.PROVENANT_CLIENT_IP_HEADER?.trim().toLowerCase() || undefined;
  if (clientIpHeader !== undefined && !HEADER_NAME.test(clientIpHeader)) throw new ConfigError(`PROVENANT_CLIENT_IP_HEADER must be a header name, got "${clientIpHeader}"`);
  return {
    publicBaseUrl: `${base.origin}${base.pathname.replace(/\/+$/, '')}`,
    countryHeaders,
    resolverRatePerMinute: intIn(env, 'PROVENANT_RESOLVER_RATE_PER_MINUTE', RESOLVER_DEFAULTS.resolverRatePerMinute, 1, 1_000_000),
    clientIpHeader,
  };
}

/** Defaults of the resolver settings. */
export const RESOLVER_DEFAULTS = {
  publicBaseUrl: 'https://id.gs1.org',
  countryHeaders: ['cf-ipcountry', 'x-country-code'],
  resolverRatePerMinute: 60,
  clientIpHeader: undefined,
} as const;
