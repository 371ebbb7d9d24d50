/**
 * EPCIS 2.0 → ledger: the pure half of capture (`services/epcis-capture.ts` runs it against the database). It turns
 * each event of an EPCISDocument into a planned ledger write, or into precise problems (event index, field, reason,
 * code); every problem of every event is reported, not only the first. The opposite direction is `epcis-export.ts`.
 * Pure: no I/O, no clock; runs in a browser.
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
 * `provenant:data` keys are un-prefixed and must be fields of the kind (`authorizedBy` is dropped with a warning: the
 * ledger derives it from the caller's own grants). Fields the ledger does not keep (bizTransactionList, certificationInfo, other extensions,
 * …) are accepted and listed as warnings of the event.
 *
 */
import type { JsonValue } from './chain.ts';
import { bizStepName, dispositionName, sourceDestTypeName } from './cbv.ts';
import { KIND_DATA_FIELDS, kindData } from './event-data.ts';
import { type EpcisFieldError, eventPath } from './epcis-validate.ts';
import { gs1CheckDigit, normalizeSscc, parseDigitalLink, parseSgtinUrn, parseSsccUrn, validateSerial } from './identifiers.ts';
import { AGGREGATION, type EventKind, LIFECYCLE, type LedgerKind } from './lifecycle.ts';
import { validateGln } from './party.ts';
import { type Result, ok } from './result.ts';
import { formatWithOffset, parseOccurrenceTime } from './time.ts';
import { type FieldLimits, checkEventContent, checkOptionalText } from './text.ts';

// ---------------------------------------------------------------------------------------------------------------
// Limits

export interface EpcisCaptureLimits {
  /** Largest document, in bytes of its JSON text. */
  maxBytes: number;
  /** Most events in one document. */
  maxEvents: number;
}

export const EPCIS_CAPTURE_DEFAULTS: Readonly<EpcisCaptureLimits> = Object.freeze({ maxBytes: 10 * 1024 * 1024, maxEvents: 10_000 });

// ---------------------------------------------------------------------------------------------------------------
// Problems

/** An item refused by a ledger rule (the shape of the write use cases' item-level detail, `services/results.ts`). */
export interface ItemProblem {
  item: string;
  from: string | null;
  kind: string;
  reason: string;
}

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

/** Problems listed in one rejection (the message counts the rest). */
export const MAX_REPORTED_PROBLEMS = 100;

export function problem(eventIndex: number | null, eventID: string | null, field: string, reason: string, code: CaptureProblemCode, extra: { rule?: string; items?: ItemProblem[] } = {}): CaptureProblem {
  return { eventIndex, eventID, field, reason, code, rule: extra.rule ?? null, items: extra.items ?? [] };
}

