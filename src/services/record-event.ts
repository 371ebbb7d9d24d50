import type { JsonValue } from '../core/chain.ts';
import { normalizeGtin, normalizeSscc, parseDigitalLink, parseSgtinUrn } from '../core/identifiers.ts';
import { containersWithVisibleItems, itemIdsInContainers } from '../db/containers.ts';
import { isUuid } from '../db/ids.ts';
import { type ItemState, type LedgerKind, type Stage, TRANSITION_RULES, type TransitionRule, authorizingGrant, decideTransition } from '../core/lifecycle.ts';
import { canSeeItem, type GrantFact, grantStatus, readScope, type ReadScope } from '../core/rights.ts';
import { isParty } from '../core/party.ts';
import { parseOccurrenceTime } from '../core/time.ts';
import { DEFAULT_FIELD_LIMITS, checkEventContent, checkOptionalText } from '../core/text.ts';
import { checkIdempotencyKey } from '../core/write-input.ts';
import { kindData } from '../core/event-data.ts';
import type { Trx } from '../db/connection.ts';
import { findItemsByIds, findItemsOfBatch } from '../db/ledger.ts';
import type { ActorRow, EventRow, ItemRow } from '../db/types.ts';
import { findVisibleBatch } from '../db/visibility.ts';
import { type ItemWithFacts, loadWriteFacts, type WriteFacts } from '../db/write-facts.ts';
import { appendEvent, type EventDraft, type ItemStep } from './append-event.ts';
import type { LedgerDeps } from './deps.ts';
import { idempotencyVerdict, storeIdempotency } from './idempotency.ts';
import { MAX_ITEMS_PER_CALL } from './register-batch.ts';
import { type FailureOf, type ItemProblem, conflict, denied, failureSpec, invalid, notFound } from './results.ts';
import { replayedEvent } from './transaction.ts';
import { ledgerWrite, retriedTransaction, type WriteExecutor, type WriteJob } from './ledger-write.ts';
import { isBatchable, recordInBatch } from './record-batch.ts';
import { filterVisibleItems, ownersOf } from './visible-items.ts';

/** Which items an event covers: explicit references (item ids, SGTIN URNs or Digital Links) and/or a whole batch. */
export interface ItemSelection {
  /** Internal item ids (already decoded from global ids), SGTIN URNs or GS1 Digital Link URIs. */
  refs?: { kind: 'id' | 'sgtin' | 'digitalLink'; value: string }[] | null;
  batch?: { gtin: string; lot: string } | null;
  /** SSCCs: every item inside, at any depth (a shipped pallet moves its cases and their items). */
  containers?: string[] | null;
}

export interface RecordEventInput {
  kind: Exclude<LedgerKind, 'COMMISSION'>;
  items: ItemSelection;
  occurredAt: string;
  location?: string | null;
  /** SHIP/RETURN: the receiving actor; SELL: optional buyer. */
  counterpartyId?: string | null;
  /** The input field that named the counterparty (`to`, `buyer`), for the NotFoundError's message. */
  counterpartyField?: string | null;
  /** Kind-specific fields, already shaped by the caller (price, materials, reason, …). */
  data?: { [key: string]: JsonValue };
  idempotencyKey?: string | null;
}

/** What recordEvent may fail with (the lifecycle mutations' GraphQL unions are built from this). */
export const RECORD_EVENT_FAILURES = failureSpec(['ValidationError', 'NotFoundError', 'PermissionDeniedError', 'InvalidTransitionError', 'ConflictError'], TRANSITION_RULES);
export type RecordEventFailure = FailureOf<typeof RECORD_EVENT_FAILURES>;
export type RecordEventResult = { kind: 'ok'; event: EventRow } | RecordEventFailure;

/**
 * The answer for references that resolve to nothing the caller may see: the same type and words whether the item
 * does not exist or is hidden, naming only the references as submitted.
 */
