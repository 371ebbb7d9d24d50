import { toHex } from '../../core/bytes.ts';
import { encodeBase64 } from '../../core/checkpoint.ts';
import { bundleReaderFor, consistencyProofFor, findCheckpoint, inclusionProofFor, itemProofBundle, itemStatementOf, type CheckpointView } from '../../services/log-proofs.ts';
import { parseDigitalLink } from '../../core/identifiers.ts';
import { findItemsByGtinSerial, findItemsBySgtins } from '../../db/ledger.ts';
import { readLogHead } from '../../db/log.ts';
import { builder } from '../builder.ts';
import { inputError } from '../pagination.ts';
import { canSeeFullHistory } from '../../core/rights.ts';
import { GraphQLError } from 'graphql';
import { EventRef } from '../refs.ts';
import { lookupItem } from './item.ts';

const LogInfoRef = builder.objectRef<{ origin: string; verifierKey: string; treeSize: number }>('LogInfo').implement({
  description: 'The Merkle log: its origin line, the key that signs its checkpoints, and its current size.',
  fields: (t) => ({
    origin: t.exposeString('origin'),
    verifierKey: t.exposeString('verifierKey', { description: 'C2SP signed-note verifier key: name+hexid+base64(0x01||pubkey).' }),
    treeSize: t.exposeInt('treeSize'),
  }),
});

const CheckpointRef = builder.objectRef<CheckpointView>('Checkpoint').implement({
  description: 'A signed C2SP tlog-checkpoint.',
  fields: (t) => ({
    origin: t.exposeString('origin'),
    treeSize: t.exposeInt('treeSize'),
    rootHash: t.string({ description: 'Base64, as in the checkpoint body.', resolve: (c) => encodeBase64(c.rootHash) }),
    rootHashHex: t.string({ resolve: (c) => toHex(c.rootHash) }),
    note: t.exposeString('note', { description: 'The signed note text, verifiable with the verifier key.' }),
  }),
});

const InclusionProofRef = builder.objectRef<{ leafIndex: number; treeSize: number; leafHash: Uint8Array; rootHash: Uint8Array; proof: Uint8Array[] }>('InclusionProof').implement({
  description: 'RFC 9162 §2.1.3 inclusion proof; hashes in hex.',
  fields: (t) => ({
    leafIndex: t.exposeInt('leafIndex'),
    treeSize: t.exposeInt('treeSize'),
    leafHash: t.string({ resolve: (p) => toHex(p.leafHash) }),
    rootHash: t.string({ resolve: (p) => toHex(p.rootHash) }),
    proof: t.stringList({ resolve: (p) => p.proof.map(toHex) }),
  }),
});

const ConsistencyProofRef = builder.objectRef<{ fromSize: number; toSize: number; proof: Uint8Array[]; fromRoot: Uint8Array; toRoot: Uint8Array }>('ConsistencyProof').implement({
  description: 'RFC 9162 §2.1.4 consistency proof; hashes in hex.',
  fields: (t) => ({
    fromSize: t.exposeInt('fromSize'),
    toSize: t.exposeInt('toSize'),
    fromRoot: t.string({ resolve: (p) => toHex(p.fromRoot) }),
    toRoot: t.string({ resolve: (p) => toHex(p.toRoot) }),
    proof: t.stringList({ resolve: (p) => p.proof.map(toHex) }),
  }),
});

builder.queryField('logInfo', (t) =>
  t.field({
    type: LogInfoRef,
    description: 'Public: the log origin and verifier key auditors pin.',
    resolve: async (_r, _a, ctx) => ({ origin: ctx.signer.origin, verifierKey: ctx.signer.verifierKey, treeSize: (await readLogHead(ctx.db)).size }),
  }),
);

builder.queryField('checkpoint', (t) =>
  t.field({
    type: CheckpointRef,
    nullable: true,
    description: 'Public: the latest signed checkpoint, or the one of a given tree size.',
    args: { treeSize: t.arg.int() },
    resolve: async (_r, { treeSize }, ctx) => (await findCheckpoint(ctx.db, ctx.signer.origin, treeSize)) ?? null,
  }),
);

