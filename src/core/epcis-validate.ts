/**
 * Structural validation of EPCIS 2.0 JSON / JSON-LD: the project's own rules, written from the EPCIS 2.0 standard
 * (sections 7–9 and the JSON binding), so that capture needs no external schema files at run time.
 *
 * What is checked, per document type:
 * - `EPCISDocument`: `@context`, `type`, `schemaVersion` (`2.0`-like), `creationDate` (RFC 3339 date-time),
 *   `epcisBody.eventList`; optional `id`, `instanceIdentifier`, `sender`, `receiver`, `epcisHeader` (master data);
 * - `EPCISQueryDocument`: `@context`, `type`, `epcisBody.queryResults` { `queryName`, `resultsBody.eventList` };
 * - a single event with its own `@context`.
 * Every event: `eventTime`, `eventTimeZoneOffset` (±hh:mm up to ±14:00), the fields of its type with their JSON types
 * (URIs, date-times, enumerated CBV short names or URIs, quantities, parties, sensor data, ILMD, certification info,
 * error declarations, persistent dispositions), the EPCs or quantities each type needs, and that every other member
 * is a namespaced extension (`prefix:name`, an absolute URI). Unknown event types must be URIs (extension events).
 *
 * It does not resolve identifiers (an EPC is any absolute URI here), nor check business rules: capture does that.
 * Pure: no I/O, no clock; runs in a browser.
 */
import { BIZ_STEPS, BIZ_TRANSACTION_TYPES, COMPONENTS, DISPOSITIONS, ERROR_REASONS, MEASUREMENT_TYPES, SENSOR_ALERT_TYPES, SOURCE_DEST_TYPES } from './cbv.ts';


/** One problem: `path` is where (`epcisBody.eventList[2].epcList[0]`, `creationDate`, … ; empty for the root). */
export interface EpcisFieldError {
  path: string;
  message: string;
}

type Obj = Record<string, unknown>;

export const EPCIS_EVENT_TYPES = ['ObjectEvent', 'AggregationEvent', 'TransformationEvent', 'TransactionEvent', 'AssociationEvent'] as const;
export type EpcisEventType = (typeof EPCIS_EVENT_TYPES)[number];

export const ACTIONS = ['OBSERVE', 'ADD', 'DELETE'] as const;

export { BIZ_STEPS, DISPOSITIONS } from './cbv.ts';

// ---------------------------------------------------------------------------------------------------------------
// Value formats

// RFC 3986 absolute URI (scheme ":" hier-part [ "?" query ] [ "#" fragment ]), ASCII only.
const PCHAR = "(?:[A-Za-z0-9\\-._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2})";
const SEGMENT_NZ = `${PCHAR}+(?:/${PCHAR}*)*`;
const AUTHORITY = "(?:(?:[A-Za-z0-9\\-._~!$&'()*+,;=:]|%[0-9A-Fa-f]{2})*@)?(?:\\[[0-9A-Fa-f:.]+\\]|\\[[Vv][0-9A-Fa-f]+\\.[A-Za-z0-9\\-._~!$&'()*+,;=:]+\\]|(?:[A-Za-z0-9\\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})*)(?::\\d*)?";
const URI_RE = new RegExp(
  `^[A-Za-z][A-Za-z0-9+.\\-]*:(?://${AUTHORITY}(?:/${PCHAR}*)*|/(?:${SEGMENT_NZ})?|${SEGMENT_NZ})(?:\\?(?:${PCHAR}|[/?])*)?(?:#(?:${PCHAR}|[/?])*)?$`,
);

/** An absolute URI (RFC 3986): a scheme, then only URI characters, `%` followed by two hex digits. */
export function isAbsoluteUri(value: unknown): value is string {
  return typeof value === 'string' && URI_RE.test(value);
}

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIME_RE = /^(\d{2}):(\d{2}):(\d{2}(?:\.\d+)?)(?:[Zz]|([+-])(\d{2})(?::?(\d{2}))?)$/;
const DAYS = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** An RFC 3339 date-time with a time zone (`Z` or an offset); a leap second only at 23:59:60 UTC. */
export function isDateTime(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  const parts = value.split(/[Tt\s]/);
  if (parts.length !== 2) return false;
  const d = DATE_RE.exec(parts[0]!);
  const t = TIME_RE.exec(parts[1]!);
  if (!d || !t) return false;
  const [year, month, day] = [Number(d[1]), Number(d[2]), Number(d[3])];
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (month < 1 || month > 12 || day < 1 || day > (month === 2 && leap ? 29 : DAYS[month]!)) return false;
  const [hr, min, sec] = [Number(t[1]), Number(t[2]), Number(t[3])];
  const sign = t[4] === '-' ? -1 : 1;
  const [tzH, tzM] = [Number(t[5] ?? 0), Number(t[6] ?? 0)];
  if (tzH > 23 || tzM > 59) return false;
  if (hr <= 23 && min <= 59 && sec < 60) return true;
  const utcMin = min - tzM * sign;
  const utcHr = hr - tzH * sign - (utcMin < 0 ? 1 : 0);
  return (utcHr === 23 || utcHr === -1) && (utcMin === 59 || utcMin === -1) && sec < 61;
}

