/**
 * One entry for offline verification: dispatches on `format` to the v1 bundle verifier, the v2 bundle verifier or
 * the item-statement verifier, and returns a uniform outcome with the line that says what was proven. Never throws.
 */
import { toHex } from './bytes.ts';
import { BUNDLE_FORMAT, verifyBundle } from './bundle.ts';
import { BUNDLE_FORMAT_V2, type BundleV2Verification, verifyBundleV2 } from './v2/bundle-v2.ts';
import { ITEM_STATEMENT_FORMAT, type ItemStatementVerification, verifyItemStatement } from './v2/statement.ts';

export { BUNDLE_FORMAT, BUNDLE_FORMAT_V2, ITEM_STATEMENT_FORMAT };

export type AnyVerification =
  | { ok: true; kind: 'bundle-v1' | 'bundle-v2' | 'item-statement'; item: string; summary: string; v2?: BundleV2Verification; statement?: ItemStatementVerification }
  | { ok: false; kind: 'bundle-v1' | 'bundle-v2' | 'item-statement' | 'unknown'; failure: { item: string; seq: number | null; check: string; message: string } };

export function verifyAnyBundle(doc: unknown, opts: { verifierKeys: string[]; previousCheckpoint?: string }): AnyVerification {
  const format = typeof doc === 'object' && doc !== null ? (doc as { format?: unknown }).format : undefined;
  if (format === BUNDLE_FORMAT_V2) {
    const r = verifyBundleV2(doc, opts);
    return r.ok ? { ok: true, kind: 'bundle-v2', item: r.sgtin, summary: r.summary, v2: r } : { ok: false, kind: 'bundle-v2', failure: r.failure };
  }
  if (format === ITEM_STATEMENT_FORMAT) {
    const r = verifyItemStatement(doc, opts);
    return r.ok ? { ok: true, kind: 'item-statement', item: r.sgtin, summary: r.summary, statement: r } : { ok: false, kind: 'item-statement', failure: r.failure };
  }
  if (format === BUNDLE_FORMAT) {
    const r = verifyBundle(doc, opts);
    if (!r.ok) return { ok: false, kind: 'bundle-v1', failure: r.failure };
    const item = (doc as { item: { sgtin: string } }).item.sgtin;
    return {
      ok: true,
      kind: 'bundle-v1',
      item,
      summary: `${r.length} event${r.length === 1 ? '' : 's'}, v1 chain complete up to the bundle's own headSeq (not provable in v1) and included in tree size ${r.treeSize}, root ${toHex(r.rootHash)}`,
    };
  }
  return {
    ok: false,
    kind: 'unknown',
    failure: { item: '(unknown item)', seq: null, check: 'format', message: `unknown format ${JSON.stringify(format ?? null)}; expected ${BUNDLE_FORMAT}, ${BUNDLE_FORMAT_V2} or ${ITEM_STATEMENT_FORMAT}` },
  };
}
