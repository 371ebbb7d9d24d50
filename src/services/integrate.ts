/**
 * The group-commit sequencer's integrator (DESIGN.md "Write pipeline"). Writers commit their events as pending,
 * holding only the rows of the items they touch; integration then takes the log's lock, gives every pending event
 * committed so far a leaf index in sequence order, stores the new subtrees, moves the head map (every item's latest
 * link, stage and recall flag; core/v2/head-map.ts) to the state after the batch, moves the events into `events` and
 * signs ONE checkpoint for the whole batch, its `provenant-heads` line binding the map's root.
 *
 * Who integrates: one integrator per process and database (`integrateEvents`), to which every writer hands its events
 * right after its commit and waits for their leaf indexes (so a mutation still returns its leaf index). A server also
 * sweeps at start-up and every second, so a pending event whose writer died (kill -9 between its
 * commit and integration) is integrated within seconds. The log lock is a row lock, so on PostgreSQL exactly one
 * process integrates at a time whatever the number of server processes, and a crashed integrator's transaction rolls
 * back and leaves its batch pending for the next one.
 */
import { hash } from 'node:crypto';
import { headsExtension, updateHeadMap } from '../core/v2/head-map.ts';
import type { Db, Trx } from '../db/connection.ts';
import { bytesEqual } from '../core/bytes.ts';
import { allLoggedHeads, type HeadInBatch, headInBatchEntry, headMapEntry, type LoggedHead, pendingHeads, type SeqEntry, sqlHeadMapStore } from '../db/head-map.ts';
import { appendToLog, type LogHead, lockLog, type LogSigner } from '../db/log.ts';
import { hasPending, leafIndexesOf, type NewPendingEvent, pendingBatchWithHeads } from '../db/pending.ts';
import { noteChurn } from '../db/statistics.ts';
import { runPeriodically } from './periodic.ts';

/** Most events one integration moves into the log (one checkpoint each batch). */
export const MAX_INTEGRATION_BATCH = 5_000;

export interface IntegrationResult {
  /** Events integrated by this call. */
  integrated: number;
  /** Tree size after it. */
  treeSize: number;
}

// Node's native SHA-256: the same bytes as core's noble default, about twice as fast; the integrator is the one
// sequential part of every write.
// crypto.hash is one call with no Hash object: a 100,000-item batch hashes ≈ 400,000 times, and a Hash object per
// call (a native handle for the collector to finalise) cost about half the batch's CPU. The result is a view of the
// digest (a 32-byte Uint8Array), not a copy.
const nativeSha256 = (b: Uint8Array): Uint8Array => {
  const d = hash('sha256', b, 'buffer') as unknown as Uint8Array;
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
};

const mapEntry = (h: LoggedHead) => headMapEntry(h, nativeSha256);

/**
 * Moves the head map to the state after the batch being integrated and returns its root, which the batch's checkpoint
 * binds: `heads` are the latest links of the items touched by pending events read from their links, `storedIds` the
 * pending events whose writer stored their entries (db/head-map.ts `pendingHeads`: big events), `own` the heads of the
 * events the integrating transaction logs itself (after every pending one). The latest seq of an item wins. A ledger
 * whose log predates the map gets it built from every item's logged head first.
 */
async function updateHeads(
  trx: Trx, logSize: number, mapEmpty: boolean, heads: readonly HeadInBatch[], storedIds: readonly string[], own: readonly HeadInBatch[],
): Promise<{ root: Uint8Array; moved: number; nodes: number; stored: number }> {
  const store = sqlHeadMapStore(trx);
  const initial = logSize > 0 && mapEmpty ? (await allLoggedHeads(trx)).map(mapEntry) : [];
  const batch: SeqEntry[] = heads.map((h) => ({ ...headInBatchEntry(h, nativeSha256), seq: h.seq }));
  const stored = storedIds.length > 0 ? await pendingHeads(trx, storedIds) : new Map<string, SeqEntry[]>();
  for (const entries of stored.values()) for (const e of entries) batch.push(e);
  // Later entries of a key win (updateHeadMap): the pending heads in seq order (a stable sort), then the own ones,
  // which follow every pending event of their items.
  if (stored.size > 0) batch.sort((a, b) => a.seq - b.seq);
  for (const h of own) batch.push({ ...headInBatchEntry(h, nativeSha256), seq: h.seq });
  const { root, writes } = await updateHeadMap(store, initial.length > 0 ? [...initial, ...batch] : batch, nativeSha256);
  return { root, moved: batch.length, nodes: writes.length, stored: stored.size };
}

