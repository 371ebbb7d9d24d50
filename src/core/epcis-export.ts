/**
 * GS1 EPCIS 2.0 JSON-LD export of ledger events (pure: no I/O, no clock).
 *
 * Mapping (one ledger event → one EPCIS event):
 * - every kind but RECYCLE, PACK and UNPACK is an `ObjectEvent` over the event's items; `action` is `ADD` for
 *   COMMISSION, `OBSERVE` otherwise; `bizStep` / `disposition` are the CBV 2.0 short names of {@link LIFECYCLE}
 *   (DESIGN.md's table).
 * - PACK / UNPACK (`data.container` = the SSCC) are `AggregationEvent`s, action `ADD` / `DELETE`, `parentID` = the
 *   container: with `epcFormat: 'urn'` its SSCC URN `urn:epc:id:sscc:{prefix}.{ext+serial ref}` when its GS1 company
 *   prefix is one of `companyPrefixes` (the URN needs the prefix length, which an SSCC alone does not tell; longest
 *   match), else — and always with `digitalLink` — `https://id.gs1.org/00/{sscc}`. `childEPCs` = the event's items,
 *   then — PACK only — one such container EPC per child container of `data.containers` (cases packed into a pallet).
 *   A PACK's items are every item it moved, those inside the child containers included: the recorded body does
 *   not say which items were packed directly, so they are all listed (EPCIS would list the direct children only;
 *   listing the nested items too is redundant, not contradictory: they are inside the pallet). Capture reads such a
 *   list back as the same ledger event: items already inside a listed child container are not packed again.
 *   An UNPACK's items are every item of the emptied container at any depth (its `data` names no child containers).
 * - RECYCLE with recovered materials is a `TransformationEvent`: `inputEPCList` = the items, `outputQuantityList` =
 *   one `{epcClass, quantity, uom: "KGM"}` per material, `epcClass` = {@link materialEpcClass}. Without materials
 *   (nothing came out) it stays an `ObjectEvent` with the same bizStep/disposition, since a TransformationEvent
 *   needs outputs.
 * - `eventTime` is the occurrence in the submitter's offset, `eventTimeZoneOffset` that offset, `recordTime` the
 *   ledger's `recordedAt`. An offset outside EPCIS's −14:00…+14:00 range (the ledger accepts ±23:59) is exported as
 *   UTC with `+00:00`, the original kept in `provenant:timezoneOffset`.
 * - `location`, when it is a GLN (13 digits, valid check digit), becomes `readPoint` and `bizLocation` in the GS1
 *   Digital Link form `https://id.gs1.org/414/{gln}` (an SGLN URN would need the company prefix length, which the
 *   ledger does not keep). A location already recorded as an SGLN URN (`urn:epc:id:sgln:…`, prefix + location
 *   reference = 12 digits) or as such a Digital Link (optionally with `/254/{extension}`) is used as written.
 *   No `bizLocation` for SHIP (the items are in transit) or DESTROY (they no longer exist).
 *   Any other location text is kept as `provenant:location`.
 * - SHIP and RETURN: source = actor, destination = counterparty; RECEIVE: destination = actor, source = counterparty
 *   when one is recorded. Each party appears as both `owning_party` and `possessing_party`, identified by
 *   `https://id.gs1.org/417/{gln}` when it has a GLN, else `urn:provenant:actor:{id}`.
 * - COMMISSION's lot (`data.lot`) is also given as ILMD `cbvmda:lotNumber` (ILMD is allowed with ADD only).
 * - SELL's price is an extension, not a business transaction: `provenant:price` (number) and
 *   `provenant:priceCurrency` (ISO 4217). A SELL naming its buyer (the counterparty) has a `destinationList` with the
 *   buyer as `owning_party` (what capture reads as the buyer).
 * - Ledger fields are user extensions under the `provenant:` prefix ({@link PROVENANT_NAMESPACE}): `kind`,
 *   `contentHash` (hex), `leafIndex`, `actor`, `counterparty`, `location` (non-GLN text) and `data`. Extension
 *   members nested in an extension must be namespaced too in JSON-LD, so every object key inside `provenant:data`
 *   is written `provenant:{encodeURIComponent(key)}` (e.g. `{"provenant:materials": [{"provenant:material": …}]}`);
 *   strip the prefix and decode to get the recorded `data` back.
 * - `eventID` is the CBV 2.0 event hash ID, computed with {@link DOCUMENT_CONTEXT} over the event in its URN form
 *   (without `eventID`), whatever `epcFormat` is asked: one event has one eventID. The hash normalises EPC URNs to
 *   canonical Digital Links itself, but keeps a Digital Link whose serial is percent-encoded (`'`, `!`, `(` … in a
 *   serial) as written, so hashing the Digital Link form would give such an event a second ID.
 * - `capturedEventId` (an event recorded from an EPCIS capture) is written as `provenant:capturedEventID`, last, and
 *   takes part in the eventID like every other field.
 * - A reader who may not see every item or field of the event gets a projection ({@link projectExportable},
 *   docs/ledger-format.md §15): only its visible items, no withheld field, and `provenant:projection`
 *   (`{provenant:itemsOmitted, provenant:withheldFields}`, written last); the eventID is then the hash of that
 *   projection as exported. Without a projection the export and its eventID are unchanged.
 */
