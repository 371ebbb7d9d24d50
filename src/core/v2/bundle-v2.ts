/**
 * Proof bundle v2 (docs/ledger-format.md §8–§9): one item's complete history up to a signed checkpoint, with
 * per-field disclosure, salted item entries proven in each event's items tree, and the item's head proven in the
 * head map whose root the checkpoint signs. `verifyBundleV2` never throws.
 */
import { bytesEqual, fromHex, toHex } from '../bytes.ts';
import { ZERO_HASH, contentHashOf, linkHash } from '../chain.ts';
import { decodeBase64, parseCheckpoint, verifyNote } from '../checkpoint.ts';
import { parseDigitalLink, parseSgtinUrn } from '../identifiers.ts';
import { canonicalize } from '../jcs.ts';
import { LEDGER_KINDS, type LedgerKind, STAGES, type Stage, ruleFor } from '../lifecycle.ts';
import { type NodeSource, buildProof, consistencyProofNodes, inclusionProofNodes, leafHash, verifyConsistency, verifyInclusion } from '../merkle.ts';
import { type Tier, type TierOverrides, discloseEvent, discloseExcept } from './disclosure.ts';
import { EVENT_FORMAT_V2, type EventBodyV2, type FullEventV2, bodyV2Error, contentHashV2, hashEventV2, linkHashV2, verifyActorSignature } from './event-v2.ts';
import { type FieldDisclosure, type JsonValue, opensField } from './fields.ts';
import { HEX16, HEX32, type Sha256, defaultSha256 } from './hash.ts';
import { HEADS_EXTENSION_PREFIX, type Head, foldHeadProof, headKey, headValue } from './head-map.ts';
import { type ItemEntryOpening, type ItemProof, buildItemTree, foldItemProof, itemEntry, noItemsRoot } from './item-tree.ts';

export const BUNDLE_FORMAT_V2 = 'provenant-proof-bundle/v2';

export interface BundleEventV2 {
  seq: number;
  leafIndex: number;
  /** Canonical body text exactly as hashed. */
  body: string;
  entry: ItemEntryOpening;
  itemProof: ItemProof;
  fields: Record<string, FieldDisclosure>;
  /** Base64 Ed25519 signature over the content hash, by body.signer. */
  signature?: string;
  inclusionProof: string[];
}

/** An event of the item's v1 prefix, as in bundle v1. */
export interface BundleEventV1 {
  seq: number;
  leafIndex: number;
  body: string;
  prevHash: string;
  linkHash: string;
  inclusionProof: string[];
}

export interface BundleErasure {
  leafIndex: number;
  body: string;
  fields: Record<string, FieldDisclosure>;
  inclusionProof: string[];
}

export interface ProofBundleV2 {
  format: typeof BUNDLE_FORMAT_V2;
  item: { sgtin: string; digitalLink: string };
  verifierKey: string;
  checkpoint: string;
  head: Head & { mapProof: string[] };
  events: (BundleEventV2 | BundleEventV1)[];
  erasures: BundleErasure[];
  consistency?: { fromSize: number; proof: string[] };
}

/** Named checks, in the order the verifier runs them. */
export const CHECKS_V2 = [
  'format', 'signature', 'checkpoint', 'content', 'fields', 'inclusion', 'item-entry', 'item-tree', 'chain', 'actor-signature', 'head', 'consistency',
] as const;
export type CheckV2 = (typeof CHECKS_V2)[number];

export type FailureV2 = { item: string; seq: number | null; check: CheckV2; message: string };

/** What a verified bundle proves about one event. */
export interface ProvenEvent {
  seq: number;
  version: 1 | 2;
  kind: LedgerKind;
  leafIndex: number;
  contentHash: string;
  /** Opened fields (v2), or the whole v1 body's data. */
  disclosed: Record<string, JsonValue>;
  withheld: string[];
  erased: { field: string; by: string; reason: JsonValue | null }[];
  /** The body names a signer and its Ed25519 signature over the content hash verified. */
  actorSigned: boolean;
}

export type BundleV2Verification =
  | {
      ok: true;
      sgtin: string;
      origin: string;
      treeSize: number;
      rootHash: Uint8Array;
      headsRoot: Uint8Array;
      head: Head;
      events: ProvenEvent[];
      /** One line: what was proven. */
      summary: string;
    }
  | { ok: false; failure: FailureV2 };

