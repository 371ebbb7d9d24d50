/**
 * EPCIS 2.0 SimpleEventQuery parameters (EPCIS 2.0 §8.2.7.1, REST binding `GET /events`), parsed into a typed query
 * or a list of parameter errors. Pure: no I/O, no clock; the database translation is `src/db/events.ts`.
 *
 * What each parameter means for this ledger (every filter matches what `epcis-export.ts` shows):
 * - Several values: repeat the parameter or separate values with `|` (the binding's `pipeDelimited` style). Values
 *   of one parameter are alternatives; different parameters must all match (so do `EQ_readPoint` and
 *   `WD_readPoint` given together).
 * - `eventType`: ObjectEvent, AggregationEvent (PACK/UNPACK of a container), TransformationEvent (RECYCLE with
 *   recovered materials). Other type names are accepted and match nothing.
 * - `EQ_action`: ADD (COMMISSION, PACK), DELETE (UNPACK), OBSERVE (every other ObjectEvent); anything else is a
 *   QueryParameterException. TransformationEvents have no action.
 * - `EQ_bizStep`, `EQ_disposition`: CBV short names, CBV 1.x URNs or CBV 2.0 Web URIs (the kinds whose LIFECYCLE
 *   step/disposition it is).
 * - `EQ_readPoint`, `EQ_bizLocation`: a location URI; a GLN location matches its Digital Link
 *   `https://id.gs1.org/414/{gln}` and the equivalent SGLN URNs (`urn:epc:id:sgln:CP.REF.0`, any prefix length). SHIP
 *   and DESTROY have no bizLocation. `WD_readPoint` / `WD_bizLocation` ("with descendants") are the same as `EQ_`: the
 *   ledger keeps no location hierarchy (master data), so a location has no descendants.
 * - `EQ_eventID`: the event hash ID the export gives the event.
 * - `GE_/LT_eventTime` compare the occurrence instant, `GE_/LT_recordTime` the ledger's recording instant.
 * - `MATCH_epc` (epcList, childEPCs), `MATCH_parentID` (an AggregationEvent's container), `MATCH_inputEPC` (a
 *   TransformationEvent's inputEPCList), `MATCH_anyEPC` (all of those): SGTIN URNs, item Digital Links, SGTIN
 *   patterns `urn:epc:idpat:sgtin:CP.IR.*` / `CP.*.*`, class Digital Links `…/01/{gtin}` (every serial), SSCC URNs and
 *   Digital Links `…/00/{sscc}`. Other EPC schemes are well-formed but match nothing. `MATCH_outputEPC` and
 *   `MATCH_epcClass` take URIs and match nothing: exported events have no outputEPCList and no quantityList.
 * - `EQ_source_{type}` / `EQ_destination_{type}` (type a CBV source/destination type in any notation, e.g.
 *   `EQ_destination_owning_party`): party URIs `https://id.gs1.org/417/{gln}`, `urn:epc:id:pgln:CP.REF` or
 *   `urn:provenant:actor:{id}` (an actor without GLN), as the export writes sourceList/destinationList.
 * - `orderBy` (eventTime | recordTime) with `orderDirection` (ASC | DESC, default DESC); without `orderBy` events come
 *   in log order (oldest first). `eventCountLimit` (needs `orderBy`) keeps the first N; `maxEventCount` refuses a
 *   larger result (QueryTooLargeException); the two are exclusive. `perPage` (default 30, at most 1000 served) and
 *   `nextPageToken` page the result.
 * - Other standard parameters (quantities, error declarations, sensor data, ILMD, extension fields, …) and unknown
 *   names are refused with a QueryParameterException, never ignored.
 */
import { bizStepName, dispositionName, sourceDestTypeName } from './cbv.ts';
import { parseSgtinUrn, parseSsccUrn, parseDigitalLink, gs1CheckDigit, normalizeGtin, normalizeSscc } from './identifiers.ts';
import { LEDGER_KINDS, type LedgerKind, ruleFor } from './lifecycle.ts';
import { validateGln } from './party.ts';
import { type Result, err, ok } from './result.ts';
import { parseOccurrenceTime } from './time.ts';

