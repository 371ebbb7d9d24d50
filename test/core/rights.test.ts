import { describe, expect, it } from 'vitest';
import {
  type GrantFact,
  type ItemScope,
  type ItemVisibilityFacts,
  type ReadScope,
  type ContainerFacts,
  canSeeFullHistory,
  canSeeItem,
  decideContainerUse,
  grantInForce,
  grantStatus,
  readScope,
} from '../../src/core/rights.ts';

// Issue 4: brand grants (kinds × product or batch, optional expiry, revocable) widen who may record ACTIVATE, SERVICE,
// USE_REPORT and RECALL, and what an actor may read. Every check is "as of" an instant: an event is judged by the
// grants in force when it was written.

const FIXIT = 'fixit';
const OTHER_SERVICER = 'repair-co';
const AUDITOR = 'kpmg';
const MAKER = 'acme';
const SHOP = 'shop';
const ALICE = 'alice';
const STRANGER = 'stranger';

const GTIN = '09506000134352';
const OTHER_GTIN = '09506000134369';
const BATCH = 'batch-L1';
const OTHER_BATCH = 'batch-L2';
const ITEM: ItemScope = { gtin: GTIN, batchId: BATCH };

const T = (iso: string): Date => new Date(iso);
const JAN = T('2026-01-01T00:00:00.000Z');
const MAR = T('2026-03-01T00:00:00.000Z');
const JUN = T('2026-06-01T00:00:00.000Z');
const SEP = T('2026-09-01T00:00:00.000Z');
const ms = (d: Date, delta: number): Date => new Date(d.getTime() + delta);

let seq = 0;
/** A SERVICE grant to FIXIT on the product, created in January, no expiry, not revoked — override what a test needs. */
const grant = (o: Partial<GrantFact> = {}): GrantFact => ({
  id: `g${++seq}`,
  granteeId: FIXIT,
  kinds: ['SERVICE'],
  productGtin: GTIN,
  batchId: null,
  allProducts: false,
  createdAt: JAN,
  expiresAt: null,
  revokedAt: null,
  ...o,
});

describe('grantInForce', () => {
  it('is in force from its creation instant until (excluding) expiry or revocation', () => {
    const g = grant({ createdAt: MAR, expiresAt: JUN });
    expect(grantInForce(g, ms(MAR, -1))).toBe(false);
    expect(grantInForce(g, MAR)).toBe(true);
    expect(grantInForce(g, ms(JUN, -1))).toBe(true);
    expect(grantInForce(g, JUN)).toBe(false);
    expect(grantInForce(g, SEP)).toBe(false);
    const r = grant({ createdAt: MAR, revokedAt: JUN });
    expect(grantInForce(r, ms(JUN, -1))).toBe(true);
    expect(grantInForce(r, JUN)).toBe(false);
    expect(grantInForce(grant(), SEP), 'no expiry, never revoked').toBe(true);
  });
});

