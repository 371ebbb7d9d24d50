/**
 * EPCIS 2.0 REST binding (subset) beside GraphQL:
 * - `GET /epcis/events` — SimpleEventQuery with the parameters of `core/epcis-query-params.ts` (several values: repeat
 *   the parameter or separate values with `|`); answers an `EPCISQueryDocument` (`application/ld+json`) carrying the
 *   signed checkpoint it was read at (`provenant:checkpoint`) and, when there is more,
 *   `Link: <…&nextPageToken=…>; rel="next"`. Unknown or unsupported parameters and bad values: 400
 *   `epcisException:QueryParameterException` (`parameters`: name, value index, reason of each); more events than
 *   `maxEventCount`: 413 `epcisException:QueryTooLargeException`. EPCs are SGTIN URNs unless the request sends
 *   `GS1-EPC-Format: Always_GS1_Digital_Link` (`Always_EPC_URN`, `Never_Translates` and `No_Preference` give URNs, the
 *   form the ledger stores).
 * - Named queries: `POST /epcis/queries` `{"name", "query": {…query-schema.json parameters…}}` → 201 + `Location`
 *   (409 ResourceAlreadyExistsException for a taken name, 400 for a bad definition); `GET /epcis/queries` (paged list),
 *   `GET` / `DELETE /epcis/queries/{name}` (404 NoSuchNameException), `GET /epcis/queries/{name}/events` (its result,
 *   like `GET /epcis/events`; only `perPage` / `nextPageToken` may be added). Each actor has its own names.
 * - Subscriptions (webhooks): `POST /epcis/queries/{name}/subscriptions` `{"dest", "stream": true, "signatureToken"?,
 *   "initialRecordTime"?}` → 201 + `Location` (the generated secret shown once); `GET` (list), `GET` / `DELETE
 *   …/subscriptions/{id}` (404 NoSuchSubscriptionException). Rules: `core/subscriptions.ts`; deliveries:
 *   `services/subscription-worker.ts`.
 * - `POST /epcis/capture` — an EPCISDocument (`application/json` or `application/ld+json`), captured all-or-nothing
 *   (`GS1-Capture-Error-Behaviour: rollback`, the only behaviour offered; `proceed` is refused); optional
 *   `Idempotency-Key`. As the REST binding says, asynchronously: 202 + `Location: /epcis/capture/{captureID}` and the
 *   capture job (services/capture-jobs.ts); `GET /epcis/capture/{captureID}` reports it (`running`, `success`,
 *   `errors` per event, the captured events in `result`), `GET /epcis/capture` lists the caller's jobs newest first
 *   (`perPage`, `nextPageToken`); another actor's job is 404 like a missing one. Refused at once (no job): 413 above
 *   the size or event-count limit, 400 for a body that is not a JSON EPCISDocument. `?sync=true` (a Provenant
 *   extension) captures in the request instead: 200 with the per-event outcome, 400/403/409 problems naming each
 *   event index, field and reason — what the GraphQL mutation `captureEpcisDocument` answers. `OPTIONS` announces
 *   the limits.
 * Both authenticate the bearer API key like GraphQL and read with the same scope.
 */
import { encodeGlobalID } from '@pothos/plugin-relay';
import { concatBytes } from '../core/bytes.ts';
import type { EpcFormat } from '../core/epcis-export.ts';
import { epcisQueryDocument } from '../core/epcis-export.ts';
import { readScope } from '../core/rights.ts';
import { isDatabaseUnavailable } from '../db/connection.ts';
import { grantsOf } from '../db/visibility.ts';
import type { AppDeps } from '../graphql/context.ts';
import type { Logger } from './logger.ts';
import { authenticate } from '../services/authenticate.ts';
import {
  type CaptureProblemCode, type CapturedEvent, type EpcisCaptureFailure, type EpcisCaptureLimits, captureEpcisDocument, captureLimits, sizeRejection,
} from '../services/epcis-capture.ts';
import { type CaptureJob, type CaptureJobFailure, captureJobPage, captureWorkerFor, getCaptureJob, submitCaptureJob } from '../services/capture-jobs.ts';
import type { ActorRow } from '../db/types.ts';
import {
  EPCIS_DEFAULT_PAGE_SIZE, EPCIS_MAX_PAGE_SIZE, type EpcisQueryError, QUERY_NAME, decodeNameToken, encodeNameToken, parseEpcisQueryString,
} from '../core/epcis-query-params.ts';
import { createNamedQuery, getNamedQuery, namedQueryPage, removeNamedQuery, runNamedQuery } from '../services/epcis-named-queries.ts';
import { type EpcisQueryResult, queryEpcisEvents, withCheckpoint } from '../services/epcis-query.ts';
import { createSubscription, getSubscription, removeSubscription, subscriptionPage } from '../services/epcis-subscriptions.ts';
import { UUID } from '../db/epcis-subscriptions.ts';