const OFFSET_RE = /^[+-](?:(?:0\d|1[0-3]):[0-5]\d|14:00)$/;
const VERSION_RE = /^\d+(?:\.\d+)*$/;
const UOM_RE = /^[A-Z0-9]{2,3}$/;
const HEX_RE = /^[A-Fa-f0-9]+$/;
/** CBV's own URI forms: a vocabulary value that is a URI must not claim them (short names are used instead). */
const CBV_URI_RE = /^(?:urn:epcglobal:cbv|https?:\/\/ns\.gs1\.org\/cbv\/)/;
const GS1_VOC_RE = /^(?:https?:\/\/gs1\.org\/voc\/|https?:\/\/www\.gs1\.org\/voc\/)/;

// ---------------------------------------------------------------------------------------------------------------
// Walker

class Checker {
  readonly errors: EpcisFieldError[] = [];
  constructor(private readonly max: number) {}

  add(path: string, message: string): void {
    if (this.errors.length < this.max) this.errors.push({ path, message });
  }
  get full(): boolean {
    return this.errors.length >= this.max;
  }
}

const at = (base: string, key: string): string => (base ? `${base}.${key}` : key);
const item = (base: string, i: number): string => `${base}[${i}]`;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const has = (o: Obj, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'number') return Number.isInteger(v) ? 'an integer' : 'a number';
  return `a ${typeof v}`;
}

/** Canonical text of a JSON value (object keys sorted), for uniqueness checks. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (isObj(v)) return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`;
  return JSON.stringify(v) ?? 'undefined';
}

type Rule = (c: Checker, value: unknown, path: string) => void;

const str: Rule = (c, v, p) => {
  if (typeof v !== 'string') c.add(p, `must be a string, got ${typeName(v)}`);
};
const num: Rule = (c, v, p) => {
  if (typeof v !== 'number' || !Number.isFinite(v)) c.add(p, `must be a number, got ${typeName(v)}`);
};
const bool: Rule = (c, v, p) => {
  if (typeof v !== 'boolean') c.add(p, `must be a boolean, got ${typeName(v)}`);
};
const uri: Rule = (c, v, p) => {
  if (typeof v !== 'string') c.add(p, `must be a URI string, got ${typeName(v)}`);
  else if (!isAbsoluteUri(v)) c.add(p, `must be an absolute URI (scheme:…, no spaces, % followed by two hex digits), got ${JSON.stringify(v)}`);
};
const dateTime: Rule = (c, v, p) => {
  if (typeof v !== 'string') c.add(p, `must be a date-time string, got ${typeName(v)}`);
  else if (!isDateTime(v)) c.add(p, `must be an RFC 3339 date-time with a time zone (2026-03-01T10:00:00.000+01:00), got ${JSON.stringify(v)}`);
};
const hex: Rule = (c, v, p) => {
  if (typeof v !== 'string' || !HEX_RE.test(v)) c.add(p, `must be a hexadecimal string, got ${typeof v === 'string' ? JSON.stringify(v) : typeName(v)}`);
};

/** A CBV short name from `names`, or a URI (not one of CBV's own URI forms, or not GS1's Web vocabulary when `webVoc`). */
function vocabulary(names: readonly string[], what: string, webVoc = false): Rule {
  const set = new Set(names);
  return (c, v, p) => {
    if (typeof v !== 'string') return c.add(p, `must be a string (a CBV ${what} or a URI), got ${typeName(v)}`);
    if (set.has(v)) return;
    if (isAbsoluteUri(v) && !(webVoc ? GS1_VOC_RE : CBV_URI_RE).test(v)) return;
    const short = names.length <= 20 ? `: ${names.join(', ')}` : ` (CBV 2.0 short names such as ${names.slice(0, 3).join(', ')}, …)`;
    c.add(p, `${JSON.stringify(v)} is not a CBV ${what}${short}; other values must be URIs${webVoc ? '' : ' outside urn:epcglobal:cbv and https://ns.gs1.org/cbv/'}`);
  };
}

