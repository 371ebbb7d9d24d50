import { hash, randomUUID } from 'node:crypto';
import { fromHex } from '../core/bytes.ts';
import type { JsonValue } from '../core/chain.ts';
import type { LedgerKind } from '../core/lifecycle.ts';
import { formatInstant } from '../core/time.ts';
import { bodyV2Error } from '../core/v2/event-v2.ts';
import { fieldValuesOf } from '../core/v2/event-fields.ts';
import type { Sha256 } from '../core/v2/hash.ts';
import { type PreparedEvent, type RandomBytes, prepareEventV2 } from '../core/v2/prepare.ts';
import { TREE_TOP_LEVEL, TREE_TOP_MIN_ITEMS, encodeTreeTop } from '../core/v2/stored-chain.ts';
import type { Stage } from '../core/lifecycle.ts';
import { headKey, headValue } from '../core/v2/head-map.ts';
import type { Trx } from '../db/connection.ts';
import { PENDING_HEAD_BYTES, insertPendingHeads } from '../db/head-map.ts';
import { insertCommissionedItems, insertCustodyStarts, insertEventLinks, insertLinks, type ItemAdvance, moveItemHeads, type NewLink } from '../db/ledger.ts';
import { insertPendingEvent, insertPendingEvents, type NewPendingEvent, writePendingBatch, writtenEventRow } from '../db/pending.ts';
import { insertIdempotencyKeys, type NewIdempotencyKey } from '../db/idempotency.ts';
import type { EventRow } from '../db/types.ts';
import { HeadMovedError, writeAttemptOf } from './transaction.ts';

const PIPELINE_CHUNK = 10_000;

export interface EventDraft {
  /** ERASE events (erasure of a field) cover no items. */
  kind: LedgerKind | 'ERASE';
  actorId: string;
  occurredAt: Date;
  offset: string;
  recordedAt: Date;
  location: string | null;
  counterpartyId: string | null;
  data: { [key: string]: JsonValue };
  /** Hex Ed25519 public key of the actor that will sign the content hash (two-phase signed submit); absent otherwise. */
  signer?: string;
}

export interface ItemStep {
  id: string;
  sgtin: string;
  /** The item's head before this event; null for COMMISSION (the item row is inserted by the caller). */
  head: { seq: number; hash: Uint8Array } | null;
  next: Omit<ItemAdvance, 'id' | 'expectedSeq' | 'headHash'>;
  /** The event hands the item to another custodian (recorded as a custody start for visibility windows). */
  custodyChanged?: boolean;
}

/**
 * Node's native SHA-256 (same bytes as core's default, several times faster on 100,000-item events). crypto.hash is
 * one call with no Hash object: sealing a 100,000-item event hashes ≈ 400,000 times, and a Hash object per call is a
 * native handle for the collector to finalise. The result is a view of the digest (a 32-byte Uint8Array), not a copy.
 */
export const nativeSha256: Sha256 = (b) => {
  const d = hash('sha256', b, 'buffer') as unknown as Uint8Array;
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
};

/**
 * Cryptographically secure random bytes (crypto.getRandomValues), drawn from a pool refilled 64 KiB at a time: a
 * 100,000-item event needs 1.6 MB of salts, and one call per salt would dominate its preparation.
 */
export const secureRandom: RandomBytes = (() => {
  const POOL = 65_536;
  let pool = new Uint8Array(0);
  let at = 0;
  return (n: number): Uint8Array => {
    if (n > POOL) return crypto.getRandomValues(new Uint8Array(n));
    if (at + n > pool.length) {
      pool = crypto.getRandomValues(new Uint8Array(POOL));
      at = 0;
    }
    const out = pool.slice(at, at + n);
    // Wipe what was handed out, so a later reader of the pool never sees a salt or pad key.
    pool.fill(0, at, at + n);
    at += n;
    return out;
  };
})();

/** The rows one event writes: its pending event row and one chain link per item, plus the prepared v2 event. */
export interface SealedEvent {
  row: NewPendingEvent;
  links: NewLink[];
  /** Each item's new link hash, by item id. */
  linkHashes: Map<string, Uint8Array>;
  prepared: PreparedEvent;
}

