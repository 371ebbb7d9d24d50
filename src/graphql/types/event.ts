import { decodeGlobalID } from '@pothos/plugin-relay';
import { sql } from 'kysely';
import { toHex } from '../../core/bytes.ts';
import type { JsonValue } from '../../core/chain.ts';
import { normalizeGtin } from '../../core/identifiers.ts';
import { LEDGER_KINDS } from '../../core/lifecycle.ts';
import { packItems } from '../../services/pack-items.ts';
import { unpackItems } from '../../services/unpack-items.ts';
import { formatWithOffset, parseOccurrenceTime } from '../../core/time.ts';
import { eventVisibleSql, findVisibleBatch, itemVisibleSql } from '../../db/visibility.ts';
import type { EventRow } from '../../db/types.ts';
import { type RecordEventInput, recordEvent } from '../../services/record-event.ts';
import { ACTOR_NAME_FORMS, parseActorNameIn, resolveActorName } from '../../services/resolve-actor.ts';
import { builder } from '../builder.ts';
import { viewerOf } from '../context.ts';
import { PAGING_NOTE, connectionFrom, isCount, isUuid, inputError, keysetPage, pageParams, withTotalCount } from '../pagination.ts';
import { ActorRef, EventRef, ItemRef } from '../refs.ts';
import { failureToGraphQL, resultUnion, success } from './errors.ts';
import { ledgerDeps } from './ledger-deps.ts';

export const EventKindEnum = builder.enumType('EventKind', { values: LEDGER_KINDS });

builder.node(EventRef, {
  description: 'One business step applied to one or many items; hashed, chained per item and logged.',
  id: { resolve: (e) => e.id },
  loadMany: (ids, ctx) => Promise.all(ids.map((id) => ctx.loaders.visibleEvent.load(id))),
  fields: (t) => ({
    kind: t.field({ type: EventKindEnum, resolve: (e) => e.kind as never }),
    actor: t.field({ type: ActorRef, description: 'Who recorded it.', resolve: async (e, _a, ctx) => (await ctx.loaders.actor.load(e.actor_id))! }),
    occurredAt: t.expose('occurred_at', { type: 'DateTime', description: 'UTC, millisecond precision.' }),
    occurredAtLocal: t.string({ description: 'The occurrence time in the offset it was submitted with.', resolve: (e) => formatWithOffset(e.occurred_at, e.tz_offset) }),
    timezoneOffset: t.exposeString('tz_offset'),
    recordedAt: t.expose('recorded_at', { type: 'DateTime' }),
    location: t.exposeString('location', { nullable: true }),
    counterparty: t.field({
      type: ActorRef, nullable: true, description: 'SHIP/RETURN: the receiving actor; SELL: the buyer, if named.',
      resolve: async (e, _a, ctx) => (e.counterparty_id ? ((await ctx.loaders.actor.load(e.counterparty_id)) ?? null) : null),
    }),
    data: t.field({ type: 'JSON', description: 'Kind-specific fields (price, materials, reason, …).', resolve: (e) => e.data }),
    contentHash: t.string({ description: 'Hex SHA-256 of "provenant:event:v1\\n" || canonical body.', resolve: (e) => toHex(e.content_hash) }),
    canonicalBody: t.exposeString('body', { description: 'The exact RFC 8785 JSON that was hashed.' }),
    leafIndex: t.int({ description: 'Position of this event in the Merkle log.', resolve: (e) => Number(e.leaf_index) }),
    itemCount: t.exposeInt('item_count'),
    items: t.connection({
      type: ItemRef,
      description: `Items this event covers that you may see, ordered by item id. ${PAGING_NOTE}`,
      resolve: async (e, args, ctx) => {
        const page = pageParams(args, isUuid);
        const q = ctx.db.selectFrom('chain_links as l').innerJoin('items as i', 'i.id', 'l.item_id').selectAll('i')
          .where('l.event_id', '=', e.id).where(itemVisibleSql(ctx.scope, 'i'));
        return connectionFrom(await keysetPage(q, 'i.id', page).execute(), page, (i) => i.id);
      },
    }),
  }),
});

export const BatchSelectorInput = builder.inputType('BatchSelectorInput', {
  fields: (t) => ({ gtin: t.string({ required: true }), lot: t.string({ required: true }) }),
});

const EventFilterInput = builder.inputType('EventFilter', {
  fields: (t) => ({
    kinds: t.field({ type: [EventKindEnum] }),
    actor: t.string({ description: `Only events recorded by this actor: ${ACTOR_NAME_FORMS}.` }),
    since: t.field({ type: 'DateTime', description: 'occurredAt ≥ since.' }),
    until: t.field({ type: 'DateTime', description: 'occurredAt < until.' }),
    batch: t.field({ type: BatchSelectorInput, description: 'Only events touching items of this batch.' }),
  }),
});

