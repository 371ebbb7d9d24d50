/**
 * What a failure is about, as structured values, so a caller that composes a use case (EPCIS capture) can point at its
 * own input without reading the message. Absent when the failure is about the request as a whole.
 */
export interface FailureSubject {
  /** The input field at fault (`to`, `containers`, `lot`, `items`). */
  field?: string;
  /** The value at fault: an SSCC, an item id. */
  ref?: string;
  /** The container `ref` is already packed in. */
  packedIn?: string;
}

/** Expected failures shared by every use case; each maps 1:1 to a GraphQL error type. */
export type ValidationFailure = { kind: 'ValidationError'; field: string; message: string; subject?: FailureSubject };
export type NotFoundFailure = { kind: 'NotFoundError'; message: string; subject?: FailureSubject };
export type PermissionFailure = { kind: 'PermissionDeniedError'; rule: string; message: string; items: ItemProblem[]; subject?: FailureSubject };
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
export const denied = (rule: string, message: string, items: ItemProblem[] = [], subject?: FailureSubject): PermissionFailure => ({
  kind: 'PermissionDeniedError', rule, message, items, ...withSubject(subject),
});
export const conflict = (message: string, subject?: FailureSubject): ConflictFailure => ({ kind: 'ConflictError', message, ...withSubject(subject) });
