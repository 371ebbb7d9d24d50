import type { ObjectRef } from '@pothos/core';
import type { Failure } from '../../services/results.ts';
import { builder } from '../builder.ts';
import {
  ConflictErrorRef, ErrorInterface, InvalidTransitionErrorRef, ItemProblemRef, NotFoundErrorRef, PermissionDeniedErrorRef,
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
    rule: t.exposeString('rule', { description: 'Stable code of the rule that refused the write, e.g. NOT_CUSTODIAN.' }),
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
} as const;
export type ErrorName = keyof typeof ERROR_REFS;

/** A service failure as the GraphQL object its union member expects. */
export function failureToGraphQL(f: Failure): ErrorShape {
  const { kind, ...rest } = f;
  return { __typename: kind, ...rest } as ErrorShape;
}
type ErrorShape = { __typename: string; message: string };

/**
 * Declares `<Name>Result = <Name>Success | errors…`. Success objects are tagged with `__typename`
 * by `success()`; error objects by `failureToGraphQL`.
 */
export function resultUnion<S extends object>(name: string, successRef: ObjectRef<any, S>, errors: readonly ErrorName[]) {
  return builder.unionType(`${name}Result`, {
    types: [successRef, ...errors.map((e) => ERROR_REFS[e])],
    resolveType: (value) => (value as { __typename: string }).__typename,
  });
}

export const success = <S extends object>(typename: string, value: S) => ({ __typename: typename, ...value });
