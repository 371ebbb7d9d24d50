import { normalizeGtin } from '../../core/identifiers.ts';
import { STAGES } from '../../core/lifecycle.ts';
import { findBatch } from '../../db/ledger.ts';
import { countVisibleBatchItems, findVisibleBatchItemPage, findVisibleBatchPage } from '../../db/catalog.ts';
import type { BatchRow, EventRow, ProductRow } from '../../db/types.ts';
import { REGISTER_BATCH_FAILURES, registerBatch } from '../../services/register-batch.ts';
import { REGISTER_PRODUCT_FAILURES, registerProduct } from '../../services/register-product.ts';
import { builder } from '../builder.ts';
import { viewerOf } from '../context.ts';
import { PAGING_NOTE, connectionFrom, isUuid, pageParams, withTotalCount } from '../pagination.ts';
import { ActorRef, BatchRef, EventRef, ItemRef, ProductRef } from '../refs.ts';
import { failureToGraphQL, resultUnion, success } from './errors.ts';
import { ledgerDeps } from './ledger-deps.ts';

export const StageEnum = builder.enumType('Stage', { values: STAGES });

builder.node(ProductRef, {
  description: 'A trade item (GTIN-14) owned by the manufacturer whose company prefix it carries.',
  id: { resolve: (p) => p.gtin },
  loadMany: (gtins, ctx) => Promise.all(gtins.map((g) => ctx.loaders.visibleProduct.load(g))),
  fields: (t) => ({
    gtin: t.exposeString('gtin'),
    name: t.exposeString('name'),
    attributes: t.field({ type: 'JSON', resolve: (p) => p.attributes }),
    publicHistory: t.exposeBoolean('public_history', { description: 'Holders may read the events before their custody began.' }),
    brand: t.field({ type: ActorRef, description: 'The owning manufacturer.', resolve: async (p, _a, ctx) => (await ctx.loaders.actor.load(p.owner_id))! }),
    createdAt: t.expose('created_at', { type: 'DateTime' }),
    batches: t.connection({
      type: BatchRef,
      description: `Batches of this product you may see, ordered by batch id. ${PAGING_NOTE}`,
      resolve: async (p, args, ctx) => {
        const page = pageParams(args, isUuid);
        return connectionFrom(await findVisibleBatchPage(ctx.db, ctx.scope, p.gtin, page), page, (b) => b.id);
      },
    }),
  }),
});

builder.node(BatchRef, {
  description: 'A lot of one product: its production date and site, recall state and serialized items.',
  id: { resolve: (b) => b.id },
  loadMany: (ids, ctx) => Promise.all(ids.map((id) => ctx.loaders.visibleBatch.load(id))),
  fields: (t) => ({
    lot: t.exposeString('lot'),
    product: t.field({ type: ProductRef, resolve: async (b, _a, ctx) => (await ctx.loaders.product.load(b.gtin))! }),
    producedAt: t.expose('produced_at', { type: 'DateTime' }),
    site: t.exposeString('site'),
    recalled: t.boolean({ resolve: (b) => b.recalled_at !== null }),
    recalledAt: t.expose('recalled_at', { type: 'DateTime', nullable: true }),
    recallReason: t.exposeString('recall_reason', { nullable: true }),
    items: t.connection({
      type: ItemRef,
      description: `Items of this batch you may see, in a stable order: by item id (a random UUID, so not by serial). ${PAGING_NOTE}`,
      args: { stage: t.arg({ type: StageEnum, description: 'Only items currently in this stage.' }) },
      resolve: async (b, args, ctx) => {
        const page = pageParams(args, isUuid);
        const stage = args.stage ?? null;
        const count = () => countVisibleBatchItems(ctx.db, ctx.scope, b.id, stage);
        return connectionFrom(await findVisibleBatchItemPage(ctx.db, ctx.scope, b.id, stage, page), page, (i) => i.id, count);
      },
    }, withTotalCount),
  }),
});

builder.queryField('product', (t) =>
  t.field({
    type: ProductRef,
    nullable: true,
    authScopes: { authenticated: true },
    args: { gtin: t.arg.string({ required: true, description: 'GTIN-8, -12, -13 or -14.' }) },
    resolve: async (_r, { gtin }, ctx) => {
      const g = normalizeGtin(gtin);
      return g.ok ? ((await ctx.loaders.visibleProduct.load(g.value)) ?? null) : null;
    },
  }),
);

