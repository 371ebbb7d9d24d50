import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../src/core/bytes.ts';
import { BUNDLE_FORMAT, type BundleSourceEvent, type BundleVerification, type ProofBundle, buildBundle, verifyBundle } from '../../src/core/bundle.ts';
import { type EventBody, type JsonValue, ZERO_HASH, canonicalEventBody, contentHashOf, linkHash } from '../../src/core/chain.ts';
import { formatCheckpoint, publicKeyFromPrivate, signNote, verifierKeyString } from '../../src/core/checkpoint.ts';
import { digitalLink, gs1CheckDigit, sgtinUrn } from '../../src/core/identifiers.ts';
import type { EventKind } from '../../src/core/lifecycle.ts';
import {
  appendLeaves,
  buildProof,
  consistencyProofNodes,
  inclusionProofNodes,
  leafHash,
  nodeKey,
  rootFromLeaves,
  rootFromNodes,
  verifyConsistency,
  verifyInclusion,
} from '../../src/core/merkle.ts';

// ---------------------------------------------------------------------------------------------------------------
// A realistic log: three tracked items with full lifecycles, interleaved with unrelated events.

const SEED = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
const OTHER_SEED = Uint8Array.from({ length: 32 }, (_, i) => 200 - i);
const ORIGIN = 'ledger.provenant.example/log';
const VKEY = verifierKeyString(ORIGIN, publicKeyFromPrivate(SEED));
const OTHER_VKEY = verifierKeyString(ORIGIN, publicKeyFromPrivate(OTHER_SEED));

const GTIN = (() => {
  const d = '0950600013435';
  return d + String(gs1CheckDigit(d));
})();
const sgtin = (serial: string): string => sgtinUrn(GTIN, 7, serial);
const A = sgtin('A-1001');
const B = sgtin('A-1002');
const C = sgtin('B-2001');
const X = [1, 2, 3, 4, 5].map((i) => sgtin(`X-${i}`));
const [X1, X2, X3, X4, X5] = X as [string, string, string, string, string];

const MAKER = 'act_maker';
const DIST = 'act_dist';
const SHOP = 'act_shop';
const SHOP2 = 'act_shop2';
const OWNER = 'act_owner';
const RECYCLER = 'act_recycler';

type Step = [kind: EventKind, actor: string, items: string[], counterparty?: string | null, data?: { [k: string]: JsonValue }];

const SCRIPT: Step[] = [
  ['COMMISSION', MAKER, [B, A], null, { lot: 'L-1' }],
  ['COMMISSION', MAKER, [X1, X2, X3], null, { lot: 'L-9' }],
  ['COMMISSION', MAKER, [C], null, { lot: 'L-2' }],
  ['SHIP', MAKER, [X1], DIST],
  ['SHIP', MAKER, [A, B], DIST],
  ['RECEIVE', DIST, [X1]],
  ['SHIP', MAKER, [C], DIST],
  ['RECEIVE', DIST, [A, B]],
  ['COMMISSION', MAKER, [X4], null, { lot: 'L-9' }],
  ['RECEIVE', DIST, [C]],
  ['SHIP', DIST, [A], SHOP],
  ['SHIP', DIST, [X5], SHOP], // X5 was never commissioned in this log: its chain starts with SHIP
  ['SHIP', DIST, [B], SHOP2],
  ['SELL', DIST, [X1]],
  ['RECEIVE', SHOP, [A]],
  ['SHIP', MAKER, [X2], SHOP],
  ['RECEIVE', SHOP2, [B]],
  ['SELL', SHOP, [A], null, { price: { amount: '499.00', currency: 'EUR' } }],
  ['SELL', SHOP2, [B]],
  ['SHIP', DIST, [C], SHOP],
  ['RECEIVE', SHOP, [X2]],
  ['ACTIVATE', OWNER, [A]],
  ['RECEIVE', SHOP, [C]],
  ['USE_REPORT', OWNER, [B], null, { hours: 12.5 }],
  ['SELL', SHOP, [C]],
  ['RECALL', MAKER, [X3, X4], null, { reason: 'battery swelling' }],
  ['SERVICE', OWNER, [A], null, { part: 'fan', note: 'replaced — under warranty' }],
  ['ACTIVATE', OWNER, [C]],
  ['USE_REPORT', OWNER, [B], null, { hours: 40 }],
  ['USE_REPORT', OWNER, [A], null, { hours: 310 }],
  ['DESTROY', MAKER, [X3]],
  ['RETURN', OWNER, [A], RECYCLER],
  ['RETURN', OWNER, [B], SHOP2],
  ['USE_REPORT', OWNER, [C], null, { hours: 3 }],
  ['SHIP', MAKER, [X4], DIST],
  ['SHIP', SHOP2, [B], RECYCLER],
  ['RECEIVE', RECYCLER, [B]],
  ['RECYCLE', RECYCLER, [A], null, { materials: [{ material: 'aluminium', massKg: 0.82 }, { material: 'copper', massKg: 0.11 }] }],
  ['SERVICE', OWNER, [C], null, { part: 'battery' }],
  ['RECYCLE', RECYCLER, [B], null, { materials: [{ material: 'steel', massKg: 1.4 }] }],
  ['RETURN', OWNER, [C], SHOP],
  ['SELL', SHOP, [X2]],
];
const EXTRA: Step[] = [
  ['RECEIVE', DIST, [X4]],
  ['SHIP', DIST, [X4], SHOP],
  ['RECEIVE', SHOP, [X4]],
];
/** Tree size of the earlier checkpoint the auditor kept (not a power of two). */
const M = 21;

