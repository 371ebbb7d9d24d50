/**
 * Group commit of lifecycle writes (DESIGN.md "Write pipeline"): concurrent `recordEvent` calls of one process are
 * decided and written together in ONE transaction (one facts statement for all of them, one statement writing their
 * links, head moves and keys), which then logs their events after whatever is pending, under one checkpoint
 * (integrate.ts `integrateIn`), before it commits. A single write that arrives while nothing is in flight runs at
 * once as a batch of one; writes arriving meanwhile wait for the batch in flight and form the next one, so the batch
 * size follows the load and latency stays one or two batches.
 *
 * Each write is decided exactly as alone (`decideRecordEvent`, the same core decisions and failures): a write that
 * fails its checks gets its failure and writes nothing while the others of its batch proceed. Writes of one batch touch
 * disjoint items and distinct idempotency keys; a write that would touch an item (or reuse a key) already claimed by
 * an earlier write of the batch waits for the next batch, so it sees the earlier write's result exactly as if the two
 * had run one after the other. A batch whose transaction fails for another reason than a lost race (retried whole)
 * is re-run write by write, so an error reaches only the write that caused it.
 *
 * Only writes naming their items by reference (ids, SGTINs, Digital Links; up to {@link MAX_BATCHED_REFS}) are
 * batched; a whole batch or container selection runs alone in its own transaction.
 */
import type { Db, Trx } from '../db/connection.ts';
import { hex } from '../db/ledger.ts';
import type { LogSigner } from '../db/log.ts';
import type { ActorRow, EventRow } from '../db/types.ts';
import { factsOfWriter, loadBatchWriteFacts } from '../db/write-facts.ts';
import { isUuid } from '../db/ids.ts';
import { appendEvents, prepareEvent, type PreparedWrite } from './append-event.ts';
import type { LedgerDeps } from './deps.ts';
import { type CheckedInput, decideRecordEvent, parseRefs, type RecordEventInput, type RecordEventResult, recordEventAlone } from './record-event.ts';
import { afterIntegration, integrateIn, type IntegrationRound } from './integrate.ts';
import { awaitIntegration, withRetries } from './transaction.ts';

/** A write with more references than this runs alone (its facts and inserts are a batch by themselves). */
export const MAX_BATCHED_REFS = 1_000;
/** Most writes, and most references over all of them, one batch takes. */
const MAX_BATCH_WRITES = 512;
const MAX_BATCH_REFS = 10_000;

/** Whether `input` may join a batch: items named by reference only, not too many of them. */
export const isBatchable = (input: RecordEventInput): boolean =>
  !input.items.batch && !input.items.containers?.length && (input.items.refs?.length ?? 0) > 0 && input.items.refs!.length <= MAX_BATCHED_REFS;

interface Job {
  deps: LedgerDeps;
  caller: ActorRow;
  input: RecordEventInput;
  checked: CheckedInput;
  resolve: (r: RecordEventResult) => void;
  reject: (e: unknown) => void;
}

type Outcome = { kind: 'deferred' } | { kind: 'done'; result: RecordEventResult };

/**
 * Decides every write of `jobs` on facts read once, writes the accepted ones with multi-row inserts and logs them
 * (integrateIn: after whatever is pending, under one checkpoint), all inside the caller's transaction. Writes touching
 * an item claimed by an earlier write of the batch are deferred to the next batch.
 */
async function decideAndWrite(
  db: Db, trx: Trx, signer: LogSigner, jobs: readonly Job[],
): Promise<{ outcomes: Outcome[]; round: IntegrationRound | null; own: number }> {
  const mine = new Set<string>();
  const ids: { actorId: string; id: string }[] = [];
  const keys: { actorId: string; gtin: string; serial: string }[] = [];
  for (const job of jobs) {
    const parsed = parseRefs(job.input.items);
    if ('kind' in parsed) continue;
    for (const id of parsed.ids) ids.push({ actorId: job.caller.id, id });
    for (const k of parsed.keys) keys.push({ actorId: job.caller.id, gtin: k.gtin, serial: k.serial });
  }
  const facts = await loadBatchWriteFacts(trx, {
    actorIds: jobs.map((j) => j.caller.id),
    counterpartyIds: jobs.map((j) => j.input.counterpartyId).filter((c): c is string => !!c && isUuid(c)),
    idempotency: jobs.filter((j) => j.input.idempotencyKey).map((j) => ({ actorId: j.caller.id, key: j.input.idempotencyKey! })),
    ids,
    keys,
  });
  const outcomes: Outcome[] = [];
  const writes: { at: number; prepared: PreparedWrite; job: Job; idempotency: { key: string; requestHash: Uint8Array } | null }[] = [];
  const claimedKeys = new Set<string>();
  for (const job of jobs) {
    const key = job.input.idempotencyKey;
    if (key) {
      const k = `${job.caller.id} ${key}`;
      // A second use of a key within the batch must see the first one's stored result: next batch.
      if (claimedKeys.has(k)) {
        outcomes.push({ kind: 'deferred' });
        continue;
      }
      claimedKeys.add(k);
    }
    const decided = await decideRecordEvent(trx, job.deps, job.caller, job.input, job.checked, factsOfWriter(facts, job.caller.id, job.input.counterpartyId ?? null, job.input.idempotencyKey ?? null));
    if (decided.kind !== 'decided') {
      outcomes.push({ kind: 'done', result: decided });
      continue;
    }
    // Decided on the state before this batch: valid only if no earlier write of the batch moves one of its items.
    if (decided.steps.some((s) => mine.has(s.id))) {
      outcomes.push({ kind: 'deferred' });
      continue;
    }
    for (const s of decided.steps) mine.add(s.id);
    writes.push({ at: outcomes.length, job, prepared: prepareEvent(decided.draft, decided.steps), idempotency: decided.idempotency });
    outcomes.push({ kind: 'deferred' }); // replaced below once written
  }
  let round: IntegrationRound | null = null;
  if (writes.length > 0) {
    // Event ids are drawn when sealing, so the idempotency rows are written in the same statement as the links.
    const stored = writes.flatMap((w) => (w.idempotency
      ? [{ actorId: w.job.caller.id, key: w.idempotency.key, operation: w.job.input.kind, requestHash: w.idempotency.requestHash, response: { eventId: w.prepared.row.id } }]
      : []));
    const events = await appendEvents(trx, writes.map((w) => w.prepared), stored, false);
    // The batch logs its own events before it commits (one transaction, one commit): they are never pending.
    const heads = writes.flatMap((w) => w.prepared.links.map((l, i) => ({ sgtin: w.prepared.steps[i]!.sgtin, seq: l.seq, link: hex(l.hash), stage: l.stage, recalled: l.recalled })));
    round = await integrateIn(db, trx, signer, { events: writes.map((w) => w.prepared.row), heads });
    for (const e of events) e.leaf_index = round.leaves.get(e.id)!;
    writes.forEach((w, i) => (outcomes[w.at] = { kind: 'done', result: { kind: 'ok', event: events[i]! } }));
  }
  return { outcomes, round, own: writes.length };
}

