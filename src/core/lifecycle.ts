import { type RequiredRole, type RuleCode, roleRequired } from './failures.ts';
import { type Result, err, ok } from './result.ts';

export const EVENT_KINDS = [
  'COMMISSION', 'SHIP', 'RECEIVE', 'SELL', 'ACTIVATE', 'SERVICE', 'USE_REPORT', 'RETURN', 'RECALL', 'RECYCLE', 'DESTROY',
] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

export const STAGES = ['MANUFACTURED', 'IN_TRANSIT', 'IN_STOCK', 'SOLD', 'IN_USE', 'RETURNED', 'RECYCLED', 'DESTROYED'] as const;
export type Stage = (typeof STAGES)[number];

export const ROLES = ['MANUFACTURER', 'DISTRIBUTOR', 'RETAILER', 'SERVICER', 'RECYCLER', 'AUDITOR'] as const;
export type Role = (typeof ROLES)[number];

export const TERMINAL_STAGES: readonly Stage[] = ['RECYCLED', 'DESTROYED'];
const NON_TERMINAL: readonly Stage[] = STAGES.filter((s) => !TERMINAL_STAGES.includes(s));

/**
 * Who may record a kind, relative to one item:
 * custodian — the current custodian; receiver — the actor named by the pending SHIP; brandOrGrantee — the product's
 * owner or an actor the brand granted this kind; custodianOrGrantee — the custodian (owner) or a grantee (e.g. a
 * servicer the brand authorised). Grants never stand in for custody moves (SHIP, RECEIVE, SELL, RETURN, RECYCLE,
 * DESTROY): those need the physical holder.
 */
export type Recorder = 'manufacturer' | 'custodian' | 'receiver' | 'brandOrGrantee' | 'custodianOrGrantee';

/** Whether the recording actor holds a brand grant for this kind on this item, as of the recording time. */
export type GrantStatus = 'valid' | 'expired' | 'revoked' | 'none';

export interface KindRule {
  from: readonly Stage[];
  /** `null` keeps the stage (RECALL). */
  to: Stage | null;
  recorder: Recorder;
  /** Role the recording actor must hold, beyond the recorder relation. */
  role?: RequiredRole;
  /** The event names the actor that takes custody (SHIP: on receipt; RETURN: at once). */
  namesCounterparty: boolean;
  /** CBV 2.0 business step and disposition (short names). */
  bizStep: string;
  disposition: string;
}

/** The lifecycle table of DESIGN.md, as data: the single source for transitions, rights tests and EPCIS mapping. */
export const LIFECYCLE: Readonly<Record<EventKind, KindRule>> = {
  COMMISSION: { from: [], to: 'MANUFACTURED', recorder: 'manufacturer', role: 'MANUFACTURER', namesCounterparty: false, bizStep: 'commissioning', disposition: 'active' },
  SHIP: { from: ['MANUFACTURED', 'IN_STOCK', 'RETURNED'], to: 'IN_TRANSIT', recorder: 'custodian', namesCounterparty: true, bizStep: 'shipping', disposition: 'in_transit' },
  RECEIVE: { from: ['IN_TRANSIT'], to: 'IN_STOCK', recorder: 'receiver', namesCounterparty: false, bizStep: 'receiving', disposition: 'in_progress' },
  SELL: { from: ['IN_STOCK'], to: 'SOLD', recorder: 'custodian', role: 'RETAILER', namesCounterparty: false, bizStep: 'retail_selling', disposition: 'retail_sold' },
  ACTIVATE: { from: ['SOLD', 'IN_USE'], to: 'IN_USE', recorder: 'custodianOrGrantee', namesCounterparty: false, bizStep: 'installing', disposition: 'active' },
  SERVICE: { from: ['SOLD', 'IN_USE'], to: 'IN_USE', recorder: 'custodianOrGrantee', namesCounterparty: false, bizStep: 'repairing', disposition: 'active' },
  USE_REPORT: { from: ['SOLD', 'IN_USE'], to: 'IN_USE', recorder: 'custodianOrGrantee', namesCounterparty: false, bizStep: 'sensor_reporting', disposition: 'active' },
  RETURN: { from: ['SOLD', 'IN_USE'], to: 'RETURNED', recorder: 'custodian', namesCounterparty: true, bizStep: 'receiving', disposition: 'returned' },
  RECALL: { from: NON_TERMINAL, to: null, recorder: 'brandOrGrantee', namesCounterparty: false, bizStep: 'holding', disposition: 'recalled' },
  RECYCLE: { from: ['RETURNED', 'IN_STOCK'], to: 'RECYCLED', recorder: 'custodian', role: 'RECYCLER', namesCounterparty: false, bizStep: 'disassembling', disposition: 'disposed' },
  DESTROY: { from: NON_TERMINAL, to: 'DESTROYED', recorder: 'custodian', namesCounterparty: false, bizStep: 'destroying', disposition: 'destroyed' },
};