/**
 * The log's frontier (its right-edge subtrees) as the last round of this process left it, by handle: a round that
 * finds the log at that size and root (no other process appended since) extends it without reading it back.
 */
const frontiers = new WeakMap<Db, { size: number; root: Uint8Array; nodes: Map<string, Uint8Array> }>();

/** What one integration did inside its transaction; hand it to {@link afterIntegration} once committed. */
export interface IntegrationRound {
  integrated: number;
  treeSize: number;
  /** Leaf index of every event integrated (pending and own), by id. */
  leaves: Map<string, number>;
  moved: number;
  nodes: number;
  /** Pending events whose stored head-map entries were read (their rows go with them). */
  stored: number;
  next: (LogHead & { frontier: Map<string, Uint8Array> }) | null;
}

/**
 * Integrates inside the caller's transaction `trx` on `db`: takes the log lock, then logs every pending event (up to
 * `limit`, in sequence order) followed by `own` (events the same transaction is writing, never stored as pending:
 * their chain links and head moves must already be written by `trx`), moves the head map, and signs ONE checkpoint.
 * Pending events go first because they were committed earlier: a later write to the same item follows them in its
 * chain, so it must follow them in the log. Call {@link afterIntegration} after the commit.
 */
export async function integrateIn(
  db: Db, trx: Trx, signer: LogSigner,
  own: { events: readonly NewPendingEvent[]; heads: readonly HeadInBatch[] } = { events: [], heads: [] },
  limit = MAX_INTEGRATION_BATCH,
): Promise<IntegrationRound> {
  const head = await lockLog(trx);
  const { pending: batch, heads: batchHeads, storedHeads, headMapEmpty } = await pendingBatchWithHeads(trx, limit);
  if (batch.length === 0 && own.events.length === 0) return { integrated: 0, treeSize: head.size, leaves: new Map(), moved: 0, nodes: 0, stored: 0, next: null };
  // Later entries of a key win: own heads follow the pending ones (a pending event on the same item is earlier).
  const heads = await updateHeads(trx, head.size, headMapEmpty, batchHeads, storedHeads, own.heads);
  const known = frontiers.get(db);
  const next = await appendToLog(trx, head, [...batch.map((p) => p.content_hash), ...own.events.map((e) => e.content_hash)], signer, [headsExtension(heads.root)], {
    ...(known && known.size === head.size && bytesEqual(known.root, head.rootHash) ? { frontier: known.nodes } : {}),
    movePending: batch.map((p) => p.id),
    insertEvents: own.events,
  });
  const leaves = new Map<string, number>();
  batch.forEach((p, i) => leaves.set(p.id, head.size + i));
  own.events.forEach((e, i) => leaves.set(e.id, head.size + batch.length + i));
  return { integrated: batch.length + own.events.length, treeSize: next.size, leaves, moved: heads.moved, nodes: heads.nodes, stored: heads.stored, next };
}

/** What a committed integration leaves for the next one: the frontier to extend, the dead rows to maintain. */
export function afterIntegration(db: Db, round: IntegrationRound, pendingMoved = round.integrated): void {
  if (round.next) frontiers.set(db, { size: round.next.size, root: round.next.rootHash, nodes: round.next.frontier });
  // Dead row versions this batch leaves (embedded PGlite's maintenance VACUUMs by them): the pending rows moved, one
  // item version per head moved (its writer updated the item), the head-map nodes rewritten, the stored heads read,
  // the log state row.
  if (round.integrated > 0) noteChurn(db, { pending_events: pendingMoved, items: round.moved, head_map_nodes: round.nodes, pending_heads: round.stored, log_state: 1 });
}

