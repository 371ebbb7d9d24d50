import { GraphQLError } from 'graphql';
import { epcisDocument } from '../../core/epcis-export.ts';
import { normalizeGtin } from '../../core/identifiers.ts';
import { findBatch } from '../../db/ledger.ts';
import type { EventRow } from '../../db/types.ts';
import {
  CAPTURE_EPCIS_FAILURES, type CaptureProblem, type CapturedEvent, type EpcisCaptureSuccess, captureEpcisDocument, captureLimits,
} from '../../services/epcis-capture.ts';
import { EPCIS_DEFAULT_PAGE_SIZE, EPCIS_MAX_PAGE_SIZE, parseEpcisQuery } from '../../core/epcis-query-params.ts';
import { queryEpcisEvents, withCheckpoint } from '../../services/epcis-query.ts';
import type { ItemProblem } from '../../services/results.ts';
import { builder } from '../builder.ts';
import { viewerOf } from '../context.ts';
import { inputError } from '../pagination.ts';
import { EpcisCaptureErrorRef, ErrorInterface, EventRef, ItemProblemRef } from '../refs.ts';
import { failureToGraphQL, resultUnion, success } from './errors.ts';
import { BatchSelectorInput, EventKindEnum, actorIdOfGlobalId } from './event.ts';
import { ACTOR_NAME_FORMS, resolveActorName } from '../../services/resolve-actor.ts';
import { ledgerDeps } from './ledger-deps.ts';

const NOTHING = '00000000-0000-0000-0000-000000000000';

// ---- export ----

const EpcFormatEnum = builder.enumType('EpcFormat', {
  description: 'How exported EPCs are written.',
  values: {
    URN: { value: 'urn', description: 'SGTIN pure-identity URNs (urn:epc:id:sgtin:…), as the ledger stores them; containers as SSCC URNs when their GS1 company prefix is registered with the ledger.' },
    DIGITAL_LINK: { value: 'digitalLink', description: 'GS1 Digital Links (https://id.gs1.org/01/{gtin}/21/{serial}).' },
  } as const,
});

const EpcisActionEnum = builder.enumType('EpcisAction', { values: ['ADD', 'OBSERVE', 'DELETE'] as const });
const EpcisOrderByEnum = builder.enumType('EpcisOrderBy', {
  description: 'orderBy of the EPCIS query.',
  values: { EVENT_TIME: { value: 'eventTime' }, RECORD_TIME: { value: 'recordTime' } } as const,
});
const EpcisOrderDirectionEnum = builder.enumType('EpcisOrderDirection', { values: ['ASC', 'DESC'] as const });

const SourceDestinationInput = builder.inputType('EpcisSourceDestinationFilter', {
  description: 'EQ_source_{type} / EQ_destination_{type}: a CBV source/destination type and the parties it may name.',
  fields: (t) => ({
    type: t.string({ required: true, description: 'CBV type: owning_party, possessing_party, location (short name, URN or Web URI).' }),
    parties: t.stringList({ required: true, description: 'https://id.gs1.org/417/{gln}, urn:epc:id:pgln:… or urn:provenant:actor:{id}.' }),
  }),
});