type LogEvent = { leafIndex: number; body: string; contentHash: Uint8Array; items: string[] };

class Log {
  readonly nodes = new Map<string, Uint8Array>();
  readonly leaves: Uint8Array[] = [];
  readonly events: LogEvent[] = [];
  readonly links = new Map<string, BundleSourceEvent[]>();
  size = 0;

  record([kind, actor, items, counterparty = null, data = {}]: Step): void {
    const n = this.events.length;
    const at = new Date(Date.UTC(2025, 2, 1, 8, 0, 0) + n * 3_600_000 + 123).toISOString();
    const body: EventBody = {
      kind,
      actor,
      occurredAt: at,
      timezoneOffset: '+01:00',
      recordedAt: at,
      location: kind === 'COMMISSION' ? 'urn:epc:id:sgln:9506000.13435.0' : `site-${actor}`,
      counterparty,
      data,
      items,
    };
    const text = canonicalEventBody(body);
    const contentHash = contentHashOf(text);
    const leafIndex = this.size;
    this.events.push({ leafIndex, body: text, contentHash, items });
    for (const s of items) {
      const chain = this.links.get(s) ?? [];
      const seq = chain.length;
      const prevHash = seq === 0 ? ZERO_HASH : chain[seq - 1]!.linkHash;
      chain.push({ seq, leafIndex, body: text, contentHash, prevHash, linkHash: linkHash(prevHash, contentHash, s, seq) });
      this.links.set(s, chain);
    }
    const lh = leafHash(contentHash);
    this.leaves.push(lh);
    const r = appendLeaves(this.size, this.nodes, [lh]);
    for (const node of r.nodes) this.nodes.set(nodeKey(node.id), node.hash);
    this.size = r.size;
  }

  checkpoint(size = this.size, seed = SEED, origin = ORIGIN): string {
    return signNote(formatCheckpoint({ origin, size, rootHash: rootFromNodes(size, this.nodes) }), ORIGIN, seed);
  }
}

function buildLog(opts: { tamper?: boolean; extra?: boolean } = {}): Log {
  const log = new Log();
  SCRIPT.forEach((step, i) => {
    // The rewritten history: the operator later changed what the third event said.
    if (opts.tamper && i === 2) step = [step[0], step[1], step[2], step[3], { lot: 'L-2-REWRITTEN' }];
    log.record(step);
  });
  if (opts.extra) for (const step of EXTRA) log.record(step);
  return log;
}

const log = buildLog();
const N = log.size;
const CP_N = log.checkpoint();
const CP_M = log.checkpoint(M);
const forked = buildLog({ tamper: true });
const grown = buildLog({ extra: true });

