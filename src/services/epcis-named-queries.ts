/**
 * EPCIS 2.0 named queries (REST binding `/queries`): a SimpleEventQuery saved under a name, listed, read, deleted,
 * and run (`/queries/{name}/events`) with the caller's visibility, exactly like `GET /events` with the definition's
 * parameters. Names are per actor: each company sees and runs only its own named queries (another's is not found).
 */
import type { EpcFormat } from '../core/epcis-export.ts';
import { type EpcisQueryError, type NamedQueryDefinition, parseNamedQuery, parseNamedQueryRun } from '../core/epcis-query-params.ts';
import type { ReadScope } from '../core/rights.ts';
import type { DbOrTrx } from '../db/connection.ts';
import { deleteNamedQuery, findNamedQuery, insertNamedQuery, listNamedQueries } from '../db/epcis-named-queries.ts';
import { type EpcisQueryResult, queryEpcisEvents } from './epcis-query.ts';

export type NotFound = { kind: 'NotFound'; message: string };
/** The body or its query is not valid: `body`/`name`/`query` errors are malformed bodies, the rest query parameters. */
export type InvalidQuery = { kind: 'InvalidQuery'; errors: EpcisQueryError[] };

const notFound = (name: string): NotFound => ({ kind: 'NotFound', message: `there is no named query ${JSON.stringify(name)}` });

/** Saves `body` (`{name, query}`) for the actor. Conflict when the actor already has a query of that name. */
export async function createNamedQuery(
  db: DbOrTrx,
  actorId: string,
  body: unknown,
): Promise<{ kind: 'ok'; definition: NamedQueryDefinition } | InvalidQuery | { kind: 'Conflict'; message: string }> {
  const parsed = parseNamedQuery(body);
  if (!parsed.ok) return { kind: 'InvalidQuery', errors: parsed.error };
  const { name, query } = parsed.value;
  if (!(await insertNamedQuery(db, actorId, name, query as Record<string, unknown>))) {
    return { kind: 'Conflict', message: `a named query ${JSON.stringify(name)} already exists; delete it first to redefine it` };
  }
  return { kind: 'ok', definition: parsed.value };
}

export async function getNamedQuery(db: DbOrTrx, actorId: string, name: string): Promise<{ kind: 'ok'; definition: NamedQueryDefinition } | NotFound> {
  const row = await findNamedQuery(db, actorId, name);
  return row ? { kind: 'ok', definition: row } : notFound(name);
}

/** One page of the actor's named queries in name order, and whether there are more. */
export async function namedQueryPage(db: DbOrTrx, actorId: string, afterName: string | null, limit: number): Promise<{ queries: NamedQueryDefinition[]; more: boolean }> {
  const rows = await listNamedQueries(db, actorId, afterName, limit + 1);
  return { queries: rows.slice(0, limit), more: rows.length > limit };
}

export async function removeNamedQuery(db: DbOrTrx, actorId: string, name: string): Promise<{ kind: 'ok' } | NotFound> {
  return (await deleteNamedQuery(db, actorId, name)) ? { kind: 'ok' } : notFound(name);
}

/** Runs the actor's named query with the request's `perPage` / `nextPageToken` (any other parameter is refused). */
export async function runNamedQuery(
  db: DbOrTrx,
  scope: ReadScope,
  name: string,
  request: URLSearchParams,
  epcFormat: EpcFormat,
): Promise<{ kind: 'ran'; result: EpcisQueryResult; perPage: number } | NotFound | InvalidQuery> {
  const row = await findNamedQuery(db, scope.actorId, name);
  if (!row) return notFound(name);
  const query = parseNamedQueryRun(row.query, request);
  if (!query.ok) return { kind: 'InvalidQuery', errors: query.error };
  return { kind: 'ran', result: await queryEpcisEvents(db, scope, query.value, epcFormat), perPage: query.value.perPage };
}
