/**
 * EPCIS capture's decisions against the ledger's facts (`services/epcis-capture.ts` loads the facts, asks here, and
 * writes): which earlier capture answers an event of the document, which actor each party of the document is, which
 * parties must be the capturing actor itself, and where a refused write is reported in the document. The mapping of
 * the document's events to ledger writes is `epcis-import.ts`.
 * Pure: no I/O, no clock; runs in a browser.
 */
import { KIND_DATA_FIELDS } from './event-data.ts';
import { type CaptureProblem, type ItemRef, type PartyRef, type Planned, type PlannedAggregation, type PlannedRecord, dataPath, problem } from './epcis-import.ts';
import { type Failure, type ValidationFailure, invalid } from './failures.ts';
import { parseDigitalLink, parseSgtinUrn } from './identifiers.ts';
import { isParty } from './party.ts';

// ---------------------------------------------------------------------------------------------------------------
// Already captured

/** An earlier capture of an event hash ID, or the ledger event a document event is the ledger's own export of. */
export interface PriorCapture {
  /** The CBV 2.0 event hash ID. */
  eventID: string;
  ledgerEventId: string;
  /** The actor whose capture recorded it; null when the ledger event was recognised as this ledger's own export. */
  capturedBy: string | null;
  /** Whether the caller may read the ledger event (the read rule of `events`; a pending event reads as not visible). */
  visible: boolean;
}

/**
 * Which earlier ledger event answers each hash ID of the document as ALREADY_CAPTURED (hash ID → ledger event id);
 * an ID left out is recorded (or refused) on its own merits, as an event never captured.
 *
 * `priors` come in the order they were captured (the ledger's own exports last). The caller's own capture wins (its
 * retry is answered by its own event, even while that event waits for integration); otherwise the first one the
 * caller may read. A capture the caller may not read does not exist for it: the event is judged exactly as a new
 * one, and when it is recorded, the caller's capture is kept beside the other one, so the caller's retries find its
 * own event. Nothing in the answer tells that another actor captured the same event (no 409, no "already captured").
 */
