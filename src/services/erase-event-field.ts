import { toHex } from '../core/bytes.ts';
import type { LedgerKind } from '../core/lifecycle.ts';
import { err, ok } from '../core/result.ts';
import { checkDeclared, text } from '../core/write-input.ts';
import { decideErasure } from '../core/v2/erasure.ts';
import { columnOfField, fieldValuesOf } from '../core/v2/event-fields.ts';
import type { JsonValue } from '../core/v2/fields.ts';
import type { Trx } from '../db/connection.ts';
import { decodeFieldSalts, formatOf } from '../db/event-content.ts';
import { brandOwnersOfEvent, eraseFieldColumns, findEventForUpdate } from '../db/erasure.ts';
import { findEventsByIds } from '../db/ledger.ts';
import type { ActorRow, EventRow } from '../db/types.ts';
import { appendEvent } from './append-event.ts';
import type { LedgerDeps } from './deps.ts';
import { ledgerWrite, requestOf } from './ledger-write.ts';
import { type FailureOf, conflict, denied, failureSpec, invalid, notFound } from './results.ts';
import { replayedEvent } from './transaction.ts';

export interface EraseEventFieldInput {
  /** Exactly one of the event's id and its hex content hash. */
  eventId?: string | null;
  contentHash?: string | null;
  field: string;
  reason: string;
  idempotencyKey?: string | null;
}

/** What eraseEventField may fail with (its GraphQL union is built from this). */
export const ERASE_EVENT_FIELD_FAILURES = failureSpec(['ValidationError', 'NotFoundError', 'PermissionDeniedError', 'ConflictError'], ['NOT_BRAND_OWNER']);
export type EraseEventFieldResult = { kind: 'ok'; target: EventRow; erasure: EventRow } | FailureOf<typeof ERASE_EVENT_FIELD_FAILURES>;

/**
 * Erases one field of a logged v2 event (docs/ledger-format.md §10), for the brand owner of every item it covers or
 * the operator (core `decideErasure`): records an ERASE event (target content hash, field, reason) through the write
 * pipeline, then, in the same transaction, deletes the field's value from the readable columns and its salt, and marks
 * it erased by the ERASE event's content hash. The body, its hash, links and proofs are untouched; bundles show the
 * field as erased and carry the ERASE event. Erasing an erased field is a ConflictError; `actor` cannot be erased.
 */
export async function eraseEventField(deps: LedgerDeps, caller: ActorRow, input: EraseEventFieldInput): Promise<EraseEventFieldResult> {
  return ledgerWrite(deps, {
    operation: 'eraseEventField',
    caller,
    request: requestOf(input),
    idempotencyKey: input.idempotencyKey,
    check: (ctx) => {
      const byId = input.eventId ?? null;
      const byHash = input.contentHash ?? null;
      if ((byId === null) === (byHash === null)) return err(invalid('eventId', 'give exactly one of eventId and contentHash'));
      if (byHash !== null && !/^[0-9a-f]{64}$/.test(byHash)) return err(invalid('contentHash', 'contentHash is 64 lowercase hex characters'));
      const fields = checkDeclared(ERASE_FIELDS, input, ctx);
      return fields.ok ? ok({ byId, byHash, reason: fields.value.reason }) : fields;
    },
    write: (trx, c) => eraseInTransaction(deps, trx, caller, c.byId, c.byHash, input.field, c.reason),
    save: (r) => ({ targetId: r.target.id, erasureId: r.erasure.id }),
    replay: async (trx, s) => {
      const [target] = await findEventsByIds(trx, [s.targetId]);
      const erasure = await replayedEvent(trx, s.erasureId);
      return { kind: 'ok' as const, target: target!, erasure: erasure! };
    },
  });
}

/** The reason of an erasure, checked by the pipeline's shared text rule. */
const ERASE_FIELDS = { reason: text({ min: 1, max: 'reasonChars', trim: true }) };

async function eraseInTransaction(deps: LedgerDeps, trx: Trx, caller: ActorRow, byId: string | null, byHash: string | null, field: string, reason: string): Promise<EraseEventFieldResult> {
  // The row lock orders concurrent erasures of one event: the second sees the first's mark and is refused.
  const target = await findEventForUpdate(trx, byId !== null ? { id: byId } : { contentHash: byHash! });
  const owners = target ? await brandOwnersOfEvent(trx, target.id) : [];
  const values = target
    ? fieldValuesOf(target.kind as LedgerKind, { actorId: target.actor_id, location: target.location, counterpartyId: target.counterparty_id, data: target.data as Record<string, JsonValue> })
    : {};
  const held = target ? Object.keys(values).filter((n) => decodeFieldSalts(target.field_salts)[n] !== undefined) : [];
  const d = decideErasure({
    callerId: caller.id,
    isOperator: caller.is_operator,
    // Only the operator and brand owners may erase; anyone else is told the event is not there.
    visible: !!target && (caller.is_operator || owners.includes(caller.id)),
    format: target ? formatOf(target) : 1,
    kind: (target?.kind ?? 'COMMISSION') as LedgerKind,
    brandOwnerIds: owners,
    held,
    erased: Object.keys(target?.erased ?? {}),
    field,
    reason,
  });
  if (!d.ok) {
    const e = d.error;
    if (e.type === 'NotFound') return notFound('event not found');
    if (e.type === 'PermissionDenied') return denied(e.rule, 'only the brand owner of every item the event covers, or the operator, erases its fields');
    if (e.type === 'AlreadyErased') return conflict(e.message);
    return invalid(e.field === 'event' ? (byId !== null ? 'eventId' : 'contentHash') : e.field, e.message);
  }
  const column = columnOfField(target!.kind as LedgerKind, field, values)!;
  const now = deps.now();
  const { event: erasure } = await appendEvent(trx, {
    kind: 'ERASE', actorId: caller.id, occurredAt: now, offset: '+00:00', recordedAt: now, location: null, counterpartyId: null,
    data: { target: toHex(target!.content_hash), field, reason },
  }, []);
  const updated = await eraseFieldColumns(trx, target!.id, column, field, toHex(erasure.content_hash));
  return { kind: 'ok', target: updated, erasure };
}
