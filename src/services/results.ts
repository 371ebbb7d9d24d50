/** Expected failures shared by every use case: the catalogue lives in core (src/core/failures.ts); re-exported here for services. */
export {
  type ConflictFailure, type Failure, type FailureOf, type FailureSpec, type FailureSubject, type ItemProblem, type NotFoundFailure,
  type PermissionFailure, type TransitionFailure, type ValidationFailure, conflict, denied, failureSpec, invalid, notFound,
} from '../core/failures.ts';
