/**
 * The one catalogue of expected failures. A failure is a value, never an exception or a sentence to parse: its `kind`
 * names the GraphQL error type it becomes, a PermissionDeniedError carries a `rule` code from `RULES`, and what a
 * failure is about (a container, a batch, the named receiver…) is in `subject`. Every use case declares which kinds
 * and rules it may return (`FailureSpec`); its result type is derived from that declaration, and so is the GraphQL
 * union of its mutation, so a failure a use case can return but its mutation does not map is a type error.
 * Pure: no I/O; runs in a browser.
 */
import type { EpcisCaptureRejection } from './epcis-import.ts';

/**
 * Failure kinds, each a GraphQL error type of the same name. `EpcisCaptureError` is a refused EPCIS document: every
 * problem of every event (`epcis-import.ts` `EpcisCaptureRejection`), each with its own code.
 */
export const FAILURE_KINDS = ['ValidationError', 'NotFoundError', 'PermissionDeniedError', 'InvalidTransitionError', 'ConflictError', 'EpcisCaptureError'] as const;
export type FailureKind = (typeof FAILURE_KINDS)[number];

/** Rule codes of PermissionDeniedError (`rule`), with what each means. Clients match on these codes, not on messages. */
export const RULES = {
  NOT_CUSTODIAN: 'only the current custodian records this kind',
  NOT_NAMED_RECEIVER: 'only the actor named by the pending SHIP receives the item',
  NOT_BRAND_OWNER: 'only the brand owning the product, or an actor it granted this kind, may do this',
  NOT_CUSTODIAN_OR_GRANTEE: 'only the custodian or an actor the brand granted this kind records it',
  GRANT_EXPIRED: 'the grant that allowed this has expired',
  GRANT_REVOKED: 'the grant that allowed this was revoked',
  RECALLED: 'a recalled item cannot be sold',
  RETURN_RECEIVER_NOT_ELIGIBLE: 'a RETURN goes to the brand, a retailer or a recycler',
  'ROLE_REQUIRED:MANUFACTURER': 'only a MANUFACTURER registers products and commissions items',
  'ROLE_REQUIRED:RETAILER': 'only a RETAILER sells',
  'ROLE_REQUIRED:RECYCLER': 'only a RECYCLER recycles',
  NOT_PREFIX_OWNER: 'the GTIN carries none of the GS1 company prefixes of the actor',
  NOT_CONTAINER_CUSTODIAN: 'only the custodian of a container packs into, nests or unpacks it',
  OPERATOR_REQUIRED: 'only the platform operator may do this',
  NOT_GRANTOR: 'only who granted it, or the operator, revokes a grant',
} as const;
export type RuleCode = keyof typeof RULES;
export const RULE_CODES = Object.keys(RULES) as RuleCode[];

/** Roles a rule of the lifecycle table or a use case may require; each has its `ROLE_REQUIRED:<role>` code. */
export type RequiredRole = 'MANUFACTURER' | 'RETAILER' | 'RECYCLER';
export const roleRequired = (role: RequiredRole): `ROLE_REQUIRED:${RequiredRole}` => `ROLE_REQUIRED:${role}`;

/** What a failure is about, as data, so that a caller never reads it out of the message. */
export type FailureSubject =
  | { type: 'container'; sscc: string }
  | { type: 'counterparty' }
  | { type: 'batch'; gtin: string; lot: string }
  | { type: 'packedItem'; itemId: string; container: string };

export interface ItemProblem {
  /** SGTIN URN when known, otherwise the reference as submitted. */
  item: string;
  from: string | null;
  kind: string;
  reason: string;
}

export type ValidationFailure = { kind: 'ValidationError'; field: string; message: string; subject?: FailureSubject };
export type NotFoundFailure = { kind: 'NotFoundError'; message: string; subject?: FailureSubject };
export type PermissionFailure<R extends RuleCode = RuleCode> = { kind: 'PermissionDeniedError'; rule: R; message: string; items: ItemProblem[] };
export type TransitionFailure = { kind: 'InvalidTransitionError'; message: string; items: ItemProblem[] };
export type ConflictFailure = { kind: 'ConflictError'; message: string; subject?: FailureSubject };

/** A failure of one write; an EPCIS document's refusal (EpcisCaptureError) gathers these, per event, as problems. */
export type Failure = ValidationFailure | NotFoundFailure | PermissionFailure | TransitionFailure | ConflictFailure;

export const invalid = (field: string, message: string, subject?: FailureSubject): ValidationFailure =>
  subject ? { kind: 'ValidationError', field, message, subject } : { kind: 'ValidationError', field, message };
export const notFound = (message: string, subject?: FailureSubject): NotFoundFailure =>
  subject ? { kind: 'NotFoundError', message, subject } : { kind: 'NotFoundError', message };
export const denied = <R extends RuleCode>(rule: R, message: string, items: ItemProblem[] = []): PermissionFailure<R> => ({
  kind: 'PermissionDeniedError', rule, message, items,
});
export const conflict = (message: string, subject?: FailureSubject): ConflictFailure =>
  subject ? { kind: 'ConflictError', message, subject } : { kind: 'ConflictError', message };

/** What one use case may fail with: the failure kinds and, for PermissionDeniedError, the rule codes. */
export interface FailureSpec<K extends FailureKind = FailureKind, R extends RuleCode = RuleCode> {
  readonly kinds: readonly K[];
  readonly rules: readonly R[];
}

/** Declares a use case's failures; its result type is `{ kind: 'ok', … } | FailureOf<typeof SPEC>`. */
export const failureSpec = <const K extends FailureKind, const R extends RuleCode = never>(kinds: readonly K[], rules: readonly R[] = []): FailureSpec<K, R> => ({ kinds, rules });

/** The failure values of kinds `K`; a PermissionDeniedError among them carries one of the rules `R`. */
export type FailureOfKind<K extends FailureKind, R extends RuleCode> = K extends 'PermissionDeniedError' ? PermissionFailure<R>
  : K extends 'EpcisCaptureError' ? EpcisCaptureRejection
  : Extract<Failure, { kind: K }>;
/** The failures a use case declared in its spec may return. */
export type FailureOf<S> = S extends FailureSpec<infer K, infer R> ? FailureOfKind<K, R> : never;
