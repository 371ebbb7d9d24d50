import { normalizeGtin } from '../core/identifiers.ts';
import { err, ok } from '../core/result.ts';
import { decideRegisterProduct } from '../core/rights.ts';
import { actorFacts } from './actor-facts.ts';
import { DEFAULT_FIELD_LIMITS, type FieldLimits } from '../core/text.ts';
import { checkDeclared, json, text } from '../core/write-input.ts';
import type { Db } from '../db/connection.ts';
import { findProduct, insertProduct } from '../db/ledger.ts';
import type { ActorRow, ProductRow } from '../db/types.ts';
import { ledgerWrite, requestOf } from './ledger-write.ts';
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

/** The text and JSON fields of a product, checked by the write pipeline's shared rules. */
const PRODUCT_FIELDS = { name: text({ min: 1, max: 'productNameChars', trim: true }), attributes: json({ maxBytes: 'attributesBytes' }) };

/** A MANUFACTURER registers a GTIN that carries one of its GS1 company prefixes. */
export async function registerProduct(db: Db, caller: ActorRow, input: RegisterProductInput, limits: FieldLimits = DEFAULT_FIELD_LIMITS): Promise<RegisterProductResult> {
  return ledgerWrite({ db, fieldLimits: limits }, {
    operation: 'registerProduct',
    caller,
    request: requestOf(input),
    idempotencyKey: input.idempotencyKey,
    check: (ctx) => {
      const gtin = normalizeGtin(input.gtin);
      if (!gtin.ok) return err(invalid('gtin', gtin.error));
      const attributes = input.attributes ?? {};
      const fields = checkDeclared(PRODUCT_FIELDS, { name: input.name, attributes }, ctx);
      if (!fields.ok) return fields;
      if (typeof attributes !== 'object' || attributes === null || Array.isArray(attributes)) return err(invalid('attributes', 'attributes must be a JSON object'));
      const allowed = decideRegisterProduct(actorFacts(caller), gtin.value);
      if (!allowed.ok) return allowed;
      return ok({ gtin: gtin.value, ...fields.value });
    },
    write: async (trx, c): Promise<RegisterProductResult> => {
      if (await findProduct(trx, c.gtin)) return conflict(`product ${c.gtin} is already registered`);
      return { kind: 'ok', product: await insertProduct(trx, { gtin: c.gtin, ownerId: caller.id, name: c.name, attributes: c.attributes, publicHistory: input.publicHistory ?? false }) };
    },
    save: (r) => ({ gtin: r.product.gtin }),
    replay: async (trx, s) => ({ kind: 'ok', product: (await findProduct(trx, s.gtin))! }),
  });
}
