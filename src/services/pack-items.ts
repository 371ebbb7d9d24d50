import { normalizeSscc } from '../core/identifiers.ts';
import { type ContainerFacts, type ContainerUse, decideContainerUse, decideNesting, readScope } from '../core/rights.ts';
import type { Trx } from '../db/connection.ts';
import { containerContents, holdContainer, insertContainerMembers, isAmongContainers, itemIdsInContainers, packedContainers, packedItems } from '../db/containers.ts';
import { findEventItemIds } from '../db/events.ts';
import { findItemsByIds } from '../db/ledger.ts';
import type { ActorRow } from '../db/types.ts';
import { grantsOf } from '../db/visibility.ts';
import type { LedgerDeps } from './deps.ts';
import { TRANSITION_RULES } from '../core/lifecycle.ts';
import type { EventRow } from '../db/types.ts';
import { type ItemSelection, type RecordEventInput, recordEventIn } from './record-event.ts';
import { type FailureOf, type NotFoundFailure, type PermissionFailure, type ValidationFailure, denied, failureSpec, invalid, notFound } from './results.ts';
import { err, ok } from '../core/result.ts';
import { checkDeclared, instant, optionalText } from '../core/write-input.ts';
import { type WriteSpec, ledgerWrite, ledgerWriteIn } from './ledger-write.ts';
import { replayedEvent } from './transaction.ts';
import { filterVisibleItems } from './visible-items.ts';

export interface PackItemsInput {
  container: string;
  items: ItemSelection['refs'];
  /** Containers to put inside (cases into a pallet). */
  containers?: string[] | null;
  occurredAt: string;
  location?: string | null;
  idempotencyKey?: string | null;
}

/** What packItems (and unpackItems) may fail with: recordEvent's failures and the container custody rule. */
export const PACK_ITEMS_FAILURES = failureSpec(
  ['ValidationError', 'NotFoundError', 'PermissionDeniedError', 'InvalidTransitionError', 'ConflictError'],
  [...TRANSITION_RULES, 'NOT_CONTAINER_CUSTODIAN'],
);
export type PackItemsResult = { kind: 'ok'; event: EventRow } | FailureOf<typeof PACK_ITEMS_FAILURES>;

/** A container the caller may not use and may not see is answered exactly like one that does not exist. */
export const containerNotFound = (sscc: string) => notFound(`container ${sscc} not found`, { type: 'container', sscc });

/**
 * Loads the facts core's `decideContainerUse` needs for each SSCC (holder, custodians of everything inside, whether
 * the caller sees any of it) and asks it; returns the first refusal. Decided before any other container check, so
 * nothing about a container the caller cannot see (what it is packed in, what is inside) leaks.
 */
export async function checkContainerUse(trx: Trx, caller: ActorRow, uses: readonly { sscc: string; use: ContainerUse }[], now: Date): Promise<NotFoundFailure | PermissionFailure<'NOT_CONTAINER_CUSTODIAN'> | null> {
  const contents = await containerContents(trx, uses.map((u) => u.sscc));
  const items = await findItemsByIds(trx, [...new Set([...contents.values()].flatMap((c) => c.itemIds))]);
  const scope = readScope(caller.id, caller.is_operator, await grantsOf(trx, caller.id), now);
  const visible = new Set((await filterVisibleItems(trx, scope, items)).map((i) => i.id));
  const custodianOf = new Map(items.map((i) => [i.id, i.custodian_id]));
  for (const { sscc, use } of uses) {
    const c = contents.get(sscc);
    const facts: ContainerFacts = c
      ? { exists: true, holderId: c.holderId, contentCustodians: c.itemIds.map((id) => custodianOf.get(id)!), seesContent: c.itemIds.some((id) => visible.has(id)) }
      : { exists: false, holderId: null, contentCustodians: [], seesContent: false };
    const d = decideContainerUse(caller.id, use, facts);
    if (d.ok) continue;
    if (d.error.type === 'NotFound') return containerNotFound(sscc);
    return denied(d.error.rule, `container ${sscc} is held by another actor; only its custodian packs into or unpacks it`);
  }
  return null;
}

/**
 * The custodian packs items and/or containers into an SSCC container: one PACK event (an EPCIS AggregationEvent)
 * chained into every item it moves, nested ones included. An item or container can be in one container at a time;
 * nesting may not form a cycle; only a container's custodian packs into or nests it (core `decideContainerUse`).
 * All-or-nothing, like every write (the pipeline rolls a refusal back, the PACK event included).
 */
export async function packItems(deps: LedgerDeps, caller: ActorRow, input: PackItemsInput): Promise<PackItemsResult> {
  return ledgerWrite(deps, packWrite(deps, caller, input));
}

