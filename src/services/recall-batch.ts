import { normalizeGtin } from '../core/identifiers.ts';
import { TERMINAL_STAGES, type Stage, decideTransition } from '../core/lifecycle.ts';
import { decideRecall, decideRecallScope, grantStatus, readScope } from '../core/rights.ts';
import { err, ok } from '../core/result.ts';
import { type CheckedFields, checkDeclared, optionalInstant, text } from '../core/write-input.ts';
import type { Trx } from '../db/connection.ts';
import { findBatchesByIds, findItemsOfBatch, findProduct, markBatchRecalled } from '../db/ledger.ts';
import type { ActorRow, BatchRow, EventRow, ItemRow } from '../db/types.ts';
import { findVisibleBatch, grantsOf } from '../db/visibility.ts';
import { appendEvent } from './append-event.ts';
import type { LedgerDeps } from './deps.ts';
import { actorFacts } from './actor-facts.ts';
import { type FailureOf, failureSpec, invalid } from './results.ts';
import { ledgerWrite, requestOf } from './ledger-write.ts';
import { replayedEvent } from './transaction.ts';

export interface RecallBatchInput {
  gtin: string;
  lot: string;
  reason: string;
  occurredAt?: string | null;
  idempotencyKey?: string | null;
}

export interface CustodianGroup {
  custodianId: string;
  items: ItemRow[];
}

/** What recallBatch may fail with (its GraphQL union is built from this). */
export const RECALL_BATCH_FAILURES = failureSpec(
  ['ValidationError', 'NotFoundError', 'PermissionDeniedError', 'ConflictError'],
  ['NOT_BRAND_OWNER', 'GRANT_EXPIRED', 'GRANT_REVOKED'],
);
export type RecallBatchResult =
  | { kind: 'ok'; batch: BatchRow; event: EventRow | null; alreadyRecalled: boolean; groups: CustodianGroup[] }
  | FailureOf<typeof RECALL_BATCH_FAILURES>;

/** Items grouped by current custodian, largest group first; linear in the items. */
export function groupByCustodian(items: readonly ItemRow[]): CustodianGroup[] {
  // Append in place: rebuilding the list per item made a 100,000-item recall quadratic.
  const groups = new Map<string, ItemRow[]>();
  for (const i of items) {
    const list = groups.get(i.custodian_id);
    if (list) list.push(i);
    else groups.set(i.custodian_id, [i]);
  }
  return [...groups].map(([custodianId, list]) => ({ custodianId, items: list })).sort((a, b) => b.items.length - a.items.length);
}

/**
 * The brand owner (or a RECALL grantee) recalls a batch: one RECALL event over every non-terminal item, each
 * flagged recalled (it can no longer be sold). Returns the affected items grouped by current custodian, so the brand
 * knows whom to notify. Recalling an already recalled batch writes nothing and returns the same grouping. A repeat
 * with the same idempotency key returns the first result (its items grouped by their custodians now).
 */
export async function recallBatch(deps: LedgerDeps, caller: ActorRow, input: RecallBatchInput): Promise<RecallBatchResult> {
  return ledgerWrite(deps, {
    operation: 'recallBatch',
    caller,
    request: requestOf(input),
    idempotencyKey: input.idempotencyKey,
    check: (ctx) => {
      const gtin = normalizeGtin(input.gtin);
      if (!gtin.ok) return err(invalid('gtin', gtin.error));
      const fields = checkDeclared(RECALL_FIELDS, input, ctx);
      return fields.ok ? ok({ gtin: gtin.value, ...fields.value }) : fields;
    },
    write: (trx, checked) => recallInTransaction(deps, trx, caller, checked),
    save: (r) => ({ batchId: r.batch.id, eventId: r.event?.id ?? null, alreadyRecalled: r.alreadyRecalled }),
    replay: async (trx, s) => {
      const [batch] = await findBatchesByIds(trx, [s.batchId]);
      const event = s.eventId ? ((await replayedEvent(trx, s.eventId)) ?? null) : null;
      const recalled = (await findItemsOfBatch(trx, s.batchId)).filter((i) => i.recalled && !TERMINAL_STAGES.includes(i.stage as Stage));
      return { kind: 'ok' as const, batch: batch!, event, alreadyRecalled: s.alreadyRecalled, groups: groupByCustodian(recalled) };
    },
  });
}

