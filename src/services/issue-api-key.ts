import { apiKeyHash, apiKeyHint } from '../core/api-key.ts';
import { findActorsByIds, findApiKey, insertApiKey } from '../db/actors.ts';
import type { Db } from '../db/connection.ts';
import type { ActorRow, ApiKeyRow } from '../db/types.ts';
import { generateApiKey } from './api-key-secret.ts';
import { idempotent } from './idempotency.ts';
import { type Failure, denied, notFound } from './results.ts';

/** `secret` is null on an idempotent replay (the key itself is never stored). */
export type IssueApiKeyResult = { kind: 'ok'; apiKey: ApiKeyRow; secret: string | null } | Failure;

/** Operator only. Issues another key for an existing actor; the secret is shown once (a replay returns the key without it). */
export async function issueApiKey(db: Db, caller: ActorRow, actorId: string, opts: { idempotencyKey?: string | null } = {}): Promise<IssueApiKeyResult> {
  if (!caller.is_operator) return denied('OPERATOR_REQUIRED', 'only the platform operator may issue API keys');
  return db.transaction().execute((trx) =>
    idempotent(trx, caller.id, opts.idempotencyKey, 'issueApiKey', { actorId }, {
      run: async (): Promise<IssueApiKeyResult> => {
        const [actor] = await findActorsByIds(trx, [actorId]);
        if (!actor) return notFound('actor not found');
        const secret = generateApiKey();
        const hash = apiKeyHash(secret);
        const apiKey = await insertApiKey(trx, actor.id, hash, apiKeyHint(hash));
        return { kind: 'ok', apiKey, secret };
      },
      save: (r) => ({ keyId: r.apiKey.id }),
      replay: async (s) => ({ kind: 'ok', apiKey: (await findApiKey(trx, s.keyId))!, secret: null }),
    }),
  );
}
