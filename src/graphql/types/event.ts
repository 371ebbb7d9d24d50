import { decodeGlobalID } from '@pothos/plugin-relay';
import { toHex } from '../../core/bytes.ts';
import type { JsonValue } from '../../core/chain.ts';
import { normalizeGtin } from '../../core/identifiers.ts';
import { LEDGER_KINDS } from '../../core/lifecycle.ts';
import { PACK_ITEMS_FAILURES, packItems } from '../../services/pack-items.ts';
import { UNPACK_ITEMS_FAILURES, unpackItems } from '../../services/unpack-items.ts';
import { formatWithOffset, parseOccurrenceTime } from '../../core/time.ts';
import { findVisibleBatch } from '../../db/visibility.ts';
import { type EventFilter, countEvents, findEventPage } from '../../db/events.ts';
import type { EventRow } from '../../db/types.ts';
import { RECORD_EVENT_FAILURES, type RecordEventInput, recordEvent } from '../../services/record-event.ts';
import { ERASE_EVENT_FIELD_FAILURES, eraseEventField } from '../../services/erase-event-field.ts';
import { ACTOR_NAME_FORMS, parseActorNameIn, resolveActorName } from '../../services/resolve-actor.ts';
import { builder } from '../builder.ts';
import { viewerOf } from '../context.ts';
import { PAGING_NOTE, connectionFrom, isCount, isUuid, inputError, pageParams, withTotalCount } from '../pagination.ts';
import { ActorRef, EventRef, ItemRef } from '../refs.ts';
import { failureToGraphQL, resultUnion, success } from './errors.ts';
import { ledgerDeps } from './ledger-deps.ts';
import { counterpartyField, projectContent } from '../../core/event-disclosure.ts';
import { contentOf } from '../../services/event-disclosure.ts';
import type { Context } from '../context.ts';

/** Whether the caller's tier shows field `name` of event `e` (core/event-disclosure.ts, loaded in bulk). */
const shown = async (ctx: Context, e: EventRow, name: string): Promise<boolean> => !(await ctx.loaders.eventView.load(e)).withheld.includes(name);

// ERASE: the erasure of one field of an earlier event (eraseEventField); it covers no items.
export const EventKindEnum = builder.enumType('EventKind', { values: [...LEDGER_KINDS, 'ERASE'] as const });

const ErasedFieldRef = builder.objectRef<{ field: string; erasedBy: string }>('ErasedField').implement({
  description: 'One erased field of an event (docs/ledger-format.md §10).',
  fields: (t) => ({
    field: t.exposeString('field', { description: 'The field name (e.g. price, buyer, location).' }),
    erasedBy: t.exposeString('erasedBy', { description: 'Hex content hash of the ERASE event that erased it.' }),
  }),
});

