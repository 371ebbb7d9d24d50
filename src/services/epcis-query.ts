/**
 * EPCIS 2.0 query: the ledger events a viewer may read, as EPCIS events (core's `toEpcisEvent`), filtered, ordered and
 * paged by the SimpleEventQuery parameters of `core/epcis-query-params.ts` (their meaning is documented there; the
 * SQL is the shared event query, `db/events.ts`). Visibility is exactly `eventVisibleSql`, the rule of every other event read.
 *
 * Every result is read at one signed checkpoint of the Merkle log: the first page at the latest checkpoint, the next
 * pages (through `nextPageToken`) at the same one, and only events below its tree size are returned. The events of
 * a checkpoint are committed with it, so a paged result is one consistent snapshot: complete, no duplicates, and
 * each event provable against the checkpoint the document carries.
 *
 * `EQ_eventID` is matched against the eventID the export computes (a hash of the exported event, not stored), so a
 * query with it reads the events matching its other parameters in chunks and hashes each; when more than
 * {@link EVENT_ID_SCAN_LIMIT} events match them, it is refused as QueryTooComplex.
 *
 * Every exported event that the ledger recorded from an EPCIS capture also carries `provenant:capturedEventID` (the
 * CBV 2.0 hash ID of the event as it was captured); its own `eventID` covers that field too (core's `toEpcisEvent`).
 * Containers are SSCC URNs in the URN format when their company prefix is registered with the ledger.
 */
import { encodeBase64 } from '../core/checkpoint.ts';
import { type EpcFormat, type ExportableEvent, projectExportable, toEpcisEvent } from '../core/epcis-export.ts';
import { bodyFormatOf, filterSelectedFields, matchesDespiteWithheld } from '../core/event-disclosure.ts';
import { visibleEventItems } from '../db/disclosure.ts';
import { type EventReadView, eventReadViews } from './event-disclosure.ts';
import { type EpcisQuery, encodePageToken, orderKey } from '../core/epcis-query-params.ts';
import type { ReadScope } from '../core/rights.ts';
import type { DbOrTrx } from '../db/connection.ts';
import { findCheckpointRow } from '../db/log.ts';
import { type EpcisEventRow, type EpcisOrder, countEpcisEvents, findEpcisEventRows, findEpcisRowsByContentHash, readableBodies } from '../db/events.ts';
import { knownCompanyPrefixes } from '../db/actors.ts';
import { hex } from '../db/ledger.ts';
import { readableBodyOf, v1ItemsOf } from '../db/event-content.ts';

// Kept here for existing importers (capture); they live in core and db now.
export { bizStepName, dispositionName, sourceDestTypeName, kindsOfBizStep, EPCIS_DEFAULT_PAGE_SIZE, EPCIS_MAX_PAGE_SIZE } from '../core/epcis-query-params.ts';
export type { EpcPattern, EpcisAction, EpcisEventFilter } from '../core/epcis-query-params.ts';
export type { EpcisCapturesTable, EpcisDatabase } from '../db/epcis-events.ts';

/** The signed checkpoint a query result was read at, as documents carry it (`provenant:checkpoint`). */
export interface QueryCheckpoint {
  treeSize: number;
  /** Base64, as in the checkpoint note. */
  rootHash: string;
  /** The signed checkpoint note (C2SP tlog-checkpoint); verify it with the log's verifier key. */
  note: string;
}

export type EpcisQueryResult =
  | {
    kind: 'ok';
    /** EPCIS 2.0 events in the query's order. */
    events: Record<string, unknown>[];
    /** Token of the next page, null on the last one. */
    nextPageToken: string | null;
    /** Null only while the log is empty (then there are no events either). */
    checkpoint: QueryCheckpoint | null;
  }
  /** `maxEventCount` was given and more events match (QueryTooLargeException). */
  | { kind: 'QueryTooLarge'; maxEventCount: number; message: string }
  /** `EQ_eventID` would have to hash more candidate events than the scan limit (QueryTooComplexException). */
  | { kind: 'QueryTooComplex'; message: string }
  /** The page token names a checkpoint this log does not have (QueryParameterException). */
  | { kind: 'QueryParameter'; parameter: string; message: string };

