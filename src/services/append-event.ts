import { type EventBody, type JsonValue, ZERO_HASH, canonicalEventBody, contentHashOf, linkHash } from '../core/chain.ts';
import type { LedgerKind } from '../core/lifecycle.ts';
import { formatInstant } from '../core/time.ts';
import { randomUUID } from 'node:crypto';
import type { Trx } from '../db/connection.ts';
import { advanceItems, insertCustodyStarts, insertEventLinks, insertLinks, type ItemAdvance, moveItemHeads, type NewLink } from '../db/ledger.ts';
import { insertPendingEvent, insertPendingEvents, type PendingEventInsert } from '../db/pending.ts';
import type { EventRow } from '../db/types.ts';
import { HeadMovedError, writeAttemptOf } from './transaction.ts';

const PIPELINE_CHUNK = 10_000;

export interface EventDraft {
  kind: LedgerKind;
  actorId: string;
  occurredAt: Date;
  offset: string;
  recordedAt: Date;
  location: string | null;
  counterpartyId: string | null;
  data: { [key: string]: JsonValue };
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
 * Records one event over many items inside the caller's transaction (a `inLedgerTransaction`): hashes the canonical
 * body, writes the event as pending (the integrator gives it its leaf index after the commit), appends one chain link
 * per item and moves each item head with an expected-seq check (a concurrent writer that moved a head first makes this
 * attempt fail with `HeadMovedError`; the retry then holds those items' row locks from its start). Returns the event
 * (leaf_index -1 until integrated; `inLedgerTransaction` fills it in) and each item's new link hash (by item id).
 */
export async function appendEvent(
  trx: Trx,
  draft: EventDraft,
  steps: readonly ItemStep[],
  /** COMMISSION only: inserts a chunk of new item rows, which need their first link hash as head. */
  insertNewItems?: (chunk: readonly ItemStep[], linkHashes: Map<string, Uint8Array>) => Promise<void>,
): Promise<{ event: EventRow; linkHashes: Map<string, Uint8Array> }> {
  const attempt = writeAttemptOf(trx);
  for (const s of steps) if (s.head) attempt.touched.add(s.id);
  const body: EventBody = {
    kind: draft.kind,
    actor: draft.actorId,
    occurredAt: formatInstant(draft.occurredAt),
    timezoneOffset: draft.offset,
    recordedAt: formatInstant(draft.recordedAt),
    location: draft.location,
    counterparty: draft.counterpartyId,
    data: draft.data,
    items: steps.map((s) => s.sgtin),
  };
  const canonical = canonicalEventBody(body);
  const contentHash = contentHashOf(canonical);
  const event = await insertPendingEvent(trx, {
    id: randomUUID(),
    kind: draft.kind,
    actor_id: draft.actorId,
    occurred_at: draft.occurredAt,
    tz_offset: draft.offset,
    recorded_at: draft.recordedAt,
    location: draft.location,
    counterparty_id: draft.counterpartyId,
    data: draft.data,
    body: canonical,
    content_hash: contentHash,
    signature: null,
    item_count: steps.length,
  });
  attempt.pending.push(event);
  const linkHashes = new Map<string, Uint8Array>();
  // Hash a chunk while the previous chunk's inserts run on the server: on PostgreSQL the two overlap.
  let inFlight: Promise<void> = Promise.resolve();
  for (let i = 0; i < steps.length; i += PIPELINE_CHUNK) {
    const chunk = steps.slice(i, i + PIPELINE_CHUNK);
    const links = chunk.map((s) => {
      const seq = s.head ? s.head.seq + 1 : 0;
      const prevHash = s.head ? s.head.hash : ZERO_HASH;
      const hash = linkHash(prevHash, contentHash, s.sgtin, seq);
      linkHashes.set(s.id, hash);
      return { itemId: s.id, seq, prevHash, hash, stage: s.next.stage, recalled: s.next.recalled };
    });
    await inFlight;
    inFlight = (async () => {
      if (insertNewItems) await insertNewItems(chunk, linkHashes);
      await insertLinks(trx, event.id, links);
    })();
    // Let the queries reach the socket before the next chunk's hashing occupies the thread.
    await new Promise((r) => setImmediate(r));
  }
  await inFlight;
  const starts = steps.filter((s) => s.custodyChanged && s.head).map((s) => ({ itemId: s.id, seq: s.head!.seq + 1, actorId: s.next.custodianId }));
  await insertCustodyStarts(trx, starts);
  const advances = steps.filter((s) => s.head).map((s) => ({ ...s.next, id: s.id, expectedSeq: s.head!.seq, headHash: linkHashes.get(s.id)! }));
  if (advances.length > 0) {
    const moved = await advanceItems(trx, advances);
    if (moved !== advances.length) throw new HeadMovedError(`expected to advance ${advances.length} item heads, advanced ${moved}`);
  }
  return { event, linkHashes };
}

// ---------------------------------------------------------------------------------------------------------------
// Many events at once (EPCIS bulk capture)

/** One event hashed and ready to insert: its row, its chain links, and each item's new link hash (by item id). */
export interface PreparedEvent {
  row: PendingEventInsert;
  links: NewLink[];
  linkHashes: Map<string, Uint8Array>;
  steps: readonly ItemStep[];
}

/**
 * The per-event preparation (pure CPU, no I/O): the canonical body, its content hash and one chain link per item from
 * the item's head in `steps`. `appendEvents` calls it for every event, in order, so a ledger format change plugs in
 * here once. Each step's `head` must be the item's head before THIS event (for an item several events of a batch touch,
 * the previous event's link: see {@link appendEvents}).
 */
export function prepareEvent(draft: EventDraft, steps: readonly ItemStep[]): PreparedEvent {
  const body: EventBody = {
    kind: draft.kind,
    actor: draft.actorId,
    occurredAt: formatInstant(draft.occurredAt),
    timezoneOffset: draft.offset,
    recordedAt: formatInstant(draft.recordedAt),
    location: draft.location,
    counterparty: draft.counterpartyId,
    data: draft.data,
    items: steps.map((s) => s.sgtin),
  };
  const canonical = canonicalEventBody(body);
  const contentHash = contentHashOf(canonical);
  const linkHashes = new Map<string, Uint8Array>();
  const links = steps.map((s) => {
    const seq = s.head ? s.head.seq + 1 : 0;
    const prevHash = s.head ? s.head.hash : ZERO_HASH;
    const hash = linkHash(prevHash, contentHash, s.sgtin, seq);
    linkHashes.set(s.id, hash);
    return { itemId: s.id, seq, prevHash, hash, stage: s.next.stage, recalled: s.next.recalled };
  });
  const row: PendingEventInsert = {
    id: randomUUID(), kind: draft.kind, actor_id: draft.actorId, occurred_at: draft.occurredAt, tz_offset: draft.offset,
    recorded_at: draft.recordedAt, location: draft.location, counterparty_id: draft.counterpartyId, data: draft.data,
    body: canonical, content_hash: contentHash, signature: null, item_count: steps.length,
  };
  return { row, links, linkHashes, steps };
}

/**
 * Writes events prepared in order by {@link prepareEvent} inside the caller's transaction, with multi-row inserts: the
 * pending events (in that order: their leaves follow it), every chain link, the custody starts, and one head move per
 * item from its head before the first event to its head after the last (an expected-seq check, as `appendEvent`: a
 * concurrent writer makes the attempt fail with `HeadMovedError` and retry). Existing items only (no COMMISSION).
 * Precondition: each event's steps start from the head the previous event of the batch left (seq and prev chain).
 */
export async function appendEvents(trx: Trx, prepared: readonly PreparedEvent[]): Promise<EventRow[]> {
  const attempt = writeAttemptOf(trx);
  const events = await insertPendingEvents(trx, prepared.map((p) => p.row));
  attempt.pending.push(...events);
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
  await insertEventLinks(trx, links);
  await insertCustodyStarts(trx, starts);
  const moved = await moveItemHeads(trx, [...moves.values()]);
  if (moved !== moves.size) throw new HeadMovedError(`expected to advance ${moves.size} item heads, advanced ${moved}`);
  return events;
}
