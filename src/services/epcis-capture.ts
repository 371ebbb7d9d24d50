/**
 * EPCIS 2.0 capture: an EPCISDocument (JSON-LD) in, ledger events out — through the same use cases (`registerBatch`,
 * `recordEvent`, `packItems`, `unpackItems`) with the same rights, all-or-nothing per document, idempotent on each
 * event's CBV 2.0 hash ID.
 *
 * Phases:
 * 1. limits (bytes, event count), document type, EPCIS 2.0 structure (`core/epcis-validate.ts`: field-level problems, code SCHEMA);
 * 2. mapping of every event to a ledger write (pure; every problem of every event is reported, not only the first);
 * 3. one database transaction (`withRetries`): capture lock, already-captured check and party resolution (GLN → actor;
 *    both decided in `core/epcis-capture.ts` from the facts loaded here), then each event through its use case in that transaction (`recordEventIn(trx, …)`, `packItemsIn`, …), one
 *    `epcis_captures` row per recorded event. The first refused event aborts the transaction: nothing of the document
 *    is written. A document of ObjectEvents over existing items takes the bulk path instead (`epcis-bulk.ts`): the
 *    same decisions for all events at once, written with multi-row inserts.
 *
 * The mapping of each EPCIS event to a ledger write (pure) is `core/epcis-import.ts`, whose module comment lists every rule.
 *
 * Idempotency: each event is identified by the CBV 2.0 hash ID the ledger computes (with the document's `@context`),
 * whatever `eventID` the document states. An event the caller captured before, or whose earlier capture it may read,
 * is skipped (ALREADY_CAPTURED), one repeated inside the document too (DUPLICATE_IN_DOCUMENT). A capture by another
 * actor that the caller may not read does not exist for the caller: the event is recorded or refused exactly as a new
 * one, and once recorded the caller's own capture answers its retries (`core/epcis-capture.ts` alreadyCaptured). The
 * ledger's own export of any of its events (recorded through GraphQL or a capture) is that event: it names it by
 * `provenant:contentHash`, and the ledger event exported again (URN or Digital Link form) has the captured event's
 * hash ID. With the document's text
 * (`text`, the HTTP binding passes it) hash IDs are computed from the numbers as written. With an `idempotencyKey`,
 * a retry returns the first response.
 */
import { epcisEventHashId, jsonNumbersNeedExactParse, parseJsonForHash } from '../core/epcis-hash.ts';
import {
  type CaptureProblem, type EpcisCaptureLimits, EPCIS_CAPTURE_DEFAULTS, type Json, MAX_REPORTED_PROBLEMS,
  type Planned, type PlannedAggregation, type PlannedRecord, asObj, documentTypeRejection, planEvents, problem, rejection, sizeRejection,
  structureProblems,
} from '../core/epcis-import.ts';
import { eventPath, validateEpcisDocument } from '../core/epcis-validate.ts';
import {
  type ContainerContent, type PartyFacts, type PriorCapture, alreadyCaptured, decideCaptureParties, packProblem, partyNames, serviceProblem, unpackListMatches,
  unpackMismatchProblem,
} from '../core/epcis-capture.ts';
import type { LedgerKind } from '../core/lifecycle.ts';
import { readScope } from '../core/rights.ts';
import { DEFAULT_FIELD_LIMITS, checkJson, checkOptionalText } from '../core/text.ts';
import type { Trx } from '../db/connection.ts';
import { containerMembers, itemIdsInContainers } from '../db/containers.ts';
import { findActorsByGlns, findActorsByIds } from '../db/actors.ts';
import { findEventItemIds, visibleEventIds } from '../db/events.ts';
import { findItemsByIds } from '../db/ledger.ts';
import { lockCaptures } from '../db/pending.ts';
import type { ActorRow } from '../db/types.ts';
import { grantsOf } from '../db/visibility.ts';
import type { LedgerDeps } from './deps.ts';
import { type EpcisCapturesTable, ledgerExportsByContentHash } from './epcis-query.ts';
import { findCaptures, insertCaptures } from '../db/epcis-events.ts';
import { checkIdempotency, storeIdempotency } from './idempotency.ts';
import { AlreadyPackedError, packItemsIn } from './pack-items.ts';
import { type RecordEventInput, recordEventIn } from './record-event.ts';
import { registerBatchIn } from './register-batch.ts';
import { type Failure, type FailureOf, conflict, failureSpec, invalid } from './results.ts';
import { awaitIntegration, withRetries } from './transaction.ts';
import { unpackItemsIn } from './unpack-items.ts';
import { bulkEligible, recordEventsBulk } from './epcis-bulk.ts';