export interface EpcisHttpOptions {
  /** Capture limits; by default from `deps.config` (`epcisMaxDocumentBytes`, `epcisMaxEvents`) or the defaults. */
  limits?: Partial<EpcisCaptureLimits>;
  /** Where unexpected errors are logged (they are answered with a bare 500 ImplementationException). */
  logger?: Logger;
}

const VERSION_HEADERS = { 'GS1-EPCIS-Version': '2.0.0', 'GS1-CBV-Version': '2.0.0' } as const;
const EPC_FORMATS: Record<string, EpcFormat> = {
  always_gs1_digital_link: 'digitalLink',
  always_epc_urn: 'urn',
  never_translates: 'urn',
  no_preference: 'urn',
};

/**
 * Answers `GET /epcis/events`, `POST /epcis/capture` and the named queries under `/epcis/queries` (and their
 * OPTIONS); undefined for any other path, so the caller can hand the request to GraphQL.
 */
export async function handleEpcisRequest(request: Request, deps: AppDeps, options: EpcisHttpOptions = {}): Promise<Response | undefined> {
  const path = new URL(request.url).pathname.replace(/\/+$/, '');
  const named = /^\/epcis\/queries(?:\/([^/]+)(\/events)?)?$/.exec(path);
  const subscriptions = /^\/epcis\/queries\/([^/]+)\/subscriptions(?:\/([^/]+))?$/.exec(path);
  const job = /^\/epcis\/capture\/([^/]+)$/.exec(path);
  if (path !== '/epcis/events' && path !== '/epcis/capture' && !named && !subscriptions && !job) return undefined;
  try {
    if (subscriptions) return await subscriptionsEndpoint(request, deps, subscriptions[1]!, subscriptions[2]);
    if (named) return await queriesEndpoint(request, deps, named[1], named[2] !== undefined);
    if (job) return await captureJobEndpoint(request, deps, job[1]!);
    return path === '/epcis/events' ? await eventsEndpoint(request, deps) : await captureEndpoint(request, deps, captureLimits(deps.config, options.limits), options.logger);
  } catch (error) {
    // The database went away (stopped, restarting): 503 and come back later, like GraphQL's DATABASE_UNAVAILABLE.
    if (isDatabaseUnavailable(error)) {
      options.logger?.warn('database unavailable', { path, error });
      return problemResponse(503, 'ImplementationException', 'the database is unavailable; try again shortly', {}, { 'retry-after': '5' });
    }
    (options.logger ?? { error: (m: string, f?: Record<string, unknown>) => console.error(m, f) }).error('unexpected error in the EPCIS endpoint', { path, error });
    return problemResponse(500, 'ImplementationException', 'internal error');
  }
}

// ---------------------------------------------------------------------------------------------------------------

type ExceptionType =
  | 'NoSuchSubscriptionException' | 'SubscribeNotPermittedException'
  | 'ValidationException' | 'QueryParameterException' | 'QueryTooLargeException' | 'QueryTooComplexException' | 'SecurityException' | 'CaptureLimitExceededException' | 'ImplementationException'
  | 'UnsupportedMediaTypeException' | 'MethodNotAllowedException' | 'ConflictException' | 'NoSuchNameException' | 'ResourceAlreadyExistsException';

/** RFC 7807 problem details with the EPCIS 2.0 exception type. */
function problemResponse(status: number, type: ExceptionType, title: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify({ type: `epcisException:${type}`, title, status, ...extra }), {
    status,
    headers: { 'content-type': 'application/problem+json', ...VERSION_HEADERS, ...headers },
  });
}

function methodNotAllowed(allow: string): Response {
  return problemResponse(405, 'MethodNotAllowedException', `method not allowed here; allowed: ${allow}`, {}, { allow });
}

async function authenticated(request: Request, deps: AppDeps) {
  const auth = await authenticate(deps.db, request.headers.get('authorization'), deps.operatorKeyHash);
  if (auth.kind !== 'actor') return problemResponse(401, 'SecurityException', auth.message, {}, { 'www-authenticate': 'Bearer realm="provenant"' });
  return auth.actor;
}

// ---------------------------------------------------------------------------------------------------------------
// GET /epcis/events and the named queries

