/**
 * What a failure is about, as data, so a caller that composes a use case (EPCIS capture) can point at its own input
 * without reading the message. (The same shape as main's core/failures.ts `FailureSubject`.)
 */
export type FailureSubject =
  | { type: 'container'; sscc: string }
  | { type: 'counterparty' }
  | { type: 'batch'; gtin: string; lot: string }
  | { type: 'packedItem'; itemId: string; container: string };

/** Expected failures shared by every use case; each maps 1:1 to a GraphQL error type. */
export type ValidationFailure = { kind: 'ValidationError'; field: string; message: string; subject?: FailureSubject };
export type NotFoundFailure = { kind: 'NotFoundError'; message: string; subject?: FailureSubject };
export type PermissionFailure = { kind: 'PermissionDeniedError'; rule: string; message: string; items: ItemProblem[] };
export type TransitionFailure = { kind: 'InvalidTransitionError'; message: string; items: ItemProblem[] };
export type ConflictFailure = { kind: 'ConflictError'; message: string; subject?: FailureSubject };

export interface ItemProblem {
  /** SGTIN URN when known, otherwise the reference as submitted. */
  item: string;
  from: string | null;
  kind: string;
  reason: string;
}

export type Failure = ValidationFailure | NotFoundFailure | PermissionFailure | TransitionFailure | ConflictFailure;

const withSubject = (subject: FailureSubject | undefined) => (subject ? { subject } : {});
export const invalid = (field: string, message: string, subject?: FailureSubject): ValidationFailure => ({ kind: 'ValidationError', field, message, ...withSubject(subject) });
export const notFound = (message: string, subject?: FailureSubject): NotFoundFailure => ({ kind: 'NotFoundError', message, ...withSubject(subject) });
export const denied = (rule: string, message: string, items: ItemProblem[] = []): PermissionFailure => ({
  kind: 'PermissionDeniedError', rule, message, items,
});
export const conflict = (message: string, subject?: FailureSubject): ConflictFailure => ({ kind: 'ConflictError', message, ...withSubject(subject) });
