import { normalizeGtin } from '../core/identifiers.ts';
import { parseOccurrenceTime } from '../core/time.ts';
import { checkOptionalText } from '../core/text.ts';
import { findActorsByIds } from '../db/actors.ts';
import type { Db } from '../db/connection.ts';
import { findGrantsByIds, insertGrant } from '../db/grants.ts';
import { findBatch, findProduct } from '../db/ledger.ts';
import type { ActorRow, GrantRow } from '../db/types.ts';
import { idempotent } from './idempotency.ts';
import { type Failure, denied, invalid, notFound } from './results.ts';

/** Kinds a brand may delegate; custody moves (SHIP, RECEIVE, SELL, RETURN, RECYCLE, DESTROY) need the holder. */
export const GRANTABLE_KINDS = ['ACTIVATE', 'SERVICE', 'USE_REPORT', 'RECALL'] as const;

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

export type GrantResult = { kind: 'ok'; grant: GrantRow } | Failure;

/**
 * The brand owner (or the operator) grants an actor kinds of events, or read access, on a product or batch until
 * an optional expiry. Grants widen rights only within the lifecycle: stage and role rules still apply.
 */
export async function grantRights(db: Db, caller: ActorRow, input: GrantRightsInput, now: Date): Promise<GrantResult> {
  const kinds = [...new Set(input.kinds)].sort();
  const bad = kinds.find((k) => !(GRANTABLE_KINDS as readonly string[]).includes(k));
  if (bad) return invalid('kinds', `${bad} cannot be granted; grantable kinds are ${GRANTABLE_KINDS.join(', ')} (custody moves need the holder)`);
  const textProblem = checkOptionalText(input.product, 'product', { max: 100 }) ?? checkOptionalText(input.batch?.lot, 'batch.lot', { max: 200 });
  if (textProblem) return invalid(textProblem.field, textProblem.message);
  const scopes = [input.product, input.batch, input.allProducts || null].filter((s) => s !== null && s !== undefined);
  if (scopes.length !== 1) return invalid('scope', 'give exactly one of product, batch or allProducts');
  let expiresAt: Date | null = null;
  if (input.expiresAt) {
    const t = parseOccurrenceTime(input.expiresAt);
    if (!t.ok) return invalid('expiresAt', t.error);
    if (t.value.instant.getTime() <= now.getTime()) return invalid('expiresAt', 'expiresAt must be in the future');
    expiresAt = t.value.instant;
  }
  const [grantee] = await findActorsByIds(db, [input.granteeId]);
  if (!grantee || grantee.is_operator) return notFound('grantee not found');
  if (grantee.id === caller.id) return invalid('grantee', 'you cannot grant rights to yourself');
  let productGtin: string | null = null;
  let batchId: string | null = null;
  if (input.allProducts) {
    if (!caller.is_operator) return denied('OPERATOR_REQUIRED', 'only the operator grants access to all products');
    if (kinds.length > 0) return invalid('kinds', 'an all-products grant is read-only (no kinds)');
  } else {
    const gtin = normalizeGtin(input.product ?? input.batch!.gtin);
    if (!gtin.ok) return invalid(input.product ? 'product' : 'batch.gtin', gtin.error);
    const product = await findProduct(db, gtin.value);
    // Someone else's product is "not found": grants must not reveal what exists.
    if (!product || (product.owner_id !== caller.id && !caller.is_operator)) return notFound(`product ${gtin.value} not found`);
    if (input.batch) {
      const batch = await findBatch(db, gtin.value, input.batch.lot);
      if (!batch) return notFound(`batch ${input.batch.lot} of ${gtin.value} not found`);
      batchId = batch.id;
    } else {
      productGtin = gtin.value;
    }
  }
  const { idempotencyKey, ...request } = input;
  return db.transaction().execute((trx) =>
    idempotent(trx, caller.id, idempotencyKey, 'grantRights', request, {
      run: async (): Promise<GrantResult> => ({
        kind: 'ok',
        grant: await insertGrant(trx, { grantorId: caller.id, granteeId: grantee.id, kinds, productGtin, batchId, allProducts: Boolean(input.allProducts), expiresAt, createdAt: now }),
      }),
      save: (r) => ({ grantId: r.grant.id }),
      replay: async (s) => ({ kind: 'ok', grant: (await findGrantsByIds(trx, [s.grantId]))[0]! }),
    }),
  );
}
