import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { RULE_CODES, RULES } from '../../src/core/failures.ts';
import {
  EVENT_KINDS, GRANTABLE_KINDS, LEDGER_KINDS, LIFECYCLE, STAGES, TRANSITION_RULES, authorizingGrant, decideRecorder, decideTransition,
  type GrantStatus, type ItemState,
} from '../../src/core/lifecycle.ts';
import { checkNewActor, isParty } from '../../src/core/party.ts';
import {
  type ActorFacts, type CheckedGrantRequest, canSeeApiKeys, captureJobsOf, checkGrantRequest, decideCommission, decideGrant, decideManageLinks, decideNesting,
  decideRecall, decideRecallScope, decideRegisterProduct, decideRevoke, requireOperator,
} from '../../src/core/rights.ts';

// Issue 11: every authorization decision of the write use cases is made here, in core, as a pure function of facts the
// service loaded. Each rule below is tested on its own, denials included, with the exact failure the API answers.

const actor = (id: string, over: Partial<ActorFacts> = {}): ActorFacts => ({ id, roles: [], isOperator: false, companyPrefixes: [], ...over });
const MAKER = actor('maker', { roles: ['MANUFACTURER'], companyPrefixes: ['9506000'] });
const RIVAL = actor('rival', { roles: ['MANUFACTURER'], companyPrefixes: ['9506001'] });
const SHOP = actor('shop', { roles: ['RETAILER'] });
const FIXIT = actor('fixit', { roles: ['SERVICER'] });
const OPERATOR = actor('operator', { isOperator: true });
const GTIN = '09506000134352';
const NOW = new Date('2026-06-01T00:00:00.000Z');

describe('requireOperator', () => {
  it('lets the operator through and refuses anyone else with OPERATOR_REQUIRED', () => {
    expect(requireOperator(OPERATOR, 'create actors')).toEqual({ ok: true, value: null });
    expect(requireOperator(MAKER, 'create actors')).toEqual({
      ok: false, error: { kind: 'PermissionDeniedError', rule: 'OPERATOR_REQUIRED', message: 'only the platform operator may create actors', items: [] },
    });
  });
});

describe('decideRegisterProduct', () => {
  it('a MANUFACTURER registers a GTIN under one of its prefixes and learns which prefix', () => {
    expect(decideRegisterProduct(MAKER, GTIN)).toEqual({ ok: true, value: { prefix: '9506000' } });
  });
  it('refuses a non-manufacturer first, even when the GTIN carries its prefix', () => {
    const r = decideRegisterProduct({ ...SHOP, companyPrefixes: ['9506000'] }, GTIN);
    expect(r.ok ? null : r.error).toMatchObject({ kind: 'PermissionDeniedError', rule: 'ROLE_REQUIRED:MANUFACTURER' });
  });
  it('refuses a GTIN outside the manufacturer’s prefixes, naming them (or "none")', () => {
    const r = decideRegisterProduct(RIVAL, GTIN);
    expect(r.ok ? null : r.error).toMatchObject({ rule: 'NOT_PREFIX_OWNER', message: `GTIN ${GTIN} does not carry any of your company prefixes (9506001)` });
    const none = decideRegisterProduct({ ...MAKER, companyPrefixes: [] }, GTIN);
    expect(none.ok ? null : none.error).toMatchObject({ rule: 'NOT_PREFIX_OWNER', message: expect.stringContaining('(none)') });
  });
});