/** Packing into containers (EPCIS AggregationEvents): part of each item's chain, no stage change, custodian only. */
export const AGGREGATION_KINDS = ['PACK', 'UNPACK'] as const;
export type AggregationKind = (typeof AGGREGATION_KINDS)[number];
/** Every kind an event row may carry. */
export type LedgerKind = EventKind | AggregationKind;
export const LEDGER_KINDS: readonly LedgerKind[] = [...EVENT_KINDS, ...AGGREGATION_KINDS];

const PACKABLE: readonly Stage[] = ['MANUFACTURED', 'IN_STOCK', 'SOLD', 'IN_USE', 'RETURNED'];
export const AGGREGATION: Readonly<Record<AggregationKind, KindRule>> = {
  PACK: { from: PACKABLE, to: null, recorder: 'custodian', namesCounterparty: false, bizStep: 'packing', disposition: 'in_progress' },
  UNPACK: { from: PACKABLE, to: null, recorder: 'custodian', namesCounterparty: false, bizStep: 'unpacking', disposition: 'in_progress' },
};

export const ruleFor = (kind: LedgerKind): KindRule =>
  (AGGREGATION_KINDS as readonly string[]).includes(kind) ? AGGREGATION[kind as AggregationKind] : LIFECYCLE[kind as EventKind];

/** An item's projection: what the chain says about it now. */
export interface ItemState {
  stage: Stage;
  custodianId: string;
  pendingReceiverId: string | null;
  recalled: boolean;
  brandOwnerId: string;
}

export interface Recording {
  kind: LedgerKind;
  actorId: string;
  actorRoles: readonly string[];
  /** SHIP/RETURN: who takes custody. SELL: optional buyer who becomes custodian. */
  counterpartyId: string | null;
  /** The actor's grant for this kind on this item's product or batch (default: none). */
  grant?: GrantStatus;
  /** Roles of the named counterparty (RETURN: who may take an item back). */
  counterpartyRoles?: readonly string[];
}

/** Roles that take returned items back, besides the item's brand owner (DESIGN: retailer, manufacturer, recycler). */
export const RETURN_RECEIVER_ROLES: readonly Role[] = ['RETAILER', 'RECYCLER'];

/** Whether `receiverId` may receive a RETURN of an item of `brandOwnerId`: the brand itself, a retailer or a recycler. */
export const mayReceiveReturn = (receiverId: string, receiverRoles: readonly string[], brandOwnerId: string): boolean =>
  receiverId === brandOwnerId || RETURN_RECEIVER_ROLES.some((r) => receiverRoles.includes(r));

/**
 * Kinds a brand may delegate by grant: exactly those whose recorder the table opens to grantees. Custody moves
 * (SHIP, RECEIVE, SELL, RETURN, RECYCLE, DESTROY) need the physical holder, so they never appear here.
 */
export const GRANTABLE_KINDS: readonly EventKind[] = EVENT_KINDS.filter((k) => LIFECYCLE[k].recorder === 'brandOrGrantee' || LIFECYCLE[k].recorder === 'custodianOrGrantee');

/** Every rule code `decideTransition` (and `decideRecorder`) may refuse with. */
export const TRANSITION_RULES = [
  'RECALLED', 'NOT_CUSTODIAN', 'NOT_NAMED_RECEIVER', 'NOT_BRAND_OWNER', 'NOT_CUSTODIAN_OR_GRANTEE', 'GRANT_EXPIRED', 'GRANT_REVOKED',
  'ROLE_REQUIRED:MANUFACTURER', 'ROLE_REQUIRED:RETAILER', 'ROLE_REQUIRED:RECYCLER', 'RETURN_RECEIVER_NOT_ELIGIBLE',
] as const satisfies readonly RuleCode[];
export type TransitionRule = (typeof TRANSITION_RULES)[number];

/** Denial code for a grant-based recorder that is neither the natural recorder nor a valid grantee. */
function grantDenial<F extends TransitionRule>(grant: GrantStatus | undefined, fallback: F): F | 'GRANT_EXPIRED' | 'GRANT_REVOKED' {
  if (grant === 'expired') return 'GRANT_EXPIRED';
  if (grant === 'revoked') return 'GRANT_REVOKED';
  return fallback;
}

export type TransitionError =
  | { type: 'InvalidTransition'; from: Stage; kind: LedgerKind; reason: string }
  | { type: 'PermissionDenied'; rule: TransitionRule };

/** Who an item is tied to, as the recorder relation needs it. */
export type ItemParties = Pick<ItemState, 'custodianId' | 'pendingReceiverId' | 'brandOwnerId'>;

/**
 * Whether `actorId` is a recorder of `kind` for an item (the recorder relation of the table, then its role), and if so
 * which grant it relied on: `authorizedBy` is the grant's id when the actor is not the natural recorder (brand or
 * custodian) and records under a grant in force, else null. Stage is not looked at (see `decideTransition`).
 */
