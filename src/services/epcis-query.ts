/**
 * EPCIS 2.0 export: the ledger events a viewer may read, as EPCIS events (core's `toEpcisEvent`), filtered with the
 * EPCIS 2.0 SimpleEventQuery parameters this ledger supports and paged in log order.
 *
 * Visibility is exactly `eventVisibleSql` (the rule of every other event read). Query semantics (EPCIS 2.0 §8.2.7):
 * - `MATCH_epc` matches the EPCs of `epcList` (ObjectEvents) and `childEPCs` (PACK/UNPACK AggregationEvents): a RECYCLE
 *   exported as a TransformationEvent carries its items in `inputEPCList`, so it is matched by `MATCH_anyEPC` only, as
 *   is a container (SSCC URN or `https://id.gs1.org/00/{sscc}`) as the `parentID` of AggregationEvents; a container
 *   packed into another is one of that PACK's `childEPCs` and matches `MATCH_epc` too.
 * - EPC values: SGTIN URNs, item Digital Links (exact), `urn:epc:idpat:sgtin:CP.IR.*` and class Digital Links
 *   `…/01/{gtin}` (every serial of a GTIN), `urn:epc:idpat:sgtin:CP.*.*` (a company prefix). Other EPC schemes
 *   (GRAI, GIAI, …) are well-formed but match nothing: the ledger tracks trade items and their containers only.
 * - `EQ_bizStep` takes CBV short names, URNs or Web URIs; `EQ_action` ADD is COMMISSION and PACK, DELETE is UNPACK,
 *   OBSERVE every other ObjectEvent.
 * - `GE_eventTime` / `LT_eventTime` compare the occurrence instant.
 *
 * Every exported event that the ledger recorded from an EPCIS capture also carries `provenant:capturedEventID` (the
 * CBV 2.0 hash ID of the event as it was captured); its own `eventID` is then recomputed over the whole event, so it is
 * still its CBV 2.0 event hash ID.
 */
import { type Kysely, type RawBuilder, sql } from 'kysely';
import type { EventBody } from '../core/chain.ts';
import { DOCUMENT_CONTEXT, type EpcFormat, toEpcisEvent } from '../core/epcis-export.ts';
import { epcisEventHashId } from '../core/epcis-hash.ts';
import { gs1CheckDigit, normalizeGtin, normalizeSscc, parseDigitalLink, parseSgtinUrn, parseSsccUrn } from '../core/identifiers.ts';
import { LEDGER_KINDS, type LedgerKind, ruleFor } from '../core/lifecycle.ts';
import { type Result, err, ok } from '../core/result.ts';
import type { ReadScope } from '../core/rights.ts';
import type { DbOrTrx } from '../db/connection.ts';
import { hex } from '../db/ledger.ts';
import type { Database } from '../db/types.ts';
import { eventVisibleSql } from '../db/visibility.ts';

/** Page size of `GET /epcis/events` and `epcisDocument` when none is asked for. */
export const EPCIS_DEFAULT_PAGE_SIZE = 30;
/** Largest page; larger `perPage` / `first` values are served with this size. */
export const EPCIS_MAX_PAGE_SIZE = 1000;

// ---------------------------------------------------------------------------------------------------------------
// The capture mapping table (migrations/20261123T190000-epcis-capture.ts), typed here: src/db/types.ts stays as is.

export interface EpcisCapturesTable {
  epcis_event_id: string;
  event_id: string;
  actor_id: string;
  source_event_id: string | null;
  captured_at: Date;
}
export type EpcisDatabase = Database & { epcis_captures: EpcisCapturesTable };
/** The same connection or transaction, typed with the capture table. */
export const epcisDb = (db: DbOrTrx): Kysely<EpcisDatabase> => db as unknown as Kysely<EpcisDatabase>;

// ---------------------------------------------------------------------------------------------------------------
// CBV vocabulary

const CBV_WEB = 'https://ref.gs1.org/cbv/';

/**
 * CBV short name of a vocabulary value written as a bare name, a CBV 1.x URN (`urn:epcglobal:cbv:{urnPart}:x`),
 * a CBV 2.0 Web URI (`https://ref.gs1.org/cbv/{webPart}-x`) or its compact form (`cbv:{webPart}-x`). Other values
 * (private vocabularies) are returned unchanged.
 */