import type { EventBody, JsonValue } from './chain.ts';
import { epcisEventHashId } from './epcis-hash.ts';
import { PARTY_TYPES } from './cbv.ts';
import { digitalLink, normalizeSscc, parseSgtinUrn, ssccUrn } from './identifiers.ts';
import { LIFECYCLE, ruleFor } from './lifecycle.ts';
import { validateGln } from './party.ts';
import { formatWithOffset } from './time.ts';

/** One recorded event with what the export needs beside its hashed body. */
export interface ExportableEvent {
  body: EventBody;
  /** Hex SHA-256 content hash (DESIGN.md "Hashes"). */
  contentHash: string;
  /** Position of the event in the Merkle log. */
  leafIndex: number;
  actorGln: string | null;
  counterpartyGln: string | null;
  /** Null when withheld from the reader (see {@link projectExportable}). */
  actorId: string | null;
  counterpartyId: string | null;
  /** CBV 2.0 hash ID of the EPCIS event this ledger event was captured from, if any. */
  capturedEventId?: string | null;
  /** Set by {@link projectExportable} when the reader is not shown everything. */
  projection?: { itemsOmitted: boolean; withheldFields: readonly string[] } | null;
}

/**
 * The event as one reader may see it (docs/ledger-format.md §15): `body.items` = `visibleItems` (SGTIN URNs; null
 * keeps the body's), the `withheld` fields removed (`actor`, `location`, `counterparty`/`buyer`, data members). When
 * anything was left out the export carries `provenant:projection` = `{provenant:itemsOmitted: bool,
 * provenant:withheldFields: [names]}` (never which items or how many), and its eventID is the CBV hash of that
 * projection as exported; when nothing was left out the event is returned unchanged (same eventID as ever).
 */
export function projectExportable(e: ExportableEvent, visibleItems: readonly string[] | null, itemsOmitted: boolean, withheld: readonly string[]): ExportableEvent {
  const items = visibleItems === null ? e.body.items : [...visibleItems];
  if (!itemsOmitted && withheld.length === 0 && visibleItems === null) return e;
  const w = new Set(withheld);
  const data: EventBody['data'] = {};
  for (const [k, v] of Object.entries(e.body.data)) if (!w.has(k)) data[k] = v;
  const counterpartyWithheld = w.has(e.body.kind === 'SELL' ? 'buyer' : 'counterparty');
  const partial = itemsOmitted || withheld.length > 0;
  return {
    ...e,
    body: { ...e.body, items, data, location: w.has('location') ? null : e.body.location, actor: w.has('actor') ? '' : e.body.actor, counterparty: counterpartyWithheld ? null : e.body.counterparty },
    actorId: w.has('actor') ? null : e.actorId,
    actorGln: w.has('actor') ? null : e.actorGln,
    counterpartyId: counterpartyWithheld ? null : e.counterpartyId,
    counterpartyGln: counterpartyWithheld ? null : e.counterpartyGln,
    projection: partial ? { itemsOmitted, withheldFields: [...withheld].sort() } : null,
  };
}

