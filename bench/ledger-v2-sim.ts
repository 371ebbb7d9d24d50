/**
 * A deterministic in-memory ledger that writes format v2 (and v1, for mixed chains) exactly as a server would:
 * log leaves and nodes, item chains with salted entries, items trees, the head map, signed checkpoints with the
 * heads line. Used by the vector generator, the bench and the tests; not part of the server.
 */
import { hash } from 'node:crypto';
import { fromHex, toHex, utf8 } from '../src/core/bytes.ts';
import { type EventBody, ZERO_HASH, canonicalEventBody, contentHashOf, linkHash } from '../src/core/chain.ts';
import { encodeBase64, formatCheckpoint, publicKeyFromPrivate, signNote, verifierKeyString } from '../src/core/checkpoint.ts';
import { digitalLink, gs1CheckDigit, parseSgtinUrn, sgtinUrn } from '../src/core/identifiers.ts';
import { type LedgerKind, type Stage, ruleFor } from '../src/core/lifecycle.ts';
import { appendLeaves, leafHash, nodeKey, rootFromNodes } from '../src/core/merkle.ts';
import { type BuildEventInput, type ProofBundleV2, buildBundleV2 } from '../src/core/v2/bundle-v2.ts';
import type { Tier } from '../src/core/v2/disclosure.ts';
import { type FullEventV2, hashEventV2, signContentHash } from '../src/core/v2/event-v2.ts';
import { prepareEraseV2, prepareEventV2 } from '../src/core/v2/prepare.ts';
import type { JsonValue } from '../src/core/v2/fields.ts';
import type { Sha256 } from '../src/core/v2/hash.ts';
import { type Head, MemoryHeadMapStore, headKey, headValue, headsExtension, proveHead, updateHeadMap } from '../src/core/v2/head-map.ts';
import type { ItemEntryOpening, ItemTree } from '../src/core/v2/item-tree.ts';
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

  /** Records a v2 event over `sgtins` with committed `values` (through prepareEventV2, as a server does). */
  async record(kind: LedgerKind, sgtins: string[], values: Record<string, JsonValue>, opts: { signerSeed?: Uint8Array } = {}): Promise<string> {
    const items = sgtins.map((s) => {
      const it = this.item(s);
      return { sgtin: s, seq: it.chain.length, prev: it.link ? toHex(it.link) : null };
    });
    const prep = prepareEventV2(
      { kind, ...this.times(), values, items, ...(opts.signerSeed ? { signer: toHex(publicKeyFromPrivate(opts.signerSeed)) } : {}) },
      (n) => this.rand(n),
      this.sha256,
    );
    const ch = fromHex(prep.contentHash)!;
    const event = prep.event;
    if (opts.signerSeed) event.signature = encodeBase64(signContentHash(ch, opts.signerSeed));
    const leafIndex = this.append(ch);
    this.events.set(prep.contentHash, { event, leafIndex });
    const padKey = fromHex(prep.padKey)!;
    prep.items.forEach((p, i) => {
      const it = this.items.get(p.sgtin)!;
      it.chain.push({ version: 2, seq: p.seq, leafIndex, event, entry: p.entry, tree: prep.tree!, index: i, padKey });
      it.link = fromHex(p.link)!;
      this.advance(it, kind);
    });
    await this.updateHeads(sgtins);
    return prep.contentHash;
  }

  /** Erases one field of an earlier v2 event: records the ERASE event, then deletes the value and salt. */
  erase(target: string, field: string, reason: string, actor: string): string {
    const t = this.events.get(target);
    if (!t) throw new Error(`no event ${target}`);
    const prep = prepareEraseV2({ target, field, reason, actor, ...this.times() }, (n) => this.rand(n), this.sha256);
    const leafIndex = this.append(fromHex(prep.contentHash)!);
    this.erasures.push({ leafIndex, event: prep.event, contentHash: prep.contentHash });
    const f = t.event.fields[field];
    if (!f || !('value' in f)) throw new Error(`field ${field} is not erasable`);
    const commitment = hashEventV2(t.event, this.sha256).body.fields[field]!;
    t.event.fields[field] = { commitment, erased: prep.contentHash };
    return prep.contentHash;
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
