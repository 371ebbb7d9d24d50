import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { freePort } from '../helpers/server.ts';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

// Shared by the operational tests: a throwaway PostgreSQL cluster in a temporary folder on a free port, and real
// `provenant serve` processes on it.
export const root = new URL('../../', import.meta.url).pathname;

function findPgBin(): string {
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base) ? readdirSync(base).filter((v) => existsSync(join(base, v, 'bin', 'initdb'))) : [];
  versions.sort((a, b) => Number(a) - Number(b));
  if (versions.length === 0) throw new Error('test:ops needs the PostgreSQL server binaries in /usr/lib/postgresql/*/bin (apt-get install postgresql)');
  return join(base, versions[versions.length - 1]!, 'bin');
}


export interface ThrowawayPostgres {
  /** The folder holding the cluster; callers may put data folders beside it. */
  work: string;
  port: number;
  /** `postgres://postgres@127.0.0.1:PORT/provenant`. */
  url: string;
  start(): void;
  stop(): void;
  /** Stops the cluster if running and deletes the folder. */
  dispose(): void;
}

/** Initialises and starts a PostgreSQL cluster (as the postgres user when root: initdb refuses root) with a `provenant` database. */
export async function startThrowawayPostgres(prefix: string): Promise<ThrowawayPostgres> {
  const pgBin = findPgBin();
  const work = mkdtempSync(join(tmpdir(), prefix));
  const pgData = join(work, 'pg');
  const asPg = (tool: string, args: string[]): string => {
    const cmd = join(pgBin, tool);
    return userInfo().uid === 0
      ? execFileSync('runuser', ['-u', 'postgres', '--', cmd, ...args], { encoding: 'utf8' })
      : execFileSync(cmd, args, { encoding: 'utf8' });
  };
  if (userInfo().uid === 0) {
    const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(work, id('-u'), id('-g'));
  }
  asPg('initdb', ['-D', pgData, '-U', 'postgres', '--auth=trust', '-E', 'UTF8']);
  const port = await freePort();
  const start = () =>
    void asPg('pg_ctl', ['-D', pgData, '-l', join(work, 'pg.log'), '-w', '-t', '60', '-o', `-p ${port} -k ${work} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100`, 'start']);
  const stop = () => void asPg('pg_ctl', ['-D', pgData, '-m', 'fast', '-w', 'stop']);
  start();
  asPg('createdb', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', 'provenant']);
  return {
    work,
    port,
    url: `postgres://postgres@127.0.0.1:${port}/provenant`,
    start,
    stop,
    dispose() {
      try {
        stop();
      } catch {
        // already stopped
      }
      rmSync(work, { recursive: true, force: true });
    },
  };
}

export interface ServedProcess {
  child: ChildProcess;
  url: string;
  origin: string;
  stdout: () => string;
  stderr: () => string;
  alive: () => boolean;
  /** SIGKILL (if alive) and wait for the exit. */
  kill(): Promise<void>;
}

/** Spawns `provenant serve` with `env` on a free port and waits for its GraphQL URL line. */
export async function spawnServer(env: NodeJS.ProcessEnv): Promise<ServedProcess> {
  const port = await freePort();
  const full: NodeJS.ProcessEnv = { ...process.env, PROVENANT_SEED_DEMO: 'false', LOG_LEVEL: 'info', ...env, PORT: String(port), HOST: '127.0.0.1' };
  for (const k of ['PROVENANT_OPERATOR_KEY', 'PROVENANT_LOG_KEY', 'PROVENANT_LOG_ORIGIN']) if (!(k in env)) delete full[k];
  const child = spawn(process.execPath, [join(root, 'bin/provenant.mjs'), 'serve'], { cwd: root, env: full, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const url = `http://127.0.0.1:${port}/graphql`;
  const alive = () => child.exitCode === null && child.signalCode === null;
  const deadline = Date.now() + 120_000;
  while (!out.includes(`GraphQL (GraphiQL in a browser): ${url}`)) {
    if (!alive() || Date.now() > deadline) throw new Error(`server did not start\nstdout:\n${out}\nstderr:\n${err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    child,
    url,
    origin: `http://127.0.0.1:${port}`,
    stdout: () => out,
    stderr: () => err,
    alive,
    async kill() {
      if (!alive()) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    },
  };
}
