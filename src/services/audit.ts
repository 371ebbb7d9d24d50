import { ZERO_HASH } from '../core/chain.ts';
import type { Sha256 } from '../core/v2/hash.ts';
import { bytesEqual, toHex } from '../core/bytes.ts';
import { checkStoredTree, storedEventProblem, storedLinkHash } from '../core/v2/stored-chain.ts';
import { hash } from 'node:crypto';
import { expectedContentOf, formatOf, v1ItemsOf } from '../db/event-content.ts';
import { decodeBase64, verifyCheckpoint } from '../core/checkpoint.ts';
import { HEADS_EXTENSION_PREFIX, buildHeadMap } from '../core/v2/head-map.ts';
import { headMapEntry } from '../db/head-map.ts';
import { appendLeaves, frontier, leafHash, nodeKey, rootFromNodes, rootNodes, type NodeId } from '../core/merkle.ts';
import type { Db, DbOrTrx } from '../db/connection.ts';
import { entriesOfEvents } from '../db/ledger.ts';
import { findCheckpointRow, readLogHead, readNodes } from '../db/log.ts';
import { countRows, eventsAfterLeaf, itemHeadsAfter, linksOfItems, pendingErasureHashes, pendingEventIds } from '../db/audit-reads.ts';

export interface AuditReport {
  treeSize: number;
  events: number;
  items: number;
  links: number;
  /** Events written but not yet integrated into the log (their links are not checked against it). */
  pending: number;
  discrepancies: string[];
}

export type AuditProgress = (phase: 'events' | 'items', done: number, total: number) => void;

/**
 * SHA-256 for the audit's millions of small inputs (a single-item event alone rebuilds a 17-level items tree: ~37
 * hashes): node's one-shot `crypto.hash`, about a third cheaper per call than `createHash`, result not copied.
 */
export const auditSha256: Sha256 = (b) => hash('sha256', b, 'buffer');

const EVENT_CHUNK = 500;
const ITEM_CHUNK = 2_000;
/** Stop collecting after this many findings: a wholesale rewrite would otherwise print millions of lines. */
const MAX_DISCREPANCIES = 1_000;

/**
 * Recomputes the whole log from stored events and compares it with the stored tree and the latest signed
 * checkpoint, then re-verifies every item chain against the recomputed content hashes. Every discrepancy found
 * is reported (up to 1,000); the database is only read, in one repeatable-read snapshot so that writes going on
 * meanwhile are either wholly in it or not at all. Links to events still pending integration end their chain's check.
 */
export async function auditLedger(db: Db, verifierKey: string, progress: AuditProgress = () => {}, sha256: Sha256 = auditSha256): Promise<AuditReport> {
  // Read only: on embedded PGlite the transaction holds the one connection, so other requests wait until it ends.
  return db.transaction().setIsolationLevel('repeatable read').setAccessMode('read only').execute((trx) => auditSnapshot(trx, verifierKey, progress, sha256));
}