/**
 * The batcher of one database handle in this process: one batch in flight, the next one gathering meanwhile. (Two in
 * flight on PostgreSQL, one deciding and writing while the other held the log lock, measured slower: 240–263 against
 * 287–355 events/s at 8 writers, 417–479 against 523–535 at 32, since the second batch mostly waited for the lock.)
 */
class RecordBatcher {
  private queue: Job[] = [];
  private running = false;
  /** A batch just ended and the next one starts after the writers it answered had their turn. */
  private gathering = false;

  constructor(private db: Db) {}

  submit(job: Omit<Job, 'resolve' | 'reject'>): Promise<RecordEventResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ ...job, resolve, reject });
      if (!this.gathering) this.kick();
    });
  }

  private kick(): void {
    if (this.running || this.queue.length === 0) return;
    this.running = true;
    void this.run(this.take()).finally(() => {
      this.running = false;
      // After the writers just answered had a turn: callers that write again right away (a device reporting, a
      // client looping) join this next batch instead of forming a cohort of their own that alternates with it.
      this.gathering = true;
      setImmediate(() => {
        this.gathering = false;
        this.kick();
      });
    });
  }

  private take(): Job[] {
    let refs = 0;
    let n = 0;
    while (n < this.queue.length && n < MAX_BATCH_WRITES) {
      refs += this.queue[n]!.input.items.refs?.length ?? 0;
      if (n > 0 && refs > MAX_BATCH_REFS) break;
      n++;
    }
    return this.queue.splice(0, n);
  }

  private async run(jobs: Job[]): Promise<void> {
    const { signer } = jobs[0]!.deps;
    let outcome: { result: { outcomes: Outcome[]; round: IntegrationRound | null; own: number }; pending: EventRow[] };
    try {
      outcome = await withRetries(this.db, (trx) => decideAndWrite(this.db, trx, signer, jobs));
    } catch (e) {
      if (jobs.length === 1) return jobs[0]!.reject(e);
      // Not a lost race (those are retried whole): find the write that causes it by running each alone.
      await Promise.all(jobs.map((job) => recordEventAlone(job.deps, job.caller, job.input, job.checked).then(job.resolve, job.reject)));
      return;
    }
    const { outcomes, round, own } = outcome.result;
    // Only the pending events it moved leave dead rows in pending_events.
    if (round) afterIntegration(this.db, round, round.integrated - own);
    this.queue.unshift(...jobs.filter((_, i) => outcomes[i]!.kind === 'deferred'));
    // A replay of an event still pending (written alone, not yet integrated) answers once that event is logged; if
    // that integration fails, those replays fail with it (the event stays pending for the sweeper).
    let integrationError: { error: unknown } | null = null;
    if (outcome.pending.length > 0) await awaitIntegration(jobs[0]!.deps, outcome.pending).catch((error) => (integrationError = { error }));
    jobs.forEach((job, i) => {
      const o = outcomes[i]!;
      if (o.kind !== 'done') return;
      if (integrationError && o.result.kind === 'ok' && o.result.event.leaf_index < 0) job.reject(integrationError.error);
      else job.resolve(o.result);
    });
  }
}

const batchers = new WeakMap<Db, RecordBatcher>();

/** Records `input` (checked, batchable) in the next batch of writes to `deps.db`; resolves once integrated. */
export function recordInBatch(deps: LedgerDeps, caller: ActorRow, input: RecordEventInput, checked: CheckedInput): Promise<RecordEventResult> {
  let b = batchers.get(deps.db);
  if (!b) batchers.set(deps.db, (b = new RecordBatcher(deps.db)));
  return b.submit({ deps, caller, input, checked });
}
