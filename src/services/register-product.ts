import { companyPrefixFor, normalizeGtin } from '../core/identifiers.ts';
import { DEFAULT_FIELD_LIMITS, type FieldLimits, checkJson, checkText } from '../core/text.ts';
import type { Db } from '../db/connection.ts';
import { findProduct, insertProduct } from '../db/ledger.ts';
import type { ActorRow, ProductRow } from '../db/types.ts';
import { idempotent } from './idempotency.ts';
import { type Failure, conflict, denied, invalid } from './results.ts';

export interface RegisterProductInput {
  gtin: string;
  name: string;
  attributes?: unknown;
  publicHistory?: boolean;
  idempotencyKey?: string | null;
}

export type RegisterProductResult = { kind: 'ok'; product: ProductRow } | Failure;

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
  if (!caller.roles.includes('MANUFACTURER')) return denied('ROLE_REQUIRED:MANUFACTURER', 'only a MANUFACTURER registers products');
  if (!companyPrefixFor(gtin.value, caller.company_prefixes)) {
    return denied('NOT_PREFIX_OWNER', `GTIN ${gtin.value} does not carry any of your company prefixes (${caller.company_prefixes.join(', ') || 'none'})`);
  }
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
