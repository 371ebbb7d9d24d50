import { describe, expect, it } from 'vitest';
import { DEFAULT_FIELD_LIMITS } from '../../src/core/text.ts';
import { checkDeclared, checkIdempotencyKey, inputContext, instant, json, optionalInstant, optionalText, text } from '../../src/core/write-input.ts';

// The declared input checks every write shares (core/write-input.ts): one rule per kind of field, one message each.
const NOW = new Date('2026-06-01T12:00:00.000Z');
const ctx = inputContext(NOW, 60_000, { ...DEFAULT_FIELD_LIMITS, reasonChars: 5 });
const FIELDS = {
  reason: text({ min: 1, max: 'reasonChars', trim: true }),
  location: optionalText({ max: 10, trim: true, emptyIsNull: true }),
  occurredAt: instant(),
  expiresAt: optionalInstant({ notFuture: false }),
  readings: json({ maxBytes: 20 }),
};

describe('declared input checks', () => {
  it('returns every declared field as checked: trimmed text, blank optional text as null, parsed instants', () => {
    const r = checkDeclared(FIELDS, { reason: '  oops ', location: '   ', occurredAt: '2026-06-01T14:00:30+02:00', readings: { t: 1 }, other: 'ignored' }, ctx);
    expect(r).toEqual({ ok: true, value: { reason: 'oops', location: null, occurredAt: { instant: new Date('2026-06-01T12:00:30.000Z'), offset: '+02:00' }, expiresAt: null, readings: { t: 1 } } });
  });

  it('refuses in declaration order with the field named and one message per rule', () => {
    const base = { reason: 'ok', occurredAt: '2026-06-01T12:00:00Z', readings: {} };
    const failure = (input: Record<string, unknown>) => {
      const r = checkDeclared(FIELDS, input, ctx);
      return r.ok ? null : r.error;
    };
    expect(failure({ ...base, reason: '   ' })).toMatchObject({ kind: 'ValidationError', field: 'reason', message: 'reason must be 1 to 5 characters, got 0' });
    expect(failure({ ...base, reason: 'toolong' })).toMatchObject({ field: 'reason' });
    expect(failure({ ...base, location: 'a\u0000b' })).toMatchObject({ field: 'location', message: expect.stringMatching(/NUL/) });
    // At most the skew ahead of the clock; one millisecond more is refused, with the skew in the message.
    expect(failure({ ...base, occurredAt: '2026-06-01T12:01:00.000Z' })).toBeNull();
    expect(failure({ ...base, occurredAt: '2026-06-01T12:01:00.001Z' })).toMatchObject({
      field: 'occurredAt', message: 'occurredAt is in the future (more than 60000 ms ahead of the server clock)',
    });
    expect(failure({ ...base, occurredAt: '2026-06-01 12:00' })).toMatchObject({ field: 'occurredAt' });
    expect(failure({ ...base, expiresAt: '2030-01-01T00:00:00Z' })).toBeNull();
    expect(failure({ ...base, readings: { text: 'x'.repeat(30) } })).toMatchObject({ field: 'readings', message: expect.stringMatching(/at most 20 bytes/) });
    expect(failure({ ...base, reason: 'toolong', occurredAt: 'nope' })).toMatchObject({ field: 'reason' });
  });

  it('judges an idempotency key the same way for every write: absent, or 1 to 200 characters of valid text', () => {
    expect(checkIdempotencyKey(null)).toBeUndefined();
    expect(checkIdempotencyKey(undefined)).toBeUndefined();
    expect(checkIdempotencyKey('k'.repeat(200))).toBeUndefined();
    expect(checkIdempotencyKey('😀'.repeat(200))).toBeUndefined();
    expect(checkIdempotencyKey('')).toMatchObject({ kind: 'ValidationError', field: 'idempotencyKey' });
    expect(checkIdempotencyKey('k'.repeat(201))).toMatchObject({ field: 'idempotencyKey', message: 'idempotencyKey must be 1 to 200 characters, got 201' });
    expect(checkIdempotencyKey('x\ud800')).toMatchObject({ field: 'idempotencyKey' });
  });
});
