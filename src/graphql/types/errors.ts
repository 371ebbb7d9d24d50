import type { ObjectRef } from '@pothos/core';
import { type Failure, type FailureKind, type FailureOfKind, type FailureSpec, RULE_CODES, RULES, type RuleCode } from '../../core/failures.ts';
import { builder } from '../builder.ts';
import {
  ConflictErrorRef, EpcisCaptureErrorRef, ErrorInterface, InvalidTransitionErrorRef, ItemProblemRef, NotFoundErrorRef, PermissionDeniedErrorRef,
  ValidationErrorRef,
} from '../refs.ts';

builder.interfaceType(ErrorInterface, {
  description: 'An expected failure of a mutation or lookup; the concrete type says which.',
  fields: (t) => ({ message: t.exposeString('message') }),
});

builder.objectType(ItemProblemRef, {
  description: 'Why one item of a multi-item write was refused.',
  fields: (t) => ({
    item: t.exposeString('item', { description: 'SGTIN URN, or the reference as submitted when it did not resolve.' }),
    from: t.exposeString('from', { nullable: true, description: 'The item stage at the time of the request.' }),
    kind: t.exposeString('kind'),
    reason: t.exposeString('reason'),
  }),
});

builder.objectType(NotFoundErrorRef, {
  interfaces: [ErrorInterface],
  description: 'The object does not exist or is not visible to the caller (the two are not told apart).',
  isTypeOf: (v) => (v as { __typename?: string }).__typename === 'NotFoundError',
  fields: () => ({}),
});
builder.objectType(ValidationErrorRef, {
  interfaces: [ErrorInterface],
  isTypeOf: (v) => (v as { __typename?: string }).__typename === 'ValidationError',
  fields: (t) => ({ field: t.exposeString('field', { description: 'Input path of the offending value.' }) }),
});
builder.objectType(PermissionDeniedErrorRef, {
  interfaces: [ErrorInterface],
  isTypeOf: (v) => (v as { __typename?: string }).__typename === 'PermissionDeniedError',
  fields: (t) => ({
    rule: t.exposeString('rule', {
      description: `Stable code of the rule that refused the write (match on it, not on the message): ${RULE_CODES.map((c) => `${c}: ${RULES[c]}`).join('; ')}.`,
    }),
    items: t.field({ type: [ItemProblemRef], resolve: (e) => e.items }),
  }),
});
builder.objectType(InvalidTransitionErrorRef, {
  interfaces: [ErrorInterface],
  isTypeOf: (v) => (v as { __typename?: string }).__typename === 'InvalidTransitionError',
  fields: (t) => ({
    item: t.string({ description: 'First offending item (all are in `items`).', resolve: (e) => e.items[0]?.item ?? '' }),
    from: t.string({ nullable: true, resolve: (e) => e.items[0]?.from ?? null }),
    kind: t.string({ resolve: (e) => e.items[0]?.kind ?? '' }),
    items: t.field({ type: [ItemProblemRef], resolve: (e) => e.items }),
  }),
});
builder.objectType(ConflictErrorRef, {
  interfaces: [ErrorInterface],
  isTypeOf: (v) => (v as { __typename?: string }).__typename === 'ConflictError',
  fields: () => ({}),
});

const ERROR_REFS = {
  NotFoundError: NotFoundErrorRef,
  ValidationError: ValidationErrorRef,
  PermissionDeniedError: PermissionDeniedErrorRef,
  InvalidTransitionError: InvalidTransitionErrorRef,
  ConflictError: ConflictErrorRef,
  EpcisCaptureError: EpcisCaptureErrorRef,
} as const satisfies Record<FailureKind, unknown>;
export type ErrorName = keyof typeof ERROR_REFS;

/** A failure as the GraphQL object of its union member: `kind` becomes `__typename`, the rest is kept. */
export type GraphQLFailure<F> = F extends { kind: infer K } ? Omit<F, 'kind'> & { __typename: K } : never;

/** A service failure as the GraphQL object its union member expects. */
export function failureToGraphQL<F extends Failure | FailureOfKind<'EpcisCaptureError', never>>(f: F): GraphQLFailure<F> {
  const { kind, ...rest } = f;
  return { __typename: kind, ...rest } as GraphQLFailure<F>;
}

/**
 * The failure declaration behind each mutation's result union, by union name. Filled as the schema is built; the
 * catalogue test (test/api/failure-catalogue.test.ts) reads it to check that every failure kind and rule code of
 * src/core/failures.ts is reachable through some mutation.
 */
export const MUTATION_FAILURES = new Map<string, FailureSpec>();

/**
 * Declares `<Name>Result = <Name>Success | the error types of `failures``, where `failures` is the use case's own
 * declaration (e.g. `REGISTER_BATCH_FAILURES`), so the union follows the use case. The union's TypeScript shape is
 * the success shape or exactly those failures: a resolver that returns a failure the use case did not declare, or a
 * use case that returns a kind its mutation does not carry, does not typecheck. Success objects are tagged with
 * `__typename` by `success()`, failures by `failureToGraphQL`.
 */
export function resultUnion<S extends object, K extends FailureKind, R extends RuleCode>(name: string, successRef: ObjectRef<any, S>, failures: FailureSpec<K, R>) {
  MUTATION_FAILURES.set(`${name}Result`, failures);
  const union = builder.unionType(`${name}Result`, {
    types: [successRef, ...failures.kinds.map((e) => ERROR_REFS[e])],
    resolveType: (value) => (value as { __typename: string }).__typename,
  });
  return union as unknown as PothosSchemaTypes.UnionRef<BuilderTypes, S | GraphQLFailure<FailureOfKind<K, R>>>;
}
type BuilderTypes = typeof builder extends PothosSchemaTypes.SchemaBuilder<infer T> ? T : never;

export const success = <S extends object>(typename: string, value: S) => ({ __typename: typename, ...value });
