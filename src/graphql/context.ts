import type { YogaInitialContext } from 'graphql-yoga';
import type { Config } from '../server/config.ts';
import type { Db } from '../db/connection.ts';
import type { ActorRow } from '../db/types.ts';
import type { LogSigner } from '../db/log.ts';
import { authenticate, type AuthState } from '../services/authenticate.ts';
import { createLoaders, type Loaders } from './loaders.ts';

export interface AppDeps {
  db: Db;
  config: Config;
  operatorKeyHash: Uint8Array;
  /** Signs checkpoints of the Merkle log. */
  signer: LogSigner;
  /** Reads the wall clock; injectable so tests can pin time. */
  now: () => Date;
}

export interface Context extends AppDeps {
  auth: AuthState;
  loaders: Loaders;
  requestId: string;
}

export type { ActorRow };

/** Builds the per-request context: authenticates the bearer key and creates fresh loaders. */
export async function createContext(deps: AppDeps, initial: YogaInitialContext & { requestId?: string }): Promise<Context> {
  const header = initial.request.headers.get('authorization');
  const auth = await authenticate(deps.db, header, deps.operatorKeyHash);
  return { ...deps, auth, loaders: createLoaders(deps.db), requestId: initial.requestId ?? crypto.randomUUID() };
}

/** The calling actor; only call from fields guarded by the `authenticated` scope. */
export function viewerOf(ctx: Context): ActorRow {
  if (ctx.auth.kind !== 'actor') throw new Error('viewerOf called without authentication');
  return ctx.auth.actor;
}