export function itemsNotFound(refs: readonly string[]): RecordEventFailure {
  const shown = refs.slice(0, 10).join(', ');
  const more = refs.length > 10 ? ` and ${refs.length - 10} more` : '';
  return notFound(refs.length === 1 ? `item ${shown} not found` : `${refs.length} items not found: ${shown}${more}`);
}

type Resolved = { items: ItemRow[]; owners: Map<string, string> };

/** References as the facts statement takes them: UUIDs, (gtin, serial) keys, and ids that cannot name anything. */
export interface ParsedRefs {
  ids: string[];
  keys: { gtin: string; serial: string; ref: string }[];
  malformedIds: string[];
}

/** Splits references into ids and SGTIN keys; a reference that is not a valid SGTIN or Digital Link is a ValidationError. */
export function parseRefs(sel: ItemSelection): ParsedRefs | RecordEventFailure {
  const out: ParsedRefs = { ids: [], keys: [], malformedIds: [] };
  for (const ref of sel.refs ?? []) {
    if (ref.kind === 'id') {
      if (isUuid(ref.value)) out.ids.push(ref.value);
      else out.malformedIds.push(ref.value);
      continue;
    }
    const p = ref.kind === 'sgtin' ? parseSgtinUrn(ref.value) : parseDigitalLink(ref.value);
    if (!p.ok) return invalid('items', `${ref.value} is not a valid ${ref.kind === 'sgtin' ? 'SGTIN' : 'Digital Link'}: ${p.error}`);
    out.keys.push({ gtin: p.value.gtin14, serial: p.value.serial, ref: ref.value });
  }
  return out;
}

/**
 * Resolves references to items the caller may see now (grants in force, holdings, brand). A reference that does not
 * resolve and one the caller may not see are both "not found" under the reference as submitted, so a write never
 * reveals an item. Referenced items come from the write's facts (one statement whether they exist, are hidden or are
 * missing); a batch or container is judged visible before any of its items are loaded.
 */
