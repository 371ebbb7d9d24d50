import type { IncomingMessage } from 'node:http';
import { createGraphQLError, type Plugin } from 'graphql-yoga';

const tooLarge = () => createGraphQLError('Request body too large', { extensions: { http: { status: 413 }, code: 'REQUEST_ENTITY_TOO_LARGE' } });

// Only a single non-negative integer is a valid Content-Length (comma-joined values are request smuggling attempts).
const CONTENT_LENGTH = /^\d+$/;

/**
 * The request body limit of GraphQL requests, replacing yoga's `maxRequestBodySize` (which pipes every body through
 * a counting TransformStream and rebuilds the Request: about a fifth of the CPU of a trivial query here). A declared
 * Content-Length above `maxBytes` is refused with 413 before the body is read; a request over HTTP/1.x through
 * node:http with a valid Content-Length within the limit is read as is, since Node's parser never delivers more body
 * than that header declares; any other body (chunked, or a Request not from node:http) is counted while it is read
 * and refused with 413 at the limit, as yoga does. Must come after every plugin that registers a request parser.
 */
export function useBodyLimit(maxBytes: number): Plugin {
  return {
    onRequestParse({ request, requestParser, setRequestParser, serverContext, fetchAPI }) {
      const declared = request.headers.get('content-length');
      if (declared !== null) {
        if (!CONTENT_LENGTH.test(declared)) {
          throw createGraphQLError('Content-Length header is invalid.', { extensions: { http: { status: 400 }, code: 'BAD_REQUEST' } });
        }
        if (Number(declared) > maxBytes) throw tooLarge();
        const req = (serverContext as { req?: IncomingMessage }).req;
        if (req?.httpVersionMajor === 1 && typeof req.headers?.['content-length'] === 'string') return;
      }
      if (!requestParser || !request.body) return;
      const parse = requestParser;
      setRequestParser((req) => parse(limited(req, maxBytes, fetchAPI)));
    },
  };
}

/** `request` with its body counted while read, erroring with 413 past `maxBytes` (yoga's own limiter). */
function limited(request: Request, maxBytes: number, fetchAPI: { Request: typeof Request; TransformStream: typeof TransformStream }): Request {
  // A native ReadableStream needs the native TransformStream; whatwg-node's own streams need its ponyfill.
  const Transform = request.body instanceof ReadableStream ? globalThis.TransformStream : fetchAPI.TransformStream;
  let read = 0;
  const body = request.body!.pipeThrough(new Transform({
    transform(chunk: Uint8Array, controller) {
      read += chunk.byteLength;
      if (read > maxBytes) controller.error(tooLarge());
      else controller.enqueue(chunk);
    },
  }));
  return new fetchAPI.Request(request.url, { method: request.method, headers: request.headers, signal: request.signal, body, duplex: 'half' } as RequestInit);
}