function oneOf(names: readonly string[]): Rule {
  const set = new Set(names);
  return (c, v, p) => {
    if (typeof v !== 'string' || !set.has(v)) c.add(p, `must be one of ${names.join(', ')}, got ${JSON.stringify(v) ?? typeName(v)}`);
  };
}

function arrayOf(each: Rule, opts: { minItems?: number; unique?: boolean } = {}): Rule {
  return (c, v, p) => {
    if (!Array.isArray(v)) return c.add(p, `must be an array, got ${typeName(v)}`);
    if (opts.minItems !== undefined && v.length < opts.minItems) c.add(p, `must have at least ${opts.minItems} item${opts.minItems === 1 ? '' : 's'}`);
    if (opts.unique) {
      const seen = new Map<string, number>();
      v.forEach((x, i) => {
        const key = canonical(x);
        const first = seen.get(key);
        if (first !== undefined) c.add(item(p, i), `repeats ${item(p, first)} (items must be unique)`);
        else seen.set(key, i);
      });
    }
    v.forEach((x, i) => {
      if (!c.full) each(c, x, item(p, i));
    });
  };
}

interface ObjectSpec {
  /** Known members and their rules. */
  fields: Record<string, Rule>;
  required?: readonly string[];
  /** `closed`: only `fields`; `extensible`: `fields` or URI-named extensions; `open`: anything else is allowed. */
  others: 'closed' | 'extensible' | 'open';
  /** Names the object in "is not a field of …" messages. */
  what: string;
}

function object(spec: ObjectSpec): Rule {
  return (c, v, p) => checkObject(c, v, p, spec);
}

function checkObject(c: Checker, v: unknown, p: string, spec: ObjectSpec): v is Obj {
  if (!isObj(v)) {
    c.add(p, `must be an object, got ${typeName(v)}`);
    return false;
  }
  for (const k of spec.required ?? []) if (!has(v, k)) c.add(at(p, k), `is required in ${spec.what}`);
  for (const [k, value] of Object.entries(v)) {
    if (c.full) return true;
    const rule = spec.fields[k];
    if (rule) rule(c, value, at(p, k));
    else if (spec.others === 'closed') c.add(at(p, k), `is not a field of ${spec.what} (its fields: ${Object.keys(spec.fields).join(', ')})`);
    else if (spec.others === 'extensible' && !isAbsoluteUri(k)) c.add(at(p, k), `is not a field of ${spec.what} and not a namespaced extension (prefix:name)`);
  }
  return true;
}

// ---------------------------------------------------------------------------------------------------------------
// EPCIS structures

const context: Rule = (c, v, p) => {
  const entry: Rule = (c2, x, q) => {
    if (isObj(x)) return;
    if (typeof x === 'string') return uri(c2, x, q);
    c2.add(q, `must be a URI or an object, got ${typeName(x)}`);
  };
  if (Array.isArray(v)) arrayOf(entry, { unique: true })(c, v, p);
  else entry(c, v, p);
};

const bizStep = vocabulary(BIZ_STEPS, 'business step');
const disposition = vocabulary(DISPOSITIONS, 'disposition');
const uom: Rule = (c, v, p) => {
  if (typeof v !== 'string' || !UOM_RE.test(v)) c.add(p, `must be a UN/CEFACT unit code of 2 or 3 capitals or digits (KGM, CEL), got ${JSON.stringify(v) ?? typeName(v)}`);
};

const quantityElement = object({ what: 'a quantity element', others: 'closed', required: ['epcClass'], fields: { epcClass: uri, quantity: num, uom } });
const quantityList = arrayOf(quantityElement);
const epcList = arrayOf(uri, { unique: true });
const uriList = arrayOf(uri);

const place = (what: string) => object({ what, others: 'open', required: ['id'], fields: { id: uri } });
const bizTransaction = object({
  what: 'a business transaction', others: 'closed', required: ['bizTransaction'],
  fields: { type: vocabulary(BIZ_TRANSACTION_TYPES, 'business transaction type'), bizTransaction: uri },
});
const sourceDestType = vocabulary(SOURCE_DEST_TYPES, 'source/destination type');
const source = object({ what: 'a source', others: 'closed', required: ['type', 'source'], fields: { type: sourceDestType, source: uri } });
const destination = object({ what: 'a destination', others: 'closed', required: ['type', 'destination'], fields: { type: sourceDestType, destination: uri } });