describe('decideCommission (registerBatch)', () => {
  it('the owning manufacturer commissions under its prefix', () => {
    expect(decideCommission(MAKER, GTIN, { ownerId: 'maker' })).toEqual({ ok: true, value: { prefix: '9506000' } });
  });
  it('the COMMISSION role of the lifecycle table comes first, before the product is even judged', () => {
    expect(LIFECYCLE.COMMISSION.role).toBe('MANUFACTURER');
    for (const product of [undefined, { ownerId: 'shop' }, { ownerId: 'maker' }]) {
      const r = decideCommission(SHOP, GTIN, product);
      expect(r.ok ? null : r.error).toMatchObject({ kind: 'PermissionDeniedError', rule: 'ROLE_REQUIRED:MANUFACTURER', message: 'only a MANUFACTURER registers batches' });
    }
  });
  it('a product the caller cannot see is "not found", with no hint that it exists', () => {
    expect(decideCommission(RIVAL, GTIN, undefined)).toEqual({ ok: false, error: { kind: 'NotFoundError', message: `product ${GTIN} not found` } });
  });
  it('another brand’s visible product is NOT_BRAND_OWNER; a GTIN that lost the owner’s prefix is NOT_PREFIX_OWNER', () => {
    const other = decideCommission(RIVAL, GTIN, { ownerId: 'maker' });
    expect(other.ok ? null : other.error).toMatchObject({ rule: 'NOT_BRAND_OWNER' });
    const lost = decideCommission({ ...MAKER, companyPrefixes: ['9999999'] }, GTIN, { ownerId: 'maker' });
    expect(lost.ok ? null : lost.error).toMatchObject({ rule: 'NOT_PREFIX_OWNER', message: `GTIN ${GTIN} no longer carries a company prefix of its owner` });
  });
});

describe('decideRecall and decideRecallScope', () => {
  const REF = { gtin: GTIN, lot: 'L1' };
  const BATCH = { brandOwnerId: 'maker' };
  const none = { status: 'none' as const, grantId: null };
  it('the brand recalls without a grant (authorizedBy null, even when it also holds one)', () => {
    expect(decideRecall(MAKER, REF, BATCH, none)).toEqual({ ok: true, value: { authorizedBy: null, batch: BATCH } });
    expect(decideRecall(MAKER, REF, BATCH, { status: 'valid', grantId: 'g1' })).toEqual({ ok: true, value: { authorizedBy: null, batch: BATCH } });
  });
  it('a RECALL grantee in force recalls, and the grant it relied on is returned', () => {
    expect(decideRecall(FIXIT, REF, BATCH, { status: 'valid', grantId: 'g1' })).toEqual({ ok: true, value: { authorizedBy: 'g1', batch: BATCH } });
  });
  it('refuses others: NOT_BRAND_OWNER, or the lapse of their grant', () => {
    const cases: [GrantStatus, string, string][] = [
      ['none', 'NOT_BRAND_OWNER', 'only the brand owner (or a RECALL grantee) recalls a batch'],
      ['expired', 'GRANT_EXPIRED', 'your RECALL grant for this batch is no longer in force'],
      ['revoked', 'GRANT_REVOKED', 'your RECALL grant for this batch is no longer in force'],
    ];
    for (const [status, rule, message] of cases) {
      expect(decideRecall(FIXIT, REF, BATCH, { status, grantId: null }), status).toEqual({ ok: false, error: { kind: 'PermissionDeniedError', rule, message, items: [] } });
    }
  });
  it('a batch the caller cannot see is "not found" before any right is judged', () => {
    expect(decideRecall(MAKER, REF, undefined, { status: 'valid', grantId: 'g1' })).toEqual({ ok: false, error: { kind: 'NotFoundError', message: `batch L1 of ${GTIN} not found` } });
  });
  it('an already recalled batch is answered again; a batch with no open item is a ValidationError on lot', () => {
    expect(decideRecallScope({ recalled: true }, 0)).toEqual({ ok: true, value: { alreadyRecalled: true } });
    expect(decideRecallScope({ recalled: false }, 3)).toEqual({ ok: true, value: { alreadyRecalled: false } });
    const empty = decideRecallScope({ recalled: false }, 0);
    expect(empty.ok ? null : empty.error).toMatchObject({ kind: 'ValidationError', field: 'lot' });
  });
});

