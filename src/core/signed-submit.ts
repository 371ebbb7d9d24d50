/**
 * Decisions of the two-phase signed submit (docs/ledger-format.md §13): which registered key may sign, how long a
 * prepared event stays open, how a submitted signature is read, and whether a submission is accepted. Pure: the
 * clock and the stored facts are passed in.
 */
import { fromHex } from './bytes.ts';
import { decodeBase64 } from './checkpoint.ts';
import { type ConflictFailure, type NotFoundFailure, type ValidationFailure, conflict, invalid, notFound } from './failures.ts';
import { type Result, err, ok } from './result.ts';
import { type GrantFact, grantInForce } from './rights.ts';
import { verifyActorSignature } from './v2/event-v2.ts';
import type { JsonValue } from './v2/fields.ts';

/** A prepared event expires this long after preparation (time for a human to review and sign on a device). */
export const PREPARED_EVENT_TTL_MS = 5 * 60_000;

export const preparedExpiresAt = (now: Date): Date => new Date(now.getTime() + PREPARED_EVENT_TTL_MS);

/**
 * An expired preparation is kept this long after it expired, so that a late submit is still told it expired (a
 * ConflictError, "prepare again") rather than that it does not exist; then a sweep deletes it.
 */
export const PREPARED_EVENT_RETENTION_MS = 60 * 60_000;

/** Preparations that expired before this instant are deleted by the sweep at `now`. */
export const preparedSweepCutoff = (now: Date): Date => new Date(now.getTime() - PREPARED_EVENT_RETENTION_MS);

/** A registered key as the decisions need it. */
export interface SignerKeyFact {
  actorId: string;
  /** Lowercase hex. */
  publicKey: string;
  revokedAt: Date | null;
}

/**
 * The key an actor may sign with now: registered to that actor and not revoked (a revocation takes effect at its
 * time). `key` is the registered key with that public key, undefined when none is. Errors are messages for `field`.
 */
export function signerKeyInForce(key: SignerKeyFact | undefined, actorId: string, now: Date): Result<string, string> {
  if (!key || key.actorId !== actorId) return err('publicKey is not a signing key registered to you (registerActorKey)');
  if (key.revokedAt && key.revokedAt.getTime() <= now.getTime()) return err('publicKey was revoked; register a new key and sign with it');
  return ok(key.publicKey);
}

/**
 * A submitted signature: 64 bytes as 128 hex characters or base64 (standard alphabet, padded). Errors are messages
 * for `signature`.
 */
export function decodeActorSignature(input: string): Result<Uint8Array, string> {
  const s = input.trim();
  const bytes = /^[0-9a-fA-F]{128}$/.test(s) ? fromHex(s.toLowerCase()) : s.length <= 100 ? decodeBase64(s) : undefined;
  if (!bytes || bytes.length !== 64) return err('signature must be a 64-byte Ed25519 signature, as 128 hex characters or base64');
  return ok(bytes);
}

/** What was stored at preparation, as the submit decision needs it. */
export interface PreparedFact {
  actorId: string;
  /** Hex key named as `signer` in the body. */
  signer: string;
  contentHash: Uint8Array;
  expiresAt: Date;
}

/**
 * Whether a signed submission of a prepared event is accepted: the preparation is the caller's (another actor's is
 * "not found", as a missing one), not expired, its signer key still registered to the caller and in force, and
 * `signature` a valid Ed25519 signature by it over the 32-byte content hash. Returns the failure to answer, or
 * undefined when accepted.
 */
export function judgeSignedSubmission(
  prepared: PreparedFact | undefined,
  callerId: string,
  signerKey: SignerKeyFact | undefined,
  signature: Uint8Array,
  now: Date,
): ValidationFailure | NotFoundFailure | ConflictFailure | undefined {
  if (!prepared || prepared.actorId !== callerId) return notFound('prepared event not found');
  if (prepared.expiresAt.getTime() <= now.getTime()) return conflict(`the prepared event expired at ${prepared.expiresAt.toISOString()}; prepare again`);
  const key = signerKeyInForce(signerKey, callerId, now);
  if (!key.ok || key.value !== prepared.signer) return conflict('the signing key was revoked since preparation; prepare again with a key in force');
  if (!verifyActorSignature(prepared.contentHash, signature, prepared.signer)) {
    return invalid('signature', 'the signature is not a valid Ed25519 signature by the signer key over the content hash');
  }
  return undefined;
}

