/**
 * Decisions of the auditor explorer (src/browser/explorer.ts), kept here so they run in the browser and in tests
 * alike: what a search box entry names (item, batch or container), who held an item when (custody windows from its
 * events, by the lifecycle table's custody rules), and the verification picture a proof-bundle check yields.
 * Pure: no I/O, no clock.
 */
import { parseCheckpoint } from './checkpoint.ts';
import { digitalLink, normalizeGtin, normalizeSscc, parseSgtinUrn, parseSsccUrn, validateCset82 } from './identifiers.ts';
import type { LedgerKind } from './lifecycle.ts';
import { parseResolverPath } from './resolver.ts';
import { type Result, err, ok } from './result.ts';
import type { AnyVerification } from './verify-any.ts';

// ---------------------------------------------------------------------------------------------------------------
// Search

/** What the auditor searched for. Items are named by SGTIN URN or by a canonical (id.gs1.org) Digital Link. */
export type ExplorerQuery =
  | { kind: 'item'; sgtin: string }
  | { kind: 'item'; digitalLink: string }
  | { kind: 'batch'; gtin14: string; lot: string }
  | { kind: 'container'; sscc18: string };

/** GS1 element string in brackets: (01)…(10)…, (01)…(21)…, (00)…. */
const ELEMENT_STRING = /^(?:\((\d{2,4})\)([^()]+))+$/;

function fromElementString(text: string): Result<ExplorerQuery> | undefined {
  if (!ELEMENT_STRING.test(text)) return undefined;
  const ais = new Map<string, string>();
  for (const m of text.matchAll(/\((\d{2,4})\)([^()]+)/g)) ais.set(m[1]!, m[2]!);
  if (ais.has('00')) {
    const s = normalizeSscc(ais.get('00')!);
    return s.ok ? ok({ kind: 'container', sscc18: s.value }) : err(s.error);
  }
  const gtin = ais.get('01');
  if (gtin === undefined) return err('a GS1 element string needs (01) GTIN or (00) SSCC');
  const path = `/01/${gtin}${ais.has('10') ? `/10/${encodeURIComponent(ais.get('10')!)}` : ''}${ais.has('21') ? `/21/${encodeURIComponent(ais.get('21')!)}` : ''}`;
  return fromResolverPath(path);
}

function fromResolverPath(path: string): Result<ExplorerQuery> {
  const key = parseResolverPath(path);
  if (!key.ok) return err(key.error);
  if (key.value.serial !== null) return ok({ kind: 'item', digitalLink: digitalLink(key.value.gtin14, key.value.serial) });
  if (key.value.lot !== null) return ok({ kind: 'batch', gtin14: key.value.gtin14, lot: key.value.lot });
  return err('this names a product, not one item, batch or container: add /21/{serial} or /10/{lot}');
}

/**
 * Reads a search entry: an SGTIN URN; a GS1 Digital Link (any host, http or https, or just its path) with a serial
 * (item) or a lot and no serial (batch); a GS1 element string such as (01)…(21)…; "GTIN LOT" (batch); an SSCC,
 * as 18 digits or an SSCC URN (container). Fails with a message naming what is wrong (bad check digit, unknown form).
 */
