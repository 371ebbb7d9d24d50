import { apiKeyHash, apiKeyHint } from '../core/api-key.ts';
import { checkNewActor } from '../core/party.ts';
import { requireOperator } from '../core/rights.ts';
import { DEFAULT_FIELD_LIMITS, type FieldLimits } from '../core/text.ts';
import { findActorsByIds, findApiKey, insertActor, insertApiKey } from '../db/actors.ts';
import type { Db } from '../db/connection.ts';
import type { ActorRow, ApiKeyRow } from '../db/types.ts';
import { actorFacts } from './actor-facts.ts';
import { generateApiKey } from './api-key-secret.ts';
import { ledgerWrite, requestOf } from './ledger-write.ts';
import { type FailureOf, failureSpec } from './results.ts';

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
  return ledgerWrite({ db, fieldLimits: limits }, {
    operation: 'createActor',
    caller,
    request: requestOf(input),
    idempotencyKey: input.idempotencyKey,
    check: (ctx) => {
      const allowed = requireOperator(actorFacts(caller), 'create actors');
      return allowed.ok ? checkNewActor(input, ctx.limits) : allowed;
    },
    write: async (trx, { name, roles, gln, companyPrefixes }): Promise<CreateActorResult> => {
      const actor = await insertActor(trx, { name, roles, gln, companyPrefixes, publicKey: null });
      const secret = generateApiKey();
      const hash = apiKeyHash(secret);
      const apiKey = await insertApiKey(trx, actor.id, hash, apiKeyHint(hash));
      return { kind: 'ok', actor, apiKey, secret };
    },
    save: (r) => ({ actorId: r.actor.id, keyId: r.apiKey.id }),
    replay: async (trx, s) => ({ kind: 'ok', actor: (await findActorsByIds(trx, [s.actorId]))[0]!, apiKey: (await findApiKey(trx, s.keyId))!, secret: null }),
  });
}
