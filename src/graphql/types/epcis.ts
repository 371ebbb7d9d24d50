import { epcisDocument } from '../../core/epcis-export.ts';
import { normalizeGtin } from '../../core/identifiers.ts';
import { parseOccurrenceTime } from '../../core/time.ts';
import { findBatch } from '../../db/ledger.ts';
import type { EventRow } from '../../db/types.ts';
import {
  type CaptureProblem, type CapturedEvent, type EpcisCaptureRejection, type EpcisCaptureSuccess, captureEpcisDocument, captureLimits,
} from '../../services/epcis-capture.ts';
import {
  EPCIS_DEFAULT_PAGE_SIZE, EPCIS_MAX_PAGE_SIZE, type EpcPattern, type EpcisEventFilter, decodePageToken, epcisPageSize, findEpcisEvents,
  parseEpcPattern,
} from '../../services/epcis-query.ts';
import type { ItemProblem } from '../../services/results.ts';
import { builder } from '../builder.ts';
import { viewerOf } from '../context.ts';
import { inputError } from '../pagination.ts';
import { ConflictErrorRef, ErrorInterface, EventRef, ItemProblemRef, ValidationErrorRef } from '../refs.ts';
import { failureToGraphQL, success } from './errors.ts';
import { BatchSelectorInput, EventKindEnum, actorIdOfGlobalId } from './event.ts';
import { ACTOR_NAME_FORMS, resolveActorName } from '../../services/resolve-actor.ts';
import { ledgerDeps } from './ledger-deps.ts';

const NOTHING = '00000000-0000-0000-0000-000000000000';

// ---- export ----

const EpcFormatEnum = builder.enumType('EpcFormat', {
  description: 'How exported EPCs are written.',
  values: {
    URN: { value: 'urn', description: 'SGTIN pure-identity URNs (urn:epc:id:sgtin:…), as the ledger stores them.' },
    DIGITAL_LINK: { value: 'digitalLink', description: 'GS1 Digital Links (https://id.gs1.org/01/{gtin}/21/{serial}).' },
  } as const,
});

const EpcisActionEnum = builder.enumType('EpcisAction', { values: ['ADD', 'OBSERVE', 'DELETE'] as const });

const EpcisEventFilterInput = builder.inputType('EpcisEventFilter', {
  description: 'The EventFilter fields plus the EPCIS 2.0 SimpleEventQuery parameters of GET /epcis/events. Every field given must match.',
  fields: (t) => ({
    kinds: t.field({ type: [EventKindEnum] }),
    actor: t.string({ description: `Only events recorded by this actor: ${ACTOR_NAME_FORMS}.` }),
    since: t.field({ type: 'DateTime', description: 'occurredAt ≥ since (GE_eventTime).' }),
    until: t.field({ type: 'DateTime', description: 'occurredAt < until (LT_eventTime).' }),
    batch: t.field({ type: BatchSelectorInput, description: 'Only events touching items of this batch.' }),
    matchEpc: t.stringList({ description: 'MATCH_epc: SGTIN URNs, Digital Links, urn:epc:idpat:sgtin patterns; matches epcList (not the inputs of a TransformationEvent).' }),
    matchAnyEpc: t.stringList({ description: 'MATCH_anyEPC: as matchEpc, also matching inputEPCList.' }),
    bizSteps: t.stringList({ description: 'EQ_bizStep: CBV business steps (short name, URN or Web URI).' }),
    actions: t.field({ type: [EpcisActionEnum], description: 'EQ_action.' }),
  }),
});

type FilterArg = {
  kinds?: readonly string[] | null;
  actor?: string | null;
  since?: string | null;
  until?: string | null;
  batch?: { gtin: string; lot: string } | null;
  matchEpc?: readonly string[] | null;
  matchAnyEpc?: readonly string[] | null;
  bizSteps?: readonly string[] | null;
  actions?: readonly ('ADD' | 'OBSERVE' | 'DELETE')[] | null;
} | null | undefined;

function epcPatterns(name: string, values: readonly string[] | null | undefined): EpcPattern[] | null {
  if (!values) return null;
  return values.map((v, i) => {
    const p = parseEpcPattern(v);
    if (!p.ok) throw inputError(`filter.${name}[${i}]`, p.error);
    return p.value;
  });
}