/** The text fields and the instant of a recall, checked by the pipeline's shared rules before any transaction. */
const RECALL_FIELDS = {
  lot: text({ max: 200 }),
  reason: text({ min: 1, max: 'reasonChars', trim: true }),
  occurredAt: optionalInstant(),
};
type CheckedRecall = { gtin: string } & CheckedFields<typeof RECALL_FIELDS>;

async function recallInTransaction(deps: LedgerDeps, trx: Trx, caller: ActorRow, input: CheckedRecall): Promise<RecallBatchResult> {
  const { gtin, reason } = input;
  const now = deps.now();
  const grants = await grantsOf(trx, caller.id);
  // A batch the caller cannot see is "not found", exactly like a missing one, and costs the same one statement.
  const visibleBatch = await findVisibleBatch(trx, readScope(caller.id, caller.is_operator, grants, now), gtin, input.lot);
  const visibleProduct = visibleBatch ? await findProduct(trx, gtin) : undefined;
  const grant = visibleBatch ? grantStatus(grants, caller.id, 'RECALL', { gtin, batchId: visibleBatch.id }, now) : { status: 'none' as const, grantId: null };
  const facts = visibleBatch && visibleProduct ? { brandOwnerId: visibleProduct.owner_id, batch: visibleBatch, product: visibleProduct } : undefined;
  const allowed = decideRecall(actorFacts(caller), { gtin, lot: input.lot }, facts, grant);
  if (!allowed.ok) return allowed.error;
  const { authorizedBy, batch: { batch, product } } = allowed.value;
  const affected = (await findItemsOfBatch(trx, batch.id)).filter((i) => !TERMINAL_STAGES.includes(i.stage as Stage));
  const scope = decideRecallScope({ recalled: batch.recalled_at !== null }, affected.length);
  if (!scope.ok) return scope.error;
  if (scope.value.alreadyRecalled) {
    const recalled = affected.filter((i) => i.recalled);
    return { kind: 'ok' as const, batch, event: null, alreadyRecalled: true, groups: groupByCustodian(recalled) };
  }
  const occurredAt = input.occurredAt?.instant ?? now;
  const offset = input.occurredAt?.offset ?? '+00:00';
  const steps = [];
  for (const item of affected) {
    const d = decideTransition(
      { stage: item.stage as Stage, custodianId: item.custodian_id, pendingReceiverId: item.pending_receiver_id, recalled: item.recalled, brandOwnerId: product.owner_id },
      { kind: 'RECALL', actorId: caller.id, actorRoles: caller.roles, counterpartyId: null, grant: grant.status },
    );
    if (!d.ok) throw new Error(`recall decision unexpectedly refused: ${JSON.stringify(d.error)}`);
    steps.push({
      id: item.id, sgtin: item.sgtin, head: { seq: item.head_seq, hash: item.head_hash },
      next: { stage: d.value.stage, custodianId: d.value.custodianId, pendingReceiverId: d.value.pendingReceiverId, recalled: true },
    });
  }
  const data = { reason, gtin, lot: batch.lot, ...(authorizedBy ? { authorizedBy: [authorizedBy] } : {}) };
  const { event } = await appendEvent(trx, {
    kind: 'RECALL', actorId: caller.id, occurredAt, offset, recordedAt: now, location: null, counterpartyId: null, data,
  }, steps);
  await markBatchRecalled(trx, batch.id, now, reason);
  const updated = affected.map((i) => ({ ...i, recalled: true }));
  return { kind: 'ok' as const, batch: { ...batch, recalled_at: now, recall_reason: reason }, event, alreadyRecalled: false, groups: groupByCustodian(updated) };
}