export function parseExplorerQuery(input: string): Result<ExplorerQuery> {
  const text = input.trim();
  if (text === '') return err('enter an SGTIN, a Digital Link, a GTIN and lot, or an SSCC');
  if (text.startsWith('urn:epc:id:sgtin:')) {
    const s = parseSgtinUrn(text);
    return s.ok ? ok({ kind: 'item', sgtin: text }) : err(s.error);
  }
  if (text.startsWith('urn:epc:id:sscc:')) {
    const s = parseSsccUrn(text);
    return s.ok ? ok({ kind: 'container', sscc18: s.value.sscc18 }) : err(s.error);
  }
  if (/^\d{18}$/.test(text)) {
    const s = normalizeSscc(text);
    return s.ok ? ok({ kind: 'container', sscc18: s.value }) : err(s.error);
  }
  if (text.startsWith('(')) return fromElementString(text.replace(/\s+/g, '')) ?? err('not a GS1 element string such as (01)…(21)…');
  if (/^https?:\/\//i.test(text) || text.startsWith('/')) {
    let path: string;
    try {
      path = text.startsWith('/') ? text.split(/[?#]/)[0]! : new URL(text).pathname;
    } catch {
      return err('not a valid URL');
    }
    // A resolver may put its own path (or /item for this server's item page) before /01/.
    const at = path.indexOf('/01/');
    if (at < 0) return err('a Digital Link must contain /01/{gtin}');
    return fromResolverPath(path.slice(at));
  }
  const pair = /^(\d{8,14})[\s/,;]+(\S+)$/.exec(text);
  if (pair) {
    const gtin = normalizeGtin(pair[1]!);
    if (!gtin.ok) return err(gtin.error);
    const lot = validateCset82('lot', pair[2]!, 20);
    return lot.ok ? ok({ kind: 'batch', gtin14: gtin.value, lot: lot.value }) : err(lot.error);
  }
  if (/^\d+$/.test(text)) return err('digits alone name a product or an SSCC: an SSCC has 18 digits; for a batch add its lot after the GTIN');
  return err('not an SGTIN (urn:epc:id:sgtin:…), a Digital Link (…/01/{gtin}/21/{serial}), "GTIN LOT" or an SSCC');
}

// ---------------------------------------------------------------------------------------------------------------
// Custody

/** The facts of one event custody depends on, in chain order. Actors are whatever the caller names them by. */
export interface CustodyEvent {
  kind: LedgerKind;
  occurredAt: string;
  actor: string;
  counterparty: string | null;
}

/** One holder's stretch of custody. `until` null: still holding. `inTransitTo`: shipped, not yet received. */
export interface CustodyWindow {
  holder: string;
  from: string;
  until: string | null;
  /** The event kind that gave the holder custody, and the one that ended it (null while holding). */
  startedBy: LedgerKind;
  endedBy: LedgerKind | null;
  inTransitTo: string | null;
}

/**
 * Who held the item when, by the lifecycle's custody rules: COMMISSION gives custody to the manufacturer; SHIP keeps
 * it with the shipper (in transit to the counterparty) until RECEIVE gives it to the receiver; RETURN hands it to the
 * counterparty at once; SELL to the buyer when one is named. Other kinds do not move custody. `events` must be in
 * chain order; an auditor who sees only part of a history gets the windows of that part (the first one starts at
 * the first visible event that names a holder).
 */
export function custodyWindows(events: readonly CustodyEvent[]): CustodyWindow[] {
  const out: CustodyWindow[] = [];
  const hand = (holder: string, at: string, kind: LedgerKind) => {
    const cur = out.at(-1);
    if (cur && cur.until === null) {
      if (cur.holder === holder) {
        cur.inTransitTo = null;
        return;
      }
      cur.until = at;
      cur.endedBy = kind;
      cur.inTransitTo = null;
    }
    out.push({ holder, from: at, until: null, startedBy: kind, endedBy: null, inTransitTo: null });
  };
  for (const e of events) {
    const cur = out.at(-1);
    switch (e.kind) {
      case 'COMMISSION':
      case 'RECEIVE':
        hand(e.actor, e.occurredAt, e.kind);
        break;
      case 'RETURN':
        if (e.counterparty) hand(e.counterparty, e.occurredAt, e.kind);
        break;
      case 'SELL':
        if (e.counterparty) hand(e.counterparty, e.occurredAt, e.kind);
        break;
      case 'SHIP':
        // A history seen from the middle: the shipper held it before.
        if (!cur || cur.until !== null) out.push({ holder: e.actor, from: e.occurredAt, until: null, startedBy: e.kind, endedBy: null, inTransitTo: null });
        out.at(-1)!.inTransitTo = e.counterparty;
        break;
      default:
        if (!cur) out.push({ holder: e.actor, from: e.occurredAt, until: null, startedBy: e.kind, endedBy: null, inTransitTo: null });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Verification picture

export const PICTURE_ROWS = ['signature', 'chain', 'inclusion', 'completeness', 'consistency'] as const;
export type PictureRow = (typeof PICTURE_ROWS)[number];
export type RowState = 'ok' | 'failed' | 'not-checked' | 'not-established';

export interface VerificationPicture {
  ok: boolean;
  /** One line: "Verified: …" or "FAILED (check) at seq N: message". */
  headline: string;
  rows: { row: PictureRow; label: string; state: RowState; text: string }[];
  /** Tree size of the verified checkpoint (when verified). */
  treeSize: number | null;
}

const ROW_LABEL: Record<PictureRow, string> = {
  signature: 'Checkpoint signature',
  chain: 'Hash chain',
  inclusion: 'Inclusion in the log',
  completeness: 'Completeness',
  consistency: 'Consistency with your kept checkpoint',
};

/** Which picture row a verifier check belongs to (v1 and v2 check names; unknown ones count as the chain's). */
export function rowOfCheck(check: string): PictureRow {
  switch (check) {
    case 'signature':
    case 'checkpoint':
    case 'format':
    case 'item':
      return 'signature';
    case 'inclusion':
      return 'inclusion';
    case 'completeness':
    case 'head':
      return 'completeness';
    case 'consistency':
      return 'consistency';
    default:
      return 'chain';
  }
}

/** Event count, head seq and tree size of a bundle that verified (v1 or v2); null for anything else. */
export function verifiedBundleFacts(v: AnyVerification, bundle: unknown): { events: number; headSeq: number; treeSize: number } | null {
  if (!v.ok) return null;
  if (v.kind === 'bundle-v2' && v.v2?.ok) return { events: v.v2.events.length, headSeq: v.v2.head.seq, treeSize: v.v2.treeSize };
  if (v.kind !== 'bundle-v1') return null;
  const b = bundle as { item: { headSeq: number }; events: unknown[]; checkpoint: string };
  const split = b.checkpoint.lastIndexOf('\n\n');
  const cp = parseCheckpoint(b.checkpoint.slice(0, split + 1));
  return cp.ok ? { events: b.events.length, headSeq: b.item.headSeq, treeSize: cp.value.size } : null;
}

/**
 * The explorer's picture of a `verifyAnyBundle` outcome over `bundle`. On success every row says what was proven
 * (consistency "not checked" without a kept checkpoint); on failure the failed check's row says FAILED with the
 * verifier's message and the others "not established" (the verifier stops at the first failure); a bundle of another
 * item than `sgtin` fails check `item`. `keptSize` is the tree size of the checkpoint the auditor kept, if any; `key`
 * names the pinned log key.
 */
export function verificationPicture(v: AnyVerification, bundle: unknown, opts: { keptSize: number | null; key: string; sgtin: string }): VerificationPicture {
  const facts = verifiedBundleFacts(v, bundle);
  // A bundle that verifies but proves another item's history proves nothing about this one.
  const f = !v.ok
    ? v.failure
    : !facts
      ? { check: 'format', seq: null, message: `${v.kind} is not a proof bundle` }
      : v.item !== opts.sgtin
        ? { check: 'item', seq: null, message: `the bundle proves the history of ${v.item}, not of ${opts.sgtin}` }
        : null;
  if (f || !facts) {
    const failedRow = rowOfCheck(f!.check);
    const headline = `FAILED (${f!.check})${f!.seq !== null ? ` at seq ${f!.seq}` : ''}: ${f!.message}`;
    return {
      ok: false,
      headline,
      treeSize: null,
      rows: PICTURE_ROWS.map((row) =>
        row === failedRow
          ? { row, label: ROW_LABEL[row], state: 'failed' as const, text: headline }
          : { row, label: ROW_LABEL[row], state: 'not-established' as const, text: 'not established: verification stopped at the first failure' },
      ),
    };
  }
  const { events, headSeq, treeSize } = facts;
  const { keptSize, key } = opts;
  const n = `${events} event${events === 1 ? '' : 's'}`;
  const completeness =
    v.kind === 'bundle-v2'
      ? `seqs 0..${headSeq}: the item's head (seq ${headSeq}) is proven in the checkpoint's head map, so nothing is missing`
      : `seqs 0..${headSeq} without gaps, up to the bundle's own headSeq (a v1 bundle cannot prove there is nothing after it)`;
  const consistency: { state: RowState; text: string } =
    keptSize === null
      ? { state: 'not-checked', text: 'not checked: no kept checkpoint (this one is kept for your next search)' }
      : { state: 'ok', text: keptSize === treeSize ? `same tree (size ${treeSize}) and root as your kept checkpoint` : `the log of size ${treeSize} extends your kept checkpoint of size ${keptSize}` };
  const rows = [
    { row: 'signature' as const, state: 'ok' as const, text: `checkpoint of tree size ${treeSize} signed by the pinned log key ${key.split('+').slice(0, 2).join('+')}` },
    { row: 'chain' as const, state: 'ok' as const, text: `${n} hash-linked from COMMISSION (seq 0) to seq ${headSeq}` },
    { row: 'inclusion' as const, state: 'ok' as const, text: `every event proven in the log's tree of size ${treeSize}` },
    { row: 'completeness' as const, state: 'ok' as const, text: completeness },
    { row: 'consistency' as const, ...consistency },
  ];
  return {
    ok: true,
    headline: `Verified in this browser: ${n}, checkpoint ${treeSize}${keptSize !== null ? `, consistent with your kept checkpoint ${keptSize}` : ''}`,
    treeSize,
    rows: rows.map((r) => ({ ...r, label: ROW_LABEL[r.row] })),
  };
}
