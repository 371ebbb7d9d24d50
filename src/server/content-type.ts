import { createGraphQLError, type Plugin } from 'graphql-yoga';

/** Request media types a GraphQL POST may carry (GraphQL over HTTP, plus what yoga itself reads). */
const READABLE = ['application/json', 'application/graphql-response+json', 'application/graphql+json', 'application/graphql', 'multipart/form-data'];

const WHAT_TO_SEND = 'Send a POST with "content-type: application/json" and a JSON body {"query": "...", "variables": {...}}, or a GET with ?query=...';

/**
 * A GraphQL POST without a content-type, or with one the server does not read as GraphQL (text/plain, or the
 * application/x-www-form-urlencoded that `curl -d` sends, which yoga answered with 200 "Must provide query string"),
 * gets 415 with a GraphQL error that says what to send.
 */
export function useContentTypeCheck(graphqlEndpoint: string): Plugin {
  return {
    // After CSRF prevention (also onRequestParse): a cross-site "simple" request still gets its 403 first.
    onRequestParse({ request, url }) {
      if (url.pathname !== graphqlEndpoint || request.method !== 'POST') return;
      const type = request.headers.get('content-type')?.split(';')[0]!.trim().toLowerCase() ?? '';
      if (READABLE.includes(type)) return;
      const given = type === '' ? 'none given' : `"${type}"`;
      const hint = type === 'application/x-www-form-urlencoded' ? ' (what curl -d sends; add -H "content-type: application/json")' : '';
      throw createGraphQLError(`Unsupported content-type: ${given}${hint}. ${WHAT_TO_SEND}`, {
        extensions: { code: 'UNSUPPORTED_MEDIA_TYPE', http: { status: 415 } },
      });
    },
  };
}