builder.queryField('epcisDocument', (t) =>
  t.field({
    type: 'JSON',
    description:
      `The events you may read (the same visibility as \`events\`), oldest first, as a GS1 EPCIS 2.0 EPCISDocument (JSON-LD). Each event carries eventID = its CBV 2.0 event hash ID. ` +
      `Page with first (default ${EPCIS_DEFAULT_PAGE_SIZE}, at most ${EPCIS_MAX_PAGE_SIZE} served) and after = the document's "provenant:nextPageToken" (absent on the last page).`,
    authScopes: { authenticated: true },
    args: {
      filter: t.arg({ type: EpcisEventFilterInput }),
      first: t.arg.int(),
      after: t.arg.string(),
      epcFormat: t.arg({ type: EpcFormatEnum, defaultValue: 'urn' }),
    },
    resolve: async (_r, args, ctx) => {
      const size = epcisPageSize(args.first ?? null);
      if (!size.ok) throw inputError('first', size.error);
      let after: number | null = null;
      if (args.after) {
        after = decodePageToken(args.after);
        if (after === null) throw inputError('after', 'after is not a provenant:nextPageToken of epcisDocument');
      }
      const f = args.filter as FilterArg;
      const filter: EpcisEventFilter = {
        matchEpc: epcPatterns('matchEpc', f?.matchEpc),
        matchAnyEpc: epcPatterns('matchAnyEpc', f?.matchAnyEpc),
        bizSteps: f?.bizSteps ?? null,
        actions: f?.actions ?? null,
        kinds: f?.kinds?.length ? f.kinds : null,
      };
      if (f?.actor) {
        const named = await resolveActorName(ctx.db, f.actor, 'filter.actor', actorIdOfGlobalId);
        if (named.kind === 'ValidationError') throw inputError(named.field, named.message);
        filter.actorId = named.kind === 'ok' ? named.actor.id : NOTHING;
      }
      for (const [name, value, key] of [['since', f?.since, 'geEventTime'], ['until', f?.until, 'ltEventTime']] as const) {
        if (!value) continue;
        const parsed = parseOccurrenceTime(value);
        if (!parsed.ok) throw inputError(`filter.${name}`, parsed.error);
        filter[key] = parsed.value.instant;
      }
      if (f?.batch) {
        const g = normalizeGtin(f.batch.gtin);
        const batch = g.ok ? await findBatch(ctx.db, g.value, f.batch.lot) : undefined;
        filter.batchId = batch?.id ?? NOTHING;
      }
      const page = await findEpcisEvents(ctx.db, ctx.scope, filter, { limit: size.value, afterLeafIndex: after }, args.epcFormat ?? 'urn');
      const doc = epcisDocument(page.events, ctx.now().toISOString());
      if (page.nextPageToken !== null) doc['provenant:nextPageToken'] = page.nextPageToken;
      return doc;
    },
  }),
);

// ---- capture ----

const CaptureStatusEnum = builder.enumType('EpcisCaptureStatus', {
  values: {
    RECORDED: { description: 'Recorded as a new ledger event by this capture.' },
    ALREADY_CAPTURED: { description: 'An earlier capture recorded this event (same CBV 2.0 hash ID); nothing new was written.' },
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

const EpcisCaptureErrorRef = builder.objectRef<EpcisCaptureRejection & { __typename: string }>('EpcisCaptureError');
builder.objectType(EpcisCaptureErrorRef, {
  interfaces: [ErrorInterface],
  description: 'The document was refused and nothing of it was recorded.',
  isTypeOf: (v) => (v as { __typename?: string }).__typename === 'EpcisCaptureError',
  fields: (t) => ({
    code: t.field({ type: ProblemCodeEnum, resolve: (e) => e.code }),
    problems: t.field({ type: [CaptureProblemRef], resolve: (e) => e.problems }),
  }),
});

const CaptureResult = builder.unionType('CaptureEpcisDocumentResult', {
  types: [CaptureSuccess, EpcisCaptureErrorRef, ValidationErrorRef, ConflictErrorRef],
  resolveType: (value) => (value as { __typename: string }).__typename,
});

builder.mutationField('captureEpcisDocument', (t) =>
  t.field({
    type: CaptureResult,
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
      switch (result.kind) {
        case 'ok':
          return success('CaptureEpcisDocumentSuccess', result);
        case 'EpcisCaptureError':
          return { ...result, __typename: 'EpcisCaptureError' };
        default:
          return failureToGraphQL(result);
      }
    },
  }),
);