// ---------------------------------------------------------------------------------------------------------------
// Shape

class Fail extends Error {
  constructor(readonly check: CheckV2, readonly seq: number | null, message: string) {
    super(message);
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

function hexList(v: unknown, what: string, seq: number | null, max = 256): string[] {
  if (!Array.isArray(v) || v.length > max) throw new Fail('format', seq, `${what} is missing or not an array of at most ${max} hashes`);
  v.forEach((h, i) => {
    if (typeof h !== 'string' || !HEX32.test(h)) throw new Fail('format', seq, `${what}[${i}] is not 64 lowercase hex characters`);
  });
  return v as string[];
}

function fieldsShape(v: unknown, at: string, seq: number | null): Record<string, FieldDisclosure> {
  if (!isRecord(v)) throw new Fail('format', seq, `${at}: fields is missing or not an object`);
  for (const [name, d] of Object.entries(v)) {
    const ok =
      isRecord(d) &&
      ((Object.keys(d).length === 2 && 'value' in d && typeof d.salt === 'string' && HEX16.test(d.salt)) ||
        (Object.keys(d).length === 1 && d.withheld === true) ||
        (Object.keys(d).length === 1 && typeof d.erased === 'string' && HEX32.test(d.erased)));
    if (!ok) throw new Fail('format', seq, `${at}: field ${name} is not {value, salt: <32 hex>}, {withheld: true} or {erased: <64 hex>}`);
  }
  return v as Record<string, FieldDisclosure>;
}

function parseShape(b: unknown): ProofBundleV2 {
  if (!isRecord(b)) throw new Fail('format', null, 'bundle is not a JSON object');
  if (b.format !== BUNDLE_FORMAT_V2) throw new Fail('format', null, `unknown bundle format ${JSON.stringify(b.format ?? null)}, expected ${BUNDLE_FORMAT_V2}`);
  const item = b.item;
  if (!isRecord(item) || typeof item.sgtin !== 'string' || typeof item.digitalLink !== 'string') throw new Fail('format', null, 'item {sgtin, digitalLink} is missing');
  const s = parseSgtinUrn(item.sgtin);
  if (!s.ok) throw new Fail('format', null, `item.sgtin is not an SGTIN URN: ${s.error}`);
  const dl = parseDigitalLink(item.digitalLink);
  if (!dl.ok || dl.value.gtin14 !== s.value.gtin14 || dl.value.serial !== s.value.serial) {
    throw new Fail('format', null, `item.digitalLink ${JSON.stringify(item.digitalLink)} does not identify ${item.sgtin}`);
  }
  if (typeof b.verifierKey !== 'string') throw new Fail('format', null, 'verifierKey is missing or not a string');
  if (typeof b.checkpoint !== 'string' || b.checkpoint === '') throw new Fail('format', null, 'checkpoint is missing or not a string');
  headShape(b.head, 'head');
  if (!Array.isArray(b.events) || b.events.length === 0) throw new Fail('format', null, 'events is missing or empty');
  b.events.forEach((e: unknown, i) => {
    if (!isRecord(e) || !isCount(e.seq)) throw new Fail('format', null, `events[${i}] is not an object with a non-negative integer seq`);
    const seq = e.seq;
    const at = `event seq ${seq}`;
    if (!isCount(e.leafIndex)) throw new Fail('format', seq, `${at}: leafIndex is not a non-negative integer`);
    if (typeof e.body !== 'string') throw new Fail('format', seq, `${at}: body is not a string`);
    hexList(e.inclusionProof, `${at}: inclusionProof`, seq, 64);
    if ('entry' in e) {
      const en = e.entry;
      if (!isRecord(en) || !(en.prev === null || (typeof en.prev === 'string' && HEX32.test(en.prev))) || typeof en.salt !== 'string' || !HEX16.test(en.salt)) {
        throw new Fail('format', seq, `${at}: entry is not {prev: null | 64 hex, salt: 32 hex}`);
      }
      const p = e.itemProof;
      if (!isRecord(p) || !isCount(p.position)) throw new Fail('format', seq, `${at}: itemProof.position is not a non-negative integer`);
      hexList(p.siblings, `${at}: itemProof.siblings`, seq, 17);
      if ((p.siblings as unknown[]).length !== 17) throw new Fail('format', seq, `${at}: itemProof.siblings must hold exactly 17 hashes`);
      fieldsShape(e.fields, at, seq);
      if (e.signature !== undefined && typeof e.signature !== 'string') throw new Fail('format', seq, `${at}: signature is not a string`);
    } else {
      for (const k of ['prevHash', 'linkHash'] as const) {
        if (typeof e[k] !== 'string' || !HEX32.test(e[k] as string)) throw new Fail('format', seq, `${at}: a v1 event needs ${k} (64 hex); a v2 event needs entry`);
      }
    }
  });
  if (!Array.isArray(b.erasures)) throw new Fail('format', null, 'erasures is missing or not an array');
  b.erasures.forEach((x: unknown, i) => {
    const at = `erasures[${i}]`;
    if (!isRecord(x) || !isCount(x.leafIndex) || typeof x.body !== 'string') throw new Fail('format', null, `${at} is not {leafIndex, body, fields, inclusionProof}`);
    fieldsShape(x.fields, at, null);
    hexList(x.inclusionProof, `${at}.inclusionProof`, null, 64);
  });
  if (b.consistency !== undefined) {
    const c = b.consistency;
    if (!isRecord(c) || !isCount(c.fromSize)) throw new Fail('format', null, 'consistency.fromSize is not a non-negative integer');
    hexList(c.proof, 'consistency.proof', null, 128);
  }
  return b as unknown as ProofBundleV2;
}

function headShape(h: unknown, what: string): void {
  if (!isRecord(h) || !isCount(h.seq) || typeof h.link !== 'string' || !HEX32.test(h.link) || typeof h.recalled !== 'boolean') {
    throw new Fail('format', null, `${what} is not {seq, link (64 hex), stage, recalled, mapProof}`);
  }
  if (typeof h.stage !== 'string' || !(STAGES as readonly string[]).includes(h.stage)) throw new Fail('format', null, `${what}.stage ${JSON.stringify(h.stage ?? null)} is not a stage`);
  hexList(h.mapProof, `${what}.mapProof`, null);
}

// ---------------------------------------------------------------------------------------------------------------
// Checkpoint with the heads extension (shared with item statements)

export type OpenedCheckpointV2 = { origin: string; size: number; rootHash: Uint8Array; headsRoot: Uint8Array };

/** Opens a signed checkpoint and its `provenant-heads` line; throws Fail('signature' | 'checkpoint'). */
export function openCheckpointV2(note: string, keys: readonly string[], what = 'checkpoint'): OpenedCheckpointV2 {
  if (keys.length === 0) throw new Fail('signature', null, `no verifier keys given to check the ${what}`);
  const n = verifyNote(note, keys);
  if (!n.ok) throw new Fail('signature', null, `${what}: ${n.error}`);
  const c = parseCheckpoint(n.value.text);
  if (!c.ok) throw new Fail('checkpoint', null, `${what} is not a valid checkpoint: ${c.error}`);
  const heads = c.value.extensions.filter((l) => l.startsWith(HEADS_EXTENSION_PREFIX.trimEnd()));
  if (heads.length !== 1) throw new Fail('checkpoint', null, `${what} has ${heads.length} provenant-heads lines, expected exactly 1`);
  const root = heads[0]!.startsWith(HEADS_EXTENSION_PREFIX) ? decodeBase64(heads[0]!.slice(HEADS_EXTENSION_PREFIX.length)) : undefined;
  if (!root || root.length !== 32) throw new Fail('checkpoint', null, `${what}'s provenant-heads line is not "provenant-heads <base64 of 32 bytes>"`);
  return { origin: c.value.origin, size: c.value.size, rootHash: c.value.rootHash, headsRoot: root };
}

/** Checks a head against the heads root; throws Fail('head'). */
export function checkHeadProof(sgtin: string, head: Head & { mapProof: string[] }, headsRoot: Uint8Array, sha256: Sha256): void {
  const implied = foldHeadProof(headKey(sgtin, sha256), headValue(head, sha256), head.mapProof, sha256);
  if (!implied || !bytesEqual(implied, headsRoot)) {
    throw new Fail('head', null, `the head (seq ${head.seq}, stage ${head.stage}, ${head.recalled ? 'recalled' : 'not recalled'}) is not proven by the checkpoint's head map`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Verification


function parseCanonical(text: string, seq: number | null): Record<string, unknown> {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Fail('content', seq, 'body is not valid JSON');
  }
  let canonical: string | undefined;
  try {
    canonical = canonicalize(body);
  } catch {
    canonical = undefined;
  }
  if (canonical !== text) throw new Fail('content', seq, 'body is not in canonical JSON (RFC 8785) form');
  if (!isRecord(body)) throw new Fail('content', seq, 'body is not a JSON object');
  return body;
}

/**
 * Verifies a v2 bundle against the log verifier keys the reader trusts (and optionally a checkpoint it kept).
 * Order: format, signature, checkpoint; the referenced ERASE events (content, fields); then each event in list
 * order through content, fields, inclusion, item-entry, item-tree, chain, actor-signature; then head, consistency.
 * Reports the first failure with the event's seq. Never throws.
 */
export function verifyBundleV2(bundle: unknown, opts: { verifierKeys: readonly string[]; previousCheckpoint?: string; sha256?: Sha256 }): BundleV2Verification {
  const item = isRecord(bundle) && isRecord(bundle.item) && typeof bundle.item.sgtin === 'string' ? bundle.item.sgtin : '(unknown item)';
  try {
    return run(bundle, opts);
  } catch (e) {
    if (e instanceof Fail) return { ok: false, failure: { item, seq: e.seq, check: e.check, message: e.message } };
    return { ok: false, failure: { item, seq: null, check: 'format', message: `malformed bundle: ${(e as Error).message}` } };
  }
}

function run(bundle: unknown, opts: { verifierKeys: readonly string[]; previousCheckpoint?: string; sha256?: Sha256 }): BundleV2Verification {
  const sha256 = opts.sha256 ?? defaultSha256;
  // format
  const b = parseShape(bundle);
  const sgtin = b.item.sgtin;
  // signature, checkpoint
  const cp = openCheckpointV2(b.checkpoint, opts.verifierKeys, 'bundle checkpoint');

  // Erasures referenced by fields: content and fields first (they are needed to judge erased fields).
  const noItems = toHex(noItemsRoot(sha256));
  const erasures = b.erasures.map((x) => {
    const body = parseCanonical(x.body, null);
    const e = bodyV2Error(body);
    if (e) throw new Fail('content', null, `erasure at leaf ${x.leafIndex}: ${e}`);
    if (body.kind !== 'ERASE') throw new Fail('content', null, `erasure at leaf ${x.leafIndex} is a ${String(body.kind)} event, not ERASE`);
    if (body.items !== noItems) throw new Fail('content', null, `erasure at leaf ${x.leafIndex} has an items root other than the no-items constant`);
    const ev = { raw: x, body: body as unknown as EventBodyV2, contentHash: toHex(contentHashV2(x.body, sha256)) };
    openFields(ev.body, x.fields, null, `erasure at leaf ${x.leafIndex}`, sha256);
    return ev;
  });

  // Then every event in list order: content, fields, inclusion, item-entry, item-tree, chain, actor-signature.
  const proven: ProvenEvent[] = [];
  let prevLink: Uint8Array | null = null;
  let prevLeaf = -1;
  let stage: Stage = 'MANUFACTURED';
  let recalled = false;
  let seenV2 = false;
  let last: { seq: number; link: Uint8Array } | undefined;
  const included = (leafIndex: number, contentHash: Uint8Array, proof: string[], seq: number, what: string): void => {
    if (leafIndex >= cp.size) throw new Fail('inclusion', seq, `${what} leafIndex ${leafIndex} is not in the checkpoint's tree of size ${cp.size}`);
    const r = verifyInclusion(leafHash(contentHash), leafIndex, cp.size, proof.map((h) => fromHex(h)!), cp.rootHash);
    if (!r.ok) throw new Fail('inclusion', seq, `${what} is not proven at leaf ${leafIndex} of the checkpoint's tree: ${r.error}`);
  };
  for (let i = 0; i < b.events.length; i++) {
    const raw = b.events[i]!;
    const seq = raw.seq;
    // content
    const body = parseCanonical(raw.body, seq);
    let version: 1 | 2;
    let contentHash: Uint8Array;
    if ('entry' in raw) {
      const e = bodyV2Error(body);
      if (e) throw new Fail('content', seq, e);
      if (body.kind === 'ERASE') throw new Fail('content', seq, 'an ERASE event is not part of an item chain');
      version = 2;
      contentHash = contentHashV2(raw.body, sha256);
    } else {
      if (body.format !== undefined) throw new Fail('content', seq, 'a v2 body must come with entry, itemProof and fields');
      if (typeof body.kind !== 'string' || !(LEDGER_KINDS as readonly string[]).includes(body.kind)) {
        throw new Fail('content', seq, `body has unknown event kind ${JSON.stringify(body.kind ?? null)}`);
      }
      if (!Array.isArray(body.items) || !body.items.includes(sgtin)) throw new Fail('content', seq, `v1 body's items do not include ${sgtin}`);
      version = 1;
      contentHash = contentHashOf(raw.body);
    }
    const kind = body.kind as LedgerKind;
    const p: ProvenEvent = { seq, version, kind, leafIndex: raw.leafIndex, contentHash: toHex(contentHash), disclosed: {}, withheld: [], erased: [], actorSigned: false };
    proven.push(p);

    // fields
    const usedErasures: (typeof erasures)[number][] = [];
    if (version === 1) {
      const { items: _items, kind: _kind, ...rest } = body;
      p.disclosed = rest as Record<string, JsonValue>;
    } else {
      const r2 = raw as BundleEventV2;
      const b2 = body as unknown as EventBodyV2;
      const opened = openFields(b2, r2.fields, seq, `event seq ${seq}`, sha256);
      p.disclosed = opened.disclosed;
      p.withheld = opened.withheld;
      for (const [field, ref] of opened.erased) {
        const x = erasures.find((y) => y.contentHash === ref);
        if (!x) throw new Fail('fields', seq, `field ${field} is marked erased by ${ref}, which is not among the bundle's erasures`);
        const xd = x.raw.fields;
        const target = xd.target && 'value' in xd.target ? xd.target.value : undefined;
        const name = xd.field && 'value' in xd.field ? xd.field.value : undefined;
        if (target !== toHex(contentHash) || name !== field) {
          throw new Fail('fields', seq, `field ${field} is marked erased by ${ref}, but that ERASE event (opened target ${JSON.stringify(target ?? null)}, field ${JSON.stringify(name ?? null)}) does not erase this field of this event`);
        }
        usedErasures.push(x);
        p.erased.push({ field, by: ref, reason: xd.reason && 'value' in xd.reason ? xd.reason.value : null });
      }
    }

    // inclusion: the event, in log order after its predecessor, and every ERASE event its fields reference
    included(raw.leafIndex, contentHash, raw.inclusionProof, seq, 'event');
    if (raw.leafIndex <= prevLeaf) throw new Fail('inclusion', seq, `leafIndex ${raw.leafIndex} is not after the previous event's leaf ${prevLeaf}: events are out of log order`);
    prevLeaf = raw.leafIndex;
    for (const x of usedErasures) {
      included(x.raw.leafIndex, fromHex(x.contentHash)!, x.raw.inclusionProof, seq, 'ERASE event');
      if (x.raw.leafIndex <= raw.leafIndex) throw new Fail('inclusion', seq, 'the ERASE event precedes the event it erases in the log');
    }

    // item-entry, item-tree
    let link: Uint8Array;
    if (version === 1) {
      link = linkHash(prevLink ?? ZERO_HASH, contentHash, sgtin, seq);
    } else {
      const r2 = raw as BundleEventV2;
      const want = prevLink === null ? null : toHex(prevLink);
      if (r2.entry.prev !== want) {
        throw new Fail('item-entry', seq, `entry.prev is ${r2.entry.prev ?? 'null'}, but the previous link in the bundle is ${want ?? 'null (first event)'}`);
      }
      const entry = itemEntry(sgtin, seq, r2.entry, sha256);
      const root = foldItemProof(entry, r2.itemProof, sha256);
      if (!root || toHex(root) !== (body as unknown as EventBodyV2).items) {
        throw new Fail('item-tree', seq, `the item's entry (seq ${seq}, ${sgtin}) at position ${r2.itemProof.position} does not fold to the event's items root`);
      }
      link = linkHashV2(contentHash, entry, sha256);
    }

    // chain
    if (seq !== i) throw new Fail('chain', seq, `event seq ${seq} is at position ${i} of the chain: seqs must be 0, 1, 2, … in order`);
    if (i === 0 && kind !== 'COMMISSION') throw new Fail('chain', seq, `chain starts with ${kind}, expected COMMISSION`);
    if (i > 0 && kind === 'COMMISSION') throw new Fail('chain', seq, 'COMMISSION after the start of the chain');
    if (version === 2) seenV2 = true;
    else {
      if (seenV2) throw new Fail('chain', seq, 'a v1 event after a v2 event: v1 events may only form a prefix of the chain');
      const r1 = raw as BundleEventV1;
      if (r1.prevHash !== toHex(prevLink ?? ZERO_HASH)) throw new Fail('chain', seq, 'v1 prevHash does not equal the previous link hash');
      if (r1.linkHash !== toHex(link)) throw new Fail('chain', seq, `v1 linkHash does not match the computed ${toHex(link)}`);
    }
    if (i > 0) {
      const rule = ruleFor(kind);
      if (!rule.from.includes(stage)) throw new Fail('chain', seq, `${kind} cannot follow stage ${stage} (needs ${rule.from.join(' or ')})`);
      stage = rule.to ?? stage;
      if (kind === 'RECALL') recalled = true;
    }
    prevLink = link;
    last = { seq, link };

    // actor-signature
    if (version === 2) {
      const r2 = raw as BundleEventV2;
      const signer = (body as unknown as EventBodyV2).signer;
      if (signer === undefined) {
        if (r2.signature !== undefined) throw new Fail('actor-signature', seq, 'a signature is given but the body names no signer');
      } else {
        if (r2.signature === undefined) throw new Fail('actor-signature', seq, `the body names signer ${signer} but the bundle carries no signature`);
        const sig = decodeBase64(r2.signature);
        if (!sig || !verifyActorSignature(contentHash, sig, signer)) throw new Fail('actor-signature', seq, `the signature is not a valid Ed25519 signature by ${signer} over the content hash`);
        p.actorSigned = true;
      }
    }
  }

  // head: the map proof against the checkpoint's heads root, then the chain's end against the head
  checkHeadProof(sgtin, b.head, cp.headsRoot, sha256);
  const end = last!;
  if (b.head.seq !== end.seq) {
    throw new Fail('head', end.seq < b.head.seq ? end.seq + 1 : b.head.seq, `the head map says the item's latest event is seq ${b.head.seq}, the bundle ends at seq ${end.seq}: the history is ${end.seq < b.head.seq ? 'truncated' : 'longer than the head'}`);
  }
  if (b.head.link !== toHex(end.link)) throw new Fail('head', end.seq, `the head link ${b.head.link} is not the link of the bundle's last event (${toHex(end.link)})`);
  if (b.head.stage !== stage || b.head.recalled !== recalled) {
    throw new Fail('head', end.seq, `the head says ${b.head.stage}${b.head.recalled ? ', recalled' : ''}, the chain gives ${stage}${recalled ? ', recalled' : ''}`);
  }

  // consistency
  const extended = checkConsistency(b, cp, opts);

  const head: Head = { seq: b.head.seq, link: b.head.link, stage: b.head.stage, recalled: b.head.recalled };
  const withheld = proven.filter((p) => p.withheld.length).map((p) => `seq ${p.seq}: ${p.withheld.join(', ')}`);
  const erased = proven.filter((p) => p.erased.length).map((p) => `seq ${p.seq}: ${p.erased.map((x) => x.field).join(', ')}`);
  const signed = proven.filter((p) => p.actorSigned).map((p) => p.seq);
  const summary =
    `complete as of checkpoint ${cp.size} (tree size ${cp.size}) of ${cp.origin}: ${proven.length} event${proven.length === 1 ? '' : 's'}, ` +
    `head seq ${head.seq}, stage ${head.stage}, ${head.recalled ? 'recalled' : 'not recalled'}` +
    (withheld.length ? `; withheld ${withheld.join('; ')}` : '') +
    (erased.length ? `; erased ${erased.join('; ')}` : '') +
    (signed.length ? `; actor-signed seq ${signed.join(', ')}` : '') +
    (extended !== undefined ? `; the log extends the previous checkpoint (tree size ${extended})` : '');
  return { ok: true, sgtin, origin: cp.origin, treeSize: cp.size, rootHash: cp.rootHash, headsRoot: cp.headsRoot, head, events: proven, summary };
}

function openFields(
  body: EventBodyV2,
  fields: Record<string, FieldDisclosure>,
  seq: number | null,
  at: string,
  sha256: Sha256,
): { disclosed: Record<string, JsonValue>; withheld: string[]; erased: [string, string][] } {
  const names = Object.keys(body.fields).sort();
  const given = Object.keys(fields).sort();
  if (names.join('\n') !== given.join('\n')) {
    throw new Fail('fields', seq, `${at}: disclosed field names [${given.join(', ')}] differ from the body's committed fields [${names.join(', ')}]`);
  }
  const out = { disclosed: {} as Record<string, JsonValue>, withheld: [] as string[], erased: [] as [string, string][] };
  for (const name of names) {
    const d = fields[name]!;
    if ('withheld' in d) out.withheld.push(name);
    else if ('erased' in d) out.erased.push([name, d.erased]);
    else {
      if (!opensField(name, d.value, d.salt, body.fields[name]!, sha256)) throw new Fail('fields', seq, `${at}: the disclosed value and salt of field ${name} do not open its commitment`);
      out.disclosed[name] = d.value;
    }
  }
  return out;
}

/** Returns the previous checkpoint's tree size when one was given and the log is proven to extend it. */
function checkConsistency(b: ProofBundleV2, cp: OpenedCheckpointV2, opts: { verifierKeys: readonly string[]; previousCheckpoint?: string }): number | undefined {
  if (b.consistency && b.consistency.fromSize > cp.size) throw new Fail('consistency', null, `consistency.fromSize ${b.consistency.fromSize} exceeds the tree size ${cp.size}`);
  if (opts.previousCheckpoint === undefined) return undefined;
  const n = verifyNote(opts.previousCheckpoint, opts.verifierKeys);
  if (!n.ok) throw new Fail('signature', null, `previous checkpoint: ${n.error}`);
  const p = parseCheckpoint(n.value.text);
  if (!p.ok) throw new Fail('checkpoint', null, `previous checkpoint is not a valid checkpoint: ${p.error}`);
  if (p.value.origin !== cp.origin) throw new Fail('consistency', null, `previous checkpoint is for log ${JSON.stringify(p.value.origin)}, not ${JSON.stringify(cp.origin)}`);
  if (p.value.size > cp.size) throw new Fail('consistency', null, `bundle checkpoint (tree size ${cp.size}) is older than the previous one (${p.value.size})`);
  if (p.value.size === cp.size) {
    if (!bytesEqual(p.value.rootHash, cp.rootHash)) throw new Fail('consistency', null, `the log was rewritten: same tree size ${cp.size}, different roots`);
    return p.value.size;
  }
  if (p.value.size === 0) return 0;
  const c = b.consistency;
  if (!c || c.fromSize !== p.value.size) throw new Fail('consistency', null, `bundle has no consistency proof from the previous tree size ${p.value.size}`);
  const r = verifyConsistency(p.value.size, cp.size, c.proof.map((h) => fromHex(h)!), p.value.rootHash, cp.rootHash);
  if (!r.ok) throw new Fail('consistency', null, `the log was rewritten: tree size ${cp.size} does not extend ${p.value.size} (${r.error})`);
  return p.value.size;
}

export { Fail as CheckFailure };

// ---------------------------------------------------------------------------------------------------------------
// Building (servers and tests)

export type BuildEventInput =
  | { version: 1; seq: number; leafIndex: number; body: string; prevHash: Uint8Array; linkHash: Uint8Array }
  | {
      version: 2;
      seq: number;
      leafIndex: number;
      event: FullEventV2;
      entry: ItemEntryOpening;
      /** A precomputed proof, or the event's entries, its padKey and this item's index among the entries. */
      itemProof: ItemProof | { entries: readonly Uint8Array[]; padKey: Uint8Array; index: number };
    };

/**
 * Assembles a v2 bundle for a viewer tier from full event data. `erasures` must hold every ERASE event that
 * erased a field of these events (only referenced ones are included); `nodes` every log node the inclusion and
 * consistency proofs need. Throws RangeError on a checkpoint that does not parse or a missing erasure; Error on a
 * missing node (programming errors).
 */
export function buildBundleV2(input: {
  sgtin: string;
  digitalLink: string;
  verifierKey: string;
  checkpoint: string;
  head: Head;
  mapProof: string[];
  events: readonly BuildEventInput[];
  erasures?: readonly { leafIndex: number; event: FullEventV2 }[];
  viewer: Tier;
  overrides?: TierOverrides;
  /** Per event (by seq): the fields the server decided to withhold from this reader; replaces `viewer`/`overrides` for that event. */
  withheld?: (seq: number) => readonly string[] | undefined;
  nodes: NodeSource;
  consistencyFromSize?: number;
  /** 'withhold': an erased field whose ERASE event is not in `erasures` is shown withheld instead of throwing. */
  unprovenErasures?: 'throw' | 'withhold';
  sha256?: Sha256;
}): ProofBundleV2 {
  const sha256 = input.sha256 ?? defaultSha256;
  const split = input.checkpoint.lastIndexOf('\n\n');
  const cp = parseCheckpoint(split < 0 ? input.checkpoint : input.checkpoint.slice(0, split + 1));
  if (!cp.ok) throw new RangeError(`buildBundleV2: ${cp.error}`);
  const size = cp.value.size;
  const incl = (leaf: number): string[] => buildProof(inclusionProofNodes(leaf, size), input.nodes).map(toHex);
  const erasureByHash = new Map((input.erasures ?? []).map((x) => [toHex(hashEventV2(x.event, sha256).contentHash), x]));
  const used = new Set<string>();
  const events = [...input.events].sort((a, b) => a.seq - b.seq).map((e): BundleEventV2 | BundleEventV1 => {
    if (e.version === 1) {
      return { seq: e.seq, leafIndex: e.leafIndex, body: e.body, prevHash: toHex(e.prevHash), linkHash: toHex(e.linkHash), inclusionProof: incl(e.leafIndex) };
    }
    const { canonical } = hashEventV2(e.event, sha256);
    const decided = input.withheld?.(e.seq);
    const fields = decided ? discloseExcept(e.event, decided) : discloseEvent(e.event, input.viewer, input.overrides);
    for (const [name, d] of Object.entries(fields)) {
      if ('erased' in d) {
        if (!erasureByHash.has(d.erased)) {
          // An erasure not yet in the checkpoint's log cannot be proven: the field is shown withheld (§1 allows it).
          if (input.unprovenErasures === 'withhold') {
            fields[name] = { withheld: true };
            continue;
          }
          throw new RangeError(`buildBundleV2: erasure ${d.erased} not supplied`);
        }
        used.add(d.erased);
      }
    }
    const itemProof = 'position' in e.itemProof ? e.itemProof : buildItemTree(e.itemProof.entries, e.itemProof.padKey, sha256).proof(e.itemProof.index);
    const out: BundleEventV2 = { seq: e.seq, leafIndex: e.leafIndex, body: canonical, entry: { prev: e.entry.prev, salt: e.entry.salt }, itemProof, fields, inclusionProof: incl(e.leafIndex) };
    if (e.event.signature !== undefined) out.signature = e.event.signature;
    return out;
  });
  const erasures = [...used].map((h) => {
    const x = erasureByHash.get(h)!;
    return { leafIndex: x.leafIndex, body: hashEventV2(x.event, sha256).canonical, fields: discloseEvent(x.event, 'authorities'), inclusionProof: incl(x.leafIndex) };
  });
  erasures.sort((a, b) => a.leafIndex - b.leafIndex);
  const bundle: ProofBundleV2 = {
    format: BUNDLE_FORMAT_V2,
    item: { sgtin: input.sgtin, digitalLink: input.digitalLink },
    verifierKey: input.verifierKey,
    checkpoint: input.checkpoint,
    head: { seq: input.head.seq, link: input.head.link, stage: input.head.stage, recalled: input.head.recalled, mapProof: input.mapProof },
    events,
    erasures,
  };
  const from = input.consistencyFromSize;
  if (from !== undefined && from > 0 && from < size) {
    bundle.consistency = { fromSize: from, proof: buildProof(consistencyProofNodes(from, size), input.nodes).map(toHex) };
  }
  return bundle;
}

export { EVENT_FORMAT_V2 };
