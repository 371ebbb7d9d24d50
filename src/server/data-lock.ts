/**
 * One process per embedded data folder. Two processes on one PGlite folder fork the signed log (each signs its own
 * checkpoints for the same tree size) and corrupt the database, so `serve`, `migrate`, `seed` and `audit` take this
 * lock before they open the embedded database and hold it until they close it.
 *
 * The lock is the file `provenant.lock` in the data folder, naming the holder (PID, host, process start time,
 * command). A holder that is gone (killed with -9, crashed, power loss) leaves the file behind; the next process sees
 * that the PID is no longer alive (or now belongs to another process: Linux start time differs) and takes over at
 * once. Checking the holder and writing the new one happen under a short-lived `proper-lockfile` mutex, so two
 * processes starting together cannot both take over a stale lock.
 */
import { readFileSync, realpathSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';

export const LOCK_FILE = 'provenant.lock';
const MUTEX_DIR = '.provenant.lock.mutex';

/** Who holds a data folder, as written in its lock file. */
export interface LockHolder {
  pid: number;
  hostname: string;
  /** Linux: the process start time in clock ticks since boot (field 22 of /proc/PID/stat), to detect PID reuse. */
  startTicks?: string;
  command: string;
  since: string;
}

/** The data folder is held by another live process (or one on another host whose liveness cannot be checked). */
export class DataFolderLockedError extends Error {
  override name = 'DataFolderLockedError';
  constructor(
    readonly dataDir: string,
    readonly holder: LockHolder,
    readonly lockFile: string,
  ) {
    const who = `PID ${holder.pid}${holder.hostname !== hostname() ? ` on host ${holder.hostname}` : ''}, "provenant ${holder.command}" since ${holder.since}`;
    super(
      `the data folder ${dataDir} is in use by another Provenant process (${who}). ` +
        'One process owns an embedded data folder: stop that process first' +
        (holder.command === 'serve' ? ', or run "provenant audit --server URL" to audit through it' : '') +
        (holder.hostname !== hostname() ? `. If that process is gone, delete ${lockFile}` : '') +
        '.',
    );
  }
}

export interface DataLock {
  readonly file: string;
  /** Removes the lock file if it is still ours. Idempotent. */
  release(): void;
}

/** Data folders held by this process (a second acquire in one process is refused like any other). */
const heldHere = new Map<string, LockHolder>();

function startTicksOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: count fields after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function readHolder(file: string): LockHolder | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    const h = JSON.parse(text) as Partial<LockHolder>;
    if (typeof h.pid === 'number' && Number.isInteger(h.pid) && h.pid > 0 && typeof h.hostname === 'string') {
      return { pid: h.pid, hostname: h.hostname, startTicks: typeof h.startTicks === 'string' ? h.startTicks : undefined, command: String(h.command ?? '?'), since: String(h.since ?? '?') };
    }
  } catch {
    // A torn or foreign file: nobody can be proven to hold it.
  }
  return undefined;
}

/** True when the holder may still run: same host and its PID is alive with the same start time, or another host. */
function holderAlive(h: LockHolder): boolean {
  if (h.hostname !== hostname()) return true;
  // Our own PID in the file is a previous life (e.g. PID 1 in a restarted container): this process holds nothing yet.
  if (h.pid === process.pid) return false;
  try {
    process.kill(h.pid, 0);
  } catch (e) {
    // EPERM: the process exists but belongs to another user.
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (h.startTicks !== undefined) {
    const now = startTicksOf(h.pid);
    if (now !== undefined && now !== h.startTicks) return false;
  }
  return true;
}

/**
 * Takes the data folder for this process, or throws `DataFolderLockedError` naming the live holder. A stale lock
 * (holder dead) is taken over. Hold it for as long as the embedded database is open; `release()` when closed. The
 * lock file is also removed when the process exits normally (`process.exit` included).
 */
export async function acquireDataLock(dataDir: string, command: string): Promise<DataLock> {
  const file = join(dataDir, LOCK_FILE);
  // One folder reached by two paths (a symlink) is still one folder.
  const key = realpathSync(dataDir);
  const own = heldHere.get(key);
  if (own) throw new DataFolderLockedError(dataDir, own, file);
  const me: LockHolder = { pid: process.pid, hostname: hostname(), startTicks: startTicksOf(process.pid), command, since: new Date().toISOString() };
  const unlockMutex = await lockfile.lock(dataDir, {
    lockfilePath: join(dataDir, MUTEX_DIR),
    realpath: false,
    // Held for milliseconds; one left by a process killed right here is stale after 5 s.
    stale: 5_000,
    retries: { retries: 40, minTimeout: 20, maxTimeout: 250 },
  });
  try {
    const holder = readHolder(file);
    if (holder && holderAlive(holder)) throw new DataFolderLockedError(dataDir, holder, file);
    // Write then rename: a reader never sees a half-written holder.
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(me) + '\n', { mode: 0o644 });
    renameSync(tmp, file);
  } finally {
    await unlockMutex().catch(() => {});
  }
  heldHere.set(key, me);
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    process.removeListener('exit', release);
    heldHere.delete(key);
    const h = readHolder(file);
    if (h && h.pid === me.pid && h.since === me.since) {
      try {
        unlinkSync(file);
      } catch {
        // Already gone: nothing to release.
      }
    }
  };
  process.on('exit', release);
  return { file, release };
}