builder.queryField('consistencyProof', (t) =>
  t.field({
    type: ConsistencyProofRef,
    description: 'Public: proves the tree of toSize (default: current) extends the tree of fromSize.',
    args: { fromSize: t.arg.int({ required: true }), toSize: t.arg.int() },
    resolve: async (_r, { fromSize, toSize }, ctx) => {
      const r = await consistencyProofFor(ctx.db, fromSize, toSize);
      if (r.kind === 'ok') return r;
      throw inputError(r.kind === 'ValidationError' ? r.field : 'fromSize', r.message);
    },
  }),
);

builder.queryField('inclusionProof', (t) =>
  t.field({
    type: InclusionProofRef,
    nullable: true,
    description: 'Proof that an event is leaf `leafIndex` of the tree of treeSize (default: current). Null if not found.',
    authScopes: { authenticated: true },
    args: { eventId: t.arg.globalID({ required: true, for: EventRef }), treeSize: t.arg.int() },
    resolve: async (_r, { eventId, treeSize }, ctx) => {
      if (!(await ctx.loaders.visibleEvent.load(eventId.id))) return null;
      const r = await inclusionProofFor(ctx.db, eventId.id, treeSize);
      if (r.kind === 'ok') return r;
      if (r.kind === 'NotFoundError') return null;
      throw inputError(r.kind === 'ValidationError' ? r.field : 'treeSize', r.message);
    },
  }),
);

builder.queryField('itemProofBundle', (t) =>
  t.field({
    type: 'JSON',
    nullable: true,
    description: 'One JSON document to verify an item offline with `provenant verify` (null if the item is not found): a v2 bundle (docs/ledger-format.md §11, complete as of the checkpoint, fields disclosed for your tier) once the item has v2 events, else a v1 bundle.',
    authScopes: { authenticated: true },
    args: {
      id: t.arg.id(),
      sgtin: t.arg.string(),
      digitalLink: t.arg.string(),
      sinceTreeSize: t.arg.int({ description: 'Include a consistency proof from this earlier tree size.' }),
    },
    resolve: async (_r, args, ctx) => {
      const item = await lookupItem(ctx, args);
      if (!item) return null;
      const product = (await ctx.loaders.product.load(item.gtin))!;
      const full = canSeeFullHistory(ctx.scope, {
        gtin: item.gtin, batchId: item.batch_id, brandOwnerId: product.owner_id, custodianId: item.custodian_id,
        pendingReceiverId: item.pending_receiver_id, publicHistory: product.public_history,
      });
      if (!full) throw new GraphQLError('A proof bundle holds the whole history; you may see only part of this item’s history', { extensions: { code: 'FORBIDDEN', rule: 'FULL_HISTORY_REQUIRED' } });
      const reader = bundleReaderFor(ctx.scope, ctx.auth.kind === 'actor' && ctx.auth.actor.roles.includes('AUDITOR'));
      const r = await itemProofBundle(ctx.db, ctx.signer, item, args.sinceTreeSize, ctx.config.publicBaseUrl, reader);
      if (r.kind === 'ok') return r.bundle;
      if (r.kind === 'NotFoundError') return null;
      throw inputError(r.kind === 'ValidationError' ? r.field : 'sinceTreeSize', r.message);
    },
  }),
);

builder.queryField('itemStatement', (t) =>
  t.field({
    type: 'JSON',
    nullable: true,
    description:
      'Public (no API key): an item statement, the item\'s stage, recall flag and latest chain link proven in the head map ' +
      'of the latest signed checkpoint (docs/ledger-format.md "item statement"; check it offline with `provenant verify` ' +
      'or core verifyItemStatement and the log key). It carries no event data, so anyone holding the serial (a scan) may ' +
      'read it. Null for an unknown item. Name the item by exactly one of sgtin or digitalLink.',
    args: { sgtin: t.arg.string(), digitalLink: t.arg.string() },
    resolve: async (_r, args, ctx) => {
      if ((args.sgtin ? 1 : 0) + (args.digitalLink ? 1 : 0) !== 1) throw inputError('item', 'give exactly one of sgtin or digitalLink');
      let item;
      if (args.sgtin) item = (await findItemsBySgtins(ctx.db, [args.sgtin]))[0];
      else {
        const dl = parseDigitalLink(args.digitalLink!);
        if (!dl.ok) throw inputError('digitalLink', dl.error);
        item = (await findItemsByGtinSerial(ctx.db, [{ gtin: dl.value.gtin14, serial: dl.value.serial }]))[0];
      }
      if (!item) return null;
      const r = await itemStatementOf(ctx.db, ctx.signer, item);
      return r.kind === 'ok' ? r.statement : null;
    },
  }),
);
