/**
 * Server-side preparation of a v2 event (pure; randomness is injected): salts, entries, the items tree, the body,
 * the content hash and every item's new link and head. The server stores the result and logs `contentHash`;
 * for an actor-signed event it returns `canonical` and `contentHash` to the actor first (docs/ledger-format.md §13).
 */
import { toHex } from '../bytes.ts';
import type { Stage } from '../lifecycle.ts';
import { type FullEventV2, type KindV2, type EventBodyV2, hashEventV2 } from './event-v2.ts';
import type { JsonValue } from './fields.ts';
import { DOMAIN, type Sha256, cat, defaultSha256 } from './hash.ts';
import { type Head, headKey, headValue } from './head-map.ts';
import { type ItemEntryOpening, type ItemTree, buildItemTree, itemEntry, noItemsRoot } from './item-tree.ts';

/** Cryptographically secure random bytes (the server passes crypto.getRandomValues; tests a seeded generator). */
export type RandomBytes = (n: number) => Uint8Array;

export interface PrepareInput {
  kind: KindV2;
  occurredAt: string;
  timezoneOffset: string;
  recordedAt: string;
  /** Field name → value; absent fields omitted. */
  values: Record<string, JsonValue>;
  /** Each covered item with its next seq and its current head link (hex, null before COMMISSION). */
  items: readonly { sgtin: string; seq: number; prev: string | null }[];
  /** Hex Ed25519 public key of the actor that will sign the content hash. */
  signer?: string;
}

export interface PreparedItem {
  sgtin: string;
  seq: number;
  entry: ItemEntryOpening;
  /** Hex entry hash, and the item's new link hash. */
  entryHash: string;
  link: string;
}

export interface PreparedEvent {
  event: FullEventV2;
  body: EventBodyV2;
  canonical: string;
  contentHash: string;
  /** Hex; secret (never disclosed); keep it to rebuild item proofs, or store the proofs. */
  padKey: string;
  /** Per item, as hex strings (built on first read: a server writing 100,000 items reads the byte forms below). */
  items: PreparedItem[];
  /** items[i]'s entry salt (hex), entry hash and new link hash (32 bytes each), without the per-item objects. */
  salts: readonly string[];
  entryHashes: readonly Uint8Array[];
  linkHashes: readonly Uint8Array[];
  /** The built tree (proof(i) for items[i]); undefined for ERASE. */
  tree?: ItemTree;
}

/**
 * Prepares a v2 event. Throws RangeError on 0 or more than 2^17 items for an item-covering kind, items given to
 * ERASE, a duplicate item, bad field names; TypeError on non-JSON values.
 */
export function prepareEventV2(input: PrepareInput, random: RandomBytes, sha256: Sha256 = defaultSha256): PreparedEvent {
  const isErase = input.kind === 'ERASE';
  if (isErase && input.items.length > 0) throw new RangeError('an ERASE event covers no items');
  if (new Set(input.items.map((i) => i.sgtin)).size !== input.items.length) throw new RangeError('an item appears twice in one event');
  const fields: FullEventV2['fields'] = {};
  for (const name of Object.keys(input.values).sort()) fields[name] = { value: input.values[name]!, salt: toHex(random16(random)) };
  const padKey = random(32);
  if (padKey.length !== 32) throw new RangeError('random(32) did not return 32 bytes');
  const openings = input.items.map((i) => ({ prev: i.prev, salt: toHex(random16(random)) }));
  const entries = input.items.map((i, k) => itemEntry(i.sgtin, i.seq, openings[k]!, sha256));
  const tree = isErase ? undefined : buildItemTree(entries, padKey, sha256);
  const event: FullEventV2 = {
    kind: input.kind,
    occurredAt: input.occurredAt,
    timezoneOffset: input.timezoneOffset,
    recordedAt: input.recordedAt,
    fields,
    items: toHex(tree ? tree.root : noItemsRoot(sha256)),
  };
  if (input.signer !== undefined) event.signer = input.signer;
  const { body, canonical, contentHash } = hashEventV2(event, sha256);
  // linkHashV2 for every entry over one reused input buffer (domain and content hash written once).
  const linkInput = cat(DOMAIN.link, contentHash, new Uint8Array(32));
  const entryAt = linkInput.length - 32;
  const linkHashes = entries.map((e) => {
    linkInput.set(e, entryAt);
    return sha256(linkInput);
  });
  let items: PreparedItem[] | undefined;
  const out: PreparedEvent = {
    event, body, canonical, contentHash: toHex(contentHash), padKey: toHex(padKey),
    get items() {
      items ??= input.items.map((i, k) => ({ sgtin: i.sgtin, seq: i.seq, entry: openings[k]!, entryHash: toHex(entries[k]!), link: toHex(linkHashes[k]!) }));
      return items;
    },
    salts: openings.map((o) => o.salt),
    entryHashes: entries,
    linkHashes,
  };
  if (tree) out.tree = tree;
  return out;
}

function random16(random: RandomBytes): Uint8Array {
  const b = random(16);
  if (b.length !== 16) throw new RangeError('random(16) did not return 16 bytes');
  return b;
}

/**
 * The ERASE event for one field of an earlier event (`target` = its hex content hash). Its fields are all public by
 * default. After logging it, the server deletes the target field's value and salt and keeps
 * `{commitment, erased: <ERASE content hash>}`.
 */
export function prepareEraseV2(
  input: { target: string; field: string; reason: string; actor: string; occurredAt: string; timezoneOffset: string; recordedAt: string },
  random: RandomBytes,
  sha256: Sha256 = defaultSha256,
): PreparedEvent {
  const { target, field, reason, actor, ...times } = input;
  return prepareEventV2({ kind: 'ERASE', ...times, values: { actor, field, reason, target }, items: [] }, random, sha256);
}

/** Head-map updates for items whose heads moved (the integrator applies them in one batch per checkpoint). */
export function headUpdates(heads: readonly { sgtin: string; head: Head }[], sha256: Sha256 = defaultSha256): { key: Uint8Array; value: Uint8Array }[] {
  return heads.map((h) => ({ key: headKey(h.sgtin, sha256), value: headValue(h.head, sha256) }));
}

/** The head after an event: stage per the lifecycle (`to`, or unchanged), recalled once a RECALL is seen. */
export function nextHead(prev: { stage: Stage; recalled: boolean } | null, kind: KindV2, seq: number, link: string, to: Stage | null): Head {
  return { seq, link, stage: to ?? prev?.stage ?? 'MANUFACTURED', recalled: (prev?.recalled ?? false) || kind === 'RECALL' };
}

