import { ed25519 } from '@noble/curves/ed25519.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toHex } from '../../src/core/bytes.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { createTestActor, type TestActor } from '../helpers/ledger.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

// Actor signing keys (docs/ledger-format.md §13): register, list on Actor, revoke.

let db: TestDatabase;
let srv: TestServer;
let alpha: TestActor, bravo: TestActor;
const keyOf = (seed: number) => toHex(ed25519.getPublicKey(new Uint8Array(32).fill(seed)));
const RESULT = `__typename ... on Error { message } ... on ValidationError { field } ... on ActorKeySuccess { key { publicKey registeredAt revokedAt actor { id } } }`;

async function register(actor: TestActor | null, publicKey: string, idempotencyKey?: string) {
  const { body } = await srv.gql(`mutation($i: RegisterActorKeyInput!) { registerActorKey(input: $i) { ${RESULT} } }`, { i: { publicKey, idempotencyKey } }, actor?.key);
  expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
  return body.data.registerActorKey;
}
async function revoke(key: string, publicKey: string) {
  const { body } = await srv.gql(`mutation($i: RevokeActorKeyInput!) { revokeActorKey(input: $i) { ${RESULT} } }`, { i: { publicKey } }, key);
  expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
  return body.data.revokeActorKey;
}
async function keysOf(actor: TestActor, as: string) {
  const { body } = await srv.gql(`query($id: ID!) { node(id: $id) { ... on Actor { publicKeys { publicKey revokedAt } } } }`, { id: actor.id }, as);
  return body.data.node.publicKeys;
}

beforeAll(async () => {
  db = await openTestDatabase();
  srv = await startTestServer(db);
  alpha = await createTestActor(srv, 'Alpha', ['MANUFACTURER'], ['4012345']);
  bravo = await createTestActor(srv, 'Bravo', ['DISTRIBUTOR']);
});
afterAll(async () => {
  await srv?.close();
  await db?.dispose();
});

describe('actor keys', () => {
  it('registers a key (idempotently), refuses a key registered already and invalid keys', async () => {
    const r = await register(alpha, keyOf(1).toUpperCase(), 'k-1');
    expect(r).toMatchObject({ __typename: 'ActorKeySuccess', key: { publicKey: keyOf(1), revokedAt: null, actor: { id: alpha.id } } });
    expect(await register(alpha, keyOf(1), 'k-1')).toEqual(r);
    expect((await register(bravo, keyOf(1))).__typename).toBe('ConflictError');
    expect(await register(alpha, 'abcd')).toMatchObject({ __typename: 'ValidationError', field: 'publicKey' });
    expect(await register(alpha, `01${'00'.repeat(31)}`)).toMatchObject({ __typename: 'ValidationError', field: 'publicKey' });
    expect(await keysOf(alpha, bravo.key)).toEqual([{ publicKey: keyOf(1), revokedAt: null }]);
  });

  it('only the key\'s actor or the operator revokes it; a revoked key stays listed with its first revocation time', async () => {
    expect(await revoke(bravo.key, keyOf(1))).toEqual({ __typename: 'NotFoundError', message: 'actor key not found' });
    expect(await revoke(alpha.key, keyOf(2))).toEqual({ __typename: 'NotFoundError', message: 'actor key not found' });
    const first = await revoke(alpha.key, keyOf(1));
    expect(first.key.revokedAt).not.toBeNull();
    const again = await revoke(srv.operatorKey, keyOf(1));
    expect(again.key.revokedAt).toBe(first.key.revokedAt);
    expect(await keysOf(alpha, alpha.key)).toEqual([{ publicKey: keyOf(1), revokedAt: first.key.revokedAt }]);
    // A revoked key cannot be registered again, by anyone.
    expect((await register(alpha, keyOf(1))).__typename).toBe('ConflictError');
  });

  it('at most 10 keys in force per actor', async () => {
    for (let i = 0; i < 10; i++) expect((await register(bravo, keyOf(20 + i))).__typename).toBe('ActorKeySuccess');
    expect(await register(bravo, keyOf(40))).toMatchObject({ __typename: 'ValidationError', field: 'publicKey' });
    expect((await revoke(bravo.key, keyOf(20))).__typename).toBe('ActorKeySuccess');
    expect((await register(bravo, keyOf(40))).__typename).toBe('ActorKeySuccess');
  });
});
