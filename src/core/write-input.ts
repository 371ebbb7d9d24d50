/**
 * The shared input checks of every write, driven by a declaration of the input's text fields and instants instead of
 * code in each use case: text bounds and Unicode (core/text.ts), instants parsed as RFC 3339 with an offset and not
 * further ahead of the server clock than the allowed skew, free-form JSON bounded in depth and size, and the
 * idempotency key. Pure: the clock reading (`now`) and the limits come in as values.
 */
import { type ValidationFailure, invalid } from './failures.ts';
import { type Result, err, ok } from './result.ts';
import { DEFAULT_FIELD_LIMITS, type FieldLimits, checkJson, checkText } from './text.ts';
import { type OccurrenceTime, parseOccurrenceTime } from './time.ts';

/** What a field check may consult: the server clock read once per write, the allowed skew and the field bounds. */
export interface InputContext {
  now: Date;
  maxClockSkewMs: number;
  limits: FieldLimits;
}

/** One declared field: checks the submitted value (named `field` in a failure) and returns what the write uses. */
export interface FieldRule<T> {
  check(value: unknown, field: string, ctx: InputContext): Result<T, ValidationFailure>;
}

/** A bound given as a number or as the name of a configurable limit (`FieldLimits`). */
export type Bound = number | { [K in keyof FieldLimits]: FieldLimits[K] extends number ? K : never }[keyof FieldLimits];
const boundOf = (b: Bound, limits: FieldLimits): number => (typeof b === 'number' ? b : limits[b]);

export interface TextOptions {
  /** Least code points (default 0). */
  min?: number;
  max: Bound;
  /** Trim surrounding white space before checking (what is stored is the trimmed text). */
  trim?: boolean;
}

/** A required string: valid Unicode, no NUL, `min`..`max` code points (after trimming when `trim`). */
export const text = (o: TextOptions): FieldRule<string> => ({
  check(value, field, ctx) {
    if (typeof value !== 'string') return err(invalid(field, `${field} must be a string`));
    const v = o.trim ? value.trim() : value;
    const problem = checkText(v, field, { min: o.min ?? 0, max: boundOf(o.max, ctx.limits) });
    return problem ? err(invalid(problem.field, problem.message)) : ok(v);
  },
});

/**
 * An optional string: null and undefined give null; otherwise as {@link text}. With `emptyIsNull`, a value that is
 * empty (after trimming) gives null too (a blank location is no location).
 */
export const optionalText = (o: TextOptions & { emptyIsNull?: boolean }): FieldRule<string | null> => ({
  check(value, field, ctx) {
    if (value === null || value === undefined) return ok(null);
    if (o.emptyIsNull && typeof value === 'string' && (o.trim ? value.trim() : value) === '') return ok(null);
    return text(o).check(value, field, ctx);
  },
});

/**
 * A required instant (RFC 3339 with an offset) at most `maxClockSkewMs` ahead of `now`: the message is the same for
 * every write. `notFuture: false` accepts any instant in range (an expiry).
 */
export const instant = (o: { notFuture?: boolean } = {}): FieldRule<OccurrenceTime> => ({
  check(value, field, ctx) {
    if (typeof value !== 'string') return err(invalid(field, `${field} must be a timestamp`));
    const t = parseOccurrenceTime(value);
    if (!t.ok) return err(invalid(field, t.error));
    if ((o.notFuture ?? true) && t.value.instant.getTime() > ctx.now.getTime() + ctx.maxClockSkewMs) {
      return err(invalid(field, `${field} is in the future (more than ${ctx.maxClockSkewMs} ms ahead of the server clock)`));
    }
    return ok(t.value);
  },
});

/** An optional instant: null, undefined and the empty string give null; otherwise as {@link instant}. */
export const optionalInstant = (o: { notFuture?: boolean } = {}): FieldRule<OccurrenceTime | null> => ({
  check: (value, field, ctx) => (value === null || value === undefined || value === '' ? ok(null) : instant(o).check(value, field, ctx)),
});

/** Free-form JSON (every key and string valid Unicode, bounded depth) of at most `maxBytes` as canonical JSON. */
export const json = (o: { maxBytes?: Bound } = {}): FieldRule<unknown> => ({
  check(value, field, ctx) {
    const problem = checkJson(value, field, o.maxBytes === undefined ? undefined : boundOf(o.maxBytes, ctx.limits));
    return problem ? err(invalid(problem.field, problem.message)) : ok(value);
  },
});

/** Declared fields of an input, by the input's key. */
export type InputDeclaration = Record<string, FieldRule<unknown>>;
/** What a declaration yields: each declared field as its rule returns it. */
export type CheckedFields<D extends InputDeclaration> = { [K in keyof D]: D[K] extends FieldRule<infer T> ? T : never };

/**
 * Checks the declared fields of `input` in declaration order and returns the first failure or every field as checked.
 * Fields not declared are left to the use case's own (core) checks.
 */
export function checkDeclared<D extends InputDeclaration>(declaration: D, input: object, ctx: InputContext): Result<CheckedFields<D>, ValidationFailure> {
  const out: Record<string, unknown> = {};
  for (const [key, rule] of Object.entries(declaration)) {
    const r = rule.check((input as Record<string, unknown>)[key], key, ctx);
    if (!r.ok) return r;
    out[key] = r.value;
  }
  return ok(out as CheckedFields<D>);
}

/** Code points an idempotency key may have. */
export const IDEMPOTENCY_KEY_CHARS = { min: 1, max: 200 } as const;

/** The one rule for an idempotency key, the same on every write: absent (null), or 1–200 code points of valid text. */
export function checkIdempotencyKey(key: string | null | undefined): ValidationFailure | undefined {
  if (key === null || key === undefined) return undefined;
  const problem = checkText(key, 'idempotencyKey', IDEMPOTENCY_KEY_CHARS);
  return problem ? invalid(problem.field, problem.message) : undefined;
}

/** The context of a write checked with the default limits (tests, tools). */
export const inputContext = (now: Date, maxClockSkewMs: number, limits: FieldLimits = DEFAULT_FIELD_LIMITS): InputContext => ({ now, maxClockSkewMs, limits });
