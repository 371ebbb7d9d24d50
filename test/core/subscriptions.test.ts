import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { checkDest, parseSubscriptionRequest, retryDelayMs, signDelivery, subscriberStanding, subscriptionQuery } from '../../src/core/subscriptions.ts';

describe('subscription requests', () => {
  it('accepts a stream with dest, signatureToken and initialRecordTime', () => {
    const r = parseSubscriptionRequest({ dest: 'https://rx.example/hook?x=1', stream: true, signatureToken: '13df38d8275b13f05704629e5f1cf3d45d6132d5', initialRecordTime: '2026-01-01T00:00:00+01:00', reportIfEmpty: false });
    expect(r).toEqual({ ok: true, value: { dest: 'https://rx.example/hook?x=1', signatureToken: '13df38d8275b13f05704629e5f1cf3d45d6132d5', initialRecordTime: new Date('2025-12-31T23:00:00Z') } });
  });

  it('names every member at fault', () => {
    const r = parseSubscriptionRequest({ dest: 'http://rx.example/h', schedule: { hour: '1' }, reportIfEmpty: true, signatureToken: 'has spaces in it, too long enough', x: 1 });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.map((e) => e.field).sort()).toEqual(['dest', 'reportIfEmpty', 'schedule', 'signatureToken', 'x']);
    const notObject = parseSubscriptionRequest([]);
    expect(!notObject.ok && notObject.error[0]!.field).toBe('body');
    const noStream = parseSubscriptionRequest({ dest: 'https://rx.example/h', stream: false });
    expect(!noStream.ok && noStream.error.map((e) => e.field)).toEqual(['stream']);
  });

  it('dest: https anywhere, http only to loopback, no credentials or fragment', () => {
    expect(checkDest('https://rx.example/h').ok).toBe(true);
    expect(checkDest('http://127.0.0.1:8080/h').ok).toBe(true);
    expect(checkDest('http://[::1]/h').ok).toBe(true);
    expect(checkDest('http://localhost/h').ok).toBe(true);
    expect(checkDest('http://10.0.0.1/h').ok).toBe(false);
    expect(checkDest('http://127.0.0.1.evil.example/h').ok).toBe(false);
    expect(checkDest('https://user:pw@rx.example/h').ok).toBe(false);
    expect(checkDest('https://rx.example/h#x').ok).toBe(false);
    expect(checkDest('ws://rx.example/h').ok).toBe(false);
    expect(checkDest('/relative').ok).toBe(false);
    expect(checkDest(`https://rx.example/${'a'.repeat(2000)}`).ok).toBe(false);
  });
});

describe('subscription query', () => {
  it('refuses eventCountLimit and maxEventCount; keeps filters; log order; initialRecordTime as GE_recordTime', () => {
    expect(subscriptionQuery({ maxEventCount: 3 }, null).ok).toBe(false);
    expect(subscriptionQuery({ orderBy: 'eventTime', eventCountLimit: 3 }, null).ok).toBe(false);
    const t = new Date('2026-02-01T00:00:00Z');
    const q = subscriptionQuery({ EQ_bizStep: 'shipping', orderBy: 'eventTime' }, t);
    expect(q.ok && q.value.orderBy).toBe(null);
    expect(q.ok && q.value.filter.bizSteps).toEqual(['shipping']);
    expect(q.ok && q.value.filter.geRecordTime).toEqual(t);
    // The later bound wins.
    const later = subscriptionQuery({ GE_recordTime: '2026-03-01T00:00:00Z' }, t);
    expect(later.ok && later.value.filter.geRecordTime).toEqual(new Date('2026-03-01T00:00:00Z'));
  });
});

describe('subscriber standing', () => {
  const actor = { id: 'a', isOperator: false };
  it('goes on while the creating key is live; stops on revocation, a missing key or actor', () => {
    expect(subscriberStanding({ createdWithKey: true, key: { revokedAt: null, actorId: 'a' }, actor }).ok).toBe(true);
    expect(subscriberStanding({ createdWithKey: true, key: { revokedAt: new Date(), actorId: 'a' }, actor })).toEqual({ ok: false, reason: 'the API key that created the subscription was revoked' });
    expect(subscriberStanding({ createdWithKey: true, key: null, actor }).ok).toBe(false);
    expect(subscriberStanding({ createdWithKey: true, key: { revokedAt: null, actorId: 'other' }, actor }).ok).toBe(false);
    expect(subscriberStanding({ createdWithKey: true, key: { revokedAt: null, actorId: 'a' }, actor: null }).ok).toBe(false);
    expect(subscriberStanding({ createdWithKey: false, key: null, actor: { id: 'op', isOperator: true } }).ok).toBe(true);
    expect(subscriberStanding({ createdWithKey: false, key: null, actor }).ok).toBe(false);
  });
});

describe('backoff and signatures', () => {
  it('doubles from base to the cap, jittered into [half, full)', () => {
    const p = { baseMs: 1_000, maxMs: 300_000 };
    expect([1, 2, 3, 4].map((n) => retryDelayMs(n, p, 0))).toEqual([500, 1_000, 2_000, 4_000]);
    expect(retryDelayMs(3, p, 0.999999)).toBe(4_000);
    expect(retryDelayMs(20, p, 0)).toBe(150_000);
    expect(retryDelayMs(10_000, p, 0.5)).toBe(225_000);
  });

  it('signs HMAC-SHA256 over timestamp.body, as node:crypto computes it', () => {
    const body = '{"type":"EPCISQueryDocument","ü":1}';
    const expected = createHmac('sha256', 'secret-secret-secret').update(`1764000000.${body}`).digest('hex');
    expect(signDelivery('secret-secret-secret', 1764000000, body)).toBe(`sha256=${expected}`);
  });
});
