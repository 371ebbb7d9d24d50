import { toTierOverrides } from '../core/event-disclosure.ts';
import { BUNDLE_FORMAT_V2, type ProofBundleV2 } from '../core/v2/bundle-v2.ts';
import type { DbOrTrx } from '../db/connection.ts';
import { currentPolicies } from '../db/disclosure.ts';
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
 * disclosed for the `public` tier under the product's current disclosure policy, no consistency proof. Only for an
 * item whose whole chain up to the checkpoint is format v2 (`NotPublicFormat` otherwise, including a v1 prefix).
 * Failures are results, never throws, except on corruption (as `itemProofBundle`).
 */
export async function publicItemBundle(db: DbOrTrx, signer: LogSigner, gtin: string, serial: string, digitalLinkBase: string): Promise<PublicBundleResult> {
  const [item] = await findItemsByGtinSerial(db, [{ gtin, serial }]);
  if (!item) return { kind: 'NoSuchItem' };
  const policy = (await currentPolicies(db, [item.gtin])).get(item.gtin);
  const overrides = policy ? toTierOverrides(policy.overrides) : undefined;
  const r = await itemProofBundle(db, signer, item, null, digitalLinkBase, overrides ? { tier: 'public', overrides } : { tier: 'public' });
  if (r.kind === 'NotFoundError') return { kind: 'NotYetLogged', message: r.message };
  if (r.kind !== 'ok') throw new Error(`public bundle of ${item.sgtin}: ${r.kind}: ${r.message}`);
  const b = r.bundle;
  if (b.format !== BUNDLE_FORMAT_V2 || b.events.some((e) => !('entry' in e))) return { kind: 'NotPublicFormat' };
  return { kind: 'ok', bundle: b };
}
