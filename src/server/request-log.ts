import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { getOperationAST } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Logger } from './logger.ts';

/** What the access log line of one request says; filled in as the request moves through the pipeline. */
interface RequestRecord {
  requestId: string;
  start: number;
  method: string;
  path: string;
  operationName?: string;
  operationType?: string;
  actorId?: string;
  errors?: number;
}

/** Paths of probes and scrapes: their access lines are debug-level so they do not drown the real traffic. */
const QUIET_PATHS = new Set(['/healthz', '/readyz', '/metrics', '/health']);

/** An incoming `x-request-id` is kept when it is a plain token of at most 128 characters; otherwise one is generated. */
export const SANE_REQUEST_ID = /^[A-Za-z0-9][A-Za-z0-9._:@/+=-]{0,127}$/;
const GRAPHQL_NAME = /^[_A-Za-z][_0-9A-Za-z]{0,99}$/;

const current = new AsyncLocalStorage<RequestRecord>();

/** The id of the request being served (for log lines written deeper in the stack), if any. */
export const currentRequestId = (): string | undefined => current.getStore()?.requestId;

/**
 * Request ids and the access log. Each request gets an id (a sane incoming `x-request-id`, else a fresh UUID), echoed
 * in the `x-request-id` response header and handed to the GraphQL context as `requestId`. When the response is ready,
 * one JSON line: method, path (never the query string: GET requests carry variables there), status, duration,
 * operation name and type, request id, the authenticated actor's id and the error count. Headers are never logged,
 * so neither is the Authorization header, whatever its shape. For a subscription (SSE) the line is written when the
 * stream's headers go out, so its duration is the time to the first byte, not the stream's life.
 */
export function useRequestLog(logger: Logger): Plugin {
  const records = new WeakMap<object, RequestRecord>();
  return {
    onRequest({ request, url, serverContext }) {
      const incoming = request.headers.get('x-request-id');
      const record: RequestRecord = {
        requestId: incoming && SANE_REQUEST_ID.test(incoming) ? incoming : randomUUID(),
        start: performance.now(),
        method: request.method,
        path: url.pathname,
      };
      records.set(serverContext, record);
      // createContext reads `requestId` from the initial context, which is this server context.
      (serverContext as { requestId?: string }).requestId = record.requestId;
      current.enterWith(record);
    },
    onParams({ params, context }) {
      const record = records.get(context);
      if (record && typeof params.operationName === 'string' && GRAPHQL_NAME.test(params.operationName)) record.operationName = params.operationName;
    },
    onExecute({ args }) {
      noteOperation(records.get(args.contextValue as object), args);
    },
    onSubscribe({ args }) {
      noteOperation(records.get(args.contextValue as object), args);
    },
    onExecutionResult({ result, context }) {
      const record = records.get(context);
      if (record && result && 'errors' in result && Array.isArray(result.errors)) record.errors = result.errors.length;
    },
    onResultProcess({ result, serverContext }) {
      const record = records.get(serverContext);
      if (record && record.errors === undefined && result && !Array.isArray(result) && 'errors' in result && Array.isArray(result.errors)) {
        record.errors = result.errors.length;
      }
    },
    onResponse({ response, serverContext, setResponse, fetchAPI }) {
      const record = records.get(serverContext);
      if (!record) return;
      try {
        response.headers.set('x-request-id', record.requestId);
      } catch {
        // Immutable headers: copy the response.
        const headers = new fetchAPI.Headers(response.headers);
        headers.set('x-request-id', record.requestId);
        setResponse(new fetchAPI.Response(response.body, { status: response.status, statusText: response.statusText, headers }));
      }
      const line = {
        requestId: record.requestId,
        method: record.method,
        path: record.path,
        status: response.status,
        durationMs: Math.round((performance.now() - record.start) * 100) / 100,
        ...(record.operationName ? { operationName: record.operationName } : {}),
        ...(record.operationType ? { operationType: record.operationType } : {}),
        ...(record.actorId ? { actorId: record.actorId } : {}),
        ...(record.errors ? { errors: record.errors } : {}),
      };
      if (QUIET_PATHS.has(record.path) && response.status < 500) logger.debug('request', line);
      else logger.info('request', line);
    },
  };
}

function noteOperation(record: RequestRecord | undefined, args: { document: import('graphql').DocumentNode; operationName?: string | null; contextValue: unknown }) {
  if (!record) return;
  const operation = getOperationAST(args.document, args.operationName ?? undefined);
  if (operation) {
    record.operationType = operation.operation;
    if (operation.name) record.operationName = operation.name.value;
  }
  const auth = (args.contextValue as { auth?: { kind: string; actor?: { id: string } } }).auth;
  if (auth?.kind === 'actor' && auth.actor) record.actorId = auth.actor.id;
}
