import { decodeGlobalID } from '@pothos/plugin-relay';
import { toHex } from '../../core/bytes.ts';
import { parseDigitalLink, digitalLink } from '../../core/identifiers.ts';
import { findItemsByGtinSerial, findItemsBySgtins } from '../../db/ledger.ts';
import type { ItemRow } from '../../db/types.ts';
import { verifyItem } from '../../services/verify-item.ts';
import type { ChainVerification } from '../../core/chain.ts';
import { builder } from '../builder.ts';
import type { Context } from '../context.ts';
import { PAGING_NOTE, connectionFrom, isCount, inputError, pageParams } from '../pagination.ts';
import { ActorRef, BatchRef, EventRef, ItemRef, ProductRef } from '../refs.ts';
import { StageEnum } from './product.ts';

export const OrderEnum = builder.enumType('EventOrder', { values: ['OLDEST_FIRST', 'NEWEST_FIRST'] as const });

const VerificationRef = builder.objectRef<ChainVerification>('ChainVerification').implement({
  description: "Result of recomputing an item's hash chain from the stored events.",
  fields: (t) => ({
    valid: t.exposeBoolean('valid'),
    length: t.exposeInt('length', { description: 'Number of chain links stored.' }),
    headHash: t.string({ nullable: true, description: 'Hex link hash of the last link when valid.', resolve: (v) => (v.headHash ? toHex(v.headHash) : null) }),
    firstInvalidSeq: t.exposeInt('firstInvalidSeq', { nullable: true }),
    reason: t.exposeString('reason', { nullable: true }),
  }),
});

builder.node(ItemRef, {
  description: 'One serialized unit of a product, with its hash-chained history.',
  id: { resolve: (i) => i.id },
  loadMany: (ids, ctx) => Promise.all(ids.map((id) => ctx.loaders.visibleItem.load(id))),
  fields: (t) => ({
    sgtin: t.exposeString('sgtin', { description: 'EPC pure-identity URN urn:epc:id:sgtin:…' }),
    digitalLink: t.string({ description: 'GS1 Digital Link URI on the resolver domain PROVENANT_PUBLIC_BASE_URL (default https://id.gs1.org).', resolve: (i, _a, ctx) => digitalLink(i.gtin, i.serial, ctx.config.publicBaseUrl) }),
    serial: t.exposeString('serial'),
    gtin: t.exposeString('gtin'),
    product: t.field({ type: ProductRef, resolve: async (i, _a, ctx) => (await ctx.loaders.product.load(i.gtin))! }),
    batch: t.field({ type: BatchRef, resolve: async (i, _a, ctx) => (await ctx.loaders.batch.load(i.batch_id))! }),
    stage: t.field({ type: StageEnum, resolve: (i) => i.stage as never }),
    custodian: t.field({ type: ActorRef, description: 'Who holds the item now.', resolve: async (i, _a, ctx) => (await ctx.loaders.actor.load(i.custodian_id))! }),
    pendingReceiver: t.field({
      type: ActorRef, nullable: true, description: 'While IN_TRANSIT: the actor named to receive it.',
      resolve: async (i, _a, ctx) => (i.pending_receiver_id ? ((await ctx.loaders.actor.load(i.pending_receiver_id)) ?? null) : null),
    }),
    recalled: t.exposeBoolean('recalled'),
    chainLength: t.int({ resolve: (i) => i.head_seq + 1 }),
    headHash: t.string({ description: 'Hex hash of the latest chain link.', resolve: (i) => toHex(i.head_hash) }),
    events: t.connection({
      type: EventRef,
      description: `This item's events you may see, by chain position (seq) in the given order. ${PAGING_NOTE}`,
      args: { order: t.arg({ type: OrderEnum, defaultValue: 'OLDEST_FIRST' }) },
      resolve: async (i, args, ctx) => {
        const page = pageParams(args, isCount);
        const desc = args.order === 'NEWEST_FIRST';
        // In the connection's order `after` comes first and `before` last; seq bounds follow from the order.
        const [aboveSeq, belowSeq] = desc ? [page.before, page.after] : [page.after, page.before];
        const rows = await ctx.loaders.itemEvents.load({ itemId: i.id, limit: page.limit, aboveSeq, belowSeq, newestFirst: desc !== page.backward });
        return connectionFrom(rows, page, (r) => r.seq);
      },
    }),
    verification: t.field({
      type: VerificationRef,
      description: 'Recomputes this item’s chain from stored events and links.',
      resolve: (i, _a, ctx) => verifyItem(ctx.db, i),
    }),
  }),
});

/**
 * Resolves an item the caller may see by exactly one of id / sgtin / digitalLink; undefined when it does not
 * resolve or is not visible (the two are indistinguishable on purpose).
 */
export async function lookupItem(ctx: Context, by: { id?: string | null; sgtin?: string | null; digitalLink?: string | null }): Promise<ItemRow | undefined> {
  const given = [by.id, by.sgtin, by.digitalLink].filter((v) => v !== undefined && v !== null);
  if (given.length !== 1) throw inputError('item', 'give exactly one of id, sgtin or digitalLink');
  let id: string | undefined;
  if (by.id) {
    try {
      const decoded = decodeGlobalID(by.id);
      if (decoded.typename === 'Item') id = decoded.id;
    } catch {
      return undefined;
    }
  } else if (by.sgtin) {
    id = (await findItemsBySgtins(ctx.db, [by.sgtin]))[0]?.id;
  } else {
    const dl = parseDigitalLink(by.digitalLink!);
    if (dl.ok) id = (await findItemsByGtinSerial(ctx.db, [{ gtin: dl.value.gtin14, serial: dl.value.serial }]))[0]?.id;
  }
  return id ? ctx.loaders.visibleItem.load(id) : undefined;
}

builder.queryField('item', (t) =>
  t.field({
    type: ItemRef,
    nullable: true,
    description: 'An item by its global id, SGTIN URN or GS1 Digital Link (exactly one).',
    authScopes: { authenticated: true },
    args: { id: t.arg.id(), sgtin: t.arg.string(), digitalLink: t.arg.string() },
    resolve: async (_r, args, ctx) => (await lookupItem(ctx, args)) ?? null,
  }),
);
