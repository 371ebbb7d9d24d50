/**
 * A deterministic in-memory ledger that writes format v2 (and v1, for mixed chains) exactly as a server would:
 * log leaves and nodes, item chains with salted entries, items trees, the head map, signed checkpoints with the
 * heads line. Used by the vector generator, the bench and the tests; not part of the server.
 */
import { hash } from 'node:crypto';
import { toHex, utf8 } from '../src/core/bytes.ts';
import { type EventBody, ZERO_HASH, canonicalEventBody, contentHashOf, linkHash } from '../src/core/chain.ts';
import { encodeBase64, formatCheckpoint, publicKeyFromPrivate, signNote, verifierKeyString } from '../src/core/checkpoint.ts';
import { digitalLink, gs1CheckDigit, parseSgtinUrn, sgtinUrn } from '../src/core/identifiers.ts';
import { type LedgerKind, type Stage, ruleFor } from '../src/core/lifecycle.ts';
import { appendLeaves, leafHash, nodeKey, rootFromNodes } from '../src/core/merkle.ts';
import { type BuildEventInput, type ProofBundleV2, buildBundleV2 } from '../src/core/v2/bundle-v2.ts';
import type { Tier } from '../src/core/v2/disclosure.ts';
import { type FullEventV2, type KindV2, hashEventV2, linkHashV2, signContentHash } from '../src/core/v2/event-v2.ts';
import type { JsonValue } from '../src/core/v2/fields.ts';
import type { Sha256 } from '../src/core/v2/hash.ts';
import { type Head, MemoryHeadMapStore, headKey, headValue, headsExtension, proveHead, updateHeadMap } from '../src/core/v2/head-map.ts';
import { type ItemEntryOpening, type ItemTree, buildItemTree, itemEntry, noItemsRoot } from '../src/core/v2/item-tree.ts';
import { type ItemStatement, buildItemStatement } from '../src/core/v2/statement.ts';

/** Node's one-shot native SHA-256 (crypto.hash, Node ≥ 20.12). */
export const nativeSha256: Sha256 = (d) => {
  const b = hash('sha256', d, 'buffer') as unknown as Uint8Array;
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
};

export const GTIN = (() => {
  const d = '0950600013435';
  return d + String(gs1CheckDigit(d));
})();
export const sgtinOf = (serial: string): string => sgtinUrn(GTIN, 7, serial);
export const digitalLinkOf = (sgtin: string): string => {
  const p = parseSgtinUrn(sgtin);
  if (!p.ok) throw new Error(p.error);
  return digitalLink(p.value.gtin14, p.value.serial);
};

type ChainRec =
  | { version: 1; seq: number; leafIndex: number; body: string; prevHash: Uint8Array; linkHash: Uint8Array }
  | { version: 2; seq: number; leafIndex: number; event: FullEventV2; entry: ItemEntryOpening; tree: ItemTree; index: number; padKey: Uint8Array };

interface ItemRec {
  chain: ChainRec[];
  link: Uint8Array | null;
  stage: Stage;
  recalled: boolean;
}

export class LedgerSim {
  readonly origin: string;
  readonly verifierKey: string;
  private counter = 0;
  private minute = 0;
  readonly nodes = new Map<string, Uint8Array>();
  size = 0;
  readonly heads = new MemoryHeadMapStore();
  headsRoot: Uint8Array = new Uint8Array(32);
  readonly items = new Map<string, ItemRec>();
  readonly erasures: { leafIndex: number; event: FullEventV2; contentHash: string }[] = [];
  /** Full v2 events by content hash (hex), as the server stores them (values and salts beside the body). */
  readonly events = new Map<string, { event: FullEventV2; leafIndex: number }>();

  constructor(
    readonly seed: string,
    readonly logSeed: Uint8Array,
    origin = 'ledger.provenant.example/log',
    readonly sha256: Sha256 = nativeSha256,
  ) {
    this.origin = origin;
    this.verifierKey = verifierKeyString(origin, publicKeyFromPrivate(logSeed));
  }