function bundleFor(s: string, events = log.links.get(s)!, extra: Partial<Parameters<typeof buildBundle>[0]> = {}): ProofBundle {
  return buildBundle({
    sgtin: s,
    digitalLink: digitalLink(GTIN, s.slice(s.lastIndexOf('.') + 1)),
    verifierKey: VKEY,
    checkpoint: CP_N,
    events,
    nodes: log.nodes,
    consistencyFromSize: M,
    ...extra,
  });
}

/** Re-derives a chain for `s` from log entries (what a forger with no signing key could do). */
function rechain(s: string, entries: readonly { leafIndex: number; body: string; contentHash: Uint8Array }[]): BundleSourceEvent[] {
  const out: BundleSourceEvent[] = [];
  let prev: Uint8Array = ZERO_HASH;
  entries.forEach((e, seq) => {
    const h = linkHash(prev, e.contentHash, s, seq);
    out.push({ seq, leafIndex: e.leafIndex, body: e.body, contentHash: e.contentHash, prevHash: prev, linkHash: h });
    prev = h;
  });
  return out;
}

const clone = (b: ProofBundle): ProofBundle => JSON.parse(JSON.stringify(b)) as ProofBundle;
const flipHex = (h: string, at = 10): string => h.slice(0, at) + (h[at] === '0' ? '1' : '0') + h.slice(at + 1);
const opts = { verifierKeys: [VKEY] };

function expectFailure(r: BundleVerification, check: string, seq: number | null, message: string | RegExp, item = A): void {
  expect(r.ok, JSON.stringify(r)).toBe(false);
  if (r.ok) return;
  expect(r.failure.item).toBe(item);
  expect(r.failure.check).toBe(check);
  expect(r.failure.seq).toBe(seq);
  if (typeof message === 'string') expect(r.failure.message).toBe(message);
  else expect(r.failure.message).toMatch(message);
}

// ---------------------------------------------------------------------------------------------------------------

describe('fixture', () => {
  it('is a realistic interleaved log whose tracked items have non-contiguous leaves', () => {
    expect(N).toBe(SCRIPT.length);
    expect(N).toBeGreaterThanOrEqual(40);
    expect(rootFromNodes(N, log.nodes)).toEqual(rootFromLeaves(log.leaves));
    const a = log.links.get(A)!;
    expect(a.map((l) => l.seq)).toEqual([...a.keys()]);
    expect(a.length).toBe(11);
    expect(a.some((l, i) => i > 0 && l.leafIndex !== a[i - 1]!.leafIndex + 1)).toBe(true);
    // A and B were commissioned and shipped by the same events.
    expect(log.links.get(B)![0]!.leafIndex).toBe(a[0]!.leafIndex);
  });
});

