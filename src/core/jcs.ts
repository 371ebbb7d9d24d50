/**
 * RFC 8785 JSON Canonicalization Scheme (JCS).
 *
 * Content hashes are computed over these bytes, and the offline verifier must reproduce them in any
 * runtime, so nothing here may depend on implicit conversions (toJSON, Map/Date coercion, dropping
 * `undefined`) that differ between callers or would silently change what was hashed.
 */

/**
 * Serialises a JSON value canonically: object keys sorted by UTF-16 code units, numbers in ES6
 * `Number#toString` form (-0 becomes `0`), strings escaped exactly as `JSON.stringify` escapes them
 * (lone surrogates included, as `\udXXX`), no whitespace.
 *
 * Precondition: `value` is already-validated JSON data made of null, booleans, finite numbers, strings,
 * arrays and plain objects (prototype `Object.prototype` or `null`).
 * @throws TypeError naming the JSON path (e.g. `$.items[2].mass`) of the first value that is not JSON:
 * NaN/±Infinity, undefined (also array holes), functions, bigint, symbols (also symbol keys),
 * non-plain objects such as Date or Map, and cycles. Reaching one is a programming error, not bad input.
 */
export function canonicalize(value: unknown): string {
  const parts: string[] = [];
  write(value, [], parts, new Set());
  return parts.join('');
}

// The path to the value being written, as keys and indexes: formatted only for an error (building a path string for
// every member cost more than writing it).
type Path = (string | number)[];

function write(value: unknown, path: Path, out: string[], ancestors: Set<object>): void {
  switch (typeof value) {
    case 'string':
      out.push(JSON.stringify(value));
      return;
    case 'boolean':
      out.push(value ? 'true' : 'false');
      return;
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`canonicalize: ${String(value)} at ${pathText(path)} is not a JSON number`);
      // ES6 Number#toString is exactly the serialisation RFC 8785 §3.2.2.3 mandates; it already maps -0 to "0".
      out.push(String(value));
      return;
    case 'object':
      if (value === null) {
        out.push('null');
        return;
      }
      break;
    default:
      throw new TypeError(`canonicalize: ${typeof value} at ${pathText(path)} is not a JSON value`);
  }

  if (ancestors.has(value)) throw new TypeError(`canonicalize: cycle at ${pathText(path)}`);
  ancestors.add(value);
  if (Array.isArray(value)) {
    out.push('[');
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out.push(',');
      // Holes read as undefined and are rejected like any undefined, rather than becoming null as in JSON.stringify.
      path.push(i);
      write(value[i], path, out, ancestors);
      path.pop();
    }
    out.push(']');
  } else {
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
      throw new TypeError(`canonicalize: ${typeof name === 'string' ? name : 'non-plain object'} at ${pathText(path)} is not a plain JSON object`);
    }
    if (Object.getOwnPropertySymbols(value).length > 0) throw new TypeError(`canonicalize: symbol-keyed property at ${pathText(path)}`);
    const record = value as Record<string, unknown>;
    // Plain `<` on strings compares UTF-16 code units, which is the order RFC 8785 §3.2.3 requires (not locale order).
    const keys = Object.keys(record).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    out.push('{');
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      if (i > 0) out.push(',');
      out.push(JSON.stringify(key), ':');
      path.push(key);
      write(record[key], path, out, ancestors);
      path.pop();
    }
    out.push('}');
  }
  ancestors.delete(value);
}

/** `$.items[2].mass`, `$["odd key"]`: the JSON path of `path`. */
function pathText(path: Path): string {
  let s = '$';
  for (const k of path) s += typeof k === 'number' ? `[${k}]` : /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(k) ? `.${k}` : `[${JSON.stringify(k)}]`;
  return s;
}