  /** Deterministic bytes: SHA-256(seed || counter), concatenated. */
  rand(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let o = 0; o < n; o += 32) out.set(this.sha256(utf8(`${this.seed}/${this.counter++}`)).subarray(0, Math.min(32, n - o)), o);
    return out;
  }

  private times(): { occurredAt: string; timezoneOffset: string; recordedAt: string } {
    const t = Date.UTC(2026, 2, 1, 8, 0, 0) + this.minute++ * 7 * 60_000;
    return { occurredAt: new Date(t).toISOString(), timezoneOffset: '+01:00', recordedAt: new Date(t + 1234).toISOString() };
  }

  private append(contentHash: Uint8Array): number {
    const r = appendLeaves(this.size, this.nodes, [leafHash(contentHash)]);
    for (const n of r.nodes) this.nodes.set(nodeKey(n.id), n.hash);
    this.size = r.size;
    return this.size - 1;
  }

  /** Appends `n` unrelated leaves (other items' events) so proofs have realistic lengths. */
  padLog(n: number): void {
    const leaves = Array.from({ length: n }, (_, i) => this.sha256(utf8(`${this.seed}/pad/${this.size + i}`)));
    const r = appendLeaves(this.size, this.nodes, leaves);
    for (const x of r.nodes) this.nodes.set(nodeKey(x.id), x.hash);
    this.size = r.size;
  }

  private item(sgtin: string): ItemRec {
    let it = this.items.get(sgtin);
    if (!it) {
      it = { chain: [], link: null, stage: 'MANUFACTURED', recalled: false };
      this.items.set(sgtin, it);
    }
    return it;
  }

  private advance(it: ItemRec, kind: LedgerKind): void {
    if (kind !== 'COMMISSION') it.stage = ruleFor(kind).to ?? it.stage;
    if (kind === 'RECALL') it.recalled = true;
  }

  private async updateHeads(sgtins: readonly string[]): Promise<void> {
    const updates = sgtins.map((s) => {
      const it = this.items.get(s)!;
      return { key: headKey(s, this.sha256), value: headValue(this.headOf(s, it), this.sha256) };
    });
    this.headsRoot = (await updateHeadMap(this.heads, updates, this.sha256)).root;
  }

  headOf(sgtin: string, it = this.items.get(sgtin)!): Head {
    return { seq: it.chain.length - 1, link: toHex(it.link!), stage: it.stage, recalled: it.recalled };
  }

  /** Records a v1 event (as written before format v2). */
  async recordV1(kind: LedgerKind, sgtins: string[], actor: string, data: { [k: string]: JsonValue } = {}, counterparty: string | null = null): Promise<Uint8Array> {
    const body: EventBody = { kind, actor, ...this.times(), location: null, counterparty, data, items: [...sgtins].sort() };
    const canonical = canonicalEventBody(body);
    const ch = contentHashOf(canonical);
    const leafIndex = this.append(ch);
    for (const s of sgtins) {
      const it = this.item(s);
      const prev = it.link ?? ZERO_HASH;
      const seq = it.chain.length;
      const link = linkHash(prev, ch, s, seq);
      it.chain.push({ version: 1, seq, leafIndex, body: canonical, prevHash: prev, linkHash: link });
      it.link = link;
      this.advance(it, kind);
    }
    await this.updateHeads(sgtins);
    return ch;
  }

  /** Records a v2 event over `sgtins` with committed `values` (salts drawn here); optionally signed by an actor. */
  async record(kind: LedgerKind, sgtins: string[], values: Record<string, JsonValue>, opts: { signerSeed?: Uint8Array } = {}): Promise<string> {
    const padKey = this.rand(32);
    const openings: ItemEntryOpening[] = [];
    const entries = sgtins.map((s) => {
      const it = this.item(s);
      const o = { prev: it.link ? toHex(it.link) : null, salt: toHex(this.rand(16)) };
      openings.push(o);
      return itemEntry(s, it.chain.length, o, this.sha256);
    });
    const tree = buildItemTree(entries, padKey, this.sha256);
    const event = this.makeEvent(kind, values, toHex(tree.root), opts.signerSeed);
    const ch = hashEventV2(event, this.sha256).contentHash;
    if (opts.signerSeed) event.signature = encodeBase64(signContentHash(ch, opts.signerSeed));
    const leafIndex = this.append(ch);
    this.events.set(toHex(ch), { event, leafIndex });
    sgtins.forEach((s, i) => {
      const it = this.items.get(s)!;
      it.chain.push({ version: 2, seq: it.chain.length, leafIndex, event, entry: openings[i]!, tree, index: i, padKey });
      it.link = linkHashV2(ch, entries[i]!, this.sha256);
      this.advance(it, kind);
    });
    await this.updateHeads(sgtins);
    return toHex(ch);
  }

  private makeEvent(kind: KindV2, values: Record<string, JsonValue>, items: string, signerSeed?: Uint8Array): FullEventV2 {
    const fields: FullEventV2['fields'] = {};
    for (const name of Object.keys(values).sort()) fields[name] = { value: values[name]!, salt: toHex(this.rand(16)) };
    const e: FullEventV2 = { kind, ...this.times(), fields, items };
    if (signerSeed) e.signer = toHex(publicKeyFromPrivate(signerSeed));
    return e;
  }

  /** Erases one field of an earlier v2 event: records the ERASE event, then deletes the value and salt. */
  erase(target: string, field: string, reason: string, actor: string): string {
    const t = this.events.get(target);
    if (!t) throw new Error(`no event ${target}`);
    const event = this.makeEvent('ERASE', { actor, field, reason, target }, toHex(noItemsRoot(this.sha256)));
    const ch = toHex(hashEventV2(event, this.sha256).contentHash);
    const leafIndex = this.append(hashEventV2(event, this.sha256).contentHash);
    this.erasures.push({ leafIndex, event, contentHash: ch });
    const f = t.event.fields[field];
    if (!f || !('value' in f)) throw new Error(`field ${field} is not erasable`);
    const commitment = hashEventV2(t.event, this.sha256).body.fields[field]!;
    t.event.fields[field] = { commitment, erased: ch };
    return ch;
  }

  /** The current signed checkpoint (with the heads line). */
  checkpoint(extensions?: string[]): string {
    const text = formatCheckpoint({ origin: this.origin, size: this.size, rootHash: rootFromNodes(this.size, this.nodes), extensions: extensions ?? [headsExtension(this.headsRoot)] });
    return signNote(text, this.origin, this.logSeed);
  }

  chainOf(sgtin: string): readonly ChainRec[] {
    return this.items.get(sgtin)!.chain;
  }

  async mapProof(sgtin: string): Promise<string[]> {
    const p = await proveHead(this.heads, headKey(sgtin, this.sha256));
    if (!p) throw new Error(`${sgtin} is not in the head map`);
    return p.siblings;
  }

  /** The item's bundle for a viewer tier at the current checkpoint. */
  async bundle(sgtin: string, viewer: Tier, opts: { consistencyFromSize?: number } = {}): Promise<ProofBundleV2> {
    const events: BuildEventInput[] = this.chainOf(sgtin).map((c) =>
      c.version === 1
        ? { version: 1, seq: c.seq, leafIndex: c.leafIndex, body: c.body, prevHash: c.prevHash, linkHash: c.linkHash }
        : { version: 2, seq: c.seq, leafIndex: c.leafIndex, event: c.event, entry: c.entry, itemProof: c.tree.proof(c.index) },
    );
    return buildBundleV2({
      sgtin,
      digitalLink: digitalLinkOf(sgtin),
      verifierKey: this.verifierKey,
      checkpoint: this.checkpoint(),
      head: this.headOf(sgtin),
      mapProof: await this.mapProof(sgtin),
      events,
      erasures: this.erasures,
      viewer,
      nodes: this.nodes,
      sha256: this.sha256,
      ...(opts.consistencyFromSize !== undefined ? { consistencyFromSize: opts.consistencyFromSize } : {}),
    });
  }

  async statement(sgtin: string): Promise<ItemStatement> {
    return buildItemStatement(sgtin, this.checkpoint(), this.headOf(sgtin), await this.mapProof(sgtin));
  }
}