export function alreadyCaptured(callerId: string, eventIDs: Iterable<string>, priors: readonly PriorCapture[]): Map<string, string> {
  const wanted = new Set(eventIDs);
  const own = new Map<string, string>();
  const visible = new Map<string, string>();
  for (const p of priors) {
    if (!wanted.has(p.eventID)) continue;
    if (p.capturedBy === callerId && !own.has(p.eventID)) own.set(p.eventID, p.ledgerEventId);
    if (p.visible && !visible.has(p.eventID)) visible.set(p.eventID, p.ledgerEventId);
  }
  const out = new Map(visible);
  for (const [id, ledger] of own) out.set(id, ledger);
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Parties

/** An actor a document's party may name: found by GLN or by id. */
export interface PartyFacts {
  id: string;
  gln: string | null;
  isOperator: boolean;
}

export type PartyResolution = { id: string } | { why: string };

/**
 * The actor a party of the document names. The operator is never a party ({@link isParty}): naming it by id reads as
 * naming an unknown actor, and its GLN (if it had one) counts for nobody. A GLN shared by several parties is ambiguous.
 * `actors` may hold anyone (unrelated actors are ignored).
 */
export function resolveParty(ref: PartyRef, actors: readonly PartyFacts[]): PartyResolution {
  const parties = actors.filter((a) => isParty(a));
  if ('gln' in ref) {
    const found = [...new Set(parties.filter((a) => a.gln === ref.gln).map((a) => a.id))];
    if (found.length === 1) return { id: found[0]! };
    return { why: found.length === 0 ? `no actor with GLN ${ref.gln} is known to this ledger` : `GLN ${ref.gln} belongs to ${found.length} actors; name one as urn:provenant:actor:{id}` };
  }
  const id = ref.actorId.toLowerCase();
  return parties.some((a) => a.id.toLowerCase() === id) ? { id } : { why: `no actor ${id} is known to this ledger` };
}

/** The GLNs and actor ids the parties of `events` name (what to load for {@link decideCaptureParties}). */
export function partyNames(events: readonly PlannedRecord[]): { glns: string[]; actorIds: string[] } {
  const refs = events.flatMap((p) => [...(p.party ? [p.party] : []), ...p.selfChecks.map((c) => c.party)]);
  return {
    glns: [...new Set(refs.flatMap((r) => ('gln' in r ? [r.gln] : [])))],
    actorIds: [...new Set(refs.flatMap((r) => ('actorId' in r ? [r.actorId.toLowerCase()] : [])))],
  };
}

export interface CaptureParties {
  /** Every party problem of every event (the document is refused when there is any). */
  problems: CaptureProblem[];
  /** Event index → the counterparty (SHIP/RETURN receiver, SELL buyer). */
  counterpartyOf: Map<number, string>;
  /** Event index → warnings about parties that could not be checked. */
  warnings: Map<number, string[]>;
}

/**
 * The parties of the lifecycle events to record, against the actors they name:
 * - the counterparty (destination of SHIP / RETURN / SELL) must resolve to a party of this ledger (NOT_FOUND otherwise);
 * - a party that must be the capturing actor (the source of SHIP / RETURN, the destination of RECEIVE: the ledger
 *   records custody, and only its holder moves it) is refused when it resolves to anyone else (INVALID), and is a
 *   warning when it does not resolve (the ledger cannot check it).
 */
export function decideCaptureParties(events: readonly PlannedRecord[], callerId: string, actors: readonly PartyFacts[]): CaptureParties {
  const problems: CaptureProblem[] = [];
  const counterpartyOf = new Map<number, string>();
  const warnings = new Map<number, string[]>();
  for (const p of events) {
    for (const check of p.selfChecks) {
      const r = resolveParty(check.party, actors);
      if ('id' in r && r.id !== callerId) {
        problems.push(problem(p.index, p.eventID, check.field, `names ${check.party.written}, which is not the capturing actor: ${check.role}`, 'INVALID'));
      } else if ('why' in r) {
        warnings.set(p.index, [...(warnings.get(p.index) ?? []), `${check.field} ${check.party.written} is not checked: ${r.why}`]);
      }
    }
    if (!p.party) continue;
    const r = resolveParty(p.party, actors);
    if ('why' in r) problems.push(problem(p.index, p.eventID, p.partyField, r.why, 'NOT_FOUND'));
    else counterpartyOf.set(p.index, r.id);
  }
  return { problems, counterpartyOf, warnings };
}

// ---------------------------------------------------------------------------------------------------------------
// Refusals of the use cases, as problems of the document

/**
 * A refused write as a problem of the EPCIS event it came from, pointed at the EPCIS field from the failure's
 * structured values (its input field and subject), never from its message.
 */
export function serviceProblem(p: Planned, f: Failure): CaptureProblem {
  // The field of the use case's input → the EPCIS path it was taken from.
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
    if (field === 'location') return p.op === 'record' ? p.locationField : 'readPoint';
    if (p.op === 'pack' || p.op === 'unpack') {
      if (field === 'container') return 'parentID';
      return p.epcField;
    }
    if (field === 'items' || field === 'containers') return p.epcField;
    if (field === 'to') return p.partyField;
    const top = field.split(/[.[]/, 1)[0]!;
    if (KIND_DATA_FIELDS[p.kind].includes(top)) return dataPath(p.dataPaths, field);
    return field;
  };
  // A failure about a container (its SSCC as subject) points at the childEPCs entry or the parentID naming it.
  const containerField = (): string | null => {
    if (p.op !== 'pack' && p.op !== 'unpack') return null;
    const subject = 'subject' in f ? f.subject : undefined;
    const ref = subject?.type === 'container' ? subject.sscc : undefined;
    const child = ref === undefined ? undefined : p.children.find((c) => c.sscc === ref);
    if (child) return `childEPCs[${child.index}]`;
    if (ref !== undefined && ref === p.container) return 'parentID';
    return null;
  };
  switch (f.kind) {
    case 'ValidationError':
      return problem(p.index, p.eventID, containerField() ?? fieldFor(f.field), f.message, 'INVALID');
    case 'NotFoundError': {
      if (p.op === 'pack' || p.op === 'unpack') return problem(p.index, p.eventID, containerField() ?? p.epcField, f.message, 'NOT_FOUND');
      return problem(p.index, p.eventID, f.subject?.type === 'counterparty' && p.op === 'record' ? p.partyField : p.epcField, f.message, 'NOT_FOUND');
    }
    case 'PermissionDeniedError':
      return problem(p.index, p.eventID, p.epcField, f.message, 'PERMISSION_DENIED', { rule: f.rule, items: f.items });
    case 'InvalidTransitionError': {
      const detail = f.items.slice(0, 5).map((i) => `${i.item}: ${i.reason}`).join('; ');
      return problem(p.index, p.eventID, p.epcField, `${f.message}${detail ? ` (${detail}${f.items.length > 5 ? '; …' : ''})` : ''}`, 'INVALID_TRANSITION', { items: f.items });
    }
    case 'ConflictError':
      return problem(p.index, p.eventID, p.op === 'commission' && f.subject?.type === 'batch' ? p.lotField : p.epcField, f.message, 'CONFLICT');
  }
}

/**
 * A refused PACK: "item {id} is already packed" names the item as the document does (`packed` is the stored item the
 * failure's subject names, when found); any other refusal as {@link serviceProblem}.
 */
export function packProblem(p: PlannedAggregation, f: Failure, packed: { gtin: string; serial: string } | null): CaptureProblem {
  const subject = f.kind === 'ValidationError' && f.subject?.type === 'packedItem' ? f.subject : null;
  const listed = subject && packed ? p.items.find((i) => i.gtin === packed.gtin && i.serial === packed.serial) : undefined;
  if (subject && listed) {
    return problem(p.index, p.eventID, `childEPCs[${listed.index}]`, `${listed.written} is already packed in container ${subject.container}; unpack it first (or list that container among the children)`, 'INVALID');
  }
  return serviceProblem(p, f);
}

// ---------------------------------------------------------------------------------------------------------------
// UNPACK: the listed children against the container's content

/** A container's content just before it is unpacked. */
export interface ContainerContent {
  /** `gtin/serial` → item, for the items packed directly in the container and for every item at any depth. */
  direct: Map<string, { id: string; sgtin: string }>;
  all: Map<string, { id: string; sgtin: string }>;
  /** Child containers packed directly in it. */
  containers: Set<string>;
}

const sameSet = (a: Set<string>, b: Iterable<string>) => {
  const bs = new Set(b);
  return a.size === bs.size && [...a].every((x) => bs.has(x));
};

/**
 * Whether an UNPACK's `childEPCs` are the content the container had: its direct children (items and containers packed
 * directly in it: EPCIS), or every item inside it at any depth, with or without its direct child containers (what this
 * ledger's export lists). The ledger unpacks the whole container, so anything else is refused.
 */
export function unpackListMatches(p: PlannedAggregation, content: ContainerContent): boolean {
  const listedItems = new Set(p.items.map((i) => `${i.gtin}/${i.serial}`));
  const listedContainers = new Set(p.children.map((c) => c.sscc));
  const directItems = sameSet(listedItems, content.direct.keys());
  const allItems = sameSet(listedItems, content.all.keys());
  const directContainers = sameSet(listedContainers, content.containers);
  return (directContainers && (directItems || allItems)) || (listedContainers.size === 0 && allItems);
}

/**
 * Why an UNPACK's `childEPCs` are not the container's content: what is listed but not inside, and what is inside but
 * not listed — by name only the items in `covered` (those the caller's UNPACK covered: it holds them), the others
 * counted, so the report names nothing the caller may not see.
 */
export function unpackMismatchProblem(p: PlannedAggregation, content: ContainerContent, covered: ReadonlySet<string>): CaptureProblem {
  const listedItems = new Set(p.items.map((i) => `${i.gtin}/${i.serial}`));
  const listedContainers = new Set(p.children.map((c) => c.sscc));
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

// ---------------------------------------------------------------------------------------------------------------
// Items named by the document (bulk path)

/** The key the bulk path finds an item under: its GTIN-14 and serial. */
export const itemKey = (gtin: string, serial: string): string => `${gtin}/${serial}`;

/** GTIN-14 and serial of an SGTIN URN or item Digital Link reference; null for any other kind; an error for a bad one. */
export function refKey(ref: ItemRef): { ok: true; gtin: string; serial: string } | { ok: false; error: string } | null {
  const p = ref.kind === 'sgtin' ? parseSgtinUrn(ref.value) : ref.kind === 'digitalLink' ? parseDigitalLink(ref.value) : null;
  if (p === null) return null;
  return p.ok ? { ok: true, gtin: p.value.gtin14, serial: p.value.serial } : { ok: false, error: p.error };
}

/**
 * The items an event names, as `recordEvent` resolves them: a reference that names no item and one naming an item the
 * caller may not see (`visible`) are both "missing", listed as submitted and in submission order, so the answer is
 * the same whether or not the item exists. A malformed reference is a ValidationError on `items`; no reference at all
 * is one too.
 */
export function resolveNamedItems<T>(
  refs: readonly ItemRef[],
  byKey: ReadonlyMap<string, T>,
  visible: (item: T) => boolean,
): { kind: 'ok'; items: T[] } | { kind: 'missing'; refs: string[] } | ValidationFailure {
  const items: T[] = [];
  const missing: string[] = [];
  for (const ref of refs) {
    const key = refKey(ref);
    if (key && !key.ok) return invalid('items', `${ref.value} is not a valid ${ref.kind === 'sgtin' ? 'SGTIN' : 'Digital Link'}: ${key.error}`);
    const item = key ? byKey.get(itemKey(key.gtin, key.serial)) : undefined;
    if (item !== undefined && visible(item)) items.push(item);
    else missing.push(ref.value);
  }
  if (missing.length > 0) return { kind: 'missing', refs: missing };
  if (items.length === 0) return invalid('items', 'the selection contains no items');
  return { kind: 'ok', items };
}
