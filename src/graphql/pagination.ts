import { GraphQLError } from 'graphql';
import { MAX_PAGE_SIZE } from './builder.ts';

export interface PageArgs {
  first?: number | null;
  after?: string | null;
}

/** Default page size when `first` is omitted. */
export const DEFAULT_PAGE_SIZE = 20;

export const inputError = (field: string, message: string) =>
  new GraphQLError(message, { extensions: { code: 'VALIDATION_ERROR', field } });

/** Validates `first` (1..MAX_PAGE_SIZE) and decodes `after` into the key the query resumes after. */
export function pageParams<K>(args: PageArgs, validKey: (k: unknown) => k is K): { limit: number; after: K | null } {
  const first = args.first ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(first) || first < 0 || first > MAX_PAGE_SIZE) {
    throw inputError('first', `first must be between 0 and ${MAX_PAGE_SIZE}`);
  }
  if (!args.after) return { limit: first, after: null };
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(args.after, 'base64url').toString('utf8'));
  } catch {
    throw inputError('after', 'after is not a cursor returned by this connection');
  }
  if (!validKey(key)) throw inputError('after', 'after is not a cursor returned by this connection');
  return { limit: first, after: key };
}

export const encodeCursor = (key: unknown): string => Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');

/**
 * Builds a Relay connection from rows fetched with `limit + 1` (the extra row only tells whether there is a
 * next page).
 */
export function connectionFrom<T>(rows: readonly T[], limit: number, keyOf: (row: T) => unknown, hasPrevious: boolean, totalCount?: () => Promise<number>) {
  const page = rows.slice(0, limit);
  const edges = page.map((node) => ({ node, cursor: encodeCursor(keyOf(node)) }));
  return {
    // Counted only when the field is selected, under the same filters (visibility included) as the page.
    totalCount: totalCount ?? (async () => rows.length),
    edges,
    pageInfo: {
      hasNextPage: rows.length > limit,
      hasPreviousPage: hasPrevious,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges[edges.length - 1]?.cursor ?? null,
    },
  };
}

export { isUuid } from '../db/ids.ts';
export const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** Connection-type options adding `totalCount` (the count under the connection's filters and visibility). */
export const withTotalCount = {
  fields: (t: any) => ({
    totalCount: t.int({
      description: 'Number of nodes matching this connection’s arguments that you may see (all pages).',
      resolve: (connection: { totalCount?: () => Promise<number> }) => connection.totalCount?.() ?? 0,
    }),
  }),
};
