/** Expected failures shared by every use case; each maps 1:1 to a GraphQL error type. */
export type ValidationFailure = { kind: 'ValidationError'; field: string; message: string };
export type NotFoundFailure = { kind: 'NotFoundError'; message: string };
export type PermissionFailure = { kind: 'PermissionDeniedError'; rule: string; message: string; items: ItemProblem[] };
export type TransitionFailure = { kind: 'InvalidTransitionError'; message: string; items: ItemProblem[] };
export type ConflictFailure = { kind: 'ConflictError'; message: string };

export interface ItemProblem {
  /** SGTIN URN when known, otherwise the reference as submitted. */
  item: string;
  from: string | null;
  kind: string;
  reason: string;
}

export type Failure = ValidationFailure | NotFoundFailure | PermissionFailure | TransitionFailure | ConflictFailure;

export const invalid = (field: string, message: string): ValidationFailure => ({ kind: 'ValidationError', field, message });
export const notFound = (message: string): NotFoundFailure => ({ kind: 'NotFoundError', message });
export const denied = (rule: string, message: string, items: ItemProblem[] = []): PermissionFailure => ({
  kind: 'PermissionDeniedError', rule, message, items,
});
export const conflict = (message: string): ConflictFailure => ({ kind: 'ConflictError', message });