describe('verifyBundle: valid bundles', () => {
  it('verifies each tracked item', () => {
    for (const s of [A, B, C]) {
      const b = bundleFor(s);
      const r = verifyBundle(b, opts);
      expect(r, s).toEqual({ ok: true, treeSize: N, rootHash: rootFromLeaves(log.leaves), length: log.links.get(s)!.length });
    }
  });

  it('has the documented JSON shape and survives a JSON round trip', () => {
    const b = bundleFor(A);
    expect(Object.keys(b).sort()).toEqual(['checkpoint', 'consistency', 'events', 'format', 'item', 'verifierKey']);
    expect(b.format).toBe(BUNDLE_FORMAT);
    expect(b.item).toEqual({ sgtin: A, digitalLink: `https://id.gs1.org/01/${GTIN}/21/A-1001`, headSeq: 10 });
    expect(Object.keys(b.events[0]!).sort()).toEqual(['body', 'contentHash', 'inclusionProof', 'leafIndex', 'linkHash', 'prevHash', 'seq']);
    expect(b.events[0]!.prevHash).toBe('0'.repeat(64));
    expect(b.consistency!.fromSize).toBe(M);
    // Proofs are independently checkable with the plain Merkle functions.
    const e = b.events[5]!;
    const proof = e.inclusionProof.map((h) => fromHex(h)!);
    expect(verifyInclusion(leafHash(fromHex(e.contentHash)!), e.leafIndex, N, proof, rootFromLeaves(log.leaves)).ok).toBe(true);
    const cproof = b.consistency!.proof.map((h) => fromHex(h)!);
    expect(verifyConsistency(M, N, cproof, rootFromLeaves(log.leaves.slice(0, M)), rootFromLeaves(log.leaves)).ok).toBe(true);
    expect(verifyBundle(JSON.parse(JSON.stringify(b)), opts).ok).toBe(true);
  });

  it('does not depend on the order of the events array', () => {
    const b = clone(bundleFor(A));
    b.events.reverse();
    expect(verifyBundle(b, opts).ok).toBe(true);
  });

  it('accepts a note that also carries a signature from an unknown key', () => {
    const b = clone(bundleFor(A));
    const cosigned = signNote(formatCheckpoint({ origin: ORIGIN, size: N, rootHash: rootFromLeaves(log.leaves) }), 'witness.example', OTHER_SEED);
    b.checkpoint = CP_N + cosigned.slice(cosigned.lastIndexOf('\n\n') + 2);
    expect(verifyBundle(b, opts).ok).toBe(true);
    expect(verifyBundle(b, { verifierKeys: [OTHER_VKEY, VKEY] }).ok).toBe(true);
  });

  it('with a previous checkpoint: smaller (consistency proof), equal, empty', () => {
    const b = bundleFor(A);
    expect(verifyBundle(b, { ...opts, previousCheckpoint: CP_M })).toMatchObject({ ok: true, treeSize: N });
    expect(verifyBundle(b, { ...opts, previousCheckpoint: CP_N })).toMatchObject({ ok: true, treeSize: N });
    expect(verifyBundle(b, { ...opts, previousCheckpoint: log.checkpoint(0) })).toMatchObject({ ok: true });
    // Every earlier size works when the server proves from it.
    for (const m of [1, 2, 7, 16, 33, N - 1]) {
      const bm = bundleFor(A, undefined, { consistencyFromSize: m });
      expect(verifyBundle(bm, { ...opts, previousCheckpoint: log.checkpoint(m) }).ok, `from ${m}`).toBe(true);
    }
  });

  it('verifies a bundle whose checkpoint is newer than the item head (item seen in an older part of the log)', () => {
    const b = buildBundle({ sgtin: A, digitalLink: digitalLink(GTIN, 'A-1001'), verifierKey: VKEY, checkpoint: grown.checkpoint(), events: grown.links.get(A)!, nodes: grown.nodes });
    expect(verifyBundle(b, opts)).toMatchObject({ ok: true, treeSize: N + EXTRA.length, length: 11 });
  });
});

describe('verifyBundle: format', () => {
  it('rejects non-bundles and unknown formats', () => {
    expectFailure(verifyBundle(null, opts), 'format', null, 'bundle is not a JSON object', '(unknown item)');
    expectFailure(verifyBundle([], opts), 'format', null, 'bundle is not a JSON object', '(unknown item)');
    const b = clone(bundleFor(A)) as unknown as Record<string, unknown>;
    b.format = 'provenant-proof-bundle/v2';
    expectFailure(verifyBundle(b, opts), 'format', null, 'unknown bundle format "provenant-proof-bundle/v2", expected "provenant-proof-bundle/v1"');
  });

  it('rejects missing fields and non-hex hashes, naming the seq', () => {
    const b1 = clone(bundleFor(A));
    b1.events[4]!.contentHash = 'zz' + b1.events[4]!.contentHash.slice(2);
    expectFailure(verifyBundle(b1, opts), 'format', 4, 'event seq 4: contentHash is not 64 hex characters (32 bytes)');
    const b2 = clone(bundleFor(A));
    b2.events[2]!.inclusionProof[1] = b2.events[2]!.inclusionProof[1]!.slice(2);
    expectFailure(verifyBundle(b2, opts), 'format', 2, 'event seq 2: inclusionProof[1] is not 64 hex characters (32 bytes)');
    const b3 = clone(bundleFor(A)) as unknown as { events: Record<string, unknown>[] };
    delete b3.events[3]!.linkHash;
    expectFailure(verifyBundle(b3, opts), 'format', 3, 'event seq 3: linkHash is missing or not a string');
    const b4 = clone(bundleFor(A)) as unknown as { item: Record<string, unknown> };
    delete b4.item.headSeq;
    expectFailure(verifyBundle(b4, opts), 'format', null, 'item.headSeq is missing or not a non-negative integer');
    const b5 = clone(bundleFor(A)) as unknown as { events: Record<string, unknown>[] };
    b5.events[1]!.seq = '1';
    expectFailure(verifyBundle(b5, opts), 'format', null, 'events[1].seq is missing or not a non-negative integer');
  });

  it('rejects a Digital Link that names another item', () => {
    const b = clone(bundleFor(A));
    b.item.digitalLink = digitalLink(GTIN, 'A-1002');
    expectFailure(verifyBundle(b, opts), 'format', null, `item.digitalLink ${b.item.digitalLink} does not identify the same item as ${A}`);
  });
});

