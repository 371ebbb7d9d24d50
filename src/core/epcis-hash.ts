/**
 * GS1 CBV "EPCIS event hash ID" (`ni:///sha-256;<hex>?ver=CBV2.0`).
 *
 * Re-implements the canonicalisation of the reference implementation RalphTro/epcis-event-hash-generator
 * (latest rules, PR #123 state): the event is turned into the XML-like (key, value, children) tree that the reference
 * builds from JSON-LD, the fields of the canonical property order are emitted first (lists sorted, values normalised),
 * then — CBV 2.0 — the ILMD, the user extensions nested in standard fields (each prefixed by its field path, in
 * property order) and the event-level extensions (sorted); the CBV 2.1 draft puts nested extensions inline instead.
 * Numbers follow the reference's `Decimal` rules exactly (never a binary float); {@link parseJsonForHash} keeps a
 * document's number tokens as written. Pure: no I/O, no clock.
 *
 * Where the reference depends on its environment or crashes, this module picks a deterministic answer: a timestamp
 * without offset is read as UTC (reference: the machine's zone); sub-millisecond rounding that reaches the next second
 * carries over and `inf` stays as written (reference: the event is dropped); term definitions in `@context` given as
 * objects use their `@id`. The reference expands bare vocabulary strings with a heuristic over the whole document;
 * `epcisDocumentEventHashIds` does the same over all events, `epcisEventHashId` over the one event it is given.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { parse as parseLossless } from 'lossless-json';
import { epcUrnToDigitalLink } from './identifiers.ts';
import { BIZ_STEPS, BIZ_TRANSACTION_TYPES, COMPONENTS, CBV_WEB, DISPOSITIONS, ERROR_REASONS, GS1_VOC, MEASUREMENT_TYPES, SENSOR_ALERT_TYPES, SOURCE_DEST_TYPES } from './cbv.ts';

/**
 * A JSON number exactly as its document writes it (the token text). `JSON.parse` turns numbers into binary floats,
 * which loses digits beyond the 15th–17th; the reference reads documents with Python's `json` (integers exact, other
 * numbers as floats), so the hash must see the token. {@link parseJsonForHash} produces these.
 */
export class JsonNumberText {
  constructor(readonly text: string) {}
}

/**
 * Parses JSON text like `JSON.parse`, but keeps every number as a {@link JsonNumberText}, for the hash functions.
 * @throws SyntaxError on invalid JSON (also on a key repeated with different values, which `JSON.parse` accepts).
 */
export function parseJsonForHash(text: string): unknown {
  return parseLossless(text, null, (token) => new JsonNumberText(token));
}

const JSON_STRING_OR_NUMBER = /"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g;

/**
 * Whether hashing `JSON.parse(text)` could differ from hashing {@link parseJsonForHash}`(text)`: some number token is
 * not hashed the same once read as a double (an integer beyond 2^53, `1e20`, …). A cheap scan, so that the slower
 * lossless parse is only needed for such documents. For well-formed JSON text.
 */
export function jsonNumbersNeedExactParse(text: string): boolean {
  for (const [token] of text.matchAll(JSON_STRING_OR_NUMBER)) {
    if (token.startsWith('"')) continue;
    const x = Number(token);
    if (!Number.isFinite(x) || pyJsonNumber(token) !== pyJsonNumber(JSON.stringify(x))) return true;
  }
  return false;
}

/** Version of the event hash ID algorithm: CBV 2.0 (ratified, default) or the CBV 2.1 draft. */
export type EpcisHashVersion = 'CBV2.0' | 'CBV2.1';

