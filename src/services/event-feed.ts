import { type RawBuilder, sql } from 'kysely';
import type { ReadScope } from '../core/rights.ts';
import type { Db } from '../db/connection.ts';
import { readLogHead } from '../db/log.ts';
import type { EventRow } from '../db/types.ts';
import { eventVisibleSql, itemVisibleSql } from '../db/visibility.ts';

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
 * The filter as SQL for `scope`'s reader. Only items the reader may see select an event: an item it cannot see is
 * not shown with the event, so matching on it would tell that another brand's serial was in a shared event.
 */
function filterSql(f: FeedFilter, scope: ReadScope): RawBuilder<boolean>[] {
  const conds: RawBuilder<boolean>[] = [];
  const touches = (cond: RawBuilder<boolean>) =>
    sql<boolean>`EXISTS (SELECT 1 FROM chain_links fl JOIN items fi ON fi.id = fl.item_id WHERE fl.event_id = e.id AND ${cond} AND ${itemVisibleSql(scope, 'fi')})`;
  if (f.kinds.length) conds.push(sql<boolean>`e.kind = ANY(${[...f.kinds]}::text[])`);
  if (f.gtins.length) conds.push(touches(sql<boolean>`fi.gtin = ANY(${[...f.gtins]}::bpchar[])`));
  if (f.batches.length) {
    conds.push(touches(sql<boolean>`fi.batch_id IN (SELECT fb.id FROM batches fb
      JOIN unnest(${f.batches.map((b) => b.gtin)}::char(14)[], ${f.batches.map((b) => b.lot)}::text[]) AS w(gtin, lot)
        ON fb.gtin = w.gtin AND fb.lot = w.lot)`));
  }
  if (f.itemIds.length || f.itemKeys.length) {
    conds.push(touches(sql<boolean>`(fi.id = ANY(${[...f.itemIds]}::uuid[]) OR EXISTS (
      SELECT 1 FROM unnest(${f.itemKeys.map((k) => k.gtin)}::char(14)[], ${f.itemKeys.map((k) => k.serial)}::text[]) AS w(gtin, serial)
      WHERE w.gtin = fi.gtin AND w.serial = fi.serial))`));
  }
  return conds;
}

/** One page: visible, matching events in (after, upTo], oldest first, at most `limit`. */
async function readPage(db: Db, scope: ReadScope, filter: FeedFilter, after: number, upTo: number, limit: number): Promise<EventRow[]> {
  let q = db.selectFrom('events as e').selectAll('e')
    .where('e.leaf_index', '>', after).where('e.leaf_index', '<=', upTo)
    .where(eventVisibleSql(scope, 'e'))
    .orderBy('e.leaf_index').limit(limit);
  for (const c of filterSql(filter, scope)) q = q.where(c);
  return q.execute();
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