const sensorMetadata = object({
  what: 'sensorMetadata', others: 'extensible',
  fields: { time: dateTime, deviceID: uri, deviceMetadata: uri, rawData: uri, startTime: dateTime, endTime: dateTime, dataProcessingMethod: uri, bizRules: uri },
});
const sensorReport = object({
  what: 'a sensor report', others: 'extensible', required: ['type'],
  fields: {
    type: vocabulary(MEASUREMENT_TYPES, 'measurement type', true),
    exception: vocabulary(SENSOR_ALERT_TYPES, 'sensor alert type', true),
    deviceID: uri, deviceMetadata: uri, rawData: uri, dataProcessingMethod: uri, bizRules: uri, time: dateTime,
    microorganism: uri, chemicalSubstance: uri, coordinateReferenceSystem: uri,
    value: num, component: vocabulary(COMPONENTS, 'component'), stringValue: str, booleanValue: bool, hexBinaryValue: hex, uriValue: uri,
    minValue: num, maxValue: num, meanValue: num, sDev: num, percRank: num, percValue: num, uom: str,
  },
});
const sensorElement = object({
  what: 'a sensor element', others: 'extensible', required: ['sensorReport'],
  fields: { sensorMetadata, sensorReport: arrayOf(sensorReport, { minItems: 1 }) },
});

const ilmd: Rule = (c, v, p) => {
  if (!isObj(v)) return c.add(p, `must be an object, got ${typeName(v)}`);
  for (const k of Object.keys(v)) if (!isAbsoluteUri(k)) c.add(at(p, k), 'ILMD members must be namespaced (prefix:name)');
};

const certificationInfo: Rule = (c, v, p) => (Array.isArray(v) ? uriList(c, v, p) : uri(c, v, p));

const errorDeclaration = object({
  what: 'an error declaration', others: 'extensible', required: ['declarationTime'],
  fields: { declarationTime: dateTime, reason: vocabulary(ERROR_REASONS, 'error reason'), correctiveEventIDs: uriList },
});

const persistentDisposition: Rule = (c, v, p) => {
  const list = arrayOf(disposition, { minItems: 1, unique: true });
  if (checkObject(c, v, p, { what: 'a persistent disposition', others: 'closed', fields: { set: list, unset: list } }) && !has(v, 'set') && !has(v, 'unset')) {
    c.add(p, 'must have set or unset');
  }
};

const offset: Rule = (c, v, p) => {
  if (typeof v !== 'string' || !OFFSET_RE.test(v)) c.add(p, `must be a time zone offset from -14:00 to +14:00 (+01:00), got ${JSON.stringify(v) ?? typeName(v)}`);
};

/** Members every event may have. */
const COMMON: Record<string, Rule> = {
  '@context': context,
  type: str,
  eventTime: dateTime,
  recordTime: dateTime,
  eventTimeZoneOffset: offset,
  eventID: uri,
  certificationInfo,
  errorDeclaration,
};

const action = oneOf(ACTIONS);
const WHERE_WHY: Record<string, Rule> = {
  bizStep,
  disposition,
  readPoint: place('readPoint'),
  bizLocation: place('bizLocation'),
  bizTransactionList: arrayOf(bizTransaction),
  sourceList: arrayOf(source),
  destinationList: arrayOf(destination),
  sensorElementList: arrayOf(sensorElement),
};

const EVENT_FIELDS: Record<EpcisEventType, Record<string, Rule>> = {
  ObjectEvent: { action, epcList, quantityList, persistentDisposition, ...WHERE_WHY, ilmd },
  AggregationEvent: { parentID: uri, childEPCs: uriList, childQuantityList: quantityList, action, ...WHERE_WHY },
  AssociationEvent: { parentID: uri, childEPCs: uriList, childQuantityList: quantityList, action, ...WHERE_WHY },
  TransactionEvent: { ...WHERE_WHY, bizTransactionList: arrayOf(bizTransaction, { minItems: 1 }), parentID: uri, epcList: uriList, quantityList, action },
  TransformationEvent: {
    inputEPCList: epcList, inputQuantityList: quantityList, outputEPCList: epcList, outputQuantityList: quantityList,
    transformationID: uri, persistentDisposition, ...WHERE_WHY, ilmd,
  },
};