builder.queryField('batch', (t) =>
  t.field({
    type: BatchRef,
    nullable: true,
    authScopes: { authenticated: true },
    args: { gtin: t.arg.string({ required: true }), lot: t.arg.string({ required: true }) },
    resolve: async (_r, { gtin, lot }, ctx) => {
      const g = normalizeGtin(gtin);
      const batch = g.ok ? await findBatch(ctx.db, g.value, lot) : undefined;
      return batch ? ((await ctx.loaders.visibleBatch.load(batch.id)) ?? null) : null;
    },
  }),
);

const RegisterProductInput = builder.inputType('RegisterProductInput', {
  fields: (t) => ({
    gtin: t.string({ required: true, description: 'GTIN-8/12/13/14; stored as GTIN-14.' }),
    name: t.string({ required: true }),
    attributes: t.field({ type: 'JSON', description: 'Free-form product attributes (a JSON object).' }),
    publicHistory: t.boolean({ description: 'Let every later holder read the item history before its own custody (default false).' }),
    idempotencyKey: t.string({ description: 'Retrying with the same key returns the first result and writes nothing.' }),
  }),
});
const RegisterProductSuccess = builder.objectRef<{ product: ProductRow }>('RegisterProductSuccess').implement({
  fields: (t) => ({ product: t.field({ type: ProductRef, resolve: (s) => s.product }) }),
});
builder.mutationField('registerProduct', (t) =>
  t.field({
    type: resultUnion('RegisterProduct', RegisterProductSuccess, REGISTER_PRODUCT_FAILURES),
    authScopes: { authenticated: true },
    args: { input: t.arg({ type: RegisterProductInput, required: true }) },
    resolve: async (_r, { input }, ctx) => {
      const result = await registerProduct(ctx.db, viewerOf(ctx), { gtin: input.gtin, name: input.name, attributes: input.attributes ?? {}, publicHistory: input.publicHistory ?? false, idempotencyKey: input.idempotencyKey ?? null }, ctx.config.fieldLimits);
      if (result.kind === 'ok') return success('RegisterProductSuccess', result);
      return failureToGraphQL(result);
    },
  }),
);

const SerialRangeInput = builder.inputType('SerialRangeInput', {
  fields: (t) => ({
    count: t.int({ required: true }),
    firstSerial: t.string({ required: true, description: 'Ends in digits; they count up keeping their width.' }),
  }),
});
const RegisterBatchInput = builder.inputType('RegisterBatchInput', {
  fields: (t) => ({
    gtin: t.string({ required: true }),
    lot: t.string({ required: true }),
    producedAt: t.field({ type: 'DateTime', required: true, description: 'RFC 3339 with offset; the COMMISSION occurrence time.' }),
    site: t.string({ required: true }),
    serials: t.stringList({ description: 'Serials to commission (GS1 AI 21). Exclusive with range.' }),
    range: t.field({ type: SerialRangeInput, description: 'Generate serials instead of listing them.' }),
    idempotencyKey: t.string(),
  }),
});
const RegisterBatchSuccess = builder.objectRef<{ batch: BatchRow; event: EventRow }>('RegisterBatchSuccess').implement({
  fields: (t) => ({
    batch: t.field({ type: BatchRef, resolve: (s) => s.batch }),
    event: t.field({ type: EventRef, description: 'The COMMISSION event covering every item.', resolve: (s) => s.event }),
  }),
});
builder.mutationField('registerBatch', (t) =>
  t.field({
    type: resultUnion('RegisterBatch', RegisterBatchSuccess, REGISTER_BATCH_FAILURES),
    description: 'Registers a lot and commissions its serials (up to 100,000 per call) in one transaction.',
    authScopes: { authenticated: true },
    args: { input: t.arg({ type: RegisterBatchInput, required: true }) },
    resolve: async (_r, { input }, ctx) => {
      const result = await registerBatch(ledgerDeps(ctx), viewerOf(ctx), input);
      if (result.kind === 'ok') return success('RegisterBatchSuccess', result);
      return failureToGraphQL(result);
    },
  }),
);
