import { canSeeContainer } from '../../core/rights.ts';
import { normalizeSscc, parseSsccUrn } from '../../core/identifiers.ts';
import { childContainers, containerContents, packedContainers } from '../../db/containers.ts';
import type { ItemRow } from '../../db/types.ts';
import { builder } from '../builder.ts';
import { inputError } from '../pagination.ts';
import { ActorRef, ItemRef } from '../refs.ts';

/** At most this many items are listed per container (itemCount gives the total). */
const MAX_LISTED_ITEMS = 500;

interface ContainerView {
  sscc: string;
  holderId: string;
  parentSscc: string | null;
  childSsccs: string[];
  /** Items inside at any depth that the caller may see. */
  items: ItemRow[];
}

const ContainerRef = builder.objectRef<ContainerView>('Container').implement({
  description: 'An SSCC container (case, pallet) and what is packed in it, as far as the caller may see.',
  fields: (t) => ({
    sscc: t.exposeString('sscc', { description: 'SSCC, 18 digits.' }),
    holder: t.field({
      type: ActorRef,
      description: 'Who last packed into or unpacked it (its custodian while it is empty).',
      resolve: async (c, _a, ctx) => (await ctx.loaders.actor.load(c.holderId))!,
    }),
    parentSscc: t.exposeString('parentSscc', { nullable: true, description: 'The container it is packed in, if any.' }),
    containerSsccs: t.exposeStringList('childSsccs', { description: 'Containers packed directly inside it.' }),
    itemCount: t.int({ description: 'Items inside it at any depth that you may see.', resolve: (c) => c.items.length }),
    items: t.field({
      type: [ItemRef],
      description: `Items inside it at any depth that you may see, by SGTIN (at most ${MAX_LISTED_ITEMS}).`,
      resolve: (c) => c.items.slice(0, MAX_LISTED_ITEMS),
    }),
  }),
});

builder.queryField('container', (t) =>
  t.field({
    type: ContainerRef,
    nullable: true,
    description: 'A container by SSCC (18 digits or an SSCC URN): null when unknown, or when you neither hold it nor may see anything inside it.',
    authScopes: { authenticated: true },
    args: { sscc: t.arg.string({ required: true }) },
    resolve: async (_r, { sscc }, ctx) => {
      const key = sscc.startsWith('urn:') ? parseSsccUrn(sscc) : normalizeSscc(sscc);
      if (!key.ok) throw inputError('sscc', key.error);
      const sscc18 = typeof key.value === 'string' ? key.value : key.value.sscc18;
      const contents = (await containerContents(ctx.db, [sscc18])).get(sscc18);
      if (!contents) return null;
      const seen = await ctx.loaders.visibleItem.loadMany(contents.itemIds);
      const items = seen.filter((i): i is ItemRow => i !== undefined && !(i instanceof Error)).sort((a, b) => (a.sgtin < b.sgtin ? -1 : a.sgtin > b.sgtin ? 1 : 0));
      if (!canSeeContainer(ctx.scope, { holderId: contents.holderId, visibleItems: items.length })) return null;
      const [parents, children] = await Promise.all([packedContainers(ctx.db, [sscc18]), childContainers(ctx.db, sscc18)]);
      return { sscc: sscc18, holderId: contents.holderId, parentSscc: parents.get(sscc18) ?? null, childSsccs: children, items };
    },
  }),
);
