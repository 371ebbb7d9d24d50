/**
 * Offline proof bundle: everything an auditor needs to check one item's history without trusting the operator —
 * the item's complete hash chain (every event body exactly as hashed), an inclusion proof of every event in one
 * signed checkpoint of the Merkle log, and optionally a consistency proof from an earlier checkpoint the auditor kept.
 *
 * Pure: imports only core; no clock, no I/O. `verifyBundle` never throws, whatever it is given.
 */
import { bytesEqual, fromHex, toHex } from './bytes.ts';
import { ZERO_HASH, contentHashOf, linkHash } from './chain.ts';
import { decodeBase64, parseCheckpoint, verifyNote } from './checkpoint.ts';
import { parseDigitalLink, parseSgtinUrn } from './identifiers.ts';
import { canonicalize } from './jcs.ts';
import { LEDGER_KINDS } from './lifecycle.ts';
import { type NodeSource, buildProof, consistencyProofNodes, inclusionProofNodes, leafHash, verifyConsistency, verifyInclusion } from './merkle.ts';

export const BUNDLE_FORMAT = 'provenant-proof-bundle/v1';

export interface ProofBundleEvent {
  seq: number;
  leafIndex: number;
  /** Canonical event body text exactly as hashed (`canonicalEventBody`). */
  body: string;
  /** Hex, 32 bytes. */
  contentHash: string;
  prevHash: string;
  linkHash: string;
  /** Hex hashes: RFC 9162 inclusion proof of leafHash(contentHash) at leafIndex in the checkpoint's tree. */
  inclusionProof: string[];
}

export interface ProofBundle {
  format: typeof BUNDLE_FORMAT;
  /** headSeq = seq of the last link the server had. */
  item: { sgtin: string; digitalLink: string; headSeq: number };
  /** C2SP verifier key string of the log. Informational: an auditor passes the key they trust. */
  verifierKey: string;
  /** C2SP signed note whose text is a tlog-checkpoint body (tree size N). */
  checkpoint: string;
  events: ProofBundleEvent[];
  /** Hex hashes proving the checkpoint's tree extends the tree of `fromSize` leaves. */
  consistency?: { fromSize: number; proof: string[] };
}

export type BundleCheck = 'format' | 'signature' | 'checkpoint' | 'content' | 'chain' | 'inclusion' | 'consistency' | 'completeness';

export type BundleFailure = { item: string; seq: number | null; check: BundleCheck; message: string };

export type BundleVerification =
  | { ok: true; treeSize: number; rootHash: Uint8Array; length: number }
  | { ok: false; failure: BundleFailure };

// ---------------------------------------------------------------------------------------------------------------
// Shape validation

type Parsed = {
  sgtin: string;
  headSeq: number;
  checkpoint: string;
  events: Array<{ seq: number; leafIndex: number; body: string; contentHash: Uint8Array; prevHash: Uint8Array; linkHash: Uint8Array; proof: Uint8Array[] }>;
  consistency?: { fromSize: number; proof: Uint8Array[] };
};

