/**
 * Generates test/vectors/ledger-v2/: golden bundles and item statements, and corrupted probes (transparency-dev
 * style `{desc, bundle, verifierKeys, previousCheckpoint?, want}`), from fixed seeds — byte-for-byte reproducible.
 *
 *   node bin/run-ts.mjs bench/gen-ledger-v2-vectors.ts      # rewrites the directory
 *
 * test/core/ledger-v2-vectors.test.ts checks the committed files equal this output.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fromHex, toHex } from '../src/core/bytes.ts';
import { ZERO_HASH, linkHash } from '../src/core/chain.ts';
import { encodeBase64, publicKeyFromPrivate, signNote, verifierKeyString } from '../src/core/checkpoint.ts';
import { canonicalize } from '../src/core/jcs.ts';
import type { BundleEventV1, BundleEventV2, ProofBundleV2 } from '../src/core/v2/bundle-v2.ts';
import { contentHashOf } from '../src/core/chain.ts';
import { contentHashV2, linkHashV2, signContentHash } from '../src/core/v2/event-v2.ts';
import { itemEntry, padHash } from '../src/core/v2/item-tree.ts';
import { headsExtension } from '../src/core/v2/head-map.ts';
import { LedgerSim, sgtinOf } from './ledger-v2-sim.ts';

const seed = (n: number): Uint8Array => Uint8Array.from({ length: 32 }, (_, i) => (n * 31 + i * 7 + 1) & 0xff);
export const LOG_SEED = seed(1);
const OTHER_LOG_SEED = seed(2);
const MAKER_SEED = seed(3);
const DIST_SEED = seed(4);
const SHOP_SEED = seed(5);
const ATTACKER_SEED = seed(6);
const ORIGIN = 'ledger.provenant.example/log';
export const VERIFIER_KEY = verifierKeyString(ORIGIN, publicKeyFromPrivate(LOG_SEED));
const KEYS = [VERIFIER_KEY];

const MAKER = 'act_maker';
const DIST = 'act_dist';
const SHOP = 'act_shop';
const OWNER = 'act_consumer_7f3a';
const SERVICER = 'act_servicer';
const RECYCLER = 'act_recycler';
const OPERATOR = 'act_operator';
const SITE = 'urn:epc:id:sgln:9506000.00001.0';

export type Want = { ok: true; summary: string } | { ok: false; check: string; seq: number | null };
export interface Vector {
  desc: string;
  bundle: unknown;
  verifierKeys: string[];
  previousCheckpoint?: string;
  want: Want;
}

const clone = <T>(x: T): T => structuredClone(x);
const v2 = (b: ProofBundleV2, seq: number): BundleEventV2 => b.events.find((e) => e.seq === seq) as BundleEventV2;
const editBody = (e: { body: string }, f: (b: Record<string, any>) => void): void => {
  const b = JSON.parse(e.body) as Record<string, any>;
  f(b);
  e.body = canonicalize(b);
};
const flipHex = (h: string): string => (h[0] === '0' ? '1' : '0') + h.slice(1);

/** Builds every vector. Deterministic; takes a few seconds (one event covers 100,000 items). */
export async function generateLedgerV2Vectors(): Promise<Map<string, Vector>> {
  const out = new Map<string, Vector>();
  const golden = (name: string, desc: string, bundle: unknown, summary: string, previousCheckpoint?: string): void => {
    out.set(`golden/${name}.json`, { desc, bundle, verifierKeys: KEYS, ...(previousCheckpoint ? { previousCheckpoint } : {}), want: { ok: true, summary } });
  };
  let probeNo = 0;
  const probe = (slug: string, desc: string, bundle: unknown, check: string, seq: number | null, previousCheckpoint?: string): void => {
    probeNo++;
    out.set(`probes/${String(probeNo).padStart(2, '0')}-${slug}.json`, { desc, bundle, verifierKeys: KEYS, ...(previousCheckpoint ? { previousCheckpoint } : {}), want: { ok: false, check, seq } });
  };

  // ------------------------------------------------------------------------------------------------------------
  // The main log.
  const sim = new LedgerSim('ledger-v2-vectors', LOG_SEED, ORIGIN);
  const A = sgtinOf('A-1001');
  const B = sgtinOf('A-1002');
  const D = sgtinOf('D-1');
  const E = sgtinOf('E-1');
  const S = sgtinOf('S-1');
  const X = sgtinOf('X-1');
  const V = sgtinOf('V-1');
  const V2 = sgtinOf('V-2');

  await sim.recordV1('COMMISSION', [V, V2], MAKER, { lot: 'L-0' });
  await sim.recordV1('SHIP', [V], MAKER, {}, DIST);
  await sim.recordV1('RECEIVE', [V], DIST);
  await sim.record('COMMISSION', [A, B], { actor: MAKER, gtin: '09506000134352', lot: 'L-1', location: SITE });
  await sim.record('COMMISSION', [D, E, S, X], { actor: MAKER, gtin: '09506000134352', lot: 'L-2', location: SITE });
  await sim.record('PACK', [A, B], { actor: MAKER, container: 'urn:epc:id:sscc:9506000.0000000001', location: SITE });
  await sim.record('SHIP', [A, B], { actor: MAKER, counterparty: DIST, location: SITE });
  const oldCheckpoint = sim.checkpoint();
  const oldSize = sim.size;
  const oldA = await sim.bundle(A, 'authorities');
  await sim.record('RECEIVE', [A, B], { actor: DIST, location: 'urn:epc:id:sgln:9506000.00002.0' });
  await sim.record('UNPACK', [A, B], { actor: DIST, container: 'urn:epc:id:sscc:9506000.0000000001' });
  await sim.record('SELL', [V], { actor: SHOP, buyer: 'Max Mustermann', price: 49.5, currency: 'EUR' });
  await sim.record('SHIP', [A], { actor: DIST, counterparty: SHOP });
  await sim.record('RECEIVE', [A], { actor: SHOP });
  await sim.record('SELL', [A], { actor: SHOP, buyer: 'Jane Consumer <jane@example.org>', price: 129.9, currency: 'EUR', note: 'gift wrapped' });
  await sim.record('ACTIVATE', [A], { actor: OWNER });
  await sim.record('SERVICE', [A], { actor: SERVICER, note: 'hinge replaced under warranty' });
  await sim.record('USE_REPORT', [A], { actor: OWNER, readings: [{ at: '2026-06-01T10:00:00.000Z', temperatureC: 21.5 }, { at: '2026-06-02T10:00:00.000Z', temperatureC: 22 }] });
  await sim.record('RETURN', [A], { actor: OWNER, counterparty: RECYCLER, reason: 'stopped working' });
  await sim.record('RECALL', [A, B], { actor: MAKER, reason: 'battery may overheat', authorizedBy: 'act_maker_quality' });
  await sim.record('RECYCLE', [A], { actor: RECYCLER, materials: [{ material: 'aluminium', massKg: 1.2 }, { material: 'lithium', massKg: 0.05 }] });
  await sim.record('DESTROY', [D], { actor: MAKER, reason: 'damaged in storage' });
  await sim.record('SHIP', [E, S], { actor: MAKER, counterparty: SHOP }, { signerSeed: MAKER_SEED });
  await sim.record('RECEIVE', [E, S], { actor: SHOP }, { signerSeed: SHOP_SEED });
  const eSell = await sim.record('SELL', [E], { actor: SHOP, buyer: 'Erika Beispiel', price: 19.99, currency: 'EUR' });
  await sim.record('SELL', [S], { actor: SHOP, buyer: 'Sam Signer', price: 10, currency: 'EUR' }, { signerSeed: SHOP_SEED });
  await sim.record('SELL', [X], { actor: SHOP }); // a server bug: SELL straight after COMMISSION (the verifier's chain step catches it)
  const eraseHash = sim.erase(eSell, 'buyer', 'GDPR Art. 17 request', OPERATOR);
  void DIST_SEED;

  const gA = await sim.bundle(A, 'authorities', { consistencyFromSize: oldSize });
  const gApublic = await sim.bundle(A, 'public');
  const gB = await sim.bundle(B, 'authorities');
  const gD = await sim.bundle(D, 'participants');
  const gV = await sim.bundle(V, 'participants');
  const gE = await sim.bundle(E, 'participants');
  const gS = await sim.bundle(S, 'public');
  const gX = await sim.bundle(X, 'public');
  const n = sim.size;
  golden('01-lifecycle-every-kind', 'Item A through COMMISSION, PACK, SHIP, RECEIVE, UNPACK, SHIP, RECEIVE, SELL, ACTIVATE, SERVICE, USE_REPORT, RETURN, RECALL, RECYCLE, authorities tier, with a consistency proof from a kept checkpoint', gA,
    `complete as of checkpoint ${n} (tree size ${n}) of ${ORIGIN}: 14 events, head seq 13, stage RECYCLED, recalled; the log extends the previous checkpoint (tree size ${oldSize})`, oldCheckpoint);
  golden('02-lifecycle-public', 'Item A at the public tier: buyer, price, currency, note, readings, the RETURN reason and the consumer actor are withheld but provable', gApublic,
    `complete as of checkpoint ${n} (tree size ${n}) of ${ORIGIN}: 14 events, head seq 13, stage RECYCLED, recalled; withheld seq 7: buyer, currency, note, price; seq 8: actor; seq 9: note; seq 10: actor, readings; seq 11: actor, reason`);
  golden('03-batch-mate-recalled', "Item B (A's batch-mate): recalled while in stock", gB,
    `complete as of checkpoint ${n} (tree size ${n}) of ${ORIGIN}: 6 events, head seq 5, stage IN_STOCK, recalled`);
  golden('04-destroy', 'Item D: COMMISSION then DESTROY', gD, `complete as of checkpoint ${n} (tree size ${n}) of ${ORIGIN}: 2 events, head seq 1, stage DESTROYED, not recalled`);
  golden('05-mixed-v1-v2', 'Item V: three v1 events (COMMISSION, SHIP, RECEIVE) continued by a v2 SELL whose entry.prev is the last v1 link', gV,
    `complete as of checkpoint ${n} (tree size ${n}) of ${ORIGIN}: 4 events, head seq 3, stage SOLD, not recalled`);
  golden('06-erased-field', "Item E: the SELL's buyer was erased by an ERASE event (GDPR); the commitment stays and the chain verifies", gE,
    `complete as of checkpoint ${n} (tree size ${n}) of ${ORIGIN}: 4 events, head seq 3, stage SOLD, not recalled; erased seq 3: buyer; actor-signed seq 1, 2`);
  golden('07-actor-signatures', 'Item S: SHIP signed by the maker, RECEIVE and SELL by the shop (Ed25519 over the content hash), public tier', gS,
    `complete as of checkpoint ${n} (tree size ${n}) of ${ORIGIN}: 4 events, head seq 3, stage SOLD, not recalled; withheld seq 3: buyer, currency, price; actor-signed seq 1, 2, 3`);
  out.set('golden/08-item-statement.json', {
    desc: "Item statement of A: stage, recalled, head, as of the checkpoint",
    bundle: await sim.statement(A),
    verifierKeys: KEYS,
    want: { ok: true, summary: `stage RECYCLED, recalled, latest event seq 13, as of checkpoint ${n} (tree size ${n}) of ${ORIGIN}` },
  });

  // ------------------------------------------------------------------------------------------------------------
  // One item of a 100,000-item COMMISSION.
  const big = new LedgerSim('ledger-v2-large', LOG_SEED, ORIGIN);
  const serials = Array.from({ length: 100_000 }, (_, i) => sgtinOf(`L-${String(i).padStart(6, '0')}`));
  const T = serials[4242]!;
  const U = serials[77_777]!;
  await big.record('COMMISSION', serials, { actor: MAKER, gtin: '09506000134352', lot: 'L-BIG', location: SITE });
  await big.record('SHIP', [T, U, serials[1]!], { actor: MAKER, counterparty: SHOP, location: SITE });
  await big.record('RECEIVE', [T, U, serials[1]!], { actor: SHOP });
  await big.record('SELL', [T], { actor: SHOP, buyer: 'Lena Large', price: 5, currency: 'EUR' });
  await big.record('RECALL', [T, U], { actor: MAKER, reason: 'label misprint' });
  const gT = await big.bundle(T, 'public');
  const gU = await big.bundle(U, 'public');
  golden('09-large-event', 'Item L-004242 of a 100,000-item COMMISSION, 5 events, public tier: the bundle carries 17 siblings per event, no other serial and no item count', gT,
    `complete as of checkpoint 5 (tree size 5) of ${ORIGIN}: 5 events, head seq 4, stage SOLD, recalled; withheld seq 3: buyer, currency, price`);
  out.set('golden/10-item-statement-large.json', {
    desc: 'Item statement of L-004242',
    bundle: await big.statement(T),
    verifierKeys: KEYS,
    want: { ok: true, summary: `stage SOLD, recalled, latest event seq 4, as of checkpoint 5 (tree size 5) of ${ORIGIN}` },
  });

  // ------------------------------------------------------------------------------------------------------------
  // Probes.
  let p: ProofBundleV2;

  // format
  p = clone(gA); (p as any).format = 'provenant-proof-bundle/v3';
  probe('unknown-format', 'bundle format is not provenant-proof-bundle/v2', p, 'format', null);
  p = clone(gA); p.events = [];
  probe('no-events', 'events is empty', p, 'format', null);
  p = clone(gA); v2(p, 3).itemProof.siblings.pop();
  probe('short-item-proof', 'an item proof with 16 siblings instead of 17', p, 'format', 3);
  p = clone(gA); p.item.digitalLink = gB.item.digitalLink;
  probe('digital-link-of-other-item', "item.digitalLink names another serial than item.sgtin", p, 'format', null);
  p = clone(gA); (v2(p, 7).fields.price as any) = { value: 129.9 };
  probe('disclosure-without-salt', 'a disclosed field without its salt', p, 'format', 7);

  // signature
  p = clone(gA); p.checkpoint = signNote(gA.checkpoint.slice(0, gA.checkpoint.indexOf('\n\n') + 1), ORIGIN, OTHER_LOG_SEED);
  probe('checkpoint-other-key', 'the checkpoint is signed by another key under the same origin', p, 'signature', null);
  p = clone(gA); p.checkpoint = gA.checkpoint.replace(`\n${n}\n`, `\n${n + 1}\n`);
  probe('checkpoint-text-altered', 'the checkpoint tree size was altered after signing', p, 'signature', null);

  // checkpoint
  p = clone(gA); p.checkpoint = sim.checkpoint([]);
  probe('heads-line-missing', 'a validly signed checkpoint without the provenant-heads line', p, 'checkpoint', null);
  p = clone(gA); p.checkpoint = sim.checkpoint([headsExtension(sim.headsRoot), headsExtension(new Uint8Array(32))]);
  probe('heads-line-twice', 'two provenant-heads lines (the verifier cannot know which one binds)', p, 'checkpoint', null);
  p = clone(gA); p.checkpoint = sim.checkpoint(['provenant-heads not-base64!']);
  probe('heads-line-malformed', 'the provenant-heads line does not hold base64 of 32 bytes', p, 'checkpoint', null);

  // content
  p = clone(gA); v2(p, 2).body = v2(p, 2).body.replace('{', '{ ');
  probe('body-not-canonical', 'an event body that is not in RFC 8785 canonical form', p, 'content', 2);
  p = clone(gA); editBody(v2(p, 4), (b) => { b.kind = 'TELEPORT'; });
  probe('unknown-kind', 'an event body with an unknown kind', p, 'content', 4);
  p = clone(gA); editBody(v2(p, 2), (b) => { delete b.fields.counterparty; }); delete v2(p, 2).fields.counterparty;
  probe('ship-without-counterparty', 'a SHIP body without the counterparty commitment (and its disclosure)', p, 'content', 2);
  p = clone(gE); v2(p, 3).body = gE.erasures[0]!.body;
  probe('erase-in-chain', 'an ERASE body placed in the item chain', p, 'content', 3);
  p = clone(gV); (p.events[1] as any).body = v2(gV, 3).body;
  probe('v1-event-with-v2-body', 'a v1-shaped event (prevHash/linkHash) carrying a v2 body', p, 'content', 1);

  // fields
  p = clone(gA); (v2(p, 7).fields.price as { value: unknown }).value = 1.99;
  probe('altered-field-value', 'the SELL price was altered (the salt no longer opens the commitment)', p, 'fields', 7);
  p = clone(gA); (v2(p, 7).fields.buyer as { salt: string }).salt = flipHex((v2(p, 7).fields.buyer as { salt: string }).salt);
  probe('altered-field-salt', 'a disclosed salt was altered', p, 'fields', 7);
  p = clone(gA); delete v2(p, 7).fields.note;
  probe('field-disclosure-missing', 'a committed field has no disclosure entry', p, 'fields', 7);
  p = clone(gA); v2(p, 8).fields.buyer = { value: 'Mallory', salt: '00'.repeat(16) };
  probe('field-not-committed', 'a disclosed field that the body does not commit to', p, 'fields', 8);
  p = clone(gApublic); v2(p, 7).fields.price = { value: 1, salt: '00'.repeat(16) };
  probe('withheld-field-faked', 'a withheld price replaced by an invented value and salt', p, 'fields', 7);
  p = clone(gE); editBody(v2(p, 3), (b) => { b.fields.buyer = flipHex(b.fields.buyer); });
  probe('erased-field-commitment-altered', "the erased buyer's commitment was altered: the ERASE event's target no longer matches the event", p, 'fields', 3);
  p = clone(gE); p.erasures = [];
  probe('erasure-missing', 'a field marked erased without its ERASE event in the bundle', p, 'fields', 3);
  p = clone(gE); v2(p, 3).fields.price = { erased: eraseHash };
  probe('erasure-wrong-field', "the price is marked erased by the ERASE event that erased the buyer", p, 'fields', 3);
  p = clone(gE); (p.erasures[0]!.fields.reason as { value: unknown }).value = 'no reason';
  probe('erasure-reason-altered', "the ERASE event's disclosed reason was altered", p, 'fields', null);

  // item-entry
  p = clone(gA); p.events.splice(5, 1);
  probe('omission-middle', 'seq 5 (UNPACK) dropped from the middle, later seqs kept', p, 'item-entry', 6);
  p = clone(gA); p.events.splice(5, 1); p.events.forEach((e, i) => { e.seq = i; });
  probe('omission-middle-renumbered', 'seq 5 dropped and later events renumbered', p, 'item-entry', 5);
  p = clone(gA); [p.events[3], p.events[4]] = [p.events[4]!, p.events[3]!];
  probe('reorder', 'seq 3 and seq 4 swapped in the list', p, 'item-entry', 4);
  p = clone(gA); p.events.splice(4, 0, clone(p.events[3]!));
  probe('duplicate', 'seq 3 appears twice (the copy is not after its original in the log)', p, 'inclusion', 3);
  p = clone(gA); v2(p, 6).entry.prev = flipHex(v2(p, 6).entry.prev!);
  probe('entry-prev-altered', "seq 6's entry.prev does not equal seq 5's link", p, 'item-entry', 6);
  p = clone(gA); v2(p, 3).entry = clone(v2(gB, 3).entry); v2(p, 3).itemProof = clone(v2(gB, 3).itemProof);
  probe('other-items-entry', "seq 3 carries the batch-mate B's entry and proof for the same event", p, 'item-entry', 3);
  {
    // The v1 attack: drop a v1 event and recompute the v1 links; the first v2 entry still names the old link.
    p = clone(gV);
    p.events.splice(1, 2);
    let prev: Uint8Array = ZERO_HASH;
    p.events.forEach((e, i) => {
      e.seq = i;
      if ('prevHash' in e) {
        const link = linkHash(prev, contentHashOf(e.body), V, i);
        (e as BundleEventV1).prevHash = toHex(prev);
        (e as BundleEventV1).linkHash = toHex(link);
        prev = link;
      }
    });
    probe('v1-omission-links-recomputed', 'v1 SHIP and RECEIVE dropped, seqs renumbered, v1 links recomputed (undetectable in v1): the v2 SELL entry still names the old link', p, 'item-entry', 1);
  }

  // item-tree
  p = clone(gA); v2(p, 0).entry = clone(v2(gB, 0).entry); v2(p, 0).itemProof = clone(v2(gB, 0).itemProof);
  probe('swapped-item-entry', "seq 0 (COMMISSION) carries B's entry opening and proof: it does not open for A's serial", p, 'item-tree', 0);
  p = clone(gA); v2(p, 4).entry.salt = flipHex(v2(p, 4).entry.salt);
  probe('entry-salt-altered', "seq 4's entry salt altered", p, 'item-tree', 4);
  p = clone(gA); v2(p, 2).itemProof.position ^= 1;
  probe('wrong-position', 'the item proof position changed (right siblings, wrong side)', p, 'item-tree', 2);
  {
    p = clone(gA);
    const rec = sim.chainOf(A)[2]!;
    const e = v2(p, 2);
    if (rec.version !== 2) throw new Error('expected v2');
    const idx = ((e.itemProof.position >> 5) ^ 1) ^ 2;
    e.itemProof.siblings[5] = toHex(padHash(rec.padKey, 5, idx));
    probe('pad-swapped', 'an empty-subtree pad replaced by the pad of another position', p, 'item-tree', 2);
  }
  p = clone(gA); v2(p, 1).itemProof = clone(v2(gA, 2).itemProof);
  probe('proof-of-other-event', "seq 1's item proof taken from seq 2's tree", p, 'item-tree', 1);
  {
    // Omission with every link recomputed by the attacker: entries re-opened with the right prev, but the
    // items roots commit to the original entries.
    p = clone(gA);
    p.events.splice(5, 1);
    p.events.forEach((e, i) => { e.seq = i; });
    let prev: string | null = null;
    for (const e of p.events as BundleEventV2[]) {
      e.entry.prev = prev;
      prev = toHex(linkHashV2(contentHashV2(e.body), itemEntry(A, e.seq, e.entry)));
    }
    probe('omission-links-recomputed', 'seq 5 dropped, later events renumbered and every entry.prev recomputed: the items roots still commit to the original entries', p, 'item-tree', 5);
  }
  p = clone(gT); v2(p, 0).entry = clone(v2(gU, 0).entry); v2(p, 0).itemProof = clone(v2(gU, 0).itemProof);
  probe('large-event-other-items-entry', "in the 100,000-item COMMISSION, another item's entry and proof", p, 'item-tree', 0);
  p = clone(gT); v2(p, 0).itemProof.siblings[16] = v2(p, 0).itemProof.siblings[15]!;
  probe('large-event-sibling-altered', 'a sibling near the root of the 100,000-item tree altered', p, 'item-tree', 0);

  // chain
  p = clone(gX);
  probe('illegal-transition', 'the log holds a SELL straight after COMMISSION (stage MANUFACTURED): the chain step rejects it', p, 'chain', 1);
  p = clone(gV); (p.events[1] as BundleEventV1).linkHash = flipHex((p.events[1] as BundleEventV1).linkHash);
  probe('v1-link-altered', "a v1 event's linkHash altered", p, 'chain', 1);
  p = clone(gV); (p.events[2] as BundleEventV1).prevHash = (p.events[0] as BundleEventV1).linkHash;
  probe('v1-prev-altered', "a v1 event's prevHash names the link before its predecessor", p, 'chain', 2);
  p = clone(gA); v2(p, 5).seq = 9;
  probe('seq-out-of-place', 'seq 5 relabelled 9 (its entry commits to seq 5)', p, 'item-tree', 9);

  // inclusion
  p = clone(gA); v2(p, 6).inclusionProof[0] = flipHex(v2(p, 6).inclusionProof[0]!);
  probe('inclusion-proof-altered', "seq 6's inclusion proof altered", p, 'inclusion', 6);
  p = clone(gA); v2(p, 6).leafIndex += 1;
  probe('leaf-index-altered', "seq 6's leaf index changed", p, 'inclusion', 6);
  p = clone(gApublic); editBody(v2(p, 7), (b) => { b.fields.price = flipHex(b.fields.price); });
  probe('withheld-commitment-altered', "a withheld field's commitment altered: the body is no longer the logged one", p, 'inclusion', 7);
  p = clone(gE); p.erasures[0]!.inclusionProof[0] = flipHex(p.erasures[0]!.inclusionProof[0]!);
  probe('erasure-not-included', "the ERASE event's inclusion proof altered", p, 'inclusion', 3);
  p = clone(gS); editBody(v2(p, 3), (b) => { b.signer = toHex(publicKeyFromPrivate(ATTACKER_SEED)); });
  v2(p, 3).signature = encodeBase64(signContentHash(contentHashV2(v2(p, 3).body), ATTACKER_SEED));
  probe('signer-replaced', "the SELL re-signed by an attacker's key with body.signer replaced: the body is not the logged one", p, 'inclusion', 3);

  // head
  p = clone(gA); p.events.splice(12, 2);
  probe('truncation-recall', 'the latest events (RECALL, RECYCLE) dropped, head kept', p, 'head', 12);
  p = clone(gA); p.events.splice(12, 2);
  {
    const last = v2(gA, 11);
    p.head = { ...p.head, seq: 11, stage: 'RETURNED', recalled: false, link: toHex(linkHashV2(contentHashV2(last.body), itemEntry(A, 11, last.entry))) };
  }
  probe('truncation-head-rewritten', 'RECALL and RECYCLE dropped and the head rewritten to the truncated chain: the head map does not prove it', p, 'head', null);
  p = clone(gA); p.events.splice(oldA.events.length); p.head = clone(oldA.head);
  probe('stale-head-map-proof', 'head and map proof from an older checkpoint (before RECEIVE … RECYCLE) with the current checkpoint, history cut to match', p, 'head', null);
  p = clone(gA); p.head.mapProof = clone(oldA.head.mapProof);
  probe('stale-map-proof-current-head', 'the current head with the map proof from an older checkpoint', p, 'head', null);
  p = clone(gA); p.head.recalled = false;
  probe('head-recall-hidden', 'head.recalled flipped to false', p, 'head', null);
  p = clone(gA); p.head.mapProof[0] = flipHex(p.head.mapProof[0]!);
  probe('map-proof-altered', 'a head-map sibling altered', p, 'head', null);
  p = clone(gA); p.head.mapProof.pop();
  probe('map-proof-short', 'the head-map proof shortened by one sibling', p, 'head', null);
  p = clone(gB); p.head = clone(gA.head);
  probe('head-of-other-item', "item B's bundle with item A's head and map proof", p, 'head', null);

  // actor-signature
  p = clone(gS); v2(p, 2).signature = encodeBase64(signContentHash(fromHex(toHex(new Uint8Array(32)))!, SHOP_SEED));
  probe('forged-actor-signature', "the RECEIVE signature is the shop's signature over something else", p, 'actor-signature', 2);
  p = clone(gS); delete v2(p, 1).signature;
  probe('actor-signature-missing', 'the body names a signer but the signature is missing', p, 'actor-signature', 1);
  p = clone(gS); v2(p, 0).signature = v2(gS, 1).signature!;
  probe('actor-signature-unexpected', 'a signature on an event whose body names no signer', p, 'actor-signature', 0);
  p = clone(gS); v2(p, 3).signature = v2(gS, 2).signature!;
  probe('actor-signature-of-other-event', "the SELL carries the shop's RECEIVE signature", p, 'actor-signature', 3);

  // consistency
  p = clone(gA); p.consistency!.proof[0] = flipHex(p.consistency!.proof[0]!);
  probe('consistency-altered', 'the consistency proof from the kept checkpoint altered', p, 'consistency', null, oldCheckpoint);
  p = clone(gA); delete p.consistency;
  probe('consistency-missing', 'a kept checkpoint is given but the bundle has no consistency proof', p, 'consistency', null, oldCheckpoint);

  // item statements
  {
    const st = await sim.statement(A);
    let s = clone(st); s.head.recalled = false;
    probe('statement-recall-hidden', "an item statement with recalled flipped to false", s, 'head', null);
    s = clone(st); s.head.stage = 'SOLD';
    probe('statement-stage-altered', 'an item statement claiming stage SOLD', s, 'head', null);
    s = clone(st); s.checkpoint = sim.checkpoint([]);
    probe('statement-heads-line-missing', 'an item statement whose checkpoint has no provenant-heads line', s, 'checkpoint', null);
    s = clone(st); s.sgtin = B;
    probe('statement-other-item', "item A's statement relabelled as item B", s, 'head', null);
  }
  return out;
}

const here = dirname(fileURLToPath(import.meta.url));
export const VECTORS_DIR = resolve(here, '../test/vectors/ledger-v2');
export const serialize = (v: Vector): string => JSON.stringify(v, null, 2) + '\n';

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const files = await generateLedgerV2Vectors();
  for (const sub of ['golden', 'probes']) {
    const dir = join(VECTORS_DIR, sub);
    mkdirSync(dir, { recursive: true });
    for (const f of readdirSync(dir)) if (f.endsWith('.json')) rmSync(join(dir, f));
  }
  for (const [name, v] of files) writeFileSync(join(VECTORS_DIR, name), serialize(v));
  console.log(`wrote ${files.size} vectors to ${VECTORS_DIR}`);
}