export function rejection(problems: CaptureProblem[]): EpcisCaptureRejection {
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

export function structureProblems(errors: readonly EpcisFieldError[], hashOf: (i: number) => string | null): CaptureProblem[] {
  const out = errors.map((e) => {
    const { eventIndex, field } = eventPath(e.path);
    return problem(eventIndex, eventIndex === null ? null : hashOf(eventIndex), field || (eventIndex === null ? '(document)' : '(event)'), e.message, 'SCHEMA');
  });
  // Document-level problems first, then by event (stable: document order within an event).
  return out.sort((a, b) => (a.eventIndex ?? -1) - (b.eventIndex ?? -1));
}


/** The rejection of a document that is not an EPCISDocument (a query document gets told how to turn it into one). */
export function documentTypeRejection(doc: Json): EpcisCaptureRejection | null {
  const docType = doc['type'];
  if (docType === 'EPCISDocument') return null;
  const reason = docType === 'EPCISQueryDocument'
    ? 'capture takes an EPCISDocument, not an EPCISQueryDocument: send the query result\'s epcisBody.queryResults.resultsBody.eventList as the epcisBody.eventList of an EPCISDocument'
    : `capture takes an EPCISDocument (type "EPCISDocument"), got ${JSON.stringify(docType ?? null)}`;
  return rejection([problem(null, null, 'type', reason, 'SCHEMA')]);
}

// ---------------------------------------------------------------------------------------------------------------
// Mapping

export type Json = Record<string, unknown>;
/** An item as the document names it (what `recordEvent` resolves). */
export type ItemRef = { kind: 'id' | 'sgtin' | 'digitalLink'; value: string };

export type PartyRef = { written: string; gln: string } | { written: string; actorId: string };

/** Where the fields of a planned event's data came from: `provenant:data.{field}` unless listed here. */
export interface DataPaths {
  /** Top-level data field → EPCIS path (`price` → `provenant:price`, `readings` → `sensorElementList`). */
  fields: Record<string, string>;
  /** Materials taken from a quantity list: the list and, per material, its index in that list. */
  materialsFrom?: { list: string; index: number[] };
}

const MATERIAL_KEYS: Record<string, string> = { material: 'epcClass', massKg: 'quantity' };

/**
 * The EPCIS path of a data field path as `kindData` / `checkEventContent` name it (`price`, `materials[2].massKg`):
 * structured field paths in, structured paths out.
 */
export function dataPath(paths: DataPaths, field: string): string {
  const top = field.split(/[.[]/, 1)[0]!;
  const rest = field.slice(top.length);
  if (top === 'materials' && paths.materialsFrom) {
    const m = /^\[(\d+)\](?:\.(\w+))?/.exec(rest);
    if (!m) return paths.materialsFrom.list;
    const at = `${paths.materialsFrom.list}[${paths.materialsFrom.index[Number(m[1])] ?? m[1]}]`;
    return m[2] ? `${at}.${MATERIAL_KEYS[m[2]] ?? m[2]}` : at;
  }
  const from = paths.fields[top];
  return from !== undefined ? from + rest : `provenant:data.${field}`;
}

export interface PlannedBase {
  index: number;
  eventID: string;
  sourceEventId: string | null;
  kind: LedgerKind;
  warnings: string[];
  /** Where the event's EPCs are: `epcList`, `inputEPCList`, `childEPCs` (PACK) or `parentID` (UNPACK). */
  epcField: string;
}
export interface PlannedCommission extends PlannedBase {
  op: 'commission';
  gtin: string;
  lot: string;
  lotField: string;
  serials: string[];
  producedAt: string;
  site: string;
}
export interface PlannedRecord extends PlannedBase {
  op: 'record';
  refs: ItemRef[];
  /** SSCCs named as EPCs: the event covers every item packed inside. */
  containers: string[];
  occurredAt: string;
  location: string | null;
  /** The EPCIS field the location came from (`readPoint.id`, `bizLocation.id`, `provenant:location`). */
  locationField: string;
  data: { [key: string]: JsonValue };
  /** Where each data field came from in the EPCIS event (see {@link dataPath}). */
  dataPaths: DataPaths;
  /** The counterparty: SHIP/RETURN the (required) receiver, SELL the (optional) buyer. */
  party: PartyRef | null;
  partyField: string;
  /** Parties the document names that must be the capturing actor (when they resolve in this ledger). */
  selfChecks: SelfCheck[];
}
export interface SelfCheck {
  party: PartyRef;
  field: string;
  /** Why it must be the caller, e.g. "a RECEIVE is recorded by its receiver". */
  role: string;
}
/** An AggregationEvent: PACK through `packItems`, UNPACK through `unpackItems`. */
export interface AggregationFields extends PlannedBase {
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
export interface ListedItem {
  ref: ItemRef;
  gtin: string;
  serial: string;
  /** Index in the EPC list, and the value as written. */
  index: number;
  written: string;
}
export interface ListedContainer {
  sscc: string;
  index: number;
  written: string;
}
export type PlannedAggregation = (AggregationFields & { op: 'pack' }) | (AggregationFields & { op: 'unpack' });
export type Planned = PlannedCommission | PlannedRecord | PlannedAggregation;

export const asObj = (v: unknown): Json | undefined => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined);
export const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

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
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
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

export interface MapContext {
  index: number;
  eventID: string;
  /** Where this event's problems go (every problem of every event is reported). */
  problems: CaptureProblem[];
  /** Bounds of free-form text (location, note, reason, material names): the ledger's configured field limits. */
  limits: FieldLimits;
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
function placeOf(event: Json, fail: Fail, warnings: string[], limits: FieldLimits): string | null {
  const { location, field: locationField } = locationOf(event);
  const tooLong = checkOptionalText(location, 'location', { max: limits.locationChars });
  if (tooLong) fail(locationField, tooLong.message);
  const rp = str(asObj(event['readPoint'])?.['id']);
  const bl = str(asObj(event['bizLocation'])?.['id']);
  if (rp !== undefined && bl !== undefined && rp !== bl) warnings.push(`bizLocation ${bl} is not kept: the ledger records one location (readPoint ${rp})`);
  return location;
}

/**
 * `provenant:data` without its prefixes, its keys checked against the kind's fields. A stated `authorizedBy` (in any
 * spelling of its key that un-prefixes to it) is dropped with a warning, never stored: the ledger records the grants
 * the capturing actor itself relied on, decided when the event is recorded (a client cannot claim another's grant).
 */
function dataOf(event: Json, kind: LedgerKind, fail: Fail, warnings: string[]): { [k: string]: JsonValue } {
  const rawData = event[`${P}data`];
  let data: { [k: string]: JsonValue } = {};
  if (rawData !== undefined) {
    const d = asObj(denamespace(rawData));
    if (!d) fail(`${P}data`, `${P}data must be an object`);
    else data = { ...(d as { [k: string]: JsonValue }) };
  }
  if (Object.hasOwn(data, 'authorizedBy')) {
    delete data['authorizedBy'];
    warnings.push(`${P}data.authorizedBy is not kept: the ledger records the grants the capturing actor relied on`);
  }
  for (const k of Object.keys(data)) {
    const allowed = KIND_DATA_FIELDS[kind];
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

/**
 * Plans every event of a document (`hashes[i]` is event i's CBV 2.0 hash ID, null when it could not be computed):
 * the planned ledger writes, or every problem found, in document order.
 */
export function planEvents(events: readonly Json[], hashes: readonly (string | null)[], limits: FieldLimits): { planned: Planned[]; problems: CaptureProblem[] } {
  const problems: CaptureProblem[] = [];
  const planned: Planned[] = [];
  events.forEach((event, index) => {
    const eventID = hashes[index];
    if (!eventID) return void problems.push(problem(index, null, '(event)', 'the event hash ID could not be computed', 'INVALID'));
    const p = mapEvent(event, { index, eventID, problems, limits });
    if (p) planned.push(p);
  });
  return { planned, problems };
}

/** One EPCIS event → its planned ledger write, or null after adding its problems to `ctx.problems`. */
export function mapEvent(event: Json, ctx: MapContext): Planned | null {
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
  const location = placeOf(event, fail, warnings, ctx.limits);
  const data = dataOf(event, kind, fail, warnings);

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

  // Kind-specific data: the rule the GraphQL mutations apply (core/event-data.ts), fed from where EPCIS puts each
  // field; a problem is reported at the EPCIS path it came from.
  const known = KIND_DATA_FIELDS[kind];
  const raw: { [k: string]: unknown } = Object.fromEntries(Object.entries(data).filter(([k]) => known.includes(k)));
  const dataPaths: DataPaths = { fields: {} };
  if (kind === 'SELL') {
    if (raw['price'] === undefined && event[`${P}price`] !== undefined) {
      raw['price'] = event[`${P}price`];
      dataPaths.fields['price'] = `${P}price`;
    }
    if (raw['currency'] === undefined && event[`${P}priceCurrency`] !== undefined) {
      raw['currency'] = event[`${P}priceCurrency`];
      dataPaths.fields['currency'] = `${P}priceCurrency`;
    }
  }
  if (kind === 'USE_REPORT' && raw['readings'] === undefined && Array.isArray(event['sensorElementList'])) {
    raw['readings'] = { sensorElementList: event['sensorElementList'] as JsonValue };
    dataPaths.fields['readings'] = 'sensorElementList';
  }
  if (kind === 'RECYCLE' && raw['materials'] === undefined && Array.isArray(event['outputQuantityList'])) {
    const materials: { material: string; massKg: unknown }[] = [];
    const listIndex: number[] = [];
    (event['outputQuantityList'] as unknown[]).forEach((q, i) => {
      const o = asObj(q) ?? {};
      const epcClass = str(o['epcClass']) ?? '';
      const uom = str(o['uom']);
      if (uom !== 'KGM') return void fail(`outputQuantityList[${i}].uom`, `recovered materials are recorded in kilograms: uom must be KGM, got ${uom ?? 'none'}`);
      const slug = /^urn:provenant:material:(.+)$/.exec(epcClass);
      let name = epcClass;
      if (slug) {
        try {
          name = decodeURIComponent(slug[1]!);
        } catch {
          name = slug[1]!;
        }
      }
      materials.push({ material: name, massKg: o['quantity'] });
      listIndex.push(i);
    });
    raw['materials'] = materials;
    dataPaths.materialsFrom = { list: 'outputQuantityList', index: listIndex };
  }
  const shaped = kindData(kind, raw);
  if (!shaped.ok) for (const d of shaped.error) fail(dataPath(dataPaths, d.field), d.message);
  const recordData = shaped.ok ? shaped.value : {};
  // (The location was checked above.)
  const bounds = checkEventContent(null, recordData, ctx.limits);
  if (bounds) fail(dataPath(dataPaths, bounds.field), bounds.message);

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
      if (cp !== undefined && UUID.test(cp)) {
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
  return { ...base, op: 'record', refs: epcs.map((e) => e.ref), containers, occurredAt, location, locationField: locationOf(event).field, data: recordData, dataPaths, party, partyField, selfChecks };
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
  const location = placeOf(event, fail, warnings, ctx.limits);
  const data = dataOf(event, kind, fail, warnings);
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