/**
 * Seals one event in ledger format v2 (docs/ledger-format.md): maps the draft's readable content to field values
 * (core `fieldValuesOf`), draws fresh salts and pad key, builds the items entries (each item's `prev` is its current
 * head link, v1 or v2, or null at COMMISSION) and items tree once, and returns the rows to insert. No I/O. Throws
 * RangeError on more than 2^17 items or a body the v2 verifier would refuse (a SHIP/RETURN without counterparty).
 */
export function sealEvent(draft: EventDraft, steps: readonly ItemStep[], random: RandomBytes = secureRandom, sha256: Sha256 = nativeSha256): SealedEvent {
  const prepared = prepareEventV2(
    {
      kind: draft.kind,
      occurredAt: formatInstant(draft.occurredAt),
      timezoneOffset: draft.offset,
      recordedAt: formatInstant(draft.recordedAt),
      values: fieldValuesOf(draft.kind, { actorId: draft.actorId, location: draft.location, counterpartyId: draft.counterpartyId, data: draft.data }),
      items: steps.map((s) => ({ sgtin: s.sgtin, seq: s.head ? s.head.seq + 1 : 0, prev: s.head ? toHexFast(s.head.hash) : null })),
      ...(draft.signer !== undefined ? { signer: draft.signer } : {}),
    },
    random,
    sha256,
  );
  const problem = bodyV2Error(prepared.body);
  if (problem) throw new RangeError(`cannot seal ${draft.kind} event: ${problem}`);
  const fieldSalts: Record<string, string> = {};
  for (const [name, f] of Object.entries(prepared.event.fields)) if ('salt' in f) fieldSalts[name] = f.salt;
  const tree = prepared.tree;
  const row: NewPendingEvent = {
    id: randomUUID(),
    kind: draft.kind,
    actor_id: draft.actorId,
    occurred_at: draft.occurredAt,
    tz_offset: draft.offset,
    recorded_at: draft.recordedAt,
    location: draft.location,
    counterparty_id: draft.counterpartyId,
    data: draft.data,
    body: prepared.canonical,
    content_hash: fromHex(prepared.contentHash)!,
    signature: null,
    item_count: steps.length,
    format: 2,
    field_salts: fieldSalts,
    erased: {},
    pad_key: fromHex(prepared.padKey)!,
    // The tree's top levels, so one item's proof needs only its subtree's entries (core stored-chain.ts).
    item_tree_top: tree && steps.length >= TREE_TOP_MIN_ITEMS ? encodeTreeTop(tree.nodes(TREE_TOP_LEVEL)) : null,
  };
  // The per-item link objects and the map are built on first read: a COMMISSION writes from `prepared`'s arrays.
  let links: NewLink[] | undefined;
  let linkHashes: Map<string, Uint8Array> | undefined;
  return {
    row,
    prepared,
    get links() {
      links ??= steps.map((s, i) => ({
        itemId: s.id, seq: s.head ? s.head.seq + 1 : 0, prevHash: s.head ? s.head.hash : ZERO, hash: prepared.linkHashes[i]!, stage: s.next.stage,
        recalled: s.next.recalled, entrySalt: prepared.salts[i]!, entryPosition: tree!.position(i),
      }));
      return links;
    },
    get linkHashes() {
      linkHashes ??= new Map(steps.map((s, i) => [s.id, prepared.linkHashes[i]!]));
      return linkHashes;
    },
  };
}

const ZERO = new Uint8Array(32);
const toHexFast = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

/** The new items a COMMISSION creates (`appendEvent`): the i-th serial is the item of the i-th step. */
export interface NewItems {
  batchId: string;
  gtin: string;
  serials: readonly string[];
}

/**
 * Records one event over many items inside the caller's transaction (a `inLedgerTransaction`): seals it in format v2
 * (`sealEvent`), writes the event as pending (the integrator gives it its leaf index after the commit), appends one chain link
 * per item and moves each item head with an expected-seq check (a concurrent writer that moved a head first makes this
 * attempt fail with `HeadMovedError`; the retry then holds those items' row locks from its start). With `newItems` (a
 * COMMISSION: every step's head is null) it inserts the item rows instead, each with its first link, in one statement
 * per chunk. Returns the event (leaf_index -1 until integrated; `inLedgerTransaction` fills it in) and each item's new
 * link hash (by item id). Throws RangeError when `newItems` does not match the steps.
 */