function queryParameterProblem(errors: readonly EpcisQueryError[]): Response {
  return problemResponse(400, 'QueryParameterException', errors.map((e) => e.message).join('; '), {
    parameters: errors.map((e) => ({ name: e.parameter, ...(e.index === undefined ? {} : { index: e.index }), reason: e.message })),
  });
}

/** The EPC format a request asks for (`GS1-EPC-Format`), or the 400 answer to a bad header. */
function epcFormatOf(request: Request): EpcFormat | Response {
  const formatHeader = request.headers.get('gs1-epc-format')?.trim();
  if (!formatHeader) return 'urn';
  const f = EPC_FORMATS[formatHeader.toLowerCase()];
  return f ?? problemResponse(400, 'ValidationException', `GS1-EPC-Format must be one of No_Preference, Always_GS1_Digital_Link, Always_EPC_URN, Never_Translates; got ${formatHeader}`);
}

/** An `EPCISQueryDocument` answer (or the problem a query result is), with the `Link` of the next page. */
function queryResponse(request: Request, url: URL, result: EpcisQueryResult, perPage: number, epcFormat: EpcFormat, now: Date, queryName?: string): Response {
  if (result.kind === 'QueryTooLarge') return problemResponse(413, 'QueryTooLargeException', result.message, { maxEventCount: result.maxEventCount });
  if (result.kind === 'QueryTooComplex') return problemResponse(413, 'QueryTooComplexException', result.message);
  if (result.kind === 'QueryParameter') return queryParameterProblem([{ parameter: result.parameter, message: result.message }]);
  const headers: Record<string, string> = {
    'content-type': 'application/ld+json; charset=utf-8',
    ...VERSION_HEADERS,
    'GS1-EPC-Format': epcFormat === 'digitalLink' ? 'Always_GS1_Digital_Link' : 'Always_EPC_URN',
  };
  if (result.nextPageToken !== null) {
    const next = new URL(url);
    next.searchParams.delete('nextPageToken');
    next.searchParams.set('perPage', String(perPage));
    next.searchParams.set('nextPageToken', result.nextPageToken);
    headers['link'] = `<${next.toString()}>; rel="next"`;
  }
  const body = request.method === 'HEAD' ? null : JSON.stringify(withCheckpoint(epcisQueryDocument(result.events, now.toISOString(), queryName), result.checkpoint));
  return new Response(body, { status: 200, headers });
}

async function eventsEndpoint(request: Request, deps: AppDeps): Promise<Response> {
  if (request.method === 'OPTIONS') return new Response(null, { status: 204, headers: { allow: 'GET, HEAD, OPTIONS', ...VERSION_HEADERS, 'GS1-EPC-Format': 'Always_EPC_URN' } });
  if (request.method !== 'GET' && request.method !== 'HEAD') return methodNotAllowed('GET, HEAD, OPTIONS');
  const actor = await authenticated(request, deps);
  if (actor instanceof Response) return actor;
  const epcFormat = epcFormatOf(request);
  if (epcFormat instanceof Response) return epcFormat;
  const url = new URL(request.url);
  const parsed = parseEpcisQueryString(url.searchParams);
  if (!parsed.ok) return queryParameterProblem(parsed.error);

  const now = deps.now();
  const scope = readScope(actor.id, actor.is_operator, await grantsOf(deps.db, actor.id), now);
  const result = await queryEpcisEvents(deps.db, scope, parsed.value, epcFormat);
  return queryResponse(request, url, result, parsed.value.perPage, epcFormat, now);
}

const MAX_QUERY_DEFINITION_BYTES = 100_000;
/** Malformed `POST /queries` bodies are ValidationExceptions; bad parameters of a well-formed one QueryParameterExceptions. */
const BODY_ERRORS = new Set(['body', 'name', 'query']);

/**
 * `/epcis/queries` (GET: list, POST: create), `/epcis/queries/{name}` (GET: definition, DELETE) and
 * `/epcis/queries/{name}/events` (GET: run). Named queries belong to the caller's actor.
 */