const EVENT_REQUIRED: Record<EpcisEventType, readonly string[]> = {
  ObjectEvent: ['eventTime', 'eventTimeZoneOffset', 'action'],
  AggregationEvent: ['eventTime', 'eventTimeZoneOffset', 'action'],
  AssociationEvent: ['eventTime', 'eventTimeZoneOffset', 'action', 'parentID'],
  TransactionEvent: ['eventTime', 'eventTimeZoneOffset', 'bizTransactionList', 'action'],
  TransformationEvent: ['eventTime', 'eventTimeZoneOffset'],
};

const nonEmpty = (e: Obj, k: string): boolean => Array.isArray(e[k]) && (e[k] as unknown[]).length > 0;

/** Checks one event at `path`; `needsContext` for an event standing alone (outside a document). */
function checkEvent(c: Checker, event: unknown, path: string, needsContext: boolean): void {
  if (!isObj(event)) return c.add(path, `an event must be an object, got ${typeName(event)}`);
  const type = event['type'];
  if (!has(event, 'type')) c.add(at(path, 'type'), 'is required: an event names its type (ObjectEvent, AggregationEvent, TransformationEvent, TransactionEvent, AssociationEvent or an extension URI)');
  if (needsContext && !has(event, '@context')) c.add(at(path, '@context'), 'is required');
  if (typeof type === 'string' && (EPCIS_EVENT_TYPES as readonly string[]).includes(type)) {
    const t = type as EpcisEventType;
    checkObject(c, event, path, { what: `an ${t}`.replace(/^an ([^AEIOU])/, 'a $1'), others: 'extensible', required: EVENT_REQUIRED[t], fields: { ...COMMON, ...EVENT_FIELDS[t] } });
    checkWhat(c, event, path, t);
    return;
  }
  if (has(event, 'type') && !(typeof type === 'string' && isAbsoluteUri(type))) {
    return c.add(at(path, 'type'), `must be ObjectEvent, AggregationEvent, TransformationEvent, TransactionEvent, AssociationEvent or an extension event type URI, got ${JSON.stringify(type) ?? typeName(type)}`);
  }
  // An extension event type: the common members only.
  checkObject(c, event, path, { what: 'an event', others: 'open', required: ['eventTime', 'eventTimeZoneOffset'], fields: COMMON });
}

/** What each event type must be about (EPCs, quantities, …) and where ILMD may appear. */
function checkWhat(c: Checker, e: Obj, path: string, type: EpcisEventType): void {
  const act = e['action'];
  switch (type) {
    case 'ObjectEvent':
      if (!has(e, 'epcList') && !nonEmpty(e, 'quantityList') && !(nonEmpty(e, 'sensorElementList') && has(e, 'readPoint'))) {
        c.add(at(path, 'epcList'), 'an ObjectEvent needs epcList, a non-empty quantityList, or a non-empty sensorElementList with a readPoint');
      }
      if (has(e, 'ilmd') && (act === 'OBSERVE' || act === 'DELETE')) c.add(at(path, 'ilmd'), `ILMD is only allowed with action ADD, not ${act}`);
      return;
    case 'AggregationEvent':
    case 'AssociationEvent':
      if (act !== 'DELETE' && !nonEmpty(e, 'childEPCs') && !nonEmpty(e, 'childQuantityList')) {
        c.add(at(path, 'childEPCs'), `an ${type} with action ${String(act)} needs a non-empty childEPCs or childQuantityList`);
      }
      return;
    case 'TransactionEvent':
      if (act !== 'DELETE' && !has(e, 'epcList') && !nonEmpty(e, 'quantityList')) {
        c.add(at(path, 'epcList'), `a TransactionEvent with action ${String(act)} needs epcList or a non-empty quantityList`);
      }
      return;
    case 'TransformationEvent': {
      const input = nonEmpty(e, 'inputEPCList') || nonEmpty(e, 'inputQuantityList');
      const output = nonEmpty(e, 'outputEPCList') || nonEmpty(e, 'outputQuantityList');
      if (input && output) return;
      if ((input || output) && has(e, 'transformationID')) return;
      c.add(
        at(path, input ? 'outputEPCList' : output ? 'inputEPCList' : 'inputEPCList'),
        'a TransformationEvent needs inputs (inputEPCList or inputQuantityList) and outputs (outputEPCList or outputQuantityList), or one of them with a transformationID',
      );
    }
  }
}