export async function appendEvent(
  trx: Trx,
  draft: EventDraft,
  steps: readonly ItemStep[],
  newItems?: NewItems,
): Promise<{ event: EventRow; linkHashes: Map<string, Uint8Array> }> {
  const first = steps[0]?.next;
  if (newItems && (newItems.serials.length !== steps.length || steps.some((s) => s.head || s.next.recalled || s.next.stage !== first!.stage || s.next.custodianId !== first!.custodianId))) {
    throw new RangeError('new items are the steps of a COMMISSION (no head, one stage and custodian), one serial each');
  }
  const attempt = writeAttemptOf(trx);
  for (const s of steps) if (s.head) attempt.touched.add(s.id);
  // The items tree commits to every entry at once, so the whole event is sealed before anything is written.
  const sealed = sealEvent(draft, steps);
  const event = await insertPendingEvent(trx, sealed.row);
  attempt.pending.push(event);
  if (newItems) {
    const { prepared } = sealed;
    const heads = steps.length >= STORED_HEADS_MIN_ITEMS ? new Uint8Array(steps.length * PENDING_HEAD_BYTES) : undefined;
    for (let i = 0; i < steps.length; i += PIPELINE_CHUNK) {
      const to = Math.min(steps.length, i + PIPELINE_CHUNK);
      const positions: number[] = [];
      for (let k = i; k < to; k++) positions.push(prepared.tree!.position(k));
      const chunk = steps.slice(i, to);
      const inserted = insertCommissionedItems(trx, {
        eventId: event.id, batchId: newItems.batchId, gtin: newItems.gtin, stage: first!.stage, custodianId: first!.custodianId,
        ids: chunk.map((s) => s.id), serials: newItems.serials.slice(i, to), sgtins: chunk.map((s) => s.sgtin),
        links: prepared.linkHashes.slice(i, to), salts: prepared.salts.slice(i, to), positions,
      });
      // While a database server inserts the chunk, this process hashes its head-map entries (nothing else waits on it).
      // Should the hashing throw, the insert's own failure must not surface later as an unhandled rejection.
      inserted.catch(() => undefined);
      if (heads) writeHeadEntries(heads, steps, prepared.linkHashes, i, to);
      await inserted;
    }
    if (heads) await insertPendingHeads(trx, event.id, heads);
    return { event, get linkHashes() { return sealed.linkHashes; } };
  }
  const { links, linkHashes } = sealed;
  for (let i = 0; i < steps.length; i += PIPELINE_CHUNK) await insertLinks(trx, event.id, links.slice(i, i + PIPELINE_CHUNK));
  if (steps.length >= STORED_HEADS_MIN_ITEMS) {
    const heads = new Uint8Array(steps.length * PENDING_HEAD_BYTES);
    writeHeadEntries(heads, steps, sealed.prepared.linkHashes, 0, steps.length);
    await insertPendingHeads(trx, event.id, heads);
  }
  const starts = steps.filter((s) => s.custodyChanged && s.head).map((s) => ({ itemId: s.id, seq: s.head!.seq + 1, actorId: s.next.custodianId }));
  await insertCustodyStarts(trx, starts);
  const advances = steps.filter((s) => s.head).map((s) => ({ ...s.next, id: s.id, expectedSeq: s.head!.seq, headSeq: s.head!.seq + 1, headHash: linkHashes.get(s.id)! }));
  if (advances.length > 0) {
    const moved = await moveItemHeads(trx, advances);
    if (moved !== advances.length) throw new HeadMovedError(`expected to advance ${advances.length} item heads, advanced ${moved}`);
  }
  return { event, linkHashes };
}

/**
 * Events of at least this many items store their head-map entries for the integrator (db/head-map.ts
 * `insertPendingHeads`), which otherwise reads every link of the event with its item and hashes each head; for a small
 * event that one query per integration batch costs less than a statement per write.
 */
export const STORED_HEADS_MIN_ITEMS = 1_000;

/**
 * Writes the head-map entry of steps[from, to) after the event (key, value, seq: db/head-map.ts PENDING_HEAD_BYTES
 * each) into `out` at the step's index. `links[i]` is step i's new link hash.
 */
