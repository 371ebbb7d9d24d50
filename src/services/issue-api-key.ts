import { apiKeyHash, apiKeyHint } from '../core/api-key.ts';
import { findActorsByIds, insertApiKey } from '../db/actors.ts';
import type { Db } from '../db/connection.ts';
import type { ActorRow, ApiKeyRow } from '../db/types.ts';
import { generateApiKey } from './api-key-secret.ts';
import { type Failure, denied, notFound } from './results.ts';

export type IssueApiKeyResult = { kind: 'ok'; apiKey: ApiKeyRow; secret: string } | Failure;

/** Operator only. Issues another key for an existing actor; the secret is shown once. */
export async function issueApiKey(db: Db, caller: ActorRow, actorId: string): Promise<IssueApiKeyResult> {
  if (!caller.is_operator) return denied('OPERATOR_REQUIRED', 'only the platform operator may issue API keys');
  const [actor] = await findActorsByIds(db, [actorId]);
  if (!actor) return notFound('actor not found');
  const secret = generateApiKey();
  const hash = apiKeyHash(secret);
  const apiKey = await insertApiKey(db, actor.id, hash, apiKeyHint(hash));
  return { kind: 'ok', apiKey, secret };
}
