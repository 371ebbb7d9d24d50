import type { ReadScope } from '../core/rights.ts';
import type { Db } from '../db/connection.ts';
import { type EventFilter, findFeedEvents } from '../db/events.ts';
import { readLogHead } from '../db/log.ts';
import type { EventRow } from '../db/types.ts';

/**
 * The ledger event feed behind `subscription ledgerEvents`: replay from the database after a log position, then live
 * delivery by polling the database by log position. Nothing lives only in this process's memory, so any number of
 * server processes on one PostgreSQL (or one process on PGlite) serve feeds that agree.
 *
 * Why there are no gaps or duplicates: leaf indexes are only given by integration (services/integrate.ts), which holds
 * the log's lock (`lockLog`) until it commits, so leaf indexes become visible in order, and `log_state.size` commits
 * together with the event rows. The feed reads the
 * size first and then only asks for events below it, all of which were committed before the size was read. The cursor
 * moves past every examined position, delivered or not (invisible and filtered-out events too), so it never revisits
 * a position and never skips one.
 */

/** How often an idle feed looks for new log entries. */
export const FEED_POLL_INTERVAL_MS = 250;
/** At most this many events are read (and delivered) per database round trip; authorization is re-checked per page. */
export const FEED_PAGE_SIZE = 100;
/** At most this many log positions are examined per query, so one query stays bounded when most events are filtered out. */
export const FEED_SCAN_WINDOW = 10_000;
/** An idle feed (no new log entries) still re-checks its key and grants this often, and ends when they fail. */
export const FEED_IDLE_AUTH_RECHECK_MS = 1_000;
/** Upper bound for the number of values in each filter list. */
export const FEED_MAX_FILTER_VALUES = 1_000;

/** What a feed delivers; every list that is non-empty must match (values within one list are alternatives). */
export interface FeedFilter {
  kinds: readonly string[];
  /** GTIN-14s: events touching at least one item of these products. */
  gtins: readonly string[];
  /** Events touching at least one item of these batches (resolved at every poll, so future batches match). */
  batches: readonly { gtin: string; lot: string }[];
  /** Events touching at least one of these items, by id or by (GTIN, serial). */
  itemIds: readonly string[];
  itemKeys: readonly { gtin: string; serial: string }[];
}

export type Authorization = { ok: true; scope: ReadScope } | { ok: false; message: string };

export type FeedMessage =
  | { kind: 'event'; position: number; event: EventRow }
  /** Authorization failed: the feed delivers nothing more and ends after this message. */
  | { kind: 'denied'; message: string };

export interface FeedOptions {
  db: Db;
  /** Deliver events with leaf index > after. */
  after: number;
  filter: FeedFilter;
  /** Re-authenticates the subscriber and recomputes its read scope; called before every page that may deliver. */
  authorize: () => Promise<Authorization>;
  /** Aborts the feed (client disconnect, iterator return, server shutdown). */
  signal: AbortSignal;
  pollIntervalMs?: number;
  pageSize?: number;
  scanWindow?: number;
  idleAuthRecheckMs?: number;
}

// Running feeds of this process by database handle: only so that a shutdown can end them (delivery never uses it).
const running = new WeakMap<Db, Set<AbortController>>();
let openFeeds = 0;
/** Feeds currently running in this process (tests use it to check that disconnects clean up). */
export const openFeedCount = (): number => openFeeds;

/**
 * Ends every running feed on `db` (graceful shutdown): each stream completes normally, so its client reconnects, to
 * another process if need be, with `after` = the last position it received. Returns how many were ended.
 */
export function endLedgerFeeds(db: Db): number {
  const feeds = running.get(db);
  if (!feeds) return 0;
  const n = feeds.size;
  for (const c of feeds) c.abort();
  return n;
}

/** The position a feed "from now" starts after: the last leaf of the log (-1 when the log is empty). */
export async function currentLogPosition(db: Db): Promise<number> {
  return (await readLogHead(db)).size - 1;
}

/**
 * The feed's filter as the shared event filter (db/events.ts): an empty list is no condition. Only items the reader
 * may see select an event: an item it cannot see is not shown with the event, so matching on it would tell that
 * another brand's serial was in a shared event.
 */
function eventFilterOf(f: FeedFilter): EventFilter {
  return {
    ...(f.kinds.length ? { kinds: f.kinds } : {}),
    touchingGtins: f.gtins,
    touchingBatches: f.batches,
    touchingItems: { ids: f.itemIds, keys: f.itemKeys },
  };
}

/** One page: visible, matching events in (after, upTo], oldest first, at most `limit`. */
function readPage(db: Db, scope: ReadScope, filter: FeedFilter, after: number, upTo: number, limit: number): Promise<EventRow[]> {
  return findFeedEvents(db, scope, eventFilterOf(filter), { after, upTo, limit });
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * Streams the events after `opts.after` that the subscriber may see and that match the filter, in log order, each
 * with its position; replays in pages, then polls. Before every page that may deliver, the subscriber is
 * re-authorized (after the log size was read, so every event of the page was committed before the check): once
 * authorization fails the feed yields one `denied` message and ends. Idle feeds re-check every
 * `idleAuthRecheckMs`. Ends when `signal` aborts, the consumer returns, or {@link endLedgerFeeds} is called.
 */
export async function* ledgerEventFeed(opts: FeedOptions): AsyncGenerator<FeedMessage, void, undefined> {
  const { db } = opts;
  const stop = new AbortController();
  const signal = stop.signal;
  const onAbort = () => stop.abort();
  opts.signal.addEventListener('abort', onAbort, { once: true });
  if (opts.signal.aborted) stop.abort();
  const feeds = running.get(db) ?? new Set();
  running.set(db, feeds);
  feeds.add(stop);
  const pollMs = opts.pollIntervalMs ?? FEED_POLL_INTERVAL_MS;
  const pageSize = opts.pageSize ?? FEED_PAGE_SIZE;
  const window = opts.scanWindow ?? FEED_SCAN_WINDOW;
  const idleRecheckMs = opts.idleAuthRecheckMs ?? FEED_IDLE_AUTH_RECHECK_MS;
  let cursor = opts.after;
  let lastAuthAt = Date.now();
  openFeeds++;
  try {
    while (!signal.aborted) {
      const last = (await readLogHead(db)).size - 1;
      if (signal.aborted) return;
      const behind = cursor < last;
      if (!behind && Date.now() - lastAuthAt < idleRecheckMs) {
        await pause(pollMs, signal);
        continue;
      }
      const auth = await opts.authorize();
      lastAuthAt = Date.now();
      if (!auth.ok) {
        yield { kind: 'denied', message: auth.message };
        return;
      }
      if (!behind) {
        await pause(pollMs, signal);
        continue;
      }
      if (signal.aborted) return;
      const upTo = Math.min(last, cursor + window);
      const rows = await readPage(db, auth.scope, opts.filter, cursor, upTo, pageSize);
      // A full page may stop short of upTo; otherwise every position up to upTo has been examined.
      const next = rows.length === pageSize ? Number(rows[rows.length - 1]!.leaf_index) : upTo;
      for (const event of rows) {
        if (signal.aborted) return;
        const position = Number(event.leaf_index);
        cursor = position;
        yield { kind: 'event', position, event };
      }
      cursor = next;
    }
  } finally {
    openFeeds--;
    feeds.delete(stop);
    opts.signal.removeEventListener('abort', onAbort);
  }
}
