/**
 * Two-phase signed submit of lifecycle events (docs/ledger-format.md §13). `prepareSignedEvent` runs every check of
 * the normal write, seals the event with `signer` = the caller's registered key and stores the exact rows to write,
 * unlogged, for a few minutes; `submitSignedEvent` checks the actor's Ed25519 signature over the content hash and
 * writes those rows, signature included, through the write pipeline.
 */
import { validateActorPublicKey } from '../core/actor-keys.ts';
import { fromHex, toHex } from '../core/bytes.ts';
import { TRANSITION_RULES } from '../core/lifecycle.ts';
import { decodeActorSignature, grantsStillInForce, headsUnmoved, judgeSignedSubmission, preparedExpiresAt, signerKeyInForce } from '../core/signed-submit.ts';
import { err, ok } from '../core/result.ts';
import { checkDeclared, text } from '../core/write-input.ts';
import { findActorKeyByPublicKey } from '../db/actor-keys.ts';
import { isUuid } from '../db/ids.ts';
import type { NewLink } from '../db/ledger.ts';
import { lockItems, type NewPendingEvent } from '../db/pending.ts';
import { currentHeads, deletePreparedEvent, insertPreparedEvent, lockPreparedEvent } from '../db/prepared-events.ts';
import type { ActorRow, EventRow } from '../db/types.ts';
import { loadWriteFacts } from '../db/write-facts.ts';
import { appendEvents, type ItemStep, type PreparedWrite, sealEvent } from './append-event.ts';
import type { LedgerDeps } from './deps.ts';
import { ledgerWrite, requestOf } from './ledger-write.ts';
import { checkRecordInput, decideRecordEvent, type RecordEventInput } from './record-event.ts';
import { type FailureOf, conflict, failureSpec, invalid, notFound } from './results.ts';
import { replayedEvent } from './transaction.ts';

/** What prepareSignedEvent may fail with: everything the lifecycle write may (same checks). */
export const PREPARE_SIGNED_EVENT_FAILURES = failureSpec(['ValidationError', 'NotFoundError', 'PermissionDeniedError', 'InvalidTransitionError', 'ConflictError'], TRANSITION_RULES);
/** What submitSignedEvent may fail with. */
export const SUBMIT_SIGNED_EVENT_FAILURES = failureSpec(['ValidationError', 'NotFoundError', 'ConflictError']);

export type PrepareSignedEventInput = RecordEventInput & { publicKey: string };
export type PrepareSignedEventResult =
  | { kind: 'ok'; preparedId: string; canonicalBody: string; contentHash: string; expiresAt: Date }
  | FailureOf<typeof PREPARE_SIGNED_EVENT_FAILURES>;
export type SubmitSignedEventResult = { kind: 'ok'; event: EventRow } | FailureOf<typeof SUBMIT_SIGNED_EVENT_FAILURES>;

/**
 * Phase 1: decides the lifecycle event exactly as `recordEvent` would (input, visibility, rights in core), seals it
 * with `signer` = `input.publicKey`, which must be a key registered to the caller and in force (else ValidationError
 * `publicKey`), stores it for PREPARED_EVENT_TTL_MS (core/signed-submit.ts) and returns the body to sign. Logs nothing.
 * A repeat with the same idempotency key returns the first preparation (even once it has expired or been submitted).
 */
export async function prepareSignedEvent(deps: LedgerDeps, caller: ActorRow, input: PrepareSignedEventInput): Promise<PrepareSignedEventResult> {
  // The request is what was asked; which field named the counterparty only shapes a message.
  const { counterpartyField: _field, ...asked } = requestOf(input);
  const asRecord: RecordEventInput = { ...input, idempotencyKey: null };
  return ledgerWrite(deps, {
    operation: 'prepareSignedEvent',
    caller,
    request: asked,
    idempotencyKey: input.idempotencyKey,
    check: () => {
      const pk = validateActorPublicKey(input.publicKey);
      if (!pk.ok) return err(invalid('publicKey', pk.error));
      const checked = checkRecordInput(deps, asRecord);
      return 'kind' in checked ? err(checked) : ok({ publicKey: pk.value, record: checked });
    },
    write: async (trx, { publicKey, record }): Promise<PrepareSignedEventResult> => {
      const now = deps.now();
      const key = signerKeyInForce(await findActorKeyByPublicKey(trx, publicKey), caller.id, now);
      if (!key.ok) return invalid('publicKey', key.error);
      const decided = await decideRecordEvent(trx, deps, caller, asRecord, record);
      // Without an idempotency key there is no replay; an 'ok' cannot come back.
      if (decided.kind === 'ok') throw new Error('a preparation without idempotency key replayed an event');
      if (decided.kind !== 'decided') return decided;
      const sealed = sealEvent({ ...decided.draft, signer: key.value }, decided.steps);
      const expiresAt = preparedExpiresAt(now);
      await insertPreparedEvent(trx, {
        id: sealed.row.id, actorId: caller.id, signer: key.value, contentHash: sealed.row.content_hash, preparedAt: now, expiresAt,
        sealed: encodeSealed({ row: sealed.row, links: sealed.links, steps: decided.steps }),
      });
      return { kind: 'ok', preparedId: sealed.row.id, canonicalBody: sealed.prepared.canonical, contentHash: sealed.prepared.contentHash, expiresAt };
    },
    // The preparation itself may be gone by the replay (submitted, expired): its answer is kept whole.
    save: (r) => ({ preparedId: r.preparedId, canonicalBody: r.canonicalBody, contentHash: r.contentHash, expiresAt: r.expiresAt.toISOString() }),
    replay: async (_trx, s) => ({ kind: 'ok' as const, ...s, expiresAt: new Date(s.expiresAt) }),
  });
}

