import type { BatchRow, EventRow, GrantRow } from '../../db/types.ts';
import { findReadableGrantPage, findReadableGrantsByIds } from '../../db/grants.ts';
import { GRANTABLE_KINDS } from '../../core/lifecycle.ts';
import { GRANT_RIGHTS_FAILURES, grantRights } from '../../services/grant-rights.ts';
import { RECALL_BATCH_FAILURES, recallBatch, type CustodianGroup } from '../../services/recall-batch.ts';
import { REVOKE_RIGHTS_FAILURES, revokeRights } from '../../services/revoke-rights.ts';
import type { ItemRow } from '../../db/types.ts';
import { builder } from '../builder.ts';
import { viewerOf } from '../context.ts';
import { PAGING_NOTE, connectionFrom, isUuid, pageParams } from '../pagination.ts';
import { ActorRef, BatchRef, EventRef, GrantRef, ItemRef, ProductRef } from '../refs.ts';
import { failureToGraphQL, resultUnion, success } from './errors.ts';
import { BatchSelectorInput, EventKindEnum, actorIdOfGlobalId } from './event.ts';
import { ACTOR_NAME_FORMS, resolveActorName } from '../../services/resolve-actor.ts';
import { ledgerDeps } from './ledger-deps.ts';

builder.node(GrantRef, {
  description: 'A right a brand (or the operator) gave an actor on a product, a batch or all products; append-only.',
  id: { resolve: (g) => g.id },
  loadMany: async (ids, ctx) => {
    const viewer = ctx.auth.kind === 'actor' ? ctx.auth.actor : null;
    if (!viewer) return ids.map(() => null);
    const rows = await findReadableGrantsByIds(ctx.db, viewer.id, ctx.scope.allProducts, ids.filter(isUuid));
    return ids.map((id) => rows.find((r) => r.id === id) ?? null);
  },
  fields: (t) => ({
    grantor: t.field({ type: ActorRef, resolve: async (g, _a, ctx) => (await ctx.loaders.actor.load(g.grantor_id))! }),
    grantee: t.field({ type: ActorRef, resolve: async (g, _a, ctx) => (await ctx.loaders.actor.load(g.grantee_id))! }),
    kinds: t.field({ type: [EventKindEnum], description: 'Empty: read-only access to the scope.', resolve: (g) => g.kinds as never }),
    product: t.field({ type: ProductRef, nullable: true, resolve: async (g, _a, ctx) => (g.product_gtin ? ((await ctx.loaders.product.load(g.product_gtin)) ?? null) : null) }),
    batch: t.field({ type: BatchRef, nullable: true, resolve: async (g, _a, ctx) => (g.batch_id ? ((await ctx.loaders.batch.load(g.batch_id)) ?? null) : null) }),
    allProducts: t.exposeBoolean('all_products'),
    createdAt: t.expose('created_at', { type: 'DateTime' }),
    expiresAt: t.expose('expires_at', { type: 'DateTime', nullable: true }),
    revokedAt: t.expose('revoked_at', { type: 'DateTime', nullable: true }),
    revokedBy: t.field({ type: ActorRef, nullable: true, resolve: async (g, _a, ctx) => (g.revoked_by ? ((await ctx.loaders.actor.load(g.revoked_by)) ?? null) : null) }),
    active: t.boolean({
      description: 'In force now: not revoked and not expired.',
      resolve: (g, _a, ctx) => !g.revoked_at && (!g.expires_at || g.expires_at.getTime() > ctx.now().getTime()),
    }),
  }),
});

builder.queryField('grants', (t) =>
  t.connection({
    type: GrantRef,
    description: `Grants given by or to you, or on your products (all of them for the operator and all-products readers), ordered by grant id. ${PAGING_NOTE}`,
    authScopes: { authenticated: true },
    resolve: async (_r, args, ctx) => {
      const page = pageParams(args, isUuid);
      const viewer = viewerOf(ctx);
      return connectionFrom(await findReadableGrantPage(ctx.db, viewer.id, ctx.scope.allProducts, page), page, (g) => g.id);
    },
  }),
);

const GrantableKindEnum = builder.enumType('GrantableKind', { values: GRANTABLE_KINDS });

