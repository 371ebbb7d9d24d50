import type { YogaInitialContext } from 'graphql-yoga';
import type { Config } from '../server/config.ts';
import type { Db } from '../db/connection.ts';
import type { ActorRow } from '../db/types.ts';
import type { LogSigner } from '../db/log.ts';
import type { AuthState } from '../services/authenticate.ts';
import { AuthCache } from '../server/auth-cache.ts';
import { createLoaders, type Loaders } from './loaders.ts';
import { readScope, type ReadScope } from '../core/rights.ts';

const NOBODY = '00000000-0000-0000-0000-000000000000';

export interface AppDeps {
  db: Db;
  config: Config;
  operatorKeyHash: Uint8Array;
  /** Signs checkpoints of the Merkle log. */
  signer: LogSigner;
  /** True once graceful shutdown has begun (readiness turns 503). */
  draining?: () => boolean;
  /** Reads the wall clock; injectable so tests can pin time. */
  now: () => Date;
  /**
   * Verified keys with their grants, kept briefly (`createApp` makes one from `config.authCacheMs` when absent).
   * Mutations that revoke a key or change grants clear it.
   */
  authCache?: AuthCache;
}

export interface Context extends AppDeps {
  auth: AuthState;
  /** What the caller may read; an anonymous caller's scope matches nothing. */
  scope: ReadScope;
  loaders: Loaders;
  requestId: string;
}

export type { ActorRow };

const UNCACHED = new AuthCache(0);

/**
 * Builds the per-request context: authenticates the bearer key (with the caller's grants: one statement, or none
 * while the key is in `deps.authCache`), judges the read scope as of now, and creates fresh loaders.
 */
export async function createContext(deps: AppDeps, initial: YogaInitialContext & { requestId?: string }): Promise<Context> {
  const header = initial.request.headers.get('authorization');
  const { auth, grants } = await (deps.authCache ?? UNCACHED).authenticate(deps.db, header, deps.operatorKeyHash);
  const now = deps.now();
  const scope = auth.kind === 'actor' ? readScope(auth.actor.id, auth.actor.is_operator, grants, now) : readScope(NOBODY, false, [], now);
  return { ...deps, auth, scope, loaders: createLoaders(deps.db, scope), requestId: initial.requestId ?? crypto.randomUUID() };
}

/** The calling actor; only call from fields guarded by the `authenticated` scope. */
export function viewerOf(ctx: Context): ActorRow {
  if (ctx.auth.kind !== 'actor') throw new Error('viewerOf called without authentication');
  return ctx.auth.actor;
}