/**
 * Phase 2: accepts the caller's signature (hex or base64) over the prepared content hash and writes exactly the
 * prepared rows with it, then returns the integrated event. NotFoundError: no such preparation of the caller;
 * ConflictError: expired, signer key revoked since, an item's head moved or a grant relied on lapsed since preparation
 * (prepare again), or the idempotency key used for another request; ValidationError `signature`: malformed or not valid for the content hash.
 */
export async function submitSignedEvent(deps: LedgerDeps, caller: ActorRow, input: { preparedId: string; signature: string; idempotencyKey?: string | null }): Promise<SubmitSignedEventResult> {
  return ledgerWrite(deps, {
    operation: 'submitSignedEvent',
    caller,
    request: (signature: Uint8Array) => ({ preparedId: input.preparedId, signature: toHex(signature) }),
    idempotencyKey: input.idempotencyKey,
    check: (ctx) => {
      const sig = decodeActorSignature(input.signature);
      if (!sig.ok) return err(invalid('signature', sig.error));
      const fields = checkDeclared(SUBMIT_FIELDS, input, ctx);
      return fields.ok ? ok(sig.value) : fields;
    },
    write: async (trx, signature): Promise<SubmitSignedEventResult> => {
      if (!isUuid(input.preparedId)) return notFound('prepared event not found');
      const prepared = await lockPreparedEvent(trx, input.preparedId);
      const now = deps.now();
      const signerKey = prepared && (await findActorKeyByPublicKey(trx, prepared.signer));
      const refused = judgeSignedSubmission(prepared, caller.id, signerKey, signature, now);
      if (refused) return refused;
      const write = decodeSealed(prepared!.sealed);
      const ids = write.steps.map((s) => s.id);
      // Locked first, so no writer moves a head between this check and the write.
      await lockItems(trx, ids);
      const expected = write.steps.map((s) => ({ id: s.id, seq: s.head!.seq, hash: toHex(s.head!.hash) }));
      if (!headsUnmoved(expected, await currentHeads(trx, ids))) {
        return conflict('an item of the prepared event has been recorded on since preparation; prepare again');
      }
      const used = authorizedByOf(write.row.data);
      if (used.length > 0) {
        const { grants } = await loadWriteFacts(trx, { actorId: caller.id, counterpartyId: null, idempotencyKey: null, ids: [], keys: [] });
        if (!grantsStillInForce(used, grants, now)) return conflict('a grant this event relied on is no longer in force; prepare again');
      }
      write.row.signature = signature;
      const [event] = await appendEvents(trx, [write]);
      await deletePreparedEvent(trx, prepared!.id);
      return { kind: 'ok', event: event! };
    },
    save: (r) => ({ eventId: r.event.id }),
    replay: async (trx, s) => ({ kind: 'ok' as const, event: (await replayedEvent(trx, s.eventId))! }),
  });
}

/** The prepared event's id, checked by the pipeline's shared text rule. */
const SUBMIT_FIELDS = { preparedId: text({ min: 1, max: 100 }) };

// ---- the stored form of the prepared rows (JSON: bytes as hex, times as ISO strings) ----

interface SealedRows {
  row: NewPendingEvent;
  links: NewLink[];
  steps: readonly ItemStep[];
}

/** The grant ids the decided data recorded as `authorizedBy` (dataWithGrants), none when it relied on none. */
const authorizedByOf = (data: unknown): string[] => {
  const v = (data as { authorizedBy?: unknown } | null)?.authorizedBy;
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
};

const hexOf = (b: Uint8Array | null): string | null => (b ? toHex(b) : null);
const bytesOf = (h: string | null): Uint8Array | null => (h === null ? null : fromHex(h)!);

function encodeSealed(s: SealedRows): unknown {
  const r = s.row;
  return {
    row: {
      ...r, occurred_at: r.occurred_at.toISOString(), recorded_at: r.recorded_at.toISOString(), content_hash: toHex(r.content_hash),
      signature: hexOf(r.signature), pad_key: hexOf(r.pad_key), item_tree_top: hexOf(r.item_tree_top),
    },
    links: s.links.map((l) => ({ ...l, prevHash: toHex(l.prevHash), hash: toHex(l.hash) })),
    steps: s.steps.map((st) => ({ ...st, head: st.head && { seq: st.head.seq, hash: toHex(st.head.hash) } })),
  };
}

function decodeSealed(json: unknown): Omit<PreparedWrite, 'prepared'> {
  const j = json as { row: Record<string, unknown>; links: Record<string, unknown>[]; steps: Record<string, unknown>[] };
  const r = j.row;
  const row = {
    ...r, occurred_at: new Date(r.occurred_at as string), recorded_at: new Date(r.recorded_at as string), content_hash: bytesOf(r.content_hash as string)!,
    signature: bytesOf(r.signature as string | null), pad_key: bytesOf(r.pad_key as string | null), item_tree_top: bytesOf(r.item_tree_top as string | null),
  } as NewPendingEvent;
  const links = j.links.map((l) => ({ ...l, prevHash: bytesOf(l.prevHash as string)!, hash: bytesOf(l.hash as string)! }) as NewLink);
  const steps = j.steps.map((st) => {
    const h = st.head as { seq: number; hash: string } | null;
    return { ...st, head: h && { seq: h.seq, hash: bytesOf(h.hash)! } } as ItemStep;
  });
  return { row, links, steps, linkHashes: new Map(links.map((l) => [l.itemId, l.hash])) };
}
