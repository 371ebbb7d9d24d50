import type { ChainVerification } from '../core/chain.ts';
import { foldItemProof, itemEntry } from '../core/v2/item-tree.ts';
import { entryPrev, verifyStoredChain } from '../core/v2/stored-chain.ts';
import { toHex } from '../core/bytes.ts';
import type { Stage } from '../core/lifecycle.ts';
import { HEADS_EXTENSION_PREFIX, headKey, headValue, proveHead } from '../core/v2/head-map.ts';
import type { Db, DbOrTrx } from '../db/connection.ts';
import { loggedHeadOf, sqlHeadMapStore } from '../db/head-map.ts';
import { findChainWithEvents } from '../db/ledger.ts';
import { pendingLinkSeqs } from '../db/pending.ts';
import { findCheckpointRow } from '../db/log.ts';
import type { ItemRow } from '../db/types.ts';
import { nativeSha256 } from './append-event.ts';
import { expectedBodyOf, formatOf, v1ItemsOf } from '../db/event-content.ts';
import { storedItemProof } from './log-proofs.ts';

/**
 * Recomputes an item's chain from what is stored, v1 and v2 links alike: each event's queryable columns (and, in
 * v2, its field salts) must reproduce its hashed body, the body its content hash, a v2 event's stored entries its
 * items root, and each link its hash; also the item's head must equal the last link. Links of events still pending
 * integration (a write of the last milliseconds) are not part of the checked chain yet. A v2 event's items root is checked
 * through the item's own proof from the stored tree (its subtree's entries and the stored top levels); the whole tree
 * is rebuilt by the audit.
 */
export async function verifyItem(db: DbOrTrx, item: ItemRow): Promise<ChainVerification> {
  // One snapshot: the chain, the latest checkpoint and the head map it binds must agree.
  if (db.isTransaction) return verifyIn(db, item);
  return (db as Db).transaction().setIsolationLevel('repeatable read').setAccessMode('read only').execute((trx) => verifyIn(trx, item));
}

async function verifyIn(db: DbOrTrx, item: ItemRow): Promise<ChainVerification> {
  const rows = await findChainWithEvents(db, item.id);
  const links = [];
  for (const r of rows) {
    const format = formatOf(r);
    let rebuiltItemsRoot: string | undefined;
    if (format === 2) {
      // The item's own entry, folded with its proof from the stored tree, must give the body's items root.
      try {
        if (!r.pad_key || !r.entry_salt) throw new Error('no pad key or entry salt stored');
        const proof = await storedItemProof(db, r.event_id, item.id, r.entry_position, r.item_tree_top, r.pad_key);
        const entry = itemEntry(item.sgtin, r.seq, { prev: entryPrev(r.seq, r.prev_hash), salt: toHex(r.entry_salt) }, nativeSha256);
        const root = foldItemProof(entry, proof, nativeSha256);
        rebuiltItemsRoot = root ? toHex(root) : '(malformed stored proof)';
      } catch (e) {
        rebuiltItemsRoot = `(stored entries do not form a tree: ${(e as Error).message})`;
      }
    }
    links.push({
      seq: r.seq, format, prevHash: r.prev_hash, hash: r.hash, body: r.body, contentHash: r.content_hash,
      // Membership of a v1 item list is checked against links by the full audit; here the body's list stands.
      expectedBody: expectedBodyOf(r, format === 1 ? v1ItemsOf(r.body) : []),
      entrySalt: r.entry_salt ? toHex(r.entry_salt) : null,
      ...(rebuiltItemsRoot !== undefined ? { rebuiltItemsRoot } : {}),
    });
  }
  const result = verifyStoredChain(item.sgtin, links, nativeSha256);
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
  // The head map bound to the latest checkpoint must hold the item's latest logged link, stage and recall flag.
  const checkpoint = await findCheckpointRow(db);
  if (checkpoint && checkpoint.note.includes(`\n${HEADS_EXTENSION_PREFIX}`)) {
    const logged = await loggedHeadOf(db, item.id, checkpoint.treeSize);
    const proof = await proveHead(sqlHeadMapStore(db), headKey(item.sgtin, nativeSha256));
    const want = logged && headValue({ seq: logged.seq, link: toHex(logged.link), stage: logged.stage as Stage, recalled: logged.recalled }, nativeSha256);
    if (logged && (!proof || !want || toHex(proof.value) !== toHex(want))) {
      return { ...result, valid: false, headHash: null, firstInvalidSeq: logged.seq, reason: `the head map of checkpoint ${checkpoint.treeSize} does not hold the item's logged head (seq ${logged.seq})` };
    }
  }
  return result;
}
