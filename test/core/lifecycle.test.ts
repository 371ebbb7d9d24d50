import { describe, expect, it } from 'vitest';
import {
  EVENT_KINDS,
  LIFECYCLE,
  ROLES,
  STAGES,
  TERMINAL_STAGES,
  type EventKind,
  type LedgerKind,
  type GrantStatus,
  type ItemState,
  type Recording,
  type Stage,
  type TransitionError,
  decideTransition,
} from '../../src/core/lifecycle.ts';
import type { Result } from '../../src/core/result.ts';

// ---------------------------------------------------------------------------------------------------------------
// DESIGN.md "Lifecycle", transcribed by hand. Nothing below is derived from LIFECYCLE: it is the oracle the code's
// table and decideTransition are checked against.

const DESIGN_KINDS = ['COMMISSION', 'SHIP', 'RECEIVE', 'SELL', 'ACTIVATE', 'SERVICE', 'USE_REPORT', 'RETURN', 'RECALL', 'RECYCLE', 'DESTROY'] as const;
const DESIGN_STAGES = ['MANUFACTURED', 'IN_TRANSIT', 'IN_STOCK', 'SOLD', 'IN_USE', 'RETURNED', 'RECYCLED', 'DESTROYED'] as const;
const DESIGN_TERMINAL: readonly string[] = ['RECYCLED', 'DESTROYED'];
const DESIGN_NON_TERMINAL: Stage[] = ['MANUFACTURED', 'IN_TRANSIT', 'IN_STOCK', 'SOLD', 'IN_USE', 'RETURNED'];
const DESIGN_ROLES = ['MANUFACTURER', 'DISTRIBUTOR', 'RETAILER', 'SERVICER', 'RECYCLER', 'AUDITOR'] as const;

/**
 * Who may record it, relative to one item. DESIGN.md: ACTIVATE/SERVICE/USE_REPORT by "owner or SERVICER granted by
 * brand" (the custodian, or an actor holding a brand grant in force for the kind); RECALL by the brand owner (or an
 * actor the brand granted RECALL). Grants ("kinds × product or batch, with expiry") never stand in for custody.
 */
type Who = 'custodian' | 'namedReceiver' | 'brandOwnerOrGrantee' | 'ownerOrGrantee';

interface SpecRow {
  from: readonly Stage[];
  /** null: the stage is unchanged (RECALL). */
  to: Stage | null;
  who: Who;
  role?: string;
  /** The event must name the actor taking custody. */
  namesReceiver: boolean;
  /** Custody effect of an allowed recording. */
  custody: 'unchanged' | 'pendingToCounterparty' | 'toActor' | 'toCounterparty' | 'toBuyerIfNamed';
  bizStep: string;
  /** Only where DESIGN.md states it. */
  disposition?: string;
}

const SPEC: Record<Exclude<EventKind, 'COMMISSION'>, SpecRow> = {
  SHIP: { from: ['MANUFACTURED', 'IN_STOCK', 'RETURNED'], to: 'IN_TRANSIT', who: 'custodian', namesReceiver: true, custody: 'pendingToCounterparty', bizStep: 'shipping', disposition: 'in_transit' },
  RECEIVE: { from: ['IN_TRANSIT'], to: 'IN_STOCK', who: 'namedReceiver', namesReceiver: false, custody: 'toActor', bizStep: 'receiving', disposition: 'in_progress' },
  SELL: { from: ['IN_STOCK'], to: 'SOLD', who: 'custodian', role: 'RETAILER', namesReceiver: false, custody: 'toBuyerIfNamed', bizStep: 'retail_selling', disposition: 'retail_sold' },
  ACTIVATE: { from: ['SOLD', 'IN_USE'], to: 'IN_USE', who: 'ownerOrGrantee', namesReceiver: false, custody: 'unchanged', bizStep: 'installing', disposition: 'active' },
  SERVICE: { from: ['SOLD', 'IN_USE'], to: 'IN_USE', who: 'ownerOrGrantee', namesReceiver: false, custody: 'unchanged', bizStep: 'repairing' },
  USE_REPORT: { from: ['SOLD', 'IN_USE'], to: 'IN_USE', who: 'ownerOrGrantee', namesReceiver: false, custody: 'unchanged', bizStep: 'sensor_reporting' },
  RETURN: { from: ['SOLD', 'IN_USE'], to: 'RETURNED', who: 'custodian', namesReceiver: true, custody: 'toCounterparty', bizStep: 'receiving', disposition: 'returned' },
  RECALL: { from: DESIGN_NON_TERMINAL, to: null, who: 'brandOwnerOrGrantee', namesReceiver: false, custody: 'unchanged', bizStep: 'holding', disposition: 'recalled' },
  RECYCLE: { from: ['RETURNED', 'IN_STOCK'], to: 'RECYCLED', who: 'custodian', role: 'RECYCLER', namesReceiver: false, custody: 'unchanged', bizStep: 'disassembling' },
  DESTROY: { from: DESIGN_NON_TERMINAL, to: 'DESTROYED', who: 'custodian', namesReceiver: false, custody: 'unchanged', bizStep: 'destroying', disposition: 'destroyed' },
};

const DENY_RULE: Record<Who, string> = {
  custodian: 'NOT_CUSTODIAN',
  namedReceiver: 'NOT_NAMED_RECEIVER',
  brandOwnerOrGrantee: 'NOT_BRAND_OWNER',
  ownerOrGrantee: 'NOT_CUSTODIAN_OR_GRANTEE',
};

/** The recorder relation names of src/core/lifecycle.ts, per oracle relation. */
const RECORDER_NAME: Record<Who, string> = {
  custodian: 'custodian',
  namedReceiver: 'receiver',
  brandOwnerOrGrantee: 'brandOrGrantee',
  ownerOrGrantee: 'custodianOrGrantee',
};

/** Kinds a grant can open at all; every other kind needs the physical holder (or the named receiver). */
const GRANT_KINDS: readonly EventKind[] = ['ACTIVATE', 'SERVICE', 'USE_REPORT', 'RECALL'];
const CUSTODY_KINDS: readonly EventKind[] = ['SHIP', 'RECEIVE', 'SELL', 'RETURN', 'RECYCLE', 'DESTROY'];

/** Why a grant-based recorder is refused: a lapsed grant is named, otherwise the relation's own rule. */
function grantDenial(grant: GrantStatus | undefined, who: Who): string {
  if (grant === 'expired') return 'GRANT_EXPIRED';
  if (grant === 'revoked') return 'GRANT_REVOKED';
  return DENY_RULE[who];
}