async function resolveItems(trx: Trx, scope: ReadScope, sel: ItemSelection, refs: ParsedRefs, referencedRows: readonly ItemWithFacts[]): Promise<Resolved | RecordEventFailure> {
  const notFoundRefs: string[] = [...refs.malformedIds];
  const missing = (ref: string) => notFoundRefs.push(ref);
  const owners = new Map<string, string>();
  const found = new Map<string, { row: ItemWithFacts; ref: string }>();
  const byId = new Map(referencedRows.map((r) => [r.id, r]));
  const byKey = new Map(referencedRows.map((r) => [`${r.gtin}/${r.serial}`, r]));
  for (const id of refs.ids) {
    const row = byId.get(id);
    if (row) found.set(row.id, { row, ref: row.id });
    else missing(id);
  }
  for (const k of refs.keys) {
    const row = byKey.get(`${k.gtin}/${k.serial}`);
    if (row) found.set(row.id, { row, ref: k.ref });
    else missing(k.ref);
  }
  for (const r of referencedRows) owners.set(r.gtin, r.brand_owner_id);
  let batchRows: ItemRow[] = [];
  let batchName = '';
  if (sel.batch) {
    const gtin = normalizeGtin(sel.batch.gtin);
    if (!gtin.ok) return invalid('batch.gtin', gtin.error);
    batchName = `batch ${sel.batch.lot} of ${gtin.value}`;
    // Visibility first: a batch the caller may not see costs one statement, like a missing one.
    const batch = await findVisibleBatch(trx, scope, gtin.value, sel.batch.lot);
    if (!batch) return notFound(`${batchName} not found`);
    batchRows = await findItemsOfBatch(trx, batch.id);
  }
  let containerRows: ItemRow[] = [];
  const ssccs: string[] = [];
  let unknownContainers: string[] = [];
  if (sel.containers?.length) {
    for (const c of sel.containers) {
      const n = normalizeSscc(c);
      if (!n.ok) return invalid('containers', `${c}: ${n.error}`);
      ssccs.push(n.value);
    }
    // Visibility first: a container with nothing the caller may see is as unknown as one that does not exist, and is
    // answered before any of its items are loaded.
    const known = await containersWithVisibleItems(trx, scope, ssccs);
    unknownContainers = ssccs.filter((c) => !known.has(c));
    if (unknownContainers.length > 0) return notFound(`container ${unknownContainers[0]} not found or empty`);
    containerRows = await findItemsByIds(trx, await itemIdsInContainers(trx, [...known]));
  }
  const referenced = [...found.values()];
  // Referenced items are judged by core from their facts; batch and container contents in one more visibility pass.
  const visible = new Set(referenced.filter((f) => canSeeItem(scope, {
    gtin: f.row.gtin, batchId: f.row.batch_id, brandOwnerId: f.row.brand_owner_id, custodianId: f.row.custodian_id,
    pendingReceiverId: f.row.pending_receiver_id, held: f.row.held,
  })).map((f) => f.row.id));
  const contents = [...batchRows, ...containerRows];
  if (contents.length > 0) {
    for (const [gtin, owner] of await ownersOf(trx, contents)) owners.set(gtin, owner);
    for (const r of await filterVisibleItems(trx, scope, contents, owners)) visible.add(r.id);
  }
  const batchItems = batchRows.filter((r) => visible.has(r.id));
  if (sel.batch && batchItems.length === 0) return notFound(`${batchName} not found`);
  const containerItems = containerRows.filter((r) => visible.has(r.id));
  // A container with nothing the caller may see is as unknown as one that does not exist.
  if (ssccs.length > 0 && (unknownContainers.length > 0 || containerItems.length === 0)) return notFound(`container ${unknownContainers[0] ?? ssccs[0]} not found or empty`);
  // Only what the caller may see now resolves: a lapsed grant (revoked or expired) opens nothing. A lapsed grantee
  // who still sees the item another way (as a holder) is refused with the real rule code by the decision below.
  const items = new Map<string, ItemRow>();
  for (const f of referenced) {
    if (visible.has(f.row.id)) items.set(f.row.id, f.row);
    else missing(f.ref);
  }
  for (const r of batchItems) items.set(r.id, r);
  for (const r of containerItems) items.set(r.id, r);
  if (notFoundRefs.length > 0) {
    // In submission order, so the list does not tell missing references from hidden ones.
    const at = new Map((sel.refs ?? []).map((r, i) => [r.value, i]));
    return itemsNotFound(notFoundRefs.sort((a, b) => at.get(a)! - at.get(b)!));
  }
  return { items: [...items.values()], owners };
}


export interface CheckedInput {
  occurred: { instant: Date; offset: string };
  location: string | null;
  data: { [key: string]: JsonValue };
}

/** What `recordEvent` checks before it opens a transaction: time, item selection size, the kind's data, text bounds. */
export function checkRecordInput(deps: LedgerDeps, input: RecordEventInput): CheckedInput | RecordEventFailure {
  const occurred = parseOccurrenceTime(input.occurredAt);
  if (!occurred.ok) return invalid('occurredAt', occurred.error);
  const received = deps.now();
  if (occurred.value.instant.getTime() > received.getTime() + deps.maxClockSkewMs) {
    return invalid('occurredAt', `occurredAt is in the future (more than ${deps.maxClockSkewMs} ms ahead of the server clock)`);
  }
  const refs = input.items.refs ?? [];
  if (refs.length === 0 && !input.items.batch && !input.items.containers?.length) {
    return invalid('items', 'name the items (ids, SGTINs or Digital Links), a batch or containers');
  }
  if (refs.length > MAX_ITEMS_PER_CALL) return invalid('items', `at most ${MAX_ITEMS_PER_CALL} items per call`);
  const location = input.location?.trim() || null;
  // The kind's data rule (core/event-data.ts), the same one EPCIS capture applies.
  const shaped = kindData(input.kind, input.data ?? {});
  if (!shaped.ok) return invalid(shaped.error[0]!.field, shaped.error[0]!.message);
  // What is hashed must be what is stored: valid Unicode, no NUL, bounded (core/text.ts).
  const contentProblem = checkEventContent(location, shaped.value, deps.fieldLimits ?? DEFAULT_FIELD_LIMITS);
  if (contentProblem) return invalid(contentProblem.field, contentProblem.message);
  // The one key rule of every write (core/write-input.ts); composed writes (recordEventIn) are checked here too.
  const keyProblem = checkIdempotencyKey(input.idempotencyKey);
  if (keyProblem) return keyProblem;
  const lotProblem = checkOptionalText(input.items.batch?.lot, 'batch.lot', { max: 200 });
  if (lotProblem) return invalid(lotProblem.field, lotProblem.message);
  return { occurred: occurred.value, location, data: shaped.value };
}

