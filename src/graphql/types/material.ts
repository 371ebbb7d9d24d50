import { materialEpcClass } from '../../core/epcis-export.ts';
import { findEventPage } from '../../db/events.ts';
import type { EventRow } from '../../db/types.ts';
import { builder } from '../builder.ts';
import { PAGING_NOTE, connectionFrom, isCount, isUuid, pageParams } from '../pagination.ts';
import { EventRef, ItemRef, ProductRef } from '../refs.ts';

/** One recovered material quantity of a RECYCLE event: the output lot of an EPCIS TransformationEvent. */
export interface MaterialLot {
  event: EventRow;
  index: number;
  material: string;
  massKg: number;
}

export const MaterialLotRef = builder.objectRef<MaterialLot>('MaterialLot');

/** The material lots a RECYCLE event produced, in recorded order. */
export function materialLotsOf(event: EventRow): MaterialLot[] {
  const materials = (event.data as { materials?: { material: string; massKg: number }[] }).materials;
  if (event.kind !== 'RECYCLE' || !Array.isArray(materials)) return [];
  return materials.map((m, index) => ({ event, index, material: m.material, massKg: m.massKg }));
}

builder.node(MaterialLotRef, {
  description: 'Material recovered by recycling (an LGTIN-like class with a quantity); links back to the items it came from.',
  id: { resolve: (l) => `${l.event.id}:${l.index}` },
  loadMany: (ids, ctx) =>
    Promise.all(
      ids.map(async (id) => {
        const [eventId, index] = id.split(':');
        if (!eventId || !isUuid(eventId)) return null;
        const event = await ctx.loaders.visibleEvent.load(eventId);
        return (event && materialLotsOf(event)[Number(index)]) ?? null;
      }),
    ),
  fields: (t) => ({
    material: t.exposeString('material'),
    massKg: t.exposeFloat('massKg'),
    epcClass: t.string({ description: 'EPC class URI used in the EPCIS export (outputQuantityList).', resolve: (l) => materialEpcClass(l.material) }),
    recycledAt: t.field({ type: 'DateTime', resolve: (l) => l.event.occurred_at }),
    event: t.field({ type: EventRef, description: 'The RECYCLE event.', resolve: (l) => l.event }),
    sourceItems: t.connection({
      type: ItemRef,
      description: `The items this material was recovered from (those you may see), ordered by item id. ${PAGING_NOTE}`,
      resolve: async (l, args, ctx) => {
        const page = pageParams(args, isUuid);
        return connectionFrom(await ctx.loaders.eventItems.load({ eventId: l.event.id, ...page }), page, (i) => i.id);
      },
    }),
    sourceProducts: t.field({
      type: [ProductRef],
      description: 'Which products this recovered lot came from.',
      resolve: async (l, _a, ctx) => {
        const gtins = await ctx.loaders.eventProductGtins.load(l.event.id);
        return (await Promise.all(gtins.map((g) => ctx.loaders.product.load(g)))).filter((p) => p !== undefined);
      },
    }),
  }),
});

builder.objectField(EventRef, 'materialLots', (t) =>
  t.field({ type: [MaterialLotRef], description: 'RECYCLE only: the recovered material lots.', resolve: (e) => materialLotsOf(e) }),
);

builder.queryField('materialLots', (t) =>
  t.connection({
    type: MaterialLotRef,
    description: `Recovered material lots from RECYCLE events you may see, newest log position first; optionally one material. Lots of one event share its cursor. ${PAGING_NOTE}`,
    authScopes: { authenticated: true },
    args: { material: t.arg.string() },
    resolve: async (_r, args, ctx) => {
      const page = pageParams(args, isCount);
      const events = await findEventPage(ctx.db, ctx.scope, { kinds: ['RECYCLE'], ...(args.material ? { recoveredMaterial: args.material } : {}) }, page, true);
      const connection = connectionFrom(events, page, (e) => Number(e.leaf_index));
      // One edge per event's lots keeps cursors on log positions; lots of one event share its cursor.
      const edges = connection.edges.flatMap((edge) =>
        materialLotsOf(edge.node).filter((l) => !args.material || l.material.toLowerCase() === args.material.toLowerCase()).map((node) => ({ node, cursor: edge.cursor })),
      );
      return { edges, pageInfo: connection.pageInfo };
    },
  }),
);
