import { ed25519 } from '@noble/curves/ed25519.js';
import { describe, expect, it } from 'vitest';
import { MAX_ACTIVE_ACTOR_KEYS, mayRegisterAnotherKey, mayRevokeKey, validateActorPublicKey } from '../../src/core/actor-keys.ts';
import { toHex } from '../../src/core/bytes.ts';

const keyOf = (seed: number) => toHex(ed25519.getPublicKey(new Uint8Array(32).fill(seed)));

/** A 32-byte string that decodes to no curve point (found deterministically). */
function offCurve(): string {
  for (let i = 1; ; i++) {
    const hex = i.toString(16).padStart(2, '0').repeat(32);
    try {
      ed25519.Point.fromHex(hex);
    } catch {
      return hex;
    }
  }
}

describe('validateActorPublicKey', () => {
  it('accepts a real Ed25519 public key, in either case, returned lowercase', () => {
    const k = keyOf(7);
    expect(validateActorPublicKey(k)).toEqual({ ok: true, value: k });
    expect(validateActorPublicKey(` ${k.toUpperCase()} `)).toEqual({ ok: true, value: k });
  });
  it('refuses wrong lengths, non-hex, points off the curve and small-order points', () => {
    expect(validateActorPublicKey(keyOf(7).slice(2)).ok).toBe(false);
    expect(validateActorPublicKey('zz'.repeat(32)).ok).toBe(false);
    expect(validateActorPublicKey(offCurve())).toMatchObject({ ok: false, error: expect.stringMatching(/not a point/) });
    // The identity point (y = 1) has order 1.
    expect(validateActorPublicKey(`01${'00'.repeat(31)}`)).toMatchObject({ ok: false, error: expect.stringMatching(/small-order/) });
  });
  it('limits keys in force and lets only the owner or the operator revoke', () => {
    expect(mayRegisterAnotherKey(MAX_ACTIVE_ACTOR_KEYS - 1)).toBe(true);
    expect(mayRegisterAnotherKey(MAX_ACTIVE_ACTOR_KEYS)).toBe(false);
    expect(mayRevokeKey({ id: 'a', isOperator: false }, 'a')).toBe(true);
    expect(mayRevokeKey({ id: 'b', isOperator: false }, 'a')).toBe(false);
    expect(mayRevokeKey({ id: 'op', isOperator: true }, 'a')).toBe(true);
  });
});