/**
 * Records one lifecycle event (everything but COMMISSION) over a set of items, all-or-nothing: every item must
 * exist, be visible to the actor and allow the transition for it (lifecycle, custody, role, brand grants), otherwise
 * nothing is written and every offending item is named. Runs in its own retried transaction and returns once the
 * event is integrated.
 */
export async function recordEvent(deps: LedgerDeps, caller: ActorRow, input: RecordEventInput): Promise<RecordEventResult> {
  const result = await ledgerWrite(deps, {
    operation: input.kind,
    caller,
    request: recordRequest(input),
    idempotencyKey: input.idempotencyKey,
    check: () => {
      const checked = checkRecordInput(deps, input);
      return 'kind' in checked ? { ok: false, error: checked } : { ok: true, value: checked };
    },
    write: (trx, checked) => writeRecordEvent(trx, deps, caller, input, checked),
    save: (ok) => ({ eventId: ok.event.id }),
    replay: async (trx, saved) => ({ kind: 'ok' as const, event: (await replayedEvent(trx, saved.eventId))! }),
    // The executor takes the checked write over: the key is judged from the write's own facts statement (one for a
    // whole batch), so the decision and the key's semantics live in decideRecordEvent for both paths.
    execute: ((_deps: unknown, _attempt: unknown, job: WriteJob<CheckedInput>) =>
      // Group commit: writes naming their items join the process's next batch (record-batch.ts), decided as alone.
      isBatchable(input) ? recordInBatch(deps, caller, input, job.checked) : recordEventAlone(deps, caller, input, job.checked)) as WriteExecutor,
  });
  return result as RecordEventResult;
}

/** What a lifecycle write's idempotency key stands for: the input as asked (which field named the counterparty only shapes a message). */
export function recordRequest(input: RecordEventInput): Omit<RecordEventInput, 'counterpartyField'> {
  const { counterpartyField: _field, ...asked } = input;
  return asked;
}

/** `recordEvent` of a checked input in a transaction of its own (a batch or container selection; a batch's fallback). */
export function recordEventAlone(deps: LedgerDeps, caller: ActorRow, input: RecordEventInput, checked: CheckedInput): Promise<RecordEventResult> {
  return retriedTransaction(deps, (trx) => writeRecordEvent(trx, deps, caller, input, checked), { operation: input.kind, callerId: caller.id, idempotencyKey: input.idempotencyKey ?? null, checked, request: recordRequest(input) });
}

/**
 * `recordEvent` inside the caller's open transaction `trx` (a write composed of several: packing, EPCIS capture). The
 * caller owns commit, rollback and retry (`withRetries`) and integrates what the transaction wrote after its commit.
 */
export async function recordEventIn(trx: Trx, deps: LedgerDeps, caller: ActorRow, input: RecordEventInput): Promise<RecordEventResult> {
  const checked = checkRecordInput(deps, input);
  if ('kind' in checked) return checked;
  return writeRecordEvent(trx, deps, caller, input, checked);
}

/**
 * The counterparty's roles, or the failure naming it: another actor than the caller, known and not the operator.
 * `field` (`to`, `buyer`) names the input that named it in the NotFoundError's message.
 */