builder.node(EventRef, {
  description: 'One business step applied to one or many items; hashed, chained per item and logged.',
  id: { resolve: (e) => e.id },
  loadMany: (ids, ctx) => Promise.all(ids.map((id) => ctx.loaders.visibleEvent.load(id))),
  fields: (t) => ({
    kind: t.field({ type: EventKindEnum, resolve: (e) => e.kind as never }),
    actor: t.field({
      type: ActorRef, nullable: true,
      description: `Who recorded it; null when withheld from your tier (see withheldFields: by default the actor of ACTIVATE, USE_REPORT and RETURN, possibly a consumer, is shown to participants only).`,
      resolve: async (e, _a, ctx) => ((await shown(ctx, e, 'actor')) ? (await ctx.loaders.actor.load(e.actor_id))! : null),
    }),
    occurredAt: t.expose('occurred_at', { type: 'DateTime', description: 'UTC, millisecond precision.' }),
    occurredAtLocal: t.string({ description: 'The occurrence time in the offset it was submitted with.', resolve: (e) => formatWithOffset(e.occurred_at, e.tz_offset) }),
    timezoneOffset: t.exposeString('tz_offset'),
    recordedAt: t.expose('recorded_at', { type: 'DateTime' }),
    location: t.string({ nullable: true, description: 'GLN or free text; null when absent or withheld.', resolve: async (e, _a, ctx) => ((await shown(ctx, e, 'location')) ? e.location : null) }),
    counterparty: t.field({
      type: ActorRef, nullable: true, description: 'SHIP/RETURN: the receiving actor; SELL: the buyer, if named (withheld from the public tier by default).',
      resolve: async (e, _a, ctx) =>
        e.counterparty_id && (await shown(ctx, e, counterpartyField(e.kind))) ? ((await ctx.loaders.actor.load(e.counterparty_id)) ?? null) : null,
    }),
    data: t.field({
      type: 'JSON',
      description: 'Kind-specific fields (price, materials, reason, …) your tier may see; withheld ones are left out (see withheldFields).',
      resolve: async (e, _a, ctx) => {
        const view = await ctx.loaders.eventView.load(e);
        return view.withheld.length === 0 ? e.data : projectContent(contentOf(e), view.withheld).data;
      },
    }),
    withheldFields: t.stringList({
      description:
        'Names of the fields of this event your disclosure tier does not show (public < participants < authorities; docs/ledger-format.md §15): ' +
        'they come back null (actor, location, counterparty) or are left out of data. Buyer, price, currency, notes, readings and free-form reasons ' +
        'default to participants (the brand, holders in their custody windows, grantees, the event\'s own parties); brands set per-product overrides.',
      resolve: async (e, _a, ctx) => (await ctx.loaders.eventView.load(e)).withheld,
    }),
    contentHash: t.string({ description: 'Hex SHA-256 of "provenant:event:v2\\n" || canonical body (v1 events: "provenant:event:v1\\n"; docs/ledger-format.md).', resolve: (e) => toHex(e.content_hash) }),
    canonicalBody: t.string({
      nullable: true,
      description:
        'The exact RFC 8785 JSON that was hashed. Null for a v1 event that also covers items you may not see or has fields withheld from ' +
        'you (a v1 body lists every serial and every value of the event); a v2 body lists no serial, no count and no value, so it is always ' +
        'shown (its withheld fields stay commitments).',
      resolve: async (e, _a, ctx) => ((await ctx.loaders.eventView.load(e)).bodyShown ? e.body : null),
    }),
    leafIndex: t.int({ description: 'Position of this event in the Merkle log.', resolve: (e) => Number(e.leaf_index) }),
    itemCount: t.int({
      description: 'How many of the items this event covers you may see (never a count of the others).',
      resolve: async (e, _a, ctx) => (await ctx.loaders.eventView.load(e)).visibleItems,
    }),
    erasedFields: t.field({
      type: [ErasedFieldRef],
      description: 'Fields whose value was erased (eraseEventField): absent from location/counterparty/data, still committed in the body.',
      resolve: (e) => Object.entries(e.erased ?? {}).sort(([x], [y]) => (x < y ? -1 : 1)).map(([field, by]) => ({ field, erasedBy: by })),
    }),
    items: t.connection({
      type: ItemRef,
      description: `Items this event covers that you may see, ordered by item id. ${PAGING_NOTE}`,
      resolve: async (e, args, ctx) => {
        const page = pageParams(args, isUuid);
        return connectionFrom(await ctx.loaders.eventItems.load({ eventId: e.id, ...page }), page, (i) => i.id);
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
      const filter: EventFilter = {};
      if (f.kinds?.length) filter.kinds = f.kinds;
      if (f.actor) {
        const named = await resolveActorName(ctx.db, f.actor, 'filter.actor', actorIdOfGlobalId);
        if (named.kind === 'ValidationError') throw inputError(named.field, named.message);
        // An actor that does not exist recorded nothing.
        if (named.kind !== 'ok') return connectionFrom([], page, () => 0, async () => 0);
        filter.actorId = named.actor.id;
        // The actor of ACTIVATE / USE_REPORT / RETURN (possibly a consumer) is for participants by default: a public-tier
        // reader must not find such events by their actor (docs/ledger-format.md §15).
        filter.actorForParticipantsOnly = true;
      }
      for (const [name, value, key] of [['since', f.since, 'geEventTime'], ['until', f.until, 'ltEventTime']] as const) {
        if (!value) continue;
        const parsed = parseOccurrenceTime(value);
        if (!parsed.ok) throw inputError(`filter.${name}`, parsed.error);
        filter[key] = parsed.value.instant;
      }
      if (f.batch) {
        const g = normalizeGtin(f.batch.gtin);
        const batch = g.ok ? await findVisibleBatch(ctx.db, ctx.scope, g.value, f.batch.lot) : undefined;
        if (!batch) return connectionFrom([], page, () => 0, async () => 0);
        filter.batchId = batch.id;
      }
      const count = () => countEvents(ctx.db, ctx.scope, filter);
      return connectionFrom(await findEventPage(ctx.db, ctx.scope, filter, page), page, (e) => Number(e.leaf_index), count);
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

export const RecordEventSuccess = builder.objectRef<{ event: EventRow }>('RecordEventSuccess').implement({
  description: 'The event that was recorded (or, for a repeated idempotency key, the one recorded first).',
  fields: (t) => ({ event: t.field({ type: EventRef, resolve: (s) => s.event }) }),
});

const ERRORS = RECORD_EVENT_FAILURES;

export const MaterialInput = builder.inputType('RecoveredMaterialInput', {
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
const reasonData = (reason: string | null | undefined): { [k: string]: JsonValue } => ({ reason: reason ?? null });

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
    // Checked by recordEvent (core/event-data.ts, the rule EPCIS capture applies too).
    const data = { price: input.price ?? null, currency: input.currency ?? null } as { [k: string]: JsonValue };
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
    const data = { note: input.note ?? null, readings: (input.readings ?? null) as JsonValue };
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
    return { kind: 'RECYCLE', data: { materials: input.materials ?? null } };
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
    type: resultUnion('PackItems', RecordEventSuccess, PACK_ITEMS_FAILURES),
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
    type: resultUnion('UnpackItems', RecordEventSuccess, UNPACK_ITEMS_FAILURES),
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

const EraseEventFieldSuccess = builder.objectRef<{ target: EventRow; erasure: EventRow }>('EraseEventFieldSuccess').implement({
  description: 'The event whose field was erased (its value and salt deleted, its body unchanged) and the ERASE event recorded.',
  fields: (t) => ({
    target: t.field({ type: EventRef, resolve: (s) => s.target }),
    erasure: t.field({ type: EventRef, resolve: (s) => s.erasure }),
  }),
});

builder.mutationField('eraseEventField', (t) =>
  t.field({
    type: resultUnion('EraseEventField', EraseEventFieldSuccess, ERASE_EVENT_FIELD_FAILURES),
    description:
      'The brand owner of every item an event covers (or the operator) erases one field of a v2 event: an ERASE event is logged with the reason, ' +
      'then the value and its salt are deleted. Histories, proofs and audits stay valid; bundles show the field as erased. ' +
      '`actor` cannot be erased; erasing an erased field is a ConflictError.',
    authScopes: { authenticated: true },
    args: {
      input: t.arg({
        type: builder.inputType('EraseEventFieldInput', {
          fields: (f) => ({
            eventId: f.id({ description: 'The event (exactly one of eventId and contentHash).' }),
            contentHash: f.string({ description: 'Hex content hash of the event.' }),
            field: f.string({ required: true }),
            reason: f.string({ required: true }),
            idempotencyKey: f.string({ description: 'Retrying with the same key returns the first result and writes nothing.' }),
          }),
        }),
        required: true,
      }),
    },
    resolve: async (_r, { input }, ctx) => {
      let eventId: string | null = null;
      if (input.eventId !== null && input.eventId !== undefined) {
        try {
          const d = decodeGlobalID(String(input.eventId));
          eventId = d.typename === 'Event' && isUuid(d.id) ? d.id : '';
        } catch {
          eventId = '';
        }
      }
      const r = await eraseEventField(ledgerDeps(ctx), viewerOf(ctx), {
        eventId, contentHash: input.contentHash ?? null, field: input.field, reason: input.reason, idempotencyKey: input.idempotencyKey ?? null,
      });
      return r.kind === 'ok' ? success('EraseEventFieldSuccess', r) : failureToGraphQL(r);
    },
  }),
);