describe('verifyBundle: checkpoint', () => {
  it('rejects a checkpoint signed by another key', () => {
    const b = clone(bundleFor(A));
    b.checkpoint = log.checkpoint(N, OTHER_SEED);
    const other = OTHER_VKEY.split('+').slice(0, 2).join('+');
    const mine = VKEY.split('+').slice(0, 2).join('+');
    expectFailure(verifyBundle(b, opts), 'signature', null, `bundle checkpoint is not signed by any trusted key (signed by ${other}; trusted: ${mine})`);
  });

  it('rejects an edited checkpoint body (size or root)', () => {
    const b = clone(bundleFor(A));
    b.checkpoint = CP_N.replace(`\n${N}\n`, `\n${N + 1}\n`);
    expect(b.checkpoint).not.toBe(CP_N);
    const keyName = VKEY.split('+').slice(0, 2).join('+');
    expectFailure(verifyBundle(b, opts), 'signature', null, `bundle checkpoint: invalid signature for key ${keyName}`);
    const lines = CP_N.split('\n');
    lines[2] = lines[2]!.slice(0, 5) + (lines[2]![5] === 'A' ? 'B' : 'A') + lines[2]!.slice(6);
    b.checkpoint = lines.join('\n');
    expectFailure(verifyBundle(b, opts), 'signature', null, `bundle checkpoint: invalid signature for key ${keyName}`);
  });

  it('rejects a signed note that is not a checkpoint', () => {
    const b = clone(bundleFor(A));
    b.checkpoint = signNote(`${ORIGIN}\nnot-a-size\nroot\n`, ORIGIN, SEED);
    expectFailure(verifyBundle(b, opts), 'checkpoint', null, /^bundle checkpoint is not a valid checkpoint: checkpoint tree size "not-a-size"/);
  });

  it('rejects when no trusted keys are given', () => {
    expectFailure(verifyBundle(bundleFor(A), { verifierKeys: [] }), 'signature', null, 'no verifier keys given to check the bundle checkpoint');
  });
});