async function queriesEndpoint(request: Request, deps: AppDeps, rawName: string | undefined, events: boolean): Promise<Response> {
  const allow = rawName === undefined ? 'GET, POST, OPTIONS' : events ? 'GET, HEAD, OPTIONS' : 'GET, DELETE, OPTIONS';
  if (request.method === 'OPTIONS') return new Response(null, { status: 204, headers: { allow, ...VERSION_HEADERS } });
  if (!allow.split(', ').includes(request.method)) return methodNotAllowed(allow);
  const actor = await authenticated(request, deps);
  if (actor instanceof Response) return actor;
  const url = new URL(request.url);
  const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
    new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...VERSION_HEADERS, ...headers } });

  if (rawName === undefined && request.method === 'POST') {
    const contentType = (request.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (contentType !== 'application/json' && contentType !== 'application/ld+json') {
      return problemResponse(415, 'UnsupportedMediaTypeException', `send the query definition as application/json, not ${contentType || 'no content type'}`);
    }
    const bytes = await readCapped(request, MAX_QUERY_DEFINITION_BYTES);
    if (bytes === null) return problemResponse(413, 'ValidationException', `a query definition is at most ${MAX_QUERY_DEFINITION_BYTES} bytes`);
    let body: unknown;
    try {
      body = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
    } catch (e) {
      return problemResponse(400, 'ValidationException', `the body is not a JSON document: ${(e as Error).message}`);
    }
    const created = await createNamedQuery(deps.db, actor.id, body);
    if (created.kind === 'Conflict') return problemResponse(409, 'ResourceAlreadyExistsException', created.message);
    if (created.kind === 'InvalidQuery') {
      const malformed = created.errors.filter((e) => BODY_ERRORS.has(e.parameter));
      return malformed.length > 0 ? problemResponse(400, 'ValidationException', malformed.map((e) => e.message).join('; ')) : queryParameterProblem(created.errors);
    }
    const location = new URL(`/epcis/queries/${created.definition.name}`, url).toString();
    return json(201, created.definition, { location });
  }
  if (rawName === undefined) {
    const params = listPageParams(url, () => true);
    if (params instanceof Response) return params;
    const page = await namedQueryPage(deps.db, actor.id, params.after, params.perPage);
    return json(200, page.queries, nextPageLink(url, params.perPage, page.more ? page.queries.at(-1)?.name : undefined));
  }

  let name: string;
  try {
    name = decodeURIComponent(rawName);
  } catch {
    name = rawName;
  }
  const noSuchName = (message: string) => problemResponse(404, 'NoSuchNameException', message);
  if (!QUERY_NAME.test(name)) return noSuchName(`there is no named query ${JSON.stringify(name)}`);
  if (!events) {
    if (request.method === 'DELETE') {
      const removed = await removeNamedQuery(deps.db, actor.id, name);
      return removed.kind === 'ok' ? new Response(null, { status: 204, headers: { ...VERSION_HEADERS } }) : noSuchName(removed.message);
    }
    const found = await getNamedQuery(deps.db, actor.id, name);
    return found.kind === 'ok' ? json(200, found.definition) : noSuchName(found.message);
  }
  const epcFormat = epcFormatOf(request);
  if (epcFormat instanceof Response) return epcFormat;
  const now = deps.now();
  const scope = readScope(actor.id, actor.is_operator, await grantsOf(deps.db, actor.id), now);
  const result = await runNamedQuery(deps.db, scope, name, url.searchParams, epcFormat);
  if (result.kind === 'NotFound') return noSuchName(result.message);
  if (result.kind === 'InvalidQuery') return queryParameterProblem(result.errors);
  return queryResponse(request, url, result.result, result.perPage, epcFormat, now, name);
}

// ---------------------------------------------------------------------------------------------------------------
// Subscriptions (webhooks): /epcis/queries/{name}/subscriptions[/{id}]

const MAX_SUBSCRIPTION_BODY_BYTES = 10_000;

/**
 * `/epcis/queries/{name}/subscriptions` (GET: the caller's subscriptions to its named query, paged; POST: subscribe)
 * and `/epcis/queries/{name}/subscriptions/{id}` (GET, DELETE). Each actor sees only its own subscriptions; another
 * actor's are answered as missing (404 NoSuchSubscriptionException). Deliveries: `services/subscription-worker.ts`.
 */