const EpcisEventFilterInput = builder.inputType('EpcisEventFilter', {
  description:
    'The EventFilter fields plus the EPCIS 2.0 SimpleEventQuery parameters of GET /epcis/events (same meaning, see README). Every field given must match; ' +
    'the values of one list are alternatives.',
  fields: (t) => ({
    kinds: t.field({ type: [EventKindEnum] }),
    actor: t.string({ description: `Only events recorded by this actor: ${ACTOR_NAME_FORMS}.` }),
    since: t.field({ type: 'DateTime', description: 'occurredAt ≥ since (GE_eventTime).' }),
    until: t.field({ type: 'DateTime', description: 'occurredAt < until (LT_eventTime).' }),
    recordedSince: t.field({ type: 'DateTime', description: 'recordTime ≥ this (GE_recordTime).' }),
    recordedUntil: t.field({ type: 'DateTime', description: 'recordTime < this (LT_recordTime).' }),
    batch: t.field({ type: BatchSelectorInput, description: 'Only events touching items of this batch.' }),
    eventTypes: t.stringList({ description: 'eventType: ObjectEvent, AggregationEvent, TransformationEvent.' }),
    eventIds: t.stringList({ description: 'EQ_eventID: the exported event hash IDs.' }),
    matchEpc: t.stringList({ description: 'MATCH_epc: SGTIN URNs, Digital Links, urn:epc:idpat:sgtin patterns, SSCCs; matches epcList and childEPCs (not the inputs of a TransformationEvent).' }),
    matchParentId: t.stringList({ description: 'MATCH_parentID: the container (SSCC) of AggregationEvents.' }),
    matchInputEpc: t.stringList({ description: 'MATCH_inputEPC: inputEPCList of TransformationEvents.' }),
    matchOutputEpc: t.stringList({ description: 'MATCH_outputEPC: URIs; matches nothing (no exported event has an outputEPCList).' }),
    matchEpcClass: t.stringList({ description: 'MATCH_epcClass: URIs; matches nothing (no exported event has a quantityList).' }),
    matchAnyEpc: t.stringList({ description: 'MATCH_anyEPC: as matchEpc, also matching parentID and inputEPCList.' }),
    bizSteps: t.stringList({ description: 'EQ_bizStep: CBV business steps (short name, URN or Web URI).' }),
    dispositions: t.stringList({ description: 'EQ_disposition: CBV dispositions (short name, URN or Web URI).' }),
    readPoints: t.stringList({ description: 'EQ_readPoint (= WD_readPoint: no location hierarchy): https://id.gs1.org/414/{gln}[/254/{ext}] or SGLN URNs.' }),
    bizLocations: t.stringList({ description: 'EQ_bizLocation (= WD_bizLocation), as readPoints.' }),
    actions: t.field({ type: [EpcisActionEnum], description: 'EQ_action.' }),
    sources: t.field({ type: [SourceDestinationInput], description: 'EQ_source_{type}, one entry per type (all must match).' }),
    destinations: t.field({ type: [SourceDestinationInput], description: 'EQ_destination_{type}, one entry per type (all must match).' }),
  }),
});

type FilterArg = {
  kinds?: readonly string[] | null;
  actor?: string | null;
  batch?: { gtin: string; lot: string } | null;
  sources?: readonly { type: string; parties: readonly string[] }[] | null;
  destinations?: readonly { type: string; parties: readonly string[] }[] | null;
} & { [field: string]: unknown } | null | undefined;

/** GraphQL filter fields and arguments → the SimpleEventQuery parameter each one is. */
const LIST_PARAMS: readonly [string, string][] = [
  ['eventTypes', 'eventType'], ['eventIds', 'EQ_eventID'], ['matchEpc', 'MATCH_epc'], ['matchParentId', 'MATCH_parentID'],
  ['matchInputEpc', 'MATCH_inputEPC'], ['matchOutputEpc', 'MATCH_outputEPC'], ['matchEpcClass', 'MATCH_epcClass'], ['matchAnyEpc', 'MATCH_anyEPC'],
  ['bizSteps', 'EQ_bizStep'], ['dispositions', 'EQ_disposition'], ['readPoints', 'EQ_readPoint'], ['bizLocations', 'EQ_bizLocation'], ['actions', 'EQ_action'],
];
const TIME_PARAMS: readonly [string, string][] = [['since', 'GE_eventTime'], ['until', 'LT_eventTime'], ['recordedSince', 'GE_recordTime'], ['recordedUntil', 'LT_recordTime']];

