/**
 * Actor signing keys (docs/ledger-format.md §13): validation of an Ed25519 public key an actor registers, and who may
 * revoke one. Pure (`@noble/curves` runs in browsers too).
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { type Result, err, ok } from './result.ts';

/** Most keys one actor may have in force at once (rotation needs two; more is a sign of a leak or a bug). */
export const MAX_ACTIVE_ACTOR_KEYS = 10;

/**
 * A registrable Ed25519 public key: 64 hex characters (either case; returned lowercase) encoding a point on the
 * curve that is not of small order (such a key would accept forged signatures). Errors are messages for `publicKey`.
 */
export function validateActorPublicKey(input: string): Result<string, string> {
  const hex = input.trim().toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex)) return err('publicKey must be 64 hexadecimal characters (a 32-byte Ed25519 public key)');
  let point;
  try {
    point = ed25519.Point.fromHex(hex);
  } catch {
    return err('publicKey is not a point on the Ed25519 curve');
  }
  if (point.isSmallOrder()) return err('publicKey is a small-order point, which would accept forged signatures');
  return ok(hex);
}

/** Whether an actor with `active` keys in force may register one more. */
export const mayRegisterAnotherKey = (active: number): boolean => active < MAX_ACTIVE_ACTOR_KEYS;

/** A key is revoked by the actor it belongs to, or by the operator. */
export const mayRevokeKey = (caller: { id: string; isOperator: boolean }, keyOwnerId: string): boolean => caller.isOperator || caller.id === keyOwnerId;