/**
 * `urn`: SGTIN pure-identity URNs as recorded, containers as SSCC URNs (when their company prefix is known);
 * `digitalLink`: `https://id.gs1.org/01/{gtin}/21/{serial}`, containers `https://id.gs1.org/00/{sscc}`.
 */
export type EpcFormat = 'urn' | 'digitalLink';

export interface EpcisExportOptions {
  epcFormat: EpcFormat;
  /** GS1 company prefixes (6–12 digits) known to the ledger, for SSCC URNs; others are ignored. Default none. */
  companyPrefixes?: readonly string[];
}

export const EPCIS_CONTEXT_URL = 'https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld';
export const PROVENANT_NAMESPACE = 'https://provenant.dev/epcis/';
const P = 'provenant:';

/** The `@context` of exported documents: GS1's EPCIS 2.0 context plus the `provenant:` prefix. */
export const DOCUMENT_CONTEXT: readonly [string, Readonly<{ provenant: string }>] = Object.freeze([
  EPCIS_CONTEXT_URL,
  Object.freeze({ provenant: PROVENANT_NAMESPACE }),
] as const);

const GS1_DL = 'https://id.gs1.org';
/** EPCIS `eventTimeZoneOffset` range (GS1 JSON Schema pattern). */
const EPCIS_OFFSET = /^[+-]((0[0-9]|1[0-3]):[0-5][0-9]|14:00)$/;
const SOURCE_DEST_KINDS = new Set(['SHIP', 'RECEIVE', 'RETURN']);
const NO_BIZ_LOCATION = new Set(['SHIP', 'DESTROY']);

/**
 * Maps one ledger event to an EPCIS 2.0 event object (ObjectEvent, or TransformationEvent for RECYCLE with
 * materials), `eventID` included. See the module comment for every mapping rule.
 * @throws RangeError if an item is not an SGTIN URN while `epcFormat` is `digitalLink` (stored items always are).
 */
export function toEpcisEvent(e: ExportableEvent, opts: EpcisExportOptions): Record<string, unknown> {
  const prefixes = opts.companyPrefixes ?? [];
  const urnForm = epcisEventBody(e, 'urn', prefixes);
  const eventID = epcisEventHashId(urnForm, DOCUMENT_CONTEXT);
  return { eventID, ...(opts.epcFormat === 'urn' ? urnForm : epcisEventBody(e, opts.epcFormat, prefixes)) };
}

