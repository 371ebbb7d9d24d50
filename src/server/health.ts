import { sql } from 'kysely';
import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { isDatabaseUnavailable, type Db } from '../db/connection.ts';
import { pendingMigrations } from '../db/migrator.ts';
import type { Logger } from './logger.ts';

/**
 * A readiness check (or a metrics read) that takes longer than this counts as a failure: a hung database must not
 * hang the probe or the scrape.
 */
export const READY_TIMEOUT_MS = 3000;

export type Readiness = { ready: true } | { ready: false; reason: string };

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Ready when the database answers `select 1` and every migration of this build has been applied. */
export async function checkReadiness(db: Db, logger: Logger, timeoutMs = READY_TIMEOUT_MS): Promise<Readiness> {
  try {
    await withTimeout(sql`SELECT 1`.execute(db), timeoutMs, 'the database');
  } catch (e) {
    logger.warn('readiness: database unreachable', { error: e });
    // The cause (host, port, driver message) goes to the log only: the probe may be reachable from outside.
    return { ready: false, reason: 'database unreachable' };
  }
  let pending: string[];
  try {
    pending = await withTimeout(pendingMigrations(db), timeoutMs, 'the migration check');
  } catch (e) {
    logger.warn('readiness: cannot read the applied migrations', { error: e });
    return { ready: false, reason: 'cannot read the applied migrations' };
  }
  if (pending.length > 0) return { ready: false, reason: `migrations pending: ${pending.join(', ')} (run provenant migrate)` };
  return { ready: true };
}

/**
 * `GET /healthz`: 200 while the process serves HTTP (liveness; no database involved).
 * `GET /readyz`: 200 when the database answers and no migration is pending, else 503 with the reason (readiness);
 * 503 as soon as shutdown begins.
 * Both answer JSON and are never cached.
 */
export function useHealthEndpoints(db: Db, logger: Logger, draining: () => boolean = () => false): Plugin {
  const startedAt = Date.now();
  return {
    onRequest({ url, request, endResponse, fetchAPI }) {
      if (url.pathname !== '/healthz' && url.pathname !== '/readyz') return;
      const json = (status: number, body: unknown) =>
        new fetchAPI.Response(request.method === 'HEAD' ? null : JSON.stringify(body), {
          status,
          headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
        });
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        endResponse(new fetchAPI.Response(null, { status: 405, headers: { allow: 'GET, HEAD' } }));
        return;
      }
      if (url.pathname === '/healthz') {
        endResponse(json(200, { status: 'ok', uptimeSeconds: Math.round((Date.now() - startedAt) / 1000) }));
        return;
      }
      // A draining process still answers in-flight work but should get no new traffic from the load balancer.
      if (draining()) {
        endResponse(json(503, { status: 'unavailable', reason: 'shutting down' }));
        return;
      }
      return checkReadiness(db, logger).then((r) => {
        endResponse(r.ready ? json(200, { status: 'ready' }) : json(503, { status: 'unavailable', reason: r.reason }));
      });
    },
  };
}

/** Seconds a client is asked to wait (Retry-After) when the database is unavailable. */
export const DATABASE_RETRY_AFTER_SECONDS = 5;

/**
 * The error a GraphQL request gets while the database is unreachable (stopped, restarting, backends terminated):
 * HTTP 503 with code DATABASE_UNAVAILABLE and Retry-After, instead of a masked internal error. Undefined for any
 * other error. The server keeps running and serves again as soon as the database answers.
 */
export function databaseUnavailableError(error: unknown): GraphQLError | undefined {
  if (!isDatabaseUnavailable(error)) return undefined;
  return new GraphQLError('The database is unavailable; try again shortly', {
    extensions: {
      code: 'DATABASE_UNAVAILABLE',
      http: { status: 503, headers: { 'retry-after': String(DATABASE_RETRY_AFTER_SECONDS) } },
    },
  });
}
