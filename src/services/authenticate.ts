import { createHash, timingSafeEqual } from 'node:crypto';
import { isWellFormedApiKey } from '../core/api-key.ts';
import type { DbOrTrx } from '../db/connection.ts';
import type { GrantFact } from '../core/rights.ts';
import type { ActorRow } from '../db/types.ts';
import { findActiveKeyByHash, findActiveKeyWithGrants, findOperator } from '../db/actors.ts';
import { grantsOf } from '../db/visibility.ts';

export type AuthState =
  | { kind: 'actor'; actor: ActorRow; keyId: string | null }
  | { kind: 'anonymous'; message: string };

const MISSING = 'Authentication required: send Authorization: Bearer pvn_…';
const INVALID = 'Invalid API key: unknown or revoked';

/**
 * Resolves an Authorization header to the calling actor. Missing, malformed, unknown and revoked keys all yield
 * `anonymous` with a message; which of the last two it was is deliberately not told apart.
 */
export async function authenticate(db: DbOrTrx, header: string | null, operatorKeyHash: Uint8Array): Promise<AuthState> {
  const parsed = parseAuthorization(header);
  if (parsed.kind === 'anonymous') return parsed;
  // Constant-time against the operator key; database keys are looked up by their hash, so no secret is compared.
  if (timingSafeEqual(parsed.hash, operatorKeyHash)) {
    const operator = await findOperator(db);
    if (operator) return { kind: 'actor', actor: operator, keyId: null };
  }
  const found = await findActiveKeyByHash(db, parsed.hash);
  if (!found) return { kind: 'anonymous', message: INVALID };
  return { kind: 'actor', actor: found.actor, keyId: found.keyId };
}

/**
 * The SHA-256 of a well-formed bearer key, or why the header does not carry one (missing or malformed). No database
 * access: callers may key a cache by the hash.
 */
export function parseAuthorization(header: string | null): { kind: 'key'; hash: Uint8Array } | { kind: 'anonymous'; message: string } {
  if (!header) return { kind: 'anonymous', message: MISSING };
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!m) return { kind: 'anonymous', message: 'Malformed Authorization header: expected "Bearer pvn_…"' };
  const key = m[1]!;
  if (!isWellFormedApiKey(key)) return { kind: 'anonymous', message: 'Malformed API key: expected pvn_ followed by base64url characters' };
  // core's apiKeyHash (SHA-256 of the UTF-8 key), computed natively: this runs on every request.
  return { kind: 'key', hash: new Uint8Array(createHash('sha256').update(key, 'utf8').digest()) };
}

/**
 * `authenticate` for a key already hashed, together with every grant of the caller (what its read scope is made
 * of): one statement for a database key. Anonymous callers have no grants.
 */
export async function authenticateHash(db: DbOrTrx, hash: Uint8Array, operatorKeyHash: Uint8Array): Promise<{ auth: AuthState; grants: GrantFact[] }> {
  // Constant-time against the operator key; database keys are looked up by their hash, so no secret is compared.
  if (timingSafeEqual(hash, operatorKeyHash)) {
    const operator = await findOperator(db);
    if (operator) return { auth: { kind: 'actor', actor: operator, keyId: null }, grants: await grantsOf(db, operator.id) };
  }
  const found = await findActiveKeyWithGrants(db, hash);
  if (!found) return { auth: { kind: 'anonymous', message: INVALID }, grants: [] };
  return { auth: { kind: 'actor', actor: found.actor, keyId: found.keyId }, grants: found.grants };
}