async function subscriptionsEndpoint(request: Request, deps: AppDeps, rawName: string, rawId: string | undefined): Promise<Response> {
  const allow = rawId === undefined ? 'GET, POST, OPTIONS' : 'GET, DELETE, OPTIONS';
  if (request.method === 'OPTIONS') return new Response(null, { status: 204, headers: { allow, ...VERSION_HEADERS } });
  if (!allow.split(', ').includes(request.method)) return methodNotAllowed(allow);
  // The key itself, not only its actor: revoking the key that subscribed stops the subscription.
  const auth = await authenticate(deps.db, request.headers.get('authorization'), deps.operatorKeyHash);
  if (auth.kind !== 'actor') return problemResponse(401, 'SecurityException', auth.message, {}, { 'www-authenticate': 'Bearer realm="provenant"' });
  const actorId = auth.actor.id;
  const url = new URL(request.url);
  const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
    new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...VERSION_HEADERS, ...headers } });
  const decode = (raw: string) => {
    try {
      return decodeURIComponent(raw);
    } catch {
      return raw;
    }
  };
  const name = decode(rawName);
  if (!QUERY_NAME.test(name)) return problemResponse(404, 'NoSuchNameException', `there is no named query ${JSON.stringify(name)}`);

  if (rawId === undefined && request.method === 'POST') {
    const contentType = (request.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (contentType !== 'application/json' && contentType !== 'application/ld+json') {
      return problemResponse(415, 'UnsupportedMediaTypeException', `send the subscription as application/json, not ${contentType || 'no content type'}`);
    }
    const epcFormat = epcFormatOf(request);
    if (epcFormat instanceof Response) return epcFormat;
    const bytes = await readCapped(request, MAX_SUBSCRIPTION_BODY_BYTES);
    if (bytes === null) return problemResponse(413, 'ValidationException', `a subscription request is at most ${MAX_SUBSCRIPTION_BODY_BYTES} bytes`);
    let body: unknown;
    try {
      body = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
    } catch (e) {
      return problemResponse(400, 'ValidationException', `the body is not a JSON document: ${(e as Error).message}`);
    }
    const created = await createSubscription(deps.db, { actorId, keyId: auth.keyId }, name, body, epcFormat, deps.now());
    switch (created.kind) {
      case 'NoSuchQuery':
        return problemResponse(404, 'NoSuchNameException', created.message);
      case 'InvalidRequest':
        return problemResponse(400, 'ValidationException', created.errors.map((e) => e.message).join('; '), {
          parameters: created.errors.map((e) => ({ name: e.field, reason: e.message })),
        });
      case 'InvalidQuery':
        return queryParameterProblem(created.errors);
      case 'TooMany':
        return problemResponse(409, 'SubscribeNotPermittedException', created.message);
      case 'ok': {
        const location = new URL(`/epcis/queries/${encodeURIComponent(name)}/subscriptions/${created.subscription.subscriptionID}`, url).toString();
        // A generated secret is shown once, here; a client's own signatureToken is never echoed.
        return json(201, { ...created.subscription, ...(created.secret === null ? {} : { signatureToken: created.secret }) }, { location });
      }
      default:
        throw new Error(`unexpected subscription result ${(created satisfies never as { kind: string }).kind}`);
    }
  }
  if (rawId === undefined) {
    // The token is the last id of the page, in the named-query list's token form.
    const params = listPageParams(url, (after) => UUID.test(after));
    if (params instanceof Response) return params;
    const page = await subscriptionPage(deps.db, actorId, name, params.after, params.perPage);
    if (page.kind === 'NoSuchQuery') return problemResponse(404, 'NoSuchNameException', page.message);
    return json(200, page.subscriptions, nextPageLink(url, params.perPage, page.more ? page.subscriptions.at(-1)?.subscriptionID : undefined));
  }
  const id = decode(rawId);
  if (request.method === 'DELETE') {
    const removed = await removeSubscription(deps.db, actorId, name, id);
    return removed.kind === 'ok' ? new Response(null, { status: 204, headers: { ...VERSION_HEADERS } }) : problemResponse(404, 'NoSuchSubscriptionException', removed.message);
  }
  const found = await getSubscription(deps.db, actorId, name, id);
  return found.kind === 'ok' ? json(200, found.subscription) : problemResponse(404, 'NoSuchSubscriptionException', found.message);
}

// ---------------------------------------------------------------------------------------------------------------
// POST /epcis/capture

const STATUS_OF: Record<CaptureProblemCode, { status: number; type: ExceptionType }> = {
  LIMIT: { status: 413, type: 'CaptureLimitExceededException' },
  SCHEMA: { status: 400, type: 'ValidationException' },
  INVALID: { status: 400, type: 'ValidationException' },
  UNMAPPABLE: { status: 400, type: 'ValidationException' },
  NOT_FOUND: { status: 400, type: 'ValidationException' },
  INVALID_TRANSITION: { status: 400, type: 'ValidationException' },
  PERMISSION_DENIED: { status: 403, type: 'SecurityException' },
  CONFLICT: { status: 409, type: 'ConflictException' },
};

/** What decides a capture failure's status: its kind (every kind capture declares, and a job's internal error) and code. */
type CaptureFailureOutline =
  | { kind: 'EpcisCaptureError'; code: CaptureProblemCode }
  | { kind: Exclude<EpcisCaptureFailure['kind'], 'EpcisCaptureError'> | 'InternalError' };