/**
 * Whether every item is still at the head it had at preparation (the prepared entries chain from those heads);
 * `current` maps item id to its head now (absent: gone). A moved head means the body is stale: prepare again.
 */
export function headsUnmoved(expected: readonly { id: string; seq: number; hash: string }[], current: ReadonlyMap<string, { seq: number; hash: string }>): boolean {
  return expected.every((e) => {
    const c = current.get(e.id);
    return !!c && c.seq === e.seq && c.hash === e.hash;
  });
}

/** Lifecycle kinds that can be submitted signed (the kinds of the lifecycle mutations). */
export const SIGNABLE_KINDS = ['SHIP', 'RECEIVE', 'SELL', 'ACTIVATE', 'SERVICE', 'USE_REPORT', 'RETURN', 'RECYCLE', 'DESTROY'] as const;
export type SignableKind = (typeof SIGNABLE_KINDS)[number];

/** The kind-specific inputs of a signed preparation (one input type serves every kind). */
export interface SignableFields {
  counterparty?: string | null;
  price?: number | null;
  currency?: string | null;
  note?: string | null;
  readings?: JsonValue | null;
  reason?: string | null;
  materials?: { material: string; massKg: number }[] | null;
}

const KIND_FIELDS: Record<SignableKind, readonly (keyof SignableFields)[]> = {
  SHIP: ['counterparty'],
  RECEIVE: [],
  SELL: ['counterparty', 'price', 'currency'],
  ACTIVATE: ['note', 'readings'],
  SERVICE: ['note', 'readings'],
  USE_REPORT: ['note', 'readings'],
  RETURN: ['counterparty', 'reason'],
  RECYCLE: ['materials'],
  DESTROY: ['reason'],
};

/**
 * The data a lifecycle mutation of `kind` would record from these inputs (same shapes as shipItems, sellItems, …),
 * and whether the counterparty is required (SHIP, RETURN). A field that does not apply to the kind is refused, so a
 * signer never signs something other than it sent. The kind's own data rule runs later (core/event-data.ts).
 */
export function signableData(kind: SignableKind, f: SignableFields): Result<{ data: { [key: string]: JsonValue }; counterparty: string | null }, { field: string; message: string }> {
  const allowed = KIND_FIELDS[kind];
  for (const name of Object.keys(f) as (keyof SignableFields)[]) {
    if (f[name] !== null && f[name] !== undefined && !allowed.includes(name)) return err({ field: name, message: `${name} does not apply to ${kind}` });
  }
  const counterparty = f.counterparty ?? null;
  if ((kind === 'SHIP' || kind === 'RETURN') && counterparty === null) return err({ field: 'counterparty', message: `${kind} needs the receiving actor (counterparty)` });
  switch (kind) {
    case 'SELL':
      return ok({ data: { price: f.price ?? null, currency: f.currency ?? null }, counterparty });
    case 'ACTIVATE':
    case 'SERVICE':
    case 'USE_REPORT':
      return ok({ data: { note: f.note ?? null, readings: f.readings ?? null }, counterparty });
    case 'RETURN':
    case 'DESTROY':
      return ok({ data: { reason: f.reason ?? null }, counterparty });
    case 'RECYCLE':
      return ok({ data: { materials: f.materials ?? null }, counterparty });
    default:
      return ok({ data: {}, counterparty });
  }
}

/**
 * Whether every grant a prepared event relied on (`authorizedBy`) is still in force now: a grant revoked or expired
 * between preparation and submission no longer authorises the write, so the actor prepares again (and is then judged
 * on the rights it has).
 */
export function grantsStillInForce(usedIds: readonly string[], grants: readonly GrantFact[], now: Date): boolean {
  return usedIds.every((id) => {
    const g = grants.find((x) => x.id === id);
    return !!g && grantInForce(g, now);
  });
}