function writeHeadEntries(out: Uint8Array, steps: readonly ItemStep[], links: readonly Uint8Array[], from: number, to: number): void {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let i = from; i < to; i++) {
    const s = steps[i]!;
    const seq = s.head ? s.head.seq + 1 : 0;
    const at = i * PENDING_HEAD_BYTES;
    out.set(headKey(s.sgtin, nativeSha256), at);
    out.set(headValue({ seq, link: toHexFast(links[i]!), stage: s.next.stage as Stage, recalled: s.next.recalled }, nativeSha256), at + 32);
    view.setUint32(at + 64, seq, false);
  }
}

/** One event sealed for a batched write ({@link appendEvents}), with the steps it moves. */
export type PreparedWrite = SealedEvent & { steps: readonly ItemStep[] };

/** Seals one event of a batch ({@link sealEvent}); the batch's events are then written together by {@link appendEvents}. */
export const prepareEvent = (draft: EventDraft, steps: readonly ItemStep[]): PreparedWrite => ({ ...sealEvent(draft, steps), steps });

/**
 * Writes events prepared in order by {@link prepareEvent} inside the caller's transaction, in one statement (multi-row
 * inserts, several statements beyond 10,000 links): the
 * pending events (in that order: their leaves follow it), every chain link, the custody starts, and one head move per
 * item from its head before the first event to its head after the last (an expected-seq check, as `appendEvent`: a
 * concurrent writer makes the attempt fail with `HeadMovedError` and retry). Existing items only (no COMMISSION).
 * Precondition: each event's steps start from the head the previous event of the batch left (seq and prev chain).
 */
export async function appendEvents(
  trx: Trx,
  prepared: readonly Omit<PreparedWrite, 'prepared'>[],
  /** Idempotency rows to store with the events (a batch of writes: record-batch.ts), in the same statement. */
  idempotency: readonly NewIdempotencyKey[] = [],
  /** false: write links, head moves and idempotency rows only; the caller logs the events in the same transaction. */
  asPending = true,
): Promise<EventRow[]> {
  const attempt = writeAttemptOf(trx);
  const links: (NewLink & { eventId: string })[] = [];
  const starts: { itemId: string; seq: number; actorId: string }[] = [];
  const moves = new Map<string, ItemAdvance & { headSeq: number }>();
  for (const p of prepared) {
    for (const l of p.links) links.push({ ...l, eventId: p.row.id });
    for (const s of p.steps) {
      if (!s.head) throw new Error('appendEvents records events over existing items only');
      attempt.touched.add(s.id);
      if (s.custodyChanged) starts.push({ itemId: s.id, seq: s.head.seq + 1, actorId: s.next.custodianId });
      const first = moves.get(s.id);
      moves.set(s.id, { ...s.next, id: s.id, expectedSeq: first?.expectedSeq ?? s.head.seq, headSeq: s.head.seq + 1, headHash: p.linkHashes.get(s.id)! });
    }
  }
  let moved: number;
  let events: EventRow[];
  if (links.length <= PIPELINE_CHUNK && prepared.length <= PIPELINE_CHUNK) {
    // The common case (a batch of single-item writes): one statement writes everything.
    moved = await writePendingBatch(trx, { events: asPending ? prepared.map((p) => p.row) : [], links, starts, moves: [...moves.values()], idempotency });
    events = prepared.map((p) => writtenEventRow(p.row));
  } else {
    events = asPending ? await insertPendingEvents(trx, prepared.map((p) => p.row)) : prepared.map((p) => writtenEventRow(p.row));
    await insertEventLinks(trx, links);
    await insertCustodyStarts(trx, starts);
    if (idempotency.length > 0) await insertIdempotencyKeys(trx, idempotency);
    moved = await moveItemHeads(trx, [...moves.values()]);
  }
  // A pending event of many items leaves its head-map entries for the integrator (events logged by their own
  // transaction hand their heads over directly).
  if (asPending) {
    for (const p of prepared) {
      if (p.steps.length < STORED_HEADS_MIN_ITEMS) continue;
      const heads = new Uint8Array(p.steps.length * PENDING_HEAD_BYTES);
      writeHeadEntries(heads, p.steps, p.steps.map((s) => p.linkHashes.get(s.id)!), 0, p.steps.length);
      await insertPendingHeads(trx, p.row.id, heads);
    }
    attempt.pending.push(...events);
  }
  if (moved !== moves.size) throw new HeadMovedError(`expected to advance ${moves.size} item heads, advanced ${moved}`);
  return events;
}