class ShapeError extends Error {
  constructor(message: string, readonly seq: number | null) {
    super(message);
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

function hash32(v: unknown, what: string, seq: number | null): Uint8Array {
  if (typeof v !== 'string') throw new ShapeError(`${what} is missing or not a string`, seq);
  const b = v.length === 64 ? fromHex(v) : undefined;
  if (!b) throw new ShapeError(`${what} is not 64 hex characters (32 bytes)`, seq);
  return b;
}

function hashList(v: unknown, what: string, seq: number | null): Uint8Array[] {
  if (!Array.isArray(v)) throw new ShapeError(`${what} is missing or not an array`, seq);
  return v.map((h, i) => hash32(h, `${what}[${i}]`, seq));
}

function parseShape(b: unknown): Parsed {
  if (!isRecord(b)) throw new ShapeError('bundle is not a JSON object', null);
  if (b.format !== BUNDLE_FORMAT) {
    throw new ShapeError(`unknown bundle format ${JSON.stringify(b.format ?? null)}, expected ${JSON.stringify(BUNDLE_FORMAT)}`, null);
  }
  const item = b.item;
  if (!isRecord(item)) throw new ShapeError('item is missing or not an object', null);
  if (typeof item.sgtin !== 'string' || item.sgtin === '') throw new ShapeError('item.sgtin is missing or not a string', null);
  const sgtin = parseSgtinUrn(item.sgtin);
  if (!sgtin.ok) throw new ShapeError(`item.sgtin ${JSON.stringify(item.sgtin)} is not an SGTIN URN: ${sgtin.error}`, null);
  if (typeof item.digitalLink !== 'string') throw new ShapeError('item.digitalLink is missing or not a string', null);
  const dl = parseDigitalLink(item.digitalLink);
  if (!dl.ok) throw new ShapeError(`item.digitalLink ${JSON.stringify(item.digitalLink)} is not a GS1 Digital Link: ${dl.error}`, null);
  if (dl.value.gtin14 !== sgtin.value.gtin14 || dl.value.serial !== sgtin.value.serial) {
    throw new ShapeError(`item.digitalLink ${item.digitalLink} does not identify the same item as ${item.sgtin}`, null);
  }
  if (!isCount(item.headSeq)) throw new ShapeError('item.headSeq is missing or not a non-negative integer', null);
  if (typeof b.verifierKey !== 'string') throw new ShapeError('verifierKey is missing or not a string', null);
  if (typeof b.checkpoint !== 'string' || b.checkpoint === '') throw new ShapeError('checkpoint is missing or not a string', null);
  if (!Array.isArray(b.events)) throw new ShapeError('events is missing or not an array', null);

  const events = b.events.map((e: unknown, i) => {
    if (!isRecord(e)) throw new ShapeError(`events[${i}] is not an object`, null);
    if (!isCount(e.seq)) throw new ShapeError(`events[${i}].seq is missing or not a non-negative integer`, null);
    const seq = e.seq;
    const at = `event seq ${seq}`;
    if (!isCount(e.leafIndex)) throw new ShapeError(`${at}: leafIndex is missing or not a non-negative integer`, seq);
    if (typeof e.body !== 'string') throw new ShapeError(`${at}: body is missing or not a string`, seq);
    return {
      seq,
      leafIndex: e.leafIndex,
      body: e.body,
      contentHash: hash32(e.contentHash, `${at}: contentHash`, seq),
      prevHash: hash32(e.prevHash, `${at}: prevHash`, seq),
      linkHash: hash32(e.linkHash, `${at}: linkHash`, seq),
      proof: hashList(e.inclusionProof, `${at}: inclusionProof`, seq),
    };
  });

  const out: Parsed = { sgtin: item.sgtin, headSeq: item.headSeq, checkpoint: b.checkpoint, events };
  if (b.consistency !== undefined) {
    const c = b.consistency;
    if (!isRecord(c)) throw new ShapeError('consistency is not an object', null);
    if (!isCount(c.fromSize)) throw new ShapeError('consistency.fromSize is missing or not a non-negative integer', null);
    out.consistency = { fromSize: c.fromSize, proof: hashList(c.proof, 'consistency.proof', null) };
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Checkpoints

/** `name+hex8(keyId)` of every signature line of a note, for messages only (best effort, never throws). */
function noteSigners(note: string): string[] {
  const split = note.lastIndexOf('\n\n');
  if (split < 0) return [];
  const out: string[] = [];
  for (const line of note.slice(split + 2).split('\n')) {
    const m = /^\u2014 (\S+) (\S+)$/.exec(line);
    if (!m) continue;
    const blob = decodeBase64(m[2]!, false);
    out.push(blob && blob.length >= 4 ? `${m[1]}+${toHex(blob.subarray(0, 4))}` : m[1]!);
  }
  return out;
}

type OpenedCheckpoint = { origin: string; size: number; rootHash: Uint8Array };

function openCheckpoint(
  note: string,
  keys: readonly string[],
  what: string,
): { ok: true; value: OpenedCheckpoint } | { ok: false; check: BundleCheck; message: string } {
  if (keys.length === 0) return { ok: false, check: 'signature', message: `no verifier keys given to check the ${what}` };
  const n = verifyNote(note, keys);
  if (!n.ok) {
    if (n.error === 'note has no verifiable signatures') {
      const signers = noteSigners(note);
      return {
        ok: false,
        check: 'signature',
        message: `${what} is not signed by any trusted key (signed by ${signers.length ? signers.join(', ') : 'nobody'}; trusted: ${keys.map((k) => k.split('+').slice(0, 2).join('+')).join(', ')})`,
      };
    }
    return { ok: false, check: 'signature', message: `${what}: ${n.error}` };
  }
  const c = parseCheckpoint(n.value.text);
  if (!c.ok) return { ok: false, check: 'checkpoint', message: `${what} is not a valid checkpoint: ${c.error}` };
  return { ok: true, value: c.value };
}

// ---------------------------------------------------------------------------------------------------------------
// Verification

type EventBodyLike = { kind?: unknown; items?: unknown };

/**
 * Verifies a proof bundle offline against the auditor's trusted log verifier keys. Reports the first failure:
 * shape, checkpoint signature and syntax, completeness of seqs 0..headSeq, then per event in seq order its content
 * hash, body, chain link and inclusion in the checkpoint, then (with `previousCheckpoint`) that the log only grew.
 */
export function verifyBundle(
  bundle: unknown,
  opts: { verifierKeys: string[]; previousCheckpoint?: string },
): BundleVerification {
  const itemOf = (): string => {
    const it = isRecord(bundle) && isRecord(bundle.item) ? bundle.item.sgtin : undefined;
    return typeof it === 'string' ? it : '(unknown item)';
  };
  const fail = (check: BundleCheck, seq: number | null, message: string): BundleVerification => ({
    ok: false,
    failure: { item: itemOf(), seq, check, message },
  });

  // 1. Shape.
  let b: Parsed;
  try {
    b = parseShape(bundle);
  } catch (e) {
    if (e instanceof ShapeError) return fail('format', e.seq, e.message);
    return fail('format', null, `malformed bundle: ${(e as Error).message}`);
  }
  const { sgtin } = b;

  // 2. Checkpoint signature and syntax.
  const keys = opts.verifierKeys;
  const cp = openCheckpoint(b.checkpoint, keys, 'bundle checkpoint');
  if (!cp.ok) return fail(cp.check, null, cp.message);
  const { size: treeSize, rootHash: root } = cp.value;

  // 3. Completeness: seqs 0..headSeq, each exactly once.
  const events = [...b.events].sort((x, y) => x.seq - y.seq);
  for (let i = 1; i < events.length; i++) {
    if (events[i]!.seq === events[i - 1]!.seq) return fail('chain', events[i]!.seq, `event seq ${events[i]!.seq} appears more than once`);
  }
  for (let i = 0; i < events.length; i++) {
    const seq = events[i]!.seq;
    if (seq > b.headSeq) {
      return fail('completeness', seq, `event seq ${seq} is beyond the item's headSeq ${b.headSeq}`);
    }
    if (seq !== i) {
      return fail('completeness', i, `event seq ${i} is missing (the next event in the bundle is seq ${seq})`);
    }
  }
  if (events.length !== b.headSeq + 1) {
    const n = events.length;
    return fail(
      'completeness',
      n,
      n === 0
        ? `bundle has no events; expected seqs 0..${b.headSeq}`
        : `event seq ${n} is missing: the bundle ends at seq ${n - 1} but the item's headSeq is ${b.headSeq}`,
    );
  }

  // 4. Each event: content, body, chain link, inclusion, log order.
  let prev: Uint8Array = ZERO_HASH;
  let prevLeaf = -1;
  for (const e of events) {
    const seq = e.seq;
    const computed = contentHashOf(e.body);
    if (!bytesEqual(computed, e.contentHash)) {
      return fail('content', seq, `body hashes to ${toHex(computed)} but contentHash is ${toHex(e.contentHash)}`);
    }
    let body: unknown;
    try {
      body = JSON.parse(e.body);
    } catch {
      return fail('content', seq, 'body is not valid JSON');
    }
    let canonical: string | undefined;
    try {
      canonical = canonicalize(body);
    } catch {
      canonical = undefined;
    }
    if (canonical !== e.body) return fail('content', seq, 'body is not in canonical JSON (RFC 8785) form');
    if (!isRecord(body)) return fail('content', seq, 'body is not a JSON object');
    const { kind, items } = body as EventBodyLike;
    if (typeof kind !== 'string' || !(LEDGER_KINDS as readonly string[]).includes(kind)) {
      return fail('content', seq, `body has unknown event kind ${JSON.stringify(kind ?? null)}`);
    }
    if (!Array.isArray(items) || !items.includes(sgtin)) return fail('content', seq, `body's items do not include ${sgtin}`);
    if (seq === 0 && kind !== 'COMMISSION') return fail('chain', seq, `chain starts with ${kind}, expected COMMISSION`);
    if (seq > 0 && kind === 'COMMISSION') return fail('chain', seq, 'COMMISSION after the start of the chain');
    if (!bytesEqual(e.prevHash, prev)) {
      return fail(
        'chain',
        seq,
        seq === 0
          ? `prevHash is ${toHex(e.prevHash)}, expected 32 zero bytes for seq 0`
          : `prevHash ${toHex(e.prevHash)} does not equal the linkHash of seq ${seq - 1} (${toHex(prev)})`,
      );
    }
    const link = linkHash(prev, e.contentHash, sgtin, seq);
    if (!bytesEqual(link, e.linkHash)) {
      return fail('chain', seq, `linkHash ${toHex(e.linkHash)} does not match the computed ${toHex(link)}`);
    }
    if (e.leafIndex >= treeSize) {
      return fail('inclusion', seq, `leafIndex ${e.leafIndex} is not in the checkpoint's tree of size ${treeSize}`);
    }
    const inc = verifyInclusion(leafHash(e.contentHash), e.leafIndex, treeSize, e.proof, root);
    if (!inc.ok) {
      return fail('inclusion', seq, `event is not proven at leaf ${e.leafIndex} of the checkpoint's tree of size ${treeSize}: ${inc.error}`);
    }
    if (e.leafIndex <= prevLeaf) {
      return fail('chain', seq, `leafIndex ${e.leafIndex} is not after leafIndex ${prevLeaf} of seq ${seq - 1}: events are out of log order`);
    }
    prev = e.linkHash;
    prevLeaf = e.leafIndex;
  }

  // 5. The checkpoint extends the one the auditor kept.
  if (b.consistency && b.consistency.fromSize > treeSize) {
    return fail('consistency', null, `consistency.fromSize ${b.consistency.fromSize} is larger than the checkpoint's tree size ${treeSize}`);
  }
  if (opts.previousCheckpoint !== undefined) {
    const pc = openCheckpoint(opts.previousCheckpoint, keys, 'previous checkpoint');
    if (!pc.ok) return fail(pc.check, null, pc.message);
    const p = pc.value;
    if (p.origin !== cp.value.origin) {
      return fail('checkpoint', null, `previous checkpoint is for log ${JSON.stringify(p.origin)}, bundle checkpoint for ${JSON.stringify(cp.value.origin)}`);
    }
    if (p.size > treeSize) {
      return fail('consistency', null, `bundle checkpoint is older than the previous one (tree size ${treeSize} < ${p.size})`);
    }
    if (p.size === treeSize) {
      if (!bytesEqual(p.rootHash, root)) {
        return fail(
          'consistency',
          null,
          `the log was rewritten: previous checkpoint has the same tree size ${treeSize} but root ${toHex(p.rootHash)}, bundle checkpoint root ${toHex(root)}`,
        );
      }
    } else if (p.size > 0) {
      const c = b.consistency;
      if (!c) return fail('consistency', null, `bundle has no consistency proof from the previous checkpoint's tree size ${p.size} to ${treeSize}`);
      if (c.fromSize !== p.size) {
        return fail('consistency', null, `consistency proof is from tree size ${c.fromSize}, but the previous checkpoint has tree size ${p.size}`);
      }
      const r = verifyConsistency(p.size, treeSize, c.proof, p.rootHash, root);
      if (!r.ok) {
        return fail('consistency', null, `the log was rewritten: tree size ${treeSize} is not an extension of the previous checkpoint's tree size ${p.size} (${r.error})`);
      }
    }
  }

  return { ok: true, treeSize, rootHash: root, length: events.length };
}

// ---------------------------------------------------------------------------------------------------------------
// Building (for servers and tests)

export interface BundleSourceEvent {
  seq: number;
  leafIndex: number;
  body: string;
  contentHash: Uint8Array;
  prevHash: Uint8Array;
  linkHash: Uint8Array;
}

/**
 * Assembles a bundle from an item's links, a signed checkpoint and the log's stored complete subtrees (`nodes`
 * must hold every node the proofs need: see `inclusionProofNodes` / `consistencyProofNodes`). headSeq defaults
 * to the highest seq given. Throws on a checkpoint note that does not parse, or a missing node (programming errors).
 */
export function buildBundle(input: {
  sgtin: string;
  digitalLink: string;
  verifierKey: string;
  checkpoint: string;
  events: readonly BundleSourceEvent[];
  nodes: NodeSource;
  headSeq?: number;
  consistencyFromSize?: number;
}): ProofBundle {
  const split = input.checkpoint.lastIndexOf('\n\n');
  const cp = parseCheckpoint(split < 0 ? input.checkpoint : input.checkpoint.slice(0, split + 1));
  if (!cp.ok) throw new RangeError(`buildBundle: ${cp.error}`);
  const size = cp.value.size;
  const events = [...input.events].sort((a, b) => a.seq - b.seq);
  const bundle: ProofBundle = {
    format: BUNDLE_FORMAT,
    item: { sgtin: input.sgtin, digitalLink: input.digitalLink, headSeq: input.headSeq ?? (events.at(-1)?.seq ?? 0) },
    verifierKey: input.verifierKey,
    checkpoint: input.checkpoint,
    events: events.map((e) => ({
      seq: e.seq,
      leafIndex: e.leafIndex,
      body: e.body,
      contentHash: toHex(e.contentHash),
      prevHash: toHex(e.prevHash),
      linkHash: toHex(e.linkHash),
      inclusionProof: buildProof(inclusionProofNodes(e.leafIndex, size), input.nodes).map(toHex),
    })),
  };
  const from = input.consistencyFromSize;
  if (from !== undefined && from > 0 && from < size) {
    bundle.consistency = { fromSize: from, proof: buildProof(consistencyProofNodes(from, size), input.nodes).map(toHex) };
  }
  return bundle;
}
