import { normalizeSscc } from '../core/identifiers.ts';
import type { ActorRow } from '../db/types.ts';
import type { LedgerDeps } from './deps.ts';
import { recordEvent, type RecordEventResult } from './record-event.ts';
import { invalid } from './results.ts';
import { inLedgerTransaction } from './transaction.ts';

export interface UnpackItemsInput {
  container: string;
  occurredAt: string;
  location?: string | null;
  idempotencyKey?: string | null;
}

/**
 * The custodian empties a container: one UNPACK event (AggregationEvent DELETE) chained into every item inside at
 * any depth; its direct members (items and containers) are removed from it, nested containers stay packed.
 */
export async function unpackItems(deps: LedgerDeps, caller: ActorRow, input: UnpackItemsInput): Promise<RecordEventResult> {
  const parent = normalizeSscc(input.container);
  if (!parent.ok) return invalid('container', parent.error);
  return inLedgerTransaction(deps, async (trx) => {
    const result = await recordEvent({ ...deps, trx }, caller, {
      kind: 'UNPACK',
      items: { containers: [parent.value] },
      occurredAt: input.occurredAt,
      location: input.location ?? null,
      data: { container: parent.value },
      idempotencyKey: input.idempotencyKey ?? null,
    });
    if (result.kind === 'ok') await trx.deleteFrom('container_members').where('parent_sscc', '=', parent.value).execute();
    return result;
  });
}
