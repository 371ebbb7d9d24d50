/**
 * EPCIS 2.0 capture: an EPCISDocument (JSON-LD) in, ledger events out — through the same use cases (`registerBatch`,
 * `recordEvent`, `packItems`, `unpackItems`) with the same rights, all-or-nothing per document, idempotent on each
 * event's CBV 2.0 hash ID.
 *
 * Phases:
 * 1. limits (bytes, event count), document type, EPCIS 2.0 structure (`core/epcis-validate.ts`: field-level problems, code SCHEMA);
 * 2. mapping of every event to a ledger write (pure; every problem of every event is reported, not only the first);
 * 3. one database transaction: capture lock, already-captured check, party resolution (GLN → actor), then each event
 *    through its use case with `deps.trx` (no own transaction), one `epcis_captures` row per recorded event. The first
 *    refused event aborts the transaction: nothing of the document is written.
 *
 * Mapping (bizStep in CBV short name, URN or Web URI form; `provenant:*` are the fields the export writes):
 * | EPCIS event | ledger |
 * | --- | --- |
 * | ObjectEvent ADD commissioning | COMMISSION through `registerBatch`: the EPCs (SGTINs of ONE GTIN the caller owns) are the serials of a NEW batch; lot = ILMD `cbvmda:lotNumber`, else `provenant:data.lot`, else `EPCIS-` + 14 hex digits of the event hash; production site = location (required) |
 * | ObjectEvent OBSERVE shipping | SHIP to the destination party |
 * | ObjectEvent OBSERVE receiving (disposition returned) | RETURN to the destination party |
 * | ObjectEvent OBSERVE receiving (other dispositions) | RECEIVE (a destination party, when it resolves, must be the caller) |
 * | ObjectEvent OBSERVE retail_selling | SELL (optional buyer = destination owning/possessing party; price from `provenant:data` or `provenant:price` + `provenant:priceCurrency`) |
 * | ObjectEvent OBSERVE installing / repairing / sensor_reporting | ACTIVATE / SERVICE / USE_REPORT (`note`, `readings`; a USE_REPORT without `readings` keeps `sensorElementList` as readings) |
 * | ObjectEvent OBSERVE or DELETE destroying | DESTROY |
 * | ObjectEvent OBSERVE disassembling | RECYCLE without recovered materials |
 * | TransformationEvent disassembling | RECYCLE: items = `inputEPCList`, materials = `provenant:data.materials`, else `outputQuantityList` (uom KGM; name = the `urn:provenant:material:` slug or the class URI) |
 * | AggregationEvent ADD packing | PACK through `packItems`: container = `parentID`; `childEPCs`: SGTINs / item Digital Links are items, SSCCs child containers (cases into a pallet); an item inside a listed child container is covered by it and not packed twice (this ledger's export lists those items too) |
 * | AggregationEvent DELETE unpacking | UNPACK through `unpackItems`: the whole container (`parentID`) is emptied. `childEPCs` may be omitted; when given they must be its content at that moment — its direct children (items and containers packed directly in it, as EPCIS means), or every item in it at any depth with or without its direct child containers (as this ledger exports an UNPACK) — else the document is refused (`childEPCs`, naming what differs), not warned: the ledger cannot unpack part of a container |
 * | AggregationEvent OBSERVE | refused: it reports children seen in their parent, not a change of packing |
 * | holding + recalled | refused: recalls are batch-level, use `recallBatch` |
 * | anything else | refused (AssociationEvent, TransactionEvent, other business steps or aggregation steps, class-level `quantityList` / `childQuantityList`, `errorDeclaration`, `persistentDisposition`, EPCs other than SGTINs and SSCCs) |
 *
 * EPCs: SGTIN URNs and item Digital Links name items; an SSCC (URN or `https://id.gs1.org/00/{sscc}`, any Digital Link
 * host) outside a commissioning names a container packed with `packItems`: the event covers every item inside it, nested
 * ones included. An AggregationEvent's `parentID` must be such an SSCC. Its `provenant:data` `container` / `containers`
 * (what the export writes) are derived by the ledger and must agree with `parentID` / the SSCCs of `childEPCs`;
 * source/destination lists and sensor data of AggregationEvents are not kept (warnings).
 *
 * Parties (`destinationList` / `sourceList` entries of type possessing_party, else owning_party — custody is possession):
 * `https://id.gs1.org/417/{gln}`, `urn:epc:id:pgln:…` or an SGLN with extension 0 name the actor holding that GLN;
 * `urn:provenant:actor:{id}` (or, without a destination, `provenant:counterparty`) names an actor of this ledger by id.
 * The destination of SHIP/RETURN/SELL is the counterparty; the source of SHIP/RETURN and the destination of RECEIVE
 * must be the capturing actor when they resolve (a warning says so when they do not).
 * Location: readPoint (else bizLocation) id; `https://id.gs1.org/414/{gln}` is stored as the bare GLN (what the export
 * turns back into that URI), other ids as written, `provenant:location` as text.
 * Time: `eventTime` in `eventTimeZoneOffset` (or `provenant:timezoneOffset`, which the export writes when the original
 * offset is outside EPCIS's range). `recordTime` is not taken: the ledger records its own.
 * `provenant:data` keys are un-prefixed and must be fields of the kind (`authorizedBy` is dropped: the ledger derives
 * it from the caller's own grants). Fields the ledger does not keep (bizTransactionList, certificationInfo, other extensions,
 * …) are accepted and listed as warnings of the event.
 *
 * Idempotency: each event is identified by the CBV 2.0 hash ID the ledger computes (with the document's `@context`),
 * whatever `eventID` the document states. An event already captured (and visible to the caller) is skipped
 * (ALREADY_CAPTURED), one repeated inside the document too (DUPLICATE_IN_DOCUMENT). The ledger's own export of any of
 * its events (recorded through GraphQL or a capture) is that event: it names it by `provenant:contentHash`, and the
 * ledger event exported again (URN or Digital Link form) has the captured event's hash ID. With the document's text
 * (`text`, the HTTP binding passes it) hash IDs are computed from the numbers as written. With an `idempotencyKey`,
 * a retry returns the first response.
 */
import type { JsonValue } from '../core/chain.ts';
import { epcisEventHashId, jsonNumbersNeedExactParse, parseJsonForHash } from '../core/epcis-hash.ts';
import { type EpcisFieldError, eventPath, validateEpcisDocument } from '../core/epcis-validate.ts';
import { gs1CheckDigit, normalizeSscc, parseDigitalLink, parseSgtinUrn, parseSsccUrn, validateSerial } from '../core/identifiers.ts';
import { AGGREGATION, type EventKind, LIFECYCLE, type LedgerKind } from '../core/lifecycle.ts';
import { validateGln } from '../core/party.ts';
import { readScope } from '../core/rights.ts';
import { type Result, ok } from '../core/result.ts';
import { formatWithOffset, parseOccurrenceTime } from '../core/time.ts';
import { checkJson, checkOptionalText } from '../core/text.ts';
import type { Trx } from '../db/connection.ts';
import { itemIdsInContainers } from '../db/containers.ts';
import { lockCaptures } from '../db/pending.ts';
import type { ActorRow } from '../db/types.ts';
import { eventVisibleSql, grantsOf } from '../db/visibility.ts';
import type { LedgerDeps } from './deps.ts';
import { type EpcisCapturesTable, bizStepName, dispositionName, epcisDb, ledgerExportsByContentHash, sourceDestTypeName } from './epcis-query.ts';
import { checkIdempotency, storeIdempotency } from './idempotency.ts';
import { packItems } from './pack-items.ts';
import { type RecordEventInput, recordEvent } from './record-event.ts';
import { registerBatch } from './register-batch.ts';
import { type ConflictFailure, type Failure, type ItemProblem, type ValidationFailure, conflict, invalid } from './results.ts';
import { awaitIntegration, withRetries } from './transaction.ts';
import { unpackItems } from './unpack-items.ts';
import { isUuid } from '../db/ids.ts';

// ---------------------------------------------------------------------------------------------------------------
// Limits

export interface EpcisCaptureLimits {
  /** Largest document, in bytes of its JSON text. */
  maxBytes: number;
  /** Most events in one document. */
  maxEvents: number;
}

