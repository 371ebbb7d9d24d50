/**
 * Item statement (docs/ledger-format.md §11): the item's head (stage, recalled, seq, link) proven in the head map
 * of a signed checkpoint. Small enough for a consumer's phone; carries no event data, so it is public-tier.
 */
import { parseSgtinUrn } from '../identifiers.ts';
import { STAGES } from '../lifecycle.ts';
import { CheckFailure, type CheckV2, checkHeadProof, openCheckpointV2 } from './bundle-v2.ts';
import { HEX32, type Sha256, defaultSha256 } from './hash.ts';
import type { Head } from './head-map.ts';

export const ITEM_STATEMENT_FORMAT = 'provenant-item-statement/v2';

export interface ItemStatement {
  format: typeof ITEM_STATEMENT_FORMAT;
  sgtin: string;
  checkpoint: string;
  head: Head;
  mapProof: string[];
}

export type ItemStatementVerification =
  | { ok: true; sgtin: string; origin: string; treeSize: number; head: Head; summary: string }
  | { ok: false; failure: { item: string; seq: null; check: CheckV2; message: string } };

/** Assembles a statement from the head, its map proof and the signed checkpoint whose heads line proves it. */
export function buildItemStatement(sgtin: string, checkpoint: string, head: Head, mapProof: string[]): ItemStatement {
  return { format: ITEM_STATEMENT_FORMAT, sgtin, checkpoint, head: { seq: head.seq, link: head.link, stage: head.stage, recalled: head.recalled }, mapProof };
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Checks a statement: format, signature, checkpoint (heads line), head (map proof). Never throws. Proves what the
 * log said about the item at that checkpoint, not that the checkpoint is the latest (compare its size with one
 * you trust for freshness).
 */
export function verifyItemStatement(statement: unknown, opts: { verifierKeys: readonly string[]; sha256?: Sha256 }): ItemStatementVerification {
  const s = isRecord(statement) ? statement : {};
  const item = typeof s.sgtin === 'string' ? s.sgtin : '(unknown item)';
  const fail = (check: CheckV2, message: string): ItemStatementVerification => ({ ok: false, failure: { item, seq: null, check, message } });
  try {
    if (s.format !== ITEM_STATEMENT_FORMAT) return fail('format', `unknown statement format ${JSON.stringify(s.format ?? null)}, expected ${ITEM_STATEMENT_FORMAT}`);
    if (typeof s.sgtin !== 'string' || !parseSgtinUrn(s.sgtin).ok) return fail('format', 'sgtin is not an SGTIN URN');
    const h = s.head;
    if (
      !isRecord(h) || !Number.isSafeInteger(h.seq) || (h.seq as number) < 0 || typeof h.link !== 'string' || !HEX32.test(h.link) ||
      typeof h.recalled !== 'boolean' || typeof h.stage !== 'string' || !(STAGES as readonly string[]).includes(h.stage)
    ) {
      return fail('format', 'head is not {seq, link (64 hex), stage, recalled}');
    }
    if (!Array.isArray(s.mapProof) || s.mapProof.length > 256 || !s.mapProof.every((x) => typeof x === 'string' && HEX32.test(x))) {
      return fail('format', 'mapProof is not an array of at most 256 hex hashes');
    }
    if (typeof s.checkpoint !== 'string') return fail('format', 'checkpoint is not a string');
    const cp = openCheckpointV2(s.checkpoint, opts.verifierKeys, 'statement checkpoint');
    const head = h as unknown as Head;
    checkHeadProof(s.sgtin, { ...head, mapProof: s.mapProof as string[] }, cp.headsRoot, opts.sha256 ?? defaultSha256);
    return {
      ok: true,
      sgtin: s.sgtin,
      origin: cp.origin,
      treeSize: cp.size,
      head: { seq: head.seq, link: head.link, stage: head.stage, recalled: head.recalled },
      summary: `stage ${head.stage}, ${head.recalled ? 'recalled' : 'not recalled'}, latest event seq ${head.seq}, as of checkpoint ${cp.size} (tree size ${cp.size}) of ${cp.origin}`,
    };
  } catch (e) {
    if (e instanceof CheckFailure) return fail(e.check, e.message);
    return fail('format', `malformed statement: ${(e as Error).message}`);
  }
}
