/**
 * Keyset paging over one unique order column, for the connections' list queries. The page comes from the GraphQL
 * layer (`graphql/pagination.ts` validates and decodes it); only its bounds reach SQL.
 */

/** One page request: `limit`, exclusive `after`/`before` keys, and whether it is read backward (`last`). */
export interface KeysetPage<K> {
  limit: number;
  after: K | null;
  before: K | null;
  /** `last` was given: the page is the end of the window. */
  backward: boolean;
}

/**
 * Applies a page to a query ordered by one unique key column: the `after`/`before` bounds, the order (reversed for
 * `last`) and `limit + 1` rows (the extra row tells whether more exist). `descending`: the connection's own order.
 */
export function keysetPage<Q>(query: Q, column: string, page: KeysetPage<unknown>, descending = false): Q {
  let q = query as any;
  if (page.after !== null) q = q.where(column, descending ? '<' : '>', page.after);
  if (page.before !== null) q = q.where(column, descending ? '>' : '<', page.before);
  return q.orderBy(column, descending !== page.backward ? 'desc' : 'asc').limit(page.limit + 1) as Q;
}