/** Options of the hash functions; `version` defaults to `CBV2.0`. */
export interface EpcisHashOptions {
  version?: EpcisHashVersion;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Tree model (the reference's "simple python object": key, text value, children)                                */
/* ------------------------------------------------------------------------------------------------------------ */

interface Node {
  key: string;
  value: string;
  children: Node[];
}

interface Profile {
  /** 2.1: user extensions nested in a standard field are emitted inline, after the field's regular sub-fields. */
  inlineUserExtensions: boolean;
  /** 2.1: the `sensorElementList` wrapper name is emitted; 2.0 omits it. */
  keepSensorElementList: boolean;
}

const PROFILES: Record<EpcisHashVersion, Profile> = {
  'CBV2.0': { inlineUserExtensions: false, keepSensorElementList: false },
  'CBV2.1': { inlineUserExtensions: true, keepSensorElementList: true },
};

/** Canonical property order: [name, sub-order | null]; 'typed' marks type-prefixed list elements. */
type Order = ReadonlyArray<readonly [string, Order | 'typed' | null]>;

const QUANTITY_ELEMENT: Order = [['quantityElement', [['epcClass', null], ['quantity', null], ['uom', null]]]];
const EPCS: Order = [['epc', null]];

const SENSOR_METADATA: Order = [
  ['time', null], ['startTime', null], ['endTime', null], ['deviceID', null], ['deviceMetadata', null],
  ['rawData', null], ['dataProcessingMethod', null], ['bizRules', null],
];
const SENSOR_REPORT: Order = [
  ['type', null], ['exception', null], ['deviceID', null], ['deviceMetadata', null], ['rawData', null],
  ['dataProcessingMethod', null], ['time', null], ['microorganism', null], ['chemicalSubstance', null],
  ['value', null], ['component', null], ['stringValue', null], ['booleanValue', null], ['hexBinaryValue', null],
  ['uriValue', null], ['minValue', null], ['maxValue', null], ['meanValue', null], ['sDev', null],
  ['percRank', null], ['percValue', null], ['uom', null], ['coordinateReferenceSystem', null],
];

const PROP_ORDER: Order = [
  ['eventTime', null],
  ['eventTimeZoneOffset', null],
  ['epcList', EPCS],
  ['parentID', null],
  ['inputEPCList', EPCS],
  ['childEPCs', EPCS],
  ['quantityList', QUANTITY_ELEMENT],
  ['childQuantityList', QUANTITY_ELEMENT],
  ['inputQuantityList', QUANTITY_ELEMENT],
  ['outputEPCList', EPCS],
  ['outputQuantityList', QUANTITY_ELEMENT],
  ['action', null],
  ['transformationID', null],
  ['bizStep', null],
  ['disposition', null],
  ['persistentDisposition', [['set', null], ['unset', null]]],
  ['readPoint', [['id', null]]],
  ['bizLocation', [['id', null]]],
  ['bizTransactionList', [['bizTransaction', 'typed']]],
  ['sourceList', [['source', 'typed']]],
  ['destinationList', [['destination', 'typed']]],
  ['sensorElementList', [['sensorElement', [['sensorMetadata', SENSOR_METADATA], ['sensorReport', SENSOR_REPORT]]]]],
];

/** Top-level fields that never take part in the hash. */
const IGNORED_TOP_LEVEL = new Set(['recordTime', 'eventID', 'type', 'errorDeclaration', 'certificationInfo']);
/** JSON keys dropped wherever they occur (the reference's JSON reader ignores them). */
const IGNORED_KEYS = new Set(['#text', 'rdfs:comment', 'comment']);
/** Keys whose presence in a JSON object (or string in an array) stops the reference from sorting its children. */
const UNSORTED_MARKERS = ['bizTransaction', 'source', 'destination'];

/* ------------------------------------------------------------------------------------------------------------ */
/* Public API                                                                                                     */
/* ------------------------------------------------------------------------------------------------------------ */

/** Pre-hash string of one EPCIS 2.0 JSON(-LD) event, `context` being its document's `@context` (for debugging). */
export function epcisPreHashString(event: Record<string, unknown>, context?: unknown, options?: EpcisHashOptions): string {
  const vocabulary = collectVocabulary([event]);
  return preHash(event, context, vocabulary, PROFILES[options?.version ?? 'CBV2.0']);
}

/** CBV event hash ID `ni:///sha-256;<hex>?ver=CBV2.0` of one event; `context` is its document's `@context`. */
export function epcisEventHashId(event: Record<string, unknown>, context?: unknown, options?: EpcisHashOptions): string {
  return niUri(epcisPreHashString(event, context, options), options?.version ?? 'CBV2.0');
}

/** Hash IDs of every event of an EPCIS document (or query document), in document order. */
export function epcisDocumentEventHashIds(document: Record<string, unknown>, options?: EpcisHashOptions): string[] {
  const version = options?.version ?? 'CBV2.0';
  const events = documentEvents(document);
  // The reference expands bare vocabulary strings with a document-wide heuristic; use the whole document's terms.
  const vocabulary = collectVocabulary(events);
  return events.map((event) => niUri(preHash(event, document['@context'], vocabulary, PROFILES[version]), version));
}

function niUri(preHashString: string, version: EpcisHashVersion): string {
  return `ni:///sha-256;${bytesToHex(sha256(utf8ToBytes(preHashString)))}?ver=${version}`;
}

function documentEvents(document: Record<string, unknown>): Record<string, unknown>[] {
  const body = asObject(document['epcisBody']);
  if (!body) return [];
  let list: unknown = body['eventList'];
  if (list === undefined) {
    const results = asObject(asObject(body['queryResults'])?.['resultsBody']);
    list = results?.['eventList'] ?? (body['event'] === undefined ? [] : [body['event']]);
  }
  return Array.isArray(list) ? list.map((e) => asObject(e) ?? {}) : [];
}

function asObject(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof JsonNumberText) ? (v as Record<string, unknown>) : undefined;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Pre-hash construction                                                                                          */
/* ------------------------------------------------------------------------------------------------------------ */

function preHash(event: Record<string, unknown>, context: unknown, vocabulary: readonly string[], profile: Profile): string {
  const namespaces = collectNamespaces(context);
  const expanded = replaceBareStrings(event, vocabulary);
  const tree = structureCorrection(jsonToNode(expanded, namespaces));
  const top = tree.children;
  const ordered = orderedPreHash(top, PROP_ORDER, profile);
  if (profile.inlineUserExtensions) {
    // CBV 2.1: extensions inside standard fields are already inline; ILMD and event-level extensions follow, sorted.
    const rest = top.filter((c) => !IGNORED_TOP_LEVEL.has(c.key));
    return `eventType=${tree.key}${ordered}${rest.length > 0 ? genericPreHash(rest, profile) : ''}`;
  }
  // CBV 2.0: ILMD first, then the user extensions nested in standard fields (each prefixed by its field path, in
  // property order), then the event-level extensions (sorted). The reference's (PR #123) trailing block.
  const ilmd = top.filter((c) => c.key === 'ilmd');
  for (const n of ilmd) remove(top, n);
  const fieldExtensions: string[] = [];
  for (const [name, sub] of PROP_ORDER) {
    if (sub === null || sub === 'typed') continue;
    for (const child of top.filter((c) => c.key === name)) {
      const inner = nestedExtensions(child.children, sub, profile);
      if (!inner) continue;
      fieldExtensions.push(displayName(name, profile) + inner);
      remove(top, child);
    }
  }
  const rest = top.filter((c) => !IGNORED_TOP_LEVEL.has(c.key));
  const ilmdText = ilmd.length > 0 ? genericPreHash(ilmd, profile) : '';
  return `eventType=${tree.key}${ordered}${ilmdText}${fieldExtensions.join('')}${rest.length > 0 ? genericPreHash(rest, profile) : ''}`;
}

/**
 * CBV 2.0: the user extensions left inside a standard field after its regular sub-fields were emitted: for each
 * sub-field with its own property order (in that order, instances in tree order) its nested extensions prefixed by its
 * name, then the field's own direct extensions (generic form, sorted). Empty when the subtree holds no extension.
 * Regular leftovers that are no extension are dropped here, as the reference does.
 */
function nestedExtensions(children: readonly Node[], order: Order, profile: Profile): string {
  const parts: string[] = [];
  for (const [name, sub] of order) {
    if (sub === null || sub === 'typed') continue;
    for (const child of children.filter((c) => c.key === name)) {
      const inner = nestedExtensions(child.children, sub, profile);
      if (inner) parts.push(displayName(name, profile) + inner);
    }
  }
  const direct = children.filter((c) => isUserExtensionKey(c.key));
  if (direct.length > 0) parts.push(genericPreHash(direct, profile));
  return parts.join('');
}

/** A user extension element: an expanded key `{namespace/}local` (the reference's test: `{` and `/}` in the key). */
function isUserExtensionKey(key: string): boolean {
  return key.includes('{') && key.includes('/}');
}

/** CBV 2.0 has no `sensorElementList` wrapper name in the pre-hash string; 2.1 keeps it. */
function displayName(name: string, profile: Profile): string {
  return name === 'sensorElementList' && !profile.keepSensorElementList ? '' : name;
}

/**
 * Emits the children named in `order`, in that order; the values under one name are sorted. Children fully consumed
 * are removed from `children`, so that what is left afterwards is exactly what the order did not cover.
 */
function orderedPreHash(children: Node[], order: Order, profile: Profile): string {
  const extensions = profile.inlineUserExtensions ? takeInlineExtensions(children) : [];
  let out = '';
  for (const [name, sub] of order) {
    const values: string[] = [];
    for (const child of children.filter((c) => c.key === name)) {
      const s = sub === 'typed' ? typedElementPreHash(child, profile) : childPreHash(child, sub, profile);
      if (s) values.push(s);
      if (child.children.length === 0) remove(children, child);
    }
    values.sort(compareCodePoints);
    out += values.join('');
  }
  if (extensions.length > 0) out += genericPreHash(extensions, profile);
  return out;
}

function childPreHash(child: Node, sub: Order | null, profile: Profile): string {
  const grand = sub ? orderedPreHash(child.children, sub, profile) : '';
  let text = '';
  if (child.value) {
    text = pyStrip(child.value);
    const k = child.key.toLowerCase();
    text = k.includes('time') && !k.includes('offset') ? fixTimestamp(text) : canonizeValue(text);
    if (text) text = `=${text}`;
  }
  if (!text && !grand) return '';
  if (child.key === 'sensorElementList' && !profile.keepSensorElementList) return text + grand;
  return child.key + text + grand;
}

/**
 * bizTransaction / source / destination: the type is emitted before the identifier (rule 13). Nothing else of the
 * entry takes part (GS1's schema allows no other member; the reference keeps only an entry's first two members), so
 * the entry is consumed whole.
 */
function typedElementPreHash(child: Node, profile: Profile): string {
  const types = child.children.filter((c) => c.key === 'type');
  child.children.length = 0;
  const typePart = types.map((t) => childPreHash(t, null, profile)).filter((t) => t !== '').sort(compareCodePoints).join('');
  const id = child.value ? canonizeValue(pyStrip(child.value)) : '';
  return typePart + (id ? `${child.key}=${id}` : '');
}

/**
 * CBV 2.1 draft: user extensions (`{ns/}name`) nested in a standard field are emitted right after its regular fields;
 * the event level itself (recognised, as in the reference, by an eventTime or action child) keeps them for the tail.
 */
function takeInlineExtensions(children: Node[]): Node[] {
  if (children.length <= 1) return [];
  if (children.some((c) => c.key.includes('eventTime') || c.key.includes('action'))) return [];
  const ext = children.filter((c) => c.key.includes('{') && c.key.includes('/}'));
  for (const e of ext) remove(children, e);
  return ext;
}

/** Everything not covered by the property order: key[=value] plus its own children, sorted lexically. */
function genericPreHash(children: readonly Node[], profile: Profile): string {
  const values = children.map((child) => {
    let text = pyStrip(child.value);
    if (text) text = `=${canonizeValue(text)}`;
    const key = displayName(child.key, profile);
    return key + text + genericPreHash(child.children, profile);
  });
  if (values.length > 1 && !children.some((c) => UNSORTED_MARKERS.includes(c.key))) values.sort(compareCodePoints);
  return values.join('');
}

function remove(list: Node[], node: Node): void {
  const i = list.indexOf(node);
  if (i >= 0) list.splice(i, 1);
}

/* ------------------------------------------------------------------------------------------------------------ */
/* JSON-LD -> tree                                                                                                */
/* ------------------------------------------------------------------------------------------------------------ */

const WELL_KNOWN_NAMESPACES: ReadonlyArray<readonly [string, string]> = [
  ['gs1', 'https://ref.gs1.org/voc/'],
  ['cbv', 'https://ref.gs1.org/cbv/'],
  ['epcis', 'https://ref.gs1.org/epcis/'],
  ['cbvmda', 'urn:epcglobal:cbv:mda'],
];

/** Prefix -> namespace IRI: the standard ones, then the document's `@context` entries; `gs1` is always GS1's voc. */
function collectNamespaces(context: unknown): Map<string, string> {
  const ns = new Map<string, string>(WELL_KNOWN_NAMESPACES);
  const entries = Array.isArray(context) ? context : [context];
  for (const c of entries) {
    if (typeof c === 'string') {
      ns.set(c, c);
      continue;
    }
    const obj = asObject(c);
    if (!obj) continue;
    for (const [prefix, iri] of Object.entries(obj)) {
      if (typeof iri === 'string') ns.set(prefix, iri);
      else if (typeof asObject(iri)?.['@id'] === 'string') ns.set(prefix, asObject(iri)?.['@id'] as string);
    }
  }
  ns.set('gs1', 'https://ref.gs1.org/voc/');
  return ns;
}

/** Keys `prefix:local` with a known prefix become `{namespace}local`. */
function expandKey(key: string, ns: ReadonlyMap<string, string>): string {
  const i = key.indexOf(':');
  if (i < 0) return key;
  const iri = ns.get(key.slice(0, i));
  return iri === undefined ? key : `{${iri}}${key.slice(i + 1)}`;
}

/** Values: only CURIEs of GS1 namespaces (`cbv:`, `gs1:`, ...) are expanded (rules 15/16); others stay as written. */
function expandValue(value: string, ns: ReadonlyMap<string, string>): string {
  const i = value.indexOf(':');
  if (i < 0) return value;
  const iri = ns.get(value.slice(0, i));
  if (iri === undefined) return value;
  const bare = iri.replaceAll('{', '').replaceAll('}', '');
  return bare.startsWith('https://ref.gs1.org') || bare.startsWith('https://gs1.org') ? bare + value.slice(i + 1) : value;
}

function jsonToNode(json: unknown, ns: ReadonlyMap<string, string>): Node {
  if (Array.isArray(json)) {
    const node: Node = { key: '', value: '', children: json.map((j) => jsonToNode(j, ns)) };
    if (!json.some((j) => typeof j === 'string' && UNSORTED_MARKERS.includes(j))) node.children.sort(compareNodes);
    return node;
  }
  const obj = asObject(json);
  if (obj) {
    const node: Node = { key: typeof obj['type'] === 'string' ? obj['type'] : '', value: '', children: [] };
    if (typeof obj['#text'] === 'string') node.value = obj['#text'];
    for (const [rawKey, val] of Object.entries(obj)) {
      if (IGNORED_KEYS.has(rawKey) || rawKey.startsWith('@xmlns')) continue;
      const child = jsonToNode(val, ns);
      const key = expandKey(rawKey, ns);
      if (Array.isArray(val)) for (const el of child.children) node.children.push({ key, value: el.value, children: el.children });
      else node.children.push({ key, value: child.value, children: child.children });
    }
    if (!UNSORTED_MARKERS.some((k) => k in obj)) node.children.sort(compareNodes);
    return node;
  }
  return { key: '', value: scalarText(json, ns), children: [] };
}

function scalarText(v: unknown, ns: ReadonlyMap<string, string>): string {
  if (typeof v === 'string') return expandValue(v, ns);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (v instanceof JsonNumberText) return pyJsonNumber(v.text);
  // A JS number is hashed as the JSON text it is written as (what a reader of the exported document sees).
  if (typeof v === 'number') return Number.isFinite(v) ? pyJsonNumber(JSON.stringify(v)) : 'None';
  if (typeof v === 'bigint') return v.toString();
  if (v === null || v === undefined) return 'None';
  return String(v);
}

/** The JSON data model differs from the XML one the algorithm was written for; map it onto the XML model. */
function structureCorrection(node: Node): Node {
  const children = [...node.children];
  // `fooList: [a, b]` -> fooList with children foo=a, foo=b
  const lists = new Map<string, Node[]>();
  for (const el of children.filter((c) => c.key.endsWith('List'))) {
    const items = lists.get(el.key) ?? [];
    items.push({ key: el.key.slice(0, -4), value: el.value, children: el.children });
    lists.set(el.key, items);
    remove(children, el);
  }
  for (const [name, items] of lists) children.push({ key: name, value: '', children: items });
  const childEpcs = children.filter((c) => c.key === 'childEPCs');
  for (const el of childEpcs) remove(children, el);
  if (childEpcs.length > 0) {
    children.push({ key: 'childEPCs', value: '', children: childEpcs.map((c) => ({ key: 'epc', value: c.value, children: [] })) });
  }
  return correctNode({ key: node.key, value: node.value, children: children.map(structureCorrection) });
}

function correctNode(node: Node): Node {
  const { key, value, children } = node;
  if (key === 'readPoint' || key === 'bizLocation') {
    return children.length === 0 ? { key, value: '', children: [{ key: 'id', value, children: [] }] } : node;
  }
  if (key === 'bizTransaction' || key === 'source' || key === 'destination') {
    const id = children.find((c) => c.key === key);
    if (id) return { key, value: id.value, children: children.filter((c) => c !== id) };
  }
  if (key === 'inputEPC' || key === 'outputEPC') return { key: 'epc', value, children };
  if (key === 'inputQuantity' || key === 'outputQuantity' || key === 'childQuantity' || (key === 'quantity' && children.length > 0)) {
    return { key: 'quantityElement', value, children };
  }
  return node;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Bare-string CBV vocabulary (rule 16)                                                                            */
/* ------------------------------------------------------------------------------------------------------------ */

const CBV = CBV_WEB;
const BTTS = BIZ_TRANSACTION_TYPES;
const SDTS = SOURCE_DEST_TYPES;
const SENSOR_EXCEPTIONS = SENSOR_ALERT_TYPES;

function terms(names: readonly string[], prefix: string): ReadonlyMap<string, string> {
  return new Map(names.map((n) => [n, prefix + n]));
}
const BIZ_STEP_TERMS = terms(BIZ_STEPS, `${CBV}BizStep-`);
const DISPOSITION_TERMS = terms(DISPOSITIONS, `${CBV}Disp-`);
const BTT_TERMS = terms(BTTS, `${CBV}BTT-`);
const SDT_TERMS = terms(SDTS, `${CBV}SDT-`);
const ER_TERMS = terms(ERROR_REASONS, `${CBV}ER-`);
const COMPONENT_TERMS = terms(COMPONENTS, `${CBV}Comp-`);
const MEASUREMENT_TERMS = terms(MEASUREMENT_TYPES, GS1_VOC);
const EXCEPTION_TERMS = terms(SENSOR_EXCEPTIONS, GS1_VOC);
const VOCAB_PREFIXES = ['https://ref.gs1.org/cbv', 'https://gs1.org/voc', 'https://ref.gs1.org/voc'];

/**
 * The reference JSON-LD-expands the document and keeps every expanded value under GS1's cbv/voc namespaces; a bare
 * string anywhere is then replaced by the unique such IRI ending in `-<string>` or `/<string>`. This collects that set.
 */
function collectVocabulary(events: readonly Record<string, unknown>[]): string[] {
  const found = new Set<string>();
  const addTerm = (v: unknown, table: ReadonlyMap<string, string>): void => {
    for (const s of Array.isArray(v) ? v : [v]) {
      if (typeof s !== 'string') continue;
      const iri = table.get(s) ?? (s.startsWith('cbv:') ? CBV + s.slice(4) : s.startsWith('gs1:') ? GS1_VOC + s.slice(4) : s);
      found.add(iri);
    }
  };
  const walkStrings = (v: unknown): void => {
    if (typeof v === 'string') found.add(v);
    else if (v instanceof JsonNumberText) return;
    else if (Array.isArray(v)) v.forEach(walkStrings);
    else if (asObject(v)) Object.values(v as Record<string, unknown>).forEach(walkStrings);
  };
  for (const event of events) {
    walkStrings(event);
    addTerm(event['bizStep'], BIZ_STEP_TERMS);
    addTerm(event['disposition'], DISPOSITION_TERMS);
    const pd = asObject(event['persistentDisposition']);
    if (pd) {
      addTerm(pd['set'], DISPOSITION_TERMS);
      addTerm(pd['unset'], DISPOSITION_TERMS);
    }
    addTerm(asObject(event['errorDeclaration'])?.['reason'], ER_TERMS);
    for (const [list, table] of [['bizTransactionList', BTT_TERMS], ['sourceList', SDT_TERMS], ['destinationList', SDT_TERMS]] as const) {
      const items = event[list];
      if (Array.isArray(items)) for (const item of items) addTerm(asObject(item)?.['type'], table);
    }
    const sensorElements = event['sensorElementList'];
    if (Array.isArray(sensorElements)) {
      for (const se of sensorElements) {
        const reports = asObject(se)?.['sensorReport'];
        for (const r of Array.isArray(reports) ? reports : [reports]) {
          const report = asObject(r);
          if (!report) continue;
          addTerm(report['type'], MEASUREMENT_TERMS);
          addTerm(report['exception'], EXCEPTION_TERMS);
          addTerm(report['component'], COMPONENT_TERMS);
        }
      }
    }
  }
  return [...found].filter((v) => VOCAB_PREFIXES.some((p) => v.startsWith(p)));
}

function replaceBareStrings(json: unknown, vocabulary: readonly string[]): unknown {
  if (typeof json === 'string') {
    const matches = vocabulary.filter((x) => x.endsWith(`-${json}`) || x.endsWith(`/${json}`));
    return matches.length === 1 ? matches[0] : json;
  }
  if (Array.isArray(json)) return json.map((j) => replaceBareStrings(j, vocabulary));
  const obj = asObject(json);
  if (!obj) return json;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) out[k] = replaceBareStrings(v, vocabulary);
  return out;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Value canonicalisation                                                                                         */
/* ------------------------------------------------------------------------------------------------------------ */

/**
 * Rules 14, 6/7, 17/18: CBV URNs to web URIs, numbers without trailing zeros, GS1 keys to canonical Digital Links.
 * Where the reference's `dl_normaliser` returns None (no GS1 key, or a value outside its character class), the
 * value is kept as written.
 */
function canonizeValue(text: string): string {
  const t = formatNumeric(webVocabulary(text));
  return epcUrnToDigitalLink(t) ?? t;
}

function webVocabulary(text: string): string {
  return text
    .replaceAll('urn:epcglobal:cbv:bizstep:', `${CBV}BizStep-`)
    .replaceAll('urn:epcglobal:cbv:disp:', `${CBV}Disp-`)
    .replaceAll('urn:epcglobal:cbv:btt:', `${CBV}BTT-`)
    .replaceAll('urn:epcglobal:cbv:sdt:', `${CBV}SDT-`)
    .replaceAll('urn:epcglobal:cbv:er:', `${CBV}ER-`);
}

/**
 * Python's `str()` of what `json.loads` makes of a number token: an integer token (no `.`, no exponent) is an exact
 * integer, any other token a binary float (`repr`).
 */
function pyJsonNumber(token: string): string {
  if (!/[.eE]/.test(token)) {
    try {
      return BigInt(token).toString();
    } catch {
      return token;
    }
  }
  return pyFloatRepr(Number(token));
}

/**
 * Rule 6 as the reference applies it to every value (XML has no number type): text that Python's `Decimal` reads as
 * a finite number is written exactly — an integral value as `str(d.to_integral_value())` (`25.0` → `25`,
 * `040123450000001020` → `40123450000001020`, `1.5E3` → `1.5E+3`), any other as `format(d.normalize(), 'f')`
 * (`0.000001` stays `0.000001`, `12.40` → `12.4`; `normalize` rounds to 28 significant digits, half to even).
 * Never through a binary float. Other text (and Infinity/NaN, and numbers whose exponent is outside the default
 * context's ±999999, where Python raises) is kept as written.
 */
function formatNumeric(text: string): string {
  const d = parsePyDecimal(text);
  if (d === null) return text;
  const { negative, digits, exp } = d;
  const sign = negative ? '-' : '';
  const coefficient = digits.replace(/^0+(?=.)/, '');
  if (coefficient.length + exp - 1 > 999_999 || coefficient.length + exp - 1 < -999_999) return text;
  const integral = exp >= 0 || coefficient === '0' || /^0+$/.test(coefficient.slice(Math.max(coefficient.length + exp, 0)));
  if (integral) {
    if (exp <= 0) {
      const kept = coefficient.slice(0, Math.max(coefficient.length + exp, 0)).replace(/^0+(?=.)/, '');
      return sign + (kept === '' ? '0' : kept);
    }
    // Decimal's to-scientific-string with a positive exponent: one digit before the point.
    const rest = coefficient.slice(1);
    return `${sign}${coefficient[0]}${rest ? `.${rest}` : ''}E+${coefficient.length + exp - 1}`;
  }
  let [c, e] = roundHalfEven(coefficient, exp, 28);
  const stripped = c.replace(/0+$/, '');
  e += c.length - stripped.length;
  c = stripped;
  if (e >= 0) return sign + c + '0'.repeat(e); // rounding reached an integer
  const point = c.length + e;
  return point > 0 ? `${sign}${c.slice(0, point)}.${c.slice(point)}` : `${sign}0.${'0'.repeat(-point)}${c}`;
}

/** Rounds coefficient `c` (no leading zeros) × 10^e to `precision` significant digits, half to even. */
function roundHalfEven(c: string, e: number, precision: number): [string, number] {
  if (c.length <= precision) return [c, e];
  const drop = c.length - precision;
  let kept = c.slice(0, precision);
  const first = c.charCodeAt(precision) - 48;
  const tailNonZero = /[1-9]/.test(c.slice(precision + 1));
  const up = first > 5 || (first === 5 && (tailNonZero || (kept.charCodeAt(kept.length - 1) - 48) % 2 === 1));
  if (up) {
    const bumped = (BigInt(kept) + 1n).toString();
    if (bumped.length > precision) return [bumped.slice(0, precision), e + drop + 1];
    kept = bumped;
  }
  return [kept, e + drop];
}

const PY_DECIMAL = /^([+-]?)(?:(\d+)(?:\.(\d*))?|\.(\d+))(?:[eE]([+-]?\d+))?$/;

/**
 * Python's `Decimal(text)` for finite values: underscores removed anywhere, any Unicode decimal digit read as its
 * ASCII digit, surrounding whitespace ignored. Null for anything else (Infinity and NaN included).
 */
function parsePyDecimal(text: string): { negative: boolean; digits: string; exp: number } | null {
  let ascii = '';
  for (const ch of text.replaceAll('_', '')) {
    const code = ch.codePointAt(0) as number;
    if (code < 0x80) ascii += ch;
    else if (PY_SPACE.includes(ch)) ascii += ' ';
    else {
      const digit = unicodeDigitValue(ch);
      if (digit === null) return null;
      ascii += String(digit);
    }
  }
  const m = PY_DECIMAL.exec(ascii.trim());
  if (!m) return null;
  const [, sign = '', intPart, fracPart, onlyFrac, expPart] = m;
  const whole = intPart ?? '';
  const frac = onlyFrac ?? fracPart ?? '';
  const exp = expPart === undefined ? 0 : Number(expPart);
  if (!Number.isSafeInteger(exp)) return null;
  return { negative: sign === '-', digits: whole + frac || '0', exp: exp - frac.length };
}

const DECIMAL_DIGIT = /^\p{Nd}$/u;

/** Value of a Unicode decimal digit: Unicode encodes every Nd set as a contiguous 0–9 run, runs back to back. */
function unicodeDigitValue(ch: string): number | null {
  if (!DECIMAL_DIGIT.test(ch)) return null;
  const code = ch.codePointAt(0) as number;
  let before = 0;
  while (DECIMAL_DIGIT.test(String.fromCodePoint(code - before - 1))) before++;
  return before % 10;
}

/** Python's `repr(float)`: shortest round-trip digits, exponent form below 1e-4 or from 1e16 on. */
function pyFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const sign = x < 0 ? '-' : '';
  const [mant = '', expStr = '0'] = Math.abs(x).toExponential().split('e');
  const digits = mant.replace('.', '');
  const decpt = Number(expStr) + 1;
  if (decpt > -4 && decpt <= 16) {
    if (decpt <= 0) return `${sign}0.${'0'.repeat(-decpt)}${digits}`;
    if (decpt >= digits.length) return `${sign}${digits}${'0'.repeat(decpt - digits.length)}.0`;
    return `${sign}${digits.slice(0, decpt)}.${digits.slice(decpt)}`;
  }
  const e = decpt - 1;
  const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  return `${sign}${m}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
}

const ISO_TIME =
  /^(\d{4})-(\d{1,2})-(\d{1,2})(?:[Tt ](\d{1,2})(?::(\d{1,2})(?::(\d{1,2})(?:[.,](\d+))?)?)?)?\s*(Z|z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?$/;

/** Rules 8/9: UTC, `Z`, milliseconds (sub-millisecond digits rounded as Python's `round`); unparsable stays. */
function fixTimestamp(text: string): string {
  const m = ISO_TIME.exec(text);
  if (!m) return text;
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', tz = 'Z'] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  const base = new Date(Date.UTC(2000, month - 1, day, hour, minute, second));
  base.setUTCFullYear(year);
  if (
    base.getUTCFullYear() !== year || base.getUTCMonth() !== month - 1 || base.getUTCDate() !== day ||
    hour > 23 || minute > 59 || second > 59
  ) {
    return text;
  }
  let offsetMin = 0;
  if (tz !== 'Z' && tz !== 'z' && tz !== 'UTC' && tz !== 'GMT') {
    const digits = tz.slice(1).replace(':', '');
    offsetMin = (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4) || '0')) * (tz.startsWith('-') ? -1 : 1);
  }
  // microseconds as parsed (truncated to 6 digits), then Python's round(us, -3): half to even
  const micro = Number(frac.padEnd(6, '0').slice(0, 6));
  const q = Math.floor(micro / 1000);
  const r = micro % 1000;
  const ms = r > 500 || (r === 500 && q % 2 === 1) ? q + 1 : q;
  const t = new Date(base.getTime() - offsetMin * 60_000 + ms);
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return (
    `${p(t.getUTCFullYear(), 4)}-${p(t.getUTCMonth() + 1)}-${p(t.getUTCDate())}T` +
    `${p(t.getUTCHours())}:${p(t.getUTCMinutes())}:${p(t.getUTCSeconds())}.${p(t.getUTCMilliseconds(), 3)}Z`
  );
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Python string semantics                                                                                        */
/* ------------------------------------------------------------------------------------------------------------ */

const PY_SPACE = '\t\n\v\f\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000';

/** Python's `str.strip()`. */
function pyStrip(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && PY_SPACE.includes(s.charAt(a))) a++;
  while (b > a && PY_SPACE.includes(s.charAt(b - 1))) b--;
  return s.slice(a, b);
}

/** Code-point order (Python's string order), not UTF-16 code-unit order. */
function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    }
    return x - y;
  }
  return a.length - b.length;
}

/** Python tuple order of (key, value, children). */
function compareNodes(a: Node, b: Node): number {
  const k = compareCodePoints(a.key, b.key);
  if (k !== 0) return k;
  const v = compareCodePoints(a.value, b.value);
  if (v !== 0) return v;
  const n = Math.min(a.children.length, b.children.length);
  for (let i = 0; i < n; i++) {
    const c = compareNodes(a.children[i] as Node, b.children[i] as Node);
    if (c !== 0) return c;
  }
  return a.children.length - b.children.length;
}