const GrantRightsInput = builder.inputType('GrantRightsInput', {
  fields: (t) => ({
    grantee: t.string({ required: true, description: `The actor receiving the rights: ${ACTOR_NAME_FORMS}.` }),
    kinds: t.field({ type: [GrantableKindEnum], required: true, description: 'Empty list: read-only access.' }),
    product: t.string({ description: 'GTIN of one of your products.' }),
    batch: t.field({ type: BatchSelectorInput, description: 'One of your batches.' }),
    allProducts: t.boolean({ description: 'Operator only: read access to everything (auditors).' }),
    expiresAt: t.field({ type: 'DateTime', description: 'The grant stops working at this instant.' }),
    idempotencyKey: t.string({ description: 'Retrying with the same key returns the first result and writes nothing.' }),
  }),
});
const GrantSuccess = builder.objectRef<{ grant: GrantRow }>('GrantSuccess').implement({
  fields: (t) => ({ grant: t.field({ type: GrantRef, resolve: (s) => s.grant }) }),
});
builder.mutationField('grantRights', (t) =>
  t.field({
    type: resultUnion('GrantRights', GrantSuccess, GRANT_RIGHTS_FAILURES),
    description: 'The brand owner grants an actor event kinds (or read access) on a product or batch, optionally until an expiry.',
    authScopes: { authenticated: true },
    args: { input: t.arg({ type: GrantRightsInput, required: true }) },
    resolve: async (_r, { input }, ctx) => {
      const grantee = await resolveActorName(ctx.db, input.grantee, 'grantee', actorIdOfGlobalId);
      if (grantee.kind !== 'ok') return failureToGraphQL(grantee.kind === 'NotFoundError' ? { ...grantee, message: 'grantee not found' } : grantee);
      const r = await grantRights(ctx.db, viewerOf(ctx), { ...input, granteeId: grantee.actor.id, kinds: input.kinds }, ctx.now());
      // Cached keys carry their actors' grants: the grantee's next request must see this one.
      ctx.authCache?.clear();
      return r.kind === 'ok' ? success('GrantSuccess', r) : failureToGraphQL(r);
    },
  }),
);
builder.mutationField('revokeRights', (t) =>
  t.field({
    type: resultUnion('RevokeRights', GrantSuccess, REVOKE_RIGHTS_FAILURES),
    description: 'Revokes a grant at once. The revocation is recorded; events written under the grant stay valid.',
    authScopes: { authenticated: true },
    args: { input: t.arg({ type: builder.inputType('RevokeRightsInput', { fields: (f) => ({ grant: f.globalID({ required: true, for: GrantRef }), idempotencyKey: f.string({ description: 'Retrying with the same key returns the first result and writes nothing.' }), }) }), required: true }) },
    resolve: async (_r, { input }, ctx) => {
      if (!isUuid(input.grant.id)) return failureToGraphQL({ kind: 'NotFoundError', message: 'grant not found' });
      const r = await revokeRights(ctx.db, viewerOf(ctx), input.grant.id, ctx.now(), { idempotencyKey: input.idempotencyKey ?? null });
      // Revoked at once: no cached key may still carry the grant.
      ctx.authCache?.clear();
      return r.kind === 'ok' ? success('GrantSuccess', r) : failureToGraphQL(r);
    },
  }),
);

const CustodianGroupRef = builder.objectRef<CustodianGroup>('RecallCustodianGroup').implement({
  description: 'Recalled items held by one custodian: whom to notify.',
  fields: (t) => ({
    custodian: t.field({ type: ActorRef, resolve: async (g, _a, ctx) => (await ctx.loaders.actor.load(g.custodianId))! }),
    itemCount: t.int({ resolve: (g) => g.items.length }),
    items: t.field({ type: [ItemRef], args: { first: t.arg.int({ defaultValue: 100 }) }, resolve: (g, { first }) => g.items.slice(0, Math.max(0, Math.min(first ?? 100, 1000))) as ItemRow[] }),
  }),
});
const RecallBatchSuccess = builder
  .objectRef<{ batch: BatchRow; event: EventRow | null; alreadyRecalled: boolean; groups: CustodianGroup[] }>('RecallBatchSuccess')
  .implement({
    fields: (t) => ({
      batch: t.field({ type: BatchRef, resolve: (s) => s.batch }),
      event: t.field({ type: EventRef, nullable: true, description: 'The RECALL event; null when the batch was already recalled.', resolve: (s) => s.event }),
      alreadyRecalled: t.exposeBoolean('alreadyRecalled'),
      custodians: t.field({ type: [CustodianGroupRef], resolve: (s) => s.groups }),
    }),
  });
builder.mutationField('recallBatch', (t) =>
  t.field({
    type: resultUnion('RecallBatch', RecallBatchSuccess, RECALL_BATCH_FAILURES),
    description: 'The brand owner recalls a batch: its non-terminal items are flagged (no more sales), grouped by custodian.',
    authScopes: { authenticated: true },
    args: {
      input: t.arg({
        type: builder.inputType('RecallBatchInput', {
          fields: (f) => ({ gtin: f.string({ required: true }), lot: f.string({ required: true }), reason: f.string({ required: true }), occurredAt: f.field({ type: 'DateTime' }),
            idempotencyKey: f.string({ description: 'Retrying with the same key returns the first result and writes nothing.' }),
          }),
        }),
        required: true,
      }),
    },
    resolve: async (_r, { input }, ctx) => {
      const r = await recallBatch(ledgerDeps(ctx), viewerOf(ctx), input);
      return r.kind === 'ok' ? success('RecallBatchSuccess', r) : failureToGraphQL(r);
    },
  }),
);