export function checkCounterparty(
  kind: LedgerKind, callerId: string, counterpartyId: string, counterparty: { isOperator: boolean; roles: readonly string[] } | undefined, field?: string | null,
): readonly string[] | RecordEventFailure {
  if (counterpartyId === callerId) return invalid('to', `${kind} must name another actor than yourself`);
  if (!counterparty || !isParty({ isOperator: counterparty.isOperator })) {
    return notFound(field ? `${field}: the named actor was not found` : 'the named receiving actor was not found', { type: 'counterparty' });
  }
  return counterparty.roles;
}

/** The transition of each item decided in core, or the failure naming every item that may not make it. */
export function decideSteps(
  kind: LedgerKind,
  caller: ActorRow,
  items: readonly ItemRow[],
  ownerOf: ReadonlyMap<string, string>,
  grants: readonly GrantFact[],
  counterparty: { id: string | null; roles: readonly string[] },
  now: Date,
): { steps: ItemStep[]; grantsUsed: Set<string> } | RecordEventFailure {
  const problems: ItemProblem[] = [];
  const denials: { rule: TransitionRule; problem: ItemProblem }[] = [];
  const steps: ItemStep[] = [];
  const grantsUsed = new Set<string>();
  for (const item of items) {
    const state: ItemState = {
      stage: item.stage as Stage, custodianId: item.custodian_id, pendingReceiverId: item.pending_receiver_id,
      recalled: item.recalled, brandOwnerId: ownerOf.get(item.gtin)!,
    };
    const grant = grantStatus(grants, caller.id, kind, { gtin: item.gtin, batchId: item.batch_id }, now);
    const decision = decideTransition(state, { kind, actorId: caller.id, actorRoles: caller.roles, counterpartyId: counterparty.id, counterpartyRoles: counterparty.roles, grant: grant.status });
    if (!decision.ok) {
      const e = decision.error;
      if (e.type === 'InvalidTransition') problems.push({ item: item.sgtin, from: item.stage, kind, reason: e.reason });
      else denials.push({ rule: e.rule, problem: { item: item.sgtin, from: item.stage, kind, reason: e.rule } });
      continue;
    }
    const authorizedBy = authorizingGrant(kind, caller.id, state, grant);
    if (authorizedBy) grantsUsed.add(authorizedBy);
    const n = decision.value;
    steps.push({
      id: item.id, sgtin: item.sgtin, head: { seq: item.head_seq, hash: item.head_hash },
      next: { stage: n.stage, custodianId: n.custodianId, pendingReceiverId: n.pendingReceiverId, recalled: n.recalled },
      custodyChanged: n.custodianId !== item.custodian_id,
    });
  }
  if (problems.length > 0) {
    const all = [...problems, ...denials.map((d) => d.problem)];
    return { kind: 'InvalidTransitionError' as const, message: `${all.length} item(s) cannot be recorded as ${kind}; nothing was written`, items: all };
  }
  if (denials.length > 0) {
    const rule = denials[0]!.rule;
    return denied(rule, `${kind} refused for ${denials.length} item(s): ${rule}; nothing was written`, denials.map((d) => d.problem));
  }
  return { steps, grantsUsed };
}

/** The data recorded: the kind's fields and, when grants were relied on, `authorizedBy` (hashed, so an auditor can check them). */
export const dataWithGrants = (data: { [key: string]: JsonValue }, grantsUsed: ReadonlySet<string>): { [key: string]: JsonValue } =>
  ({ ...data, ...(grantsUsed.size ? { authorizedBy: [...grantsUsed].sort() } : {}) });

/** A lifecycle event decided and ready to seal: its draft and each item's step (the write, or a signed preparation, seals it). */
export interface DecidedEvent {
  kind: 'decided';
  draft: EventDraft;
  steps: ItemStep[];
  /** The idempotency key and request hash to store once written (null without a key). */
  idempotency: { key: string; requestHash: Uint8Array } | null;
}