builder.queryField('events', (t) =>
  t.connection({
    type: EventRef,
    description: `Events in log order (oldest first), filtered. ${PAGING_NOTE}`,
    authScopes: { authenticated: true },
    args: { filter: t.arg({ type: EventFilterInput }) },
    resolve: async (_r, args, ctx) => {
      const page = pageParams(args, isCount);
      const f = args.filter ?? {};
      let base = ctx.db.selectFrom('events as e').where(eventVisibleSql(ctx.scope, 'e'));
      if (f.kinds?.length) base = base.where('e.kind', 'in', f.kinds);
      if (f.actor) {
        const named = await resolveActorName(ctx.db, f.actor, 'filter.actor', actorIdOfGlobalId);
        if (named.kind === 'ValidationError') throw inputError(named.field, named.message);
        // An actor that does not exist recorded nothing.
        if (named.kind !== 'ok') return connectionFrom([], page, () => 0, async () => 0);
        base = base.where('e.actor_id', '=', named.actor.id);
      }
      for (const [name, value, op] of [['since', f.since, '>='], ['until', f.until, '<']] as const) {
        if (!value) continue;
        const parsed = parseOccurrenceTime(value);
        if (!parsed.ok) throw inputError(`filter.${name}`, parsed.error);
        base = base.where('e.occurred_at', op, parsed.value.instant);
      }
      if (f.batch) {
        const g = normalizeGtin(f.batch.gtin);
        const batch = g.ok ? await findVisibleBatch(ctx.db, ctx.scope, g.value, f.batch.lot) : undefined;
        if (!batch) return connectionFrom([], page, () => 0, async () => 0);
        base = base.where(sql<boolean>`EXISTS (SELECT 1 FROM chain_links l JOIN items i ON i.id = l.item_id WHERE l.event_id = e.id AND i.batch_id = ${batch.id})`);
      }
      const q = keysetPage(base.selectAll('e'), 'e.leaf_index', page);
      const count = async () => Number((await base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
      return connectionFrom(await q.execute(), page, (e) => Number(e.leaf_index), count);
    },
  }, withTotalCount),
);

// ---- lifecycle mutations: one input each, one result union each ----

/** Turns item strings into references: SGTIN URN, Digital Link, or an Item global id. */
export function parseItemRefs(values: readonly string[]): NonNullable<RecordEventInput['items']['refs']> {
  return values.map((v) => {
    const s = v.trim();
    if (s.startsWith('urn:epc:id:sgtin:')) return { kind: 'sgtin' as const, value: s };
    if (/^https?:\/\//i.test(s)) return { kind: 'digitalLink' as const, value: s };
    try {
      const d = decodeGlobalID(s);
      return { kind: 'id' as const, value: d.typename === 'Item' ? d.id : s };
    } catch {
      return { kind: 'id' as const, value: s };
    }
  });
}

/** The internal id of an Actor global id, or null when `value` is not one (see `resolveActorName`). */
export const actorIdOfGlobalId = (value: string): string | null => {
  try {
    const d = decodeGlobalID(value);
    return d.typename === 'Actor' && isUuid(d.id) ? d.id : null;
  } catch {
    return null;
  }
};

const RecordEventSuccess = builder.objectRef<{ event: EventRow }>('RecordEventSuccess').implement({
  description: 'The event that was recorded (or, for a repeated idempotency key, the one recorded first).',
  fields: (t) => ({ event: t.field({ type: EventRef, resolve: (s) => s.event }) }),
});

const ERRORS = ['ValidationError', 'NotFoundError', 'PermissionDeniedError', 'InvalidTransitionError', 'ConflictError'] as const;

const MaterialInput = builder.inputType('RecoveredMaterialInput', {
  fields: (t) => ({
    material: t.string({ required: true, description: 'e.g. aluminium, copper, ABS plastic.' }),
    massKg: t.float({ required: true }),
  }),
});

const UseKindEnum = builder.enumType('UseKind', { values: ['ACTIVATE', 'SERVICE', 'USE_REPORT'] as const });

type Common = {
  items?: string[] | null;
  batch?: { gtin: string; lot: string } | null;
  containers?: string[] | null;
  occurredAt: string;
  location?: string | null;
  idempotencyKey?: string | null;
};

function defineLifecycleMutation<Extra extends Record<string, unknown>>(
  name: string,
  description: string,
  extraFields: (t: PothosSchemaTypes.InputFieldBuilder<any, 'InputObject'>) => Record<string, any>,
  toInput: (input: Common & Extra) =>
    | (Omit<RecordEventInput, 'items' | 'occurredAt' | 'location' | 'idempotencyKey' | 'counterpartyId'> & { party?: { field: string; name: string } | null })
    | { error: { field: string; message: string } },
) {
  const inputName = name.charAt(0).toUpperCase() + name.slice(1);
  const Input = builder.inputType(`${inputName}Input`, {
    fields: (t) => ({
      items: t.stringList({ description: 'Item global ids, SGTIN URNs or GS1 Digital Links.' }),
      batch: t.field({ type: BatchSelectorInput, description: 'Every item of this batch.' }),
      containers: t.stringList({ description: 'SSCCs: every item inside, at any depth.' }),
      occurredAt: t.field({ type: 'DateTime', required: true, description: 'RFC 3339 with timezone offset.' }),
      location: t.string({ description: 'GLN or free text.' }),
      idempotencyKey: t.string({ description: 'Retrying with the same key returns the first result and writes nothing.' }),
      ...extraFields(t as never),
    }),
  });
  builder.mutationField(name, (t) =>
    t.field({
      type: resultUnion(inputName, RecordEventSuccess, ERRORS),
      description,
      authScopes: { authenticated: true },
      args: { input: t.arg({ type: Input, required: true }) },
      resolve: async (_r, { input }, ctx) => {
        const common = input as unknown as Common & Extra;
        const specific = toInput(common);
        if ('error' in specific) return failureToGraphQL({ kind: 'ValidationError', ...specific.error });
        const { party, ...rest } = specific;
        let counterpartyId: string | null = null;
        if (party) {
          // An id is checked by recordEvent in the statement that reads its other facts; a GLN is looked up here.
          const name = parseActorNameIn(party.name, party.field, actorIdOfGlobalId);
          if ('field' in name) return failureToGraphQL(name);
          if (name.kind === 'id') counterpartyId = name.id;
          else {
            const named = await resolveActorName(ctx.db, party.name, party.field, actorIdOfGlobalId);
            if (named.kind !== 'ok') return failureToGraphQL(named);
            counterpartyId = named.actor.id;
          }
        }
        const result = await recordEvent(ledgerDeps(ctx), viewerOf(ctx), {
          ...rest,
          counterpartyId,
          counterpartyField: party?.field ?? null,
          items: { refs: parseItemRefs(common.items ?? []), batch: common.batch ?? null, containers: common.containers ?? null },
          occurredAt: common.occurredAt,
          location: common.location ?? null,
          idempotencyKey: common.idempotencyKey ?? null,
        });
        switch (result.kind) {
          case 'ok':
            return success('RecordEventSuccess', result);
          case 'ValidationError':
          case 'NotFoundError':
          case 'PermissionDeniedError':
          case 'InvalidTransitionError':
          case 'ConflictError':
            return failureToGraphQL(result);
          default:
            throw new Error(result satisfies never);
        }
      },
    }),
  );
}

const reasonField = (t: PothosSchemaTypes.InputFieldBuilder<any, 'InputObject'>) => ({ reason: t.string() });
const reasonData = (reason: unknown): { [k: string]: JsonValue } => (typeof reason === 'string' && reason.trim() ? { reason: reason.trim() } : {});

defineLifecycleMutation<{ to: string }>(
  'shipItems',
  'The current custodian ships items to a named receiver (stage IN_TRANSIT until received).',
  (t) => ({ to: t.string({ required: true, description: `The actor that will receive the items: ${ACTOR_NAME_FORMS}.` }) }),
  (input) => ({ kind: 'SHIP', party: { field: 'to', name: input.to }, data: {} }),
);

defineLifecycleMutation<Record<string, never>>(
  'receiveItems',
  'The named receiver takes custody of items in transit (stage IN_STOCK).',
  () => ({}),
  () => ({ kind: 'RECEIVE', data: {} }),
);

defineLifecycleMutation<{ price?: number | null; currency?: string | null; buyer?: string | null }>(
  'sellItems',
  'A RETAILER custodian records a sale (stage SOLD). Recalled items cannot be sold.',
  (t) => ({
    price: t.float({ description: 'Unit price, optional.' }),
    currency: t.string({ description: 'ISO 4217 code; required with price.' }),
    buyer: t.string({ description: `The buying actor, if it is one (${ACTOR_NAME_FORMS}); it becomes the custodian.` }),
  }),
  (input) => {
    const data: { [k: string]: JsonValue } = {};
    if (input.price !== undefined && input.price !== null) {
      if (!Number.isFinite(input.price) || input.price < 0) return { error: { field: 'price', message: 'price must be a non-negative number' } };
      if (!input.currency || !/^[A-Z]{3}$/.test(input.currency)) return { error: { field: 'currency', message: 'currency must be an ISO 4217 code such as EUR when a price is given' } };
      data.price = input.price;
      data.currency = input.currency;
    } else if (input.currency) {
      return { error: { field: 'currency', message: 'currency without price' } };
    }
    return { kind: 'SELL', party: input.buyer ? { field: 'buyer', name: input.buyer } : null, data };
  },
);

defineLifecycleMutation<{ kind: 'ACTIVATE' | 'SERVICE' | 'USE_REPORT'; note?: string | null; readings?: unknown }>(
  'recordUse',
  'The owner (custodian) or a servicer records activation, service or a usage report (stage IN_USE).',
  (t) => ({
    kind: t.field({ type: UseKindEnum, required: true }),
    note: t.string(),
    readings: t.field({ type: 'JSON', description: 'Sensor or usage readings (JSON object).' }),
  }),
  (input) => {
    const data: { [k: string]: JsonValue } = {};
    if (input.note?.trim()) data.note = input.note.trim();
    if (input.readings !== undefined && input.readings !== null) {
      if (typeof input.readings !== 'object' || Array.isArray(input.readings)) return { error: { field: 'readings', message: 'readings must be a JSON object' } };
      data.readings = input.readings as JsonValue;
    }
    return { kind: input.kind, data };
  },
);

defineLifecycleMutation<{ to: string; reason?: string | null }>(
  'returnItems',
  'The owner returns items to a named receiver (retailer, manufacturer or recycler), who takes custody (stage RETURNED).',
  (t) => ({ to: t.string({ required: true, description: `The receiving actor: ${ACTOR_NAME_FORMS}.` }), ...reasonField(t) }),
  (input) => ({ kind: 'RETURN', party: { field: 'to', name: input.to }, data: reasonData(input.reason) }),
);

defineLifecycleMutation<{ materials?: { material: string; massKg: number }[] | null }>(
  'recycleItems',
  'A RECYCLER custodian closes the items’ life and records the materials recovered (stage RECYCLED, terminal).',
  (t) => ({ materials: t.field({ type: [MaterialInput], description: 'Recovered material quantities.' }) }),
  (input) => {
    const materials = input.materials ?? [];
    for (const [i, m] of materials.entries()) {
      // Length and Unicode bounds (configurable) are checked by recordEvent through core/text.ts.
      if (!m.material.trim()) return { error: { field: `materials[${i}].material`, message: 'material must not be empty' } };
      if (!Number.isFinite(m.massKg) || m.massKg <= 0) return { error: { field: `materials[${i}].massKg`, message: 'massKg must be a positive number' } };
    }
    return { kind: 'RECYCLE', data: { materials: materials.map((m) => ({ material: m.material.trim(), massKg: m.massKg })) } };
  },
);

defineLifecycleMutation<{ reason?: string | null }>(
  'destroyItems',
  'The custodian records destruction (stage DESTROYED, terminal).',
  reasonField,
  (input) => ({ kind: 'DESTROY', data: reasonData(input.reason) }),
);

builder.mutationField('packItems', (t) =>
  t.field({
    type: resultUnion('PackItems', RecordEventSuccess, ERRORS),
    description: 'The custodian packs items and/or containers into an SSCC container (EPCIS AggregationEvent ADD).',
    authScopes: { authenticated: true },
    args: {
      input: t.arg({
        type: builder.inputType('PackItemsInput', {
          fields: (f) => ({
            container: f.string({ required: true, description: 'SSCC (18 digits) of the container.' }),
            items: f.stringList({ description: 'Item global ids, SGTIN URNs or Digital Links.' }),
            containers: f.stringList({ description: 'SSCCs of containers to put inside (cases into a pallet).' }),
            occurredAt: f.field({ type: 'DateTime', required: true }),
            location: f.string(),
            idempotencyKey: f.string(),
          }),
        }),
        required: true,
      }),
    },
    resolve: async (_r, { input }, ctx) => {
      const r = await packItems(ledgerDeps(ctx), viewerOf(ctx), { ...input, items: parseItemRefs(input.items ?? []) });
      return r.kind === 'ok' ? success('RecordEventSuccess', r) : failureToGraphQL(r);
    },
  }),
);

builder.mutationField('unpackItems', (t) =>
  t.field({
    type: resultUnion('UnpackItems', RecordEventSuccess, ERRORS),
    description: 'The custodian empties a container (EPCIS AggregationEvent DELETE); nested containers stay packed.',
    authScopes: { authenticated: true },
    args: {
      input: t.arg({
        type: builder.inputType('UnpackItemsInput', {
          fields: (f) => ({
            container: f.string({ required: true }),
            occurredAt: f.field({ type: 'DateTime', required: true }),
            location: f.string(),
            idempotencyKey: f.string(),
          }),
        }),
        required: true,
      }),
    },
    resolve: async (_r, { input }, ctx) => {
      const r = await unpackItems(ledgerDeps(ctx), viewerOf(ctx), input);
      return r.kind === 'ok' ? success('RecordEventSuccess', r) : failureToGraphQL(r);
    },
  }),
);
