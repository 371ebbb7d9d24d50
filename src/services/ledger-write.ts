/**
 * The one path of every write (issue 11, "One pipeline for every write"). A use case describes its write — operation,
 * caller, request, idempotency key, a pure check (core) and the body — and `ledgerWrite` owns the rest, in this order:
 *
 * 1. the use case's checks (core: rules, text bounds, instants against the clock skew) — before any transaction;
 * 2. the idempotency key, checked the same way everywhere (core `checkIdempotencyKey`);
 * 3. one transaction, retried when a concurrent writer got there first (the executor, `withRetries` by default);
 * 4. inside it, the key: a repeat of the same request replays the first result and writes nothing, another request
 *    under the same key (or another operation) is a ConflictError; a first call runs the body and stores what its
 *    success needs for a replay;
 * 5. any failure the body returns rolls the transaction back, so a refused write leaves nothing written and stores no
 *    key (a retry after it runs again);
 * 6. the events the write logged (or replayed while still pending) are integrated before it returns.
 *
 * Writes composed into a caller's transaction (EPCIS capture, packing) run steps 1, 2 and 4 with `ledgerWriteIn`;
 * the composer owns the transaction, its rollback on a failure, and the integration.
 */
import { type ConflictFailure, type ValidationFailure, conflict } from '../core/failures.ts';
import type { Result } from '../core/result.ts';
import { DEFAULT_FIELD_LIMITS, type FieldLimits } from '../core/text.ts';
import { type InputContext, checkIdempotencyKey } from '../core/write-input.ts';
import type { Db, Trx } from '../db/connection.ts';
import type { LogSigner } from '../db/log.ts';
import type { ActorRow } from '../db/types.ts';
import { checkIdempotency, idempotencyVerdict, storeIdempotency } from './idempotency.ts';
import { awaitIntegration, withRetries } from './transaction.ts';

/**
 * What the pipeline needs: the database; the log key when the write logs events (they are integrated before it
 * returns); the clock and its allowed skew, and the field bounds, for the checks.
 */
export interface WriteDeps {
  db: Db;
  signer?: LogSigner;
  now?: () => Date;
  /** How far an instant may lie ahead of `now` (0 when absent). */
  maxClockSkewMs?: number;
  /** `DEFAULT_FIELD_LIMITS` when absent. */
  fieldLimits?: FieldLimits;
}

/**
 * Runs one write attempt function in a transaction and returns its result once what it wrote is durable and, for
 * logged events, integrated. `attempt` may run more than once (retries), each time in a fresh transaction; when it
 * throws, everything it wrote must be rolled back (its transaction, or its savepoint in a shared one) and the error
 * rethrown. The default is {@link retriedTransaction}; a group-commit batcher can take its place per operation.
 * `job` describes the checked write, for an executor that decides many writes together (one facts statement for a
 * batch) instead of running `attempt`: such an executor then owns the key's semantics and the rollback of a refusal.
 */
export type WriteExecutor = <T>(deps: WriteDeps, attempt: (trx: Trx) => Promise<T>, job: WriteJob) => Promise<T>;

/** A write after its checks, as an executor sees it. */
export interface WriteJob<C = unknown> {
  operation: string;
  callerId: string;
  idempotencyKey: string | null;
  /** The checked input (the `C` of the write's spec). */
  checked: C;
  /** The request the key stands for. */
  request: unknown;
}

/** The default executor: one retried transaction (`withRetries`), then integration of the events it wrote. */
export const retriedTransaction: WriteExecutor = async (deps, attempt) => {
  const { result, pending } = await withRetries(deps.db, attempt);
  if (pending.length > 0) {
    if (!deps.signer) throw new Error('a write logged events but was given no log signer to integrate them');
    await awaitIntegration({ db: deps.db, signer: deps.signer }, pending);
  }
  return result;
};

type Ok<R> = Extract<R, { kind: 'ok' }>;
type Refusal<R> = Exclude<R, { kind: 'ok' }>;

/** A write as a use case declares it. `C` is its checked input, `R` its result, `S` what a replay is rebuilt from. */
export interface WriteSpec<C, R extends { kind: string }, S> {
  /** Stored with the key: the same key under another operation is a conflict. */
  operation: string;
  caller: Pick<ActorRow, 'id'>;
  /**
   * What was asked (JSON; the key itself may be left in or out): hashed canonically to tell a repeat from another
   * request. A function is called with the checked input (a request named by its normalised form).
   */
  request: unknown;
  idempotencyKey?: string | null | undefined;
  /** Pure checks before any transaction (core decisions and the declared fields, core/write-input.ts). */
  check: (ctx: InputContext) => Result<C, Refusal<R>>;
  /** The write, in the transaction: loads facts, asks core, writes. A failure it returns rolls back all it wrote. */
  write: (trx: Trx, checked: C) => Promise<R>;
  /** What to keep for a replay (ids, as JSON), and how to rebuild the success from it in a later transaction. */
  save: (ok: Ok<R>) => S;
  replay: (trx: Trx, saved: S) => Promise<Ok<R>>;
  /** How the transaction runs; {@link retriedTransaction} by default. */
  execute?: WriteExecutor;
  /**
   * How the row stored under the key is read (null: none); by default its own statement. A write that reads it in
   * the same statement as its facts (recordEvent's `loadWriteFacts`) supplies that read and keeps the facts for `write`.
   */
  readKey?: (trx: Trx, key: string) => Promise<StoredKey | null>;
}

