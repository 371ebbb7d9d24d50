import { apiKeyHash, apiKeyHint } from '../core/api-key.ts';
import { validateCompanyPrefix, validateGln } from '../core/party.ts';
import { ROLES, type Role } from '../core/lifecycle.ts';
import { DEFAULT_FIELD_LIMITS, type FieldLimits, checkText } from '../core/text.ts';
import { findActorsByIds, findApiKey, insertActor, insertApiKey } from '../db/actors.ts';
import type { Db } from '../db/connection.ts';
import type { ActorRow, ApiKeyRow } from '../db/types.ts';
import { requireOperator } from '../core/rights.ts';
import { actorFacts } from './actor-facts.ts';
import { type FailureOf, failureSpec, invalid } from './results.ts';
import { generateApiKey } from './api-key-secret.ts';
import { idempotent } from './idempotency.ts';

export interface CreateActorInput {
  name: string;
  roles: string[];
  gln?: string | null;
  companyPrefixes?: string[] | null;
  idempotencyKey?: string | null;
}

/** What createActor may fail with (its GraphQL union is built from this). */
export const CREATE_ACTOR_FAILURES = failureSpec(['ValidationError', 'PermissionDeniedError', 'ConflictError'], ['OPERATOR_REQUIRED']);
/** `secret` is null on an idempotent replay: the key itself is never stored, so it cannot be shown twice. */
export type CreateActorResult = { kind: 'ok'; actor: ActorRow; apiKey: ApiKeyRow; secret: string | null } | FailureOf<typeof CREATE_ACTOR_FAILURES>;

/**
 * Operator only. Creates an actor and its first API key; the secret is returned once and stored only as SHA-256. A
 * repeat with the same idempotency key returns the same actor and key, without the secret.
 */
export async function createActor(db: Db, caller: ActorRow, input: CreateActorInput, limits: FieldLimits = DEFAULT_FIELD_LIMITS): Promise<CreateActorResult> {
  const allowed = requireOperator(actorFacts(caller), 'create actors');
  if (!allowed.ok) return allowed.error;
  const name = input.name.trim();
  const nameProblem = checkText(name, 'name', { min: 1, max: limits.actorNameChars });
  if (nameProblem) return invalid(nameProblem.field, nameProblem.message);
  const roles = [...new Set(input.roles)];
  const badRole = roles.find((r) => !ROLES.includes(r as Role));
  if (badRole) return invalid('roles', `unknown role "${badRole}"; expected one of ${ROLES.join(', ')}`);
  const gln = input.gln?.trim() || null;
  if (gln) {
    const problem = checkText(gln, 'gln', { max: 13 })?.message ?? validateGln(gln);
    if (problem) return invalid('gln', problem);
  }
  const prefixes = [...new Set((input.companyPrefixes ?? []).map((p) => p.trim()))];
  for (const p of prefixes) {
    const problem = validateCompanyPrefix(p);
    if (problem) return invalid('companyPrefixes', problem);
  }
  if (prefixes.length > 0 && !roles.includes('MANUFACTURER')) {
    return invalid('companyPrefixes', 'only a MANUFACTURER registers GS1 company prefixes');
  }
  const { idempotencyKey, ...request } = input;
  return db.transaction().execute((trx) =>
    idempotent(trx, caller.id, idempotencyKey, 'createActor', request, {
      run: async (): Promise<CreateActorResult> => {
        const actor = await insertActor(trx, { name, roles, gln, companyPrefixes: prefixes, publicKey: null });
        const secret = generateApiKey();
        const hash = apiKeyHash(secret);
        const apiKey = await insertApiKey(trx, actor.id, hash, apiKeyHint(hash));
        return { kind: 'ok', actor, apiKey, secret };
      },
      save: (r) => ({ actorId: r.actor.id, keyId: r.apiKey.id }),
      replay: async (s) => ({ kind: 'ok', actor: (await findActorsByIds(trx, [s.actorId]))[0]!, apiKey: (await findApiKey(trx, s.keyId))!, secret: null }),
    }),
  );
}
