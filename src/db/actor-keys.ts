/** SQL of actor signing keys (migrations/20261126T040002-disclosure-policies.ts): append-only keys and revocations. */
import { type Generated, type Kysely, sql } from 'kysely';
import type { DbOrTrx, Trx } from './connection.ts';
import type { Database } from './types.ts';

// Typed here so src/db/types.ts stays as is.
interface ActorKeysTable {
  id: Generated<string>;
  actor_id: string;
  public_key: Uint8Array;
  registered_at: Date;
}
interface ActorKeyRevocationsTable {
  key_id: string;
  revoked_at: Date;
  revoked_by: string;
}
type KeysDatabase = Database & { actor_keys: ActorKeysTable; actor_key_revocations: ActorKeyRevocationsTable };
const kdb = (db: DbOrTrx): Kysely<KeysDatabase> => db as unknown as Kysely<KeysDatabase>;

export interface ActorKeyRow {
  id: string;
  actorId: string;
  /** Lowercase hex. */
  publicKey: string;
  registeredAt: Date;
  revokedAt: Date | null;
}

const select = (db: DbOrTrx) =>
  kdb(db).selectFrom('actor_keys as k').leftJoin('actor_key_revocations as r', 'r.key_id', 'k.id')
    .select(['k.id', 'k.actor_id', 'k.public_key', 'k.registered_at', 'r.revoked_at']);
const toRow = (r: { id: string | number; actor_id: string; public_key: Uint8Array; registered_at: Date; revoked_at: Date | null }): ActorKeyRow => ({
  id: String(r.id), actorId: r.actor_id, publicKey: Buffer.from(r.public_key).toString('hex'), registeredAt: r.registered_at, revokedAt: r.revoked_at ?? null,
});

/** Inserts the key; undefined when the public key is registered already (by anyone, revoked or not). */
export async function insertActorKey(trx: Trx, actorId: string, publicKeyHex: string, at: Date): Promise<ActorKeyRow | undefined> {
  const row = await kdb(trx).insertInto('actor_keys').values({ actor_id: actorId, public_key: Buffer.from(publicKeyHex, 'hex'), registered_at: at })
    .onConflict((oc) => oc.column('public_key').doNothing())
    .returning(['id', 'actor_id', 'public_key', 'registered_at']).executeTakeFirst();
  return row && toRow({ ...row, revoked_at: null });
}

/** Serialises key changes of one actor (its actors row is locked until the transaction ends). */
export async function lockActorForKeys(trx: Trx, actorId: string): Promise<void> {
  await sql`SELECT 1 FROM actors WHERE id = ${actorId} FOR UPDATE`.execute(trx);
}

export async function findActorKeyById(db: DbOrTrx, id: string): Promise<ActorKeyRow | undefined> {
  const row = await select(db).where('k.id', '=', id).executeTakeFirst();
  return row && toRow(row);
}

export async function findActorKeyByPublicKey(db: DbOrTrx, publicKeyHex: string): Promise<ActorKeyRow | undefined> {
  const row = await select(db).where('k.public_key', '=', Buffer.from(publicKeyHex, 'hex')).executeTakeFirst();
  return row && toRow(row);
}

/** Every key of each actor, oldest first (one query). */
export async function actorKeysOf(db: DbOrTrx, actorIds: readonly string[]): Promise<Map<string, ActorKeyRow[]>> {
  const out = new Map<string, ActorKeyRow[]>();
  if (actorIds.length === 0) return out;
  const rows = await select(db).where(sql<boolean>`k.actor_id = ANY(${[...actorIds]}::uuid[])`).orderBy('k.id').execute();
  for (const r of rows) {
    const list = out.get(r.actor_id) ?? [];
    list.push(toRow(r));
    out.set(r.actor_id, list);
  }
  return out;
}

/** Keys of the actor in force (not revoked). */
export async function countActiveActorKeys(trx: Trx, actorId: string): Promise<number> {
  const row = await kdb(trx).selectFrom('actor_keys as k').leftJoin('actor_key_revocations as r', 'r.key_id', 'k.id')
    .select((eb) => eb.fn.countAll<number>().as('n')).where('k.actor_id', '=', actorId).where('r.key_id', 'is', null).executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Records the revocation (a key already revoked keeps its first revocation). */
export async function revokeActorKeyRow(trx: Trx, keyId: string, by: string, at: Date): Promise<void> {
  await kdb(trx).insertInto('actor_key_revocations').values({ key_id: keyId, revoked_at: at, revoked_by: by }).onConflict((oc) => oc.column('key_id').doNothing()).execute();
}