function epcisEventBody(e: ExportableEvent, epcFormat: EpcFormat, companyPrefixes: readonly string[]): Record<string, unknown> {
  const { body } = e;
  const rule = ruleFor(body.kind);
  const container = typeof body.data['container'] === 'string' ? body.data['container'] : null;
  const aggregation = (body.kind === 'PACK' || body.kind === 'UNPACK') && container !== null;
  const epcs = body.items.map((urn) => (epcFormat === 'digitalLink' ? sgtinToDigitalLink(urn) : urn));
  const outputs = body.kind === 'RECYCLE' ? materialQuantities(body.data['materials']) : [];
  const transformation = outputs.length > 0;

  const event: Record<string, unknown> = { type: transformation ? 'TransformationEvent' : aggregation ? 'AggregationEvent' : 'ObjectEvent' };
  const time = eventTimeOf(body);
  event['eventTime'] = time.eventTime;
  event['eventTimeZoneOffset'] = time.offset;
  event['recordTime'] = body.recordedAt;
  if (transformation) {
    event['inputEPCList'] = epcs;
    event['outputQuantityList'] = outputs;
  } else if (aggregation) {
    const containerEpc = (sscc: string): string => containerUri(sscc, epcFormat, companyPrefixes);
    event['parentID'] = containerEpc(container);
    const children = body.kind === 'PACK' ? childContainers(body.data['containers']) : [];
    event['childEPCs'] = [...epcs, ...children.map(containerEpc)];
    event['action'] = body.kind === 'PACK' ? 'ADD' : 'DELETE';
  } else {
    event['epcList'] = epcs;
    event['action'] = body.kind === 'COMMISSION' ? 'ADD' : 'OBSERVE';
  }
  event['bizStep'] = rule.bizStep;
  event['disposition'] = rule.disposition;

  const locationId = body.location === null ? null : locationUri(body.location);
  if (locationId !== null) {
    event['readPoint'] = { id: locationId };
    if (!NO_BIZ_LOCATION.has(body.kind)) event['bizLocation'] = { id: locationId };
  }

  if (SOURCE_DEST_KINDS.has(body.kind)) {
    const actor = e.actorId === null ? null : partyUri(e.actorId, e.actorGln);
    const counterparty = e.counterpartyId === null ? null : partyUri(e.counterpartyId, e.counterpartyGln);
    const [from, to] = body.kind === 'RECEIVE' ? [counterparty, actor] : [actor, counterparty];
    if (from !== null) event['sourceList'] = PARTY_TYPES.map((type) => ({ type, source: from }));
    if (to !== null) event['destinationList'] = PARTY_TYPES.map((type) => ({ type, destination: to }));
  } else if (body.kind === 'SELL' && e.counterpartyId !== null) {
    event['destinationList'] = [{ type: 'owning_party', destination: partyUri(e.counterpartyId, e.counterpartyGln) }];
  }

  const lot = body.data['lot'];
  if (body.kind === 'COMMISSION' && typeof lot === 'string' && lot !== '') event['ilmd'] = { 'cbvmda:lotNumber': lot };

  event[`${P}kind`] = body.kind;
  event[`${P}contentHash`] = e.contentHash;
  event[`${P}leafIndex`] = e.leafIndex;
  if (e.actorId !== null) event[`${P}actor`] = e.actorId;
  if (e.counterpartyId !== null) event[`${P}counterparty`] = e.counterpartyId;
  if (body.location !== null && locationId === null) event[`${P}location`] = body.location;
  if (time.originalOffset !== null) event[`${P}timezoneOffset`] = time.originalOffset;
  if (body.kind === 'SELL' && typeof body.data['price'] === 'number') {
    event[`${P}price`] = body.data['price'];
    if (typeof body.data['currency'] === 'string') event[`${P}priceCurrency`] = body.data['currency'];
  }
  if (Object.keys(body.data).length > 0) event[`${P}data`] = namespaced(body.data);
  if (e.capturedEventId) event[`${P}capturedEventID`] = e.capturedEventId;
  if (e.projection) {
    event[`${P}projection`] = { [`${P}itemsOmitted`]: e.projection.itemsOmitted, [`${P}withheldFields`]: [...e.projection.withheldFields] };
  }
  return event;
}

/** An EPCIS 2.0 `EPCISDocument` (schemaVersion 2.0) carrying `events`; `creationDate` is RFC 3339. */
export function epcisDocument(events: Record<string, unknown>[], creationDate: string): Record<string, unknown> {
  return {
    '@context': documentContext(),
    type: 'EPCISDocument',
    schemaVersion: '2.0',
    creationDate,
    epcisBody: { eventList: events },
  };
}

/** An EPCIS 2.0 `EPCISQueryDocument` answering `queryName` (default `SimpleEventQuery`) with `events`. */
export function epcisQueryDocument(
  events: Record<string, unknown>[],
  creationDate: string,
  queryName = 'SimpleEventQuery',
): Record<string, unknown> {
  return {
    '@context': documentContext(),
    type: 'EPCISQueryDocument',
    schemaVersion: '2.0',
    creationDate,
    epcisBody: { queryResults: { queryName, resultsBody: { eventList: events } } },
  };
}

/**
 * Class URI of a recovered material, `urn:provenant:material:{slug}`: the name with diacritics removed, lower-cased,
 * every run of other characters than a–z and 0–9 turned into `-` ("Lithium-ion cells" → `lithium-ion-cells`,
 * "Aluminium (6061)" → `aluminium-6061`). A name with no such character is percent-encoded instead.
 * The recorded name stays in `provenant:data`.
 */
export function materialEpcClass(material: string): string {
  const slug = material
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return `urn:provenant:material:${slug || encodeURIComponent(material.trim() || '-')}`;
}

/** Party identifier: the GLN as a GS1 Digital Link (AI 417) when there is one, else `urn:provenant:actor:{id}`. */
export function partyUri(actorId: string, gln: string | null): string {
  return gln !== null && /^[0-9]{13}$/.test(gln) ? `${GS1_DL}/417/${gln}` : `urn:provenant:actor:${encodeURIComponent(actorId)}`;
}