/**
 * The REST status and exception type of a capture failure, synchronous or of a job: a refused document by its
 * problem code, the other failures by their kind. Takes every failure the capture use case declares
 * (CAPTURE_EPCIS_FAILURES), so one it may return but this does not map does not typecheck.
 */
function captureFailureStatus(f: CaptureFailureOutline): { status: number; type: ExceptionType } {
  switch (f.kind) {
    case 'EpcisCaptureError': return STATUS_OF[f.code];
    case 'ValidationError': return { status: 400, type: 'ValidationException' };
    case 'ConflictError': return { status: 409, type: 'ConflictException' };
    case 'InternalError': return { status: 500, type: 'ImplementationException' };
  }
}

function limitHeaders(limits: EpcisCaptureLimits): Record<string, string> {
  return {
    'GS1-EPCIS-Capture-Limit': String(limits.maxEvents),
    'GS1-EPCIS-Capture-File-Size-Limit': String(limits.maxBytes),
    'GS1-Capture-Error-Behaviour': 'rollback',
  };
}

/** Reads the body up to `max` bytes; null when it is longer (the rest is left unread). */
async function readCapped(request: Request, max: number): Promise<Uint8Array | null> {
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel().catch(() => {});
      return null;
    }
    chunks.push(value);
  }
  return concatBytes(...chunks);
}

async function captureEndpoint(request: Request, deps: AppDeps, limits: EpcisCaptureLimits, logger?: Logger): Promise<Response> {
  if (request.method === 'OPTIONS') {
    return new Response(null, { status: 204, headers: { allow: 'GET, OPTIONS, POST', ...VERSION_HEADERS, ...limitHeaders(limits) } });
  }
  if (request.method !== 'POST' && request.method !== 'GET') return methodNotAllowed('GET, OPTIONS, POST');
  const actor = await authenticated(request, deps);
  if (actor instanceof Response) return actor;
  const url = new URL(request.url);
  if (request.method === 'GET') return captureJobList(url, deps, actor);
  const unknown = [...new Set(url.searchParams.keys())].filter((k) => k !== 'sync');
  const syncParam = url.searchParams.get('sync');
  if (unknown.length > 0 || (syncParam !== null && syncParam !== 'true' && syncParam !== 'false')) {
    return problemResponse(400, 'ValidationException', unknown.length > 0 ? `unsupported query parameter ${unknown[0]} (supported: sync=true)` : 'sync must be true or false');
  }
  const sync = syncParam === 'true';

  const behaviour = request.headers.get('gs1-capture-error-behaviour')?.trim().toLowerCase();
  if (behaviour && behaviour !== 'rollback') {
    return problemResponse(400, 'ValidationException', `GS1-Capture-Error-Behaviour ${behaviour} is not supported: a document is captured all-or-nothing (rollback)`, {}, limitHeaders(limits));
  }
  const contentType = (request.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (contentType !== 'application/json' && contentType !== 'application/ld+json') {
    return problemResponse(415, 'UnsupportedMediaTypeException', `send the EPCISDocument as application/ld+json or application/json, not ${contentType || 'no content type'}`);
  }
  const tooLarge = (bytes: string) =>
    problemResponse(413, 'CaptureLimitExceededException', `the document is ${bytes} bytes; the capture limit is ${limits.maxBytes} bytes`, {
      problems: [{ eventIndex: null, eventID: null, field: 'document', reason: `larger than ${limits.maxBytes} bytes`, code: 'LIMIT', rule: null, items: [] }],
    }, { ...limitHeaders(limits), connection: 'close' });
  const declared = request.headers.get('content-length');
  if (declared !== null && /^\d+$/.test(declared) && Number(declared) > limits.maxBytes) return tooLarge(declared);
  const bytes = await readCapped(request, limits.maxBytes);
  if (bytes === null) return tooLarge(`more than ${limits.maxBytes}`);

  let document: unknown;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    document = JSON.parse(text);
  } catch (e) {
    return problemResponse(400, 'ValidationException', `the body is not a JSON document: ${(e as Error).message}`);
  }
  const tooBig = sizeRejection(bytes.byteLength, limits);
  if (tooBig) return tooLarge(String(bytes.byteLength));

  const key = request.headers.get('idempotency-key');
  const ledgerDeps = { db: deps.db, signer: deps.signer, now: deps.now, maxClockSkewMs: deps.config.maxClockSkewMs, fieldLimits: deps.config.fieldLimits };
  if (!sync) {
    const submitted = await submitCaptureJob(deps, actor, { document, text, byteLength: bytes.byteLength, idempotencyKey: key }, limits);
    if (submitted.kind !== 'ok') {
      const { status, type } = captureFailureStatus(submitted);
      const details = submitted.kind === 'EpcisCaptureError' ? { problems: submitted.problems } : { field: submitted.field };
      return problemResponse(status, type, submitted.message, details, status === 413 ? limitHeaders(limits) : {});
    }
    // While the server shuts down its worker has stopped: the job waits, queued, for the next start. The kick is
    // deferred so this answer is written first: the capture's first phases (hash IDs, validation, mapping) are
    // CPU-bound and, started at once, held the 202 of a 1,000-event document back by ~700 ms (~20 ms deferred).
    if (!deps.draining?.()) {
      const worker = captureWorkerFor(ledgerDeps, { onError: (error, jobId) => logger?.error('capture job failed unexpectedly', { jobId, error }) });
      setTimeout(() => worker.kick(), KICK_DELAY_MS).unref();
    }
    return new Response(JSON.stringify(captureJobJson(submitted.job)), {
      status: 202,
      headers: { 'content-type': 'application/json', location: `/epcis/capture/${submitted.job.id}`, ...VERSION_HEADERS, ...limitHeaders(limits) },
    });
  }
  const result = await captureEpcisDocument(
    ledgerDeps,
    actor,
    // The text too: event hash IDs are computed from the numbers as written.
    { document, idempotencyKey: key, byteLength: bytes.byteLength, text },
    limits,
  );
  switch (result.kind) {
    case 'ok':
      return new Response(
        JSON.stringify({
          recorded: result.recorded,
          skipped: result.skipped,
          replayed: result.replayed,
          events: withGlobalIds(result.events),
        }),
        { status: 200, headers: { 'content-type': 'application/json', ...VERSION_HEADERS, ...limitHeaders(limits) } },
      );
    default: {
      // A refused document by its code, the other failures by their kind (captureFailureStatus), with their
      // structured details: the problem list, or the offending input field.
      const { status, type } = captureFailureStatus(result);
      const details = result.kind === 'EpcisCaptureError' ? { problems: result.problems } : result.kind === 'ValidationError' ? { field: result.field } : {};
      return problemResponse(status, type, result.message, details, status === 413 ? limitHeaders(limits) : {});
    }
  }
}