/** Page size when none is asked for. */
export const EPCIS_DEFAULT_PAGE_SIZE = 30;
/** Largest page; larger `perPage` values are served with this size. */
export const EPCIS_MAX_PAGE_SIZE = 1000;

// ---------------------------------------------------------------------------------------------------------------
// CBV vocabulary

export { bizStepName, dispositionName, sourceDestTypeName };

/** Ledger kinds exported with this CBV business step (e.g. receiving → RECEIVE and RETURN, packing → PACK). */
export const kindsOfBizStep = (bizStep: string): LedgerKind[] => LEDGER_KINDS.filter((k) => ruleFor(k).bizStep === bizStepName(bizStep));
/** Ledger kinds exported with this CBV disposition (e.g. active → COMMISSION, ACTIVATE, SERVICE, USE_REPORT). */
export const kindsOfDisposition = (disposition: string): LedgerKind[] =>
  LEDGER_KINDS.filter((k) => ruleFor(k).disposition === dispositionName(disposition));

// ---------------------------------------------------------------------------------------------------------------
// EPC patterns

export type EpcPattern =
  | { kind: 'item'; gtin: string; serial: string }
  | { kind: 'class'; gtin: string }
  | { kind: 'prefix'; companyPrefix: string }
  /** An SSCC: a container (parentID of PACK/UNPACK, or a child container of a PACK). */
  | { kind: 'container'; sscc: string }
  /** A well-formed EPC of a scheme the ledger does not hold (GRAI, GIAI, …): matches nothing. */
  | { kind: 'none' };