/** Rows hashed per round when `EQ_eventID` has to be checked on the exported events. */
const EVENT_ID_CHUNK = 500;
/**
 * Most candidate events an `EQ_eventID` query may hash (exporting and hashing one costs about a millisecond); beyond,
 * the query is refused as too complex rather than occupying the server for seconds.
 */
export const EVENT_ID_SCAN_LIMIT = 10_000;

/**
 * Answers one page of `query` for `scope`, with EPCs in `epcFormat`. Reads at the latest checkpoint, or at the
 * token's. Fails with QueryTooLarge when `maxEventCount` is exceeded (nothing else is read), QueryParameter when the
 * token's checkpoint does not exist.
 */
export async function queryEpcisEvents(
  db: DbOrTrx,
  scope: ReadScope,
  query: EpcisQuery,
  epcFormat: EpcFormat,
  options: { eventIdScanLimit?: number } = {},
): Promise<EpcisQueryResult> {
  const token = query.pageToken;
  const cp = await findCheckpointRow(db, token ? token.treeSize : null);
  if (token && !cp) return { kind: 'QueryParameter', parameter: 'nextPageToken', message: 'nextPageToken names a checkpoint this log does not have' };
  const checkpoint = cp ? { treeSize: cp.treeSize, rootHash: encodeBase64(cp.rootHash), note: cp.note } : null;
  const treeSize = cp?.treeSize ?? 0;
  const order: EpcisOrder = { by: query.orderBy, direction: query.orderDirection };
  const eventIds = query.filter.eventIds ? new Set(query.filter.eventIds) : null;
  // Filters on a field's value must not match through a value withheld from the reader: checked on the export.
  const visibleMatch = withheldFieldGuard(scope, query.filter);
  const postFilter = eventIds !== null || visibleMatch !== null;
  const keep = (event: Record<string, unknown>): boolean =>
    (eventIds === null || eventIds.has(event['eventID'] as string)) && (visibleMatch === null || visibleMatch(event));
  // SSCC URNs of exported containers need the company prefix length: the prefixes registered with this ledger.
  const companyPrefixes = epcFormat === 'urn' ? await knownCompanyPrefixes(db) : [];
  const exportRows = (rows: readonly EpcisEventRow[]) => exportRowsFor(db, scope, rows, epcFormat, companyPrefixes);
  if (eventIds) {
    const limit = options.eventIdScanLimit ?? EVENT_ID_SCAN_LIMIT;
    if ((await countEpcisEvents(db, scope, query.filter, treeSize, limit + 1)) > limit) {
      return {
        kind: 'QueryTooComplex',
        message: `EQ_eventID is checked by hashing each event matching the other parameters; more than ${limit} do: narrow the query (e.g. with GE_eventTime, MATCH_epc, EQ_bizStep)`,
      };
    }
  }

  if (query.maxEventCount !== null) {
    const cap = query.maxEventCount + 1;
    const n = postFilter
      ? (await scan(db, scope, query, { treeSize, order, afterLeafIndex: null }, keep, cap, exportRows)).length
      : await countEpcisEvents(db, scope, query.filter, treeSize, cap);
    if (n > query.maxEventCount) {
      return { kind: 'QueryTooLarge', maxEventCount: query.maxEventCount, message: `more than maxEventCount=${query.maxEventCount} events match the query` };
    }
  }

  const remaining = token ? token.remaining : query.eventCountLimit;
  const limit = remaining === null ? query.perPage : Math.min(query.perPage, remaining);
  const position = { treeSize, order, afterLeafIndex: token?.afterLeafIndex ?? null };
  const found = postFilter
    ? await scan(db, scope, query, position, keep, limit + 1, exportRows)
    : await exportedPage(await findEpcisEventRows(db, scope, query.filter, { ...position, limit: limit + 1 }), exportRows);
  const page = found.slice(0, limit);
  const last = page[page.length - 1];
  const left = remaining === null ? null : remaining - page.length;
  const more = found.length > limit && (left === null || left > 0) && last !== undefined;
  return {
    kind: 'ok',
    events: page.map((f) => f.event),
    nextPageToken: more ? encodePageToken({ treeSize, afterLeafIndex: last.row.leaf_index, remaining: left, order: orderKey(query) }) : null,
    checkpoint,
  };
}