// ---------------------------------------------------------------------------------------------------------------
// Outcomes in a comparable form: allowed with the exact next state, denied with the exact rule, or invalid with a
// reason class.

type ReasonClass = 'closed' | 'wrongStage' | 'mustNameReceiver' | 'alreadyCommissioned';
type Outcome =
  | { ok: true; state: ItemState }
  | { ok: false; denied: string }
  | { ok: false; invalid: ReasonClass | `unclassified: ${string}`; from: Stage; kind: LedgerKind };

function classify(reason: string, from: Stage, kind: EventKind): ReasonClass | `unclassified: ${string}` {
  if (/already commissioned/i.test(reason)) return 'alreadyCommissioned';
  if (/closed/i.test(reason) && reason.includes(from)) return 'closed';
  // A wrong-stage reason names exactly the stages the kind may be recorded from (per the design table).
  if (/requires stage/i.test(reason)) {
    const named = DESIGN_STAGES.filter((s) => new RegExp(`\\b${s}\\b`).test(reason));
    if ([...named].sort().join() === [...specFrom(kind)].sort().join()) return 'wrongStage';
  }
  if (/must name/i.test(reason)) return 'mustNameReceiver';
  return `unclassified: ${reason}`;
}

function specFrom(kind: EventKind): readonly Stage[] {
  return kind === 'COMMISSION' ? [] : SPEC[kind].from;
}

function outcomeOf(r: Result<ItemState, TransitionError>, kind: EventKind): Outcome {
  if (r.ok) return { ok: true, state: r.value };
  const e = r.error;
  if (e.type === 'PermissionDenied') return { ok: false, denied: e.rule };
  return { ok: false, invalid: classify(e.reason, e.from, kind), from: e.from, kind: e.kind };
}

/**
 * The oracle. Precedence (documented on decideTransition): lifecycle first (COMMISSION, closed, wrong stage), then
 * the recall block on SELL, then who may record, then the role, then the counterparty requirement.
 */
function expected(item: ItemState, rec: Recording): Outcome {
  const invalid = (c: ReasonClass): Outcome => ({ ok: false, invalid: c, from: item.stage, kind: rec.kind });
  if (rec.kind === 'COMMISSION') return invalid('alreadyCommissioned');
  const row = SPEC[rec.kind as Exclude<EventKind, 'COMMISSION'>];
  if (DESIGN_TERMINAL.includes(item.stage)) return invalid('closed');
  if (!row.from.includes(item.stage)) return invalid('wrongStage');
  if (rec.kind === 'SELL' && item.recalled) return { ok: false, denied: 'RECALLED' };
  const isCustodian = rec.actorId === item.custodianId;
  // Only a grant in force counts; roles (SERVICER included) never stand in for the relation.
  const grantValid = rec.grant === 'valid';
  const relationOk =
    row.who === 'custodian' ? isCustodian
    : row.who === 'namedReceiver' ? item.pendingReceiverId !== null && rec.actorId === item.pendingReceiverId
    : row.who === 'brandOwnerOrGrantee' ? rec.actorId === item.brandOwnerId || grantValid
    : isCustodian || grantValid;
  if (!relationOk) {
    const grantBased = row.who === 'brandOwnerOrGrantee' || row.who === 'ownerOrGrantee';
    return { ok: false, denied: grantBased ? grantDenial(rec.grant, row.who) : DENY_RULE[row.who] };
  }
  if (row.role && !rec.actorRoles.includes(row.role)) return { ok: false, denied: `ROLE_REQUIRED:${row.role}` };
  if (row.namesReceiver && !rec.counterpartyId) return invalid('mustNameReceiver');
  // DESIGN: the receiver of a RETURN is a retailer, the manufacturer (the item's brand) or a recycler.
  const receiverRoles = rec.counterpartyRoles ?? [];
  if (rec.kind === 'RETURN' && rec.counterpartyId !== item.brandOwnerId && !receiverRoles.includes('RETAILER') && !receiverRoles.includes('RECYCLER')) {
    return { ok: false, denied: 'RETURN_RECEIVER_NOT_ELIGIBLE' };
  }
  const next: ItemState = { ...item, stage: row.to ?? item.stage };
  switch (row.custody) {
    case 'pendingToCounterparty':
      next.pendingReceiverId = rec.counterpartyId;
      break;
    case 'toActor':
      next.custodianId = rec.actorId;
      next.pendingReceiverId = null;
      break;
    case 'toCounterparty':
      next.custodianId = rec.counterpartyId!;
      break;
    case 'toBuyerIfNamed':
      if (rec.counterpartyId) next.custodianId = rec.counterpartyId;
      break;
    case 'unchanged':
      break;
  }
  if (rec.kind === 'RECALL') next.recalled = true;
  return { ok: true, state: next };
}

// ---------------------------------------------------------------------------------------------------------------

