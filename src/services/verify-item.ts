import type { EventBody } from '../core/chain.ts';
import { type ChainVerification, verifyItemChain } from '../core/chain.ts';
import type { EventKind } from '../core/lifecycle.ts';
import { formatInstant } from '../core/time.ts';
import type { DbOrTrx } from '../db/connection.ts';
import { findChainWithEvents } from '../db/ledger.ts';
import { pendingLinkSeqs } from '../db/pending.ts';
import type { ItemRow } from '../db/types.ts';

/**
 * Recomputes an item's chain from what is stored: each event's queryable columns must reproduce its hashed
 * body, the body its content hash, and each link its hash; also the item's head must equal the last link. Links of
 * events still pending integration (a write of the last milliseconds) are not part of the checked chain yet.
 */
export async function verifyItem(db: DbOrTrx, item: ItemRow): Promise<ChainVerification> {
  const rows = await findChainWithEvents(db, item.id);
  const links = rows.map((r) => {
    const stored = JSON.parse(r.body) as EventBody;
    const fields: EventBody = {
      kind: r.kind as EventKind,
      actor: r.actor_id,
      occurredAt: formatInstant(r.occurred_at),
      timezoneOffset: r.tz_offset,
      recordedAt: formatInstant(r.recorded_at),
      location: r.location,
      counterparty: r.counterparty_id,
      data: r.data as EventBody['data'],
      // Membership of the item list is checked against links by the full audit; here the body's list stands.
      items: Array.isArray(stored.items) ? stored.items : [],
    };
    return { seq: r.seq, prevHash: r.prev_hash, hash: r.hash, body: r.body, contentHash: r.content_hash, fields };
  });
  const result = verifyItemChain(item.sgtin, links);
  if (!result.valid) return result;
  const pending = await pendingLinkSeqs(db, item.id);
  if (pending.length > 0 && pending[0] === result.length && result.length + pending.length === item.head_seq + 1) return result;
  if (result.length !== item.head_seq + 1) {
    return { ...result, valid: false, headHash: null, firstInvalidSeq: Math.min(result.length, item.head_seq + 1), reason: `item head is at seq ${item.head_seq} but ${result.length} links are stored` };
  }
  const last = links[links.length - 1]!;
  if (Buffer.compare(Buffer.from(last.hash), Buffer.from(item.head_hash)) !== 0) {
    return { ...result, valid: false, headHash: null, firstInvalidSeq: last.seq, reason: 'item head hash differs from its last link' };
  }
  return result;
}