async function auditSnapshot(db: DbOrTrx, verifierKey: string, progress: AuditProgress, sha256: Sha256): Promise<AuditReport> {
  const found: string[] = [];
  const report = (s: string) => {
    if (found.length < MAX_DISCREPANCIES) found.push(s);
  };
  const head = await readLogHead(db);
  const totalEvents = await countRows(db, 'events');

  // Phase 1: every event in leaf order — its body, its columns, its item list, and the tree over all of them.
  const contentHashes = new Map<string, { hash: Uint8Array; format: 1 | 2 }>();
  // Erased fields and the ERASE events that must account for them (checked after the pass over the log).
  const erasedMarks: { where: string; field: string; by: string; target: string; leaf: number }[] = [];
  const erasures = new Map<string, { target: string; field: string; leaf: number }>();
  let size = 0;
  let frontierNodes = new Map<string, Uint8Array>();
  let root: Uint8Array = new Uint8Array(0);
  let after = -1;
  for (;;) {
    const rows = await eventsAfterLeaf(db, after, EVENT_CHUNK);
    if (rows.length === 0) break;
    const entriesByEvent = await entriesOfEvents(db, rows.map((r) => r.id));
    const leaves: Uint8Array[] = [];
    for (const e of rows) {
      const leaf = Number(e.leaf_index);
      if (leaf !== size + leaves.length) report(`leaf ${size + leaves.length}: missing; next stored event is at leaf ${leaf} (event ${e.id})`);
      const where = `event ${e.id} (leaf ${leaf}, ${e.kind})`;
      const format = formatOf(e);
      const entries = entriesByEvent.get(e.id) ?? [];
      let rebuiltItemsRoot: string | undefined;
      if (format === 2 && entries.length > 0) {
        try {
          if (!e.pad_key) rebuiltItemsRoot = '(no pad key stored)';
          else {
            const checked = checkStoredTree(entries, e.pad_key, e.item_tree_top, sha256);
            rebuiltItemsRoot = checked.root;
            if (checked.problem) report(`${where}: ${checked.problem}`);
          }
        } catch (x) {
          rebuiltItemsRoot = `(entries do not form a tree: ${(x as Error).message})`;
        }
      }
      const expected = expectedContentOf(e, format === 1 ? entries.map((x) => x.sgtin) : [], sha256);
      const expectedBody = 'problem' in expected ? expected : expected.canonical;
      // Rebuilding the body from the columns hashed it: when it is the stored body byte for byte, that is the body's hash.
      const bodyHash = !('problem' in expected) && expected.canonical === e.body ? expected.contentHash : undefined;
      const problem = storedEventProblem({ format, body: e.body, contentHash: e.content_hash, expectedBody, rebuiltItemsRoot, bodyHash }, sha256);
      if (problem) {
        report(`${where}: ${problem.kind === 'columns' || problem.kind === 'items' ? `stored columns or chain links differ from the hashed body (${problem.message})` : problem.message}${problem.detail ? `: ${problem.detail}` : ''}`);
      }
      const covered = format === 1 ? v1ItemsOf(e.body).length : entries.length;
      if (e.item_count !== covered) report(`${where}: item_count ${e.item_count} but the ${format === 1 ? 'body lists' : 'chain links hold'} ${covered} items`);
      contentHashes.set(e.id, { hash: e.content_hash, format });
      for (const [field, by] of Object.entries(e.erased ?? {})) erasedMarks.push({ where, field, by, target: toHex(e.content_hash), leaf });
      if (e.kind === 'ERASE') {
        const d = e.data as { target?: unknown; field?: unknown };
        erasures.set(toHex(e.content_hash), { target: String(d.target), field: String(d.field), leaf });
      }
      leaves.push(leafHash(e.content_hash));
    }
    const appended = appendLeaves(size, frontierNodes, leaves);
    size = appended.size;
    root = appended.root;
    const all = new Map(frontierNodes);
    for (const n of appended.nodes) all.set(nodeKey(n.id), n.hash);
    frontierNodes = new Map(frontier(size).map((id: NodeId) => [nodeKey(id), all.get(nodeKey(id))!]));
    after = Number(rows[rows.length - 1]!.leaf_index);
    progress('events', Math.min(size, totalEvents), totalEvents);
  }
  // An erasure commits its ERASE event as pending: until integrated (milliseconds) it is not in the log yet.
  const pendingHashes = new Set((await pendingErasureHashes(db)).map(toHex));
  for (const m of erasedMarks) {
    const x = erasures.get(m.by);
    if (!x && pendingHashes.has(m.by)) continue;
    if (!x) report(`${m.where}: field ${m.field} is marked erased by ${m.by}, which is no logged ERASE event`);
    else if (x.target !== m.target || x.field !== m.field || x.leaf <= m.leaf) report(`${m.where}: field ${m.field} is marked erased by ${m.by}, an ERASE event of field ${x.field} of ${x.target}`);
  }
  if (size !== head.size) report(`log: ${size} events are stored but the log head says ${head.size}`);
  if (size > 0 && !bytesEqual(root, head.rootHash)) report(`log: recomputed root ${toHex(root)} differs from the stored head root ${toHex(head.rootHash)}`);
  if (head.size > 0) {
    const stored = await readNodes(db, rootNodes(head.size));
    try {
      const storedRoot = rootFromNodes(head.size, stored);
      if (!bytesEqual(storedRoot, head.rootHash)) report(`log: stored subtree hashes give root ${toHex(storedRoot)}, head says ${toHex(head.rootHash)}`);
    } catch (e) {
      report(`log: ${(e as Error).message}`);
    }
  }
  let boundHeads: { size: number; bound: Uint8Array | undefined } | undefined;
  const cp = await findCheckpointRow(db);
  if (!cp) {
    if (size > 0) report('log: no signed checkpoint exists');
  } else {
    const v = verifyCheckpoint(cp.note, [verifierKey]);
    if (!v.ok) report(`checkpoint ${cp.treeSize}: signature does not verify with ${verifierKey}: ${v.error}`);
    else {
      if (v.value.size !== size) report(`checkpoint: latest signed checkpoint covers ${v.value.size} events, ${size} are stored`);
      else if (!bytesEqual(v.value.rootHash, root)) report(`checkpoint ${v.value.size}: signed root ${toHex(v.value.rootHash)} differs from the root recomputed from stored events ${toHex(root)}`);
      // The head map it binds must be the map of every item's logged head: rebuilt from the chain links in phase 2.
      const line = v.value.extensions.find((e) => e.startsWith(HEADS_EXTENSION_PREFIX));
      if (line) boundHeads = { size: v.value.size, bound: decodeBase64(line.slice(HEADS_EXTENSION_PREFIX.length)) };
    }
  }

  // Phase 2: every item chain, link by link, against the recomputed content hashes.
  const pendingEvents = new Set(await pendingEventIds(db));
  const totalItems = await countRows(db, 'items');
  let items = 0;
  let links = 0;
  let lastId: string | null = null;
  const heads: { key: Uint8Array; value: Uint8Array }[] = [];
  for (;;) {
    const chunk = await itemHeadsAfter(db, lastId, ITEM_CHUNK);
    if (chunk.length === 0) break;
    const rows = await linksOfItems(db, chunk.map((i) => i.id));
    const byItem = new Map<string, typeof rows>();
    for (const r of rows) {
      const list = byItem.get(r.item_id);
      if (list) list.push(r);
      else byItem.set(r.item_id, [r]);
    }
    for (const item of chunk) {
      const chain = byItem.get(item.id) ?? [];
      links += chain.length;
      // Its logged head (as db/head-map allLoggedHeads): the last link whose event is in the log, whatever else fails.
      for (let i = chain.length - 1; i >= 0; i--) {
        const l = chain[i]!;
        if (!contentHashes.has(l.event_id)) continue;
        if (boundHeads) heads.push(headMapEntry({ sgtin: item.sgtin, seq: l.seq, link: l.hash, stage: l.stage ?? item.stage, recalled: l.recalled ?? item.recalled }, sha256));
        break;
      }
      let prev: Uint8Array = ZERO_HASH;
      let pendingTail = false;
      let seenV2 = false;
      for (let i = 0; i < chain.length; i++) {
        const l = chain[i]!;
        const where = `item ${item.sgtin} seq ${l.seq}`;
        if (l.seq !== i) {
          report(`item ${item.sgtin} seq ${i}: link missing (next stored seq is ${l.seq})`);
          break;
        }
        const ch = contentHashes.get(l.event_id);
        if (!ch && pendingEvents.has(l.event_id)) {
          pendingTail = true;
          break;
        }
        if (!ch) {
          report(`${where}: links to event ${l.event_id}, which is not in the log`);
          break;
        }
        if (ch.format === 1 && seenV2) report(`${where}: a v1 event after a v2 event`);
        if (ch.format === 2) seenV2 = true;
        const expected = storedLinkHash(item.sgtin, { seq: l.seq, format: ch.format, contentHash: ch.hash, entrySalt: l.entry_salt ? toHex(l.entry_salt) : null }, prev, sha256);
        if (typeof expected === 'string') report(`${where}: ${expected}`);
        else if (!bytesEqual(expected, l.hash)) report(`${where}: link hash does not match its event's content hash${ch.format === 2 ? ' and entry' : ''}`);
        prev = l.hash;
      }
      if (pendingTail) continue;
      if (chain.length !== item.head_seq + 1) report(`item ${item.sgtin}: head is at seq ${item.head_seq} but ${chain.length} links are stored`);
      else if (!bytesEqual(prev, item.head_hash)) report(`item ${item.sgtin}: head hash differs from its last link`);
    }
    items += chunk.length;
    lastId = chunk[chunk.length - 1]!.id;
    progress('items', items, totalItems);
  }
  if (boundHeads) {
    const rebuilt = buildHeadMap(heads, sha256).root;
    if (!boundHeads.bound || !bytesEqual(boundHeads.bound, rebuilt)) {
      report(`checkpoint ${boundHeads.size}: head-map root ${boundHeads.bound ? toHex(boundHeads.bound) : '(malformed)'} differs from the map of every item's logged head ${toHex(rebuilt)}`);
    }
  }
  return { treeSize: size, events: contentHashes.size, items, links, pending: pendingEvents.size, discrepancies: found };
}