/** What is stored under an idempotency key: the operation, the hash of its request and the saved success. */
export interface StoredKey {
  operation: string;
  requestHash: Uint8Array;
  response: unknown;
}

/** Thrown out of the attempt so that the executor rolls a refused write back; caught again by `ledgerWrite`. */
class Refused extends Error {
  override name = 'Refused';
  constructor(readonly failure: { kind: string }) {
    super(`write refused: ${failure.kind}`);
  }
}

/** The input context of a write: the clock read once, the skew and the field bounds. */
export const inputContextOf = (deps: WriteDeps): InputContext => ({
  now: deps.now ? deps.now() : new Date(),
  maxClockSkewMs: deps.maxClockSkewMs ?? 0,
  limits: deps.fieldLimits ?? DEFAULT_FIELD_LIMITS,
});

/** The input without its idempotency key: the request a key stands for. */
export function requestOf<T extends { idempotencyKey?: string | null }>(input: T): Omit<T, 'idempotencyKey'> {
  const { idempotencyKey: _key, ...request } = input;
  return request;
}

/** Steps 1 and 2: the use case's checks, then the key. */
function checkWrite<C, R extends { kind: string }, S>(deps: WriteDeps, spec: WriteSpec<C, R, S>): Result<C, Refusal<R> | ValidationFailure> {
  const checked = spec.check(inputContextOf(deps));
  if (!checked.ok) return checked;
  const keyProblem = checkIdempotencyKey(spec.idempotencyKey);
  return keyProblem ? { ok: false, error: keyProblem } : checked;
}

/** The request of a checked write. */
const requestAsked = <C, R extends { kind: string }, S>(spec: WriteSpec<C, R, S>, checked: C): unknown =>
  typeof spec.request === 'function' ? (spec.request as (c: C) => unknown)(checked) : spec.request;

/** Step 4 in `trx`: replay, conflict, or run and store. */
async function writeOnce<C, R extends { kind: string }, S>(trx: Trx, spec: WriteSpec<C, R, S>, checked: C): Promise<R | ConflictFailure> {
  const key = spec.idempotencyKey ?? null;
  if (key === null) return spec.write(trx, checked);
  const request = requestAsked(spec, checked);
  const seen = spec.readKey
    ? idempotencyVerdict<S>(await spec.readKey(trx, key), spec.operation, request)
    : await checkIdempotency<S>(trx, spec.caller.id, key, spec.operation, request);
  if (seen.kind === 'conflict') return conflict(`idempotencyKey "${key}" was already used with a different request`);
  if (seen.kind === 'replay') return spec.replay(trx, seen.response);
  const result = await spec.write(trx, checked);
  if (result.kind === 'ok') await storeIdempotency(trx, spec.caller.id, key, spec.operation, seen.requestHash, spec.save(result as Ok<R>));
  return result;
}

/**
 * Runs a write through the whole pipeline (module comment): checks, one retried transaction with the idempotency
 * key, rollback of any failure, integration of logged events. Returns the body's result, its replay, or a
 * ValidationError (the checks, the key) / ConflictError (the key reused for another request).
 */
export async function ledgerWrite<C, R extends { kind: string }, S>(deps: WriteDeps, spec: WriteSpec<C, R, S>): Promise<R | ConflictFailure | ValidationFailure> {
  const checked = checkWrite(deps, spec);
  if (!checked.ok) return checked.error;
  const execute = spec.execute ?? retriedTransaction;
  try {
    const job: WriteJob = {
      operation: spec.operation, callerId: spec.caller.id, idempotencyKey: spec.idempotencyKey ?? null, checked: checked.value, request: requestAsked(spec, checked.value),
    };
    return await execute(deps, async (trx) => {
      const result = await writeOnce(trx, spec, checked.value);
      if (result.kind !== 'ok') throw new Refused(result);
      return result;
    }, job);
  } catch (e) {
    if (e instanceof Refused) return e.failure as Refusal<R> | ConflictFailure;
    throw e;
  }
}

/**
 * The pipeline inside the caller's open transaction `trx` (a write composed of several): the same checks and
 * idempotency semantics, without the transaction, the rollback and the integration, which are the caller's. On a
 * failure the caller must roll `trx` back: the body may have written before it was refused.
 */
export async function ledgerWriteIn<C, R extends { kind: string }, S>(trx: Trx, deps: WriteDeps, spec: WriteSpec<C, R, S>): Promise<R | ConflictFailure | ValidationFailure> {
  const checked = checkWrite(deps, spec);
  if (!checked.ok) return checked.error;
  return writeOnce(trx, spec, checked.value);
}
