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
 * - `POST /epcis/capture` — an EPCISDocument (`application/json` or `application/ld+json`), captured synchronously and
 *   all-or-nothing (`GS1-Capture-Error-Behaviour: rollback`, the only behaviour offered); optional `Idempotency-Key`.
 *   200 with the per-event outcome; 400/403/409 `application/problem+json` naming each event index, field and reason;
 *   413 above the size or event-count limit. `OPTIONS /epcis/capture` announces the limits.
 * Both authenticate the bearer API key like GraphQL and read with the same scope.
 */
import { encodeGlobalID } from '@pothos/plugin-relay';
import { concatBytes } from '../core/bytes.ts';
import type { EpcFormat } from '../core/epcis-export.ts';
import { epcisQueryDocument } from '../core/epcis-export.ts';
import { readScope } from '../core/rights.ts';
import { grantsOf } from '../db/visibility.ts';
import type { AppDeps } from '../graphql/context.ts';
import type { Logger } from './logger.ts';
import { authenticate } from '../services/authenticate.ts';
import { type CaptureProblemCode, type EpcisCaptureLimits, captureEpcisDocument, captureLimits, sizeRejection } from '../services/epcis-capture.ts';
import { parseEpcisQueryString } from '../core/epcis-query-params.ts';
import { queryEpcisEvents, withCheckpoint } from '../services/epcis-query.ts';

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
 * Answers `GET /epcis/events` and `POST /epcis/capture` (and their OPTIONS); undefined for any other path, so the
 * caller can hand the request to GraphQL.
 */
export async function handleEpcisRequest(request: Request, deps: AppDeps, options: EpcisHttpOptions = {}): Promise<Response | undefined> {
  const path = new URL(request.url).pathname.replace(/\/+$/, '');
  if (path !== '/epcis/events' && path !== '/epcis/capture') return undefined;
  try {
    return path === '/epcis/events' ? await eventsEndpoint(request, deps) : await captureEndpoint(request, deps, captureLimits(deps.config, options.limits));
  } catch (error) {
    (options.logger ?? { error: (m: string, f?: Record<string, unknown>) => console.error(m, f) }).error('unexpected error in the EPCIS endpoint', { path, error });
    return problemResponse(500, 'ImplementationException', 'internal error');
  }
}

// ---------------------------------------------------------------------------------------------------------------

type ExceptionType =
  | 'ValidationException' | 'QueryParameterException' | 'QueryTooLargeException' | 'SecurityException' | 'CaptureLimitExceededException' | 'ImplementationException'
  | 'UnsupportedMediaTypeException' | 'MethodNotAllowedException' | 'ConflictException';

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
// GET /epcis/events

async function eventsEndpoint(request: Request, deps: AppDeps): Promise<Response> {
  if (request.method === 'OPTIONS') return new Response(null, { status: 204, headers: { allow: 'GET, HEAD, OPTIONS', ...VERSION_HEADERS, 'GS1-EPC-Format': 'Always_EPC_URN' } });
  if (request.method !== 'GET' && request.method !== 'HEAD') return methodNotAllowed('GET, HEAD, OPTIONS');
  const actor = await authenticated(request, deps);
  if (actor instanceof Response) return actor;

  const formatHeader = request.headers.get('gs1-epc-format')?.trim();
  let epcFormat: EpcFormat = 'urn';
  if (formatHeader) {
    const f = EPC_FORMATS[formatHeader.toLowerCase()];
    if (!f) return problemResponse(400, 'ValidationException', `GS1-EPC-Format must be one of No_Preference, Always_GS1_Digital_Link, Always_EPC_URN, Never_Translates; got ${formatHeader}`);
    epcFormat = f;
  }
  const url = new URL(request.url);
  const parsed = parseEpcisQueryString(url.searchParams);
  if (!parsed.ok) {
    return problemResponse(400, 'QueryParameterException', parsed.error.map((e) => e.message).join('; '), {
      parameters: parsed.error.map((e) => ({ name: e.parameter, ...(e.index === undefined ? {} : { index: e.index }), reason: e.message })),
    });
  }

  const now = deps.now();
  const scope = readScope(actor.id, actor.is_operator, await grantsOf(deps.db, actor.id), now);
  const result = await queryEpcisEvents(deps.db, scope, parsed.value, epcFormat);
  if (result.kind === 'QueryTooLarge') return problemResponse(413, 'QueryTooLargeException', result.message, { maxEventCount: result.maxEventCount });
  if (result.kind === 'QueryParameter') return problemResponse(400, 'QueryParameterException', result.message, { parameters: [{ name: result.parameter, reason: result.message }] });
  const headers: Record<string, string> = {
    'content-type': 'application/ld+json; charset=utf-8',
    ...VERSION_HEADERS,
    'GS1-EPC-Format': epcFormat === 'digitalLink' ? 'Always_GS1_Digital_Link' : 'Always_EPC_URN',
  };
  if (result.nextPageToken !== null) {
    const next = new URL(url);
    next.searchParams.delete('nextPageToken');
    next.searchParams.set('perPage', String(parsed.value.perPage));
    next.searchParams.set('nextPageToken', result.nextPageToken);
    headers['link'] = `<${next.toString()}>; rel="next"`;
  }
  const body = request.method === 'HEAD' ? null : JSON.stringify(withCheckpoint(epcisQueryDocument(result.events, now.toISOString()), result.checkpoint));
  return new Response(body, { status: 200, headers });
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

async function captureEndpoint(request: Request, deps: AppDeps, limits: EpcisCaptureLimits): Promise<Response> {
  if (request.method === 'OPTIONS') {
    return new Response(null, { status: 204, headers: { allow: 'OPTIONS, POST', ...VERSION_HEADERS, ...limitHeaders(limits) } });
  }
  if (request.method !== 'POST') return methodNotAllowed('OPTIONS, POST');
  const actor = await authenticated(request, deps);
  if (actor instanceof Response) return actor;

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
  try {
    document = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    return problemResponse(400, 'ValidationException', `the body is not a JSON document: ${(e as Error).message}`);
  }
  const tooBig = sizeRejection(bytes.byteLength, limits);
  if (tooBig) return tooLarge(String(bytes.byteLength));

  const key = request.headers.get('idempotency-key');
  const result = await captureEpcisDocument(
    { db: deps.db, signer: deps.signer, now: deps.now, maxClockSkewMs: deps.config.maxClockSkewMs },
    actor,
    { document, idempotencyKey: key, byteLength: bytes.byteLength },
    limits,
  );
  switch (result.kind) {
    case 'ok':
      return new Response(
        JSON.stringify({
          recorded: result.recorded,
          skipped: result.skipped,
          replayed: result.replayed,
          events: result.events.map((e) => ({ ...e, eventGlobalId: encodeGlobalID('Event', e.ledgerEventId) })),
        }),
        { status: 200, headers: { 'content-type': 'application/json', ...VERSION_HEADERS, ...limitHeaders(limits) } },
      );
    case 'EpcisCaptureError': {
      const { status, type } = STATUS_OF[result.code];
      return problemResponse(status, type, result.message, { problems: result.problems }, status === 413 ? limitHeaders(limits) : {});
    }
    case 'ValidationError':
      return problemResponse(400, 'ValidationException', result.message, { field: result.field });
    case 'ConflictError':
      return problemResponse(409, 'ConflictException', result.message);
    default:
      throw new Error(`unexpected capture result ${(result satisfies never as { kind: string }).kind}`);
  }
}