describe('grantStatus', () => {
  it('a grant in force for the kind on the product is valid and names the grant', () => {
    const g = grant();
    expect(grantStatus([g], FIXIT, 'SERVICE', ITEM, MAR)).toEqual({ status: 'valid', grantId: g.id });
  });

  it('no grants at all → none', () => {
    expect(grantStatus([], FIXIT, 'SERVICE', ITEM, MAR)).toEqual({ status: 'none', grantId: null });
  });

  it('a kind the grant does not cover → none (even though the grant is in force for another kind)', () => {
    const g = grant({ kinds: ['SERVICE', 'USE_REPORT'] });
    expect(grantStatus([g], FIXIT, 'ACTIVATE', ITEM, MAR)).toEqual({ status: 'none', grantId: null });
    expect(grantStatus([g], FIXIT, 'RECALL', ITEM, MAR)).toEqual({ status: 'none', grantId: null });
    expect(grantStatus([g], FIXIT, 'USE_REPORT', ITEM, MAR)).toEqual({ status: 'valid', grantId: g.id });
  });

  it('a read-only grant (no kinds) authorises no kind', () => {
    const g = grant({ kinds: [] });
    for (const kind of ['ACTIVATE', 'SERVICE', 'USE_REPORT', 'RECALL'] as const) {
      expect(grantStatus([g], FIXIT, kind, ITEM, MAR), kind).toEqual({ status: 'none', grantId: null });
    }
  });

  it('a lapsed grant for another kind does not colour the denial (still none)', () => {
    const g = grant({ kinds: ['USE_REPORT'], expiresAt: MAR, revokedAt: MAR });
    expect(grantStatus([g], FIXIT, 'SERVICE', ITEM, JUN)).toEqual({ status: 'none', grantId: null });
  });

  it("another actor's grant does not count", () => {
    const g = grant({ granteeId: OTHER_SERVICER });
    expect(grantStatus([g], FIXIT, 'SERVICE', ITEM, MAR)).toEqual({ status: 'none', grantId: null });
    expect(grantStatus([g], OTHER_SERVICER, 'SERVICE', ITEM, MAR)).toEqual({ status: 'valid', grantId: g.id });
  });

  it('product scope covers every batch of that product and nothing of another product', () => {
    const g = grant({ productGtin: GTIN });
    expect(grantStatus([g], FIXIT, 'SERVICE', { gtin: GTIN, batchId: BATCH }, MAR).status).toBe('valid');
    expect(grantStatus([g], FIXIT, 'SERVICE', { gtin: GTIN, batchId: OTHER_BATCH }, MAR).status).toBe('valid');
    expect(grantStatus([g], FIXIT, 'SERVICE', { gtin: OTHER_GTIN, batchId: 'batch-X' }, MAR)).toEqual({ status: 'none', grantId: null });
  });

  it('batch scope covers that batch only, not sibling batches of the same product', () => {
    const g = grant({ productGtin: null, batchId: BATCH });
    expect(grantStatus([g], FIXIT, 'SERVICE', { gtin: GTIN, batchId: BATCH }, MAR)).toEqual({ status: 'valid', grantId: g.id });
    expect(grantStatus([g], FIXIT, 'SERVICE', { gtin: GTIN, batchId: OTHER_BATCH }, MAR)).toEqual({ status: 'none', grantId: null });
  });

  it('allProducts scope covers any product and batch', () => {
    const g = grant({ productGtin: null, batchId: null, allProducts: true, kinds: ['RECALL'] });
    expect(grantStatus([g], FIXIT, 'RECALL', { gtin: OTHER_GTIN, batchId: 'batch-X' }, MAR)).toEqual({ status: 'valid', grantId: g.id });
    expect(grantStatus([g], FIXIT, 'RECALL', ITEM, MAR).status).toBe('valid');
  });

  it('a grant created after `at` does not exist yet → none; created exactly at `at` → valid', () => {
    const g = grant({ createdAt: JUN });
    expect(grantStatus([g], FIXIT, 'SERVICE', ITEM, MAR)).toEqual({ status: 'none', grantId: null });
    expect(grantStatus([g], FIXIT, 'SERVICE', ITEM, ms(JUN, -1))).toEqual({ status: 'none', grantId: null });
    expect(grantStatus([g], FIXIT, 'SERVICE', ITEM, JUN)).toEqual({ status: 'valid', grantId: g.id });
  });

  it('a grant created after `at` that is already revoked or expired now is still none at `at`', () => {
    const g = grant({ createdAt: JUN, expiresAt: ms(JUN, 1), revokedAt: ms(JUN, 1) });
    expect(grantStatus([g], FIXIT, 'SERVICE', ITEM, MAR)).toEqual({ status: 'none', grantId: null });
  });

  it('expiry exactly at `at` is expired; one millisecond before it is valid', () => {
    const g = grant({ expiresAt: JUN });
    expect(grantStatus([g], FIXIT, 'SERVICE', ITEM, ms(JUN, -1))).toEqual({ status: 'valid', grantId: g.id });
    expect(grantStatus([g], FIXIT, 'SERVICE', ITEM, JUN)).toEqual({ status: 'expired', grantId: null });
    expect(grantStatus([g], FIXIT, 'SERVICE', ITEM, SEP)).toEqual({ status: 'expired', grantId: null });
  });

  it('revoked before `at` → revoked; revoked exactly at `at` → revoked', () => {
    const g = grant({ revokedAt: MAR });
    expect(grantStatus([g], FIXIT, 'SERVICE', ITEM, JUN)).toEqual({ status: 'revoked', grantId: null });
    expect(grantStatus([g], FIXIT, 'SERVICE', ITEM, MAR)).toEqual({ status: 'revoked', grantId: null });
  });

  it('revoked after `at` → valid at `at` (an event written under a grant stays authorised after revocation)', () => {
    const g = grant({ revokedAt: JUN });
    expect(grantStatus([g], FIXIT, 'SERVICE', ITEM, MAR)).toEqual({ status: 'valid', grantId: g.id });
    expect(grantStatus([g], FIXIT, 'SERVICE', ITEM, ms(JUN, -1))).toEqual({ status: 'valid', grantId: g.id });
  });

  it('expired before `at` but revoked only after `at` → expired (the revocation has not happened yet)', () => {
    const g = grant({ expiresAt: MAR, revokedAt: SEP });
    expect(grantStatus([g], FIXIT, 'SERVICE', ITEM, JUN)).toEqual({ status: 'expired', grantId: null });
  });

  it('a valid grant wins over revoked and expired ones, whatever their order', () => {
    const revoked = grant({ revokedAt: MAR });
    const expired = grant({ expiresAt: MAR });
    const valid = grant({ productGtin: null, batchId: BATCH, createdAt: MAR });
    for (const grants of [[revoked, expired, valid], [valid, revoked, expired], [expired, valid, revoked]]) {
      expect(grantStatus(grants, FIXIT, 'SERVICE', ITEM, JUN)).toEqual({ status: 'valid', grantId: valid.id });
    }
  });

  it('revoked is reported before expired, across grants and within one grant', () => {
    const revoked = grant({ revokedAt: MAR });
    const expired = grant({ expiresAt: MAR });
    expect(grantStatus([expired, revoked], FIXIT, 'SERVICE', ITEM, JUN)).toEqual({ status: 'revoked', grantId: null });
    expect(grantStatus([revoked, expired], FIXIT, 'SERVICE', ITEM, JUN)).toEqual({ status: 'revoked', grantId: null });
    const both = grant({ expiresAt: MAR, revokedAt: JUN });
    expect(grantStatus([both], FIXIT, 'SERVICE', ITEM, SEP)).toEqual({ status: 'revoked', grantId: null });
  });

  it('lapsed grants of other actors, kinds or products never turn none into revoked/expired', () => {
    const grants = [
      grant({ granteeId: OTHER_SERVICER, revokedAt: MAR }),
      grant({ kinds: ['ACTIVATE'], expiresAt: MAR }),
      grant({ productGtin: OTHER_GTIN, revokedAt: MAR }),
      grant({ productGtin: null, batchId: OTHER_BATCH, expiresAt: MAR }),
    ];
    expect(grantStatus(grants, FIXIT, 'SERVICE', ITEM, JUN)).toEqual({ status: 'none', grantId: null });
  });

  it('does not mutate its inputs', () => {
    const grants = [grant({ revokedAt: MAR }), grant({ expiresAt: JUN })];
    const snapshot = structuredClone(grants);
    grantStatus(grants, FIXIT, 'SERVICE', ITEM, SEP);
    expect(grants).toEqual(snapshot);
  });
});