function cbvShortName(value: string, urnPart: string, webPart: string): string {
  const v = value.trim();
  const prefixes = [`urn:epcglobal:cbv:${urnPart}:`, `${CBV_WEB}${webPart}-`, `cbv:${webPart}-`, `https://gs1.org/voc/${webPart}-`];
  for (const p of prefixes) if (v.startsWith(p)) return v.slice(p.length);
  return v;
}
export const bizStepName = (value: string): string => cbvShortName(value, 'bizstep', 'BizStep');
export const dispositionName = (value: string): string => cbvShortName(value, 'disp', 'Disp');
export const sourceDestTypeName = (value: string): string => cbvShortName(value, 'sdt', 'SDT');

/** Ledger kinds exported with this CBV business step (e.g. receiving → RECEIVE and RETURN, packing → PACK). */
export const kindsOfBizStep = (bizStep: string): LedgerKind[] => LEDGER_KINDS.filter((k) => ruleFor(k).bizStep === bizStepName(bizStep));

// ---------------------------------------------------------------------------------------------------------------
// Filters

export type EpcPattern =
  | { kind: 'item'; gtin: string; serial: string }
  | { kind: 'class'; gtin: string }
  | { kind: 'prefix'; companyPrefix: string }
  /** An SSCC: the parentID of PACK/UNPACK AggregationEvents (MATCH_anyEPC only; shipments list the items inside). */
  | { kind: 'container'; sscc: string }
  /** A well-formed EPC of a scheme the ledger does not hold (SSCC, GRAI, …): matches nothing. */
  | { kind: 'none' };

export type EpcisAction = 'ADD' | 'OBSERVE' | 'DELETE';

export interface EpcisEventFilter {
  matchEpc?: readonly EpcPattern[] | null;
  matchAnyEpc?: readonly EpcPattern[] | null;
  /** CBV business steps (any notation). */
  bizSteps?: readonly string[] | null;
  actions?: readonly EpcisAction[] | null;
  /** occurredAt ≥ this. */
  geEventTime?: Date | null;
  /** occurredAt < this. */
  ltEventTime?: Date | null;
  kinds?: readonly string[] | null;
  actorId?: string | null;
  /** Only events touching items of this batch (already resolved; an unknown batch matches nothing). */
  batchId?: string | null;
}

