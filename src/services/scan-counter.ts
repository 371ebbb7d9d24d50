import type { Db } from '../db/connection.ts';
import { type ScanDelta, addScanCounts } from '../db/links.ts';

/** How long scans wait in memory before one upsert writes them (also the most a crash can lose). */
export const SCAN_FLUSH_MS = 1000;

/**
 * Scan counts buffered in memory per (gtin, UTC day, country) and written in one upsert per flush, so a burst of
 * scans costs one statement instead of one per hit. Reads flush first ({@link flushScanCounts}).
 */
class ScanCounter {
  private pending = new Map<string, ScanDelta>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly db: Db, private readonly onError: (e: unknown) => void) {}

  add(gtin: string, day: string, country: string): void {
    const key = `${gtin}|${day}|${country}`;
    const d = this.pending.get(key);
    if (d) d.count += 1;
    else this.pending.set(key, { gtin, day, country, count: 1 });
    if (!this.timer) {
      this.timer = setTimeout(() => void this.flush().catch(this.onError), SCAN_FLUSH_MS);
      this.timer.unref?.();
    }
  }

  /** Writes what is pending; resolves when this and every earlier write is done. Counts of a failed write are kept. */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = [...this.pending.values()];
    this.pending = new Map();
    this.writing = this.writing.catch(() => {}).then(async () => {
      try {
        await addScanCounts(this.db, batch);
      } catch (e) {
        for (const d of batch) {
          const key = `${d.gtin}|${d.day}|${d.country}`;
          const p = this.pending.get(key);
          if (p) p.count += d.count;
          else this.pending.set(key, d);
        }
        throw e;
      }
    });
    return this.writing;
  }
}

const counters = new WeakMap<Db, ScanCounter>();

/** The process's scan counter for a database (one per database, shared by every app on it). */
export function scanCounterFor(db: Db, onError: (e: unknown) => void = () => {}): ScanCounter {
  let c = counters.get(db);
  if (!c) counters.set(db, (c = new ScanCounter(db, onError)));
  return c;
}

/** Writes buffered scan counts of `db` now (before reading counts, and at shutdown). */
export async function flushScanCounts(db: Db): Promise<void> {
  await counters.get(db)?.flush();
}
