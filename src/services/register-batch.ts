import { randomUUID } from 'node:crypto';
import { normalizeGtin, sgtinUrn, validateSerial } from '../core/identifiers.ts';
import { type Result, err, ok } from '../core/result.ts';
import { type InputContext, checkDeclared, instant, text } from '../core/write-input.ts';
import { decideCommission, readScope } from '../core/rights.ts';
import { existingSerials, findBatch, findBatchesByIds, insertBatch } from '../db/ledger.ts';
import { findVisibleProduct, grantsOf } from '../db/visibility.ts';
import type { ActorRow, BatchRow, EventRow } from '../db/types.ts';
import type { Trx } from '../db/connection.ts';
import { appendEvent } from './append-event.ts';
import type { LedgerDeps } from './deps.ts';
import { type WriteSpec, ledgerWrite, ledgerWriteIn } from './ledger-write.ts';
import { actorFacts } from './actor-facts.ts';
import { type FailureOf, type ValidationFailure, conflict, failureSpec, invalid } from './results.ts';
import { replayedEvent } from './transaction.ts';

/** Upper bound of items one call may touch (also the per-mutation item-list limit). */
export const MAX_ITEMS_PER_CALL = 100_000;

export interface RegisterBatchInput {
  gtin: string;
  lot: string;
  producedAt: string;
  site: string;
  serials?: string[] | null;
  range?: { count: number; firstSerial: string } | null;
  idempotencyKey?: string | null;
}

/** What registerBatch may fail with (its GraphQL union is built from this). */
export const REGISTER_BATCH_FAILURES = failureSpec(
  ['ValidationError', 'NotFoundError', 'PermissionDeniedError', 'ConflictError'],
  ['ROLE_REQUIRED:MANUFACTURER', 'NOT_BRAND_OWNER', 'NOT_PREFIX_OWNER'],
);
export type RegisterBatchResult = { kind: 'ok'; batch: BatchRow; event: EventRow } | FailureOf<typeof REGISTER_BATCH_FAILURES>;

/** Expands `{count, firstSerial}`: the trailing digit run counts up, keeping its width (e.g. A0098, A0099, A0100). */
export function expandSerialRange(firstSerial: string, count: number): string[] | string {
  const m = /^(.*?)(\d+)$/.exec(firstSerial);
  if (!m) return 'firstSerial must end in digits so a range can count up from it';
  const [, prefix = '', digits = ''] = m;
  const start = BigInt(digits);
  const out: string[] = new Array(count);
  for (let i = 0; i < count; i++) out[i] = prefix + (start + BigInt(i)).toString().padStart(digits.length, '0');
  return out;
}

/**
 * The product's owner registers a lot and commissions its serials in one transaction: batch, items, one
 * COMMISSION event and one chain link per item. Any duplicate serial (in the input or already registered)
 * rejects the whole call.
 */
export async function registerBatch(deps: LedgerDeps, caller: ActorRow, input: RegisterBatchInput): Promise<RegisterBatchResult> {
  return ledgerWrite(deps, registerBatchWrite(deps, caller, input));
}

/** `registerBatch` inside the caller's open transaction `trx` (EPCIS capture); the caller commits, retries and integrates. */
export async function registerBatchIn(trx: Trx, deps: LedgerDeps, caller: ActorRow, input: RegisterBatchInput): Promise<RegisterBatchResult> {
  return ledgerWriteIn(trx, deps, registerBatchWrite(deps, caller, input));
}

/** registerBatch as the write pipeline runs it. */
const registerBatchWrite = (deps: LedgerDeps, caller: ActorRow, input: RegisterBatchInput): WriteSpec<CheckedBatch, RegisterBatchResult, { batchId: string; eventId: string }> => ({
  operation: 'registerBatch',
  caller,
  // The whole input, key included, as earlier versions hashed it: keys they stored still replay.
  request: input,
  idempotencyKey: input.idempotencyKey,
  check: (ctx) => checkRegisterInput(ctx, input),
  write: (trx, checked) => writeRegisterBatch(trx, deps, caller, checked),
  save: (r) => ({ batchId: r.batch.id, eventId: r.event.id }),
  replay: async (trx, s) => {
    const [batch] = await findBatchesByIds(trx, [s.batchId]);
    const event = await replayedEvent(trx, s.eventId);
    return { kind: 'ok' as const, batch: batch!, event: event! };
  },
});

interface CheckedBatch {
  gtin: string;
  lot: string;
  produced: { instant: Date; offset: string };
  site: string;
  serials: string[];
}

/** The time and text fields of a batch, checked by the pipeline's shared rules. */
const BATCH_FIELDS = { producedAt: instant(), site: text({ min: 1, max: 'locationChars', trim: true }) };

