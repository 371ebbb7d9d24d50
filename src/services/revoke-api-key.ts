import { ok } from '../core/result.ts';
import { findApiKey, revokeKey } from '../db/actors.ts';
import type { Db } from '../db/connection.ts';
import type { ActorRow, ApiKeyRow } from '../db/types.ts';
import { requireOperator } from '../core/rights.ts';
import { actorFacts } from './actor-facts.ts';
import { ledgerWrite } from './ledger-write.ts';
import { type FailureOf, failureSpec, notFound } from './results.ts';

/** What revokeApiKey may fail with (its GraphQL union is built from this). */
export const REVOKE_API_KEY_FAILURES = failureSpec(['NotFoundError', 'PermissionDeniedError', 'ValidationError', 'ConflictError'], ['OPERATOR_REQUIRED']);
export type RevokeApiKeyResult = { kind: 'ok'; apiKey: ApiKeyRow } | FailureOf<typeof REVOKE_API_KEY_FAILURES>;

/** Operator only. Revoking takes effect on the next request; revoking twice keeps the first revocation time. */
export async function revokeApiKey(db: Db, caller: ActorRow, keyId: string, now: Date, opts: { idempotencyKey?: string | null } = {}): Promise<RevokeApiKeyResult> {
  return ledgerWrite({ db, now: () => now }, {
    operation: 'revokeApiKey',
    caller,
    request: { keyId },
    idempotencyKey: opts.idempotencyKey,
    check: () => {
      const allowed = requireOperator(actorFacts(caller), 'revoke API keys');
      return allowed.ok ? ok(keyId) : allowed;
    },
    write: async (trx, id): Promise<RevokeApiKeyResult> => {
      const key = await findApiKey(trx, id);
      if (!key) return notFound('API key not found');
      const revoked = await revokeKey(trx, id, now);
      return { kind: 'ok', apiKey: revoked! };
    },
    save: (r) => ({ keyId: r.apiKey.id }),
    replay: async (trx, s) => ({ kind: 'ok', apiKey: (await findApiKey(trx, s.keyId))! }),
  });
}
