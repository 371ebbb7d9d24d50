import { GraphQLError } from 'graphql';
import { createYoga, maskError, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import { useCSRFPrevention } from '@graphql-yoga/plugin-csrf-prevention';
import { createContext, type AppDeps, type Context } from '../graphql/context.ts';
import { AuthCache, DEFAULT_AUTH_CACHE_MS } from './auth-cache.ts';
import { useBodyLimit } from './body-limit.ts';
import { schema } from '../graphql/schema.ts';
import { handleEpcisRequest } from './epcis-http.ts';
import { GRAPHIQL_OPTIONS, renderOfflineGraphiQL } from './graphiql.ts';
import { useContentTypeCheck } from './content-type.ts';
import { databaseUnavailableError, useHealthEndpoints } from './health.ts';
import { useEdgeLimits } from './limits.ts';
import type { Logger } from './logger.ts';
import { createMetrics } from './metrics.ts';
import { currentRequestId, useRequestLog } from './request-log.ts';
import { useResolverEndpoints } from './resolver-http.ts';

/**
 * Headers whose presence proves a browser sent a CORS preflight first (none is CORS-safelisted), so a request carrying
 * one cannot be a cross-site "simple" request. API-key clients always send Authorization; POSTs with
 * `content-type: application/json` pass the CSRF check whatever their headers.
 */
export const CSRF_HEADERS = ['authorization', 'x-graphql-yoga-csrf', 'apollo-require-preflight'];

/**
 * The HTTP handler: GraphQL (with GraphiQL unless introspection is off) at /graphql, `/healthz`, `/readyz` and
 * Prometheus `/metrics`. Limits (body size, depth, aliases, tokens, cost, directives) and introspection come from
 * `deps.config`. Unexpected errors are masked in responses and logged. Every request gets an id and one access log line.
 */
export function createApp(appDeps: AppDeps, logger: Logger): YogaServerInstance<{}, Context> {
  const { config } = appDeps;
  const deps: AppDeps = { ...appDeps, authCache: appDeps.authCache ?? new AuthCache(config.authCacheMs ?? DEFAULT_AUTH_CACHE_MS) };
  const metrics = createMetrics(deps.db, logger);
  return createYoga<{}, Context>({
    schema,
    graphqlEndpoint: '/graphql',
    // GraphiQL served from node_modules (no CDN), with Provenant's welcome text; off with introspection.
    graphiql: config.introspection ? GRAPHIQL_OPTIONS : false,
    renderGraphiQL: renderOfflineGraphiQL,
    landingPage: false,
    // The body limit is `useBodyLimit` (below): a declared Content-Length above it is refused before the body is read,
    // a chunked body stopped at it; both 413 (message made explicit in `useClearBodyLimitError`).
    maxRequestBodySize: false,
    plugins: [
      useRequestLog(logger),
      useHealthEndpoints(deps.db, logger, deps.draining),
      useEpcisEndpoints(deps, logger),
      useResolverEndpoints(deps, logger),
      metrics.plugin,
      useCSRFPrevention({ requestHeaders: CSRF_HEADERS }),
      useContentTypeCheck('/graphql'),
      useClearBodyLimitError(config.maxBodyBytes),
      ...useEdgeLimits(config),
      useBodyLimit(config.maxBodyBytes),
    ],
    context: (initial) => createContext(deps, initial),
    maskedErrors: {
      // Yoga's masking (no stack, no SQL in responses), plus a log line with the real cause for operators.
      // isDev is ignored on purpose: even in development, responses never carry stacks or SQL.
      maskError: (error, message) => {
        const unavailable = databaseUnavailableError(error);
        if (unavailable) {
          logger.warn('database unavailable', { requestId: currentRequestId(), error: (error as { originalError?: unknown }).originalError ?? error });
          return unavailable;
        }
        const masked = maskError(error, message, false);
        if (masked !== error) {
          logger.error('unexpected error', { requestId: currentRequestId(), error: (error as { originalError?: unknown }).originalError ?? error });
        }
        return masked;
      },
    },
    logging: {
      debug: (...args) => logger.debug(String(args[0])),
      info: (...args) => logger.info(String(args[0])),
      warn: (...args) => logger.warn(String(args[0])),
      error: (...args) => logger.error(String(args[0]), { requestId: currentRequestId(), detail: args.slice(1) }),
    },
  });
}

/** Names the limit in yoga's 413 "Request body too large" error. */
function useClearBodyLimitError(maxBytes: number): Plugin {
  const rewrite = (e: unknown) =>
    e instanceof GraphQLError && e.extensions?.code === 'REQUEST_ENTITY_TOO_LARGE'
      ? new GraphQLError(`Request body too large: the limit is ${maxBytes} bytes`, {
          extensions: { ...e.extensions, limit: 'maxBodyBytes', max: maxBytes },
        })
      : e;
  return {
    // The unread rest of the body is still on the connection: close it rather than parse it as the next request.
    onResponse({ response }) {
      if (response.status === 413) response.headers.set('connection', 'close');
    },
    onResultProcess({ result, setResult }) {
      if (Array.isArray(result) || !result || typeof result !== 'object' || !('errors' in result) || !Array.isArray(result.errors)) return;
      if (!result.errors.some((e) => e instanceof GraphQLError && e.extensions?.code === 'REQUEST_ENTITY_TOO_LARGE')) return;
      setResult({ ...result, errors: result.errors.map(rewrite) as GraphQLError[] });
    },
  };
}

/** The EPCIS 2.0 REST subset (`GET /epcis/events`, `POST /epcis/capture`), answered before GraphQL sees the request. */
function useEpcisEndpoints(deps: AppDeps, logger: Logger): Plugin {
  return {
    async onRequest({ request, url, endResponse }) {
      if (!url.pathname.startsWith('/epcis/')) return;
      const response = await handleEpcisRequest(request, deps, { logger });
      if (response) endResponse(response);
    },
  };
}