builder.queryField('epcisDocument', (t) =>
  t.field({
    type: 'JSON',
    description:
      `The events you may read (the same visibility as \`events\`) as a GS1 EPCIS 2.0 EPCISDocument (JSON-LD), filtered and ordered like GET /epcis/events. Each event carries eventID = its CBV 2.0 event hash ID; ` +
      `the document carries "provenant:checkpoint", the signed log checkpoint it was read at (every event is below its tree size). ` +
      `Page with first (default ${EPCIS_DEFAULT_PAGE_SIZE}, at most ${EPCIS_MAX_PAGE_SIZE} served) and after = the document's "provenant:nextPageToken" (absent on the last page); ` +
      'the next pages read at the same checkpoint. Without orderBy, events come oldest first (log order).',
    authScopes: { authenticated: true },
    args: {
      filter: t.arg({ type: EpcisEventFilterInput }),
      first: t.arg.int(),
      after: t.arg.string(),
      epcFormat: t.arg({ type: EpcFormatEnum, defaultValue: 'urn' }),
      orderBy: t.arg({ type: EpcisOrderByEnum }),
      orderDirection: t.arg({ type: EpcisOrderDirectionEnum, description: 'Default DESC (with orderBy).' }),
      eventCountLimit: t.arg.int({ description: 'Only the first N events of the ordering (needs orderBy).' }),
      maxEventCount: t.arg.int({ description: 'Refuse the query (QUERY_TOO_LARGE) when more events match.' }),
    },
    resolve: async (_r, args, ctx) => {
      const f = args.filter as FilterArg;
      // One validation path: the filter becomes the REST parameters and goes through the same core parser.
      const params: [string, string[]][] = [];
      const fieldOf = new Map<string, string>();
      const add = (field: string, name: string, values: readonly string[]) => {
        params.push([name, [...values]]);
        fieldOf.set(name, field);
      };
      for (const [field, name] of LIST_PARAMS) {
        const v = f?.[field] as readonly string[] | null | undefined;
        if (v) add(`filter.${field}`, name, v);
      }
      for (const [field, name] of TIME_PARAMS) {
        const v = f?.[field] as string | null | undefined;
        if (v) add(`filter.${field}`, name, [v]);
      }
      for (const [list, side] of [[f?.sources, 'source'], [f?.destinations, 'destination']] as const) {
        (list ?? []).forEach((sd, i) => add(`filter.${side}s[${i}].parties`, `EQ_${side}_${sd.type}`, sd.parties));
      }
      if (args.first !== null && args.first !== undefined) add('first', 'perPage', [String(args.first)]);
      if (args.after) add('after', 'nextPageToken', [args.after]);
      if (args.orderBy) add('orderBy', 'orderBy', [args.orderBy]);
      if (args.orderDirection) add('orderDirection', 'orderDirection', [args.orderDirection]);
      if (args.eventCountLimit !== null && args.eventCountLimit !== undefined) add('eventCountLimit', 'eventCountLimit', [String(args.eventCountLimit)]);
      if (args.maxEventCount !== null && args.maxEventCount !== undefined) add('maxEventCount', 'maxEventCount', [String(args.maxEventCount)]);
      const parsed = parseEpcisQuery(params);
      if (!parsed.ok) {
        const e = parsed.error[0]!;
        const field = fieldOf.get(e.parameter) ?? e.parameter;
        throw inputError(e.index === undefined ? field : `${field}[${e.index}]`, e.message);
      }
      const query = parsed.value;
      if (f?.kinds?.length) query.filter.kinds = f.kinds;
      if (f?.actor) {
        const named = await resolveActorName(ctx.db, f.actor, 'filter.actor', actorIdOfGlobalId);
        if (named.kind === 'ValidationError') throw inputError(named.field, named.message);
        query.filter.actorId = named.kind === 'ok' ? named.actor.id : NOTHING;
      }
      if (f?.batch) {
        const g = normalizeGtin(f.batch.gtin);
        const batch = g.ok ? await findBatch(ctx.db, g.value, f.batch.lot) : undefined;
        query.filter.batchId = batch?.id ?? NOTHING;
      }
      const result = await queryEpcisEvents(ctx.db, ctx.scope, query, args.epcFormat ?? 'urn');
      if (result.kind === 'QueryTooLarge') throw new GraphQLError(result.message, { extensions: { code: 'QUERY_TOO_LARGE', field: 'maxEventCount' } });
      if (result.kind === 'QueryTooComplex') throw new GraphQLError(result.message, { extensions: { code: 'QUERY_TOO_COMPLEX', field: 'filter.eventIds' } });
      if (result.kind === 'QueryParameter') throw inputError('after', result.message);
      const doc = withCheckpoint(epcisDocument(result.events, ctx.now().toISOString()), result.checkpoint);
      if (result.nextPageToken !== null) doc['provenant:nextPageToken'] = result.nextPageToken;
      return doc;
    },
  }),
);

// ---- capture ----

const CaptureStatusEnum = builder.enumType('EpcisCaptureStatus', {
  values: {
    RECORDED: { description: 'Recorded as a new ledger event by this capture.' },
    ALREADY_CAPTURED: {
      description: 'An earlier capture recorded this event (same CBV 2.0 hash ID): your own, or one whose event you may read; nothing new was written. ' +
        'A capture by someone else that you may not read is not one: the event is then recorded (or refused) as a new one.',
    },
    DUPLICATE_IN_DOCUMENT: { description: 'The same event appears earlier in this document.' },
  } as const,
});

