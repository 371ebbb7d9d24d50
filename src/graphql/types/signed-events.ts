import { SIGNABLE_KINDS, signableData } from '../../core/signed-submit.ts';
import type { JsonValue } from '../../core/v2/fields.ts';
import { ACTOR_NAME_FORMS, resolveActorName } from '../../services/resolve-actor.ts';
import { PREPARE_SIGNED_EVENT_FAILURES, SUBMIT_SIGNED_EVENT_FAILURES, prepareSignedEvent, submitSignedEvent } from '../../services/signed-event.ts';
import { builder } from '../builder.ts';
import { viewerOf } from '../context.ts';
import { failureToGraphQL, resultUnion, success } from './errors.ts';
import { BatchSelectorInput, MaterialInput, RecordEventSuccess, actorIdOfGlobalId, parseItemRefs } from './event.ts';
import { ledgerDeps } from './ledger-deps.ts';

// Two-phase signed submit (docs/ledger-format.md §13): prepareSignedEvent, then submitSignedEvent.

const SignableKindEnum = builder.enumType('SignableEventKind', {
  description: 'Lifecycle kinds an actor may submit signed (the kinds of shipItems, receiveItems, sellItems, recordUse, returnItems, recycleItems, destroyItems).',
  values: SIGNABLE_KINDS,
});

const PrepareInput = builder.inputType('PrepareSignedEventInput', {
  fields: (t) => ({
    kind: t.field({ type: SignableKindEnum, required: true }),
    publicKey: t.string({ required: true, description: 'Your registered Ed25519 key (hex) that will sign; it becomes the body\'s `signer`.' }),
    items: t.stringList({ description: 'Item global ids, SGTIN URNs or GS1 Digital Links.' }),
    batch: t.field({ type: BatchSelectorInput, description: 'Every item of this batch.' }),
    containers: t.stringList({ description: 'SSCCs: every item inside, at any depth.' }),
    occurredAt: t.field({ type: 'DateTime', required: true, description: 'RFC 3339 with timezone offset.' }),
    location: t.string({ description: 'GLN or free text.' }),
    counterparty: t.string({ description: `SHIP/RETURN (required): the receiving actor; SELL: the buyer, optional. ${ACTOR_NAME_FORMS}.` }),
    price: t.float({ description: 'SELL: unit price.' }),
    currency: t.string({ description: 'SELL: ISO 4217 code; required with price.' }),
    note: t.string({ description: 'ACTIVATE/SERVICE/USE_REPORT.' }),
    readings: t.field({ type: 'JSON', description: 'ACTIVATE/SERVICE/USE_REPORT: readings (JSON object).' }),
    reason: t.string({ description: 'RETURN/DESTROY.' }),
    materials: t.field({ type: [MaterialInput], description: 'RECYCLE: recovered materials.' }),
    idempotencyKey: t.string({ description: 'Retrying with the same key returns the first preparation and prepares nothing.' }),
  }),
});

const PrepareSuccess = builder.objectRef<{ preparedId: string; canonicalBody: string; contentHash: string; expiresAt: Date }>('PrepareSignedEventSuccess').implement({
  description: 'The sealed event to sign: check the body, sign the 32-byte content hash with Ed25519, then call submitSignedEvent before expiresAt.',
  fields: (t) => ({
    preparedId: t.exposeString('preparedId'),
    canonicalBody: t.exposeString('canonicalBody', { description: 'The exact RFC 8785 v2 body (docs/ledger-format.md §4), with `signer` = your key.' }),
    contentHash: t.exposeString('contentHash', { description: 'Hex SHA-256 of "provenant:event:v2\\n" || canonicalBody: what you sign (its 32 bytes).' }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime' }),
  }),
});

builder.mutationField('prepareSignedEvent', (t) =>
  t.field({
    type: resultUnion('PrepareSignedEvent', PrepareSuccess, PREPARE_SIGNED_EVENT_FAILURES),
    description:
      'Phase 1 of a signed lifecycle event: runs every check of the matching lifecycle mutation and seals the event with your key as signer, ' +
      'without logging it. ValidationError `publicKey`: not a key of yours in force; the other errors as the lifecycle mutation.',
    authScopes: { authenticated: true },
    args: { input: t.arg({ type: PrepareInput, required: true }) },
    resolve: async (_r, { input }, ctx) => {
      const shaped = signableData(input.kind, {
        counterparty: input.counterparty, price: input.price, currency: input.currency, note: input.note,
        readings: (input.readings ?? null) as JsonValue | null, reason: input.reason, materials: input.materials,
      });
      if (!shaped.ok) return failureToGraphQL({ kind: 'ValidationError', ...shaped.error });
      let counterpartyId: string | null = null;
      if (shaped.value.counterparty !== null) {
        const named = await resolveActorName(ctx.db, shaped.value.counterparty, 'counterparty', actorIdOfGlobalId);
        if (named.kind !== 'ok') return failureToGraphQL(named.kind === 'NotFoundError' ? { ...named, subject: { type: 'counterparty' as const } } : named);
        counterpartyId = named.actor.id;
      }
      const result = await prepareSignedEvent(ledgerDeps(ctx), viewerOf(ctx), {
        kind: input.kind,
        publicKey: input.publicKey,
        items: { refs: parseItemRefs(input.items ?? []), batch: input.batch ?? null, containers: input.containers ?? null },
        occurredAt: input.occurredAt,
        location: input.location ?? null,
        counterpartyId,
        counterpartyField: shaped.value.counterparty !== null ? 'counterparty' : null,
        data: shaped.value.data,
        idempotencyKey: input.idempotencyKey ?? null,
      });
      return result.kind === 'ok' ? success('PrepareSignedEventSuccess', result) : failureToGraphQL(result);
    },
  }),
);

const SubmitInput = builder.inputType('SubmitSignedEventInput', {
  fields: (t) => ({
    preparedId: t.string({ required: true }),
    signature: t.string({ required: true, description: 'Ed25519 signature (64 bytes) over the 32-byte content hash, as 128 hex characters or base64.' }),
    idempotencyKey: t.string({ description: 'Retrying with the same key returns the first result and writes nothing.' }),
  }),
});

builder.mutationField('submitSignedEvent', (t) =>
  t.field({
    type: resultUnion('SubmitSignedEvent', RecordEventSuccess, SUBMIT_SIGNED_EVENT_FAILURES),
    description:
      'Phase 2: logs the prepared event with your signature (bundles carry it). ValidationError `signature`: malformed or not valid over the content hash; ' +
      'NotFoundError: no such preparation of yours; ConflictError: expired, the key was revoked, a grant relied on lapsed, or an item was recorded on since preparation (prepare again).',
    authScopes: { authenticated: true },
    args: { input: t.arg({ type: SubmitInput, required: true }) },
    resolve: async (_r, { input }, ctx) => {
      const result = await submitSignedEvent(ledgerDeps(ctx), viewerOf(ctx), input);
      return result.kind === 'ok' ? success('RecordEventSuccess', result) : failureToGraphQL(result);
    },
  }),
);