/**
 * `perPage` and `nextPageToken` of a list resource (named queries, subscriptions): any other parameter, a perPage below
 * 1 or a token this endpoint did not issue (or that fails `validAfter`) is a QueryParameterException response.
 */
function listPageParams(url: URL, validAfter: (after: string) => boolean): { perPage: number; after: string | null } | Response {
  const perPageRaw = url.searchParams.get('perPage');
  const tokenRaw = url.searchParams.get('nextPageToken');
  const extra = [...new Set(url.searchParams.keys())].filter((k) => k !== 'perPage' && k !== 'nextPageToken');
  if (extra.length > 0) return queryParameterProblem(extra.map((k) => ({ parameter: k, message: `unsupported query parameter ${k} (supported: perPage, nextPageToken)` })));
  if (perPageRaw !== null && (!/^\d{1,9}$/.test(perPageRaw) || Number(perPageRaw) < 1)) return queryParameterProblem([{ parameter: 'perPage', message: 'perPage must be an integer ≥ 1' }]);
  const after = tokenRaw === null ? null : decodeNameToken(tokenRaw);
  if (tokenRaw !== null && (after === null || !validAfter(after))) return queryParameterProblem([{ parameter: 'nextPageToken', message: 'nextPageToken is not a token returned by this endpoint' }]);
  return { perPage: Math.min(perPageRaw === null ? EPCIS_DEFAULT_PAGE_SIZE : Number(perPageRaw), EPCIS_MAX_PAGE_SIZE), after };
}

/** The `Link: <…>; rel="next"` header of a list page, when `lastKey` (the page's last entry) says there is more. */
function nextPageLink(url: URL, perPage: number, lastKey: string | undefined): Record<string, string> {
  if (lastKey === undefined) return {};
  const next = new URL(url);
  next.searchParams.set('perPage', String(perPage));
  next.searchParams.set('nextPageToken', encodeNameToken(lastKey));
  return { link: `<${next.toString()}>; rel="next"` };
}

// ---------------------------------------------------------------------------------------------------------------
// Capture jobs: GET /epcis/capture (list) and GET /epcis/capture/{captureID}

/** How long after a submission its worker is kicked (the 202 goes out first); the server's poll is the fallback. */
const KICK_DELAY_MS = 20;

const withGlobalIds = (events: readonly CapturedEvent[]) => events.map((e) => ({ ...e, eventGlobalId: encodeGlobalID('Event', e.ledgerEventId) }));