describe('verifyBundle: completeness and chain', () => {
  it('rejects a dropped middle event', () => {
    const b = clone(bundleFor(A));
    b.events.splice(4, 1);
    expectFailure(verifyBundle(b, opts), 'completeness', 4, 'event seq 4 is missing (the next event in the bundle is seq 5)');
  });

  it('rejects a dropped last event (headSeq unchanged)', () => {
    const b = clone(bundleFor(A));
    b.events.pop();
    expectFailure(verifyBundle(b, opts), 'completeness', 10, 'event seq 10 is missing: the bundle ends at seq 9 but the item\'s headSeq is 10');
  });

  it('documented limit: a tail dropped together with headSeq verifies as a shorter history', () => {
    // Documented limit: a bundle is complete relative to headSeq as stated; dropping the tail and lowering headSeq
    // yields a valid, shorter history. (Later events would still be in the log.)
    const b = clone(bundleFor(A));
    b.events.pop();
    b.item.headSeq = 9;
    expect(verifyBundle(b, opts)).toMatchObject({ ok: true, length: 10 });
  });

  it('rejects events beyond headSeq, empty event lists and duplicates', () => {
    const b1 = clone(bundleFor(A));
    b1.item.headSeq = 8;
    expectFailure(verifyBundle(b1, opts), 'completeness', 9, 'event seq 9 is beyond the item\'s headSeq 8');
    const b2 = clone(bundleFor(A));
    b2.events = [];
    expectFailure(verifyBundle(b2, opts), 'completeness', 0, 'bundle has no events; expected seqs 0..10');
    const b3 = clone(bundleFor(A));
    b3.events.splice(3, 0, clone(bundleFor(A)).events[3]!);
    expectFailure(verifyBundle(b3, opts), 'chain', 3, 'event seq 3 appears more than once');
  });

  it('rejects two events swapped in history (seq numbers exchanged)', () => {
    const b = clone(bundleFor(A));
    b.events[3]!.seq = 4;
    b.events[4]!.seq = 3;
    const e = bundleFor(A).events;
    expectFailure(verifyBundle(b, opts), 'chain', 3, `prevHash ${e[4]!.prevHash} does not equal the linkHash of seq 2 (${e[2]!.linkHash})`);
  });

  it('rejects two events swapped with the chain recomputed (log order betrays it)', () => {
    const entries = [...log.links.get(A)!];
    [entries[3], entries[4]] = [entries[4]!, entries[3]!];
    const b = bundleFor(A, rechain(A, entries));
    expectFailure(
      verifyBundle(b, opts),
      'chain',
      4,
      `leafIndex ${entries[4]!.leafIndex} is not after leafIndex ${entries[3]!.leafIndex} of seq 3: events are out of log order`,
    );
  });

  it('rejects a chain that does not start with COMMISSION', () => {
    const b = bundleFor(X5);
    expectFailure(verifyBundle(b, opts), 'chain', 0, 'chain starts with SHIP, expected COMMISSION', X5);
  });

  it('rejects another item\'s event spliced into the chain (chain recomputed)', () => {
    const entries = [...log.links.get(A)!];
    const foreign = log.events.find((e) => e.leafIndex > entries[2]!.leafIndex && e.leafIndex < entries[3]!.leafIndex && !e.items.includes(A));
    expect(foreign).toBeDefined();
    entries[3] = { ...entries[3]!, leafIndex: foreign!.leafIndex, body: foreign!.body, contentHash: foreign!.contentHash };
    const b = bundleFor(A, rechain(A, entries));
    expectFailure(verifyBundle(b, opts), 'content', 3, `body's items do not include ${A}`);
  });

  it('rejects a wrong prevHash at seq 0 and a wrong linkHash', () => {
    const b1 = clone(bundleFor(A));
    b1.events[0]!.prevHash = flipHex(b1.events[0]!.prevHash);
    expectFailure(verifyBundle(b1, opts), 'chain', 0, `prevHash is ${b1.events[0]!.prevHash}, expected 32 zero bytes for seq 0`);
    const b2 = clone(bundleFor(A));
    const good = b2.events[6]!.linkHash;
    b2.events[6]!.linkHash = flipHex(good);
    expectFailure(verifyBundle(b2, opts), 'chain', 6, `linkHash ${b2.events[6]!.linkHash} does not match the computed ${good}`);
  });
});

