import { encodeGlobalID } from '@pothos/plugin-relay';
import { type DirectoryActor, findKeysOfActors, listActors } from '../../db/actors.ts';
import { checkText } from '../../core/text.ts';
import { validateGln } from '../../core/party.ts';
import { PAGING_NOTE, connectionFrom, inputError, isUuid, pageParams } from '../pagination.ts';
import type { ActorRow, ApiKeyRow } from '../../db/types.ts';
import { CREATE_ACTOR_FAILURES, createActor } from '../../services/create-actor.ts';
import { ISSUE_API_KEY_FAILURES, issueApiKey } from '../../services/issue-api-key.ts';
import { REVOKE_API_KEY_FAILURES, revokeApiKey } from '../../services/revoke-api-key.ts';
import { ROLES } from '../../core/lifecycle.ts';
import { canSeeApiKeys } from '../../core/rights.ts';
import { builder } from '../builder.ts';
import { viewerOf } from '../context.ts';
import { ActorRef, ApiKeyRef } from '../refs.ts';
import { failureToGraphQL, resultUnion, success } from './errors.ts';

export const RoleEnum = builder.enumType('Role', { values: ROLES });

builder.node(ActorRef, {
  description: 'An organisation (or consumer) that records events and holds items.',
  id: { resolve: (a) => a.id },
  loadMany: (ids, ctx) => Promise.all(ids.map((id) => ctx.loaders.actor.load(id))),
  fields: (t) => ({
    name: t.exposeString('name'),
    roles: t.field({ type: [RoleEnum], resolve: (a) => a.roles as (typeof ROLES)[number][] }),
    gln: t.exposeString('gln', { nullable: true }),
    companyPrefixes: t.exposeStringList('company_prefixes'),
    isOperator: t.exposeBoolean('is_operator'),
    createdAt: t.expose('created_at', { type: 'DateTime' }),
    apiKeys: t.field({
      type: [ApiKeyRef],
      description: 'Keys of this actor (hints only, never secrets). Visible to the actor itself and the operator.',
      authScopes: { authenticated: true },
      resolve: async (a, _args, ctx) => {
        const viewer = viewerOf(ctx);
        if (!canSeeApiKeys({ id: viewer.id, isOperator: viewer.is_operator }, a.id)) return [];
        return findKeysOfActors(ctx.db, [a.id]);
      },
    }),
  }),
});

builder.node(ApiKeyRef, {
  id: { resolve: (k) => k.id },
  fields: (t) => ({
    hint: t.exposeString('hint', { description: 'Non-secret label derived from the key hash.' }),
    createdAt: t.expose('created_at', { type: 'DateTime' }),
    revokedAt: t.expose('revoked_at', { type: 'DateTime', nullable: true }),
    actor: t.field({ type: ActorRef, resolve: async (k, _a, ctx) => (await ctx.loaders.actor.load(k.actor_id))! }),
  }),
});

builder.queryField('viewer', (t) =>
  t.field({
    type: ActorRef,
    description: 'The actor the API key belongs to.',
    authScopes: { authenticated: true },
    resolve: (_root, _args, ctx) => viewerOf(ctx),
  }),
);

const CreateActorInput = builder.inputType('CreateActorInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    roles: t.field({ type: [RoleEnum], required: true }),
    gln: t.string({ description: 'GS1 Global Location Number (13 digits, check digit validated).' }),
    companyPrefixes: t.stringList({ description: 'GS1 company prefixes (6–12 digits) this actor owns.' }),
    idempotencyKey: t.string({ description: 'Retrying with the same key returns the first result and writes nothing.' }),
  }),
});

const CreateActorSuccess = builder.objectRef<{ actor: ActorRow; apiKey: ApiKeyRow; secret: string | null }>('CreateActorSuccess').implement({
  fields: (t) => ({
    actor: t.field({ type: ActorRef, resolve: (s) => s.actor }),
    apiKey: t.field({ type: ApiKeyRef, resolve: (s) => s.apiKey }),
    secret: t.exposeString('secret', {
      nullable: true,
      description: 'The API key itself. Shown once; only its SHA-256 is stored, so a replay of the same idempotencyKey returns null here.',
    }),
  }),
});
const CreateActorResult = resultUnion('CreateActor', CreateActorSuccess, CREATE_ACTOR_FAILURES);

