/**
 * Text rules for every string that can enter a hashed event body or a stored column.
 *
 * What is hashed must be exactly what is stored, so a string must be something both PostgreSQL and PGlite store
 * unchanged: well-formed UTF-16 (no lone surrogate, which a text column would turn into U+FFFD while the hashed
 * JSON keeps the `\udXXX` escape) and no NUL (PostgreSQL refuses U+0000 in text and jsonb). No Unicode
 * normalisation is applied: a valid string is stored and hashed as submitted (after the trimming each field
 * documents), so a verifier never has to know a normalisation form. Lengths count code points, not UTF-16 units.
 */
import { canonicalize } from './jcs.ts';

/** A refused input: the input path of the offending value and why. */
export interface TextProblem {
  field: string;
  message: string;
}

/** Bounds of free-form fields; every one is configurable (see the server configuration). */
export interface FieldLimits {
  /** Code points of a use note (recordUse, EPCIS `provenant:data.note`). */
  noteChars: number;
  /** Bytes of `readings` as canonical (RFC 8785) JSON. */
  readingsBytes: number;
  /** Code points of a reason (returnItems, destroyItems, recallBatch). */
  reasonChars: number;
  /** Code points of an event location (and a batch's production site). */
  locationChars: number;
  /** Code points of a recovered material's name. */
  materialNameChars: number;
  /** Entries of a recycle event's materials list. */
  materialsEntries: number;
  /** Bytes of a product's attributes as canonical JSON. */
  attributesBytes: number;
  /** Code points of a product name. */
  productNameChars: number;
  /** Code points of an actor name. */
  actorNameChars: number;
}

export const DEFAULT_FIELD_LIMITS: FieldLimits = {
  noteChars: 2_000,
  readingsBytes: 16 * 1024,
  reasonChars: 500,
  locationChars: 200,
  materialNameChars: 100,
  materialsEntries: 50,
  attributesBytes: 16 * 1024,
  productNameChars: 300,
  actorNameChars: 200,
};

/** Deepest nesting of a free-form JSON value (readings, attributes). */
export const MAX_JSON_DEPTH = 32;

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Why `value` cannot be stored exactly (lone surrogate, NUL), or undefined when it can. */
export function unicodeProblem(value: string): string | undefined {
  const surrogate = LONE_SURROGATE.exec(value);
  if (surrogate) {
    return `contains a lone UTF-16 surrogate (U+${surrogate[0].charCodeAt(0).toString(16).toUpperCase()}) at position ${surrogate.index + 1}: it is not valid Unicode`;
  }
  const nul = value.indexOf('\u0000');
  if (nul >= 0) return `contains a NUL character (U+0000) at position ${nul + 1}`;
  return undefined;
}

/** Number of Unicode code points of a well-formed string. */
export function codePointLength(value: string): number {
  let n = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < value.length) i++;
    n++;
  }
  return n;
}

/** Checks one string field: valid Unicode, no NUL and `min`..`max` code points. */
export function checkText(value: string, field: string, bounds: { min?: number; max: number }): TextProblem | undefined {
  const problem = unicodeProblem(value);
  if (problem) return { field, message: `${field} ${problem}` };
  const min = bounds.min ?? 0;
  const length = codePointLength(value);
  if (length < min || length > bounds.max) {
    return { field, message: `${field} must be ${min > 0 ? `${min} to ${bounds.max}` : `at most ${bounds.max}`} characters, got ${length}` };
  }
  return undefined;
}

/** Like {@link checkText} for an optional value: null and undefined pass. */
export const checkOptionalText = (value: string | null | undefined, field: string, bounds: { min?: number; max: number }) =>
  value === null || value === undefined ? undefined : checkText(value, field, bounds);

/**
 * Checks every key and string of a JSON value (recursively) for valid Unicode and no NUL, its nesting depth and,
 * when `maxBytes` is given, the size of its canonical JSON. Paths name the offending key, e.g. `readings.temp[2]`.
 */
export function checkJson(value: unknown, field: string, maxBytes?: number): TextProblem | undefined {
  const walk = (v: unknown, path: string, depth: number): TextProblem | undefined => {
    if (depth > MAX_JSON_DEPTH) return { field: path, message: `${field} is nested deeper than ${MAX_JSON_DEPTH} levels` };
    if (typeof v === 'string') {
      const p = unicodeProblem(v);
      return p ? { field: path, message: `${path} ${p}` } : undefined;
    }
    if (typeof v === 'number') return Number.isFinite(v) ? undefined : { field: path, message: `${path} must be a finite number` };
    if (v === null || typeof v === 'boolean') return undefined;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const p = walk(v[i], `${path}[${i}]`, depth + 1);
        if (p) return p;
      }
      return undefined;
    }
    if (typeof v === 'object') {
      for (const [k, child] of Object.entries(v as Record<string, unknown>)) {
        const keyProblem = unicodeProblem(k);
        if (keyProblem) return { field: `${path}.${JSON.stringify(k).slice(1, -1)}`, message: `a key of ${path} ${keyProblem}` };
        const p = walk(child, `${path}.${k}`, depth + 1);
        if (p) return p;
      }
      return undefined;
    }
    return { field: path, message: `${path} is not JSON` };
  };
  const problem = walk(value, field, 0);
  if (problem || maxBytes === undefined) return problem;
  const bytes = utf8Length(canonicalize(value));
  if (bytes > maxBytes) return { field, message: `${field} must be at most ${maxBytes} bytes as canonical JSON, got ${bytes}` };
  return undefined;
}

/** UTF-8 length of a well-formed string, without encoding it. */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/**
 * The content rules of a ledger event (any kind): its location and every field of its kind-specific data —
 * `note`, `readings`, `reason`, `materials` bounded by `limits`, every other key and string valid Unicode without
 * NUL. Returns the first problem found.
 */
export function checkEventContent(location: string | null, data: { [key: string]: unknown }, limits: FieldLimits): TextProblem | undefined {
  const loc = checkOptionalText(location, 'location', { max: limits.locationChars });
  if (loc) return loc;
  if (typeof data['note'] === 'string') {
    const p = checkText(data['note'], 'note', { max: limits.noteChars });
    if (p) return p;
  }
  if (typeof data['reason'] === 'string') {
    const p = checkText(data['reason'], 'reason', { max: limits.reasonChars });
    if (p) return p;
  }
  if (data['readings'] !== undefined) {
    const p = checkJson(data['readings'], 'readings', limits.readingsBytes);
    if (p) return p;
  }
  const materials = data['materials'];
  if (Array.isArray(materials)) {
    if (materials.length > limits.materialsEntries) return { field: 'materials', message: `at most ${limits.materialsEntries} materials per event, got ${materials.length}` };
    for (const [i, m] of materials.entries()) {
      const name = (m as { material?: unknown } | null)?.material;
      if (typeof name === 'string') {
        const p = checkText(name, `materials[${i}].material`, { min: 1, max: limits.materialNameChars });
        if (p) return p;
      }
    }
  }
  // Everything else (price, currency, container, custom EPCIS fields …), keys included: well-formed, at any depth.
  return checkJson(data, 'data');
}
