import { ed25519 } from '@noble/curves/ed25519.js';
import { describe, expect, it } from 'vitest';
import { toHex } from '../../src/core/bytes.ts';
import {
  PREPARED_EVENT_TTL_MS, decodeActorSignature, grantsStillInForce, headsUnmoved, judgeSignedSubmission, preparedExpiresAt, signableData, signerKeyInForce,
} from '../../src/core/signed-submit.ts';

const seed = new Uint8Array(32).fill(1);
const pk = toHex(ed25519.getPublicKey(seed));
const hash = new Uint8Array(32).fill(42);
const now = new Date('2026-11-26T05:00:00.000Z');
const prepared = { actorId: 'A', signer: pk, contentHash: hash, expiresAt: preparedExpiresAt(now) };
const key = { actorId: 'A', publicKey: pk, revokedAt: null };
const sig = ed25519.sign(hash, seed);

describe('signed submit decisions', () => {
  it('a key signs for its own actor only, until its revocation time', () => {
    expect(signerKeyInForce(key, 'A', now)).toEqual({ ok: true, value: pk });
    expect(signerKeyInForce(key, 'B', now).ok).toBe(false);
    expect(signerKeyInForce(undefined, 'A', now).ok).toBe(false);
    expect(signerKeyInForce({ ...key, revokedAt: new Date(now.getTime() + 1) }, 'A', now).ok).toBe(true);
    expect(signerKeyInForce({ ...key, revokedAt: now }, 'A', now).ok).toBe(false);
  });

  it('reads a signature as hex or base64 of exactly 64 bytes', () => {
    expect(decodeActorSignature(toHex(sig))).toEqual({ ok: true, value: sig });
    expect(decodeActorSignature(toHex(sig).toUpperCase())).toEqual({ ok: true, value: sig });
    expect(decodeActorSignature(Buffer.from(sig).toString('base64'))).toEqual({ ok: true, value: sig });
    for (const bad of ['', 'zz', toHex(sig).slice(2), Buffer.from(sig.slice(1)).toString('base64'), 'a'.repeat(10_000)]) expect(decodeActorSignature(bad).ok).toBe(false);
  });

  it('accepts the owner\'s valid signature before expiry and refuses everything else with its own failure', () => {
    expect(judgeSignedSubmission(prepared, 'A', key, sig, now)).toBeUndefined();
    expect(judgeSignedSubmission(undefined, 'A', key, sig, now)?.kind).toBe('NotFoundError');
    expect(judgeSignedSubmission(prepared, 'B', key, sig, now)?.kind).toBe('NotFoundError');
    const late = new Date(now.getTime() + PREPARED_EVENT_TTL_MS);
    expect(judgeSignedSubmission(prepared, 'A', key, sig, late)).toMatchObject({ kind: 'ConflictError', message: expect.stringMatching(/expired/) });
    expect(judgeSignedSubmission(prepared, 'A', { ...key, revokedAt: now }, sig, now)).toMatchObject({ kind: 'ConflictError', message: expect.stringMatching(/revoked/) });
    const forged = sig.slice();
    forged[0]! ^= 1;
    expect(judgeSignedSubmission(prepared, 'A', key, forged, now)).toMatchObject({ kind: 'ValidationError', field: 'signature' });
    expect(judgeSignedSubmission({ ...prepared, contentHash: new Uint8Array(32) }, 'A', key, sig, now)).toMatchObject({ kind: 'ValidationError', field: 'signature' });
  });

  it('heads must be exactly where they were', () => {
    const cur = new Map([['i1', { seq: 2, hash: 'aa' }]]);
    expect(headsUnmoved([{ id: 'i1', seq: 2, hash: 'aa' }], cur)).toBe(true);
    expect(headsUnmoved([{ id: 'i1', seq: 1, hash: 'aa' }], cur)).toBe(false);
    expect(headsUnmoved([{ id: 'i1', seq: 2, hash: 'bb' }], cur)).toBe(false);
    expect(headsUnmoved([{ id: 'i2', seq: 2, hash: 'aa' }], cur)).toBe(false);
  });

  it('a grant relied on must still be in force at submission', () => {
    const g = { id: 'g1', granteeId: 'A', kinds: ['SERVICE'], productGtin: '04012345111118', batchId: null, allProducts: false, createdAt: new Date(0), expiresAt: null, revokedAt: null };
    expect(grantsStillInForce([], [], now)).toBe(true);
    expect(grantsStillInForce(['g1'], [g], now)).toBe(true);
    expect(grantsStillInForce(['g1'], [{ ...g, revokedAt: now }], now)).toBe(false);
    expect(grantsStillInForce(['g1'], [{ ...g, expiresAt: now }], now)).toBe(false);
    expect(grantsStillInForce(['g2'], [g], now)).toBe(false);
  });

  it('shapes each kind\'s data like its lifecycle mutation and refuses fields of other kinds', () => {
    expect(signableData('SELL', { price: 3, currency: 'EUR' })).toEqual({ ok: true, value: { data: { price: 3, currency: 'EUR' }, counterparty: null } });
    expect(signableData('SHIP', {})).toMatchObject({ ok: false, error: { field: 'counterparty' } });
    expect(signableData('RECEIVE', { reason: 'x' })).toMatchObject({ ok: false, error: { field: 'reason' } });
    expect(signableData('DESTROY', { reason: 'flood' })).toEqual({ ok: true, value: { data: { reason: 'flood' }, counterparty: null } });
  });
});