const vocabularyElement = object({
  what: 'a vocabulary element', others: 'open', required: ['id'],
  fields: {
    id: uri,
    attributes: arrayOf(object({
      what: 'an attribute', others: 'open', required: ['id'],
      fields: { id: uri, attribute: (c, v, p) => void (typeof v === 'number' || typeof v === 'string' || isObj(v) || c.add(p, `must be a number, a string or an object, got ${typeName(v)}`)) },
    })),
    children: uriList,
  },
});
const vocabularyList = arrayOf(object({ what: 'a vocabulary', others: 'open', required: ['type'], fields: { type: uri, vocabularyElementList: arrayOf(vocabularyElement) } }));

function eventList(c: Checker, v: unknown, p: string): void {
  if (!Array.isArray(v)) return c.add(p, `must be an array of events, got ${typeName(v)}`);
  v.forEach((e, i) => {
    if (!c.full) checkEvent(c, e, item(p, i), false);
  });
}

const epcisHeader = object({
  what: 'epcisHeader', others: 'extensible',
  fields: { epcisMasterData: object({ what: 'epcisMasterData', others: 'open', fields: { vocabularyList } }) },
});

const EPCIS_DOCUMENT: ObjectSpec = {
  what: 'an EPCISDocument', others: 'extensible', required: ['@context', 'type', 'schemaVersion', 'creationDate', 'epcisBody'],
  fields: {
    '@context': context, id: uri, type: str,
    schemaVersion: (c, v, p) => void (typeof v === 'string' && VERSION_RE.test(v) ? undefined : c.add(p, `must be a version string such as "2.0", got ${JSON.stringify(v) ?? typeName(v)}`)),
    creationDate: dateTime, instanceIdentifier: str, sender: str, receiver: str, epcisHeader,
    epcisBody: object({ what: 'epcisBody', others: 'open', required: ['eventList'], fields: { eventList } }),
  },
};

const EPCIS_QUERY_DOCUMENT: ObjectSpec = {
  what: 'an EPCISQueryDocument', others: 'extensible', required: ['@context', 'type', 'epcisBody'],
  fields: {
    '@context': context, id: uri, type: str,
    schemaVersion: EPCIS_DOCUMENT.fields['schemaVersion']!, creationDate: dateTime,
    epcisBody: object({
      what: 'epcisBody', others: 'extensible', required: ['queryResults'],
      fields: {
        queryResults: object({
          what: 'queryResults', others: 'extensible', required: ['queryName', 'resultsBody'],
          fields: {
            queryName: str, subscriptionID: str,
            resultsBody: object({ what: 'resultsBody', others: 'extensible', required: ['eventList'], fields: { eventList, vocabularyList } }),
          },
        }),
      },
    }),
  },
};

/**
 * Checks an EPCIS 2.0 JSON document: an `EPCISDocument`, an `EPCISQueryDocument`, or one event with its `@context`.
 * Returns every problem found (at most `maxErrors`), in document order; an empty list means structurally valid.
 * Never throws, whatever `doc` is.
 */
export function validateEpcisDocument(doc: unknown, maxErrors = 1000): EpcisFieldError[] {
  const c = new Checker(maxErrors);
  if (!isObj(doc)) {
    c.add('', `an EPCIS document must be a JSON object, got ${typeName(doc)}`);
    return c.errors;
  }
  const type = doc['type'];
  if (type === 'EPCISDocument') checkObject(c, doc, '', EPCIS_DOCUMENT);
  else if (type === 'EPCISQueryDocument') checkObject(c, doc, '', EPCIS_QUERY_DOCUMENT);
  else if (!has(doc, 'type')) c.add('type', 'is required: EPCISDocument, EPCISQueryDocument or an event type');
  else if (typeof type !== 'string') c.add('type', `must be a string, got ${typeName(type)}`);
  else checkEvent(c, doc, '', true);
  return c.errors;
}

/** Splits a path of {@link validateEpcisDocument} into the index in `epcisBody.eventList` and the path inside that event. */
export function eventPath(path: string): { eventIndex: number | null; field: string } {
  const m = /^epcisBody\.(?:queryResults\.resultsBody\.)?eventList\[(\d+)\]\.?(.*)$/.exec(path);
  return m ? { eventIndex: Number(m[1]), field: m[2]! } : { eventIndex: null, field: path };
}