const ProblemCodeEnum = builder.enumType('EpcisCaptureProblemCode', {
  values: ['LIMIT', 'SCHEMA', 'INVALID', 'UNMAPPABLE', 'NOT_FOUND', 'PERMISSION_DENIED', 'INVALID_TRANSITION', 'CONFLICT'] as const,
});

const CapturedEpcisEventRef = builder.objectRef<CapturedEvent>('CapturedEpcisEvent').implement({
  description: 'What one event of a captured EPCIS document became.',
  fields: (t) => ({
    index: t.exposeInt('index', { description: 'Position in epcisBody.eventList.' }),
    eventID: t.exposeString('eventID', { description: 'Its CBV 2.0 event hash ID, as computed by the ledger.' }),
    kind: t.field({ type: EventKindEnum, resolve: (e) => e.kind as never }),
    status: t.field({ type: CaptureStatusEnum, resolve: (e) => e.status }),
    event: t.field({
      type: EventRef,
      nullable: true,
      description: 'The ledger event.',
      resolve: async (e, _a, ctx) => ((await ctx.loaders.event.load(e.ledgerEventId)) as EventRow | undefined) ?? null,
    }),
    warnings: t.exposeStringList('warnings', { description: 'Fields of the EPCIS event the ledger did not keep.' }),
  }),
});

const CaptureSuccess = builder.objectRef<EpcisCaptureSuccess>('CaptureEpcisDocumentSuccess').implement({
  fields: (t) => ({
    recorded: t.exposeInt('recorded', { description: 'Events recorded by this call.' }),
    skipped: t.exposeInt('skipped', { description: 'Events already captured (idempotent on the event hash ID).' }),
    replayed: t.exposeBoolean('replayed', { description: 'The idempotencyKey replayed the first response.' }),
    events: t.field({ type: [CapturedEpcisEventRef], resolve: (s) => s.events }),
  }),
});

const CaptureProblemRef = builder.objectRef<CaptureProblem>('EpcisCaptureProblem').implement({
  description: 'Why a captured document was refused: which event, which field, why.',
  fields: (t) => ({
    eventIndex: t.exposeInt('eventIndex', { nullable: true, description: 'Index in epcisBody.eventList; null for the document itself.' }),
    eventID: t.exposeString('eventID', { nullable: true }),
    field: t.exposeString('field'),
    reason: t.exposeString('reason'),
    code: t.field({ type: ProblemCodeEnum, resolve: (p) => p.code }),
    rule: t.exposeString('rule', { nullable: true }),
    items: t.field({ type: [ItemProblemRef], resolve: (p) => p.items as ItemProblem[] }),
  }),
});

builder.objectType(EpcisCaptureErrorRef, {
  interfaces: [ErrorInterface],
  description: 'The document was refused and nothing of it was recorded.',
  isTypeOf: (v) => (v as { __typename?: string }).__typename === 'EpcisCaptureError',
  fields: (t) => ({
    code: t.field({ type: ProblemCodeEnum, resolve: (e) => e.code }),
    problems: t.field({ type: [CaptureProblemRef], resolve: (e) => e.problems }),
  }),
});

builder.mutationField('captureEpcisDocument', (t) =>
  t.field({
    type: resultUnion('CaptureEpcisDocument', CaptureSuccess, CAPTURE_EPCIS_FAILURES),
    description:
      'Captures a GS1 EPCIS 2.0 EPCISDocument (JSON-LD): its events are recorded through the same use cases and rights as the lifecycle mutations, all-or-nothing, ' +
      'idempotent on each event\'s CBV 2.0 hash ID. See POST /epcis/capture for the mapping.',
    authScopes: { authenticated: true },
    args: {
      input: t.arg({
        type: builder.inputType('CaptureEpcisDocumentInput', {
          fields: (f) => ({
            document: f.field({ type: 'JSON', required: true, description: 'The EPCISDocument.' }),
            idempotencyKey: f.string({ description: 'Retrying with the same key returns the first result and writes nothing.' }),
          }),
        }),
        required: true,
      }),
    },
    resolve: async (_r, { input }, ctx) => {
      const result = await captureEpcisDocument(ledgerDeps(ctx), viewerOf(ctx), { document: input.document, idempotencyKey: input.idempotencyKey ?? null }, captureLimits(ctx.config));
      return result.kind === 'ok' ? success('CaptureEpcisDocumentSuccess', result) : failureToGraphQL(result);
    },
  }),
);