export const EPCIS_CAPTURE_DEFAULTS: Readonly<EpcisCaptureLimits> = Object.freeze({ maxBytes: 10 * 1024 * 1024, maxEvents: 10_000 });

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

export type CaptureProblemCode =
  | 'LIMIT' | 'SCHEMA' | 'INVALID' | 'UNMAPPABLE' | 'NOT_FOUND' | 'PERMISSION_DENIED' | 'INVALID_TRANSITION' | 'CONFLICT';

export interface CaptureProblem {
  /** Index in `epcisBody.eventList`; null for the document as a whole. */
  eventIndex: number | null;
  /** The event's CBV 2.0 hash ID when it was computed. */
  eventID: string | null;
  /** Path inside the event (or the document): `epcList[2]`, `destinationList`, `ilmd.cbvmda:lotNumber`, … */
  field: string;
  reason: string;
  code: CaptureProblemCode;
  /** PERMISSION_DENIED: the rule (NOT_CUSTODIAN, …). */
  rule: string | null;
  /** Item-level detail of refused writes. */
  items: ItemProblem[];
}

export interface EpcisCaptureRejection {
  kind: 'EpcisCaptureError';
  /** The code that decides the HTTP status (LIMIT → 413, PERMISSION_DENIED → 403, CONFLICT → 409, others 400). */
  code: CaptureProblemCode;
  message: string;
  problems: CaptureProblem[];
}

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

export type EpcisCaptureResult = EpcisCaptureSuccess | EpcisCaptureRejection | ValidationFailure | ConflictFailure;

const MAX_REPORTED_PROBLEMS = 100;

function problem(eventIndex: number | null, eventID: string | null, field: string, reason: string, code: CaptureProblemCode, extra: { rule?: string; items?: ItemProblem[] } = {}): CaptureProblem {
  return { eventIndex, eventID, field, reason, code, rule: extra.rule ?? null, items: extra.items ?? [] };
}

function rejection(problems: CaptureProblem[]): EpcisCaptureRejection {
  const shown = problems.slice(0, MAX_REPORTED_PROBLEMS);
  const first = shown[0]!;
  const code: CaptureProblemCode = shown.some((p) => p.code === 'LIMIT') ? 'LIMIT' : first.code;
  const where = first.eventIndex === null ? first.field : `event ${first.eventIndex} ${first.field}`;
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''})` : '';
  return {
    kind: 'EpcisCaptureError',
    code,
    message: `EPCIS document rejected, nothing was recorded: ${where}: ${first.reason}${more}`,
    problems: shown,
  };
}

/** Refuses a document of `byteLength` bytes above the limit (checked by the HTTP layer before parsing too). */
export function sizeRejection(byteLength: number, limits: EpcisCaptureLimits): EpcisCaptureRejection | null {
  if (byteLength <= limits.maxBytes) return null;
  return rejection([problem(null, null, 'document', `the document is ${byteLength} bytes; the capture limit is ${limits.maxBytes} bytes`, 'LIMIT')]);
}

/**
 * The refusals decided from the document's outline alone, before any event is looked at: not a JSON object, above
 * the size limit, not an EPCISDocument, more events than the limit. A capture job is refused with these at submission
 * (nothing is queued); `captureEpcisDocument` makes the same checks.
 */
export function outlineRejection(document: unknown, byteLength: number, limits: EpcisCaptureLimits): EpcisCaptureRejection | null {
  const doc = asObj(document);
  if (!doc) return rejection([problem(null, null, 'document', 'the document must be a JSON object (an EPCISDocument)', 'SCHEMA')]);
  const tooBig = sizeRejection(byteLength, limits);
  if (tooBig) return tooBig;
  const wrongType = documentTypeRejection(doc);
  if (wrongType) return wrongType;
  const list = asObj(doc['epcisBody'])?.['eventList'];
  if (Array.isArray(list) && list.length > limits.maxEvents) {
    return rejection([problem(null, null, 'epcisBody.eventList', `the document has ${list.length} events; the capture limit is ${limits.maxEvents} events per document`, 'LIMIT')]);
  }
  return null;
}

// ---------------------------------------------------------------------------------------------------------------
// EPCIS 2.0 structure (core/epcis-validate.ts: the project's own rules, no schema files at run time)

function structureProblems(errors: readonly EpcisFieldError[], hashOf: (i: number) => string | null): CaptureProblem[] {
  const out = errors.map((e) => {
    const { eventIndex, field } = eventPath(e.path);
    return problem(eventIndex, eventIndex === null ? null : hashOf(eventIndex), field || (eventIndex === null ? '(document)' : '(event)'), e.message, 'SCHEMA');
  });
  // Document-level problems first, then by event (stable: document order within an event).
  return out.sort((a, b) => (a.eventIndex ?? -1) - (b.eventIndex ?? -1));
}

// ---------------------------------------------------------------------------------------------------------------
// Mapping (pure)

type Json = Record<string, unknown>;
type ItemRef = NonNullable<RecordEventInput['items']['refs']>[number];

type PartyRef = { written: string; gln: string } | { written: string; actorId: string };

interface PlannedBase {
  index: number;
  eventID: string;
  sourceEventId: string | null;
  kind: LedgerKind;
  warnings: string[];
  /** Where the event's EPCs are: `epcList`, `inputEPCList`, `childEPCs` (PACK) or `parentID` (UNPACK). */
  epcField: string;
}
interface PlannedCommission extends PlannedBase {
  op: 'commission';
  gtin: string;
  lot: string;
  lotField: string;
  serials: string[];
  producedAt: string;
  site: string;
}
interface PlannedRecord extends PlannedBase {
  op: 'record';
  refs: ItemRef[];
  /** SSCCs named as EPCs: the event covers every item packed inside. */
  containers: string[];
  occurredAt: string;
  location: string | null;
  data: { [key: string]: JsonValue };
  /** The counterparty: SHIP/RETURN the (required) receiver, SELL the (optional) buyer. */
  party: PartyRef | null;
  partyField: string;
  /** Parties the document names that must be the capturing actor (when they resolve in this ledger). */
  selfChecks: SelfCheck[];
}
interface SelfCheck {
  party: PartyRef;
  field: string;
  /** Why it must be the caller, e.g. "a RECEIVE is recorded by its receiver". */
  role: string;
}
/** An AggregationEvent: PACK through `packItems`, UNPACK through `unpackItems`. */
interface AggregationFields extends PlannedBase {
  /** The parent's SSCC (18 digits). */
  container: string;
  /** The SGTINs / item Digital Links of `childEPCs`. */
  refs: ItemRef[];
  items: ListedItem[];
  /** The SSCCs of `childEPCs`: child containers. */
  children: ListedContainer[];
  /** Whether `childEPCs` was given (an UNPACK may omit it: the ledger unpacks the whole container). */
  childrenListed: boolean;
  occurredAt: string;
  location: string | null;
}
interface ListedItem {
  ref: ItemRef;
  gtin: string;
  serial: string;
  /** Index in the EPC list, and the value as written. */
  index: number;
  written: string;
}
interface ListedContainer {
  sscc: string;
  index: number;
  written: string;
}
type PlannedAggregation = (AggregationFields & { op: 'pack' }) | (AggregationFields & { op: 'unpack' });
type Planned = PlannedCommission | PlannedRecord | PlannedAggregation;

const asObj = (v: unknown): Json | undefined => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

const MAPPED_STEPS = 'commissioning, shipping, receiving, retail_selling, installing, repairing, sensor_reporting, destroying, disassembling';
const SSCC_FORMS = 'urn:epc:id:sscc:… or https://id.gs1.org/00/{sscc}';

/** Keys the mapping reads, or knowingly ignores without a warning (source-ledger bookkeeping, recordTime). */
const HANDLED = new Set([
  'type', 'eventID', 'eventTime', 'eventTimeZoneOffset', 'recordTime', 'action', 'bizStep', 'disposition', 'epcList', 'inputEPCList',
  'outputQuantityList', 'readPoint', 'bizLocation', 'destinationList', 'sourceList', '@context', 'quantityList', 'inputQuantityList', 'outputEPCList',
  'parentID', 'childEPCs', 'childQuantityList',
  'errorDeclaration', 'persistentDisposition', 'ilmd', 'sensorElementList',
  'provenant:kind', 'provenant:contentHash', 'provenant:leafIndex', 'provenant:actor', 'provenant:counterparty', 'provenant:location',
  'provenant:timezoneOffset', 'provenant:price', 'provenant:priceCurrency', 'provenant:data', 'provenant:capturedEventID',
]);

/** Kind-specific `data` fields per ledger kind (what the GraphQL mutations record). */
const DATA_FIELDS: Partial<Record<LedgerKind, readonly string[]>> = {
  COMMISSION: ['gtin', 'lot'],
  SHIP: [],
  RECEIVE: [],
  SELL: ['price', 'currency'],
  ACTIVATE: ['note', 'readings'],
  SERVICE: ['note', 'readings'],
  USE_REPORT: ['note', 'readings'],
  RETURN: ['reason'],
  RECALL: ['reason'],
  RECYCLE: ['materials'],
  DESTROY: ['reason'],
  PACK: ['container', 'containers'],
  UNPACK: ['container'],
};

const P = 'provenant:';

/** Strips the export's `provenant:` key prefix (and its percent-encoding) at every level. */
function denamespace(v: unknown): JsonValue {
  if (Array.isArray(v)) return v.map(denamespace);
  const o = asObj(v);
  if (o) {
    const out: { [k: string]: JsonValue } = {};
    for (const [k, val] of Object.entries(o)) {
      let key = k;
      if (k.startsWith(P)) {
        try {
          key = decodeURIComponent(k.slice(P.length));
        } catch {
          key = k.slice(P.length);
        }
      }
      out[key] = denamespace(val);
    }
    return out;
  }
  return v as JsonValue;
}

const GLN_PARTY_DL = /^https:\/\/id\.gs1\.org\/417\/([0-9]{13})$/;
const PGLN_URN = /^urn:epc:id:pgln:([0-9]{6,12})\.([0-9]{0,6})$/;
const SGLN_ZERO = /^urn:epc:id:sgln:([0-9]{6,12})\.([0-9]{0,6})\.0$/;
const ACTOR_URN = /^urn:provenant:actor:([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i;

function partyRef(written: string): PartyRef | string {
  const dl = GLN_PARTY_DL.exec(written);
  if (dl) return validateGln(dl[1]!) === undefined ? { written, gln: dl[1]! } : `${written}: ${validateGln(dl[1]!)}`;
  const urn = PGLN_URN.exec(written) ?? SGLN_ZERO.exec(written);
  if (urn) {
    const digits = urn[1]! + urn[2]!;
    if (digits.length !== 12) return `${written}: company prefix and party/location reference must be 12 digits together`;
    return { written, gln: digits + String(gs1CheckDigit(digits)) };
  }
  const actor = ACTOR_URN.exec(written);
  if (actor) return { written, actorId: actor[1]!.toLowerCase() };
  return `${written} does not name a party this ledger can resolve (use https://id.gs1.org/417/{GLN}, urn:epc:id:pgln:…, or urn:provenant:actor:{id})`;
}