/** Input checks that need no database: identifiers, time, text bounds, serials (the caller's rights are core `decideCommission`'s). */
function checkRegisterInput(ctx: InputContext, input: RegisterBatchInput): Result<CheckedBatch, ValidationFailure> {
  const gtin = normalizeGtin(input.gtin);
  if (!gtin.ok) return err(invalid('gtin', gtin.error));
  const lot = validateSerial(input.lot);
  if (!lot.ok) return err(invalid('lot', `lot ${lot.error.replace(/^serial /i, '')}`));
  const fields = checkDeclared(BATCH_FIELDS, input, ctx);
  if (!fields.ok) return fields;
  const { producedAt: produced, site } = fields.value;

  let serials: string[];
  if (input.serials && input.range) return err(invalid('serials', 'give either serials or range, not both'));
  if (input.serials) {
    serials = input.serials;
  } else if (input.range) {
    const { count, firstSerial } = input.range;
    if (!Number.isInteger(count) || count < 1 || count > MAX_ITEMS_PER_CALL) return err(invalid('range.count', `count must be 1 to ${MAX_ITEMS_PER_CALL}`));
    const expanded = expandSerialRange(firstSerial, count);
    if (typeof expanded === 'string') return err(invalid('range.firstSerial', expanded));
    serials = expanded;
  } else {
    return err(invalid('serials', 'give the serials to commission, or a range {count, firstSerial}'));
  }
  if (serials.length < 1 || serials.length > MAX_ITEMS_PER_CALL) return err(invalid('serials', `a batch commissions 1 to ${MAX_ITEMS_PER_CALL} serials per call`));
  for (let i = 0; i < serials.length; i++) {
    const s = validateSerial(serials[i]!);
    if (!s.ok) return err(invalid(`serials[${i}]`, s.error));
  }
  const seen = new Set<string>();
  const dupes = new Set<string>();
  for (const s of serials) (seen.has(s) ? dupes : seen).add(s);
  if (dupes.size > 0) return err(invalid('serials', `duplicate serials in the input: ${[...dupes].slice(0, 10).join(', ')}${dupes.size > 10 ? ` and ${dupes.size - 10} more` : ''}`));

  return ok({ gtin: gtin.value, lot: lot.value, produced, site, serials });
}

async function writeRegisterBatch(trx: Trx, deps: LedgerDeps, caller: ActorRow, c: CheckedBatch): Promise<RegisterBatchResult> {
  const now = deps.now();
  const gtin = { value: c.gtin };
  const lot = { value: c.lot };
  const produced = { value: c.produced };
  const { site, serials } = c;
  // Another brand's product the caller cannot see is answered exactly like an unregistered GTIN (one statement both).
  const scope = readScope(caller.id, caller.is_operator, await grantsOf(trx, caller.id), now);
  const product = await findVisibleProduct(trx, scope, gtin.value);
  const allowed = decideCommission(actorFacts(caller), gtin.value, product ? { ownerId: product.owner_id } : undefined);
  if (!allowed.ok) return allowed.error;
  const { prefix } = allowed.value;
  const sgtins = serials.map((s) => sgtinUrn(gtin.value, prefix.length, s));
  // Ascending (a random id set in sorted order): the inserts then walk the id-keyed indexes (items, items_batch,
  // chain_links) left to right instead of touching a random leaf per row.
  const ids: string[] = serials.map(() => randomUUID()).sort();
  if (await findBatch(trx, gtin.value, lot.value)) return conflict(`batch ${lot.value} of ${gtin.value} already exists`, { type: 'batch', gtin: gtin.value, lot: lot.value });
  const taken = await existingSerials(trx, gtin.value, serials);
  if (taken.length > 0) {
    return conflict(`serials already registered for ${gtin.value}: ${taken.slice(0, 10).join(', ')}${taken.length > 10 ? ` and ${taken.length - 10} more` : ''}`);
  }
  const batch = await insertBatch(trx, { gtin: gtin.value, lot: lot.value, producedAt: produced.value.instant, site });
  // One `next` for every step (all start alike; nothing mutates it).
  const next = { stage: 'MANUFACTURED', custodianId: caller.id, pendingReceiverId: null, recalled: false };
  const steps = ids.map((id, i) => ({ id, sgtin: sgtins[i]!, head: null, next }));
  const { event } = await appendEvent(
    trx,
    {
      kind: 'COMMISSION',
      actorId: caller.id,
      occurredAt: produced.value.instant,
      offset: produced.value.offset,
      recordedAt: deps.now(),
      location: site,
      counterpartyId: null,
      data: { gtin: gtin.value, lot: lot.value },
    },
    steps,
    { batchId: batch.id, gtin: gtin.value, serials },
  );
  return { kind: 'ok' as const, batch, event };
}