/**
 * `packItems` inside the caller's open transaction `trx` (EPCIS capture); the caller owns commit, rollback and retry
 * and integrates after its commit. Throws {@link AlreadyPackedError} when an item turns out to be packed elsewhere
 * after the PACK event was written: the caller must then roll the transaction back (its `failure` is the answer).
 */
export async function packItemsIn(trx: Trx, deps: LedgerDeps, caller: ActorRow, input: PackItemsInput): Promise<PackItemsResult> {
  const result = await ledgerWriteIn(trx, deps, packWrite(deps, caller, input));
  if (result.kind === 'ValidationError' && result.subject?.type === 'packedItem') throw new AlreadyPackedError(result);
  return result;
}

/** The time and place of a PACK or UNPACK, checked by the pipeline's shared rules (recordEvent applies the same). */
export const AGGREGATION_FIELDS = { occurredAt: instant(), location: optionalText({ max: 'locationChars', trim: true, emptyIsNull: true }) };

interface CheckedPack {
  parent: string;
  children: string[];
}

/** The PACK event recorded for `input` (its container and children normalised). */
const packEvent = (input: PackItemsInput, parent: string, children: string[]): RecordEventInput => ({
  kind: 'PACK',
  items: { refs: input.items ?? [], containers: children },
  occurredAt: input.occurredAt,
  location: input.location ?? null,
  data: { container: parent, ...(children.length ? { containers: [...children].sort() } : {}) },
});

/** packItems as the write pipeline runs it. */
const packWrite = (deps: LedgerDeps, caller: ActorRow, input: PackItemsInput): WriteSpec<CheckedPack, PackItemsResult, { eventId: string }> => ({
  // The operation and request of the PACK event as recordEvent keyed it before packing moved onto the pipeline, so
  // keys stored by earlier versions still replay.
  operation: 'PACK',
  caller,
  request: ({ parent, children }: CheckedPack) => ({ ...packEvent(input, parent, children), idempotencyKey: input.idempotencyKey ?? null }),
  idempotencyKey: input.idempotencyKey,
  check: (ctx) => {
    const parent = normalizeSscc(input.container);
    if (!parent.ok) return err(invalid('container', parent.error));
    const children: string[] = [];
    for (const c of input.containers ?? []) {
      const n = normalizeSscc(c);
      if (!n.ok) return err(invalid('containers', `${c}: ${n.error}`));
      if (n.value === parent.value) return err(invalid('containers', 'a container cannot be packed into itself'));
      children.push(n.value);
    }
    if ((input.items ?? []).length === 0 && children.length === 0) return err(invalid('items', 'name the items or containers to pack'));
    const fields = checkDeclared(AGGREGATION_FIELDS, input, ctx);
    return fields.ok ? ok({ parent: parent.value, children }) : fields;
  },
  write: async (trx, { parent, children }): Promise<PackItemsResult> => {
    const refused = await checkContainerUse(trx, caller, [{ sscc: parent, use: 'PACK_INTO' }, ...children.map((c) => ({ sscc: c, use: 'PACK_NESTED' as const }))], deps.now());
    if (refused) return refused;
    // The caller holds every container named here, so what follows may name their places.
    const nested = await packedContainers(trx, children);
    // Packing X into one of X's descendants would make a cycle.
    const nesting = decideNesting(parent, children, nested, await isAmongContainers(trx, parent, children));
    if (!nesting.ok) return nesting.error;
    const result = await recordEventIn(trx, deps, caller, packEvent(input, parent, children));
    if (result.kind !== 'ok') return result;
    // Items packed directly are those the event covers that are not inside a packed child container.
    const nestedItems = new Set(await itemIdsInContainers(trx, children));
    const direct = (await findEventItemIds(trx, result.event.id)).filter((id) => !nestedItems.has(id));
    const packed = await packedItems(trx, direct);
    if (packed.size > 0) {
      const [id, where] = [...packed][0]!;
      // Refused after the event was written: the transaction rolls back, so membership and history agree.
      return invalid('items', `item ${id} is already packed in ${where}; unpack it first`, { type: 'packedItem', itemId: id, container: where });
    }
    await holdContainer(trx, parent, caller.id);
    const rows = [...direct.map((id) => ({ parent_sscc: parent, item_id: id, child_sscc: null })), ...children.map((c) => ({ parent_sscc: parent, item_id: null, child_sscc: c }))];
    await insertContainerMembers(trx, rows);
    return result;
  },
  save: (r) => ({ eventId: r.event.id }),
  replay: async (trx, s) => ({ kind: 'ok' as const, event: (await replayedEvent(trx, s.eventId))! }),
});

/** An item of a PACK turned out to be packed elsewhere after the event was written: the transaction must roll back. */
export class AlreadyPackedError extends Error {
  constructor(readonly failure: ValidationFailure) {
    super(failure.message);
  }
}
