import { normalizeSscc } from '../core/identifiers.ts';
import { err, ok } from '../core/result.ts';
import { checkDeclared } from '../core/write-input.ts';
import { emptyContainer, holdContainer } from '../db/containers.ts';
import type { ActorRow } from '../db/types.ts';
import type { LedgerDeps } from './deps.ts';
import { AGGREGATION_FIELDS, PACK_ITEMS_FAILURES, type PackItemsResult, checkContainerUse } from './pack-items.ts';
import { type RecordEventInput, recordEventIn } from './record-event.ts';
import type { Trx } from '../db/connection.ts';
import { invalid } from './results.ts';
import { type WriteSpec, ledgerWrite, ledgerWriteIn } from './ledger-write.ts';
import { replayedEvent } from './transaction.ts';

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
  return ledgerWrite(deps, unpackWrite(deps, caller, input));
}

/** `unpackItems` inside the caller's open transaction `trx` (EPCIS capture); the caller commits, retries and integrates. */
export async function unpackItemsIn(trx: Trx, deps: LedgerDeps, caller: ActorRow, input: UnpackItemsInput): Promise<UnpackItemsResult> {
  return ledgerWriteIn(trx, deps, unpackWrite(deps, caller, input));
}

/** The UNPACK event recorded for `input` (its container normalised). */
const unpackEvent = (input: UnpackItemsInput, parent: string): RecordEventInput => ({
  kind: 'UNPACK',
  items: { containers: [parent] },
  occurredAt: input.occurredAt,
  location: input.location ?? null,
  data: { container: parent },
});

/** unpackItems as the write pipeline runs it. */
const unpackWrite = (deps: LedgerDeps, caller: ActorRow, input: UnpackItemsInput): WriteSpec<string, UnpackItemsResult, { eventId: string }> => ({
  // The operation and request of the UNPACK event as recordEvent keyed it before unpacking moved onto the pipeline,
  // so keys stored by earlier versions still replay.
  operation: 'UNPACK',
  caller,
  request: (parent: string) => ({ ...unpackEvent(input, parent), idempotencyKey: input.idempotencyKey ?? null }),
  idempotencyKey: input.idempotencyKey,
  check: (ctx) => {
    const parent = normalizeSscc(input.container);
    if (!parent.ok) return err(invalid('container', parent.error));
    const fields = checkDeclared(AGGREGATION_FIELDS, input, ctx);
    return fields.ok ? ok(parent.value) : fields;
  },
  write: async (trx, parent): Promise<UnpackItemsResult> => {
    const refused = await checkContainerUse(trx, caller, [{ sscc: parent, use: 'UNPACK' }], deps.now());
    if (refused) return refused;
    const result = await recordEventIn(trx, deps, caller, unpackEvent(input, parent));
    if (result.kind !== 'ok') return result;
    await emptyContainer(trx, parent);
    await holdContainer(trx, parent, caller.id);
    return result;
  },
  save: (r) => ({ eventId: r.event.id }),
  replay: async (trx, s) => ({ kind: 'ok' as const, event: (await replayedEvent(trx, s.eventId))! }),
});
