import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { printedSchema } from '../../src/graphql/schema.ts';
import { loadConfig } from '../../src/server/config.ts';
import { startServer, type RunningServer } from '../../src/server/main.ts';

const run = promisify(execFile);
const root = new URL('../../', import.meta.url).pathname;

describe('schema.graphql', () => {
  it('is the current printed, sorted schema (run npm run schema when this fails)', () => {
    expect(readFileSync(join(root, 'schema.graphql'), 'utf8')).toBe(printedSchema());
  });
});

describe('provenant CLI', () => {
  it.each(['serve', 'migrate', 'seed', 'schema'])('%s --help prints its usage and exits 0', async (cmd) => {
    const { stdout } = await run('node', [join(root, 'bin/provenant.mjs'), cmd, '--help']);
    expect(stdout).toContain(`Usage: provenant ${cmd}`);
  });

  it('an unknown command exits 2 with the command list', async () => {
    const err = await run('node', [join(root, 'bin/provenant.mjs'), 'frobnicate']).catch((e) => e);
    expect(err.code).toBe(2);
    expect(err.stderr).toContain('unknown command "frobnicate"');
    expect(err.stderr).toContain('serve');
  });

  it('a bad PORT fails fast with exit 2 and a clear message', async () => {
    const err = await run('node', [join(root, 'bin/provenant.mjs'), 'migrate'], { env: { ...process.env, PORT: 'x', PROVENANT_DATA_DIR: mkdtempSync(join(tmpdir(), 'pvn-')) } }).catch((e) => e);
    expect(err.code).toBe(2);
    expect(err.stderr).toContain('configuration error: PORT must be an integer');
  });

  it('an unreachable DATABASE_URL fails with exit 3 (could not run) naming the URL without its password', async () => {
    const err = await run('node', [join(root, 'bin/provenant.mjs'), 'migrate'], {
      env: { ...process.env, DATABASE_URL: 'postgres://u:hunter2@127.0.0.1:1/x', PROVENANT_DATA_DIR: mkdtempSync(join(tmpdir(), 'pvn-')) },
    }).catch((e) => e);
    expect(err.code).toBe(3);
    expect(err.stderr).toContain('cannot connect to DATABASE_URL postgres://u:***@127.0.0.1:1/x');
    expect(err.stderr).not.toContain('hunter2');
  });
});

describe('server boot', () => {
  let running: RunningServer | undefined;
  const dataDir = mkdtempSync(join(tmpdir(), 'pvn-boot-'));
  afterAll(async () => {
    await running?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('starts on a fresh data folder, prints the generated operator key once, and answers { viewer { id } } over HTTP', async () => {
    const lines: string[] = [];
    const env = { PROVENANT_DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', ...(process.env.DATABASE_URL ? {} : {}) };
    // Always the embedded database here: this test is about first start on an empty data folder.
    running = await startServer({ ...loadConfig(env), databaseUrl: undefined }, (l) => lines.push(l));
    const keyLine = lines.findIndex((l) => l.startsWith('Generated operator API key'));
    expect(keyLine).toBeGreaterThanOrEqual(0);
    const key = lines[keyLine + 1]!.trim();
    expect(key).toMatch(/^pvn_/);
    expect(readFileSync(join(dataDir, 'operator-key'), 'utf8').trim()).toBe(key);
    expect(lines.some((l) => l.includes(`Data folder: ${dataDir}`))).toBe(true);
    expect(existsSync(join(dataDir, 'demo-keys.json'))).toBe(true);
    const res = await fetch(running.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ query: '{ viewer { id isOperator } }' }),
    });
    const body = (await res.json()) as any;
    expect(res.status).toBe(200);
    expect(body.data.viewer.isOperator).toBe(true);
    // GraphiQL for browsers on the same path.
    const page = await fetch(running.url, { headers: { accept: 'text/html' } });
    expect(await page.text()).toContain('Provenant');
    await running.close();

    // Second start on the same folder: key reused, not printed again, no second seed.
    const again: string[] = [];
    running = await startServer({ ...loadConfig(env), databaseUrl: undefined }, (l) => again.push(l));
    expect(again.some((l) => l.includes('Generated operator API key'))).toBe(false);
    expect(again.some((l) => l.includes('Seeded demo data'))).toBe(false);
    const res2 = await fetch(running.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ query: '{ viewer { isOperator } }' }),
    });
    expect(((await res2.json()) as any).data.viewer.isOperator).toBe(true);

    // The seeded ledger, fetched as a bundle over HTTP by the brand, verifies offline with the CLI.
    const demoKeys = JSON.parse(readFileSync(join(dataDir, 'demo-keys.json'), 'utf8')) as Record<string, string>;
    const bundleRes = await fetch(running.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${demoKeys['Acme Appliances']}` },
      body: JSON.stringify({ query: '{ itemProofBundle(sgtin: "urn:epc:id:sgtin:4012345.011111.K0001") logInfo { verifierKey } }' }),
    });
    const { data } = (await bundleRes.json()) as any;
    writeFileSync(join(dataDir, 'bundle.json'), JSON.stringify(data.itemProofBundle));
    await running.close();
    running = undefined;
    const env2 = { ...process.env, ...env, DATABASE_URL: '' };
    const verified = await run('node', [join(root, 'bin/provenant.mjs'), 'verify', join(dataDir, 'bundle.json'), '--key', data.logInfo.verifierKey], { env: env2 });
    expect(verified.stdout).toMatch(/^VALID: item urn:epc:id:sgtin:4012345\.011111\.K0001: complete as of checkpoint \d+ \(tree size \d+\) of provenant\.local\/log: 10 events, head seq 9/);
    // The online audit recomputes the seeded log and every chain from the database: clean, exit 0.
    const audit = await run('node', [join(root, 'bin/provenant.mjs'), 'audit'], { env: env2 });
    expect(audit.stdout).toMatch(/OK: log root, checkpoint and every item chain verify/);
    expect(audit.stderr).toMatch(/items: 100%/);
  });
});