export {
  type CaptureProblem, type CaptureProblemCode, type EpcisCaptureLimits, type EpcisCaptureRejection, EPCIS_CAPTURE_DEFAULTS, outlineRejection, sizeRejection,
} from '../core/epcis-import.ts';

// ---------------------------------------------------------------------------------------------------------------
// Limits


/**
 * The capture limits: `override` first, then the optional config fields `epcisMaxDocumentBytes` / `epcisMaxEvents`
 * (when `Config` gets them), then {@link EPCIS_CAPTURE_DEFAULTS}.
 */
export function captureLimits(config: object | undefined, override?: Partial<EpcisCaptureLimits>): EpcisCaptureLimits {
  const c = (config ?? {}) as { epcisMaxDocumentBytes?: unknown; epcisMaxEvents?: unknown };
  const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? v : undefined);
  return {
    maxBytes: override?.maxBytes ?? num(c.epcisMaxDocumentBytes) ?? EPCIS_CAPTURE_DEFAULTS.maxBytes,
    maxEvents: override?.maxEvents ?? num(c.epcisMaxEvents) ?? EPCIS_CAPTURE_DEFAULTS.maxEvents,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Results

export type CaptureStatus = 'RECORDED' | 'ALREADY_CAPTURED' | 'DUPLICATE_IN_DOCUMENT';

export interface CapturedEvent {
  index: number;
  eventID: string;
  kind: LedgerKind;
  status: CaptureStatus;
  ledgerEventId: string;
  /** Fields of the EPCIS event the ledger did not keep. */
  warnings: string[];
}

export interface EpcisCaptureSuccess {
  kind: 'ok';
  events: CapturedEvent[];
  recorded: number;
  skipped: number;
  /** True when an idempotency key replayed a previous response. */
  replayed: boolean;
}

/**
 * What a capture may fail with: the refused document (every problem of every event), a bad idempotency key, a key
 * reused with another document. The GraphQL union and the REST problem responses are built from this list.
 */
export const CAPTURE_EPCIS_FAILURES = failureSpec(['EpcisCaptureError', 'ValidationError', 'ConflictError']);
export type EpcisCaptureFailure = FailureOf<typeof CAPTURE_EPCIS_FAILURES>;
export type EpcisCaptureResult = EpcisCaptureSuccess | EpcisCaptureFailure;

// ---------------------------------------------------------------------------------------------------------------
// Capture

/** An event id no event has. */
const NIL_EVENT_ID = '00000000-0000-0000-0000-000000000000';

class CaptureAbort extends Error {
  constructor(readonly result: EpcisCaptureFailure) {
    super('capture aborted');
  }
}

export interface CaptureInput {
  /** The parsed EPCISDocument. */
  document: unknown;
  idempotencyKey?: string | null;
  /** Size of the document as received; measured from its JSON text when absent. */
  byteLength?: number;
  /**
   * The document's JSON text as received, when the caller has it: event hash IDs are then computed from its number
   * tokens as written (`JSON.parse` keeps only ~16 digits of a number). Ignored if it does not parse to the same events.
   */
  text?: string;
  /**
   * Runs inside the capture's transaction once the document is captured (also when every event was already there or
   * an idempotency key replays), before the commit: what it writes commits with the events or not at all. Throwing
   * rolls the capture back and rejects with that error. (A capture job records its success this way.)
   */
  onCaptured?: (trx: Trx, result: EpcisCaptureSuccess) => Promise<void>;
  /**
   * `auto` (default): a document whose events to record are all lifecycle events over items named by EPC takes the
   * bulk path (`epcis-bulk.ts`), any other one event at a time. `one-by-one` forces the latter (the bench and the tests
   * compare the two: same results).
   */
  writePath?: 'auto' | 'one-by-one';
}

/**
 * Captures an EPCIS 2.0 EPCISDocument for `caller`, all-or-nothing (see the module comment for every rule).
 * Expected failures are returned: `EpcisCaptureError` with every problem found (index, field, reason), a
 * `ValidationError` for a bad idempotency key, a `ConflictError` for a key reused with another document.
 */
export async function captureEpcisDocument(
  deps: LedgerDeps,
  caller: ActorRow,
  input: CaptureInput,
  limits: EpcisCaptureLimits = EPCIS_CAPTURE_DEFAULTS,
): Promise<EpcisCaptureResult> {
  const key = input.idempotencyKey ?? null;
  const keyProblem = checkOptionalText(key, 'idempotencyKey', { min: 1, max: 200 });
  if (keyProblem) return invalid(keyProblem.field, keyProblem.message);
  const doc = asObj(input.document);
  if (!doc) return rejection([problem(null, null, 'document', 'the document must be a JSON object (an EPCISDocument)', 'SCHEMA')]);
  const byteLength = input.byteLength ?? Buffer.byteLength(JSON.stringify(doc), 'utf8');
  const tooBig = sizeRejection(byteLength, limits);
  if (tooBig) return tooBig;
  // Every string that may be hashed or stored must be valid Unicode without NUL (core/text.ts).
  const textProblem = checkJson(doc, 'document');
  if (textProblem) {
    const { eventIndex, field } = eventPath(textProblem.field.replace(/^document\.?/, ''));
    return rejection([problem(eventIndex, null, eventIndex === null ? textProblem.field : field, textProblem.message, 'INVALID')]);
  }
  const wrongType = documentTypeRejection(doc);
  if (wrongType) return wrongType;
  const body = asObj(doc['epcisBody']);
  const list = body?.['eventList'];
  if (Array.isArray(list) && list.length > limits.maxEvents) {
    return rejection([problem(null, null, 'epcisBody.eventList', `the document has ${list.length} events; the capture limit is ${limits.maxEvents} events per document`, 'LIMIT')]);
  }

  // Hash IDs first: problems name the event by index and ID.
  const context = doc['@context'];
  const events: Json[] = Array.isArray(list) ? list.map((e) => asObj(e) ?? {}) : [];
  const exactEvents = input.text === undefined || !jsonNumbersNeedExactParse(input.text) ? null : eventsWithExactNumbers(input.text, events.length);
  const hashes = events.map((e, i) => {
    try {
      return epcisEventHashId(asObj(exactEvents?.[i]) ?? e, context);
    } catch {
      return null;
    }
  });
  const structural = validateEpcisDocument(doc, MAX_REPORTED_PROBLEMS);
  if (structural.length > 0) return rejection(structureProblems(structural, (i) => hashes[i] ?? null));

  const { planned, problems } = planEvents(events, hashes, deps.fieldLimits ?? DEFAULT_FIELD_LIMITS);
  if (problems.length > 0) return rejection(problems);

  try {
    const { result, pending } = await withRetries(deps.db, async (trx) => {
      const captured = await captureInTransaction(trx, deps, caller, planned, doc, key, input.writePath ?? 'auto');
      await input.onCaptured?.(trx, captured);
      return captured;
    });
    await awaitIntegration(deps, pending);
    return result;
  } catch (e) {
    if (e instanceof CaptureAbort) return e.result;
    throw e;
  }
}

async function captureInTransaction(
  trx: Trx,
  deps: LedgerDeps,
  caller: ActorRow,
  planned: readonly Planned[],
  document: Json,
  key: string | null,
  writePath: 'auto' | 'one-by-one',
): Promise<EpcisCaptureSuccess> {
  // Captures run one at a time (the already-captured check below must see every earlier capture); ledger writes of
  // other kinds do not wait for them, and integration into the log never does.
  await lockCaptures(trx);
  const now = deps.now();
  let requestHash: Uint8Array | null = null;
  if (key) {
    const check = await checkIdempotency<{ events: CapturedEvent[] }>(trx, caller.id, key, 'captureEpcisDocument', { document });
    if (check.kind === 'conflict') throw new CaptureAbort(conflict(`idempotencyKey "${key}" was already used with a different request`));
    if (check.kind === 'replay') return summarize(check.response.events, true);
    requestHash = check.requestHash;
  }

  // Already captured: which earlier capture (or the ledger's own export) answers each hash ID is decided in core
  // (`alreadyCaptured`): one the caller may not read does not exist for it.
  const eventIDs = [...new Set(planned.map((p) => p.eventID))];
  const captures = await findCaptures(trx, eventIDs);
  const exports = await ownExports(trx, planned, document);
  // The same statements whether or not anyone captured these events before (the nil id keeps the visibility query
  // when there is nothing to check): a capture the caller may not read takes the path of no capture at all.
  const candidates = [NIL_EVENT_ID, ...new Set([...captures.map((c) => c.event_id), ...exports.values()])];
  const visible = await visibleEventIds(trx, readScope(caller.id, caller.is_operator, await grantsOf(trx, caller.id), now), candidates);
  const priors: PriorCapture[] = [
    ...captures.map((c) => ({ eventID: c.epcis_event_id, ledgerEventId: c.event_id, capturedBy: c.actor_id, visible: visible.has(c.event_id) })),
    ...[...exports].map(([eventID, ledgerEventId]) => ({ eventID, ledgerEventId, capturedBy: null, visible: visible.has(ledgerEventId) })),
  ];
  const existing = alreadyCaptured(caller.id, eventIDs, priors);

  // Parties: the actors the events to record name (nothing is checked for captured ones), judged in core.
  const toRecord = planned.filter((p): p is PlannedRecord => p.op === 'record' && !existing.has(p.eventID));
  const names = partyNames(toRecord);
  const actors: PartyFacts[] = [
    ...(await findActorsByGlns(trx, names.glns)),
    ...(await findActorsByIds(trx, names.actorIds)),
  ].map((a) => ({ id: a.id, gln: a.gln, isOperator: a.is_operator }));
  const { problems, counterpartyOf, warnings: extraWarnings } = decideCaptureParties(toRecord, caller.id, actors);
  if (problems.length > 0) throw new CaptureAbort(rejection(problems));

  // What to write: each hash ID once (a repeat inside the document is DUPLICATE_IN_DOCUMENT), none already captured.
  const toWrite: Planned[] = [];
  const firstOf = new Set<string>();
  for (const p of planned) {
    if (firstOf.has(p.eventID) || existing.has(p.eventID)) continue;
    firstOf.add(p.eventID);
    toWrite.push(p);
  }
  const written = new Map<string, string>();
  if (writePath === 'auto' && bulkEligible(toWrite)) {
    // Lifecycle events over named items: decided together, written with multi-row inserts (epcis-bulk.ts).
    const r = await recordEventsBulk(trx, deps, caller, toWrite.map((p) => ({ planned: p, counterpartyId: counterpartyOf.get(p.index) ?? null })));
    if (r.kind === 'refused') throw new CaptureAbort(rejection([serviceProblem(r.planned, r.failure)]));
    toWrite.forEach((p, i) => written.set(p.eventID, r.eventIds[i]!));
  } else {
    // One event at a time, each through its use case inside this transaction.
    for (const p of toWrite) written.set(p.eventID, await writeOne(trx, deps, caller, p, counterpartyOf.get(p.index) ?? null));
  }

  const captured: CapturedEvent[] = [];
  const reported = new Set<string>();
  const rows: EpcisCapturesTable[] = [];
  for (const p of planned) {
    const entry = { index: p.index, eventID: p.eventID, kind: p.kind, warnings: [...p.warnings, ...(extraWarnings.get(p.index) ?? [])] };
    const ledgerEventId = written.get(p.eventID) ?? existing.get(p.eventID)!;
    if (reported.has(p.eventID)) {
      captured.push({ ...entry, status: 'DUPLICATE_IN_DOCUMENT', ledgerEventId });
      continue;
    }
    reported.add(p.eventID);
    if (!written.has(p.eventID)) {
      captured.push({ ...entry, status: 'ALREADY_CAPTURED', ledgerEventId });
      continue;
    }
    rows.push({ epcis_event_id: p.eventID, event_id: ledgerEventId, actor_id: caller.id, source_event_id: p.sourceEventId?.slice(0, 2000) ?? null, captured_at: now });
    captured.push({ ...entry, status: 'RECORDED', ledgerEventId });
  }
  // A hash ID another actor captured (an event the caller cannot read) gets the caller's own row beside it.
  await insertCaptures(trx, rows);
  if (key && requestHash) await storeIdempotency(trx, caller.id, key, 'captureEpcisDocument', requestHash, { events: captured });
  return summarize(captured, false);
}

/** Writes one planned event through its use case in `trx`; a refusal aborts the capture. Returns the ledger event id. */
async function writeOne(trx: Trx, deps: LedgerDeps, caller: ActorRow, p: Planned, counterpartyId: string | null): Promise<string> {
  if (p.op === 'commission') {
    const r = await registerBatchIn(trx, deps, caller, { gtin: p.gtin, lot: p.lot, producedAt: p.producedAt, site: p.site, serials: p.serials });
    if (r.kind !== 'ok') throw new CaptureAbort(rejection([serviceProblem(p, r)]));
    return r.event.id;
  }
  if (p.op === 'pack') {
    const r = await packItemsIn(trx, deps, caller, {
      container: p.container, items: p.refs, containers: p.children.map((c) => c.sscc), occurredAt: p.occurredAt, location: p.location,
    }).catch((e: unknown) => {
      // Refused after its event was written: the abort below rolls the whole capture back.
      if (e instanceof AlreadyPackedError) return e.failure;
      throw e;
    });
    if (r.kind !== 'ok') throw new CaptureAbort(rejection([await packRefusal(trx, p, r)]));
    return r.event.id;
  }
  if (p.op === 'unpack') {
    const before = p.childrenListed ? await containerContent(trx, p.container) : null;
    const r = await unpackItemsIn(trx, deps, caller, { container: p.container, occurredAt: p.occurredAt, location: p.location });
    if (r.kind !== 'ok') throw new CaptureAbort(rejection([serviceProblem(p, r)]));
    // Checked once the ledger accepted the unpacking (the caller holds the items): the report may name them.
    if (before && !unpackListMatches(p, before)) {
      // What the report may name: the items the caller's UNPACK covered.
      throw new CaptureAbort(rejection([unpackMismatchProblem(p, before, new Set(await findEventItemIds(trx, r.event.id)))]));
    }
    return r.event.id;
  }
  const r = await recordEventIn(trx, deps, caller, {
    kind: p.kind as RecordEventInput['kind'],
    items: { refs: p.refs, containers: p.containers },
    occurredAt: p.occurredAt,
    location: p.location,
    counterpartyId,
    data: p.data,
  });
  if (r.kind !== 'ok') throw new CaptureAbort(rejection([serviceProblem(p, r)]));
  return r.event.id;
}

/** A refused PACK: an already packed item is reported as the document names it (`core/epcis-capture.ts` packProblem). */
async function packRefusal(trx: Trx, p: PlannedAggregation, f: Failure): Promise<CaptureProblem> {
  const packed = f.kind === 'ValidationError' && f.subject?.type === 'packedItem' ? f.subject : null;
  const [row] = packed ? await findItemsByIds(trx, [packed.itemId]) : [];
  return packProblem(p, f, row ?? null);
}

/** What container `sscc` holds now, directly and at any depth (the facts `unpackListMatches` judges). */
async function containerContent(trx: Trx, sscc: string): Promise<ContainerContent> {
  const members = await containerMembers(trx, sscc);
  const directIds = new Set(members.flatMap((m) => (m.item_id ? [m.item_id] : [])));
  const containers = new Set(members.flatMap((m) => (m.child_sscc ? [m.child_sscc] : [])));
  const ids = await itemIdsInContainers(trx, [sscc]);
  const direct = new Map<string, { id: string; sgtin: string }>();
  const all = new Map<string, { id: string; sgtin: string }>();
  for (const r of await findItemsByIds(trx, ids)) {
    const key = `${r.gtin}/${r.serial}`;
    all.set(key, { id: r.id, sgtin: r.sgtin });
    if (directIds.has(r.id)) direct.set(key, { id: r.id, sgtin: r.sgtin });
  }
  return { direct, all, containers };
}

function summarize(events: CapturedEvent[], replayed: boolean): EpcisCaptureSuccess {
  const recorded = events.filter((e) => e.status === 'RECORDED').length;
  return { kind: 'ok', events, recorded, skipped: events.length - recorded, replayed };
}

/** The events of the document text parsed with exact numbers, or null when it does not give `count` events. */
function eventsWithExactNumbers(text: string, count: number): unknown[] | null {
  try {
    const list = asObj(asObj(parseJsonForHash(text))?.['epcisBody'])?.['eventList'];
    return Array.isArray(list) && list.length === count ? list : null;
  } catch {
    return null;
  }
}

/**
 * Events of `planned` that are this ledger's own export of one of its events: the event names it by
 * `provenant:contentHash`, and that ledger event, exported again (URN or Digital Link form), has this event's hash ID.
 * Event hash ID → ledger event id.
 */
async function ownExports(trx: Trx, planned: readonly Planned[], document: Json): Promise<Map<string, string>> {
  const list = asObj(document['epcisBody'])?.['eventList'];
  const claims = planned.flatMap((p) => {
    const claimed = Array.isArray(list) ? asObj(list[p.index])?.['provenant:contentHash'] : undefined;
    return typeof claimed === 'string' && /^[0-9a-f]{64}$/.test(claimed) ? [{ p, contentHash: claimed }] : [];
  });
  const found = new Map<string, string>();
  if (claims.length === 0) return found;
  const exports = await ledgerExportsByContentHash(trx, claims.map((c) => c.contentHash));
  for (const { p, contentHash } of claims) {
    const ledger = exports.get(contentHash);
    if (ledger && ledger.forms.some((form) => epcisEventHashId(form, document['@context']) === p.eventID)) found.set(p.eventID, ledger.eventId);
  }
  return found;
}
