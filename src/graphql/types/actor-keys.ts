import type { ActorKeyRow } from '../../db/actor-keys.ts';
import { REGISTER_ACTOR_KEY_FAILURES, REVOKE_ACTOR_KEY_FAILURES, registerActorKey, revokeActorKey } from '../../services/actor-keys.ts';
import { builder } from '../builder.ts';
import { viewerOf } from '../context.ts';
import { ActorRef } from '../refs.ts';
import { failureToGraphQL, resultUnion, success } from './errors.ts';

const ActorKeyRef = builder.objectRef<ActorKeyRow>('ActorKey').implement({
  description: 'An Ed25519 public key an actor registered to sign its events (docs/ledger-format.md §13); public, so anyone can check signatures.',
  fields: (t) => ({
    publicKey: t.exposeString('publicKey', { description: '32 bytes, lowercase hex (the `signer` of a v2 body).' }),
    registeredAt: t.expose('registeredAt', { type: 'DateTime' }),
    revokedAt: t.expose('revokedAt', { type: 'DateTime', nullable: true, description: 'From then on signatures with it are refused; earlier ones stay valid.' }),
    actor: t.field({ type: ActorRef, resolve: async (k, _a, ctx) => (await ctx.loaders.actor.load(k.actorId))! }),
  }),
});

builder.objectFields(ActorRef, (t) => ({
  publicKeys: t.field({
    type: [ActorKeyRef],
    description: 'Signing keys the actor registered, oldest first, revoked ones included (past signatures were checked against them).',
    resolve: (a, _args, ctx) => ctx.loaders.actorKeys.load(a.id),
  }),
}));

const KeyInput = (name: string) => builder.inputType(name, {
  fields: (t) => ({
    publicKey: t.string({ required: true, description: 'Hex Ed25519 public key (64 hex characters).' }),
    idempotencyKey: t.string({ description: 'Retrying with the same key returns the first result and writes nothing.' }),
  }),
});
const RegisterInput = KeyInput('RegisterActorKeyInput');
const RevokeInput = KeyInput('RevokeActorKeyInput');

const ActorKeySuccess = builder.objectRef<{ key: ActorKeyRow }>('ActorKeySuccess').implement({
  fields: (t) => ({ key: t.field({ type: ActorKeyRef, resolve: (s) => s.key }) }),
});

builder.mutationField('registerActorKey', (t) =>
  t.field({
    type: resultUnion('RegisterActorKey', ActorKeySuccess, REGISTER_ACTOR_KEY_FAILURES),
    description: 'Registers an Ed25519 public key of the caller for signing its events. ValidationError: not a valid key (32 bytes on the curve, not of small order) or too many keys in force; ConflictError: the key is registered already.',
    authScopes: { authenticated: true },
    args: { input: t.arg({ type: RegisterInput, required: true }) },
    resolve: async (_r, { input }, ctx) => {
      const result = await registerActorKey(ctx.db, viewerOf(ctx), input, ctx.now());
      return result.kind === 'ok' ? success('ActorKeySuccess', result) : failureToGraphQL(result);
    },
  }),
);

builder.mutationField('revokeActorKey', (t) =>
  t.field({
    type: resultUnion('RevokeActorKey', ActorKeySuccess, REVOKE_ACTOR_KEY_FAILURES),
    description: 'Revokes one of your signing keys (the operator: anyone\'s). Revoking twice keeps the first revocation time.',
    authScopes: { authenticated: true },
    args: { input: t.arg({ type: RevokeInput, required: true }) },
    resolve: async (_r, { input }, ctx) => {
      const result = await revokeActorKey(ctx.db, viewerOf(ctx), input, ctx.now());
      return result.kind === 'ok' ? success('ActorKeySuccess', result) : failureToGraphQL(result);
    },
  }),
);
