import { type OverrideInput, validatePolicy } from '../core/event-disclosure.ts';
import { normalizeGtin } from '../core/identifiers.ts';
import { isBrandOrOperator } from '../core/links.ts';
import type { ReadScope } from '../core/rights.ts';
import type { Db } from '../db/connection.ts';
import { type PolicyVersion, findPolicy, insertPolicy } from '../db/disclosure.ts';
import type { ActorRow } from '../db/types.ts';
import { findVisibleProduct } from '../db/visibility.ts';
import { ledgerWrite, requestOf } from './ledger-write.ts';
import { err, ok } from '../core/result.ts';
import { type FailureOf, denied, failureSpec, invalid, notFound } from './results.ts';

export interface SetDisclosurePolicyInput {
  gtin: string;
  overrides: readonly OverrideInput[];
  idempotencyKey?: string | null;
}

/** What setDisclosurePolicy may fail with (its GraphQL union is built from this). */
export const SET_DISCLOSURE_POLICY_FAILURES = failureSpec(['ValidationError', 'NotFoundError', 'PermissionDeniedError', 'ConflictError'], ['NOT_BRAND_OWNER']);
export type SetDisclosurePolicyResult = { kind: 'ok'; policy: PolicyVersion } | FailureOf<typeof SET_DISCLOSURE_POLICY_FAILURES>;

/**
 * Replaces the disclosure overrides of one product (docs/ledger-format.md §15) by `input.overrides`, recorded with
 * the caller and `now` (append-only: earlier policies stay in the history). Only the brand owning the GTIN or the
 * operator. Failures: ValidationError (`gtin`, `overrides[i].field|kind|tier`, a (kind, field) given twice),
 * NotFoundError (a product the caller cannot see, worded as a missing one), PermissionDeniedError NOT_BRAND_OWNER,
 * ConflictError (idempotency key reused with another request).
 */
export async function setDisclosurePolicy(db: Db, caller: ActorRow, scope: ReadScope, input: SetDisclosurePolicyInput, now: Date): Promise<SetDisclosurePolicyResult> {
  return ledgerWrite({ db, now: () => now }, {
    operation: 'setDisclosurePolicy',
    caller,
    request: requestOf(input),
    idempotencyKey: input.idempotencyKey,
    check: () => {
      const gtin = normalizeGtin(input.gtin);
      if (!gtin.ok) return err(invalid('gtin', gtin.error));
      const policy = validatePolicy(input.overrides);
      if (!policy.ok) return err(invalid(policy.error.field, policy.error.message));
      return ok({ gtin: gtin.value, policy: policy.value });
    },
    write: async (trx, { gtin, policy }): Promise<SetDisclosurePolicyResult> => {
      const product = await findVisibleProduct(trx, scope, gtin);
      if (!product) return notFound(`product ${gtin} not found`);
      if (!isBrandOrOperator({ id: caller.id, isOperator: caller.is_operator }, product.owner_id)) {
        return denied('NOT_BRAND_OWNER', `only the brand owning product ${gtin} (or the operator) sets its disclosure policy`);
      }
      return { kind: 'ok', policy: await insertPolicy(trx, gtin, policy, caller.id, now) };
    },
    save: (r) => ({ policyId: r.policy.id }),
    replay: async (trx, s) => ({ kind: 'ok', policy: (await findPolicy(trx, s.policyId))! }),
  });
}