/** Stored location of an EPCIS event (see the module comment), with the field it came from. */
function locationOf(event: Json): { location: string | null; field: string } {
  for (const key of ['readPoint', 'bizLocation']) {
    const id = str(asObj(event[key])?.['id']);
    if (id === undefined) continue;
    const gln = /^https:\/\/id\.gs1\.org\/414\/([0-9]{13})$/.exec(id);
    return { location: gln && validateGln(gln[1]!) === undefined ? gln[1]! : id.trim(), field: `${key}.id` };
  }
  const text = str(event[`${P}location`]);
  return { location: text?.trim() || null, field: `${P}location` };
}

interface MapContext {
  index: number;
  eventID: string;
  problems: CaptureProblem[];
}

type Fail = (field: string, reason: string, code?: CaptureProblemCode) => null;

const SSCC_DL = /^https:\/\/[A-Za-z0-9.-]+(?::[0-9]+)?(?:\/[^?#]*)?\/00\/([0-9]{18})\/?$/;

/** The SSCC of an SSCC URN or SSCC Digital Link (`…/00/{18 digits}`), or null when the value is neither form. */
function ssccOf(value: string): Result<string> | null {
  const dl = SSCC_DL.exec(value);
  if (dl) return normalizeSscc(dl[1]!);
  if (!value.startsWith('urn:epc:id:sscc:')) return null;
  const p = parseSsccUrn(value);
  return p.ok ? ok(p.value.sscc18) : p;
}

/**
 * The EPCs of `epcField`: SGTIN URNs and item Digital Links (items), SSCC URNs and Digital Links (containers).
 * `ssccRefusal`, when given, is why containers are refused here.
 */
function parseEpcValues(values: unknown[], epcField: string, fail: Fail, ssccRefusal?: (value: string) => string): { items: ListedItem[]; containers: ListedContainer[] } {
  const items: ListedItem[] = [];
  const containers: ListedContainer[] = [];
  const seen = new Map<string, number>();
  values.forEach((v, i) => {
    const value = typeof v === 'string' ? v.trim() : '';
    const field = `${epcField}[${i}]`;
    let key: string;
    const sscc = ssccOf(value);
    if (value.startsWith('urn:epc:id:sgtin:')) {
      const p = parseSgtinUrn(value);
      if (!p.ok) return void fail(field, `${value} is not a valid SGTIN URN: ${p.error}`);
      items.push({ ref: { kind: 'sgtin', value }, gtin: p.value.gtin14, serial: p.value.serial, index: i, written: value });
      key = `${p.value.gtin14}/${p.value.serial}`;
    } else if (sscc !== null) {
      // A logistic unit: the event applies to every item packed in it (packItems), at any depth.
      if (!sscc.ok) return void fail(field, `${value} is not a valid SSCC: ${sscc.error}`);
      if (ssccRefusal) return void fail(field, ssccRefusal(value), 'UNMAPPABLE');
      containers.push({ sscc: sscc.value, index: i, written: value });
      key = `sscc/${sscc.value}`;
    } else if (/^https?:\/\//i.test(value)) {
      const p = parseDigitalLink(value);
      if (!p.ok) return void fail(field, `${value} is not an item-level GS1 Digital Link (/01/{gtin}/21/{serial}) or an SSCC (/00/{sscc}): ${p.error}; the ledger tracks serialized trade items and their containers`, 'UNMAPPABLE');
      items.push({ ref: { kind: 'digitalLink', value }, gtin: p.value.gtin14, serial: p.value.serial, index: i, written: value });
      key = `${p.value.gtin14}/${p.value.serial}`;
    } else {
      return void fail(field, `${value || JSON.stringify(v)} is neither an SGTIN nor an SSCC: the ledger tracks serialized trade items (urn:epc:id:sgtin:… or https://id.gs1.org/01/…/21/…) and their containers`, 'UNMAPPABLE');
    }
    const first = seen.get(key);
    if (first !== undefined) fail(field, `repeats ${epcField}[${first}] (the same ${key.startsWith('sscc/') ? 'container' : 'item'})`);
    else seen.set(key, i);
  });
  return { items, containers };
}

/** `eventTime` in the event's offset (`provenant:timezoneOffset` first), or '' after reporting the problem. */
function occurrenceOf(event: Json, fail: Fail): string {
  const eventTime = str(event['eventTime']) ?? '';
  const t = parseOccurrenceTime(eventTime);
  const tzOverride = str(event[`${P}timezoneOffset`]);
  const offset = tzOverride !== undefined && /^[+-]([01][0-9]|2[0-3]):[0-5][0-9]$/.test(tzOverride) ? tzOverride : str(event['eventTimeZoneOffset']) ?? '';
  const offsetOk = /^[+-]([01][0-9]|2[0-3]):[0-5][0-9]$/.test(offset);
  if (!t.ok) fail('eventTime', `eventTime ${t.error}`);
  if (!offsetOk) fail('eventTimeZoneOffset', `${JSON.stringify(offset)} is not a timezone offset ±HH:MM`);
  return t.ok && offsetOk ? formatWithOffset(t.value.instant, offset) : '';
}

/** The stored location and its checks (length; a bizLocation other than the readPoint is a warning). */
function placeOf(event: Json, fail: Fail, warnings: string[]): string | null {
  const { location, field: locationField } = locationOf(event);
  if (location !== null && location.length > 200) fail(locationField, 'the location must be at most 200 characters');
  const rp = str(asObj(event['readPoint'])?.['id']);
  const bl = str(asObj(event['bizLocation'])?.['id']);
  if (rp !== undefined && bl !== undefined && rp !== bl) warnings.push(`bizLocation ${bl} is not kept: the ledger records one location (readPoint ${rp})`);
  return location;
}

/** `provenant:data` without its prefixes (and without `authorizedBy`), its keys checked against the kind's fields. */
function dataOf(event: Json, kind: LedgerKind, fail: Fail): { [k: string]: JsonValue } {
  const rawData = event[`${P}data`];
  let data: { [k: string]: JsonValue } = {};
  if (rawData !== undefined) {
    const d = asObj(denamespace(rawData));
    if (!d) fail(`${P}data`, `${P}data must be an object`);
    else data = { ...(d as { [k: string]: JsonValue }) };
  }
  if ('authorizedBy' in data) delete data['authorizedBy']; // the ledger derives it from the caller's own grants
  for (const k of Object.keys(data)) {
    const allowed = DATA_FIELDS[kind] ?? [];
    if (!allowed.includes(k)) {
      fail(`${P}data.${k}`, `${k} is not a field of ${kind}${allowed.length ? ` (its fields: ${allowed.join(', ')})` : ' (it has none)'}`);
    }
  }
  return data;
}

/** Warnings for the event's fields outside {@link HANDLED}. */
function unkeptFields(event: Json, warnings: string[]): void {
  for (const key of Object.keys(event)) {
    if (HANDLED.has(key)) continue;
    warnings.push(`${key} is not kept by the ledger`);
  }
}

/** errorDeclaration / persistentDisposition: never captured. */
function refuseCorrections(event: Json, fail: Fail): void {
  if (event['errorDeclaration'] !== undefined) {
    fail('errorDeclaration', 'error declarations cannot be captured: ledger events are append-only; capture a corrective event instead', 'UNMAPPABLE');
  }
  if (event['persistentDisposition'] !== undefined) {
    fail('persistentDisposition', 'persistent dispositions have no ledger equivalent: an item\'s state follows from its lifecycle events', 'UNMAPPABLE');
  }
}

function mapEvent(event: Json, ctx: MapContext): Planned | null {
  const { index, eventID, problems } = ctx;
  const fail = (field: string, reason: string, code: CaptureProblemCode = 'INVALID'): null => {
    problems.push(problem(index, eventID, field, reason, code));
    return null;
  };
  const before = problems.length;
  const warnings: string[] = [];
  const type = str(event['type']) ?? '';

  if (type === 'AggregationEvent') return mapAggregation(event, ctx);
  if (type !== 'ObjectEvent' && type !== 'TransformationEvent') {
    const why =
      type === 'AssociationEvent' ? 'associations of assets (AssociationEvent) have no ledger equivalent'
      : type === 'TransactionEvent' ? 'business transactions (TransactionEvent) have no ledger equivalent'
      : `${JSON.stringify(type)} is not an EPCIS 2.0 event type the ledger maps`;
    return fail('type', `${why}; the ledger maps ObjectEvents (${MAPPED_STEPS}), disassembling TransformationEvents and packing / unpacking AggregationEvents`, 'UNMAPPABLE');
  }
  refuseCorrections(event, fail);
  const rawStep = str(event['bizStep']);
  if (rawStep === undefined) return fail('bizStep', `a bizStep is required to choose the ledger event kind (mapped: ${MAPPED_STEPS})`, 'UNMAPPABLE');
  const step = bizStepName(rawStep);
  const rawDisposition = str(event['disposition']);
  const disposition = rawDisposition === undefined ? undefined : dispositionName(rawDisposition);
  const action = str(event['action']);

  // --- kind
  let kind: EventKind | undefined;
  if (type === 'TransformationEvent') {
    if (step !== 'disassembling') return fail('bizStep', `a TransformationEvent is mapped only with bizStep disassembling (RECYCLE), got ${rawStep}`, 'UNMAPPABLE');
    kind = 'RECYCLE';
  } else {
    const byStep: Record<string, EventKind> = {
      commissioning: 'COMMISSION', shipping: 'SHIP', receiving: disposition === 'returned' ? 'RETURN' : 'RECEIVE', retail_selling: 'SELL',
      installing: 'ACTIVATE', repairing: 'SERVICE', sensor_reporting: 'USE_REPORT', destroying: 'DESTROY', disassembling: 'RECYCLE',
    };
    kind = byStep[step];
    if (step === 'holding' && disposition === 'recalled') {
      return fail('disposition', 'recalls are recorded for a whole batch by its brand owner: use the recallBatch mutation, not an EPCIS capture', 'UNMAPPABLE');
    }
    if (!kind) return fail('bizStep', `bizStep ${rawStep} has no ledger equivalent (mapped: ${MAPPED_STEPS})`, 'UNMAPPABLE');
    if (kind === 'COMMISSION' && action !== 'ADD') return fail('action', `commissioning is captured with action ADD (it creates the items), got ${action}`, 'UNMAPPABLE');
    if (kind !== 'COMMISSION' && action !== 'OBSERVE' && !(kind === 'DESTROY' && action === 'DELETE')) {
      return fail('action', `${step} is captured with action OBSERVE${kind === 'DESTROY' ? ' or DELETE' : ''}, got ${action}`, 'UNMAPPABLE');
    }
  }
  const declared = str(event[`${P}kind`]);
  if (declared !== undefined && declared !== kind) fail(`${P}kind`, `${P}kind ${declared} contradicts bizStep ${rawStep}${disposition ? ` / disposition ${rawDisposition}` : ''}, which map to ${kind}`);
  if (disposition !== undefined && disposition !== LIFECYCLE[kind].disposition) {
    warnings.push(`disposition ${rawDisposition} is not kept: the ledger's ${kind} implies ${LIFECYCLE[kind].disposition}`);
  }

  // --- what
  const epcField = type === 'TransformationEvent' ? 'inputEPCList' : 'epcList';
  for (const f of type === 'TransformationEvent' ? ['inputQuantityList', 'outputEPCList'] : ['quantityList']) {
    const v = event[f];
    if (Array.isArray(v) && v.length > 0) {
      fail(f, f === 'outputEPCList' ? 'recycling outputs are material quantities (outputQuantityList), not EPCs'
        : 'class-level quantities cannot be recorded: the ledger tracks serialized items (SGTINs in ' + epcField + ')', 'UNMAPPABLE');
    }
  }
  const epcValues = event[epcField];
  let epcs: ListedItem[] = [];
  let containers: string[] = [];
  if (!Array.isArray(epcValues) || epcValues.length === 0) {
    fail(epcField, `the event names no serialized items (${epcField} is ${Array.isArray(epcValues) ? 'empty' : 'missing'})`, 'UNMAPPABLE');
  } else {
    const parsed = parseEpcValues(epcValues, epcField, fail, kind === 'COMMISSION' ? (value) => `${value} is an SSCC: commissioning creates trade items (SGTINs); pack them with packItems` : undefined);
    epcs = parsed.items;
    containers = parsed.containers.map((c) => c.sscc);
  }

  // --- when, where, why (data)
  const occurredAt = occurrenceOf(event, fail);
  const location = placeOf(event, fail, warnings);
  const data = dataOf(event, kind, fail);

  // Fields the ledger does not keep.
  unkeptFields(event, warnings);
  if (kind !== 'USE_REPORT' && event['sensorElementList'] !== undefined) warnings.push('sensorElementList is kept only for sensor_reporting (USE_REPORT)');
  if (kind !== 'COMMISSION' && event['ilmd'] !== undefined) warnings.push('ilmd is kept only for commissioning (its cbvmda:lotNumber)');

  const base = { index, eventID, sourceEventId: str(event['eventID']) ?? null, kind, warnings, epcField };

  if (kind === 'COMMISSION') {
    const gtins = [...new Set(epcs.map((e) => e.gtin))];
    if (gtins.length > 1) fail(epcField, `a commissioning event creates one batch of one product; its EPCs carry ${gtins.length} GTINs (${gtins.join(', ')})`, 'UNMAPPABLE');
    const ilmd = asObj(event['ilmd']);
    const ilmdLot = str(ilmd?.['cbvmda:lotNumber']) ?? str(ilmd?.['urn:epcglobal:cbv:mda:lotNumber']);
    for (const k of Object.keys(ilmd ?? {})) {
      if (k !== 'cbvmda:lotNumber' && k !== 'urn:epcglobal:cbv:mda:lotNumber') warnings.push(`ilmd.${k} is not kept by the ledger`);
    }
    const dataLot = typeof data['lot'] === 'string' ? data['lot'] : undefined;
    if (ilmdLot !== undefined && dataLot !== undefined && ilmdLot !== dataLot) fail(`${P}data.lot`, `lot ${dataLot} contradicts ilmd cbvmda:lotNumber ${ilmdLot}`);
    if (typeof data['gtin'] === 'string' && gtins.length === 1 && data['gtin'] !== gtins[0]) fail(`${P}data.gtin`, `GTIN ${data['gtin']} contradicts the EPCs (GTIN ${gtins[0]})`);
    const lot = ilmdLot ?? dataLot ?? `EPCIS-${eventID.slice('ni:///sha-256;'.length, 'ni:///sha-256;'.length + 14)}`;
    const lotField = ilmdLot !== undefined ? 'ilmd.cbvmda:lotNumber' : dataLot !== undefined ? `${P}data.lot` : 'ilmd';
    const lotOk = validateSerial(lot);
    if (!lotOk.ok) fail(lotField, `lot ${lotOk.error.replace(/^serial /, '')}`);
    if (location === null) fail('readPoint', 'commissioning needs a readPoint (or bizLocation): it is recorded as the batch\'s production site');
    if (problems.length > before) return null;
    return { ...base, op: 'commission', gtin: gtins[0]!, lot, lotField, serials: epcs.map((e) => e.serial), producedAt: occurredAt, site: location!, epcField };
  }

  // Kind-specific data, validated as the GraphQL mutations do.
  const recordData: { [k: string]: JsonValue } = {};
  switch (kind) {
    case 'SELL': {
      const price = data['price'] ?? (event[`${P}price`] as JsonValue | undefined);
      const currency = data['currency'] ?? (event[`${P}priceCurrency`] as JsonValue | undefined);
      const pf = data['price'] !== undefined ? `${P}data.price` : `${P}price`;
      const cf = data['currency'] !== undefined ? `${P}data.currency` : `${P}priceCurrency`;
      if (price !== undefined && price !== null) {
        if (typeof price !== 'number' || !Number.isFinite(price) || price < 0) fail(pf, 'price must be a non-negative number');
        else if (typeof currency !== 'string' || !/^[A-Z]{3}$/.test(currency)) fail(cf, 'currency must be an ISO 4217 code such as EUR when a price is given');
        else Object.assign(recordData, { price, currency });
      } else if (currency !== undefined && currency !== null) {
        fail(cf, 'currency without price');
      }
      break;
    }
    case 'ACTIVATE':
    case 'SERVICE':
    case 'USE_REPORT': {
      if (data['note'] !== undefined) {
        if (typeof data['note'] !== 'string') fail(`${P}data.note`, 'note must be a string');
        else if (data['note'].trim()) recordData['note'] = data['note'].trim();
      }
      let readings = data['readings'];
      if (readings === undefined && kind === 'USE_REPORT' && Array.isArray(event['sensorElementList'])) {
        readings = { sensorElementList: event['sensorElementList'] as JsonValue };
      }
      if (readings !== undefined && readings !== null) {
        if (typeof readings !== 'object' || Array.isArray(readings)) fail(`${P}data.readings`, 'readings must be a JSON object');
        else recordData['readings'] = readings;
      }
      break;
    }
    case 'RETURN':
    case 'DESTROY': {
      if (data['reason'] !== undefined) {
        if (typeof data['reason'] !== 'string') fail(`${P}data.reason`, 'reason must be a string');
        else if (data['reason'].trim()) recordData['reason'] = data['reason'].trim();
      }
      break;
    }
    case 'RECYCLE': {
      const materials: { material: string; massKg: number }[] = [];
      if (data['materials'] !== undefined) {
        if (!Array.isArray(data['materials'])) fail(`${P}data.materials`, 'materials must be a list of {material, massKg}');
        else {
          for (const m of data['materials']) {
            const o = asObj(m);
            materials.push({ material: typeof o?.['material'] === 'string' ? o['material'] : '', massKg: typeof o?.['massKg'] === 'number' ? o['massKg'] : NaN });
          }
        }
      } else if (Array.isArray(event['outputQuantityList'])) {
        (event['outputQuantityList'] as unknown[]).forEach((q, i) => {
          const o = asObj(q) ?? {};
          const epcClass = str(o['epcClass']) ?? '';
          const uom = str(o['uom']);
          if (uom !== 'KGM') {
            fail(`outputQuantityList[${i}].uom`, `recovered materials are recorded in kilograms: uom must be KGM, got ${uom ?? 'none'}`);
            return;
          }
          const slug = /^urn:provenant:material:(.+)$/.exec(epcClass);
          let name = epcClass;
          if (slug) {
            try {
              name = decodeURIComponent(slug[1]!);
            } catch {
              name = slug[1]!;
            }
          }
          materials.push({ material: name, massKg: typeof o['quantity'] === 'number' ? o['quantity'] : NaN });
        });
      }
      const fieldOf = (i: number, k: string) => (data['materials'] !== undefined ? `${P}data.materials[${i}].${k}` : `outputQuantityList[${i}].${k === 'material' ? 'epcClass' : 'quantity'}`);
      materials.forEach((m, i) => {
        if (!m.material.trim() || m.material.trim().length > 100) fail(fieldOf(i, 'material'), 'material must be 1 to 100 characters');
        if (!Number.isFinite(m.massKg) || m.massKg <= 0) fail(fieldOf(i, 'massKg'), 'massKg must be a positive number');
      });
      recordData['materials'] = materials.map((m) => ({ material: m.material.trim(), massKg: m.massKg }));
      break;
    }
    default:
      break;
  }

  // Parties: the counterparty (SHIP/RETURN: required receiver; SELL: optional buyer) and the parties that must be the
  // capturing actor itself (RECEIVE: the destination; SHIP/RETURN: the source).
  let party: PartyRef | null = null;
  let partyField = 'destinationList';
  const selfChecks: SelfCheck[] = [];
  const partyOf = (listKey: 'destinationList' | 'sourceList'): { written: string; field: string } | null | undefined => {
    const valueKey = listKey === 'destinationList' ? 'destination' : 'source';
    const list = Array.isArray(event[listKey]) ? (event[listKey] as unknown[]) : [];
    // Custody is possession: a possessing_party wins over an owning_party naming someone else (kept as a warning).
    const byType = { possessing_party: new Map<string, number>(), owning_party: new Map<string, number>() };
    list.forEach((d, i) => {
      const o = asObj(d);
      const t2 = sourceDestTypeName(str(o?.['type']) ?? '');
      const v = str(o?.[valueKey])?.trim();
      if ((t2 === 'owning_party' || t2 === 'possessing_party') && v !== undefined && !byType[t2].has(v)) byType[t2].set(v, i);
    });
    const chosen = byType.possessing_party.size > 0 ? byType.possessing_party : byType.owning_party;
    if (chosen.size > 1) {
      fail(listKey, `names ${chosen.size} different ${chosen === byType.possessing_party ? 'possessing' : 'owning'} parties (${[...chosen.keys()].join(', ')}); the ledger records one ${listKey === 'destinationList' ? 'receiving' : 'sending'} actor`);
      return undefined;
    }
    if (chosen.size === 0) return null;
    const [written, i] = [...chosen][0]!;
    for (const owner of byType.owning_party.keys()) {
      if (owner !== written) warnings.push(`${listKey} owning_party ${owner} is not kept: the ledger records custody (possessing_party ${written})`);
    }
    return { written, field: `${listKey}[${i}].${valueKey}` };
  };
  const selfCheck = (found: { written: string; field: string }, role: string) => {
    const ref = partyRef(found.written);
    if (typeof ref === 'string') warnings.push(`${found.field} ${found.written} is not checked: ${ref}`);
    else selfChecks.push({ party: ref, field: found.field, role });
  };
  if (kind === 'SHIP' || kind === 'RETURN' || kind === 'SELL') {
    const found = partyOf('destinationList');
    if (found) {
      partyField = found.field;
      const ref = partyRef(found.written);
      if (typeof ref === 'string') fail(partyField, ref, 'UNMAPPABLE');
      else party = ref;
    } else if (found === null) {
      const cp = str(event[`${P}counterparty`]);
      if (cp !== undefined && isUuid(cp)) {
        party = { written: cp, actorId: cp.toLowerCase() };
        partyField = `${P}counterparty`;
      } else if (kind !== 'SELL') {
        fail('destinationList', `${kind === 'RETURN' ? 'a return' : 'shipping'} must name the receiving party: a destinationList entry of type owning_party or possessing_party (https://id.gs1.org/417/{GLN} or urn:provenant:actor:{id})`, 'UNMAPPABLE');
      }
    }
    if (kind !== 'SELL') {
      const source = partyOf('sourceList');
      if (source) selfCheck(source, `a ${kind === 'RETURN' ? 'return' : 'shipment'} is recorded by its sender`);
    }
  } else if (kind === 'RECEIVE') {
    const found = partyOf('destinationList');
    if (found) selfCheck(found, 'a RECEIVE is recorded by its receiver');
  }
  if (event['sourceList'] !== undefined && kind !== 'SHIP' && kind !== 'RETURN') warnings.push('sourceList is not kept by the ledger');

  if (problems.length > before) return null;
  return { ...base, op: 'record', refs: epcs.map((e) => e.ref), containers, occurredAt, location, data: recordData, party, partyField, selfChecks };
}

/**
 * AggregationEvent → PACK (`packItems`) or UNPACK (`unpackItems`): ADD packing / DELETE unpacking, `parentID` the
 * container's SSCC. PACK: `childEPCs` = items (SGTINs, item Digital Links) and child containers (SSCCs); items that
 * are inside a listed child container are covered by it (what this ledger's export lists). UNPACK: `childEPCs` is
 * optional, the whole container is unpacked; when given it is checked against the container's content in the
 * transaction ({@link contentMismatch}).
 */
function mapAggregation(event: Json, ctx: MapContext): PlannedAggregation | null {
  const { index, eventID, problems } = ctx;
  const fail: Fail = (field, reason, code = 'INVALID') => {
    problems.push(problem(index, eventID, field, reason, code));
    return null;
  };
  const before = problems.length;
  const warnings: string[] = [];
  refuseCorrections(event, fail);

  // --- kind: ADD packing → PACK, DELETE unpacking → UNPACK
  const action = str(event['action']);
  if (action !== 'ADD' && action !== 'DELETE') {
    return fail('action', `an AggregationEvent with action ${action ?? '(none)'} only reports children seen in their parent; the ledger records changes of packing: action ADD with bizStep packing (packItems) or action DELETE with bizStep unpacking (unpackItems)`, 'UNMAPPABLE');
  }
  const kind = action === 'ADD' ? 'PACK' : 'UNPACK';
  const rule = AGGREGATION[kind];
  const rawStep = str(event['bizStep']);
  if (rawStep === undefined || bizStepName(rawStep) !== rule.bizStep) {
    return fail('bizStep', `an AggregationEvent with action ${action} is captured with bizStep ${rule.bizStep} (${kind})${rawStep === undefined ? '' : `, got ${rawStep}`}`, 'UNMAPPABLE');
  }
  const declared = str(event[`${P}kind`]);
  if (declared !== undefined && declared !== kind) fail(`${P}kind`, `${P}kind ${declared} contradicts action ${action} / bizStep ${rawStep}, which map to ${kind}`);
  const rawDisposition = str(event['disposition']);
  if (rawDisposition !== undefined && dispositionName(rawDisposition) !== rule.disposition) {
    warnings.push(`disposition ${rawDisposition} is not kept: the ledger's ${kind} implies ${rule.disposition}`);
  }

  // --- what: the parent and its children
  const parentID = str(event['parentID'])?.trim();
  let container = '';
  if (parentID === undefined || parentID === '') {
    fail('parentID', `${kind === 'PACK' ? 'packing' : 'unpacking'} needs the container as parentID, an SSCC (${SSCC_FORMS})`, 'UNMAPPABLE');
  } else {
    const sscc = ssccOf(parentID);
    if (sscc === null) fail('parentID', `${parentID} is not an SSCC: the ledger's containers are logistic units named by their SSCC (${SSCC_FORMS})`, 'UNMAPPABLE');
    else if (!sscc.ok) fail('parentID', `${parentID} is not a valid SSCC: ${sscc.error}`);
    else container = sscc.value;
  }
  const quantities = event['childQuantityList'];
  const classLevel = Array.isArray(quantities) && quantities.length > 0;
  if (classLevel) {
    fail('childQuantityList', 'class-level quantities cannot be packed: the ledger tracks serialized items (SGTINs) and containers (SSCCs) in childEPCs', 'UNMAPPABLE');
  }
  const childValues = event['childEPCs'];
  const childrenListed = Array.isArray(childValues) && childValues.length > 0;
  let items: ListedItem[] = [];
  let children: ListedContainer[] = [];
  if (childrenListed) {
    ({ items, containers: children } = parseEpcValues(childValues, 'childEPCs', fail));
    for (const c of children) {
      if (c.sscc === container) fail(`childEPCs[${c.index}]`, `${c.written} is the parent itself: a container cannot be packed into itself`);
    }
  } else if (kind === 'PACK' && !classLevel) {
    fail('childEPCs', `packing names no children (childEPCs is ${Array.isArray(childValues) ? 'empty' : 'missing'}): list the items (SGTINs) and containers (SSCCs) packed into the parent`, 'UNMAPPABLE');
  }

  // --- when, where, why (data: the ledger derives container / containers; stated ones must agree)
  const occurredAt = occurrenceOf(event, fail);
  const location = placeOf(event, fail, warnings);
  const data = dataOf(event, kind, fail);
  if (data['container'] !== undefined && container !== '' && data['container'] !== container) {
    fail(`${P}data.container`, `container ${JSON.stringify(data['container'])} contradicts parentID ${parentID} (SSCC ${container})`);
  }
  if (kind === 'PACK' && data['containers'] !== undefined) {
    const stated = Array.isArray(data['containers']) ? data['containers'].map((c) => String(c)).sort() : null;
    const listed = children.map((c) => c.sscc).sort();
    if (stated === null || stated.join() !== listed.join()) {
      fail(`${P}data.containers`, `containers ${JSON.stringify(data['containers'])} contradict the SSCCs of childEPCs (${listed.join(', ') || 'none'})`);
    }
  }

  unkeptFields(event, warnings);
  for (const key of ['sourceList', 'destinationList', 'sensorElementList']) {
    if (event[key] !== undefined) warnings.push(`${key} is not kept by the ledger (packing keeps no parties and no readings)`);
  }

  if (problems.length > before) return null;
  const planned: AggregationFields = {
    index, eventID, sourceEventId: str(event['eventID']) ?? null, kind, warnings, epcField: kind === 'PACK' ? 'childEPCs' : 'parentID',
    container, refs: items.map((i) => i.ref), items, children, childrenListed, occurredAt, location,
  };
  return kind === 'PACK' ? { ...planned, op: 'pack' } : { ...planned, op: 'unpack' };
}

// ---------------------------------------------------------------------------------------------------------------
// Capture

class CaptureAbort extends Error {
  constructor(readonly result: EpcisCaptureRejection | ConflictFailure) {
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
}

function serviceProblem(p: Planned, f: Failure): CaptureProblem {
  const fieldFor = (field: string): string => {
    if (p.op === 'commission') {
      if (field === 'lot') return p.lotField;
      if (field === 'producedAt') return 'eventTime';
      if (field === 'site') return 'readPoint';
      if (field === 'gtin' || field === 'serials') return p.epcField;
      const s = /^serials\[(\d+)\]$/.exec(field);
      if (s) return `${p.epcField}[${s[1]}]`;
      return field;
    }
    if (field === 'occurredAt') return 'eventTime';
    if (field === 'location') return 'readPoint';
    if (p.op === 'pack' || p.op === 'unpack') {
      if (field === 'container') return 'parentID';
      // A message naming a child container points at its childEPCs entry.
      const named = /container ([0-9]{18})/.exec(f.message)?.[1];
      const child = p.children.find((c) => c.sscc === named);
      if (child) return `childEPCs[${child.index}]`;
      if (named === p.container) return 'parentID';
      return p.epcField;
    }
    if (field === 'items' || field === 'containers') return p.epcField;
    if (field === 'to') return p.partyField;
    return field;
  };
  switch (f.kind) {
    case 'ValidationError':
      return problem(p.index, p.eventID, fieldFor(f.field), f.message, 'INVALID');
    case 'NotFoundError': {
      const party = /receiving actor/.test(f.message);
      if (p.op === 'pack' || p.op === 'unpack') return problem(p.index, p.eventID, fieldFor('items'), f.message, 'NOT_FOUND');
      return problem(p.index, p.eventID, party && p.op === 'record' ? p.partyField : p.epcField, f.message, 'NOT_FOUND');
    }
    case 'PermissionDeniedError':
      return problem(p.index, p.eventID, p.epcField, f.message, 'PERMISSION_DENIED', { rule: f.rule, items: f.items });
    case 'InvalidTransitionError': {
      const detail = f.items.slice(0, 5).map((i) => `${i.item}: ${i.reason}`).join('; ');
      return problem(p.index, p.eventID, p.epcField, `${f.message}${detail ? ` (${detail}${f.items.length > 5 ? '; …' : ''})` : ''}`, 'INVALID_TRANSITION', { items: f.items });
    }
    case 'ConflictError':
      return problem(p.index, p.eventID, p.op === 'commission' && /^batch /.test(f.message) ? p.lotField : p.epcField, f.message, 'CONFLICT');
  }
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
    const at = /^document\.epcisBody\.eventList\[(\d+)\]\.(.+)$/.exec(textProblem.field);
    return rejection([at ? problem(Number(at[1]), null, at[2]!, textProblem.message, 'INVALID') : problem(null, null, textProblem.field, textProblem.message, 'INVALID')]);
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

  const problems: CaptureProblem[] = [];
  const planned: Planned[] = [];
  events.forEach((event, index) => {
    const eventID = hashes[index];
    if (!eventID) return void problems.push(problem(index, null, '(event)', 'the event hash ID could not be computed', 'INVALID'));
    const p = mapEvent(event, { index, eventID, problems });
    if (p) planned.push(p);
  });
  if (problems.length > 0) return rejection(problems);

  try {
    const { result, pending } = await withRetries(deps.db, async (trx) => {
      const captured = await captureInTransaction({ ...deps, trx }, trx, caller, planned, doc, key);
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
  deps: LedgerDeps,
  trx: Trx,
  caller: ActorRow,
  planned: readonly Planned[],
  document: Json,
  key: string | null,
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
  const db = epcisDb(trx);

  // Already captured: skipped when the caller may see the ledger event; otherwise treated as never captured (recorded
  // or refused on its own merits), so the answer does not reveal another actor's capture.
  const ids = [...new Set(planned.map((p) => p.eventID))];
  const existing = new Map<string, string>();
  for (let i = 0; i < ids.length; i += 1000) {
    const rows = await db.selectFrom('epcis_captures').select(['epcis_event_id', 'event_id']).where('epcis_event_id', 'in', ids.slice(i, i + 1000)).execute();
    for (const r of rows) existing.set(r.epcis_event_id, r.event_id);
  }
  // The ledger's own export of an event it recorded (through a GraphQL mutation or a capture) is that event.
  for (const [eventID, ledgerEventId] of await ownExports(trx, planned, document)) if (!existing.has(eventID)) existing.set(eventID, ledgerEventId);
  const problems: CaptureProblem[] = [];
  if (existing.size > 0) {
    const scope = readScope(caller.id, caller.is_operator, await grantsOf(trx, caller.id), now);
    const visible = new Set(
      (await db.selectFrom('events as e').select('e.id').where('e.id', 'in', [...existing.values()]).where(eventVisibleSql(scope, 'e')).execute()).map((r) => r.id),
    );
    for (const [eventID, ledgerId] of existing) if (!visible.has(ledgerId)) existing.delete(eventID);
  }

  // Parties: GLNs and actor ids of this ledger, for the events to record (nothing is checked for captured ones).
  const toRecord = planned.filter((p): p is PlannedRecord => p.op === 'record' && !existing.has(p.eventID));
  const refs = toRecord.flatMap((p) => (p.op === 'record' ? [...(p.party ? [p.party] : []), ...p.selfChecks.map((c) => c.party)] : []));
  const glns = [...new Set(refs.flatMap((r) => ('gln' in r ? [r.gln] : [])))];
  const actorIds = [...new Set(refs.flatMap((r) => ('actorId' in r ? [r.actorId] : [])))];
  const byGln = new Map<string, string[]>();
  const knownIds = new Set<string>();
  if (glns.length > 0) {
    for (const a of await trx.selectFrom('actors').select(['id', 'gln']).where('gln', 'in', glns).where('is_operator', '=', false).execute()) {
      byGln.set(a.gln!, [...(byGln.get(a.gln!) ?? []), a.id]);
    }
  }
  if (actorIds.length > 0) {
    for (const a of await trx.selectFrom('actors').select('id').where('id', 'in', actorIds).where('is_operator', '=', false).execute()) knownIds.add(a.id);
  }
  const resolve = (r: PartyRef): { id: string } | { why: string } => {
    if ('gln' in r) {
      const found = byGln.get(r.gln) ?? [];
      if (found.length === 1) return { id: found[0]! };
      return { why: found.length === 0 ? `no actor with GLN ${r.gln} is known to this ledger` : `GLN ${r.gln} belongs to ${found.length} actors; name one as urn:provenant:actor:{id}` };
    }
    return knownIds.has(r.actorId) ? { id: r.actorId } : { why: `no actor ${r.actorId} is known to this ledger` };
  };
  const counterpartyOf = new Map<number, string>();
  const extraWarnings = new Map<number, string[]>();
  for (const p of toRecord) {
    for (const check of p.selfChecks) {
      const r = resolve(check.party);
      if ('id' in r && r.id !== caller.id) {
        problems.push(problem(p.index, p.eventID, check.field, `names ${check.party.written}, which is not the capturing actor: ${check.role}`, 'INVALID'));
      } else if ('why' in r) {
        extraWarnings.set(p.index, [...(extraWarnings.get(p.index) ?? []), `${check.field} ${check.party.written} is not checked: ${r.why}`]);
      }
    }
    if (!p.party) continue;
    const r = resolve(p.party);
    if ('why' in r) problems.push(problem(p.index, p.eventID, p.partyField, r.why, 'NOT_FOUND'));
    else counterpartyOf.set(p.index, r.id);
  }
  if (problems.length > 0) throw new CaptureAbort(rejection(problems));

  // Writes, in document order, each through its use case inside this transaction.
  const captured: CapturedEvent[] = [];
  const recordedHere = new Map<string, string>();
  const rows: EpcisCapturesTable[] = [];
  for (const p of planned) {
    const entry = { index: p.index, eventID: p.eventID, kind: p.kind, warnings: [...p.warnings, ...(extraWarnings.get(p.index) ?? [])] };
    const earlier = recordedHere.get(p.eventID);
    if (earlier !== undefined) {
      captured.push({ ...entry, status: 'DUPLICATE_IN_DOCUMENT', ledgerEventId: earlier });
      continue;
    }
    const already = existing.get(p.eventID);
    if (already !== undefined) {
      captured.push({ ...entry, status: 'ALREADY_CAPTURED', ledgerEventId: already });
      recordedHere.set(p.eventID, already);
      continue;
    }
    let eventId: string;
    if (p.op === 'commission') {
      const r = await registerBatch(deps, caller, { gtin: p.gtin, lot: p.lot, producedAt: p.producedAt, site: p.site, serials: p.serials });
      if (r.kind !== 'ok') throw new CaptureAbort(rejection([serviceProblem(p, r)]));
      eventId = r.event.id;
    } else if (p.op === 'pack') {
      const r = await packItems(deps, caller, {
        container: p.container, items: p.refs, containers: p.children.map((c) => c.sscc), occurredAt: p.occurredAt, location: p.location,
      });
      if (r.kind !== 'ok') throw new CaptureAbort(rejection([await packProblem(trx, p, r)]));
      eventId = r.event.id;
    } else if (p.op === 'unpack') {
      const before = p.childrenListed ? await containerContent(trx, p.container) : null;
      const r = await unpackItems(deps, caller, { container: p.container, occurredAt: p.occurredAt, location: p.location });
      if (r.kind !== 'ok') throw new CaptureAbort(rejection([serviceProblem(p, r)]));
      // Checked once the ledger accepted the unpacking (the caller holds the items): the report may name them.
      const mismatch = before ? await contentMismatch(trx, p, before, r.event.id) : null;
      if (mismatch) throw new CaptureAbort(rejection([mismatch]));
      eventId = r.event.id;
    } else {
      const r = await recordEvent(deps, caller, {
        kind: p.kind as RecordEventInput['kind'],
        items: { refs: p.refs, containers: p.containers },
        occurredAt: p.occurredAt,
        location: p.location,
        counterpartyId: counterpartyOf.get(p.index) ?? null,
        data: p.data,
      });
      if (r.kind !== 'ok') throw new CaptureAbort(rejection([serviceProblem(p, r)]));
      eventId = r.event.id;
    }
    rows.push({ epcis_event_id: p.eventID, event_id: eventId, actor_id: caller.id, source_event_id: p.sourceEventId?.slice(0, 2000) ?? null, captured_at: now });
    recordedHere.set(p.eventID, eventId);
    captured.push({ ...entry, status: 'RECORDED', ledgerEventId: eventId });
  }
  // A hash ID already captured by an actor who cannot see it keeps its first capture row.
  for (let i = 0; i < rows.length; i += 1000) await db.insertInto('epcis_captures').values(rows.slice(i, i + 1000)).onConflict((oc) => oc.column('epcis_event_id').doNothing()).execute();
  if (key && requestHash) await storeIdempotency(trx, caller.id, key, 'captureEpcisDocument', requestHash, { events: captured });
  return summarize(captured, false);
}

/** A refused PACK; "item {id} is already packed" is reported with the item as the document names it. */
async function packProblem(trx: Trx, p: PlannedAggregation, f: Failure): Promise<CaptureProblem> {
  const packed = f.kind === 'ValidationError' ? /^item ([0-9a-f-]{36}) is already packed in ([0-9]{18})/.exec(f.message) : null;
  if (packed) {
    const row = await trx.selectFrom('items').select(['gtin', 'serial']).where('id', '=', packed[1]!).executeTakeFirst();
    const listed = row ? p.items.find((i) => i.gtin === row.gtin && i.serial === row.serial) : undefined;
    if (listed) {
      return problem(p.index, p.eventID, `childEPCs[${listed.index}]`, `${listed.written} is already packed in container ${packed[2]}; unpack it first (or list that container among the children)`, 'INVALID');
    }
  }
  return serviceProblem(p, f);
}

interface ContainerContent {
  /** `gtin/serial` → item, for the items packed directly in the container and for every item at any depth. */
  direct: Map<string, { id: string; sgtin: string }>;
  all: Map<string, { id: string; sgtin: string }>;
  /** Child containers packed directly in it. */
  containers: Set<string>;
}

async function containerContent(trx: Trx, sscc: string): Promise<ContainerContent> {
  const members = await trx.selectFrom('container_members').select(['item_id', 'child_sscc']).where('parent_sscc', '=', sscc).execute();
  const directIds = new Set(members.flatMap((m) => (m.item_id ? [m.item_id] : [])));
  const containers = new Set(members.flatMap((m) => (m.child_sscc ? [m.child_sscc] : [])));
  const ids = await itemIdsInContainers(trx, [sscc]);
  const direct = new Map<string, { id: string; sgtin: string }>();
  const all = new Map<string, { id: string; sgtin: string }>();
  for (let i = 0; i < ids.length; i += 5_000) {
    for (const r of await trx.selectFrom('items').select(['id', 'gtin', 'serial', 'sgtin']).where('id', 'in', ids.slice(i, i + 5_000)).execute()) {
      const key = `${r.gtin}/${r.serial}`;
      all.set(key, { id: r.id, sgtin: r.sgtin });
      if (directIds.has(r.id)) direct.set(key, { id: r.id, sgtin: r.sgtin });
    }
  }
  return { direct, all, containers };
}

/**
 * An UNPACK's `childEPCs` against the content the container had: accepted when they are its direct children (items and
 * containers packed directly in it: EPCIS), or every item inside it at any depth, with or without its direct child
 * containers (what this ledger's export lists). Otherwise the problem names what is listed but not inside, and what is
 * inside but not listed (items the caller's UNPACK covered by name, others counted).
 */
async function contentMismatch(trx: Trx, p: PlannedAggregation, content: ContainerContent, eventId: string): Promise<CaptureProblem | null> {
  const listedItems = new Set(p.items.map((i) => `${i.gtin}/${i.serial}`));
  const listedContainers = new Set(p.children.map((c) => c.sscc));
  const same = (a: Set<string>, b: Iterable<string>) => {
    const bs = new Set(b);
    return a.size === bs.size && [...a].every((x) => bs.has(x));
  };
  const directItems = same(listedItems, content.direct.keys());
  const allItems = same(listedItems, content.all.keys());
  const directContainers = same(listedContainers, content.containers);
  if ((directContainers && (directItems || allItems)) || (listedContainers.size === 0 && allItems)) return null;

  // Report against the form the list is closest to.
  const listsNested = [...listedItems].some((k) => content.all.has(k) && !content.direct.has(k));
  const allForm = listsNested || (listedContainers.size === 0 && content.containers.size > 0);
  const refItems = allForm ? content.all : content.direct;
  const refContainers = allForm && listedContainers.size === 0 ? new Set<string>() : content.containers;
  const where = allForm ? 'in it' : 'directly in it';
  const extra = [
    ...p.items.filter((i) => !refItems.has(`${i.gtin}/${i.serial}`)).map((i) => i.written),
    ...p.children.filter((c) => !refContainers.has(c.sscc)).map((c) => c.written),
  ];
  const covered = new Set((await trx.selectFrom('chain_links').select('item_id').where('event_id', '=', eventId).execute()).map((r) => r.item_id));
  const unlisted = [...refItems].filter(([k]) => !listedItems.has(k));
  const named = unlisted.filter(([, v]) => covered.has(v.id)).map(([, v]) => v.sgtin);
  const hidden = unlisted.length - named.length;
  const missing = [...named.slice(0, 10), ...[...refContainers].filter((c) => !listedContainers.has(c)).map((c) => `container ${c}`)];
  const more = named.length - Math.min(named.length, 10) + hidden;
  const parts: string[] = [];
  if (extra.length > 0) parts.push(`listed but not ${where}: ${extra.slice(0, 10).join(', ')}${extra.length > 10 ? ` and ${extra.length - 10} more` : ''}`);
  if (missing.length > 0 || more > 0) parts.push(`${where} but not listed: ${[...missing, ...(more > 0 ? [`${more} more item(s)`] : [])].join(', ')}`);
  return problem(
    p.index, p.eventID, 'childEPCs',
    `childEPCs do not match the content of container ${p.container}: ${parts.join('; ')}. The ledger unpacks the whole container: list its direct children (the items and containers packed directly in it), every item in it at any depth, or omit childEPCs`,
    'INVALID',
  );
}

/** The rejection of a document that is not an EPCISDocument (a query document gets told how to turn it into one). */
function documentTypeRejection(doc: Json): EpcisCaptureRejection | null {
  const docType = doc['type'];
  if (docType === 'EPCISDocument') return null;
  const reason = docType === 'EPCISQueryDocument'
    ? 'capture takes an EPCISDocument, not an EPCISQueryDocument: send the query result\'s epcisBody.queryResults.resultsBody.eventList as the epcisBody.eventList of an EPCISDocument'
    : `capture takes an EPCISDocument (type "EPCISDocument"), got ${JSON.stringify(docType ?? null)}`;
  return rejection([problem(null, null, 'type', reason, 'SCHEMA')]);
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
