import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/server/config.ts';

const dir = () => mkdtempSync(join(tmpdir(), 'pvn-config-'));

describe('config', () => {
  it('defaults: port 4000, data folder, PGlite, 5 min skew', () => {
    const d = dir();
    const c = loadConfig({ PROVENANT_DATA_DIR: d });
    expect(c).toMatchObject({ port: 4000, dataDir: d, databaseUrl: undefined, operatorKey: undefined, maxClockSkewMs: 300_000, seedDemo: true });
  });

  it.each([
    [{ PORT: 'abc' }, /PORT must be an integer/],
    [{ PORT: '70000' }, /PORT must be an integer between 0 and 65535/],
    [{ PORT: '-1' }, /PORT/],
    [{ DATABASE_URL: 'not a url' }, /DATABASE_URL is not a valid URL/],
    [{ DATABASE_URL: 'mysql://localhost/x' }, /postgres:\/\/ scheme/],
    [{ PROVENANT_OPERATOR_KEY: 'secret' }, /PROVENANT_OPERATOR_KEY must look like pvn_/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL must be one of/],
    [{ PROVENANT_MAX_CLOCK_SKEW_MS: '1.5' }, /PROVENANT_MAX_CLOCK_SKEW_MS/],
    [{ PROVENANT_SEED_DEMO: 'maybe' }, /PROVENANT_SEED_DEMO/],
    [{ PROVENANT_AUTH_CACHE_MS: '60001' }, /PROVENANT_AUTH_CACHE_MS must be an integer between 0 and 60000/],
  ])('rejects %o with a message naming the variable', (env, message) => {
    expect(() => loadConfig({ PROVENANT_DATA_DIR: dir(), ...env })).toThrow(message);
    expect(() => loadConfig({ PROVENANT_DATA_DIR: dir(), ...env })).toThrow(ConfigError);
  });

  it('key cache: 1000 ms by default, 0 turns it off', () => {
    expect(loadConfig({ PROVENANT_DATA_DIR: dir() }).authCacheMs).toBe(1000);
    expect(loadConfig({ PROVENANT_DATA_DIR: dir(), PROVENANT_AUTH_CACHE_MS: '0' }).authCacheMs).toBe(0);
  });

  it('rejects a data folder that is a file', () => {
    const file = join(dir(), 'file');
    writeFileSync(file, 'x');
    expect(() => loadConfig({ PROVENANT_DATA_DIR: file })).toThrow(/PROVENANT_DATA_DIR .* is not a readable and writable folder/);
  });

  it('rejects a data folder that cannot be created', () => {
    const file = join(dir(), 'f');
    writeFileSync(file, 'x');
    expect(() => loadConfig({ PROVENANT_DATA_DIR: join(file, 'sub') })).toThrow(/not a readable and writable folder/);
  });
});