/** The problem a failed job's document would have been answered with by the synchronous capture. */
function failureProblem(failure: CaptureJobFailure): { type: string; title: string; status: number } {
  const { status, type } = captureFailureStatus(failure);
  return { type: `epcisException:${type}`, title: failure.message, status };
}

/**
 * A capture job as the REST binding's `CaptureJob` (`captureID`, `createdAt`, `finishedAt`, `running`, `success`,
 * `captureErrorBehaviour`, `errors`: one RFC 7807 problem per problem found, with its event index, eventID, field and
 * code) plus `status`, `startedAt`, `documentBytes`, `eventCount`, and `result` (succeeded: the captured events) or
 * `problem` (failed: what the synchronous capture answers).
 */
function captureJobJson(job: CaptureJob): Record<string, unknown> {
  const finished = job.status === 'succeeded' || job.status === 'failed';
  const problem = job.failure ? failureProblem(job.failure) : null;
  const errors = job.errors.length > 0
    ? job.errors.map((p) => ({ type: `epcisException:${STATUS_OF[p.code].type}`, title: p.reason, status: STATUS_OF[p.code].status, ...p }))
    : problem ? [problem] : [];
  return {
    captureID: job.id,
    createdAt: job.createdAt.toISOString(),
    ...(job.finishedAt ? { finishedAt: job.finishedAt.toISOString() } : {}),
    running: !finished,
    success: job.status !== 'failed',
    captureErrorBehaviour: 'rollback',
    errors,
    status: job.status,
    ...(job.startedAt ? { startedAt: job.startedAt.toISOString() } : {}),
    documentBytes: job.documentBytes,
    eventCount: job.eventCount,
    ...(job.idempotencyKey !== null ? { idempotencyKey: job.idempotencyKey } : {}),
    ...(job.result ? { result: { ...job.result, events: withGlobalIds(job.result.events) } } : {}),
    ...(problem ? { problem } : {}),
  };
}

const jsonResponse = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...VERSION_HEADERS, ...headers } });

async function captureJobEndpoint(request: Request, deps: AppDeps, rawId: string): Promise<Response> {
  if (request.method === 'OPTIONS') return new Response(null, { status: 204, headers: { allow: 'GET, OPTIONS', ...VERSION_HEADERS } });
  if (request.method !== 'GET') return methodNotAllowed('GET, OPTIONS');
  const actor = await authenticated(request, deps);
  if (actor instanceof Response) return actor;
  const job = await getCaptureJob(deps.db, actor, rawId);
  // Another actor's job is answered exactly like one that does not exist.
  if (!job) return problemResponse(404, 'NoSuchNameException', `there is no capture job ${JSON.stringify(rawId)}`);
  return jsonResponse(200, captureJobJson(job));
}

async function captureJobList(url: URL, deps: AppDeps, actor: ActorRow): Promise<Response> {
  const perPageRaw = url.searchParams.get('perPage');
  const tokenRaw = url.searchParams.get('nextPageToken');
  const extra = [...new Set(url.searchParams.keys())].filter((k) => k !== 'perPage' && k !== 'nextPageToken');
  if (extra.length > 0) return queryParameterProblem(extra.map((k) => ({ parameter: k, message: `unsupported query parameter ${k} (supported: perPage, nextPageToken)` })));
  if (perPageRaw !== null && (!/^\d{1,9}$/.test(perPageRaw) || Number(perPageRaw) < 1)) return queryParameterProblem([{ parameter: 'perPage', message: 'perPage must be an integer ≥ 1' }]);
  // The token is the position of the last job shown (jobs are numbered in submission order).
  const before = tokenRaw === null ? null : /^[1-9]\d{0,15}$/.test(tokenRaw) ? Number(tokenRaw) : NaN;
  if (before !== null && !Number.isSafeInteger(before)) return queryParameterProblem([{ parameter: 'nextPageToken', message: 'nextPageToken is not a token returned by this endpoint' }]);
  const perPage = Math.min(perPageRaw === null ? EPCIS_DEFAULT_PAGE_SIZE : Number(perPageRaw), EPCIS_MAX_PAGE_SIZE);
  const page = await captureJobPage(deps.db, actor, before, perPage);
  const headers: Record<string, string> = {};
  const last = page.jobs[page.jobs.length - 1];
  if (page.more && last) {
    const next = new URL(url);
    next.searchParams.set('perPage', String(perPage));
    next.searchParams.set('nextPageToken', String(last.seq));
    headers['link'] = `<${next.toString()}>; rel="next"`;
  }
  return jsonResponse(200, page.jobs.map(captureJobJson), headers);
}
