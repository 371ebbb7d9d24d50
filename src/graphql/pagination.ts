import { GraphQLError } from 'graphql';
import { MAX_PAGE_SIZE } from './builder.ts';

export interface PageArgs {
  first?: number | null;
  after?: string | null;
  last?: number | null;
  before?: string | null;
}

/** Default page size when neither `first` nor `last` is given. */
export const DEFAULT_PAGE_SIZE = 20;

export const inputError = (field: string, message: string) =>
  new GraphQLError(message, { extensions: { code: 'VALIDATION_ERROR', field } });

/**
 * One page request over a connection's order key. `first` (with `after` and/or `before`) reads forward from the
 * start of the window, `last` backward from its end; rows are always returned in the connection's order.
 */
export interface Page<K> {
  limit: number;
  after: K | null;
  before: K | null;
  /** `last` was given: the page is the end of the window. */
  backward: boolean;
}

/** Description every connection field carries about its paging arguments. */
export const PAGING_NOTE = 'Pages with first/after (forward) or last/before (backward), at most 100 nodes per page; first and last are exclusive.';

/**
 * Validates `first`/`last` (0..MAX_PAGE_SIZE, not both) and decodes `after`/`before` into keys of the connection's
 * order. Throws a VALIDATION_ERROR naming the argument otherwise.
 */
export function pageParams<K>(args: PageArgs, validKey: (k: unknown) => k is K): Page<K> {
  const hasFirst = args.first !== undefined && args.first !== null;
  const hasLast = args.last !== undefined && args.last !== null;
  if (hasFirst && hasLast) throw inputError('last', 'give first or last, not both');
  const name = hasLast ? 'last' : 'first';
  const size = (hasLast ? args.last : args.first) ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(size) || size < 0 || size > MAX_PAGE_SIZE) {
    throw inputError(name, `${name} must be between 0 and ${MAX_PAGE_SIZE}`);
  }
  const decode = (field: 'after' | 'before', cursor: string | null | undefined): K | null => {
    if (!cursor) return null;
    let key: unknown;
    try {
      key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    } catch {
      throw inputError(field, `${field} is not a cursor returned by this connection`);
    }
    if (!validKey(key)) throw inputError(field, `${field} is not a cursor returned by this connection`);
    return key;
  };
  return { limit: size, after: decode('after', args.after), before: decode('before', args.before), backward: hasLast };
}

export const encodeCursor = (key: unknown): string => Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');

/**
 * Builds a Relay connection from rows fetched with `limit + 1` in the page's read direction (see `keysetPage` in db/paging.ts); the
 * edges come out in the connection's order. `hasPreviousPage`/`hasNextPage` are exact in the read direction and
 * true on the other side when the page starts after (ends before) a cursor.
 */
export function connectionFrom<T>(rows: readonly T[], page: Page<unknown>, keyOf: (row: T) => unknown, totalCount?: () => Promise<number>) {
  const more = rows.length > page.limit;
  const taken = rows.slice(0, page.limit);
  const nodes = page.backward ? taken.reverse() : taken;
  const edges = nodes.map((node) => ({ node, cursor: encodeCursor(keyOf(node)) }));
  return {
    // Counted only when the field is selected, under the same filters (visibility included) as the page.
    totalCount: totalCount ?? (async () => rows.length),
    edges,
    pageInfo: {
      hasNextPage: page.backward ? page.before !== null : more,
      hasPreviousPage: page.backward ? more : page.after !== null,
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
