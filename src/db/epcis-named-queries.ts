import type { ColumnType, Generated, Kysely } from 'kysely';
import type { DbOrTrx } from './connection.ts';
import type { Database } from './types.ts';

// The named-query table (migrations/20261126T014107-epcis-named-queries.ts), typed here: src/db/types.ts stays as is.
interface NamedQueriesTable {
  actor_id: string;
  name: string;
  query: ColumnType<Record<string, unknown>, string, string>;
  created_at: Generated<Date>;
}
type NamedQueryDatabase = Database & { epcis_named_queries: NamedQueriesTable };
const nq = (db: DbOrTrx): Kysely<NamedQueryDatabase> => db as unknown as Kysely<NamedQueryDatabase>;

export interface NamedQueryRow {
  name: string;
  query: Record<string, unknown>;
}

/** Saves a named query of `actorId`; false when the actor already has one of that name (nothing is changed). */
export async function insertNamedQuery(db: DbOrTrx, actorId: string, name: string, query: Record<string, unknown>): Promise<boolean> {
  const row = await nq(db)
    .insertInto('epcis_named_queries')
    .values({ actor_id: actorId, name, query: JSON.stringify(query) })
    .onConflict((oc) => oc.columns(['actor_id', 'name']).doNothing())
    .returning('name')
    .executeTakeFirst();
  return row !== undefined;
}

export async function findNamedQuery(db: DbOrTrx, actorId: string, name: string): Promise<NamedQueryRow | undefined> {
  return nq(db).selectFrom('epcis_named_queries').select(['name', 'query']).where('actor_id', '=', actorId).where('name', '=', name)
    .executeTakeFirst() as Promise<NamedQueryRow | undefined>;
}

/** The actor's named queries in name order, after `afterName`, at most `limit`. */
export async function listNamedQueries(db: DbOrTrx, actorId: string, afterName: string | null, limit: number): Promise<NamedQueryRow[]> {
  let q = nq(db).selectFrom('epcis_named_queries').select(['name', 'query']).where('actor_id', '=', actorId);
  if (afterName !== null) q = q.where('name', '>', afterName);
  return q.orderBy('name').limit(limit).execute() as Promise<NamedQueryRow[]>;
}

/** Deletes the actor's named query; false when there was none. */
export async function deleteNamedQuery(db: DbOrTrx, actorId: string, name: string): Promise<boolean> {
  const r = await nq(db).deleteFrom('epcis_named_queries').where('actor_id', '=', actorId).where('name', '=', name).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}
