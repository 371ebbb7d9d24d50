/**
 * EPCIS 2.0 REST binding (subset) beside GraphQL:
 * - `GET /epcis/events` — SimpleEventQuery with `MATCH_epc`, `MATCH_anyEPC`, `EQ_bizStep`, `GE_eventTime`,
 *   `LT_eventTime`, `EQ_action` (several values: repeat the parameter or separate values with `|`), `perPage`
 *   (default 30, at most 1000 served) and `nextPageToken`; answers an `EPCISQueryDocument` (`application/ld+json`) and,
 *   when there is more, `Link: <…&nextPageToken=…>; rel="next"`. EPCs are SGTIN URNs unless the request sends
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
import { parseOccurrenceTime } from '../core/time.ts';
import { grantsOf } from '../db/visibility.ts';
import type { AppDeps } from '../graphql/context.ts';
import type { Logger } from './logger.ts';
import { authenticate } from '../services/authenticate.ts';
import { type CaptureProblemCode, type EpcisCaptureLimits, captureEpcisDocument, captureLimits, sizeRejection } from '../services/epcis-capture.ts';
import {
  EPCIS_MAX_PAGE_SIZE, type EpcPattern, type EpcisAction, type EpcisEventFilter, decodePageToken, epcisPageSize, findEpcisEvents, parseEpcPattern,
} from '../services/epcis-query.ts';

export interface EpcisHttpOptions {
  /** Capture limits; by default from `deps.config` (`epcisMaxDocumentBytes`, `epcisMaxEvents`) or the defaults. */
  limits?: Partial<EpcisCaptureLimits>;
  /** Where unexpected errors are logged (they are answered with a bare 500 ImplementationException). */
  logger?: Logger;
}

const VERSION_HEADERS = { 'GS1-EPCIS-Version': '2.0.0', 'GS1-CBV-Version': '2.0.0' } as const;
const QUERY_PARAMS = ['MATCH_epc', 'MATCH_anyEPC', 'EQ_bizStep', 'GE_eventTime', 'LT_eventTime', 'EQ_action', 'perPage', 'nextPageToken'] as const;
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
  | 'ValidationException' | 'QueryParameterException' | 'SecurityException' | 'CaptureLimitExceededException' | 'ImplementationException'
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

function parseTime(name: string, raw: string): Date | string {
  let parsed = parseOccurrenceTime(raw);
  // An unencoded "+" in a query string arrives as a space.
  if (!parsed.ok && raw.includes(' ')) parsed = parseOccurrenceTime(raw.replace(' ', '+'));
  return parsed.ok ? parsed.value.instant : `${name}: ${parsed.error}`;
}

interface ParsedQuery {
  filter: EpcisEventFilter;
  perPage: number;
  after: number | null;
}

function parseQuery(params: URLSearchParams): ParsedQuery | string {
  for (const name of new Set(params.keys())) {
    if (!(QUERY_PARAMS as readonly string[]).includes(name)) return `unsupported query parameter ${name} (supported: ${QUERY_PARAMS.join(', ')})`;
  }
  const values = (name: string): string[] | null => {
    const all = params.getAll(name);
    if (all.length === 0) return null;
    return all.flatMap((v) => v.split('|')).map((v) => v.trim()).filter((v) => v !== '');
  };
  const single = (name: string): string | null | { error: string } => {
    const all = params.getAll(name);
    if (all.length > 1) return { error: `${name} may be given once` };
    return all[0] ?? null;
  };
  const filter: EpcisEventFilter = {};
  for (const [name, key] of [['MATCH_epc', 'matchEpc'], ['MATCH_anyEPC', 'matchAnyEpc']] as const) {
    const list = values(name);
    if (list === null) continue;
    if (list.length === 0) return `${name} needs at least one EPC`;
    const patterns: EpcPattern[] = [];
    for (const v of list) {
      const p = parseEpcPattern(v);
      if (!p.ok) return `${name}: ${p.error}`;
      patterns.push(p.value);
    }
    filter[key] = patterns;
  }
  const steps = values('EQ_bizStep');
  if (steps !== null) {
    if (steps.length === 0) return 'EQ_bizStep needs at least one business step';
    filter.bizSteps = steps;
  }
  const actions = values('EQ_action');
  if (actions !== null) {
    const bad = actions.find((a) => !['ADD', 'OBSERVE', 'DELETE'].includes(a));
    if (bad !== undefined || actions.length === 0) return `EQ_action must be ADD, OBSERVE or DELETE${bad ? `, got ${bad}` : ''}`;
    filter.actions = actions as EpcisAction[];
  }
  for (const [name, key] of [['GE_eventTime', 'geEventTime'], ['LT_eventTime', 'ltEventTime']] as const) {
    const raw = single(name);
    if (raw !== null && typeof raw === 'object') return raw.error;
    if (raw === null) continue;
    const t = parseTime(name, raw);
    if (typeof t === 'string') return t;
    filter[key] = t;
  }
  const perPageRaw = single('perPage');
  if (perPageRaw !== null && typeof perPageRaw === 'object') return perPageRaw.error;
  let requested: number | null = null;
  if (perPageRaw !== null) {
    if (!/^\d{1,9}$/.test(perPageRaw)) return `perPage must be a positive integer (at most ${EPCIS_MAX_PAGE_SIZE} are served)`;
    requested = Number(perPageRaw);
  }
  const size = epcisPageSize(requested);
  if (!size.ok) return `perPage: ${size.error}`;
  const tokenRaw = single('nextPageToken');
  if (tokenRaw !== null && typeof tokenRaw === 'object') return tokenRaw.error;
  let after: number | null = null;
  if (tokenRaw !== null) {
    after = decodePageToken(tokenRaw);
    if (after === null) return 'nextPageToken is not a token returned by this endpoint';
  }
  return { filter, perPage: size.value, after };
}

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
  const parsed = parseQuery(url.searchParams);
  if (typeof parsed === 'string') return problemResponse(400, 'QueryParameterException', parsed);

  const now = deps.now();
  const scope = readScope(actor.id, actor.is_operator, await grantsOf(deps.db, actor.id), now);
  const page = await findEpcisEvents(deps.db, scope, parsed.filter, { limit: parsed.perPage, afterLeafIndex: parsed.after }, epcFormat);
  const headers: Record<string, string> = {
    'content-type': 'application/ld+json; charset=utf-8',
    ...VERSION_HEADERS,
    'GS1-EPC-Format': epcFormat === 'digitalLink' ? 'Always_GS1_Digital_Link' : 'Always_EPC_URN',
  };
  if (page.nextPageToken !== null) {
    const next = new URL(url);
    next.searchParams.delete('nextPageToken');
    next.searchParams.set('perPage', String(parsed.perPage));
    next.searchParams.set('nextPageToken', page.nextPageToken);
    headers['link'] = `<${next.toString()}>; rel="next"`;
  }
  const body = request.method === 'HEAD' ? null : JSON.stringify(epcisQueryDocument(page.events, now.toISOString()));
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
    { db: deps.db, signer: deps.signer, now: deps.now, maxClockSkewMs: deps.config.maxClockSkewMs, fieldLimits: deps.config.fieldLimits },
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
