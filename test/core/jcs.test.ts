import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { canonicalize } from '../../src/core/jcs.ts';

const vectorDir = fileURLToPath(new URL('../vectors/ledger/jcs/', import.meta.url));
const names = readdirSync(`${vectorDir}input`).filter((n) => n.endsWith('.json')).sort();

describe('canonicalize: cyberphone/json-canonicalization golden pairs', () => {
  it('has the six upstream pairs', () => {
    expect(names).toEqual(['arrays.json', 'french.json', 'structures.json', 'unicode.json', 'values.json', 'weird.json']);
  });

  it.each(names)('%s is byte-exact', (name) => {
    const input: unknown = JSON.parse(readFileSync(`${vectorDir}input/${name}`, 'utf8'));
    const expectedBytes = readFileSync(`${vectorDir}output/${name}`);
    // The upstream output files carry no trailing newline, so they are compared byte for byte as they are.
    expect(expectedBytes.at(-1)).not.toBe(0x0a);
    const actualBytes = Buffer.from(canonicalize(input), 'utf8');
    expect(actualBytes.toString('utf8')).toBe(expectedBytes.toString('utf8'));
    expect(actualBytes.equals(expectedBytes)).toBe(true);
  });

  it('is idempotent on every vector output', () => {
    for (const name of names) {
      const expected = readFileSync(`${vectorDir}output/${name}`, 'utf8');
      expect(canonicalize(JSON.parse(expected))).toBe(expected);
    }
  });

  it('a corrupted expectation does not match (the comparison is not vacuous)', () => {
    const input: unknown = JSON.parse(readFileSync(`${vectorDir}input/arrays.json`, 'utf8'));
    const expected = readFileSync(`${vectorDir}output/arrays.json`, 'utf8');
    expect(canonicalize(input)).not.toBe(`${expected}\n`);
    expect(canonicalize(input)).not.toBe(expected.replace('"10"', '"01"'));
  });
});

describe('canonicalize: structure', () => {
  it('sorts keys by UTF-16 code units, recursively, not by locale or code point', () => {
    expect(canonicalize({ b: 1, a: { d: [{ z: 1, y: 2 }], c: null } })).toBe('{"a":{"c":null,"d":[{"y":2,"z":1}]},"b":1}');
    // U+10000 is the surrogate pair D800 DC00, which sorts before U+E000 in UTF-16 but after it by code point.
    expect(canonicalize({ '\uE000': 1, '\u{10000}': 2 })).toBe('{"\u{10000}":2,"\uE000":1}');
    expect(canonicalize({ a: 1, B: 2, _: 3, '1': 4, '': 5 })).toBe('{"":5,"1":4,"B":2,"_":3,"a":1}');
  });

  it('keeps array order and writes no whitespace', () => {
    expect(canonicalize([3, 1, 2, [], {}, [[]]])).toBe('[3,1,2,[],{},[[]]]');
    expect(canonicalize({ ' key ': ' v ' })).toBe('{" key ":" v "}');
  });

  it('serialises literals and top-level scalars', () => {
    expect(canonicalize(null)).toBe('null');
    expect(canonicalize(true)).toBe('true');
    expect(canonicalize(false)).toBe('false');
    expect(canonicalize('x')).toBe('"x"');
    expect(canonicalize(Object.create(null) as object)).toBe('{}');
  });

  it('ignores non-enumerable properties like JSON.stringify', () => {
    const o = { a: 1 };
    Object.defineProperty(o, 'hidden', { value: 2, enumerable: false });
    expect(canonicalize(o)).toBe('{"a":1}');
  });
});

describe('canonicalize: numbers (ES6 Number#toString)', () => {
  it.each<[number, string]>([
    [0, '0'],
    [-0, '0'],
    [1, '1'],
    [-1, '-1'],
    [4.5, '4.5'],
    [0.002, '0.002'],
    [1e-7, '1e-7'],
    [1e21, '1e+21'],
    [1e20, '100000000000000000000'],
    [333333333.33333329, '333333333.3333333'],
    [Number.MAX_SAFE_INTEGER, '9007199254740991'],
    [Number.MAX_VALUE, '1.7976931348623157e+308'],
    [Number.MIN_VALUE, '5e-324'],
    [0.1 + 0.2, '0.30000000000000004'],
  ])('%d → %s', (n, s) => {
    expect(canonicalize(n)).toBe(s);
    expect(canonicalize([n])).toBe(`[${s}]`);
  });
});

describe('canonicalize: strings', () => {
  it('escapes exactly like JSON.stringify', () => {
    const s = '"\\/\b\f\n\r\t\u0000\u001f\u007f\u0080é€😂</script>';
    expect(canonicalize(s)).toBe(JSON.stringify(s));
    expect(canonicalize(s)).toBe('"\\"\\\\/\\b\\f\\n\\r\\t\\u0000\\u001f\u007f\u0080é€😂</script>"');
  });

  it('does not normalise Unicode', () => {
    expect(canonicalize('A\u030a')).toBe('"A\u030a"');
    expect(canonicalize('A\u030a')).not.toBe(canonicalize('\u00c5'));
  });

  it('escapes lone surrogates as JSON.stringify does (well-formed JSON.stringify)', () => {
    expect(canonicalize('\ud800')).toBe('"\\ud800"');
    expect(canonicalize('a\udc00b')).toBe('"a\\udc00b"');
    expect(canonicalize({ '\udfff': '\ud83d' })).toBe('{"\\udfff":"\\ud83d"}');
    expect(canonicalize('\ud800')).toBe(JSON.stringify('\ud800'));
    // A well-formed pair is kept literally.
    expect(canonicalize('\ud83d\ude02')).toBe('"😂"');
  });
});

describe('canonicalize: rejects non-JSON values with a TypeError naming the path', () => {
  it.each<[string, () => unknown, RegExp]>([
    ['NaN', () => ({ a: { b: [1, Number.NaN] } }), /NaN at \$\.a\.b\[1\]/],
    ['Infinity', () => [Infinity], /Infinity at \$\[0\]/],
    ['-Infinity', () => ({ x: -Infinity }), /-Infinity at \$\.x/],
    ['undefined property', () => ({ a: 1, 'b c': undefined }), /undefined at \$\["b c"\]/],
    ['top-level undefined', () => undefined, /undefined at \$/],
    ['array hole', () => [1, , 3], /undefined at \$\[1\]/],
    ['function', () => ({ f: () => 1 }), /function at \$\.f/],
    ['bigint', () => ({ n: 10n }), /bigint at \$\.n/],
    ['symbol value', () => ({ s: Symbol('s') }), /symbol at \$\.s/],
    ['symbol key', () => ({ [Symbol('k')]: 1 }), /symbol-keyed property at \$/],
    ['Date', () => ({ at: new Date(0) }), /Date at \$\.at/],
    ['Map', () => [new Map()], /Map at \$\[0\]/],
    ['boxed string', () => ({ s: new String('x') }), /String at \$\.s/],
  ])('%s', (_label, make, message) => {
    const value = make();
    expect(() => canonicalize(value)).toThrow(TypeError);
    expect(() => canonicalize(value)).toThrow(message);
  });

  it('rejects cycles instead of overflowing the stack', () => {
    const a: Record<string, unknown> = { x: 1 };
    a['self'] = { back: a };
    expect(() => canonicalize(a)).toThrow(/cycle at \$\.self\.back/);
  });

  it('accepts the same object twice when it is not a cycle', () => {
    const shared = { k: 1 };
    expect(canonicalize({ a: shared, b: [shared] })).toBe('{"a":{"k":1},"b":[{"k":1}]}');
  });
});