builder.mutationField('createActor', (t) =>
  t.field({
    type: CreateActorResult,
    description: 'Operator only: creates an actor with its first API key.',
    authScopes: { operator: true },
    args: { input: t.arg({ type: CreateActorInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const result = await createActor(ctx.db, viewerOf(ctx), input, ctx.config.fieldLimits);
      return result.kind === 'ok' ? success('CreateActorSuccess', result) : failureToGraphQL(result);
    },
  }),
);

const KeySecretSuccess = builder.objectRef<{ apiKey: ApiKeyRow; secret: string | null }>('IssueApiKeySuccess').implement({
  fields: (t) => ({
    apiKey: t.field({ type: ApiKeyRef, resolve: (s) => s.apiKey }),
    secret: t.exposeString('secret', { nullable: true, description: 'The API key itself. Shown once (null on a replay of the same idempotencyKey).' }),
  }),
});
const IssueApiKeyResult = resultUnion('IssueApiKey', KeySecretSuccess, ISSUE_API_KEY_FAILURES);

builder.mutationField('issueApiKey', (t) =>
  t.field({
    type: IssueApiKeyResult,
    description: 'Operator only: issues another API key for an actor.',
    authScopes: { operator: true },
    args: { input: t.arg({ type: builder.inputType('IssueApiKeyInput', { fields: (f) => ({ actor: f.globalID({ required: true, for: ActorRef }), idempotencyKey: f.string({ description: 'Retrying with the same key returns the first result and writes nothing.' }), }) }), required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const result = await issueApiKey(ctx.db, viewerOf(ctx), input.actor.id, { idempotencyKey: input.idempotencyKey ?? null });
      if (result.kind === 'ok') return success('IssueApiKeySuccess', result);
      return failureToGraphQL(result);
    },
  }),
);

const RevokeApiKeySuccess = builder.objectRef<{ apiKey: ApiKeyRow }>('RevokeApiKeySuccess').implement({
  fields: (t) => ({ apiKey: t.field({ type: ApiKeyRef, resolve: (s) => s.apiKey }) }),
});
const RevokeApiKeyResult = resultUnion('RevokeApiKey', RevokeApiKeySuccess, REVOKE_API_KEY_FAILURES);

builder.mutationField('revokeApiKey', (t) =>
  t.field({
    type: RevokeApiKeyResult,
    description: 'Operator only: revokes an API key; requests with it fail from then on.',
    authScopes: { operator: true },
    args: { input: t.arg({ type: builder.inputType('RevokeApiKeyInput', { fields: (f) => ({ keyId: f.globalID({ required: true, for: ApiKeyRef }), idempotencyKey: f.string({ description: 'Retrying with the same key returns the first result and writes nothing.' }), }) }), required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const result = await revokeApiKey(ctx.db, viewerOf(ctx), input.keyId.id, ctx.now(), { idempotencyKey: input.idempotencyKey ?? null });
      // The revoked key fails from the next request on, not when its cache entry would have expired.
      ctx.authCache?.clear();
      if (result.kind === 'ok') return success('RevokeApiKeySuccess', result);
      return failureToGraphQL(result);
    },
  }),
);


const ActorListingRef = builder.objectRef<DirectoryActor>('ActorListing').implement({
  description: 'A partner in the actor directory: what naming it as a receiver, buyer or grantee needs.',
  fields: (t) => ({
    id: t.id({ description: 'The Actor global id (accepted wherever an actor is named).', resolve: (a) => encodeGlobalID('Actor', a.id) }),
    name: t.exposeString('name'),
    roles: t.field({ type: [RoleEnum], resolve: (a) => a.roles as (typeof ROLES)[number][] }),
    gln: t.exposeString('gln', { nullable: true, description: 'GS1 Global Location Number, when the actor has one.' }),
  }),
});

const isDirectoryKey = (k: unknown): k is [string, string] =>
  Array.isArray(k) && k.length === 2 && typeof k[0] === 'string' && typeof k[1] === 'string' && isUuid(k[1]);

builder.queryField('actors', (t) =>
  t.connection({
    type: ActorListingRef,
    description: `The actor directory (the operator is not listed), ordered by name (case-insensitive), then id: find a partner by name prefix or GLN to name it. ${PAGING_NOTE}`,
    authScopes: { authenticated: true },
    args: {
      namePrefix: t.arg.string({ description: 'Only actors whose name starts with this text (case-insensitive).' }),
      gln: t.arg.string({ description: 'Only actors with this GLN (13 digits, check digit validated).' }),
    },
    resolve: async (_r, args, ctx) => {
      const page = pageParams(args, isDirectoryKey);
      const namePrefix = args.namePrefix?.trim() || null;
      if (namePrefix) {
        const problem = checkText(namePrefix, 'namePrefix', { max: ctx.config.fieldLimits.actorNameChars });
        if (problem) throw inputError(problem.field, problem.message);
      }
      const gln = args.gln?.trim() || null;
      if (gln) {
        const problem = validateGln(gln);
        if (problem) throw inputError('gln', problem);
      }
      const rows = await listActors(ctx.db, {
        namePrefix, gln, limit: page.limit, descending: page.backward,
        after: page.after, before: page.before,
      });
      return connectionFrom(rows, page, (a) => [a.sort_key, a.id]);
    },
  }),
);
