import { type EventBody, type JsonValue, ZERO_HASH, canonicalEventBody, contentHashOf, linkHash } from '../core/chain.ts';
import type { LedgerKind } from '../core/lifecycle.ts';
import { formatInstant } from '../core/time.ts';
import { randomUUID } from 'node:crypto';
import type { Trx } from '../db/connection.ts';
import { advanceItems, insertCustodyStarts, insertLinks, type ItemAdvance } from '../db/ledger.ts';
import { insertPendingEvent } from '../db/pending.ts';
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