describe('grant policy', () => {
  it('grantable kinds are derived from the lifecycle table: exactly the kinds whose recorder admits grantees', () => {
    const fromTable = EVENT_KINDS.filter((k) => ['brandOrGrantee', 'custodianOrGrantee'].includes(LIFECYCLE[k].recorder));
    expect(GRANTABLE_KINDS).toEqual(fromTable);
    expect(GRANTABLE_KINDS).toEqual(['ACTIVATE', 'SERVICE', 'USE_REPORT', 'RECALL']);
  });
  it('refuses every other kind (custody moves, COMMISSION, PACK/UNPACK) as a ValidationError on kinds', () => {
    for (const kind of LEDGER_KINDS.filter((k) => !GRANTABLE_KINDS.includes(k as never))) {
      const r = checkGrantRequest({ kinds: [kind], product: GTIN }, NOW);
      expect(r.ok ? null : r.error, kind).toMatchObject({ kind: 'ValidationError', field: 'kinds', message: expect.stringContaining(`${kind} cannot be granted`) });
    }
  });
  it('checks the request alone: one scope, bounded text, expiry in the future; kinds deduplicated and sorted', () => {
    const bad = (req: Parameters<typeof checkGrantRequest>[0]) => {
      const r = checkGrantRequest(req, NOW);
      return r.ok ? null : r.error;
    };
    expect(bad({ kinds: [] })).toMatchObject({ field: 'scope' });
    expect(bad({ kinds: [], product: GTIN, batch: { gtin: GTIN, lot: 'L1' } })).toMatchObject({ field: 'scope' });
    expect(bad({ kinds: [], product: 'a\u0000b' })).toMatchObject({ kind: 'ValidationError', field: 'product' });
    expect(bad({ kinds: [], product: GTIN, expiresAt: '2026-05-31T23:59:59Z' })).toMatchObject({ field: 'expiresAt', message: 'expiresAt must be in the future' });
    expect(bad({ kinds: [], product: GTIN, expiresAt: NOW.toISOString() })).toMatchObject({ field: 'expiresAt' });
    expect(bad({ kinds: [], product: GTIN, expiresAt: 'tomorrow' })).toMatchObject({ field: 'expiresAt' });
    expect(checkGrantRequest({ kinds: ['SERVICE', 'ACTIVATE', 'SERVICE'], batch: { gtin: GTIN, lot: 'L1' }, expiresAt: '2026-07-01T00:00:00+02:00' }, NOW)).toEqual({
      ok: true, value: { kinds: ['ACTIVATE', 'SERVICE'], scope: { type: 'batch', gtin: GTIN, lot: 'L1' }, expiresAt: new Date('2026-06-30T22:00:00.000Z') },
    });
  });

  const checked = (scope: CheckedGrantRequest['scope'], kinds: string[] = ['SERVICE']): CheckedGrantRequest => ({ kinds, scope, expiresAt: null });
  const facts = { grantee: { id: 'fixit', isOperator: false }, product: { gtin: GTIN, ownerId: 'maker' }, batch: { id: 'b1' } };
  const error = (r: ReturnType<typeof decideGrant>) => (r.ok ? null : r.error);

  it('the brand grants on its product or its batch', () => {
    expect(decideGrant(MAKER, checked({ type: 'product', gtin: '9506000134352' }), facts)).toEqual({
      ok: true, value: { granteeId: 'fixit', kinds: ['SERVICE'], productGtin: GTIN, batchId: null, allProducts: false, expiresAt: null },
    });
    expect(decideGrant(MAKER, checked({ type: 'batch', gtin: GTIN, lot: 'L1' }), facts)).toMatchObject({ ok: true, value: { productGtin: null, batchId: 'b1' } });
  });
  it('the grantee must be a known non-operator actor, and not the caller', () => {
    expect(error(decideGrant(MAKER, checked({ type: 'product', gtin: GTIN }), { ...facts, grantee: undefined }))).toEqual({ kind: 'NotFoundError', message: 'grantee not found' });
    expect(error(decideGrant(MAKER, checked({ type: 'product', gtin: GTIN }), { ...facts, grantee: { id: 'operator', isOperator: true } }))).toEqual({ kind: 'NotFoundError', message: 'grantee not found' });
    expect(error(decideGrant(MAKER, checked({ type: 'product', gtin: GTIN }), { ...facts, grantee: { id: 'maker', isOperator: false } }))).toMatchObject({ kind: 'ValidationError', field: 'grantee' });
  });
  it('someone else’s product is "not found", exactly as a missing one; the operator grants on any product', () => {
    const missing = error(decideGrant(RIVAL, checked({ type: 'product', gtin: GTIN }), { ...facts, product: undefined }));
    const foreign = error(decideGrant(RIVAL, checked({ type: 'product', gtin: GTIN }), facts));
    expect(foreign).toEqual({ kind: 'NotFoundError', message: `product ${GTIN} not found` });
    expect(foreign).toEqual(missing);
    expect(decideGrant(OPERATOR, checked({ type: 'product', gtin: GTIN }), facts).ok).toBe(true);
    expect(error(decideGrant(MAKER, checked({ type: 'batch', gtin: GTIN, lot: 'L9' }), { ...facts, batch: undefined }))).toEqual({ kind: 'NotFoundError', message: `batch L9 of ${GTIN} not found` });
  });
  it('a bad GTIN is a ValidationError on the field it came from', () => {
    expect(error(decideGrant(MAKER, checked({ type: 'product', gtin: '123' }), facts))).toMatchObject({ kind: 'ValidationError', field: 'product' });
    expect(error(decideGrant(MAKER, checked({ type: 'batch', gtin: '123', lot: 'L1' }), facts))).toMatchObject({ kind: 'ValidationError', field: 'batch.gtin' });
  });
  it('all-products grants are the operator’s and read-only', () => {
    expect(error(decideGrant(MAKER, checked({ type: 'allProducts' }, []), facts))).toMatchObject({ kind: 'PermissionDeniedError', rule: 'OPERATOR_REQUIRED' });
    expect(error(decideGrant(OPERATOR, checked({ type: 'allProducts' }, ['RECALL']), facts))).toMatchObject({ kind: 'ValidationError', field: 'kinds' });
    expect(decideGrant(OPERATOR, checked({ type: 'allProducts' }, []), facts)).toMatchObject({ ok: true, value: { allProducts: true, productGtin: null, batchId: null } });
  });
});

