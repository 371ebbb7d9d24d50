import SchemaBuilder from '@pothos/core';
import RelayPlugin, { decodeGlobalID } from '@pothos/plugin-relay';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import { GraphQLError } from 'graphql';
import type { Context } from './context.ts';

/** Upper bound for `first` on every connection; larger values are a ValidationError. */
export const MAX_PAGE_SIZE = 100;

export interface AuthScopes {
  authenticated: boolean;
  operator: boolean;
}

// No types here: they live in types/<domain>.ts, refs in refs.ts.
export const builder = new SchemaBuilder<{
  Context: Context;
  AuthScopes: AuthScopes;
  DefaultFieldNullability: false;
  Scalars: {
    ID: { Input: string; Output: string };
    DateTime: { Input: string; Output: Date | string };
    JSON: { Input: unknown; Output: unknown };
  };
}>({
  plugins: [ScopeAuthPlugin, RelayPlugin],
  defaultFieldNullability: false,
  scopeAuth: {
    authScopes: (ctx) => ({
      authenticated: ctx.auth.kind === 'actor',
      operator: ctx.auth.kind === 'actor' && ctx.auth.actor.is_operator,
    }),
    unauthorizedError: (_parent, ctx) =>
      ctx.auth.kind === 'actor'
        ? new GraphQLError('Forbidden: this field is for the operator only', { extensions: { code: 'FORBIDDEN' } })
        : new GraphQLError(ctx.auth.message, { extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } } }),
  },
  relay: {
    clientMutationId: 'omit',
    cursorType: 'String',
    nodeQueryOptions: { nullable: true },
    nodesQueryOptions: { nullable: { list: false, items: true } },
    // A malformed global id in an argument is bad input (VALIDATION_ERROR), not an untyped error.
    decodeGlobalID: (globalID: string) => {
      try {
        return decodeGlobalID(globalID);
      } catch {
        throw new GraphQLError(`"${globalID.slice(0, 100)}" is not a global id returned by this API`, { extensions: { code: 'VALIDATION_ERROR', field: 'id' } });
      }
    },
  },
});
