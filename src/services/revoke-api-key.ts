import { findApiKey, revokeKey } from '../db/actors.ts';
import type { Db } from '../db/connection.ts';
import type { ActorRow, ApiKeyRow } from '../db/types.ts';
import { idempotent } from './idempotency.ts';
import { type Failure, denied, notFound } from './results.ts';

export type RevokeApiKeyResult = { kind: 'ok'; apiKey: ApiKeyRow } | Failure;

/** Operator only. Revoking takes effect on the next request; revoking twice keeps the first revocation time. */
export async function revokeApiKey(db: Db, caller: ActorRow, keyId: string, now: Date, opts: { idempotencyKey?: string | null } = {}): Promise<RevokeApiKeyResult> {
  if (!caller.is_operator) return denied('OPERATOR_REQUIRED', 'only the platform operator may revoke API keys');
  return db.transaction().execute((trx) =>
    idempotent(trx, caller.id, opts.idempotencyKey, 'revokeApiKey', { keyId }, {
      run: async (): Promise<RevokeApiKeyResult> => {
        const key = await findApiKey(trx, keyId);
        if (!key) return notFound('API key not found');
        const revoked = await revokeKey(trx, keyId, now);
        return { kind: 'ok', apiKey: revoked! };
      },
      save: (r) => ({ keyId: r.apiKey.id }),
      replay: async (s) => ({ kind: 'ok', apiKey: (await findApiKey(trx, s.keyId))! }),
    }),
  );
}