describe('decideRevoke', () => {
  const grant = { grantorId: 'maker', granteeId: 'fixit', revokedAt: null };
  it('the grantor and the operator revoke; the grant is handed back', () => {
    expect(decideRevoke(MAKER, grant)).toEqual({ ok: true, value: grant });
    expect(decideRevoke(OPERATOR, grant)).toEqual({ ok: true, value: grant });
  });
  it('a stranger gets "not found" (as for a missing grant); the grantee sees it but gets NOT_GRANTOR', () => {
    expect(decideRevoke(RIVAL, grant)).toEqual({ ok: false, error: { kind: 'NotFoundError', message: 'grant not found' } });
    expect(decideRevoke(RIVAL, undefined)).toEqual({ ok: false, error: { kind: 'NotFoundError', message: 'grant not found' } });
    const r = decideRevoke(FIXIT, grant);
    expect(r.ok ? null : r.error).toMatchObject({ kind: 'PermissionDeniedError', rule: 'NOT_GRANTOR' });
  });
  it('revoking twice is a conflict naming the first revocation', () => {
    const r = decideRevoke(MAKER, { ...grant, revokedAt: NOW });
    expect(r).toEqual({ ok: false, error: { kind: 'ConflictError', message: `grant was already revoked at ${NOW.toISOString()}` } });
  });
});

describe('decideManageLinks', () => {
  it('the brand and the operator manage links; others are NOT_BRAND_OWNER; an invisible product is "not found"', () => {
    expect(decideManageLinks(MAKER, GTIN, { ownerId: 'maker' }).ok).toBe(true);
    expect(decideManageLinks(OPERATOR, GTIN, { ownerId: 'maker' }).ok).toBe(true);
    const r = decideManageLinks(SHOP, GTIN, { ownerId: 'maker' });
    expect(r.ok ? null : r.error).toMatchObject({ kind: 'PermissionDeniedError', rule: 'NOT_BRAND_OWNER' });
    expect(decideManageLinks(SHOP, GTIN, undefined)).toEqual({ ok: false, error: { kind: 'NotFoundError', message: `product ${GTIN} not found` } });
  });
});

