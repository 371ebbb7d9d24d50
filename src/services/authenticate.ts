import { timingSafeEqual } from 'node:crypto';
import { apiKeyHash, isWellFormedApiKey } from '../core/api-key.ts';
import type { DbOrTrx } from '../db/connection.ts';
import type { ActorRow } from '../db/types.ts';
import { findActiveKeyByHash, findOperator } from '../db/actors.ts';

export type AuthState =
  | { kind: 'actor'; actor: ActorRow; keyId: string | null }
  | { kind: 'anonymous'; message: string };

const MISSING = 'Authentication required: send Authorization: Bearer pvn_…';

/**
 * Resolves an Authorization header to the calling actor. Missing, malformed, unknown and revoked keys all yield
 * `anonymous` with a message; which of the last two it was is deliberately not told apart.
 */
export async function authenticate(db: DbOrTrx, header: string | null, operatorKeyHash: Uint8Array): Promise<AuthState> {
  if (!header) return { kind: 'anonymous', message: MISSING };
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!m) return { kind: 'anonymous', message: 'Malformed Authorization header: expected "Bearer pvn_…"' };
  const key = m[1]!;
  if (!isWellFormedApiKey(key)) return { kind: 'anonymous', message: 'Malformed API key: expected pvn_ followed by base64url characters' };
  const hash = apiKeyHash(key);
  // Constant-time against the operator key; database keys are looked up by their hash, so no secret is compared.
  if (timingSafeEqual(hash, operatorKeyHash)) {
    const operator = await findOperator(db);
    if (operator) return { kind: 'actor', actor: operator, keyId: null };
  }
  const found = await findActiveKeyByHash(db, hash);
  if (!found) return { kind: 'anonymous', message: 'Invalid API key: unknown or revoked' };
  return { kind: 'actor', actor: found.actor, keyId: found.keyId };
}
