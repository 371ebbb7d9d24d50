import { mayRegisterAnotherKey, mayRevokeKey, MAX_ACTIVE_ACTOR_KEYS, validateActorPublicKey } from '../core/actor-keys.ts';
import {
  type ActorKeyRow, countActiveActorKeys, findActorKeyById, findActorKeyByPublicKey, insertActorKey, lockActorForKeys, revokeActorKeyRow,
} from '../db/actor-keys.ts';
import type { Db } from '../db/connection.ts';
import type { ActorRow } from '../db/types.ts';
import { ledgerWrite } from './ledger-write.ts';
import { type Result, err, ok } from '../core/result.ts';
import { type FailureOf, type ValidationFailure, conflict, failureSpec, invalid, notFound } from './results.ts';

/** What registerActorKey and revokeActorKey may fail with (their GraphQL unions are built from these). */
export const REGISTER_ACTOR_KEY_FAILURES = failureSpec(['ValidationError', 'ConflictError'], []);
export const REVOKE_ACTOR_KEY_FAILURES = failureSpec(['ValidationError', 'NotFoundError', 'ConflictError'], []);
export type ActorKeyResult = { kind: 'ok'; key: ActorKeyRow } | FailureOf<typeof REVOKE_ACTOR_KEY_FAILURES>;
export type RegisterActorKeyResult = { kind: 'ok'; key: ActorKeyRow } | FailureOf<typeof REGISTER_ACTOR_KEY_FAILURES>;

/**
 * Registers an Ed25519 public key (hex) for the caller, to sign its events with (docs/ledger-format.md §13).
 * Failures: ValidationError `publicKey` (not 32 bytes of hex, not on the curve, small order; or already
 * {@link MAX_ACTIVE_ACTOR_KEYS} keys in force), ConflictError (the key is registered already, to anyone; or the
 * idempotency key was used with another request).
 */
export async function registerActorKey(db: Db, caller: ActorRow, input: { publicKey: string; idempotencyKey?: string | null }, now: Date): Promise<RegisterActorKeyResult> {
  return ledgerWrite({ db, now: () => now }, {
    operation: 'registerActorKey',
    caller,
    request: (key: string) => ({ publicKey: key }),
    idempotencyKey: input.idempotencyKey,
    check: () => checkedKey(input.publicKey),
    write: async (trx, key): Promise<RegisterActorKeyResult> => {
      await lockActorForKeys(trx, caller.id);
      if (!mayRegisterAnotherKey(await countActiveActorKeys(trx, caller.id))) {
        return invalid('publicKey', `at most ${MAX_ACTIVE_ACTOR_KEYS} keys in force per actor: revoke one first`);
      }
      const row = await insertActorKey(trx, caller.id, key, now);
      return row ? { kind: 'ok', key: row } : conflict('this public key is registered already');
    },
    save: (r) => ({ keyId: r.key.id }),
    replay: async (trx, s) => ({ kind: 'ok', key: (await findActorKeyById(trx, s.keyId))! }),
  });
}

/**
 * Revokes a key: signatures made with it are no longer accepted from now on; the key stays on record (past
 * signatures were checked against it). The key's actor or the operator; revoking twice keeps the first time.
 * Failures: ValidationError `publicKey`, NotFoundError (no such key, or another actor's for a non-operator).
 */
export async function revokeActorKey(db: Db, caller: ActorRow, input: { publicKey: string; idempotencyKey?: string | null }, now: Date): Promise<ActorKeyResult> {
  return ledgerWrite({ db, now: () => now }, {
    operation: 'revokeActorKey',
    caller,
    request: (key: string) => ({ publicKey: key }),
    idempotencyKey: input.idempotencyKey,
    check: () => checkedKey(input.publicKey),
    write: async (trx, key): Promise<ActorKeyResult> => {
      const row = await findActorKeyByPublicKey(trx, key);
      if (!row || !mayRevokeKey({ id: caller.id, isOperator: caller.is_operator }, row.actorId)) return notFound('actor key not found');
      await revokeActorKeyRow(trx, row.id, caller.id, now);
      return { kind: 'ok', key: (await findActorKeyById(trx, row.id))! };
    },
    save: (r) => ({ keyId: r.key.id }),
    replay: async (trx, s) => ({ kind: 'ok', key: (await findActorKeyById(trx, s.keyId))! }),
  });
}

/** The public key as core validates and normalises it, or the ValidationError `publicKey`. */
function checkedKey(publicKey: string): Result<string, ValidationFailure> {
  const key = validateActorPublicKey(publicKey);
  return key.ok ? ok(key.value) : err(invalid('publicKey', key.error));
}