describe('decideNesting (packItems with containers)', () => {
  const PALLET = '095060001000000017';
  const CASE_A = '095060001000000024';
  const CASE_B = '095060001000000031';
  it('packs free containers', () => {
    expect(decideNesting(PALLET, [CASE_A, CASE_B], new Map(), false)).toEqual({ ok: true, value: null });
  });
  it('a container already packed elsewhere must be unpacked first; the failure names it as data', () => {
    expect(decideNesting(PALLET, [CASE_A, CASE_B], new Map([[CASE_B, '095060001000000048']]), false)).toEqual({
      ok: false,
      error: { kind: 'ValidationError', field: 'containers', message: `container ${CASE_B} is already packed in 095060001000000048; unpack it first`, subject: { type: 'container', sscc: CASE_B } },
    });
  });
  it('packing a container into one of its own descendants is a cycle, reported on the parent', () => {
    const r = decideNesting(PALLET, [CASE_A], new Map(), true);
    expect(r.ok ? null : r.error).toMatchObject({ kind: 'ValidationError', field: 'containers', subject: { type: 'container', sscc: PALLET } });
  });
});

describe('actors as parties, and operator scopes', () => {
  it('the operator is never a party (receiver, buyer or grantee); any other actor is', () => {
    expect(isParty({ isOperator: true })).toBe(false);
    expect(isParty({ isOperator: false })).toBe(true);
    const r = decideGrant(MAKER, { kinds: [], scope: { type: 'product', gtin: GTIN }, expiresAt: null }, { grantee: { id: 'op', isOperator: true }, product: { gtin: GTIN, ownerId: 'maker' }, batch: undefined });
    expect(r).toEqual({ ok: false, error: { kind: 'NotFoundError', message: 'grantee not found' } });
  });
  it('an actor reads its own capture jobs; the operator every actor’s', () => {
    expect(captureJobsOf({ id: 'maker', isOperator: false })).toBe('maker');
    expect(captureJobsOf({ id: 'operator', isOperator: true })).toBeNull();
  });
});

describe('checkNewActor (createActor input)', () => {
  const LIMITS = { actorNameChars: 20 };
  const bad = (req: Parameters<typeof checkNewActor>[0]) => {
    const r = checkNewActor(req, LIMITS);
    return r.ok ? null : r.error;
  };
  it('trims and deduplicates what it keeps', () => {
    expect(checkNewActor({ name: '  Acme ', roles: ['MANUFACTURER', 'MANUFACTURER'], gln: ' 9506000000008 ', companyPrefixes: [' 9506000', '9506000'] }, LIMITS)).toEqual({
      ok: true, value: { name: 'Acme', roles: ['MANUFACTURER'], gln: '9506000000008', companyPrefixes: ['9506000'] },
    });
    expect(checkNewActor({ name: 'Shop', roles: ['RETAILER'], gln: '  ' }, LIMITS)).toEqual({ ok: true, value: { name: 'Shop', roles: ['RETAILER'], gln: null, companyPrefixes: [] } });
  });
  it('refuses an empty or long name, an unknown role, a bad GLN or prefix', () => {
    expect(bad({ name: '  ', roles: [] })).toMatchObject({ kind: 'ValidationError', field: 'name' });
    expect(bad({ name: 'x'.repeat(21), roles: [] })).toMatchObject({ field: 'name' });
    expect(bad({ name: 'A', roles: ['KING'] })).toMatchObject({ field: 'roles', message: expect.stringContaining('unknown role "KING"') });
    expect(bad({ name: 'A', roles: [], gln: '9506000000004' })).toMatchObject({ field: 'gln', message: expect.stringContaining('check digit') });
    expect(bad({ name: 'A', roles: ['MANUFACTURER'], companyPrefixes: ['12'] })).toMatchObject({ field: 'companyPrefixes' });
  });
  it('only a MANUFACTURER registers company prefixes', () => {
    expect(bad({ name: 'A', roles: ['RETAILER'], companyPrefixes: ['9506000'] })).toEqual({
      kind: 'ValidationError', field: 'companyPrefixes', message: 'only a MANUFACTURER registers GS1 company prefixes',
    });
  });
});

describe('canSeeApiKeys', () => {
  it('the actor itself and the operator see an actor’s keys; nobody else', () => {
    expect(canSeeApiKeys({ id: 'maker', isOperator: false }, 'maker')).toBe(true);
    expect(canSeeApiKeys({ id: 'operator', isOperator: true }, 'maker')).toBe(true);
    expect(canSeeApiKeys({ id: 'shop', isOperator: false }, 'maker')).toBe(false);
  });
});

