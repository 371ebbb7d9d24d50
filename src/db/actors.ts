import { sql } from 'kysely';
import type { GrantFact } from '../core/rights.ts';
import type { DbOrTrx } from './connection.ts';
import { grantFactsFromJson, grantsJsonOf } from './grants.ts';
import type { ActorRow, ApiKeyRow } from './types.ts';

export async function findOperator(db: DbOrTrx): Promise<ActorRow | undefined> {
  return db.selectFrom('actors').selectAll().where('is_operator', '=', true).executeTakeFirst();
}

/** Creates the operator actor if missing; safe to call on every start (one operator row by unique index). */
export async function ensureOperator(db: DbOrTrx): Promise<ActorRow> {
  await db
    .insertInto('actors')
    .values({ name: 'Platform operator', roles: [], company_prefixes: [], gln: null, public_key: null, is_operator: true })
    .onConflict((oc) => oc.column('is_operator').where('is_operator', '=', true).doNothing())
    .execute();
  return (await findOperator(db))!;
}

export async function findActiveKeyByHash(db: DbOrTrx, hash: Uint8Array): Promise<{ actor: ActorRow; keyId: string } | undefined> {
  const row = await db
    .selectFrom('api_keys')
    .innerJoin('actors', 'actors.id', 'api_keys.actor_id')
    .selectAll('actors')
    .select('api_keys.id as key_id')
    .where('api_keys.key_hash', '=', hash)
    .where('api_keys.revoked_at', 'is', null)
    .executeTakeFirst();
  if (!row) return undefined;
  const { key_id, ...actor } = row;
  return { actor, keyId: key_id };
}

/**
 * The actor of an unrevoked key and every grant given to that actor (core judges which are in force), in one
 * statement: what a request needs to know who calls and what it may read. Undefined for an unknown or revoked key.
 */
export async function findActiveKeyWithGrants(db: DbOrTrx, hash: Uint8Array): Promise<{ actor: ActorRow; keyId: string; grants: GrantFact[] } | undefined> {
  const row = await db
    .selectFrom('api_keys')
    .innerJoin('actors', 'actors.id', 'api_keys.actor_id')
    .selectAll('actors')
    .select('api_keys.id as key_id')
    .select(grantsJsonOf(sql`actors.id`).as('grants'))
    .where('api_keys.key_hash', '=', hash)
    .where('api_keys.revoked_at', 'is', null)
    .executeTakeFirst();
  if (!row) return undefined;
  const { key_id, grants, ...actor } = row;
  return { actor, keyId: key_id, grants: grantFactsFromJson(grants) };
}

export async function insertActor(
  db: DbOrTrx,
  a: { name: string; roles: string[]; gln: string | null; companyPrefixes: string[]; publicKey: Uint8Array | null },
): Promise<ActorRow> {
  return db
    .insertInto('actors')
    .values({ name: a.name, roles: a.roles, gln: a.gln, company_prefixes: a.companyPrefixes, public_key: a.publicKey })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function insertApiKey(db: DbOrTrx, actorId: string, keyHash: Uint8Array, hint: string): Promise<ApiKeyRow> {
  return db.insertInto('api_keys').values({ actor_id: actorId, key_hash: keyHash, hint }).returningAll().executeTakeFirstOrThrow();
}

export async function findActorsByIds(db: DbOrTrx, ids: readonly string[]): Promise<ActorRow[]> {
  if (ids.length === 0) return [];
  return db.selectFrom('actors').selectAll().where('id', 'in', ids).execute();
}

export async function findApiKey(db: DbOrTrx, id: string): Promise<ApiKeyRow | undefined> {
  return db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Marks a key revoked (first revocation time wins). Returns the row after the update. */
export async function revokeKey(db: DbOrTrx, id: string, at: Date): Promise<ApiKeyRow | undefined> {
  await db.updateTable('api_keys').set({ revoked_at: at }).where('id', '=', id).where('revoked_at', 'is', null).execute();
  return findApiKey(db, id);
}

export async function findKeysOfActors(db: DbOrTrx, actorIds: readonly string[]): Promise<ApiKeyRow[]> {
  if (actorIds.length === 0) return [];
  return db.selectFrom('api_keys').selectAll().where('actor_id', 'in', actorIds).orderBy('created_at').execute();
}

/**
 * Actors with this GLN (a GLN is not unique: several actors may share a location), at most 10; the operator too if it
 * has one: whether it counts as a party is core's rule (`core/party.ts` isParty).
 */
export async function findActorsByGln(db: DbOrTrx, gln: string): Promise<ActorRow[]> {
  return db.selectFrom('actors').selectAll().where('gln', '=', gln).orderBy('id').limit(10).execute();
}

/** One directory row: what naming a partner needs, nothing more (no keys, prefixes or operator flag). */
export type DirectoryActor = Pick<ActorRow, 'id' | 'name' | 'roles' | 'gln'> & { sort_key: string };

/**
 * A page of the actor directory (the operator is never listed), ordered by (lower(name), id). `namePrefix` matches
 * case-insensitively at the start of the name; `after`/`before` are exclusive (sort_key, id) keys, sort_key being
 * lower(name) as the database computes it, compared byte-wise (COLLATE "C") so the order is the same on every database.
 */
export async function listActors(
  db: DbOrTrx,
  q: { namePrefix: string | null; gln: string | null; after: [string, string] | null; before: [string, string] | null; limit: number; descending: boolean },
): Promise<DirectoryActor[]> {
  let query = db.selectFrom('actors').select(['id', 'name', 'roles', 'gln', sql<string>`lower(name) COLLATE "C"`.as('sort_key')]).where('is_operator', '=', false);
  if (q.namePrefix) {
    const pattern = q.namePrefix.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`) + '%';
    query = query.where(sql<boolean>`lower(name) LIKE lower(${pattern})`);
  }
  if (q.gln) query = query.where('gln', '=', q.gln);
  if (q.after) query = query.where(sql<boolean>`(lower(name) COLLATE "C", id) > (${q.after[0]} COLLATE "C", ${q.after[1]}::uuid)`);
  if (q.before) query = query.where(sql<boolean>`(lower(name) COLLATE "C", id) < (${q.before[0]} COLLATE "C", ${q.before[1]}::uuid)`);
  const dir = q.descending ? sql`DESC` : sql`ASC`;
  return query.orderBy(sql`lower(name) COLLATE "C" ${dir}`).orderBy(sql`id ${dir}`).limit(q.limit + 1).execute();
}

/** Every GS1 company prefix registered with this ledger (what SSCC URNs of exported containers need). */
export async function knownCompanyPrefixes(db: DbOrTrx): Promise<string[]> {
  const rows = await sql<{ prefix: string }>`SELECT DISTINCT unnest(company_prefixes) AS prefix FROM actors`.execute(db);
  return rows.rows.map((r) => r.prefix);
}

/**
 * The actors whose GLN is one of `glns`, the operator included if it has one: who counts as a party is decided in
 * core (`core/party.ts` isParty), not here.
 */
export async function findActorsByGlns(db: DbOrTrx, glns: readonly string[]): Promise<Pick<ActorRow, 'id' | 'gln' | 'is_operator'>[]> {
  if (glns.length === 0) return [];
  return db.selectFrom('actors').select(['id', 'gln', 'is_operator']).where('gln', 'in', [...glns]).execute();
}