const SGLN_URN = /^urn:epc:id:sgln:([0-9]{6,12})\.([0-9]{0,6})\.[A-Za-z0-9!'()*+,\-.:;=_%]{1,20}$/;
const GLN_DL = /^https:\/\/id\.gs1\.org\/414\/([0-9]{13})(?:\/254\/[A-Za-z0-9\-._~!$&'()*+,;=:@%]{1,60})?$/;

/** readPoint/bizLocation id of a recorded location, or null when it is free text. */
export function locationUri(location: string): string | null {
  if (validateGln(location) === undefined) return `${GS1_DL}/414/${location}`;
  const sgln = SGLN_URN.exec(location);
  if (sgln && sgln[1]!.length + sgln[2]!.length === 12) return location;
  const dl = GLN_DL.exec(location);
  if (dl && validateGln(dl[1]!) === undefined) return location;
  return null;
}

/**
 * A container's EPC: its SSCC URN in the URN format when one of `companyPrefixes` (longest match) is its company
 * prefix (the digits after the extension digit), else `https://id.gs1.org/00/{sscc}`.
 */
function containerUri(sscc: string, epcFormat: EpcFormat, companyPrefixes: readonly string[]): string {
  if (epcFormat === 'urn' && normalizeSscc(sscc).ok) {
    let best: string | undefined;
    for (const p of companyPrefixes) {
      if (/^[0-9]{6,12}$/.test(p) && sscc.startsWith(p, 1) && (best === undefined || p.length > best.length)) best = p;
    }
    if (best !== undefined) return ssccUrn(sscc, best.length);
  }
  return `${GS1_DL}/00/${sscc}`;
}

/** PACK's child containers (`data.containers`): the well-formed SSCCs (18 digits), in recorded order. */
function childContainers(containers: JsonValue | undefined): string[] {
  if (!Array.isArray(containers)) return [];
  return containers.filter((c): c is string => typeof c === 'string' && /^[0-9]{18}$/.test(c));
}

function documentContext(): unknown[] {
  return [EPCIS_CONTEXT_URL, { provenant: PROVENANT_NAMESPACE }];
}

function sgtinToDigitalLink(urn: string): string {
  const parsed = parseSgtinUrn(urn);
  if (!parsed.ok) throw new RangeError(`toEpcisEvent: item ${JSON.stringify(urn)} is not an SGTIN URN (${parsed.error})`);
  return digitalLink(parsed.value.gtin14, parsed.value.serial);
}

function eventTimeOf(body: EventBody): { eventTime: string; offset: string; originalOffset: string | null } {
  const instant = new Date(body.occurredAt);
  if (EPCIS_OFFSET.test(body.timezoneOffset)) {
    return { eventTime: formatWithOffset(instant, body.timezoneOffset), offset: body.timezoneOffset, originalOffset: null };
  }
  return { eventTime: formatWithOffset(instant, '+00:00'), offset: '+00:00', originalOffset: body.timezoneOffset };
}

/** RECYCLE outputs: one quantity element per well-formed `{material, massKg}` (massKg a finite number ≥ 0). */
function materialQuantities(materials: JsonValue | undefined): { epcClass: string; quantity: number; uom: string }[] {
  if (!Array.isArray(materials)) return [];
  const out: { epcClass: string; quantity: number; uom: string }[] = [];
  for (const m of materials) {
    if (typeof m !== 'object' || m === null || Array.isArray(m)) continue;
    const { material, massKg } = m;
    if (typeof material !== 'string' || typeof massKg !== 'number' || !Number.isFinite(massKg) || massKg < 0) continue;
    out.push({ epcClass: materialEpcClass(material), quantity: massKg, uom: 'KGM' });
  }
  return out;
}

/** Prefixes every object key (recursively) with `provenant:`, percent-encoding it so it stays a valid compact IRI. */
function namespaced(value: JsonValue): JsonValue {
  if (Array.isArray(value)) return value.map(namespaced);
  if (typeof value === 'object' && value !== null) {
    const out: { [key: string]: JsonValue } = {};
    for (const [k, v] of Object.entries(value)) out[`${P}${encodeURIComponent(k)}`] = namespaced(v);
    return out;
  }
  return value;
}