export function decideRecorder(
  kind: LedgerKind,
  actor: { id: string; roles: readonly string[] },
  item: ItemParties,
  grant: { status: GrantStatus; grantId: string | null } = { status: 'none', grantId: null },
): Result<{ authorizedBy: string | null }, { type: 'PermissionDenied'; rule: TransitionRule }> {
  const rule = ruleFor(kind);
  switch (rule.recorder) {
    case 'custodian':
      if (actor.id !== item.custodianId) return err({ type: 'PermissionDenied', rule: 'NOT_CUSTODIAN' });
      break;
    case 'receiver':
      if (actor.id !== item.pendingReceiverId) return err({ type: 'PermissionDenied', rule: 'NOT_NAMED_RECEIVER' });
      break;
    case 'brandOrGrantee':
      if (actor.id !== item.brandOwnerId && grant.status !== 'valid') return err({ type: 'PermissionDenied', rule: grantDenial(grant.status, 'NOT_BRAND_OWNER') });
      break;
    case 'custodianOrGrantee':
      if (actor.id !== item.custodianId && grant.status !== 'valid') {
        return err({ type: 'PermissionDenied', rule: grantDenial(grant.status, 'NOT_CUSTODIAN_OR_GRANTEE') });
      }
      break;
    case 'manufacturer':
      break;
  }
  if (rule.role && !actor.roles.includes(rule.role)) return err({ type: 'PermissionDenied', rule: roleRequired(rule.role) });
  return ok({ authorizedBy: authorizingGrant(kind, actor.id, item, grant) });
}

/**
 * Which grant authorised a permitted recording: the grant's id when the actor is not the kind's natural recorder
 * (the brand for RECALL, the custodian for ACTIVATE/SERVICE/USE_REPORT) and a grant in force let it record; else
 * null. The id goes into the hashed body (`authorizedBy`) so an auditor can check the write against the grant.
 */
export function authorizingGrant(kind: LedgerKind, actorId: string, item: ItemParties, grant: { status: GrantStatus; grantId: string | null }): string | null {
  const recorder = ruleFor(kind).recorder;
  const natural = recorder === 'brandOrGrantee' ? item.brandOwnerId === actorId : recorder === 'custodianOrGrantee' ? item.custodianId === actorId : true;
  return natural || grant.status !== 'valid' ? null : grant.grantId;
}

/**
 * Decides one item's next state for a recording, or why it is refused. Stage is checked before rights
 * so an impossible move reports the lifecycle, not a permission. COMMISSION is not decided here (no prior state).
 */
export function decideTransition(item: ItemState, rec: Recording): Result<ItemState, TransitionError> {
  const rule = ruleFor(rec.kind);
  if (rec.kind === 'COMMISSION') return err({ type: 'InvalidTransition', from: item.stage, kind: rec.kind, reason: 'item already commissioned' });
  if (TERMINAL_STAGES.includes(item.stage)) {
    return err({ type: 'InvalidTransition', from: item.stage, kind: rec.kind, reason: `item is closed (${item.stage})` });
  }
  if (!rule.from.includes(item.stage)) {
    return err({ type: 'InvalidTransition', from: item.stage, kind: rec.kind, reason: `${rec.kind} requires stage ${rule.from.join(' or ')}` });
  }
  if (rec.kind === 'SELL' && item.recalled) return err({ type: 'PermissionDenied', rule: 'RECALLED' });
  const recorder = decideRecorder(rec.kind, { id: rec.actorId, roles: rec.actorRoles }, item, { status: rec.grant ?? 'none', grantId: null });
  if (!recorder.ok) return recorder;
  if (rule.namesCounterparty && !rec.counterpartyId) {
    return err({ type: 'InvalidTransition', from: item.stage, kind: rec.kind, reason: `${rec.kind} must name the receiving actor` });
  }
  if (rec.kind === 'RETURN' && !mayReceiveReturn(rec.counterpartyId!, rec.counterpartyRoles ?? [], item.brandOwnerId)) {
    return err({ type: 'PermissionDenied', rule: 'RETURN_RECEIVER_NOT_ELIGIBLE' });
  }
  const next: ItemState = { ...item, stage: rule.to ?? item.stage };
  switch (rec.kind) {
    case 'SHIP':
      next.pendingReceiverId = rec.counterpartyId;
      break;
    case 'RECEIVE':
      next.custodianId = rec.actorId;
      next.pendingReceiverId = null;
      break;
    case 'RETURN':
      next.custodianId = rec.counterpartyId!;
      break;
    case 'SELL':
      if (rec.counterpartyId) next.custodianId = rec.counterpartyId;
      break;
    case 'RECALL':
      next.recalled = true;
      break;
    default:
      break;
  }
  return ok(next);
}
