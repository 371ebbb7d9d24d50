import { apiKeyHash, apiKeyHint } from '../core/api-key.ts';
import { ok } from '../core/result.ts';
import { findActorsByIds, findApiKey, insertApiKey } from '../db/actors.ts';
import type { Db } from '../db/connection.ts';
import type { ActorRow, ApiKeyRow } from '../db/types.ts';
import { generateApiKey } from './api-key-secret.ts';
import { requireOperator } from '../core/rights.ts';
import { actorFacts } from './actor-facts.ts';
import { ledgerWrite } from './ledger-write.ts';
import { type FailureOf, failureSpec, notFound } from './results.ts';

/** What issueApiKey may fail with (its GraphQL union is built from this). */
export const ISSUE_API_KEY_FAILURES = failureSpec(['NotFoundError', 'PermissionDeniedError', 'ValidationError', 'ConflictError'], ['OPERATOR_REQUIRED']);
/** `secret` is null on an idempotent replay (the key itself is never stored). */
export type IssueApiKeyResult = { kind: 'ok'; apiKey: ApiKeyRow; secret: string | null } | FailureOf<typeof ISSUE_API_KEY_FAILURES>;

/** Operator only. Issues another key for an existing actor; the secret is shown once (a replay returns the key without it). */
export async function issueApiKey(db: Db, caller: ActorRow, actorId: string, opts: { idempotencyKey?: string | null } = {}): Promise<IssueApiKeyResult> {
  return ledgerWrite({ db }, {
    operation: 'issueApiKey',
    caller,
    request: { actorId },
    idempotencyKey: opts.idempotencyKey,
    check: () => {
      const allowed = requireOperator(actorFacts(caller), 'issue API keys');
      return allowed.ok ? ok(actorId) : allowed;
    },
    write: async (trx, id): Promise<IssueApiKeyResult> => {
      const [actor] = await findActorsByIds(trx, [id]);
      if (!actor) return notFound('actor not found');
      const secret = generateApiKey();
      const hash = apiKeyHash(secret);
      const apiKey = await insertApiKey(trx, actor.id, hash, apiKeyHint(hash));
      return { kind: 'ok', apiKey, secret };
    },
    save: (r) => ({ keyId: r.apiKey.id }),
    replay: async (trx, s) => ({ kind: 'ok', apiKey: (await findApiKey(trx, s.keyId))!, secret: null }),
  });
}
