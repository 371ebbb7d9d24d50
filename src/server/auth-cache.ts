import type { GrantFact } from '../core/rights.ts';
import type { DbOrTrx } from '../db/connection.ts';
import { type AuthState, authenticateHash, parseAuthorization } from '../services/authenticate.ts';

/** Default lifetime of a verified key in the cache (PROVENANT_AUTH_CACHE_MS). */
export const DEFAULT_AUTH_CACHE_MS = 1000;
const MAX_ENTRIES = 10_000;

export interface Authenticated {
  auth: AuthState;
  /** Every grant of the caller; core decides at each request which are in force (expiry is judged then). */
  grants: GrantFact[];
}

/**
 * Verified API keys (with the caller's grants) kept for `ttlMs`, keyed by the key's hash, so a burst of requests with
 * one key costs one statement instead of one per request. Unknown, revoked and malformed keys are never cached.
 * Revocation is honoured: every key revocation, grant and grant revocation made through this process calls `clear()`
 * (an answer loaded concurrently with it is not kept), and one made by another process (or the CLI) on a shared
 * database takes effect here within `ttlMs`. `ttlMs` 0 turns the cache off.
 */
export class AuthCache {
  private entries = new Map<string, { value: Authenticated; until: number }>();
  private generation = 0;

  constructor(
    readonly ttlMs: number,
    private clock: () => number = () => performance.now(),
  ) {}

  /** Who calls with `header` and its grants: from the cache while fresh, else from the database (one statement). */
  async authenticate(db: DbOrTrx, header: string | null, operatorKeyHash: Uint8Array): Promise<Authenticated> {
    const parsed = parseAuthorization(header);
    if (parsed.kind === 'anonymous') return { auth: parsed, grants: [] };
    if (this.ttlMs <= 0) return authenticateHash(db, parsed.hash, operatorKeyHash);
    const key = Buffer.from(parsed.hash).toString('base64');
    const hit = this.entries.get(key);
    const now = this.clock();
    if (hit && hit.until > now) return hit.value;
    if (hit) this.entries.delete(key);
    const generation = this.generation;
    const value = await authenticateHash(db, parsed.hash, operatorKeyHash);
    // Not kept when a revocation or grant change happened while it was loading: it may predate it.
    if (value.auth.kind === 'actor' && generation === this.generation) {
      if (this.entries.size >= MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
      this.entries.set(key, { value, until: now + this.ttlMs });
    }
    return value;
  }

  /** Forgets every cached key: call after a key revocation or any change of grants. */
  clear(): void {
    this.generation++;
    this.entries.clear();
  }
}