/** Reads matching rows chunk by chunk, keeping those whose export passes `keep`, until `want` are found. */
async function scan(
  db: DbOrTrx,
  scope: ReadScope,
  query: EpcisQuery,
  position: { treeSize: number; order: EpcisOrder; afterLeafIndex: number | null },
  keep: (event: Record<string, unknown>) => boolean,
  want: number,
  exportRows: (rows: readonly EpcisEventRow[]) => Promise<Record<string, unknown>[]>,
): Promise<{ row: EpcisEventRow; event: Record<string, unknown> }[]> {
  const out: { row: EpcisEventRow; event: Record<string, unknown> }[] = [];
  let after = position.afterLeafIndex;
  for (;;) {
    const rows = await findEpcisEventRows(db, scope, query.filter, { ...position, afterLeafIndex: after, limit: EVENT_ID_CHUNK });
    for (const { row, event } of await exportedPage(rows, exportRows)) {
      if (keep(event)) out.push({ row, event });
      if (out.length >= want) return out;
    }
    if (rows.length < EVENT_ID_CHUNK) return out;
    after = rows[rows.length - 1]!.leaf_index;
  }
}

/**
 * For a filter selecting on field values (location, parties), the test an exported event must pass too: none of those
 * fields is withheld from the reader (docs/ledger-format.md §15). Null when nothing needs checking.
 */
export function withheldFieldGuard(scope: ReadScope, filter: EpcisQuery['filter']): ((event: Record<string, unknown>) => boolean) | null {
  const selected = scope.allProducts ? [] : filterSelectedFields(filter);
  return selected.length === 0 ? null : (event) => matchesDespiteWithheld(withheldOf(event), selected);
}

/** The field names an export withholds (its `provenant:projection` label), [] when it shows everything. */
function withheldOf(event: Record<string, unknown>): string[] {
  const p = event['provenant:projection'] as { 'provenant:withheldFields'?: string[] } | undefined;
  return p?.['provenant:withheldFields'] ?? [];
}

async function exportedPage(rows: readonly EpcisEventRow[], exportRows: (rows: readonly EpcisEventRow[]) => Promise<Record<string, unknown>[]>) {
  const events = await exportRows(rows);
  return rows.map((row, i) => ({ row, event: events[i]! }));
}

/**
 * The EPCIS events `scope`'s reader is shown for `rows` (docs/ledger-format.md §15): only the items it may see, only
 * the fields its tier allows (core `projectExportable`); an event it sees entirely is exported exactly as before.
 * Three to four queries for any number of rows.
 */
async function exportRowsFor(db: DbOrTrx, scope: ReadScope, rows: readonly EpcisEventRow[], epcFormat: EpcFormat, companyPrefixes: readonly string[]): Promise<Record<string, unknown>[]> {
  const views = await eventReadViews(db, scope, rows);
  const needItems = rows.filter((r) => bodyFormatOf(r.body) === 'v2' || !views.get(r.id)!.allItemsVisible).map((r) => r.id);
  const items = await visibleEventItems(db, scope, needItems);
  return rows.map((r) => exportEvent(r, epcFormat, companyPrefixes, views.get(r.id)!, items.get(r.id) ?? null));
}

/**
 * A stored row as core's exportable event: its readable body from the columns (db/event-content.ts), with a v1 body's
 * items and none of a v2 one's unless the caller passes the body with them (`readableBodies`).
 */
