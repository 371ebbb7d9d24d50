import { overridesAcrossProducts } from '../core/event-disclosure.ts';
import { BUNDLE_FORMAT_V2, type ProofBundleV2 } from '../core/v2/bundle-v2.ts';
import type { DbOrTrx } from '../db/connection.ts';
import { chainProductPolicies } from '../db/disclosure.ts';
import { findItemsByGtinSerial } from '../db/ledger.ts';
import type { LogSigner } from '../db/log.ts';
import { itemProofBundle } from './log-proofs.ts';

/**
 * Why there is no public bundle: no such item, no signed checkpoint (or nothing of the item in it) yet, or a chain
 * with format-v1 events (a v1 body lists every serial of its event and all of its data, so it cannot be disclosed
 * by tier).
 */
export type PublicBundleResult =
  | { kind: 'ok'; bundle: ProofBundleV2 }
  | { kind: 'NoSuchItem' }
  | { kind: 'NotYetLogged'; message: string }
  | { kind: 'NotPublicFormat' };

/**
 * The proof bundle anyone may read for the item `gtin`/`serial` (the consumer scan page): format v2, fields
 * disclosed for the `public` tier under the current disclosure policies of every product whose items share an event
 * with it (the strictest wins, `overridesAcrossProducts`), no consistency proof. Only for an
 * item whose whole chain up to the checkpoint is format v2 (`NotPublicFormat` otherwise, including a v1 prefix).
 * Failures are results, never throws, except on corruption (as `itemProofBundle`).
 */
export async function publicItemBundle(db: DbOrTrx, signer: LogSigner, gtin: string, serial: string, digitalLinkBase: string): Promise<PublicBundleResult> {
  const [item] = await findItemsByGtinSerial(db, [{ gtin, serial }]);
  if (!item) return { kind: 'NoSuchItem' };
  // Every product in the item's events has its say: one brand's lowered tier must not open another brand's event.
  const overrides = overridesAcrossProducts(await chainProductPolicies(db, item.id));
  const r = await itemProofBundle(db, signer, item, null, digitalLinkBase, { tier: 'public', overrides });
  if (r.kind === 'NotFoundError') return { kind: 'NotYetLogged', message: r.message };
  if (r.kind !== 'ok') throw new Error(`public bundle of ${item.sgtin}: ${r.kind}: ${r.message}`);
  const b = r.bundle;
  if (b.format !== BUNDLE_FORMAT_V2 || b.events.some((e) => !('entry' in e))) return { kind: 'NotPublicFormat' };
  return { kind: 'ok', bundle: b };
}