describe('which grant authorised a write', () => {
  const item = { custodianId: 'alice', pendingReceiverId: null, brandOwnerId: 'maker' };
  const valid = { status: 'valid' as const, grantId: 'g1' };
  it('a grantee that is not the natural recorder relies on its grant', () => {
    expect(authorizingGrant('SERVICE', 'fixit', item, valid)).toBe('g1');
    expect(authorizingGrant('RECALL', 'fixit', item, valid)).toBe('g1');
    expect(decideRecorder('SERVICE', { id: 'fixit', roles: [] }, item, valid)).toEqual({ ok: true, value: { authorizedBy: 'g1' } });
  });
  it('the natural recorder relies on nothing, even when it also holds a grant', () => {
    expect(authorizingGrant('SERVICE', 'alice', item, valid)).toBeNull();
    expect(authorizingGrant('RECALL', 'maker', item, valid)).toBeNull();
  });
  it('custody moves never rely on a grant; a grant not in force authorises nothing', () => {
    expect(authorizingGrant('SHIP', 'alice', item, valid)).toBeNull();
    expect(authorizingGrant('SERVICE', 'fixit', item, { status: 'expired', grantId: null })).toBeNull();
    expect(decideRecorder('SERVICE', { id: 'fixit', roles: [] }, item, { status: 'revoked', grantId: null })).toEqual({ ok: false, error: { type: 'PermissionDenied', rule: 'GRANT_REVOKED' } });
    expect(decideRecorder('SHIP', { id: 'fixit', roles: [] }, item, valid)).toEqual({ ok: false, error: { type: 'PermissionDenied', rule: 'NOT_CUSTODIAN' } });
  });
});

describe('the rule catalogue', () => {
  it('every rule the transition decision can return is catalogued, and the catalogue’s role rules are the table’s roles', () => {
    for (const r of TRANSITION_RULES) expect(RULE_CODES).toContain(r);
    const tableRoles = new Set(EVENT_KINDS.flatMap((k) => (LIFECYCLE[k].role ? [`ROLE_REQUIRED:${LIFECYCLE[k].role}`] : [])));
    expect(new Set(RULE_CODES.filter((c) => c.startsWith('ROLE_REQUIRED:')))).toEqual(tableRoles);
    for (const code of RULE_CODES) expect(RULES[code].length, code).toBeGreaterThan(10);
  });
  it('decideTransition refuses only with TRANSITION_RULES, over every kind, stage, relation, role and grant', () => {
    const seen = new Set<string>();
    for (const kind of LEDGER_KINDS) {
      for (const stage of STAGES) {
        for (const actorId of ['cust', 'recv', 'brand', 'other']) {
          for (const roles of [[], ['RETAILER'], ['RECYCLER']]) {
            for (const grant of ['none', 'valid', 'expired', 'revoked'] as const) {
              for (const recalled of [false, true]) {
                const item: ItemState = { stage, custodianId: 'cust', pendingReceiverId: 'recv', recalled, brandOwnerId: 'brand' };
                const d = decideTransition(item, { kind, actorId, actorRoles: roles, counterpartyId: 'next', counterpartyRoles: [], grant });
                if (!d.ok && d.error.type === 'PermissionDenied') seen.add(d.error.rule);
              }
            }
          }
        }
      }
    }
    for (const rule of seen) expect(TRANSITION_RULES as readonly string[]).toContain(rule);
    // Everything but COMMISSION's role is reachable through decideTransition (COMMISSION goes through decideCommission).
    expect([...seen].sort()).toEqual(TRANSITION_RULES.filter((r) => r !== 'ROLE_REQUIRED:MANUFACTURER').sort());
  });
});

describe('the decisions are pure core', () => {
  it('failures.ts, rights.ts, lifecycle.ts and party.ts import only sibling core modules and read no clock', () => {
    for (const file of ['failures', 'rights', 'lifecycle', 'party']) {
      const source = readFileSync(fileURLToPath(new URL(`../../src/core/${file}.ts`, import.meta.url)), 'utf8');
      const imports = [...source.matchAll(/^import[^;]*?from '([^']+)'/gm)].map((m) => m[1]);
      for (const spec of imports) expect(spec, file).toMatch(/^\.\/[a-z-]+\.ts$/);
      expect(source, file).not.toMatch(/Date\.now|new Date\(\)|Buffer|process\./);
    }
  });
});
