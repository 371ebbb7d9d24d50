import { normalizeGtin, validateCset82, validateSerial } from '../core/identifiers.ts';
import { type LinkInput, validateLinks } from '../core/links.ts';
import { type ReadScope, decideManageLinks } from '../core/rights.ts';
import type { Db } from '../db/connection.ts';
import { findBatch, findBatchesByIds, findItemsByGtinSerial } from '../db/ledger.ts';
import { type LinkSetVersion, findLinkSet, insertLinkSet } from '../db/links.ts';
import type { ActorRow } from '../db/types.ts';
import { findVisibleProduct } from '../db/visibility.ts';
import { ledgerWrite, requestOf } from './ledger-write.ts';
import { type Result, err, ok } from '../core/result.ts';
import { actorFacts } from './actor-facts.ts';
import { type FailureOf, type ValidationFailure, failureSpec, invalid, notFound } from './results.ts';

export interface SetLinksInput {
  gtin: string;
  lot?: string | null;
  serial?: string | null;
  links: readonly LinkInput[];
  idempotencyKey?: string | null;
}

/** What setLinks may fail with (its GraphQL union is built from this). */
export const SET_LINKS_FAILURES = failureSpec(['ValidationError', 'NotFoundError', 'PermissionDeniedError', 'ConflictError'], ['NOT_BRAND_OWNER']);
export type SetLinksResult = { kind: 'ok'; linkSet: LinkSetVersion } | FailureOf<typeof SET_LINKS_FAILURES>;

/**
 * Replaces the links of one product, one lot (`lot`) or one serial (`serial`; with `lot` too, the item must be of
 * that lot) by `input.links`, recorded with the caller and `now`. Only the brand owning the GTIN or the operator.
 * Failures: ValidationError (field path such as `links[1].href`), NotFoundError (product the caller cannot see —
 * worded as for a missing one —, or unknown lot / serial), PermissionDeniedError NOT_BRAND_OWNER.
 */
export async function setLinks(db: Db, caller: ActorRow, scope: ReadScope, input: SetLinksInput, now: Date): Promise<SetLinksResult> {
  return ledgerWrite({ db, now: () => now }, {
    operation: 'setLinks',
    caller,
    request: requestOf(input),
    idempotencyKey: input.idempotencyKey,
    check: () => checkSetLinks(input),
    write: async (trx, { gtin, lot, serial, links }): Promise<SetLinksResult> => {
      const product = await findVisibleProduct(trx, scope, gtin);
      const allowed = decideManageLinks(actorFacts(caller), gtin, product && { ownerId: product.owner_id });
      if (!allowed.ok) return allowed.error;
      if (serial !== null) {
        const [item] = await findItemsByGtinSerial(trx, [{ gtin, serial }]);
        if (!item) return notFound(`product ${gtin} has no serial ${serial}`);
        if (lot !== null) {
          const [batch] = await findBatchesByIds(trx, [item.batch_id]);
          if (batch?.lot !== lot) return notFound(`serial ${serial} of product ${gtin} is not in lot ${lot}`);
        }
      } else if (lot !== null && !(await findBatch(trx, gtin, lot))) {
        return notFound(`product ${gtin} has no lot ${lot}`);
      }
      // A serial identifies the item whatever its lot, so serial-level links are kept per serial alone.
      const target = { gtin, lot: serial !== null ? null : lot, serial };
      return { kind: 'ok', linkSet: await insertLinkSet(trx, target, links, caller.id, now) };
    },
    save: (r) => ({ linkSetId: r.linkSet.id }),
    replay: async (trx, s) => ({ kind: 'ok', linkSet: (await findLinkSet(trx, s.linkSetId))! }),
  });
}

/** The input checks of setLinks (core): identifiers and every link. */
function checkSetLinks(input: SetLinksInput): Result<{ gtin: string; lot: string | null; serial: string | null; links: ValidLinks }, ValidationFailure> {
  const gtin = normalizeGtin(input.gtin);
  if (!gtin.ok) return err(invalid('gtin', gtin.error));
  const lot = input.lot ?? null;
  if (lot !== null) {
    const v = validateCset82('lot', lot, 20);
    if (!v.ok) return err(invalid('lot', v.error));
  }
  const serial = input.serial ?? null;
  if (serial !== null) {
    const v = validateSerial(serial);
    if (!v.ok) return err(invalid('serial', v.error));
  }
  const links = validateLinks(input.links);
  if (!links.ok) return err(invalid(links.error[0]!.field, links.error.map((p) => `${p.field}: ${p.message}`).join('; ')));
  return ok({ gtin: gtin.value, lot, serial, links: links.value });
}

type ValidLinks = Extract<ReturnType<typeof validateLinks>, { ok: true }>['value'];
