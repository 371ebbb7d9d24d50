import { normalizeGtin } from '../core/identifiers.ts';
import { checkGrantRequest, decideGrant } from '../core/rights.ts';
import { findActorsByIds } from '../db/actors.ts';
import type { Db } from '../db/connection.ts';
import { findGrantsByIds, insertGrant } from '../db/grants.ts';
import { findBatch, findProduct } from '../db/ledger.ts';
import type { ActorRow, GrantRow } from '../db/types.ts';
import { actorFacts } from './actor-facts.ts';
import { ledgerWrite, requestOf } from './ledger-write.ts';
import { type FailureOf, failureSpec } from './results.ts';

export interface GrantRightsInput {
  granteeId: string;
  /** Empty: a read-only grant (visibility of the scope, e.g. for an auditor). */
  kinds: string[];
  product?: string | null;
  batch?: { gtin: string; lot: string } | null;
  /** Operator only: every product (auditors). */
  allProducts?: boolean | null;
  expiresAt?: string | null;
  idempotencyKey?: string | null;
}

/** What grantRights may fail with (its GraphQL union is built from this). */
export const GRANT_RIGHTS_FAILURES = failureSpec(['ValidationError', 'NotFoundError', 'PermissionDeniedError', 'ConflictError'], ['OPERATOR_REQUIRED']);
export type GrantResult = { kind: 'ok'; grant: GrantRow } | FailureOf<typeof GRANT_RIGHTS_FAILURES>;

/**
 * The brand owner (or the operator) grants an actor kinds of events, or read access, on a product or batch until
 * an optional expiry. Grants widen rights only within the lifecycle: stage and role rules still apply.
 */
export async function grantRights(db: Db, caller: ActorRow, input: GrantRightsInput, now: Date): Promise<GrantResult> {
  return ledgerWrite({ db, now: () => now }, {
    operation: 'grantRights',
    caller,
    request: requestOf(input),
    idempotencyKey: input.idempotencyKey,
    check: (ctx) => checkGrantRequest(input, ctx.now),
    write: async (trx, checked): Promise<GrantResult> => {
      const { scope } = checked;
      // Facts first, decision after: the same statements run for a product that is someone else's and for a missing one.
      const [grantee] = await findActorsByIds(trx, [input.granteeId]);
      const gtin = scope.type === 'allProducts' ? null : normalizeGtin(scope.gtin);
      const product = gtin?.ok ? await findProduct(trx, gtin.value) : undefined;
      const batch = gtin?.ok && scope.type === 'batch' ? await findBatch(trx, gtin.value, scope.lot) : undefined;
      const decided = decideGrant(actorFacts(caller), checked, {
        grantee: grantee ? { id: grantee.id, isOperator: grantee.is_operator } : undefined,
        product: product ? { gtin: product.gtin, ownerId: product.owner_id } : undefined,
        batch: batch ? { id: batch.id } : undefined,
      });
      if (!decided.ok) return decided.error;
      const plan = decided.value;
      return {
        kind: 'ok',
        grant: await insertGrant(trx, {
          grantorId: caller.id, granteeId: plan.granteeId, kinds: plan.kinds, productGtin: plan.productGtin, batchId: plan.batchId,
          allProducts: plan.allProducts, expiresAt: plan.expiresAt, createdAt: now,
        }),
      };
    },
    save: (r) => ({ grantId: r.grant.id }),
    replay: async (trx, s) => ({ kind: 'ok', grant: (await findGrantsByIds(trx, [s.grantId]))[0]! }),
  });
}