function exportableOf(r: EpcisEventRow, body = readableBodyOf(r, bodyFormatOf(r.body) === 'v1' ? v1ItemsOf(r.body) : [])): ExportableEvent {
  return {
    body, contentHash: hex(r.content_hash), leafIndex: r.leaf_index, actorGln: r.actor_gln, counterpartyGln: r.counterparty_gln,
    actorId: r.actor_id, counterpartyId: r.counterparty_id, capturedEventId: r.captured_event_id ?? null,
  };
}

function exportEvent(r: EpcisEventRow, epcFormat: EpcFormat, companyPrefixes: readonly string[], view: EventReadView, visibleItems: string[] | null): Record<string, unknown> {
  const projected = projectExportable(exportableOf(r), visibleItems, !view.allItemsVisible, view.withheld);
  return toEpcisEvent(projected, { epcFormat, companyPrefixes });
}

/** A ledger event found by its content hash, with its EPCIS export in both EPC formats. */
export interface LedgerExport {
  eventId: string;
  /** The export in the URN and in the Digital Link format, each without `eventID`. */
  forms: Record<string, unknown>[];
}

/**
 * The ledger events whose content hash (hex) is one of `contentHashes`, each with its EPCIS export as
 * {@link findEpcisEvents} writes it, keyed by the hex content hash. No visibility filter: callers judge visibility.
 */
export async function ledgerExportsByContentHash(db: DbOrTrx, contentHashes: readonly string[]): Promise<Map<string, LedgerExport>> {
  const out = new Map<string, LedgerExport>();
  const wanted = [...new Set(contentHashes.filter((h) => /^[0-9a-f]{64}$/.test(h)))];
  if (wanted.length === 0) return out;
  const companyPrefixes = await knownCompanyPrefixes(db);
  for (let i = 0; i < wanted.length; i += 1000) {
    const rows = await findEpcisRowsByContentHash(db, wanted.slice(i, i + 1000));
    // Capture's comparison sees every item: each body with all its items, in one query per chunk.
    const bodies = await readableBodies(db, rows);
    for (const row of rows) {
      const exportable = exportableOf(row, bodies.get(row.id)!);
      const forms: Record<string, unknown>[] = [];
      for (const epcFormat of ['urn', 'digitalLink'] as const) {
        try {
          const { eventID: _id, ...event } = toEpcisEvent(exportable, { epcFormat, companyPrefixes });
          forms.push(event);
        } catch {
          // an item that is no SGTIN URN has no Digital Link form (stored items always are SGTINs)
        }
      }
      out.set(exportable.contentHash, { eventId: row.id, forms });
    }
  }
  return out;
}

/**
 * Adds the checkpoint a result was read at to an EPCIS document (`EPCISDocument` or `EPCISQueryDocument`) as the
 * document-level extension `provenant:checkpoint` = `{provenant:treeSize, provenant:rootHash, provenant:note}`
 * (JSON-LD: members of an extension are namespaced too), or null while the log is empty.
 */
export function withCheckpoint(doc: Record<string, unknown>, checkpoint: QueryCheckpoint | null): Record<string, unknown> {
  doc['provenant:checkpoint'] = checkpoint && {
    'provenant:treeSize': checkpoint.treeSize,
    'provenant:rootHash': checkpoint.rootHash,
    'provenant:note': checkpoint.note,
  };
  return doc;
}

/** Rows of `findEpcisEventRows` as the EPCIS events a query page shows `scope`'s reader (subscription deliveries use it). */
export async function exportEpcisRows(db: DbOrTrx, scope: ReadScope, rows: readonly EpcisEventRow[], epcFormat: EpcFormat): Promise<Record<string, unknown>[]> {
  const companyPrefixes = epcFormat === 'urn' ? await knownCompanyPrefixes(db) : [];
  return exportRowsFor(db, scope, rows, epcFormat, companyPrefixes);
}