describe('verifyBundle: content', () => {
  it('rejects one flipped byte in an event body', () => {
    const b = clone(bundleFor(A));
    const e = b.events[5]!;
    const at = e.body.indexOf('"SELL"') + 2;
    e.body = e.body.slice(0, at) + 'T' + e.body.slice(at + 1); // "SELL" -> "TELL"
    expectFailure(verifyBundle(b, opts), 'content', 5, `body hashes to ${toHex(contentHashOf(e.body))} but contentHash is ${e.contentHash}`);
  });

  it('rejects one flipped byte in a contentHash', () => {
    const b = clone(bundleFor(A));
    const e = b.events[7]!;
    const good = e.contentHash;
    e.contentHash = flipHex(good, 20);
    expectFailure(verifyBundle(b, opts), 'content', 7, `body hashes to ${good} but contentHash is ${e.contentHash}`);
  });

  it('rejects an edited body with its contentHash recomputed (the link breaks)', () => {
    const b = clone(bundleFor(A));
    const e = b.events[8]!;
    const parsed = JSON.parse(e.body) as EventBody;
    e.body = canonicalEventBody({ ...parsed, data: { hours: 31 } });
    e.contentHash = toHex(contentHashOf(e.body));
    const link = toHex(linkHash(fromHex(e.prevHash)!, fromHex(e.contentHash)!, A, 8));
    expectFailure(verifyBundle(b, opts), 'chain', 8, `linkHash ${e.linkHash} does not match the computed ${link}`);
  });

  it('rejects an edited body with the whole chain recomputed (not in the log)', () => {
    const entries = [...log.links.get(A)!];
    const parsed = JSON.parse(entries[8]!.body) as EventBody;
    const body = canonicalEventBody({ ...parsed, data: { hours: 31 } });
    entries[8] = { ...entries[8]!, body, contentHash: contentHashOf(body) };
    const b = bundleFor(A, rechain(A, entries));
    expectFailure(verifyBundle(b, opts), 'inclusion', 8, new RegExp(`^event is not proven at leaf \\d+ of the checkpoint's tree of size ${N}: calculated root [0-9a-f]{64} does not match expected root`));
  });

  it('rejects a body that hashes correctly but is not canonical JSON', () => {
    const entries = [...log.links.get(A)!];
    const body = entries[0]!.body.replace('{', '{ ');
    entries[0] = { ...entries[0]!, body, contentHash: contentHashOf(body) };
    expectFailure(verifyBundle(bundleFor(A, rechain(A, entries)), opts), 'content', 0, 'body is not in canonical JSON (RFC 8785) form');
  });
});

describe('verifyBundle: inclusion', () => {
  it('rejects a changed proof hash', () => {
    const b = clone(bundleFor(A));
    const e = b.events[9]!;
    e.inclusionProof[2] = flipHex(e.inclusionProof[2]!);
    expectFailure(verifyBundle(b, opts), 'inclusion', 9, new RegExp(`^event is not proven at leaf ${e.leafIndex} of the checkpoint's tree of size ${N}: calculated root [0-9a-f]{64} does not match expected root ${toHex(rootFromLeaves(log.leaves))} for tree size ${N}$`));
  });

  it('rejects a changed leafIndex', () => {
    const b = clone(bundleFor(A));
    const e = b.events[2]!;
    e.leafIndex += 1;
    expectFailure(verifyBundle(b, opts), 'inclusion', 2, new RegExp(`^event is not proven at leaf ${e.leafIndex} of the checkpoint's tree of size ${N}: `));
    const b2 = clone(bundleFor(A));
    b2.events[10]!.leafIndex = N;
    expectFailure(verifyBundle(b2, opts), 'inclusion', 10, `leafIndex ${N} is not in the checkpoint's tree of size ${N}`);
  });

  it('rejects a checkpoint swapped for an older, genuinely signed one', () => {
    const b = clone(bundleFor(A));
    b.checkpoint = CP_M;
    // The proofs were made for tree size N, so the first event already fails against the size-M root.
    expectFailure(verifyBundle(b, opts), 'inclusion', 0, new RegExp(`^event is not proven at leaf 0 of the checkpoint's tree of size ${M}: inclusion proof has \\d+ hashes, expected \\d+$`));
    // And an event the older tree does not contain yet is named as such.
    const entries = log.links.get(A)!;
    const firstBeyond = entries.find((l) => l.leafIndex >= M)!;
    const early = buildBundle({ sgtin: A, digitalLink: digitalLink(GTIN, 'A-1001'), verifierKey: VKEY, checkpoint: CP_M, events: entries.filter((l) => l.leafIndex < M), nodes: log.nodes });
    early.item.headSeq = 10;
    early.events.push(...clone(bundleFor(A)).events.filter((e) => e.seq >= firstBeyond.seq));
    expectFailure(verifyBundle(early, opts), 'inclusion', firstBeyond.seq, `leafIndex ${firstBeyond.leafIndex} is not in the checkpoint's tree of size ${M}`);
  });
});

