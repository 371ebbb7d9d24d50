import { normalizeGtin } from '../core/identifiers.ts';
import { decideRegisterProduct } from '../core/rights.ts';
import { actorFacts } from './actor-facts.ts';
import { DEFAULT_FIELD_LIMITS, type FieldLimits, checkJson, checkText } from '../core/text.ts';
import type { Db } from '../db/connection.ts';
import { findProduct, insertProduct } from '../db/ledger.ts';
import type { ActorRow, ProductRow } from '../db/types.ts';
import { idempotent } from './idempotency.ts';
import { type FailureOf, conflict, failureSpec, invalid } from './results.ts';

export interface RegisterProductInput {
  gtin: string;
  name: string;
  attributes?: unknown;
  publicHistory?: boolean;
  idempotencyKey?: string | null;
}

/** What registerProduct may fail with (its GraphQL union is built from this). */
export const REGISTER_PRODUCT_FAILURES = failureSpec(['ValidationError', 'PermissionDeniedError', 'ConflictError'], ['ROLE_REQUIRED:MANUFACTURER', 'NOT_PREFIX_OWNER']);
export type RegisterProductResult = { kind: 'ok'; product: ProductRow } | FailureOf<typeof REGISTER_PRODUCT_FAILURES>;

/** A MANUFACTURER registers a GTIN that carries one of its GS1 company prefixes. */
export async function registerProduct(db: Db, caller: ActorRow, input: RegisterProductInput, limits: FieldLimits = DEFAULT_FIELD_LIMITS): Promise<RegisterProductResult> {
  const gtin = normalizeGtin(input.gtin);
  if (!gtin.ok) return invalid('gtin', gtin.error);
  const name = input.name.trim();
  const nameProblem = checkText(name, 'name', { min: 1, max: limits.productNameChars });
  if (nameProblem) return invalid(nameProblem.field, nameProblem.message);
  const attributes = input.attributes ?? {};
  if (typeof attributes !== 'object' || attributes === null || Array.isArray(attributes)) {
    return invalid('attributes', 'attributes must be a JSON object');
  }
  const attributesProblem = checkJson(attributes, 'attributes', limits.attributesBytes);
  if (attributesProblem) return invalid(attributesProblem.field, attributesProblem.message);
  const allowed = decideRegisterProduct(actorFacts(caller), gtin.value);
  if (!allowed.ok) return allowed.error;
  const { idempotencyKey, ...request } = input;
  return db.transaction().execute((trx) =>
    idempotent(trx, caller.id, idempotencyKey, 'registerProduct', request, {
      run: async (): Promise<RegisterProductResult> => {
        if (await findProduct(trx, gtin.value)) return conflict(`product ${gtin.value} is already registered`);
        return { kind: 'ok', product: await insertProduct(trx, { gtin: gtin.value, ownerId: caller.id, name, attributes, publicHistory: input.publicHistory ?? false }) };
      },
      save: (r) => ({ gtin: r.product.gtin }),
      replay: async (s) => ({ kind: 'ok', product: (await findProduct(trx, s.gtin))! }),
    }),
  );
}
