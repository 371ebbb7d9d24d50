import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  type ChainVerification,
  type EventBody,
  type StoredLink,
  ZERO_HASH,
  canonicalEventBody,
  contentHashOf,
  linkHash,
  verifyItemChain,
} from '../../src/core/chain.ts';
import type { EventKind } from '../../src/core/lifecycle.ts';

// ---------------------------------------------------------------------------------------------------------------
// Independent reference implementation of DESIGN.md "Hashes", with node:crypto (not @noble/hashes, not the code).

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const bytes = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'));

function refContentHash(canonicalBody: string): Uint8Array {
  return new Uint8Array(createHash('sha256').update(Buffer.from('provenant:event:v1\n', 'utf8')).update(Buffer.from(canonicalBody, 'utf8')).digest());
}

function refLinkHash(prev: Uint8Array, content: Uint8Array, sgtin: string, seq: number): Uint8Array {
  const seqBytes = Buffer.alloc(4);
  seqBytes.writeUInt32BE(seq, 0);
  return new Uint8Array(
    createHash('sha256')
      .update(Buffer.from('provenant:link:v1\n', 'utf8'))
      .update(prev)
      .update(content)
      .update(Buffer.from(sgtin, 'utf8'))
      .update(seqBytes)
      .digest(),
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Fixture: a COMMISSION of two items, with a non-ASCII string and nested keys out of order.

const A = 'urn:epc:id:sgtin:4012345.012345.1001';
const B = 'urn:epc:id:sgtin:4012345.012345.1002';

const FIXTURE: EventBody = {
  kind: 'COMMISSION',
  actor: 'act_brand',
  occurredAt: '2026-03-01T08:30:00.000Z',
  timezoneOffset: '+01:00',
  recordedAt: '2026-03-01T08:30:01.250Z',
  location: 'urn:epc:id:sgln:4012345.00001.0',
  counterparty: null,
  data: { note: 'Lager Zürich', mass: 1.5, lot: 'L-7' },
  items: [B, A],
};

/** Written by hand from RFC 8785: keys sorted by code unit at every level, items sorted, no whitespace. */
const FIXTURE_CANONICAL =
  '{"actor":"act_brand","counterparty":null,"data":{"lot":"L-7","mass":1.5,"note":"Lager Zürich"},' +
  `"items":["${A}","${B}"],"kind":"COMMISSION","location":"urn:epc:id:sgln:4012345.00001.0",` +
  '"occurredAt":"2026-03-01T08:30:00.000Z","recordedAt":"2026-03-01T08:30:01.250Z","timezoneOffset":"+01:00"}';

/** Pinned known answers (computed once with node:crypto over the DESIGN.md byte layout). */
const FIXTURE_CONTENT_HASH = '0fde16fed52d9ac96bef9d5a58cd5357f248b40693df814c78bf959de39eb792';
const FIXTURE_LINK0_HASH_A = '60b36f9f59deef17b2cb6aec5e5015442baef24e810d6701ffe1203b481e1eec';
/** link over (prev = FIXTURE_LINK0_HASH_A, content = FIXTURE_CONTENT_HASH, A, seq 0x01020304). */
const FIXTURE_LINK_BIGSEQ = 'd00ade7db57350a3973ae3e52442a13ac7d025905436e030d596c0cf47d6d5a6';

describe('canonicalEventBody', () => {
  it('produces the exact RFC 8785 text with items sorted', () => {
    expect(canonicalEventBody(FIXTURE)).toBe(FIXTURE_CANONICAL);
  });

  it('is independent of key order and of the item order given', () => {
    const reordered = {
      items: [A, B],
      data: { lot: 'L-7', mass: 1.5, note: 'Lager Zürich' },
      counterparty: null,
      location: 'urn:epc:id:sgln:4012345.00001.0',
      recordedAt: '2026-03-01T08:30:01.250Z',
      timezoneOffset: '+01:00',
      occurredAt: '2026-03-01T08:30:00.000Z',
      actor: 'act_brand',
      kind: 'COMMISSION',
    } satisfies EventBody;
    expect(canonicalEventBody(reordered)).toBe(FIXTURE_CANONICAL);
  });

  it('sorts items by UTF-16 code unit (not numerically, not by locale)', () => {
    const items = ['urn:epc:id:sgtin:4012345.012345.10', 'urn:epc:id:sgtin:4012345.012345.9', 'urn:epc:id:sgtin:4012345.012345.1a', 'urn:epc:id:sgtin:4012345.012345.1B'];
    const parsed = JSON.parse(canonicalEventBody({ ...FIXTURE, items })) as EventBody;
    expect(parsed.items).toEqual([
      'urn:epc:id:sgtin:4012345.012345.10',
      'urn:epc:id:sgtin:4012345.012345.1B',
      'urn:epc:id:sgtin:4012345.012345.1a',
      'urn:epc:id:sgtin:4012345.012345.9',
    ]);
  });

  it('does not reorder the caller’s item array', () => {
    const body: EventBody = { ...FIXTURE, items: [B, A] };
    canonicalEventBody(body);
    expect(body.items).toEqual([B, A]);
  });

  it('changes when any hashed field changes', () => {
    const base = canonicalEventBody(FIXTURE);
    const variants: Partial<EventBody>[] = [
      { kind: 'SHIP' }, { actor: 'act_other' }, { occurredAt: '2026-03-01T08:30:00.001Z' }, { timezoneOffset: '+02:00' },
      { recordedAt: '2026-03-01T08:30:01.251Z' }, { location: null }, { counterparty: 'act_dist' }, { data: { lot: 'L-8', mass: 1.5, note: 'Lager Zürich' } },
      { items: [A] },
    ];
    for (const v of variants) expect(canonicalEventBody({ ...FIXTURE, ...v }), JSON.stringify(v)).not.toBe(base);
  });
});

describe('contentHashOf', () => {
  it('matches the pinned fixture and an independent SHA-256 over domain || utf8(body)', () => {
    const got = contentHashOf(FIXTURE_CANONICAL);
    expect(got).toBeInstanceOf(Uint8Array);
    expect(got).toHaveLength(32);
    expect(hex(got)).toBe(FIXTURE_CONTENT_HASH);
    expect(hex(got)).toBe(hex(refContentHash(FIXTURE_CANONICAL)));
  });

  it('uses the event domain string (differs from a bare SHA-256 and from the link domain)', () => {
    const bare = createHash('sha256').update(FIXTURE_CANONICAL, 'utf8').digest('hex');
    const wrongDomain = createHash('sha256').update('provenant:link:v1\n' + FIXTURE_CANONICAL, 'utf8').digest('hex');
    expect(hex(contentHashOf(FIXTURE_CANONICAL))).not.toBe(bare);
    expect(hex(contentHashOf(FIXTURE_CANONICAL))).not.toBe(wrongDomain);
  });

  it('hashes the UTF-8 bytes of non-ASCII text', () => {
    for (const s of ['{"a":"é"}', '{"a":"日本"}', '{"a":"😀"}']) expect(hex(contentHashOf(s))).toBe(hex(refContentHash(s)));
    expect(hex(contentHashOf('{"a":"é"}'))).not.toBe(hex(contentHashOf('{"a":"e\u0301"}')));
  });
});

describe('linkHash', () => {
  const content = bytes(FIXTURE_CONTENT_HASH);

  it('matches the pinned fixture for seq 0 with the all-zero prevHash', () => {
    expect(ZERO_HASH).toEqual(new Uint8Array(32));
    const got = linkHash(ZERO_HASH, content, A, 0);
    expect(hex(got)).toBe(FIXTURE_LINK0_HASH_A);
    expect(hex(got)).toBe(hex(refLinkHash(new Uint8Array(32), content, A, 0)));
  });

  it('encodes seq as big-endian u32 (pinned, and independent, for seq 0x01020304)', () => {
    const prev = bytes(FIXTURE_LINK0_HASH_A);
    const got = linkHash(prev, content, A, 0x01020304);
    expect(hex(got)).toBe(FIXTURE_LINK_BIGSEQ);
    expect(hex(got)).toBe(hex(refLinkHash(prev, content, A, 0x01020304)));
    // little-endian or a decimal rendering of seq would give another hash
    const le = createHash('sha256').update('provenant:link:v1\n').update(prev).update(content).update(A).update(Uint8Array.of(4, 3, 2, 1)).digest('hex');
    expect(hex(got)).not.toBe(le);
  });

  it('agrees with the reference across seqs and item identifiers', () => {
    let prev: Uint8Array = ZERO_HASH;
    for (const [seq, sgtin] of [[0, A], [1, B], [255, A], [256, B], [65_536, A], [0xffffffff, B]] as const) {
      const got = linkHash(prev, content, sgtin, seq);
      expect(hex(got), `seq ${seq}`).toBe(hex(refLinkHash(prev, content, sgtin, seq)));
      prev = got;
    }
  });

  it('binds every input: prevHash, contentHash, sgtin and seq', () => {
    const base = hex(linkHash(ZERO_HASH, content, A, 1));
    const flipped = content.slice();
    flipped[31]! ^= 1;
    expect(hex(linkHash(bytes(FIXTURE_LINK0_HASH_A), content, A, 1))).not.toBe(base);
    expect(hex(linkHash(ZERO_HASH, flipped, A, 1))).not.toBe(base);
    expect(hex(linkHash(ZERO_HASH, content, B, 1))).not.toBe(base);
    expect(hex(linkHash(ZERO_HASH, content, A, 2))).not.toBe(base);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// verifyItemChain

const MAKER = 'act_maker';
const DIST = 'act_dist';
const SHOP = 'act_shop';
const ALICE = 'act_alice';

function body(kind: EventKind, actor: string, minute: number, extra: Partial<EventBody> = {}): EventBody {
  const t = `2026-03-01T09:${String(minute).padStart(2, '0')}:00.000Z`;
  return { kind, actor, occurredAt: t, timezoneOffset: '+01:00', recordedAt: t, location: null, counterparty: null, data: {}, items: [A, B], ...extra };
}

const JOURNEY: EventBody[] = [
  body('COMMISSION', MAKER, 0, { data: { lot: 'L-1' } }),
  body('SHIP', MAKER, 1, { counterparty: DIST, location: 'urn:epc:id:sgln:4012345.00001.0' }),
  body('RECEIVE', DIST, 2),
  body('SELL', DIST, 3, { counterparty: ALICE, items: [A] }),
  body('ACTIVATE', ALICE, 4, { items: [A], data: { firmware: '1.2.0' } }),
];

/** Builds stored links with the reference hashes (not the code's), so a bug in the code cannot hide in the fixture. */
function buildChain(sgtin: string, bodies: EventBody[], withFields = true): StoredLink[] {
  let prev: Uint8Array = new Uint8Array(32);
  return bodies.map((b, seq) => {
    const canon = canonicalEventBody(b);
    const contentHash = refContentHash(canon);
    const hash = refLinkHash(prev, contentHash, sgtin, seq);
    const link: StoredLink = { seq, prevHash: prev, hash, body: canon, contentHash };
    if (withFields) link.fields = structuredClone(b);
    prev = hash;
    return link;
  });
}

const chainA = (): StoredLink[] => buildChain(A, JOURNEY);

function expectInvalid(v: ChainVerification, seq: number, reason: RegExp): void {
  expect(v.valid, v.reason ?? '').toBe(false);
  expect(v.firstInvalidSeq).toBe(seq);
  expect(v.headHash).toBeNull();
  expect(v.reason).toMatch(reason);
}

function edit(links: StoredLink[], seq: number, change: Partial<StoredLink>): StoredLink[] {
  return links.map((l) => (l.seq === seq ? { ...l, ...change } : l));
}

const flip = (b: Uint8Array, i = 0): Uint8Array => {
  const c = b.slice();
  c[i]! ^= 0x80;
  return c;
};

describe('verifyItemChain: valid chains', () => {
  it('verifies a 5-link chain and reports its head hash and length', () => {
    const links = chainA();
    const v = verifyItemChain(A, links);
    expect(v).toEqual({ valid: true, length: 5, headHash: links[4]!.hash, firstInvalidSeq: null, reason: null });
    expect(hex(v.headHash!)).toBe(hex(refLinkHash(links[3]!.hash, refContentHash(canonicalEventBody(JOURNEY[4]!)), A, 4)));
  });

  it('accepts links in any storage order', () => {
    const links = chainA();
    const shuffled = [links[3]!, links[0]!, links[4]!, links[2]!, links[1]!];
    expect(verifyItemChain(A, shuffled)).toMatchObject({ valid: true, length: 5, headHash: links[4]!.hash });
  });

  it('verifies without stored fields, and with fields whose key and item order differ from the body', () => {
    expect(verifyItemChain(A, buildChain(A, JOURNEY, false)).valid).toBe(true);
    const links = chainA().map((l) => ({ ...l, fields: l.fields && { ...l.fields, items: [...l.fields.items].reverse() } }));
    expect(verifyItemChain(A, links).valid).toBe(true);
  });

  it('a one-link chain (COMMISSION only) is valid with head = that link', () => {
    const [first] = chainA();
    expect(verifyItemChain(A, [first!])).toEqual({ valid: true, length: 1, headHash: first!.hash, firstInvalidSeq: null, reason: null });
  });

  it('item B’s chain over the shared events is separately valid and has a different head', () => {
    const linksB = buildChain(B, JOURNEY.slice(0, 3));
    const vB = verifyItemChain(B, linksB);
    expect(vB.valid).toBe(true);
    expect(hex(vB.headHash!)).not.toBe(hex(chainA()[2]!.hash));
  });
});

describe('verifyItemChain: each corruption is caught at the right seq', () => {
  it('empty chain is invalid', () => {
    const v = verifyItemChain(A, []);
    expect(v).toMatchObject({ valid: false, length: 0, headHash: null });
    expect(v.reason).toMatch(/no chain links/);
  });

  it('body edited (stored content hash left as it was)', () => {
    const links = chainA();
    const tampered = links[2]!.body.replace(`"actor":"${DIST}"`, `"actor":"${SHOP}"`);
    expect(tampered).not.toBe(links[2]!.body);
    expectInvalid(verifyItemChain(A, edit(links, 2, { body: tampered })), 2, /content hash mismatch/);
  });

  it('body edited and its content hash recomputed (link hash left) → link hash mismatch at that seq', () => {
    const links = chainA();
    const newBody = canonicalEventBody({ ...JOURNEY[3]!, counterparty: SHOP });
    const v = verifyItemChain(A, edit(links, 3, { body: newBody, contentHash: refContentHash(newBody), fields: { ...JOURNEY[3]!, counterparty: SHOP } }));
    expectInvalid(v, 3, /link hash mismatch/);
  });

  it('contentHash edited', () => {
    const links = chainA();
    expectInvalid(verifyItemChain(A, edit(links, 1, { contentHash: flip(links[1]!.contentHash, 5) })), 1, /content hash mismatch/);
  });

  it('prevHash edited', () => {
    const links = chainA();
    expectInvalid(verifyItemChain(A, edit(links, 3, { prevHash: flip(links[3]!.prevHash, 31) })), 3, /prevHash/);
  });

  it('prevHash of seq 0 not zero', () => {
    const links = chainA();
    expectInvalid(verifyItemChain(A, edit(links, 0, { prevHash: flip(ZERO_HASH, 0) })), 0, /prevHash/);
  });

  it('link hash edited (middle and head)', () => {
    const links = chainA();
    expectInvalid(verifyItemChain(A, edit(links, 2, { hash: flip(links[2]!.hash, 7) })), 2, /link hash mismatch/);
    expectInvalid(verifyItemChain(A, edit(links, 4, { hash: flip(links[4]!.hash, 0) })), 4, /link hash mismatch/);
  });

  it('a missing seq (middle, and the first)', () => {
    const links = chainA();
    expectInvalid(verifyItemChain(A, links.filter((l) => l.seq !== 2)), 2, /seq 2 is missing/);
    expectInvalid(verifyItemChain(A, links.filter((l) => l.seq !== 0)), 0, /seq 0 is missing/);
  });

  it('a duplicated seq', () => {
    const links = chainA();
    const v = verifyItemChain(A, [...links.slice(0, 3), links[2]!, ...links.slice(3)]);
    expect(v.valid).toBe(false);
    expect(v.firstInvalidSeq).toBe(3);
    expect(v.reason).toMatch(/seq 3/);
  });

  it('two links swapped (events exchanged between seq 2 and 3)', () => {
    const links = chainA();
    const l2 = links[2]!;
    const l3 = links[3]!;
    const swapped = links.map((l) => (l.seq === 2 ? { ...l3, seq: 2 } : l.seq === 3 ? { ...l2, seq: 3 } : l));
    expectInvalid(verifyItemChain(A, swapped), 2, /prevHash/);
  });

  it('control: a reordered history re-linked from scratch verifies, but under a different head hash', () => {
    // Control: re-linking a reordered history produces a chain that verifies but whose head differs, so the head
    // hash (committed in the log) is what pins the order.
    const reordered = buildChain(A, [JOURNEY[0]!, JOURNEY[2]!, JOURNEY[1]!, JOURNEY[3]!, JOURNEY[4]!]);
    const v = verifyItemChain(A, reordered);
    expect(v.valid).toBe(true);
    expect(hex(v.headHash!)).not.toBe(hex(chainA()[4]!.hash));
  });

  it('an event that does not cover the item (hashes consistent)', () => {
    const bodies = JOURNEY.map((b, i) => (i === 3 ? { ...b, items: [B] } : b));
    expectInvalid(verifyItemChain(A, buildChain(A, bodies)), 3, new RegExp(`does not cover item ${A.replace(/\./g, '\\.')}`));
  });

  it('the chain of another item presented for this one', () => {
    expectInvalid(verifyItemChain(A, buildChain(B, JOURNEY.slice(0, 3))), 0, /link hash mismatch/);
    const onlyB = JOURNEY.slice(0, 3).map((b) => ({ ...b, items: [B] }));
    expectInvalid(verifyItemChain(A, buildChain(B, onlyB)), 0, /does not cover item/);
  });

  it('a chain that does not start with COMMISSION (hashes consistent)', () => {
    expectInvalid(verifyItemChain(A, buildChain(A, JOURNEY.slice(1))), 0, /starts with SHIP, expected COMMISSION/);
  });

  it('a stored body that is not JSON (hashes consistent)', () => {
    const text = 'not json';
    const contentHash = refContentHash(text);
    const link: StoredLink = { seq: 0, prevHash: ZERO_HASH, body: text, contentHash, hash: refLinkHash(ZERO_HASH, contentHash, A, 0) };
    expectInvalid(verifyItemChain(A, [link]), 0, /not JSON/);
  });

  it('a stored body that is JSON but not an object (null, array, string) is invalid, not a crash', () => {
    for (const text of ['null', '[]', '"COMMISSION"']) {
      const contentHash = refContentHash(text);
      const link: StoredLink = { seq: 0, prevHash: ZERO_HASH, body: text, contentHash, hash: refLinkHash(ZERO_HASH, contentHash, A, 0) };
      expectInvalid(verifyItemChain(A, [link]), 0, /not a JSON object/);
    }
    // Mid-chain, and with stored fields beside it.
    const links = chainA();
    const contentHash = refContentHash('null');
    const bad = edit(links, 2, { body: 'null', contentHash, hash: refLinkHash(links[1]!.hash, contentHash, A, 2) });
    expectInvalid(verifyItemChain(A, bad), 2, /not a JSON object/);
  });

  it('stored fields disagree with the hashed body → reason names the field', () => {
    const links = chainA();
    const withData = edit(links, 0, { fields: { ...JOURNEY[0]!, data: { lot: 'L-2' } } });
    expectInvalid(verifyItemChain(A, withData), 0, /fields differ.*\bdata\b/);

    const withCounterparty = edit(links, 1, { fields: { ...JOURNEY[1]!, counterparty: SHOP } });
    expectInvalid(verifyItemChain(A, withCounterparty), 1, /fields differ.*\bcounterparty\b/);

    const withItems = edit(links, 3, { fields: { ...JOURNEY[3]!, items: [A, B] } });
    const v = verifyItemChain(A, withItems);
    expectInvalid(v, 3, /fields differ.*\bitems\b/);
    expect(v.reason).not.toMatch(/\bdata\b|\bactor\b/);

    const two = edit(links, 4, { fields: { ...JOURNEY[4]!, actor: SHOP, occurredAt: '2026-03-01T09:04:00.001Z' } });
    expectInvalid(verifyItemChain(A, two), 4, /actor.*occurredAt|occurredAt.*actor/);
  });

  it('reports the first bad seq when several are corrupted', () => {
    const links = chainA();
    const v = verifyItemChain(A, edit(edit(links, 4, { hash: flip(links[4]!.hash) }), 1, { prevHash: flip(links[1]!.prevHash) }));
    expectInvalid(v, 1, /prevHash/);
  });
});
