/** GraphQL over HTTP for the CLI commands that talk to a running server (`bundle`, `checkpoint`, `audit --server`). */

/** Exit codes shared by every command (documented in `provenant --help` and the README). */
export const EXIT = {
  ok: 0,
  /** The command ran and the answer is negative: INVALID bundle, discrepancies found, item not found, stale schema. */
  failure: 1,
  /** Bad arguments or configuration (including a refused API key). */
  usage: 2,
  /** Could not run: data folder held by another process, server or database unreachable, internal error. */
  unavailable: 3,
} as const;

export const DEFAULT_SERVER = 'http://localhost:4000/graphql';

/** The GraphQL endpoint: `--server` as given, with `/graphql` added when only an origin was given. */
export function graphqlUrl(server: string): URL | undefined {
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/graphql';
  return url;
}

export type RemoteResult<T> =
  | { kind: 'ok'; data: T }
  /** Connection refused, DNS failure, timeout, or an answer that is not GraphQL. */
  | { kind: 'unreachable'; message: string }
  /** The API key is missing or refused (UNAUTHENTICATED), or the operation is not allowed for it (FORBIDDEN). */
  | { kind: 'auth'; code: string; message: string }
  /** The server refused the arguments (BAD_USER_INPUT and friends). */
  | { kind: 'input'; message: string }
  /** The server answered with an error it could not avoid (database unavailable, internal error). */
  | { kind: 'server'; message: string };

/** POSTs one GraphQL operation; never throws. `timeoutMs` bounds the whole exchange. */
export async function postGraphql<T>(
  url: URL,
  query: string,
  variables: Record<string, unknown>,
  key: string | undefined,
  timeoutMs = 600_000,
): Promise<RemoteResult<T>> {
  let res: Response;
  let text: string;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/graphql-response+json, application/json',
        ...(key ? { authorization: `Bearer ${key}` } : {}),
      },
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    text = await res.text();
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    return { kind: 'unreachable', message: `cannot reach the server at ${url.href}: ${cause?.code ?? cause?.message ?? (e as Error).message}` };
  }
  let body: { data?: T | null; errors?: { message: string; extensions?: { code?: string } }[] };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    return { kind: 'unreachable', message: `${url.href} did not answer GraphQL (HTTP ${res.status}: ${text.slice(0, 200)})` };
  }
  const first = body.errors?.[0];
  if (first) {
    const code = first.extensions?.code ?? '';
    const message = body.errors!.map((e) => e.message).join('; ');
    if (code === 'UNAUTHENTICATED' || code === 'FORBIDDEN') return { kind: 'auth', code, message };
    if (code === 'BAD_USER_INPUT' || code === 'GRAPHQL_VALIDATION_FAILED' || code === 'GRAPHQL_PARSE_FAILED') return { kind: 'input', message };
    return { kind: 'server', message: `${message}${code ? ` (${code})` : ''}` };
  }
  if (body.data === undefined || body.data === null) return { kind: 'server', message: `no data in the answer (HTTP ${res.status})` };
  return { kind: 'ok', data: body.data };
}

/** Maps a failed remote call to an exit code after printing its message. */
export function remoteFailure(r: Exclude<RemoteResult<unknown>, { kind: 'ok' }>, err: (s: string) => void, prefix: string, keyHint: string): number {
  switch (r.kind) {
    case 'unreachable':
      err(`${prefix}: ${r.message}`);
      return EXIT.unavailable;
    case 'auth':
      err(`${prefix}: ${r.code === 'UNAUTHENTICATED' ? 'authentication failed' : 'not allowed'}: ${r.message}${r.code === 'UNAUTHENTICATED' ? ` (${keyHint})` : ''}`);
      return r.code === 'UNAUTHENTICATED' ? EXIT.usage : EXIT.failure;
    case 'input':
      err(`${prefix}: the server refused the request: ${r.message}`);
      return EXIT.usage;
    case 'server':
      err(`${prefix}: the server could not answer: ${r.message}`);
      return EXIT.unavailable;
  }
}