const IDPAT_SGTIN = /^urn:epc:idpat:sgtin:([0-9]{6,12})\.(\*|[0-9]{1,7})\.\*$/;
const CLASS_DL = /^https:\/\/[A-Za-z0-9.-]+(?::[0-9]+)?(?:\/[^?#]*)?\/01\/([0-9]{8,14})\/?(?:[?#].*)?$/;
const SSCC_DL = /^https:\/\/[A-Za-z0-9.-]+(?::[0-9]+)?(?:\/[^?#]*)?\/00\/([0-9]{18})\/?(?:[?#].*)?$/;

/** Parses one `MATCH_epc`-style value; fails with a message naming the accepted forms. */
export function parseEpcPattern(value: string): Result<EpcPattern> {
  const v = value.trim();
  if (v.startsWith('urn:epc:id:sgtin:')) {
    const p = parseSgtinUrn(v);
    return p.ok ? ok({ kind: 'item', gtin: p.value.gtin14, serial: p.value.serial }) : err(`${JSON.stringify(v)}: ${p.error}`);
  }
  if (v.startsWith('urn:epc:idpat:sgtin:')) {
    const m = IDPAT_SGTIN.exec(v);
    if (!m) return err(`${JSON.stringify(v)}: an SGTIN pattern is urn:epc:idpat:sgtin:CompanyPrefix.IndicatorItemRef.* or CompanyPrefix.*.*`);
    const [, cp = '', ref = ''] = m;
    if (ref === '*') return ok({ kind: 'prefix', companyPrefix: cp });
    if (cp.length + ref.length !== 13) return err(`${JSON.stringify(v)}: company prefix and indicator/item reference must be 13 digits together`);
    const digits = ref[0]! + cp + ref.slice(1);
    return ok({ kind: 'class', gtin: digits + String(gs1CheckDigit(digits)) });
  }
  if (v.startsWith('urn:epc:id:sscc:')) {
    const p = parseSsccUrn(v);
    return p.ok ? ok({ kind: 'container', sscc: p.value.sscc18 }) : err(`${JSON.stringify(v)}: ${p.error}`);
  }
  if (/^urn:epc:(id|idpat|class):[a-z0-9]+:/i.test(v)) return ok({ kind: 'none' });
  if (/^https:\/\//i.test(v)) {
    const item = parseDigitalLink(v);
    if (item.ok) return ok({ kind: 'item', gtin: item.value.gtin14, serial: item.value.serial });
    const cls = CLASS_DL.exec(v);
    if (cls) {
      const gtin = normalizeGtin(cls[1]!);
      return gtin.ok ? ok({ kind: 'class', gtin: gtin.value }) : err(`${JSON.stringify(v)}: ${gtin.error}`);
    }
    const sscc = SSCC_DL.exec(v);
    if (sscc) {
      const n = normalizeSscc(sscc[1]!);
      return n.ok ? ok({ kind: 'container', sscc: n.value }) : err(`${JSON.stringify(v)}: ${n.error}`);
    }
    if (/^https:\/\/[^/]+\/(8003|8004|414|417|253|255|8018)\//.test(v)) return ok({ kind: 'none' });
    return err(`${JSON.stringify(v)}: ${item.error}`);
  }
  return err(`${JSON.stringify(v)} is not an EPC: expected an SGTIN URN, an urn:epc:idpat:sgtin pattern or a GS1 Digital Link`);
}

// ---------------------------------------------------------------------------------------------------------------
// Locations and parties

const URI = /^[A-Za-z][A-Za-z0-9+.-]*:\S+$/;
const GS1_DL = 'https://id.gs1.org';

/** The 7 SGLN URN spellings (company prefix of 6…12 digits) of a GLN with a GLN extension. */
function sglnUrns(gln: string, extension: string): string[] {
  const g12 = gln.slice(0, 12);
  const out: string[] = [];
  for (let cp = 6; cp <= 12; cp++) out.push(`urn:epc:id:sgln:${g12.slice(0, cp)}.${g12.slice(cp)}.${extension}`);
  return out;
}

/**
 * The recorded `location` values the export writes as this readPoint/bizLocation id or an equivalent one: a GLN
 * (`https://{host}/414/{gln}`, or `urn:epc:id:sgln:CP.REF.0`) is matched by the bare GLN, its Digital Link and its
 * SGLN URNs; a GLN with extension (`…/414/{gln}/254/{ext}`, `urn:epc:id:sgln:CP.REF.{ext}`) by those two forms.
 * Any other URI matches no recorded location (the export writes only GLN locations as readPoint/bizLocation).
 */
export function locationCandidates(uri: string): string[] {
  const v = uri.trim();
  let gln: string | null = null;
  let ext: string | null = null;
  const dl = /^https:\/\/[A-Za-z0-9.-]+(?::[0-9]+)?(?:\/[^?#]*)?\/414\/([0-9]{13})(?:\/254\/([^/?#]{1,60}))?\/?$/.exec(v);
  const urn = /^urn:epc:id:sgln:([0-9]{6,12})\.([0-9]{0,6})\.([^\s]{1,60})$/.exec(v);
  if (dl) {
    gln = dl[1]!;
    ext = dl[2] ?? null;
  } else if (urn && urn[1]!.length + urn[2]!.length === 12) {
    const g12 = urn[1]! + urn[2]!;
    gln = g12 + String(gs1CheckDigit(g12));
    ext = urn[3] === '0' ? null : urn[3]!;
  }
  if (gln === null || validateGln(gln) !== undefined) return [];
  if (ext === null) return [gln, `${GS1_DL}/414/${gln}`, ...sglnUrns(gln, '0')];
  return [`${GS1_DL}/414/${gln}/254/${ext}`, ...sglnUrns(gln, ext)];
}

/** A party as the export identifies it: by GLN when the actor has one, else by actor id. */
export type PartyRef = { gln: string } | { actorId: string };

/**
 * The party a source/destination URI names, or null when the export never writes it (another kind of URI):
 * `https://{host}/417/{gln}`, `urn:epc:id:pgln:CP.REF` (same GLN) or `urn:provenant:actor:{id}`.
 */
export function partyOf(uri: string): PartyRef | null {
  const v = uri.trim();
  const dl = /^https:\/\/[A-Za-z0-9.-]+(?::[0-9]+)?(?:\/[^?#]*)?\/417\/([0-9]{13})\/?$/.exec(v);
  if (dl) return validateGln(dl[1]!) === undefined ? { gln: dl[1]! } : null;
  const pgln = /^urn:epc:id:pgln:([0-9]{6,12})\.([0-9]{0,6})$/.exec(v);
  if (pgln && pgln[1]!.length + pgln[2]!.length === 12) {
    const g12 = pgln[1]! + pgln[2]!;
    return { gln: g12 + String(gs1CheckDigit(g12)) };
  }
  if (v.startsWith('urn:provenant:actor:')) {
    try {
      return { actorId: decodeURIComponent(v.slice('urn:provenant:actor:'.length)) };
    } catch {
      return null;
    }
  }
  return null;
}

// ---------------------------------------------------------------------------------------------------------------
// The typed query

export type EpcisAction = 'ADD' | 'OBSERVE' | 'DELETE';
export type EpcisOrderBy = 'eventTime' | 'recordTime';
export type EpcisOrderDirection = 'ASC' | 'DESC';

/** `EQ_source_{type}` / `EQ_destination_{type}`: a CBV type (short name) and the parties it may name. */
export interface SourceDestFilter {
  type: string;
  parties: readonly PartyRef[];
}

/** The filters of one query; every field given must match (see the module comment). */
export interface EpcisEventFilter {
  eventTypes?: readonly string[] | null;
  actions?: readonly EpcisAction[] | null;
  /** CBV business steps (any notation). */
  bizSteps?: readonly string[] | null;
  /** CBV dispositions (any notation). */
  dispositions?: readonly string[] | null;
  /** Each list: recorded locations of which the readPoint must be one ({@link locationCandidates}); all lists apply. */
  readPoints?: readonly (readonly string[])[] | null;
  bizLocations?: readonly (readonly string[])[] | null;
  /** Exported event hash IDs. */
  eventIds?: readonly string[] | null;
  /** occurredAt ≥ this. */
  geEventTime?: Date | null;
  /** occurredAt < this. */
  ltEventTime?: Date | null;
  geRecordTime?: Date | null;
  ltRecordTime?: Date | null;
  matchEpc?: readonly EpcPattern[] | null;
  matchParentId?: readonly EpcPattern[] | null;
  matchInputEpc?: readonly EpcPattern[] | null;
  /** URIs; exported events have no outputEPCList, so a query with this matches nothing. */
  matchOutputEpc?: readonly string[] | null;
  /** URIs; exported events have no quantityList/childQuantityList, so a query with this matches nothing. */
  matchEpcClass?: readonly string[] | null;
  matchAnyEpc?: readonly EpcPattern[] | null;
  sources?: readonly SourceDestFilter[] | null;
  destinations?: readonly SourceDestFilter[] | null;
  /** GraphQL EventFilter extras: ledger kinds, recording actor, batch (already resolved; unknown → matches nothing). */
  kinds?: readonly string[] | null;
  /** A uuid (the caller checks it). */
  actorId?: string | null;
  /** A uuid (the caller checks it). */
  batchId?: string | null;
}

/** Where a page resumes: the tree size the first page was read at, the last event returned, what is left. */
export interface EpcisPageToken {
  treeSize: number;
  afterLeafIndex: number;
  /** Events still to return under `eventCountLimit`, null without it. */
  remaining: number | null;
  /** `log`, `eventTime:ASC`, … : a token only resumes the ordering it was issued for. */
  order: string;
}

export interface EpcisQuery {
  filter: EpcisEventFilter;
  orderBy: EpcisOrderBy | null;
  orderDirection: EpcisOrderDirection;
  eventCountLimit: number | null;
  maxEventCount: number | null;
  perPage: number;
  pageToken: EpcisPageToken | null;
}

export interface EpcisQueryError {
  /** The parameter at fault, as the client spelled it. */
  parameter: string;
  /** Index of the value at fault among the parameter's values, when one value is. */
  index?: number;
  message: string;
}

/** The ordering key a page token is bound to. */
export const orderKey = (q: Pick<EpcisQuery, 'orderBy' | 'orderDirection'>): string => (q.orderBy === null ? 'log' : `${q.orderBy}:${q.orderDirection}`);

// ---------------------------------------------------------------------------------------------------------------
// Page tokens: opaque base64url JSON.

export function encodePageToken(t: EpcisPageToken): string {
  const json = JSON.stringify(['epcis2', t.treeSize, t.afterLeafIndex, t.remaining, t.order]);
  return btoa(json).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** The position a token resumes from, or null when it is not a token this repository issued. */
export function decodePageToken(token: string): EpcisPageToken | null {
  if (!/^[A-Za-z0-9_-]{1,300}$/.test(token)) return null;
  try {
    const v: unknown = JSON.parse(atob(token.replace(/-/g, '+').replace(/_/g, '/')));
    if (!Array.isArray(v) || v.length !== 5 || v[0] !== 'epcis2') return null;
    const [, treeSize, after, remaining, order] = v as unknown[];
    const nat = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
    if (!nat(treeSize) || !nat(after) || after >= treeSize || !(remaining === null || (nat(remaining) && remaining > 0)) || typeof order !== 'string') return null;
    return { treeSize, afterLeafIndex: after, remaining, order };
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Parsing

const SINGLE = ['GE_eventTime', 'LT_eventTime', 'GE_recordTime', 'LT_recordTime', 'orderBy', 'orderDirection', 'eventCountLimit', 'maxEventCount', 'perPage', 'nextPageToken'] as const;
const LISTS = [
  'eventType', 'EQ_action', 'EQ_bizStep', 'EQ_disposition', 'EQ_readPoint', 'WD_readPoint', 'EQ_bizLocation', 'WD_bizLocation', 'EQ_eventID',
  'MATCH_epc', 'MATCH_parentID', 'MATCH_inputEPC', 'MATCH_outputEPC', 'MATCH_epcClass', 'MATCH_anyEPC',
] as const;
/** Every parameter name this repository answers (`EQ_source_{type}` / `EQ_destination_{type}` besides). */
export const SUPPORTED_PARAMETERS: readonly string[] = [...LISTS, 'EQ_source_{type}', 'EQ_destination_{type}', ...SINGLE];

/**
 * Name patterns of the other standard SimpleEventQuery parameters, which the ledger's data cannot answer: EPC class
 * quantities, and every `EQ_/GT_/GE_/LT_/LE_` comparison (quantities, error declarations, start/end times, sensor
 * data, business transactions, ILMD, inner and extension fields), `EXISTS_`, `HASATTR_`, `EQATTR_`.
 */
const UNSUPPORTED_STANDARD = [/^MATCH_(inputEPCClass|outputEPCClass|anyEPCClass)$/, /^(EQ|GT|GE|LT|LE)_/, /^(EXISTS|HASATTR|EQATTR)_/];

/** Parameter values as the REST binding sends them: repeated and/or `|`-separated; single-valued ones unsplit. */
export function paramsOfSearch(search: URLSearchParams): [string, string[]][] {
  const out = new Map<string, string[]>();
  for (const [name, value] of search) {
    const list = out.get(name) ?? [];
    const single = (SINGLE as readonly string[]).includes(name);
    list.push(...(single ? [value] : value.split('|')));
    out.set(name, list);
  }
  return [...out];
}

/** Parses the REST query string of `GET /events`. */
export function parseEpcisQueryString(search: URLSearchParams): Result<EpcisQuery, EpcisQueryError[]> {
  return parseEpcisQuery(paramsOfSearch(search));
}

/**
 * Parses SimpleEventQuery parameters (name → values, already split) into a typed query, or every error found.
 * Never throws; unknown and unsupported names are errors (QueryParameterException), as are empty values, repeated
 * single-valued parameters, malformed values, `eventCountLimit` without `orderBy` or with `maxEventCount`, and a
 * `nextPageToken` not issued for this ordering.
 */
export function parseEpcisQuery(params: Iterable<readonly [string, readonly string[]]>): Result<EpcisQuery, EpcisQueryError[]> {
  const errors: EpcisQueryError[] = [];
  const fail = (parameter: string, message: string, index?: number) => errors.push(index === undefined ? { parameter, message } : { parameter, index, message });
  const filter: EpcisEventFilter = {};
  const single = new Map<string, string>();
  const lists = new Map<string, string[]>();
  const sources: SourceDestFilter[] = [];
  const destinations: SourceDestFilter[] = [];

  for (const [name, raw] of params) {
    const values = raw.map((v) => v.trim());
    if ((SINGLE as readonly string[]).includes(name)) {
      if (values.length !== 1) fail(name, `${name} may be given once`);
      else if (values[0] === '') fail(name, `${name} needs a value`);
      else single.set(name, values[0]!);
      continue;
    }
    const sd = /^EQ_(source|destination)_(.+)$/.exec(name);
    if (!(LISTS as readonly string[]).includes(name) && !sd) {
      fail(name, UNSUPPORTED_STANDARD.some((re) => re.test(name))
        ? `query parameter ${name} is not supported by this repository (supported: ${SUPPORTED_PARAMETERS.join(', ')})`
        : `unsupported query parameter ${name} (supported: ${SUPPORTED_PARAMETERS.join(', ')})`);
      continue;
    }
    const emptyAt = values.findIndex((v) => v === '');
    if (values.length === 0 || emptyAt >= 0) {
      fail(name, `${name} needs non-empty values`, emptyAt >= 0 ? emptyAt : undefined);
      continue;
    }
    const uris = (): boolean => {
      const bad = values.findIndex((v) => !URI.test(v));
      if (bad >= 0) fail(name, `${name}: ${JSON.stringify(values[bad])} is not a URI`, bad);
      return bad < 0;
    };
    if (sd) {
      if (!uris()) continue;
      const parties = values.map(partyOf).filter((p): p is PartyRef => p !== null);
      (sd[1] === 'source' ? sources : destinations).push({ type: sourceDestTypeName(sd[2]!), parties });
      continue;
    }
    lists.set(name, [...(lists.get(name) ?? []), ...values]);
  }

  for (const [name, values] of lists) {
    const patterns = () => {
      const out: EpcPattern[] = [];
      values.forEach((v, i) => {
        const p = parseEpcPattern(v);
        if (p.ok) out.push(p.value);
        else fail(name, `${name}: ${p.error}`, i);
      });
      return out;
    };
    const uris = (): boolean => {
      const bad = values.findIndex((v) => !URI.test(v));
      if (bad >= 0) fail(name, `${name}: ${JSON.stringify(values[bad])} is not a URI`, bad);
      return bad < 0;
    };
    switch (name) {
      case 'eventType':
        filter.eventTypes = values;
        break;
      case 'EQ_action': {
        const bad = values.findIndex((a) => !['ADD', 'OBSERVE', 'DELETE'].includes(a));
        if (bad >= 0) fail(name, `EQ_action must be ADD, OBSERVE or DELETE, got ${values[bad]}`, bad);
        else filter.actions = values as EpcisAction[];
        break;
      }
      case 'EQ_bizStep':
        filter.bizSteps = values;
        break;
      case 'EQ_disposition':
        filter.dispositions = values;
        break;
      case 'EQ_readPoint':
      case 'WD_readPoint':
        if (uris()) filter.readPoints = [...(filter.readPoints ?? []), values.flatMap(locationCandidates)];
        break;
      case 'EQ_bizLocation':
      case 'WD_bizLocation':
        if (uris()) filter.bizLocations = [...(filter.bizLocations ?? []), values.flatMap(locationCandidates)];
        break;
      case 'EQ_eventID':
        filter.eventIds = values;
        break;
      case 'MATCH_epc':
        filter.matchEpc = patterns();
        break;
      case 'MATCH_parentID':
        filter.matchParentId = patterns();
        break;
      case 'MATCH_inputEPC':
        filter.matchInputEpc = patterns();
        break;
      case 'MATCH_anyEPC':
        filter.matchAnyEpc = patterns();
        break;
      case 'MATCH_outputEPC':
        if (uris()) filter.matchOutputEpc = values;
        break;
      case 'MATCH_epcClass':
        if (uris()) filter.matchEpcClass = values;
        break;
    }
  }
  if (sources.length > 0) filter.sources = sources;
  if (destinations.length > 0) filter.destinations = destinations;

  for (const [name, key] of [['GE_eventTime', 'geEventTime'], ['LT_eventTime', 'ltEventTime'], ['GE_recordTime', 'geRecordTime'], ['LT_recordTime', 'ltRecordTime']] as const) {
    const raw = single.get(name);
    if (raw === undefined) continue;
    let t = parseOccurrenceTime(raw);
    // An unencoded "+" of an offset arrives as a space.
    if (!t.ok && raw.includes(' ')) t = parseOccurrenceTime(raw.replace(' ', '+'));
    if (t.ok) filter[key] = t.value.instant;
    else fail(name, `${name}: ${t.error}`);
  }

  const count = (name: string, min: number): number | null => {
    const raw = single.get(name);
    if (raw === undefined) return null;
    if (!/^\d{1,9}$/.test(raw) || Number(raw) < min) {
      fail(name, `${name} must be an integer ≥ ${min}${name === 'perPage' ? ` (at most ${EPCIS_MAX_PAGE_SIZE} are served)` : ''}, got ${raw}`);
      return null;
    }
    return Number(raw);
  };
  const orderByRaw = single.get('orderBy');
  let orderBy: EpcisOrderBy | null = null;
  if (orderByRaw !== undefined) {
    if (orderByRaw === 'eventTime' || orderByRaw === 'recordTime') orderBy = orderByRaw;
    else fail('orderBy', `orderBy must be eventTime or recordTime (this repository has no sortable extension fields), got ${orderByRaw}`);
  }
  const dirRaw = single.get('orderDirection');
  let orderDirection: EpcisOrderDirection = 'DESC';
  if (dirRaw !== undefined) {
    if (dirRaw === 'ASC' || dirRaw === 'DESC') orderDirection = dirRaw;
    else fail('orderDirection', `orderDirection must be ASC or DESC, got ${dirRaw}`);
  }
  const eventCountLimit = count('eventCountLimit', 1);
  const maxEventCount = count('maxEventCount', 0);
  if (single.has('eventCountLimit') && single.has('maxEventCount')) fail('eventCountLimit', 'eventCountLimit and maxEventCount are mutually exclusive');
  if (single.has('eventCountLimit') && orderByRaw === undefined) fail('eventCountLimit', 'eventCountLimit needs orderBy (it keeps the first N events of that ordering)');
  const perPage = Math.min(count('perPage', 1) ?? EPCIS_DEFAULT_PAGE_SIZE, EPCIS_MAX_PAGE_SIZE);

  let pageToken: EpcisPageToken | null = null;
  const tokenRaw = single.get('nextPageToken');
  if (tokenRaw !== undefined) {
    pageToken = decodePageToken(tokenRaw);
    if (pageToken === null) fail('nextPageToken', 'nextPageToken is not a token returned by this endpoint');
    else if (pageToken.order !== orderKey({ orderBy, orderDirection }) || (pageToken.remaining === null) !== (eventCountLimit === null)) {
      fail('nextPageToken', 'nextPageToken belongs to a query with another orderBy, orderDirection or eventCountLimit');
    }
  }
  if (errors.length > 0) return err(errors);
  return ok({ filter, orderBy, orderDirection, eventCountLimit, maxEventCount, perPage, pageToken });
}

// ---------------------------------------------------------------------------------------------------------------
// Named queries (`/queries`): a query saved under a name, in the JSON form of the binding's query-schema.json.

/** A named query's name: a URL path segment of unreserved characters. */
export const QUERY_NAME = /^[A-Za-z0-9._~-]{1,100}$/;
/** Paging belongs to each request for the query's events, not to its definition. */
const REQUEST_ONLY = ['perPage', 'nextPageToken'];

export type NamedQueryValue = string | number | readonly string[];
export interface NamedQueryDefinition {
  name: string;
  /** Parameter → value, as the client sent it (`@context` kept, not interpreted). */
  query: Record<string, NamedQueryValue | unknown>;
}

/** The parameters of a stored definition: arrays are the values, strings and numbers one value each. */
export function namedQueryParams(query: NamedQueryDefinition['query']): [string, string[]][] {
  const out: [string, string[]][] = [];
  for (const [name, value] of Object.entries(query)) {
    if (name === '@context') continue;
    out.push([name, Array.isArray(value) ? value.map(String) : [String(value)]]);
  }
  return out;
}

/**
 * Validates a `POST /queries` body `{name, query}`: the name ({@link QUERY_NAME}), the query an object of
 * SimpleEventQuery parameters whose values are strings, numbers or arrays of strings, and the query itself (every
 * {@link parseEpcisQuery} rule; `perPage`/`nextPageToken` are refused: they belong to each request).
 * Errors name `name`, `query` or the parameter at fault.
 */
export function parseNamedQuery(body: unknown): Result<NamedQueryDefinition, EpcisQueryError[]> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return err([{ parameter: 'body', message: 'the body must be a JSON object {"name": …, "query": {…}}' }]);
  const { name, query } = body as Record<string, unknown>;
  const errors: EpcisQueryError[] = [];
  if (typeof name !== 'string' || !QUERY_NAME.test(name)) errors.push({ parameter: 'name', message: 'name must be 1 to 100 characters of A-Z a-z 0-9 . _ ~ -' });
  if (typeof query !== 'object' || query === null || Array.isArray(query)) {
    errors.push({ parameter: 'query', message: 'query must be a JSON object of EPCIS query parameters' });
    return err(errors);
  }
  for (const [key, value] of Object.entries(query)) {
    if (key === '@context') continue;
    if (REQUEST_ONLY.includes(key)) errors.push({ parameter: key, message: `${key} is not part of a query definition: give it when reading the query's events` });
    const fine = typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value))
      || (Array.isArray(value) && value.every((v) => typeof v === 'string'));
    if (!fine) errors.push({ parameter: key, message: `${key} must be a string, a number or an array of strings` });
  }
  if (errors.length > 0) return err(errors);
  const parsed = parseEpcisQuery(namedQueryParams(query as Record<string, unknown>));
  if (!parsed.ok) return err(parsed.error);
  return ok({ name: name as string, query: query as Record<string, unknown> });
}

/**
 * The query to run for a named query's events: its definition plus the request's `perPage` / `nextPageToken`; any
 * other request parameter is an error (the definition fixes the filters).
 */
export function parseNamedQueryRun(definition: NamedQueryDefinition['query'], request: URLSearchParams): Result<EpcisQuery, EpcisQueryError[]> {
  const extra = [...new Set(request.keys())].filter((k) => !REQUEST_ONLY.includes(k));
  if (extra.length > 0) {
    return err(extra.map((k) => ({ parameter: k, message: `a named query takes only perPage and nextPageToken; ${k} is fixed by its definition or not allowed` })));
  }
  return parseEpcisQuery([...namedQueryParams(definition), ...paramsOfSearch(request)]);
}

/** Opaque token of the named-query list: the last name of the page. */
export const encodeNameToken = (name: string): string => btoa(`q:${name}`).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
export function decodeNameToken(token: string): string | null {
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(token)) return null;
  try {
    const v = atob(token.replace(/-/g, '+').replace(/_/g, '/'));
    return v.startsWith('q:') && QUERY_NAME.test(v.slice(2)) ? v.slice(2) : null;
  } catch {
    return null;
  }
}