async function writeRecordEvent(trx: Trx, deps: LedgerDeps, caller: ActorRow, input: RecordEventInput, checked: CheckedInput): Promise<RecordEventResult> {
  const decided = await decideRecordEvent(trx, deps, caller, input, checked);
  if (decided.kind !== 'decided') return decided;
  const { event } = await appendEvent(trx, decided.draft, decided.steps);
  if (decided.idempotency) await storeIdempotency(trx, caller.id, decided.idempotency.key, input.kind, decided.idempotency.requestHash, { eventId: event.id });
  return { kind: 'ok' as const, event };
}

/**
 * Every check of a lifecycle write, without writing: counterparty, idempotency (a replay returns the event recorded
 * first), visibility of every item, and each item's transition decided in core. Reads only.
 */
export async function decideRecordEvent(
  trx: Trx, deps: LedgerDeps, caller: ActorRow, input: RecordEventInput, checked: CheckedInput,
  /** The write's facts when the caller loaded them (a batch of writes: record-batch.ts); loaded here otherwise. */
  preloaded?: WriteFacts,
): Promise<DecidedEvent | RecordEventResult> {
  const counterpartyId = input.counterpartyId ?? null;
  const parsed = parseRefs(input.items);
  // No log lock: a concurrent write to the same items makes the head moves below fail and the attempt retry with
  // those items locked from its start (transaction.ts).
  const now = deps.now();
  const key = input.idempotencyKey ?? null;
  // One statement reads what the decisions below need: grants, counterparty, idempotency row, referenced items.
  const facts = preloaded ?? await loadWriteFacts(trx, {
    actorId: caller.id,
    counterpartyId: counterpartyId && isUuid(counterpartyId) ? counterpartyId : null,
    idempotencyKey: key,
    ids: 'kind' in parsed ? [] : parsed.ids,
    keys: 'kind' in parsed ? [] : parsed.keys,
  });
  let counterpartyRoles: readonly string[] = [];
  if (counterpartyId) {
    const roles = checkCounterparty(input.kind, caller.id, counterpartyId, facts.counterparty ?? undefined, input.counterpartyField);
    if ('kind' in roles) return roles as RecordEventFailure;
    counterpartyRoles = roles;
  }
  let requestHash: Uint8Array | null = null;
  if (key) {
    const check = idempotencyVerdict<{ eventId: string }>(facts.idempotency, input.kind, recordRequest(input));
    if (check.kind === 'conflict') return conflict(`idempotencyKey "${key}" was already used with a different request`);
    if (check.kind === 'replay') {
      return { kind: 'ok' as const, event: (await replayedEvent(trx, check.response.eventId))! };
    }
    requestHash = check.requestHash;
  }
  if ('kind' in parsed) return parsed;
  // Rights are judged as of now: a grant revoked or expired a moment ago no longer counts.
  const grants: GrantFact[] = facts.grants;
  const scope = readScope(caller.id, caller.is_operator, grants, now);
  const resolved = await resolveItems(trx, scope, input.items, parsed, facts.items);
  if ('kind' in resolved) return resolved;
  const { items, owners: ownerOf } = resolved;
  if (items.length === 0) return invalid('items', 'the selection contains no items');
  if (items.length > MAX_ITEMS_PER_CALL) return invalid('items', `at most ${MAX_ITEMS_PER_CALL} items per call`);
  const decided = decideSteps(input.kind, caller, items, ownerOf, grants, { id: counterpartyId, roles: counterpartyRoles }, now);
  if ('kind' in decided) return decided;
  return {
    kind: 'decided',
    draft: {
      kind: input.kind,
      actorId: caller.id,
      occurredAt: checked.occurred.instant,
      offset: checked.occurred.offset,
      recordedAt: now,
      location: checked.location,
      counterpartyId,
      data: dataWithGrants(checked.data, decided.grantsUsed),
    },
    steps: decided.steps,
    idempotency: key && requestHash ? { key, requestHash } : null,
  };
}
