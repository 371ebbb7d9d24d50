import { normalizeSscc } from '../core/identifiers.ts';
import { checkOptionalText } from '../core/text.ts';
import { emptyContainer, holdContainer } from '../db/containers.ts';
import { idempotencyKeyExists } from '../db/idempotency.ts';
import type { ActorRow } from '../db/types.ts';
import type { LedgerDeps } from './deps.ts';
import { PACK_ITEMS_FAILURES, type PackItemsResult, checkContainerUse } from './pack-items.ts';
import { recordEventIn } from './record-event.ts';
import type { Trx } from '../db/connection.ts';
import { invalid } from './results.ts';
import { inLedgerTransaction } from './transaction.ts';

/** What unpackItems may fail with: the same as packItems (recordEvent's failures and the container custody rule). */
export const UNPACK_ITEMS_FAILURES = PACK_ITEMS_FAILURES;
export type UnpackItemsResult = PackItemsResult;

export interface UnpackItemsInput {
  container: string;
  occurredAt: string;
  location?: string | null;
  idempotencyKey?: string | null;
}

/**
 * The container's custodian (core `decideContainerUse`) empties it: one UNPACK event (AggregationEvent DELETE)
 * chained into every item inside at any depth; its direct members (items and containers) are removed from it,
 * nested containers stay packed, and the unpacker holds the empty container.
 */
export async function unpackItems(deps: LedgerDeps, caller: ActorRow, input: UnpackItemsInput): Promise<UnpackItemsResult> {
  return inLedgerTransaction(deps, (trx) => unpackItemsIn(trx, deps, caller, input));
}

/** `unpackItems` inside the caller's open transaction `trx` (EPCIS capture); the caller commits, retries and integrates. */
export async function unpackItemsIn(trx: Trx, deps: LedgerDeps, caller: ActorRow, input: UnpackItemsInput): Promise<UnpackItemsResult> {
  const parent = normalizeSscc(input.container);
  if (!parent.ok) return invalid('container', parent.error);
  // Checked before the key is looked up below (a NUL would otherwise reach the database).
  const keyProblem = checkOptionalText(input.idempotencyKey, 'idempotencyKey', { min: 1, max: 200 });
  if (keyProblem) return invalid(keyProblem.field, keyProblem.message);
  const replay = input.idempotencyKey
    ? await idempotencyKeyExists(trx, caller.id, input.idempotencyKey)
    : false;
  if (!replay) {
    const refused = await checkContainerUse(trx, caller, [{ sscc: parent.value, use: 'UNPACK' }], deps.now());
    if (refused) return refused;
  }
  const result = await recordEventIn(trx, deps, caller, {
    kind: 'UNPACK',
    items: { containers: [parent.value] },
    occurredAt: input.occurredAt,
    location: input.location ?? null,
    data: { container: parent.value },
    idempotencyKey: input.idempotencyKey ?? null,
  });
  if (result.kind === 'ok' && !replay) {
    await emptyContainer(trx, parent.value);
    await holdContainer(trx, parent.value, caller.id);
  }
  return result;
}