describe('verifyBundle: previous checkpoint', () => {
  it('rejects a rewritten log (previous checkpoint from a log whose earlier leaves differ)', () => {
    const b = bundleFor(A);
    expectFailure(
      verifyBundle(b, { ...opts, previousCheckpoint: forked.checkpoint(M) }),
      'consistency',
      null,
      new RegExp(`^the log was rewritten: tree size ${N} is not an extension of the previous checkpoint's tree size ${M} \\(calculated root [0-9a-f]{64} does not match expected root ${toHex(rootFromLeaves(forked.leaves.slice(0, M)))} for tree size ${M}\\)$`),
    );
  });

  it('rejects a previous checkpoint with the same size but a different root', () => {
    const b = bundleFor(A);
    expectFailure(
      verifyBundle(b, { ...opts, previousCheckpoint: forked.checkpoint(N) }),
      'consistency',
      null,
      `the log was rewritten: previous checkpoint has the same tree size ${N} but root ${toHex(rootFromLeaves(forked.leaves))}, bundle checkpoint root ${toHex(rootFromLeaves(log.leaves))}`,
    );
  });

  it('rejects a previous checkpoint from a larger tree', () => {
    expectFailure(
      verifyBundle(bundleFor(A), { ...opts, previousCheckpoint: grown.checkpoint() }),
      'consistency',
      null,
      `bundle checkpoint is older than the previous one (tree size ${N} < ${N + EXTRA.length})`,
    );
  });

  it('rejects a missing or mismatched consistency proof', () => {
    const noProof = bundleFor(A, undefined, { consistencyFromSize: undefined });
    expect(noProof.consistency).toBeUndefined();
    expectFailure(verifyBundle(noProof, { ...opts, previousCheckpoint: CP_M }), 'consistency', null, `bundle has no consistency proof from the previous checkpoint's tree size ${M} to ${N}`);
    const other = bundleFor(A, undefined, { consistencyFromSize: M + 1 });
    expectFailure(verifyBundle(other, { ...opts, previousCheckpoint: CP_M }), 'consistency', null, `consistency proof is from tree size ${M + 1}, but the previous checkpoint has tree size ${M}`);
    const tampered = clone(bundleFor(A));
    tampered.consistency!.proof[0] = flipHex(tampered.consistency!.proof[0]!);
    expectFailure(verifyBundle(tampered, { ...opts, previousCheckpoint: CP_M }), 'consistency', null, new RegExp(`^the log was rewritten: tree size ${N} is not an extension of the previous checkpoint's tree size ${M} \\(`));
  });

  it('rejects a previous checkpoint signed by another key or for another log', () => {
    expectFailure(verifyBundle(bundleFor(A), { ...opts, previousCheckpoint: log.checkpoint(M, OTHER_SEED) }), 'signature', null, /^previous checkpoint is not signed by any trusted key/);
    const otherLog = signNote(formatCheckpoint({ origin: 'other.example/log', size: M, rootHash: rootFromNodes(M, log.nodes) }), ORIGIN, SEED);
    expectFailure(
      verifyBundle(bundleFor(A), { ...opts, previousCheckpoint: otherLog }),
      'checkpoint',
      null,
      `previous checkpoint is for log "other.example/log", bundle checkpoint for "${ORIGIN}"`,
    );
  });
});

describe('buildBundle', () => {
  it('builds the same proofs as the plain Merkle planner', () => {
    const b = bundleFor(C);
    for (const e of b.events) {
      expect(e.inclusionProof).toEqual(buildProof(inclusionProofNodes(e.leafIndex, N), log.nodes).map(toHex));
    }
    expect(b.consistency!.proof).toEqual(buildProof(consistencyProofNodes(M, N), log.nodes).map(toHex));
  });

  it('bundle.ts is pure core: imports only other core files and @noble (through them)', () => {
    const src = readFileSync(new URL('../../src/core/bundle.ts', import.meta.url), 'utf8');
    const imports = [...src.matchAll(/^import [^;]* from '([^']+)';$/gm)].map((m) => m[1]!);
    expect(imports.length).toBeGreaterThan(0);
    for (const i of imports) expect(i, i).toMatch(/^\.\/[a-z-]+\.ts$/);
    expect(src).not.toMatch(/Date\.now|new Date|performance\.now/);
  });
});
