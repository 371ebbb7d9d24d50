/**
 * The bulk path of EPCIS capture: the lifecycle events of a document (SHIP, RECEIVE, SELL, …) over existing items named
 * by their EPCs, decided and written as a whole instead of one `recordEventIn` per event — with the same decisions and
 * the same answers. Facts for all events are loaded in a handful of queries (items, owners, the caller's grants and
 * holdings, counterparties); then, event by event in document order, each is checked as `recordEvent` checks it, its
 * items' visibility and transitions are decided in core against the state the earlier events of the document left,
 * and it is prepared (hashed, chained); finally everything is written with multi-row inserts (`appendEvents`).
 * Nothing is written unless every event is accepted: the first refused event is returned, as the one-by-one path
 * would have stopped there.
 */
import { itemKey, refKey, resolveNamedItems } from '../core/epcis-capture.ts';
import { canSeeItem, type GrantFact, readScope } from '../core/rights.ts';
import type { PlannedRecord } from '../core/epcis-import.ts';
import { findActorsByIds } from '../db/actors.ts';
import type { Trx } from '../db/connection.ts';
import { findItemsByGtinSerial } from '../db/ledger.ts';
import type { ActorRow, ItemRow } from '../db/types.ts';
import { grantsOf, heldItemIds } from '../db/visibility.ts';
import { appendEvents, type PreparedWrite, prepareEvent } from './append-event.ts';
import type { LedgerDeps } from './deps.ts';
import { type RecordEventInput, checkCounterparty, checkRecordInput, dataWithGrants, decideSteps, itemsNotFound } from './record-event.ts';
import type { Failure } from './results.ts';
import { ownersOf } from './visible-items.ts';

/** Whether the bulk path can write these events: lifecycle events over items named one by one (no containers). */
export function bulkEligible(planned: readonly { op: string; containers?: readonly string[] }[]): planned is PlannedRecord[] {
  return planned.length > 0 && planned.every((p) => p.op === 'record' && (p.containers?.length ?? 0) === 0);
}

export type BulkResult = { kind: 'ok'; eventIds: string[] } | { kind: 'refused'; planned: PlannedRecord; failure: Failure };

/**
 * Records `events` (in order) for `caller` inside the capture's transaction `trx`, as `recordEventIn` would one after
 * the other. Returns the new ledger event ids in order, or the first refused event and its failure (nothing written).
 */
export async function recordEventsBulk(
  trx: Trx,
  deps: LedgerDeps,
  caller: ActorRow,
  events: readonly { planned: PlannedRecord; counterpartyId: string | null }[],
): Promise<BulkResult> {
  const now = deps.now();
  // Facts for every event at once.
  const keys = new Map<string, { gtin: string; serial: string }>();
  for (const { planned } of events) {
    for (const ref of planned.refs) {
      const k = refKey(ref);
      if (k?.ok) keys.set(itemKey(k.gtin, k.serial), { gtin: k.gtin, serial: k.serial });
    }
  }
  const rows = await findItemsByGtinSerial(trx, [...keys.values()]);
  const grants: GrantFact[] = await grantsOf(trx, caller.id);
  const scope = readScope(caller.id, caller.is_operator, grants, now);
  const owners = await ownersOf(trx, rows);
  const held = await heldItemIds(trx, caller.id, rows.map((r) => r.id));
  const counterpartyIds = [...new Set(events.flatMap((e) => (e.counterpartyId ? [e.counterpartyId] : [])))];
  const counterparties = new Map((await findActorsByIds(trx, counterpartyIds)).map((a) => [a.id, a]));
  // Each item as the earlier events of the document leave it (copies: the loaded rows stay as read).
  const state = new Map<string, ItemRow>(rows.map((r) => [itemKey(r.gtin, r.serial), { ...r }]));

  const prepared: PreparedWrite[] = [];
  for (const { planned, counterpartyId } of events) {
    const refuse = (failure: Failure): BulkResult => ({ kind: 'refused', planned, failure });
    const input: RecordEventInput = {
      kind: planned.kind as RecordEventInput['kind'], items: { refs: planned.refs }, occurredAt: planned.occurredAt, location: planned.location,
      counterpartyId, data: planned.data,
    };
    const checked = checkRecordInput(deps, input);
    if ('kind' in checked) return refuse(checked);
    let counterpartyRoles: readonly string[] = [];
    if (counterpartyId) {
      const party = counterparties.get(counterpartyId);
      const roles = checkCounterparty(input.kind, caller.id, counterpartyId, party && { isOperator: party.is_operator, roles: party.roles });
      if ('kind' in roles) return refuse(roles as Failure);
      counterpartyRoles = roles;
    }
    // Resolution as recordEvent does it (core: invisible and missing answer alike).
    const resolved = resolveNamedItems(planned.refs, state, (item) => canSeeItem(scope, {
      gtin: item.gtin, batchId: item.batch_id, brandOwnerId: owners.get(item.gtin) ?? '', custodianId: item.custodian_id,
      pendingReceiverId: item.pending_receiver_id, held: held.has(item.id),
    }));
    if (resolved.kind === 'missing') return refuse(itemsNotFound(resolved.refs));
    if (resolved.kind !== 'ok') return refuse(resolved);
    const items = resolved.items;
    const decided = decideSteps(input.kind, caller, items, owners, grants, { id: counterpartyId, roles: counterpartyRoles }, now);
    if ('kind' in decided) return refuse(decided);
    const event = prepareEvent({
      kind: input.kind, actorId: caller.id, occurredAt: checked.occurred.instant, offset: checked.occurred.offset, recordedAt: now,
      location: checked.location, counterpartyId, data: dataWithGrants(checked.data, decided.grantsUsed),
    }, decided.steps);
    prepared.push(event);
    // The next event of the document sees these items where this one leaves them.
    const byId = new Map(items.map((i) => [i.id, i]));
    for (const s of decided.steps) {
      const item = byId.get(s.id)!;
      Object.assign(item, {
        stage: s.next.stage, custodian_id: s.next.custodianId, pending_receiver_id: s.next.pendingReceiverId, recalled: s.next.recalled,
        head_seq: item.head_seq + 1, head_hash: event.linkHashes.get(s.id)!,
      });
      if (s.custodyChanged && s.next.custodianId === caller.id) held.add(s.id);
    }
  }
  const written = await appendEvents(trx, prepared);
  return { kind: 'ok', eventIds: written.map((e) => e.id) };
}
