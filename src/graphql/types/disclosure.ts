import { DISCLOSURE_FIELDS, type PolicyOverride } from '../../core/event-disclosure.ts';
import { isBrandOrOperator } from '../../core/links.ts';
import { currentPolicies, policyHistory, type PolicyVersion } from '../../db/disclosure.ts';
import { SET_DISCLOSURE_POLICY_FAILURES, setDisclosurePolicy } from '../../services/set-disclosure-policy.ts';
import { builder } from '../builder.ts';
import { viewerOf } from '../context.ts';
import { inputError } from '../pagination.ts';
import { ActorRef, ProductRef } from '../refs.ts';
import { failureToGraphQL, resultUnion, success } from './errors.ts';

const TierEnum = builder.enumType('DisclosureTier', {
  description: 'Who may read a field: public < participants (the brand, holders in their custody windows, grantees, the event\'s parties) < authorities (auditors, the operator).',
  values: { PUBLIC: { value: 'public' }, PARTICIPANTS: { value: 'participants' }, AUTHORITIES: { value: 'authorities' } } as const,
});

const OverrideRef = builder.objectRef<PolicyOverride>('DisclosureOverride').implement({
  description: 'One per-product override: the tier a field needs, for one event kind or (kind null) for every kind.',
  fields: (t) => ({
    field: t.exposeString('field'),
    kind: t.exposeString('kind', { nullable: true, description: 'Event kind (SELL, ERASE, …); null: every kind (a kind-specific override wins).' }),
    tier: t.field({ type: TierEnum, resolve: (o) => o.tier }),
  }),
});

const PolicyRef = builder.objectRef<PolicyVersion>('DisclosurePolicy').implement({
  description: 'One setDisclosurePolicy call: the whole set of overrides of a product from then on, with who set it and when.',
  fields: (t) => ({
    gtin: t.exposeString('gtin'),
    overrides: t.field({ type: [OverrideRef], resolve: (p) => p.overrides }),
    setAt: t.expose('setAt', { type: 'DateTime' }),
    setBy: t.field({ type: ActorRef, resolve: async (p, _a, ctx) => (await ctx.loaders.actor.load(p.setBy))! }),
  }),
});

builder.objectFields(ProductRef, (t) => ({
  disclosurePolicy: t.field({
    type: [OverrideRef],
    description: 'The brand\'s current disclosure overrides for events of this product (empty: the defaults of docs/ledger-format.md §15 apply).',
    resolve: async (p, _a, ctx) => (await currentPolicies(ctx.db, [p.gtin])).get(p.gtin)?.overrides ?? [],
  }),
  disclosurePolicyHistory: t.field({
    type: [PolicyRef],
    nullable: true,
    description: 'Every disclosure policy recorded for the product, newest first. Null unless you are the brand or the operator.',
    args: { first: t.arg.int({ defaultValue: 20 }) },
    resolve: async (p, args, ctx) => {
      if (ctx.auth.kind !== 'actor' || !isBrandOrOperator({ id: ctx.auth.actor.id, isOperator: ctx.auth.actor.is_operator }, p.owner_id)) return null;
      const first = args.first ?? 20;
      if (first < 1 || first > 100) throw inputError('first', 'first must be between 1 and 100');
      return policyHistory(ctx.db, p.gtin, first);
    },
  }),
}));

const OverrideInput = builder.inputType('DisclosureOverrideInput', {
  fields: (t) => ({
    field: t.string({ required: true, description: `One of ${DISCLOSURE_FIELDS.join(', ')}.` }),
    kind: t.string({ description: 'Only for events of this kind (SELL, ACTIVATE, …); omit for every kind.' }),
    tier: t.field({ type: TierEnum, required: true }),
  }),
});

const SetDisclosurePolicyInput = builder.inputType('SetDisclosurePolicyInput', {
  fields: (t) => ({
    gtin: t.string({ required: true }),
    overrides: t.field({ type: [OverrideInput], required: true, description: 'The whole new set (up to 100); [] returns to the defaults.' }),
    idempotencyKey: t.string({ description: 'Retrying with the same key returns the first result and writes nothing.' }),
  }),
});

const SetDisclosurePolicySuccess = builder.objectRef<{ policy: PolicyVersion }>('SetDisclosurePolicySuccess').implement({
  fields: (t) => ({ policy: t.field({ type: PolicyRef, resolve: (s) => s.policy }) }),
});

builder.mutationField('setDisclosurePolicy', (t) =>
  t.field({
    type: resultUnion('SetDisclosurePolicy', SetDisclosurePolicySuccess, SET_DISCLOSURE_POLICY_FAILURES),
    description:
      'Replaces the per-product disclosure overrides (which tier may read which field of the product\'s events; a KIND-specific override ' +
      'beats a kind-less one, which beats the default). The brand owning the GTIN or the operator only (else NOT_BRAND_OWNER); recorded with who and when. ' +
      'For an event covering items of several products, each field needs the highest tier any of their policies asks.',
    authScopes: { authenticated: true },
    args: { input: t.arg({ type: SetDisclosurePolicyInput, required: true }) },
    resolve: async (_r, { input }, ctx) => {
      const result = await setDisclosurePolicy(ctx.db, viewerOf(ctx), ctx.scope, input, ctx.now());
      if (result.kind === 'ok') return success('SetDisclosurePolicySuccess', result);
      return failureToGraphQL(result);
    },
  }),
);