/** One integration round: every pending event (up to `limit`), in sequence order, into the log under one checkpoint. */
export async function integratePending(db: Db, signer: LogSigner, limit = MAX_INTEGRATION_BATCH): Promise<IntegrationResult & { leaves: Map<string, number> }> {
  const round = await db.transaction().execute((trx) => integrateIn(db, trx, signer, undefined, limit));
  afterIntegration(db, round);
  return { integrated: round.integrated, treeSize: round.treeSize, leaves: round.leaves };
}

/**
 * The integrator of one database handle in this process. Writers hand it their committed events and wait; it runs
 * rounds back to back while events are pending, so every writer that commits during a round is integrated by the
 * next one (group commit: one checkpoint and one commit for the whole batch). Only one round runs at a time in a
 * process; rounds of other processes on the same PostgreSQL wait for the log lock, so exactly one integrates at a time.
 */
class Integrator {
  private waiters = new Map<string, Array<{ resolve: (leaf: number) => void; reject: (e: unknown) => void }>>();
  private running: Promise<void> | null = null;

  constructor(private db: Db, private signer: LogSigner) {}

  /** Resolves with each event's leaf index once all are integrated (by this process or another). */
  waitFor(eventIds: readonly string[]): Promise<Map<string, number>> {
    const promises = eventIds.map(
      (id) =>
        new Promise<[string, number]>((resolve, reject) => {
          const list = this.waiters.get(id) ?? [];
          list.push({ resolve: (leaf) => resolve([id, leaf]), reject });
          this.waiters.set(id, list);
        }),
    );
    this.kick();
    return Promise.all(promises).then((pairs) => new Map(pairs));
  }

  private kick(): void {
    this.running ??= this.loop().finally(() => {
      this.running = null;
      // Writers that registered after the last round looked (or whose events another process holds) need a new one.
      if (this.waiters.size > 0) this.kick();
    });
  }

  private settle(leaves: Map<string, number>): void {
    for (const [id, leaf] of leaves) {
      const list = this.waiters.get(id);
      if (!list) continue;
      this.waiters.delete(id);
      for (const w of list) w.resolve(leaf);
    }
  }

  private async loop(): Promise<void> {
    try {
      for (;;) {
        const round = await integratePending(this.db, this.signer);
        this.settle(round.leaves);
        if (this.waiters.size === 0) return;
        if (round.integrated === 0) {
          // Nothing pending after holding the lock: every waiter's event was logged by another process's round.
          this.settle(await leafIndexesOf(this.db, [...this.waiters.keys()]));
          if (this.waiters.size > 0) await new Promise((r) => setTimeout(r, 5));
        }
      }
    } catch (e) {
      const list = [...this.waiters.values()].flat();
      this.waiters.clear();
      for (const w of list) w.reject(e);
    }
  }
}

const integrators = new WeakMap<Db, Integrator>();

/**
 * Returns once every event of `eventIds` (committed by the caller) is in the log, with each id's leaf index. The
 * events are integrated by this process's integrator for `db`, in a batch with whatever else is pending.
 */
export function integrateEvents(db: Db, signer: LogSigner, eventIds: readonly string[]): Promise<Map<string, number>> {
  let integrator = integrators.get(db);
  if (!integrator) integrators.set(db, (integrator = new Integrator(db, signer)));
  return integrator.waitFor(eventIds);
}
/** Integrates everything pending (start-up, sweeps, tests). Returns how many events it integrated. */
export async function integrateAll(db: Db, signer: LogSigner): Promise<number> {
  let total = 0;
  while (await hasPending(db)) total += (await integratePending(db, signer)).integrated;
  return total;
}

/**
 * A server's sweeper: integrates orphaned pending events every `intervalMs` (the timer does not hold the process
 * open). `stop()` waits for a sweep in progress.
 */
export function startSweeper(db: Db, signer: LogSigner, onError: (e: unknown) => void, intervalMs = 1_000): { stop(): Promise<void> } {
  return runPeriodically(() => integrateAll(db, signer), intervalMs, onError);
}