describe('lifecycle vocabulary matches DESIGN.md', () => {
  it('lists exactly the kinds, stages, roles and terminal stages of the design, in order', () => {
    expect([...EVENT_KINDS]).toEqual([...DESIGN_KINDS]);
    expect([...STAGES]).toEqual([...DESIGN_STAGES]);
    expect([...ROLES]).toEqual([...DESIGN_ROLES]);
    expect([...TERMINAL_STAGES].sort()).toEqual([...DESIGN_TERMINAL].sort());
  });

  it('LIFECYCLE rows agree with the design table (stages, roles, counterparty, CBV step)', () => {
    expect(Object.keys(LIFECYCLE).sort()).toEqual([...DESIGN_KINDS].sort());
    const c = LIFECYCLE.COMMISSION;
    expect(c.from).toEqual([]);
    expect(c.to).toBe('MANUFACTURED');
    expect(c.role).toBe('MANUFACTURER');
    expect([c.bizStep, c.disposition]).toEqual(['commissioning', 'active']);
    for (const kind of DESIGN_KINDS) {
      if (kind === 'COMMISSION') continue;
      const row = LIFECYCLE[kind];
      const spec = SPEC[kind];
      expect([...row.from].sort(), kind).toEqual([...spec.from].sort());
      expect(row.to, kind).toBe(spec.to);
      expect(row.role, kind).toBe(spec.role);
      expect(row.namesCounterparty, kind).toBe(spec.namesReceiver);
      expect(row.recorder, kind).toBe(RECORDER_NAME[spec.who]);
      expect(row.bizStep, kind).toBe(spec.bizStep);
      if (spec.disposition) expect(row.disposition, kind).toBe(spec.disposition);
    }
  });

  it('grants open exactly ACTIVATE, SERVICE, USE_REPORT and RECALL; every other kind is a custody move', () => {
    expect([...GRANT_KINDS, ...CUSTODY_KINDS, 'COMMISSION'].sort()).toEqual([...DESIGN_KINDS].sort());
    for (const kind of GRANT_KINDS) expect(['brandOrGrantee', 'custodianOrGrantee'], kind).toContain(LIFECYCLE[kind].recorder);
    for (const kind of CUSTODY_KINDS) expect(['custodian', 'receiver'], kind).toContain(LIFECYCLE[kind].recorder);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Generated matrix: every kind × every stage × actor relation × role set × recalled × with/without counterparty ×
// grant status (omitted, none, valid, expired, revoked).

const CUST = 'act-custodian';
const RECV = 'act-receiver';
const BRAND = 'act-brand';
const OTHER = 'act-unrelated';
const NEXT = 'act-next';

const RELATIONS = { custodian: CUST, namedReceiver: RECV, brandOwner: BRAND, unrelated: OTHER } as const;
const ROLE_SETS: string[][] = [[], ...DESIGN_ROLES.map((r) => [r]), ['MANUFACTURER', 'RETAILER'], ['RETAILER', 'RECYCLER', 'SERVICER']];
/** `undefined`: the recording omits `grant` (the default, none). */
const GRANTS: readonly (GrantStatus | undefined)[] = [undefined, 'none', 'valid', 'expired', 'revoked'];
/** Named counterparty and its roles: none; a retailer, a recycler or a consumer; the brand itself (no roles given). */
const COUNTERPARTIES: readonly [string | null, string[] | undefined][] = [[null, undefined], [NEXT, ['RETAILER']], [NEXT, ['RECYCLER', 'SERVICER']], [NEXT, []], [NEXT, undefined], [BRAND, undefined]];

const stateAt = (stage: Stage, recalled: boolean): ItemState => ({
  stage,
  custodianId: CUST,
  pendingReceiverId: stage === 'IN_TRANSIT' ? RECV : null,
  recalled,
  brandOwnerId: BRAND,
});

interface MatrixCase { label: string; item: ItemState; rec: Recording }

function matrixCases(kind: EventKind, stage: Stage): MatrixCase[] {
  const out: MatrixCase[] = [];
  for (const [relation, actorId] of Object.entries(RELATIONS)) {
    for (const roles of ROLE_SETS) {
      for (const recalled of [false, true]) {
        for (const [counterpartyId, counterpartyRoles] of COUNTERPARTIES) {
          for (const grant of GRANTS) {
            const rec: Recording = { kind, actorId, actorRoles: roles, counterpartyId };
            if (counterpartyRoles !== undefined) rec.counterpartyRoles = counterpartyRoles;
            if (grant !== undefined) rec.grant = grant;
            out.push({
              label: `${kind} from ${stage} by ${relation} [${roles.join(',')}] recalled=${recalled} counterparty=${counterpartyId}[${counterpartyRoles?.join(',') ?? ''}] grant=${grant ?? 'omitted'}`,
              item: stateAt(stage, recalled),
              rec,
            });
          }
        }
      }
    }
  }
  return out;
}

describe('generated transition matrix (oracle: DESIGN.md table)', () => {
  for (const kind of DESIGN_KINDS) {
    describe(kind, () => {
      for (const stage of DESIGN_STAGES) {
        it(`from ${stage}`, () => {
          const cases = matrixCases(kind, stage);
          expect(cases).toHaveLength(Object.keys(RELATIONS).length * ROLE_SETS.length * 2 * COUNTERPARTIES.length * GRANTS.length);
          for (const { label, item, rec } of cases) {
            const snapshot = structuredClone(item);
            const recSnapshot = structuredClone(rec);
            const got = outcomeOf(decideTransition(item, rec), kind);
            expect(got, label).toEqual(expected(item, rec));
            expect(item, `${label}: input not mutated`).toEqual(snapshot);
            expect(rec, `${label}: recording not mutated`).toEqual(recSnapshot);
            if (!GRANT_KINDS.includes(kind)) {
              // Custody kinds (and COMMISSION) ignore grants entirely: same outcome as with no grant at all.
              const { grant: _ignored, ...bare } = rec;
              expect(decideTransition(item, rec), `${label}: grant changes nothing`).toEqual(decideTransition(item, bare));
            }
          }
        });
      }
    });
  }

  it('the oracle is not one-sided: every kind but COMMISSION has allowed cases and its own denial rule', () => {
    const allowed = new Map<EventKind, number>();
    const allowedByGranteeOnly = new Map<EventKind, number>();
    const denied = new Map<EventKind, Set<string>>();
    for (const kind of DESIGN_KINDS) {
      for (const stage of DESIGN_STAGES) {
        for (const { item, rec } of matrixCases(kind, stage)) {
          const want = expected(item, rec);
          if (want.ok) allowed.set(kind, (allowed.get(kind) ?? 0) + 1);
          else if ('denied' in want) denied.set(kind, (denied.get(kind) ?? new Set()).add(want.denied));
          if (want.ok && rec.actorId === OTHER) allowedByGranteeOnly.set(kind, (allowedByGranteeOnly.get(kind) ?? 0) + 1);
        }
      }
    }
    // An unrelated actor is allowed only through a valid grant, and only for the grantable kinds.
    expect([...allowedByGranteeOnly.keys()].sort()).toEqual([...GRANT_KINDS].sort());
    for (const kind of ['ACTIVATE', 'SERVICE', 'USE_REPORT'] as const) {
      expect(denied.get(kind), kind).toEqual(new Set(['NOT_CUSTODIAN_OR_GRANTEE', 'GRANT_EXPIRED', 'GRANT_REVOKED']));
    }
    expect(denied.get('RECALL')).toEqual(new Set(['NOT_BRAND_OWNER', 'GRANT_EXPIRED', 'GRANT_REVOKED']));
    for (const kind of CUSTODY_KINDS) {
      expect([...(denied.get(kind) ?? [])].filter((r) => r.startsWith('GRANT_')), kind).toEqual([]);
    }
    expect(allowed.has('COMMISSION')).toBe(false);
    for (const kind of DESIGN_KINDS) {
      if (kind === 'COMMISSION') continue;
      expect(allowed.get(kind) ?? 0, kind).toBeGreaterThan(0);
      expect(denied.get(kind)?.has(DENY_RULE[SPEC[kind].who]), kind).toBe(true);
    }
    expect(denied.get('SELL')).toEqual(new Set(['RECALLED', 'NOT_CUSTODIAN', 'ROLE_REQUIRED:RETAILER']));
    expect(denied.get('RECYCLE')).toEqual(new Set(['NOT_CUSTODIAN', 'ROLE_REQUIRED:RECYCLER']));
    expect(denied.get('SHIP')).toEqual(new Set(['NOT_CUSTODIAN']));
    expect(denied.get('RECEIVE')).toEqual(new Set(['NOT_NAMED_RECEIVER']));
    expect(denied.get('RETURN')).toEqual(new Set(['NOT_CUSTODIAN', 'RETURN_RECEIVER_NOT_ELIGIBLE']));
    expect(denied.get('DESTROY')).toEqual(new Set(['NOT_CUSTODIAN']));
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Hand-written scenarios, each read off a row of the DESIGN.md table.

const MAKER = 'acme'; // MANUFACTURER, brand owner
const DIST = 'dhl'; // DISTRIBUTOR
const DIST2 = 'kuehne'; // DISTRIBUTOR
const SHOP = 'shop'; // RETAILER
const ALICE = 'alice'; // consumer, no roles
const FIXIT = 'fixit'; // SERVICER
const IOT = 'iot-cloud'; // no roles; a device platform the brand may grant USE_REPORT
const QA = 'qa-agency'; // no roles; a quality agency the brand may grant RECALL
const GREEN = 'greencycle'; // RECYCLER

const item = (o: Partial<ItemState> = {}): ItemState => ({
  stage: 'IN_STOCK', custodianId: SHOP, pendingReceiverId: null, recalled: false, brandOwnerId: MAKER, ...o,
});
const rec = (kind: EventKind, actorId: string, actorRoles: string[] = [], counterpartyId: string | null = null, grant?: GrantStatus, counterpartyRoles?: string[]): Recording => ({
  kind, actorId, actorRoles, counterpartyId, ...(grant === undefined ? {} : { grant }), ...(counterpartyRoles === undefined ? {} : { counterpartyRoles }),
});

type Want =
  | { to: Partial<ItemState> }
  | { denied: string }
  | { invalid: RegExp };

interface Scenario { name: string; item: ItemState; rec: Recording; want: Want }

const SCENARIOS: Scenario[] = [
  // SHIP
  { name: 'MANUFACTURER custodian ships a MANUFACTURED item to a distributor → IN_TRANSIT, receiver pending, custody unchanged',
    item: item({ stage: 'MANUFACTURED', custodianId: MAKER }), rec: rec('SHIP', MAKER, ['MANUFACTURER'], DIST),
    want: { to: { stage: 'IN_TRANSIT', custodianId: MAKER, pendingReceiverId: DIST, recalled: false } } },
  { name: 'distributor custodian re-ships IN_STOCK stock to a retailer',
    item: item({ stage: 'IN_STOCK', custodianId: DIST }), rec: rec('SHIP', DIST, ['DISTRIBUTOR'], SHOP),
    want: { to: { stage: 'IN_TRANSIT', custodianId: DIST, pendingReceiverId: SHOP } } },
  { name: 'custodian of a RETURNED item ships it back to the maker',
    item: item({ stage: 'RETURNED', custodianId: SHOP }), rec: rec('SHIP', SHOP, ['RETAILER'], MAKER),
    want: { to: { stage: 'IN_TRANSIT', custodianId: SHOP, pendingReceiverId: MAKER } } },
  { name: 'distributor that is not custodian ships → NOT_CUSTODIAN',
    item: item({ stage: 'IN_STOCK', custodianId: DIST }), rec: rec('SHIP', DIST2, ['DISTRIBUTOR'], SHOP),
    want: { denied: 'NOT_CUSTODIAN' } },
  { name: 'brand owner who is not custodian ships → NOT_CUSTODIAN (ownership is not custody)',
    item: item({ stage: 'IN_STOCK', custodianId: DIST }), rec: rec('SHIP', MAKER, ['MANUFACTURER'], SHOP),
    want: { denied: 'NOT_CUSTODIAN' } },
  { name: 'SHIP without counterparty → invalid (must name the receiver)',
    item: item({ stage: 'MANUFACTURED', custodianId: MAKER }), rec: rec('SHIP', MAKER, ['MANUFACTURER'], null),
    want: { invalid: /must name/ } },
  { name: 'SHIP of an item already IN_TRANSIT → invalid stage',
    item: item({ stage: 'IN_TRANSIT', custodianId: MAKER, pendingReceiverId: DIST }), rec: rec('SHIP', MAKER, ['MANUFACTURER'], DIST2),
    want: { invalid: /requires stage/ } },
  { name: 'SHIP of a SOLD item → invalid stage (must be RETURNED first)',
    item: item({ stage: 'SOLD', custodianId: ALICE }), rec: rec('SHIP', ALICE, [], SHOP),
    want: { invalid: /requires stage/ } },
  { name: 'a recalled item may still be shipped (recall only blocks selling) and stays recalled',
    item: item({ stage: 'IN_STOCK', custodianId: SHOP, recalled: true }), rec: rec('SHIP', SHOP, ['RETAILER'], MAKER),
    want: { to: { stage: 'IN_TRANSIT', pendingReceiverId: MAKER, recalled: true, custodianId: SHOP } } },
  // RECEIVE
  { name: 'named receiver receives an IN_TRANSIT item → IN_STOCK, custody moves to it, nothing pending',
    item: item({ stage: 'IN_TRANSIT', custodianId: MAKER, pendingReceiverId: DIST }), rec: rec('RECEIVE', DIST, ['DISTRIBUTOR']),
    want: { to: { stage: 'IN_STOCK', custodianId: DIST, pendingReceiverId: null } } },
  { name: 'RECEIVE by someone other than the named receiver → NOT_NAMED_RECEIVER',
    item: item({ stage: 'IN_TRANSIT', custodianId: MAKER, pendingReceiverId: DIST }), rec: rec('RECEIVE', DIST2, ['DISTRIBUTOR']),
    want: { denied: 'NOT_NAMED_RECEIVER' } },
  { name: 'RECEIVE by the shipper (still custodian) → NOT_NAMED_RECEIVER',
    item: item({ stage: 'IN_TRANSIT', custodianId: MAKER, pendingReceiverId: DIST }), rec: rec('RECEIVE', MAKER, ['MANUFACTURER']),
    want: { denied: 'NOT_NAMED_RECEIVER' } },
  { name: 'RECEIVE of an IN_STOCK item → invalid stage',
    item: item({ stage: 'IN_STOCK', custodianId: DIST }), rec: rec('RECEIVE', DIST, ['DISTRIBUTOR']),
    want: { invalid: /requires stage IN_TRANSIT/ } },
  // SELL
  { name: 'RETAILER custodian sells an IN_STOCK item → SOLD, custody kept when no buyer is named',
    item: item(), rec: rec('SELL', SHOP, ['RETAILER']),
    want: { to: { stage: 'SOLD', custodianId: SHOP, pendingReceiverId: null, recalled: false } } },
  { name: 'RETAILER custodian sells to a named buyer → SOLD, buyer becomes custodian',
    item: item(), rec: rec('SELL', SHOP, ['RETAILER'], ALICE),
    want: { to: { stage: 'SOLD', custodianId: ALICE } } },
  { name: 'MANUFACTURER selling direct without the RETAILER role → ROLE_REQUIRED:RETAILER',
    item: item({ custodianId: MAKER }), rec: rec('SELL', MAKER, ['MANUFACTURER']),
    want: { denied: 'ROLE_REQUIRED:RETAILER' } },
  { name: 'MANUFACTURER that also holds RETAILER sells direct → SOLD',
    item: item({ custodianId: MAKER }), rec: rec('SELL', MAKER, ['MANUFACTURER', 'RETAILER'], ALICE),
    want: { to: { stage: 'SOLD', custodianId: ALICE } } },
  { name: 'retailer that is not custodian sells → NOT_CUSTODIAN',
    item: item({ custodianId: DIST }), rec: rec('SELL', SHOP, ['RETAILER']),
    want: { denied: 'NOT_CUSTODIAN' } },
  { name: 'SELL of a recalled item → RECALLED',
    item: item({ recalled: true }), rec: rec('SELL', SHOP, ['RETAILER'], ALICE),
    want: { denied: 'RECALLED' } },
  { name: 'SELL of a MANUFACTURED item → invalid stage',
    item: item({ stage: 'MANUFACTURED', custodianId: SHOP }), rec: rec('SELL', SHOP, ['RETAILER']),
    want: { invalid: /requires stage IN_STOCK/ } },
  // ACTIVATE / SERVICE / USE_REPORT
  { name: 'owner (custodian, no roles) activates a SOLD item → IN_USE',
    item: item({ stage: 'SOLD', custodianId: ALICE }), rec: rec('ACTIVATE', ALICE),
    want: { to: { stage: 'IN_USE', custodianId: ALICE } } },
  { name: 'SERVICER with a valid brand SERVICE grant services an IN_USE item → IN_USE, custody stays with the owner',
    item: item({ stage: 'IN_USE', custodianId: ALICE }), rec: rec('SERVICE', FIXIT, ['SERVICER'], null, 'valid'),
    want: { to: { stage: 'IN_USE', custodianId: ALICE } } },
  { name: 'owner reports use of an IN_USE item → stays IN_USE',
    item: item({ stage: 'IN_USE', custodianId: ALICE }), rec: rec('USE_REPORT', ALICE),
    want: { to: { stage: 'IN_USE', custodianId: ALICE } } },
  { name: 'unrelated actor without a grant reports use → NOT_CUSTODIAN_OR_GRANTEE',
    item: item({ stage: 'IN_USE', custodianId: ALICE }), rec: rec('USE_REPORT', SHOP, ['RETAILER']),
    want: { denied: 'NOT_CUSTODIAN_OR_GRANTEE' } },
  { name: 'brand owner that neither holds the item nor holds a grant activates → NOT_CUSTODIAN_OR_GRANTEE',
    item: item({ stage: 'SOLD', custodianId: ALICE }), rec: rec('ACTIVATE', MAKER, ['MANUFACTURER']),
    want: { denied: 'NOT_CUSTODIAN_OR_GRANTEE' } },
  // Brand grants (DESIGN.md: "owner or SERVICER granted by brand"; grants are kinds × product or batch, with expiry)
  { name: 'servicer with a valid SERVICE grant services a SOLD item → IN_USE, owner keeps custody',
    item: item({ stage: 'SOLD', custodianId: ALICE }), rec: rec('SERVICE', FIXIT, ['SERVICER'], null, 'valid'),
    want: { to: { stage: 'IN_USE', custodianId: ALICE, pendingReceiverId: null, recalled: false } } },
  { name: 'servicer without grant (SERVICER role alone) services a SOLD item → NOT_CUSTODIAN_OR_GRANTEE',
    item: item({ stage: 'SOLD', custodianId: ALICE }), rec: rec('SERVICE', FIXIT, ['SERVICER']),
    want: { denied: 'NOT_CUSTODIAN_OR_GRANTEE' } },
  { name: 'servicer whose grant status is explicitly none → NOT_CUSTODIAN_OR_GRANTEE',
    item: item({ stage: 'IN_USE', custodianId: ALICE }), rec: rec('SERVICE', FIXIT, ['SERVICER'], null, 'none'),
    want: { denied: 'NOT_CUSTODIAN_OR_GRANTEE' } },
  { name: 'servicer with an expired SERVICE grant → GRANT_EXPIRED',
    item: item({ stage: 'IN_USE', custodianId: ALICE }), rec: rec('SERVICE', FIXIT, ['SERVICER'], null, 'expired'),
    want: { denied: 'GRANT_EXPIRED' } },
  { name: 'servicer with a revoked SERVICE grant → GRANT_REVOKED',
    item: item({ stage: 'SOLD', custodianId: ALICE }), rec: rec('SERVICE', FIXIT, ['SERVICER'], null, 'revoked'),
    want: { denied: 'GRANT_REVOKED' } },
  { name: 'grantee with a valid ACTIVATE grant activates a SOLD item → IN_USE',
    item: item({ stage: 'SOLD', custodianId: ALICE }), rec: rec('ACTIVATE', FIXIT, ['SERVICER'], null, 'valid'),
    want: { to: { stage: 'IN_USE', custodianId: ALICE } } },
  { name: 'device platform with no roles and a valid USE_REPORT grant reports use → IN_USE (no role is required)',
    item: item({ stage: 'IN_USE', custodianId: ALICE }), rec: rec('USE_REPORT', IOT, [], null, 'valid'),
    want: { to: { stage: 'IN_USE', custodianId: ALICE } } },
  { name: 'the owner needs no grant: custodian with an expired grant still activates → IN_USE',
    item: item({ stage: 'SOLD', custodianId: ALICE }), rec: rec('ACTIVATE', ALICE, [], null, 'expired'),
    want: { to: { stage: 'IN_USE', custodianId: ALICE } } },
  { name: 'a valid grant does not widen the lifecycle: SERVICE grantee on an IN_STOCK item → invalid stage',
    item: item(), rec: rec('SERVICE', FIXIT, ['SERVICER'], null, 'valid'),
    want: { invalid: /requires stage/ } },
  { name: 'a valid grant does not reopen a closed item: SERVICE grantee on a RECYCLED item → invalid (closed)',
    item: item({ stage: 'RECYCLED', custodianId: GREEN }), rec: rec('SERVICE', FIXIT, ['SERVICER'], null, 'valid'),
    want: { invalid: /closed \(RECYCLED\)/ } },
  { name: 'grant cannot make a non-custodian SHIP → NOT_CUSTODIAN',
    item: item({ stage: 'IN_STOCK', custodianId: DIST }), rec: rec('SHIP', FIXIT, ['SERVICER', 'DISTRIBUTOR'], SHOP, 'valid'),
    want: { denied: 'NOT_CUSTODIAN' } },
  { name: 'grant cannot make a non-RETAILER SELL: MANUFACTURER custodian with a valid grant → ROLE_REQUIRED:RETAILER',
    item: item({ custodianId: MAKER }), rec: rec('SELL', MAKER, ['MANUFACTURER'], ALICE, 'valid'),
    want: { denied: 'ROLE_REQUIRED:RETAILER' } },
  { name: 'grant cannot make a non-custodian retailer SELL → NOT_CUSTODIAN',
    item: item({ custodianId: DIST }), rec: rec('SELL', SHOP, ['RETAILER'], ALICE, 'valid'),
    want: { denied: 'NOT_CUSTODIAN' } },
  { name: 'grant cannot lift a recall: RETAILER custodian with a valid grant sells a recalled item → RECALLED',
    item: item({ recalled: true }), rec: rec('SELL', SHOP, ['RETAILER'], ALICE, 'valid'),
    want: { denied: 'RECALLED' } },
  { name: 'grant cannot stand in for the named receiver → NOT_NAMED_RECEIVER',
    item: item({ stage: 'IN_TRANSIT', custodianId: MAKER, pendingReceiverId: DIST }), rec: rec('RECEIVE', DIST2, ['DISTRIBUTOR'], null, 'valid'),
    want: { denied: 'NOT_NAMED_RECEIVER' } },
  { name: 'grant cannot make a servicer RETURN the owner\'s item → NOT_CUSTODIAN',
    item: item({ stage: 'IN_USE', custodianId: ALICE }), rec: rec('RETURN', FIXIT, ['SERVICER'], SHOP, 'valid'),
    want: { denied: 'NOT_CUSTODIAN' } },
  { name: 'grant cannot make a recycler that does not hold the item RECYCLE it → NOT_CUSTODIAN',
    item: item({ stage: 'RETURNED', custodianId: SHOP }), rec: rec('RECYCLE', GREEN, ['RECYCLER'], null, 'valid'),
    want: { denied: 'NOT_CUSTODIAN' } },
  { name: 'grant cannot make a non-custodian DESTROY → NOT_CUSTODIAN',
    item: item({ stage: 'SOLD', custodianId: ALICE }), rec: rec('DESTROY', FIXIT, ['SERVICER'], null, 'valid'),
    want: { denied: 'NOT_CUSTODIAN' } },
  { name: 'custody kinds ignore a lapsed grant: custodian with a revoked grant still ships',
    item: item({ stage: 'IN_STOCK', custodianId: DIST }), rec: rec('SHIP', DIST, ['DISTRIBUTOR'], SHOP, 'revoked'),
    want: { to: { stage: 'IN_TRANSIT', custodianId: DIST, pendingReceiverId: SHOP } } },
  { name: 'custody kinds never report a grant rule: non-custodian with an expired grant ships → NOT_CUSTODIAN',
    item: item({ stage: 'IN_STOCK', custodianId: DIST }), rec: rec('SHIP', DIST2, ['DISTRIBUTOR'], SHOP, 'expired'),
    want: { denied: 'NOT_CUSTODIAN' } },
  { name: 'ACTIVATE of an unsold IN_STOCK item → invalid stage',
    item: item(), rec: rec('ACTIVATE', SHOP, ['RETAILER']),
    want: { invalid: /requires stage/ } },
  // RETURN
  { name: 'RETURN moves custody to the named receiver (owner returns a SOLD item to the retailer) → RETURNED',
    item: item({ stage: 'SOLD', custodianId: ALICE }), rec: rec('RETURN', ALICE, [], SHOP, undefined, ['RETAILER']),
    want: { to: { stage: 'RETURNED', custodianId: SHOP, pendingReceiverId: null } } },
  { name: 'owner returns an IN_USE item straight to a recycler → RETURNED, recycler holds it',
    item: item({ stage: 'IN_USE', custodianId: ALICE }), rec: rec('RETURN', ALICE, [], GREEN, undefined, ['RECYCLER']),
    want: { to: { stage: 'RETURNED', custodianId: GREEN } } },
  { name: 'owner returns an item to its manufacturer (the brand owner) → RETURNED, the brand holds it',
    item: item({ stage: 'SOLD', custodianId: ALICE }), rec: rec('RETURN', ALICE, [], MAKER, undefined, ['MANUFACTURER']),
    want: { to: { stage: 'RETURNED', custodianId: MAKER } } },
  { name: 'a consumer cannot RETURN an item to another consumer → RETURN_RECEIVER_NOT_ELIGIBLE',
    item: item({ stage: 'SOLD', custodianId: ALICE }), rec: rec('RETURN', ALICE, [], IOT, undefined, []),
    want: { denied: 'RETURN_RECEIVER_NOT_ELIGIBLE' } },
  { name: 'another brand\'s manufacturer is not a RETURN receiver for this item → RETURN_RECEIVER_NOT_ELIGIBLE',
    item: item({ stage: 'IN_USE', custodianId: ALICE }), rec: rec('RETURN', ALICE, [], 'other-brand', undefined, ['MANUFACTURER', 'DISTRIBUTOR', 'SERVICER']),
    want: { denied: 'RETURN_RECEIVER_NOT_ELIGIBLE' } },
  { name: 'RETURN without naming the receiver → invalid',
    item: item({ stage: 'SOLD', custodianId: ALICE }), rec: rec('RETURN', ALICE, [], null),
    want: { invalid: /must name/ } },
  { name: 'RETURN by someone who does not hold the item → NOT_CUSTODIAN',
    item: item({ stage: 'SOLD', custodianId: ALICE }), rec: rec('RETURN', SHOP, ['RETAILER'], SHOP),
    want: { denied: 'NOT_CUSTODIAN' } },
  { name: 'RETURN of an IN_STOCK item → invalid stage',
    item: item(), rec: rec('RETURN', SHOP, ['RETAILER'], MAKER),
    want: { invalid: /requires stage/ } },
  // RECALL
  { name: 'RECALL by the brand owner keeps the stage (IN_TRANSIT), custody and pending receiver, and sets recalled',
    item: item({ stage: 'IN_TRANSIT', custodianId: DIST, pendingReceiverId: SHOP }), rec: rec('RECALL', MAKER, ['MANUFACTURER']),
    want: { to: { stage: 'IN_TRANSIT', custodianId: DIST, pendingReceiverId: SHOP, recalled: true } } },
  { name: 'RECALL of a SOLD item keeps SOLD and flags it',
    item: item({ stage: 'SOLD', custodianId: ALICE }), rec: rec('RECALL', MAKER, ['MANUFACTURER']),
    want: { to: { stage: 'SOLD', custodianId: ALICE, recalled: true } } },
  { name: 'RECALL by the custodian who is not the brand owner → NOT_BRAND_OWNER',
    item: item(), rec: rec('RECALL', SHOP, ['RETAILER', 'MANUFACTURER']),
    want: { denied: 'NOT_BRAND_OWNER' } },
  { name: 'RECALL by valid grantee flags recalled, keeps stage and custody',
    item: item({ stage: 'IN_STOCK', custodianId: SHOP }), rec: rec('RECALL', QA, [], null, 'valid'),
    want: { to: { stage: 'IN_STOCK', custodianId: SHOP, pendingReceiverId: null, recalled: true } } },
  { name: 'RECALL by a grantee whose RECALL grant expired → GRANT_EXPIRED',
    item: item(), rec: rec('RECALL', QA, [], null, 'expired'),
    want: { denied: 'GRANT_EXPIRED' } },
  { name: 'RECALL by a grantee whose RECALL grant was revoked → GRANT_REVOKED',
    item: item(), rec: rec('RECALL', QA, ['AUDITOR'], null, 'revoked'),
    want: { denied: 'GRANT_REVOKED' } },
  { name: 'the brand owner needs no grant: brand with a revoked grant still recalls',
    item: item({ stage: 'SOLD', custodianId: ALICE }), rec: rec('RECALL', MAKER, ['MANUFACTURER'], null, 'revoked'),
    want: { to: { stage: 'SOLD', custodianId: ALICE, recalled: true } } },
  { name: 'RECALL grantee cannot recall a DESTROYED item → invalid (closed)',
    item: item({ stage: 'DESTROYED', custodianId: SHOP }), rec: rec('RECALL', QA, [], null, 'valid'),
    want: { invalid: /closed \(DESTROYED\)/ } },
  // RECYCLE
  { name: 'RECYCLE by RECYCLER custodian from RETURNED → RECYCLED',
    item: item({ stage: 'RETURNED', custodianId: GREEN }), rec: rec('RECYCLE', GREEN, ['RECYCLER']),
    want: { to: { stage: 'RECYCLED', custodianId: GREEN } } },
  { name: 'RECYCLE by RECYCLER custodian from IN_STOCK at the recycler → RECYCLED',
    item: item({ stage: 'IN_STOCK', custodianId: GREEN }), rec: rec('RECYCLE', GREEN, ['RECYCLER']),
    want: { to: { stage: 'RECYCLED', custodianId: GREEN } } },
  { name: 'RECYCLE by a non-recycler custodian → ROLE_REQUIRED:RECYCLER',
    item: item({ stage: 'RETURNED', custodianId: SHOP }), rec: rec('RECYCLE', SHOP, ['RETAILER']),
    want: { denied: 'ROLE_REQUIRED:RECYCLER' } },
  { name: 'RECYCLE by a recycler that does not hold the item → NOT_CUSTODIAN',
    item: item({ stage: 'RETURNED', custodianId: SHOP }), rec: rec('RECYCLE', GREEN, ['RECYCLER']),
    want: { denied: 'NOT_CUSTODIAN' } },
  { name: 'RECYCLE of a SOLD item (not yet returned) → invalid stage',
    item: item({ stage: 'SOLD', custodianId: GREEN }), rec: rec('RECYCLE', GREEN, ['RECYCLER']),
    want: { invalid: /requires stage/ } },
  // DESTROY
  { name: 'DESTROY by the custodian from IN_TRANSIT → DESTROYED',
    item: item({ stage: 'IN_TRANSIT', custodianId: DIST, pendingReceiverId: SHOP }), rec: rec('DESTROY', DIST, ['DISTRIBUTOR']),
    want: { to: { stage: 'DESTROYED', custodianId: DIST } } },
  { name: 'owner destroys a SOLD item (no role needed) → DESTROYED',
    item: item({ stage: 'SOLD', custodianId: ALICE, recalled: true }), rec: rec('DESTROY', ALICE),
    want: { to: { stage: 'DESTROYED', custodianId: ALICE, recalled: true } } },
  { name: 'DESTROY by the brand owner who does not hold the item → NOT_CUSTODIAN',
    item: item(), rec: rec('DESTROY', MAKER, ['MANUFACTURER']),
    want: { denied: 'NOT_CUSTODIAN' } },
  // closed / COMMISSION
  { name: 'SELL on a RECYCLED item → invalid (closed)',
    item: item({ stage: 'RECYCLED', custodianId: SHOP }), rec: rec('SELL', SHOP, ['RETAILER']),
    want: { invalid: /closed \(RECYCLED\)/ } },
  { name: 'RECALL on a DESTROYED item → invalid (closed), even for the brand owner',
    item: item({ stage: 'DESTROYED', custodianId: MAKER }), rec: rec('RECALL', MAKER, ['MANUFACTURER']),
    want: { invalid: /closed \(DESTROYED\)/ } },
  { name: 'DESTROY on a DESTROYED item → invalid (closed)',
    item: item({ stage: 'DESTROYED', custodianId: SHOP }), rec: rec('DESTROY', SHOP),
    want: { invalid: /closed/ } },
  { name: 'COMMISSION via decideTransition is refused, even by the brand MANUFACTURER on a MANUFACTURED item',
    item: item({ stage: 'MANUFACTURED', custodianId: MAKER }), rec: rec('COMMISSION', MAKER, ['MANUFACTURER']),
    want: { invalid: /already commissioned/ } },
];

describe('hand-written scenarios from the DESIGN.md table', () => {
  it('has at least 25 scenarios with distinct names', () => {
    expect(SCENARIOS.length).toBeGreaterThanOrEqual(25);
    expect(new Set(SCENARIOS.map((s) => s.name)).size).toBe(SCENARIOS.length);
  });

  it.each(SCENARIOS)('$name', ({ item: before, rec: r, want }) => {
    const snapshot = structuredClone(before);
    const result = decideTransition(before, r);
    expect(before).toEqual(snapshot);
    if ('to' in want) {
      if (!result.ok) throw new Error(`expected allowed, got ${JSON.stringify(result.error)}`);
      expect(result.value).toEqual({ ...before, ...want.to });
      expect(result.value.brandOwnerId).toBe(before.brandOwnerId);
    } else if ('denied' in want) {
      expect(result).toEqual({ ok: false, error: { type: 'PermissionDenied', rule: want.denied } });
    } else {
      if (result.ok || result.error.type !== 'InvalidTransition') throw new Error(`expected InvalidTransition, got ${JSON.stringify(result)}`);
      expect(result.error.from).toBe(before.stage);
      expect(result.error.kind).toBe(r.kind);
      expect(result.error.reason).toMatch(want.invalid);
    }
  });

  it('every kind on RECYCLED or DESTROYED is invalid (closed), whoever records it', () => {
    for (const stage of ['RECYCLED', 'DESTROYED'] as const) {
      for (const kind of DESIGN_KINDS) {
        for (const actor of [SHOP, MAKER, GREEN]) {
          for (const grant of [undefined, 'valid'] as const) {
            const r = decideTransition(item({ stage, custodianId: SHOP }), rec(kind, actor, [...DESIGN_ROLES], DIST, grant));
            expect(r.ok, `${kind} on ${stage}`).toBe(false);
            if (!r.ok) expect(r.error.type, `${kind} on ${stage}`).toBe('InvalidTransition');
            if (!r.ok && r.error.type === 'InvalidTransition' && kind !== 'COMMISSION') expect(r.error.reason).toMatch(/closed/);
          }
        }
      }
    }
  });

  it('COMMISSION is refused from every stage, for every actor', () => {
    for (const stage of DESIGN_STAGES) {
      for (const actor of [MAKER, SHOP, ALICE]) {
        for (const grant of [undefined, 'valid'] as const) {
          const r = decideTransition(item({ stage, custodianId: MAKER }), rec('COMMISSION', actor, ['MANUFACTURER'], null, grant));
          expect(r.ok).toBe(false);
          if (!r.ok) expect(r.error).toMatchObject({ type: 'InvalidTransition', kind: 'COMMISSION', from: stage });
        }
      }
    }
  });

  it('walks a full lifecycle: maker → distributor → retailer → owner → granted servicer → recycler → closed', () => {
    let s: ItemState = { stage: 'MANUFACTURED', custodianId: MAKER, pendingReceiverId: null, recalled: false, brandOwnerId: MAKER };
    const step = (r: Recording, want: Partial<ItemState>): void => {
      const out = decideTransition(s, r);
      if (!out.ok) throw new Error(`${r.kind} by ${r.actorId} refused: ${JSON.stringify(out.error)}`);
      expect(out.value, r.kind).toEqual({ ...s, ...want });
      s = out.value;
    };
    step(rec('SHIP', MAKER, ['MANUFACTURER'], DIST), { stage: 'IN_TRANSIT', pendingReceiverId: DIST });
    step(rec('RECEIVE', DIST, ['DISTRIBUTOR']), { stage: 'IN_STOCK', custodianId: DIST, pendingReceiverId: null });
    step(rec('SHIP', DIST, ['DISTRIBUTOR'], SHOP), { stage: 'IN_TRANSIT', pendingReceiverId: SHOP });
    step(rec('RECEIVE', SHOP, ['RETAILER']), { stage: 'IN_STOCK', custodianId: SHOP, pendingReceiverId: null });
    step(rec('SELL', SHOP, ['RETAILER'], ALICE), { stage: 'SOLD', custodianId: ALICE });
    step(rec('ACTIVATE', ALICE), { stage: 'IN_USE' });
    // The SERVICER role alone is not enough; the brand's grant is.
    expect(decideTransition(s, rec('SERVICE', FIXIT, ['SERVICER']))).toEqual({ ok: false, error: { type: 'PermissionDenied', rule: 'NOT_CUSTODIAN_OR_GRANTEE' } });
    step(rec('SERVICE', FIXIT, ['SERVICER'], null, 'valid'), { stage: 'IN_USE' });
    // Once the brand revokes the grant, the servicer is refused at once, naming why.
    expect(decideTransition(s, rec('SERVICE', FIXIT, ['SERVICER'], null, 'revoked'))).toEqual({ ok: false, error: { type: 'PermissionDenied', rule: 'GRANT_REVOKED' } });
    step(rec('RECALL', MAKER, ['MANUFACTURER']), { recalled: true });
    step(rec('RETURN', ALICE, [], GREEN, undefined, ['RECYCLER']), { stage: 'RETURNED', custodianId: GREEN });
    step(rec('RECYCLE', GREEN, ['RECYCLER']), { stage: 'RECYCLED' });
    expect(s).toEqual({ stage: 'RECYCLED', custodianId: GREEN, pendingReceiverId: null, recalled: true, brandOwnerId: MAKER });
    // The previous custodian lost every custody right when custody moved.
    const late = decideTransition({ ...s, stage: 'IN_USE' }, rec('RETURN', ALICE, [], SHOP, undefined, ['RETAILER']));
    expect(late).toEqual({ ok: false, error: { type: 'PermissionDenied', rule: 'NOT_CUSTODIAN' } });
  });
});