const IDPAT_SGTIN = /^urn:epc:idpat:sgtin:([0-9]{6,12})\.(\*|[0-9]{1,7})\.\*$/;
const CLASS_DL = /^https:\/\/[A-Za-z0-9.-]+(?::[0-9]+)?(?:\/[^?#]*)?\/01\/([0-9]{8,14})\/?(?:[?#].*)?$/;

/** Parses one `MATCH_epc` / `MATCH_anyEPC` value; fails with a message naming the accepted forms. */
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
    const sscc = /^https:\/\/[A-Za-z0-9.-]+(?::[0-9]+)?(?:\/[^?#]*)?\/00\/([0-9]{18})\/?(?:[?#].*)?$/.exec(v);
    if (sscc) {
      const n = normalizeSscc(sscc[1]!);
      return n.ok ? ok({ kind: 'container', sscc: n.value }) : err(`${JSON.stringify(v)}: ${n.error}`);
    }
    if (/^https:\/\/[^/]+\/(8003|8004|414|417|253|255|8018)\//.test(v)) return ok({ kind: 'none' });
    return err(`${JSON.stringify(v)}: ${item.error}`);
  }
  return err(`${JSON.stringify(v)} is not an EPC: expected an SGTIN URN, an urn:epc:idpat:sgtin pattern or a GS1 Digital Link`);
}

const col = (alias: string, column: string) => sql.ref(`${alias}.${column}`);

/** The event is exported as a TransformationEvent: a RECYCLE with at least one well-formed recovered material. */
function isTransformationSql(e: string): RawBuilder<boolean> {
  return sql<boolean>`(${col(e, 'kind')} = 'RECYCLE' AND EXISTS (
    SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof(${col(e, 'data')}->'materials') = 'array' THEN ${col(e, 'data')}->'materials' ELSE '[]'::jsonb END) m
    WHERE jsonb_typeof(m->'material') = 'string' AND jsonb_typeof(m->'massKg') = 'number' AND (m->>'massKg')::numeric >= 0))`;
}

/** The event is exported as an AggregationEvent: PACK (action ADD) or UNPACK (DELETE) of a container. */
function isAggregationSql(e: string): RawBuilder<boolean> {
  return sql<boolean>`(${col(e, 'kind')} IN ('PACK', 'UNPACK') AND jsonb_typeof(${col(e, 'data')}->'container') = 'string')`;
}

/** Items of the event matching `patterns` (epcList, childEPCs, inputEPCList) or, with `parentIds`, its container. */
function epcMatchSql(e: string, patterns: readonly EpcPattern[], parentIds: boolean): RawBuilder<boolean> {
  const items = patterns.filter((p): p is Extract<EpcPattern, { kind: 'item' }> => p.kind === 'item');
  const classes = patterns.filter((p): p is Extract<EpcPattern, { kind: 'class' }> => p.kind === 'class').map((p) => p.gtin);
  const prefixes = patterns.filter((p): p is Extract<EpcPattern, { kind: 'prefix' }> => p.kind === 'prefix').map((p) => p.companyPrefix);
  const conditions: RawBuilder<boolean>[] = [];
  if (items.length > 0) {
    conditions.push(sql<boolean>`(mi.gtin, mi.serial) IN (SELECT * FROM unnest(${items.map((i) => i.gtin)}::text[], ${items.map((i) => i.serial)}::text[]))`);
  }
  if (classes.length > 0) conditions.push(sql<boolean>`mi.gtin = ANY(${classes}::text[])`);
  // The company prefix sits right after the GTIN's indicator digit, whatever prefix length the brand registered.
  for (const cp of prefixes) conditions.push(sql<boolean>`substr(mi.gtin, 2, ${cp.length}::int) = ${cp}`);
  const containers = patterns.filter((p): p is Extract<EpcPattern, { kind: 'container' }> => p.kind === 'container').map((p) => p.sscc);
  const parts: RawBuilder<boolean>[] = [];
  if (conditions.length > 0) {
    parts.push(sql<boolean>`EXISTS (SELECT 1 FROM chain_links ml JOIN items mi ON mi.id = ml.item_id
      WHERE ml.event_id = ${col(e, 'id')} AND (${sql.join(conditions, sql` OR `)}))`);
  }
  if (containers.length > 0) {
    // A child container is one of a PACK's childEPCs (MATCH_epc and MATCH_anyEPC); the parent only for MATCH_anyEPC.
    parts.push(sql<boolean>`(${isAggregationSql(e)} AND ${col(e, 'data')}->'containers' ?| ${containers}::text[])`);
    if (parentIds) parts.push(sql<boolean>`(${isAggregationSql(e)} AND ${col(e, 'data')}->>'container' = ANY(${containers}::text[]))`);
  }
  return parts.length === 0 ? sql<boolean>`false` : sql<boolean>`(${sql.join(parts, sql` OR `)})`;
}

// ---------------------------------------------------------------------------------------------------------------
// Page tokens: opaque, the leaf index the next page starts after.

export function encodePageToken(afterLeafIndex: number): string {
  return Buffer.from(JSON.stringify(['epcis', afterLeafIndex]), 'utf8').toString('base64url');
}

/** The leaf index a token resumes after, or null when it is not a token this service issued. */
export function decodePageToken(token: string): number | null {
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(token)) return null;
  try {
    const v: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    if (Array.isArray(v) && v.length === 2 && v[0] === 'epcis' && Number.isSafeInteger(v[1]) && (v[1] as number) >= 0) return v[1] as number;
  } catch {
    // fall through
  }
  return null;
}

/** Clamps a requested page size to 1…{@link EPCIS_MAX_PAGE_SIZE}; undefined/null → the default. */
export function epcisPageSize(requested: number | null | undefined): Result<number> {
  if (requested === undefined || requested === null) return ok(EPCIS_DEFAULT_PAGE_SIZE);
  if (!Number.isSafeInteger(requested) || requested < 1) return err(`page size must be a positive integer (at most ${EPCIS_MAX_PAGE_SIZE} are served)`);
  return ok(Math.min(requested, EPCIS_MAX_PAGE_SIZE));
}

// ---------------------------------------------------------------------------------------------------------------

export interface EpcisPage {
  /** EPCIS 2.0 events, oldest first (log order). */
  events: Record<string, unknown>[];
  /** Token of the next page, null on the last one. */
  nextPageToken: string | null;
}

/**
 * One page of the events `scope` may read that match `filter`, as EPCIS 2.0 events with EPCs in `epcFormat`.
 * `afterLeafIndex` is a decoded page token (null for the first page).
 */
export async function findEpcisEvents(
  db: DbOrTrx,
  scope: ReadScope,
  filter: EpcisEventFilter,
  page: { limit: number; afterLeafIndex: number | null },
  epcFormat: EpcFormat,
): Promise<EpcisPage> {
  const nothing: EpcisPage = { events: [], nextPageToken: null };
  let q = epcisDb(db)
    .selectFrom('events as e')
    .leftJoin('actors as a', 'a.id', 'e.actor_id')
    .leftJoin('actors as c', 'c.id', 'e.counterparty_id')
    .leftJoin('epcis_captures as x', 'x.event_id', 'e.id')
    .select(['e.id', 'e.leaf_index', 'e.body', 'e.content_hash', 'e.actor_id', 'e.counterparty_id', 'a.gln as actor_gln', 'c.gln as counterparty_gln', 'x.epcis_event_id as captured_event_id'])
    .where(eventVisibleSql(scope, 'e'))
    .orderBy('e.leaf_index')
    .limit(page.limit + 1);
  if (page.afterLeafIndex !== null) q = q.where('e.leaf_index', '>', page.afterLeafIndex);

  if (filter.kinds) {
    if (filter.kinds.length === 0) return nothing;
    q = q.where('e.kind', 'in', [...filter.kinds]);
  }
  if (filter.bizSteps) {
    const kinds = [...new Set(filter.bizSteps.flatMap(kindsOfBizStep))];
    if (kinds.length === 0) return nothing;
    q = q.where('e.kind', 'in', kinds);
  }
  if (filter.actions) {
    // ADD: COMMISSION and PACK; DELETE: UNPACK; OBSERVE: every other ObjectEvent. TransformationEvents have no action.
    const actions = new Set(filter.actions);
    const parts: RawBuilder<boolean>[] = [];
    if (actions.has('ADD')) parts.push(sql<boolean>`(e.kind = 'COMMISSION' OR (e.kind = 'PACK' AND ${isAggregationSql('e')}))`);
    if (actions.has('DELETE')) parts.push(sql<boolean>`(e.kind = 'UNPACK' AND ${isAggregationSql('e')})`);
    if (actions.has('OBSERVE')) parts.push(sql<boolean>`(e.kind <> 'COMMISSION' AND NOT ${isAggregationSql('e')} AND NOT ${isTransformationSql('e')})`);
    if (parts.length === 0) return nothing;
    q = q.where(sql<boolean>`(${sql.join(parts, sql` OR `)})`);
  }
  if (filter.geEventTime) q = q.where('e.occurred_at', '>=', filter.geEventTime);
  if (filter.ltEventTime) q = q.where('e.occurred_at', '<', filter.ltEventTime);
  if (filter.actorId) q = q.where('e.actor_id', '=', filter.actorId);
  if (filter.batchId !== undefined && filter.batchId !== null) {
    const batchId = filter.batchId;
    q = q.where(sql<boolean>`EXISTS (SELECT 1 FROM chain_links bl JOIN items bi ON bi.id = bl.item_id WHERE bl.event_id = e.id AND bi.batch_id = ${batchId}::uuid)`);
  }
  if (filter.matchEpc) q = q.where(epcMatchSql('e', filter.matchEpc, false)).where(sql<boolean>`NOT ${isTransformationSql('e')}`);
  if (filter.matchAnyEpc) q = q.where(epcMatchSql('e', filter.matchAnyEpc, true));

  const rows = await q.execute();
  const pageRows = rows.slice(0, page.limit);
  const events = pageRows.map((r) => {
    const exported = toEpcisEvent(
      {
        body: JSON.parse(r.body) as EventBody,
        contentHash: hex(r.content_hash),
        leafIndex: Number(r.leaf_index),
        actorGln: r.actor_gln ?? null,
        counterpartyGln: r.counterparty_gln ?? null,
        actorId: r.actor_id,
        counterpartyId: r.counterparty_id,
      },
      { epcFormat },
    );
    return r.captured_event_id ? withCapturedEventId(exported, r.captured_event_id) : exported;
  });
  const last = pageRows[pageRows.length - 1];
  return { events, nextPageToken: rows.length > page.limit && last ? encodePageToken(Number(last.leaf_index)) : null };
}

/** Adds `provenant:capturedEventID` and recomputes `eventID` over the event as exported. */
function withCapturedEventId(event: Record<string, unknown>, capturedEventId: string): Record<string, unknown> {
  const { eventID: _ignored, ...rest } = event;
  const extended = { ...rest, 'provenant:capturedEventID': capturedEventId };
  return { eventID: epcisEventHashId(extended, DOCUMENT_CONTEXT), ...extended };
}