describe('readScope', () => {
  it('a plain actor with no grants reads nothing beyond its own relations', () => {
    expect(readScope(SHOP, false, [], MAR)).toEqual({ actorId: SHOP, isOperator: false, gtins: [], batchIds: [], allProducts: false });
  });

  it('collects only grants in force at `at`, and only the actor\'s own', () => {
    const grants = [
      grant({ productGtin: GTIN }),
      grant({ productGtin: null, batchId: BATCH }),
      grant({ productGtin: 'gtin-expired', expiresAt: MAR }),
      grant({ productGtin: 'gtin-revoked', revokedAt: MAR }),
      grant({ productGtin: 'gtin-future', createdAt: SEP }),
      grant({ productGtin: null, batchId: 'batch-expired', expiresAt: JUN }),
      grant({ granteeId: OTHER_SERVICER, productGtin: OTHER_GTIN }),
      grant({ granteeId: OTHER_SERVICER, productGtin: null, batchId: null, allProducts: true, kinds: [] }),
    ];
    const scope = readScope(FIXIT, false, grants, JUN);
    expect(scope.actorId).toBe(FIXIT);
    expect(scope.isOperator).toBe(false);
    expect([...scope.gtins].sort()).toEqual([GTIN]);
    expect(scope.batchIds).toEqual([BATCH]);
    expect(scope.allProducts).toBe(false);
  });

  it('the same grants read at an earlier instant include what had not yet lapsed', () => {
    const grants = [grant({ productGtin: 'gtin-a', expiresAt: MAR }), grant({ productGtin: 'gtin-b', revokedAt: JUN })];
    expect([...readScope(FIXIT, false, grants, ms(MAR, -1)).gtins].sort()).toEqual(['gtin-a', 'gtin-b']);
    expect(readScope(FIXIT, false, grants, MAR).gtins).toEqual(['gtin-b']);
    expect(readScope(FIXIT, false, grants, JUN).gtins).toEqual([]);
  });

  it('the operator reads all products, even without any grant', () => {
    const scope = readScope('operator', true, [], MAR);
    expect(scope.allProducts).toBe(true);
    expect(scope.isOperator).toBe(true);
  });

  it('an allProducts grant in force reads all products; once expired or revoked it does not', () => {
    const live = grant({ granteeId: AUDITOR, kinds: [], productGtin: null, batchId: null, allProducts: true });
    expect(readScope(AUDITOR, false, [live], MAR).allProducts).toBe(true);
    const expired = { ...live, expiresAt: MAR };
    expect(readScope(AUDITOR, false, [expired], JUN).allProducts).toBe(false);
    const revoked = { ...live, revokedAt: MAR };
    expect(readScope(AUDITOR, false, [revoked], JUN).allProducts).toBe(false);
  });

  it('read-only grants with empty kinds count for visibility (product and batch)', () => {
    const grants = [
      grant({ granteeId: AUDITOR, kinds: [], productGtin: GTIN }),
      grant({ granteeId: AUDITOR, kinds: [], productGtin: null, batchId: OTHER_BATCH }),
    ];
    const scope = readScope(AUDITOR, false, grants, MAR);
    expect(scope.gtins).toEqual([GTIN]);
    expect(scope.batchIds).toEqual([OTHER_BATCH]);
    expect(scope.allProducts).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Visibility: one item of MAKER's product, held by SHOP, not in transit, never held by the viewer.

const scope = (o: Partial<ReadScope> = {}): ReadScope => ({ actorId: STRANGER, isOperator: false, gtins: [], batchIds: [], allProducts: false, ...o });
const facts = (o: Partial<ItemVisibilityFacts> = {}): ItemVisibilityFacts => ({
  gtin: GTIN, batchId: BATCH, brandOwnerId: MAKER, custodianId: SHOP, pendingReceiverId: null, held: false, ...o,
});

describe('canSeeItem', () => {
  it('an unrelated actor sees nothing', () => {
    expect(canSeeItem(scope(), facts())).toBe(false);
  });

  it('grants for other products or batches, and being in transit to someone else, reveal nothing', () => {
    expect(canSeeItem(scope({ gtins: [OTHER_GTIN], batchIds: [OTHER_BATCH] }), facts({ pendingReceiverId: 'dhl' }))).toBe(false);
  });

  const positives: [string, ReadScope, ItemVisibilityFacts][] = [
    ['operator / all-products reader', scope({ allProducts: true }), facts()],
    ['the brand owner (items of its own products)', scope({ actorId: MAKER }), facts()],
    ['the current custodian', scope({ actorId: SHOP }), facts()],
    ['the pending receiver of a shipment', scope(), facts({ pendingReceiverId: STRANGER })],
    ['a former holder', scope(), facts({ held: true })],
    ['a product grantee', scope({ gtins: [GTIN] }), facts()],
    ['a batch grantee', scope({ batchIds: [BATCH] }), facts()],
  ];

  it.each(positives)('sees it alone: %s', (_name, s, f) => {
    expect(canSeeItem(s, f)).toBe(true);
  });

  it('each positive case differs from the unrelated baseline by exactly one rule', () => {
    const base = { s: scope(), f: facts() };
    for (const [name, s, f] of positives) {
      const changed = [
        ...Object.keys(s).filter((k) => JSON.stringify(s[k as keyof ReadScope]) !== JSON.stringify(base.s[k as keyof ReadScope])),
        ...Object.keys(f).filter((k) => f[k as keyof ItemVisibilityFacts] !== base.f[k as keyof ItemVisibilityFacts]),
      ];
      expect(changed, name).toHaveLength(1);
    }
  });
});

describe('canSeeFullHistory', () => {
  const item = (o: Partial<Omit<ItemVisibilityFacts, 'held'> & { publicHistory: boolean }> = {}) => ({
    gtin: GTIN, batchId: BATCH, brandOwnerId: MAKER, custodianId: ALICE, pendingReceiverId: null, publicHistory: false, ...o,
  });

  it('the brand owner reads the whole history', () => {
    expect(canSeeFullHistory(scope({ actorId: MAKER }), item())).toBe(true);
  });

  it('product and batch grantees read the whole history', () => {
    expect(canSeeFullHistory(scope({ actorId: FIXIT, gtins: [GTIN] }), item())).toBe(true);
    expect(canSeeFullHistory(scope({ actorId: FIXIT, batchIds: [BATCH] }), item())).toBe(true);
  });

  it('grantees of other products or batches do not', () => {
    expect(canSeeFullHistory(scope({ actorId: FIXIT, gtins: [OTHER_GTIN], batchIds: [OTHER_BATCH] }), item({ publicHistory: true }))).toBe(false);
  });

  it('all-products readers (operator, auditors) read the whole history', () => {
    expect(canSeeFullHistory(readScope('operator', true, [], MAR), item())).toBe(true);
    expect(canSeeFullHistory(scope({ actorId: AUDITOR, allProducts: true }), item())).toBe(true);
  });

  it('the current custodian reads the whole history only when the brand made it public', () => {
    expect(canSeeFullHistory(scope({ actorId: ALICE }), item({ publicHistory: true }))).toBe(true);
    expect(canSeeFullHistory(scope({ actorId: ALICE }), item({ publicHistory: false }))).toBe(false);
  });

  it('a former holder never reads the whole history, public or not', () => {
    for (const publicHistory of [false, true]) {
      expect(canSeeFullHistory(scope({ actorId: SHOP }), item({ custodianId: ALICE, publicHistory })), `public=${publicHistory}`).toBe(false);
    }
  });

  it('the pending receiver and an unrelated actor do not either', () => {
    for (const publicHistory of [false, true]) {
      expect(canSeeFullHistory(scope({ actorId: SHOP }), item({ pendingReceiverId: SHOP, publicHistory }))).toBe(false);
      expect(canSeeFullHistory(scope(), item({ publicHistory }))).toBe(false);
    }
  });
});

describe('container custody (pack / unpack rights)', () => {
  const ALPHA = 'alpha';
  const BRAVO = 'bravo';
  const facts = (o: Partial<ContainerFacts>): ContainerFacts => ({ exists: true, holderId: null, contentCustodians: [], seesContent: false, ...o });
  const decide = (actor: string, use: 'PACK_INTO' | 'PACK_NESTED' | 'UNPACK', f: ContainerFacts) => {
    const r = decideContainerUse(actor, use, f);
    return r.ok ? 'ok' : r.error.type === 'NotFound' ? 'not found' : r.error.rule;
  };

  it('a new SSCC can be packed into (it becomes the packer\'s), but not nested or unpacked', () => {
    const none = facts({ exists: false });
    expect(decide(ALPHA, 'PACK_INTO', none)).toBe('ok');
    expect(decide(ALPHA, 'PACK_NESTED', none)).toBe('not found');
    expect(decide(ALPHA, 'UNPACK', none)).toBe('not found');
  });

  it('the custodian of everything inside packs into, nests and unpacks it', () => {
    const mine = facts({ holderId: BRAVO, contentCustodians: [ALPHA, ALPHA], seesContent: true });
    for (const use of ['PACK_INTO', 'PACK_NESTED', 'UNPACK'] as const) expect(decide(ALPHA, use, mine), use).toBe('ok');
  });

  it('another company\'s container is "not found" when nothing inside is visible, exactly like a missing one', () => {
    const bravos = facts({ holderId: BRAVO, contentCustodians: [BRAVO], seesContent: false });
    for (const use of ['PACK_INTO', 'PACK_NESTED', 'UNPACK'] as const) {
      expect(decide(ALPHA, use, bravos), use).toBe('not found');
      // Nesting and unpacking a missing SSCC answer the same; packing into a missing one creates it instead.
      if (use !== 'PACK_INTO') expect(decide(ALPHA, use, facts({ exists: false }))).toBe('not found');
    }
  });

  it('one who sees into a container it does not hold (the brand of the items) is refused NOT_CONTAINER_CUSTODIAN', () => {
    const held = facts({ holderId: BRAVO, contentCustodians: [BRAVO], seesContent: true });
    for (const use of ['PACK_INTO', 'PACK_NESTED', 'UNPACK'] as const) expect(decide(ALPHA, use, held), use).toBe('NOT_CONTAINER_CUSTODIAN');
  });

  it('a container whose contents are split between custodians belongs to none of them alone', () => {
    const split = facts({ contentCustodians: [ALPHA, BRAVO], seesContent: true });
    expect(decide(ALPHA, 'UNPACK', split)).toBe('NOT_CONTAINER_CUSTODIAN');
    expect(decide(BRAVO, 'PACK_INTO', split)).toBe('NOT_CONTAINER_CUSTODIAN');
  });

  it('an empty container belongs to whoever last packed or unpacked it', () => {
    const empty = facts({ holderId: BRAVO });
    expect(decide(BRAVO, 'PACK_INTO', empty)).toBe('ok');
    expect(decide(ALPHA, 'PACK_INTO', empty)).toBe('not found');
    expect(decide(ALPHA, 'PACK_NESTED', empty)).toBe('not found');
  });
});
