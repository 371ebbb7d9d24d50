import { describe, expect, it } from 'vitest';
import { DEFAULT_FIELD_LIMITS, checkEventContent, checkJson, checkText, codePointLength, unicodeProblem, utf8Length } from '../../src/core/text.ts';

describe('core text rules', () => {
  it('refuses lone surrogates (high, low, reversed pair) and NUL; accepts pairs, RTL override, BOM and ZWJ emoji', () => {
    for (const bad of ['\ud800', 'a\ud800b', '\udc00', 'x\udc00', '\udc00\ud800', 'a\u0000']) expect(unicodeProblem(bad), JSON.stringify(bad)).toBeDefined();
    expect(unicodeProblem('\ud800x')).toMatch(/lone UTF-16 surrogate \(U\+D800\) at position 1/);
    expect(unicodeProblem('ab\u0000')).toMatch(/NUL .* at position 3/);
    for (const good of ['', 'plain', '\ud83d\udce6', 'abc\u202edcba', '\ufeffBOM', '👩‍👩‍👧‍👦', '🏳️‍🌈']) expect(unicodeProblem(good), good).toBeUndefined();
  });

  it('counts code points and UTF-8 bytes', () => {
    expect(codePointLength('📦📦')).toBe(2);
    expect(codePointLength('👩‍👧')).toBe(3); // woman, ZWJ, girl
    expect(utf8Length('a€📦')).toBe(1 + 3 + 4);
    expect(utf8Length('a€📦')).toBe(new TextEncoder().encode('a€📦').length);
  });

  it('checkText bounds by code points and names the field', () => {
    expect(checkText('📦'.repeat(10), 'note', { max: 10 })).toBeUndefined();
    expect(checkText('📦'.repeat(11), 'note', { max: 10 })).toEqual({ field: 'note', message: 'note must be at most 10 characters, got 11' });
    expect(checkText('', 'name', { min: 1, max: 5 })?.message).toBe('name must be 1 to 5 characters, got 0');
    expect(checkText('a\u0000', 'lot', { max: 5 })?.field).toBe('lot');
  });

  it('checkJson walks keys and strings at any depth, bounds depth and canonical size', () => {
    expect(checkJson({ a: [1, { b: 'x\ud800' }] }, 'readings')).toMatchObject({ field: 'readings.a[1].b' });
    expect(checkJson({ ['k\u0000']: 1 }, 'readings')).toMatchObject({ field: 'readings.k\\u0000' });
    let deep: unknown = 1;
    for (let i = 0; i < 40; i++) deep = { d: deep };
    expect(checkJson(deep, 'readings')?.message).toMatch(/nested deeper than 32/);
    expect(checkJson({ s: 'x'.repeat(100) }, 'readings', 100)?.message).toMatch(/at most 100 bytes as canonical JSON, got 108/);
    expect(checkJson({ s: 'x'.repeat(92) }, 'readings', 100)).toBeUndefined();
  });

  it('checkEventContent applies the limits to location, note, reason, readings, materials and every other data string', () => {
    const L = DEFAULT_FIELD_LIMITS;
    expect(checkEventContent('l'.repeat(201), {}, L)?.field).toBe('location');
    expect(checkEventContent(null, { note: 'n'.repeat(2001) }, L)?.field).toBe('note');
    expect(checkEventContent(null, { reason: 'r'.repeat(501) }, L)?.field).toBe('reason');
    expect(checkEventContent(null, { materials: Array.from({ length: 51 }, () => ({ material: 'x', massKg: 1 })) }, L)?.field).toBe('materials');
    expect(checkEventContent(null, { materials: [{ material: '\udc00', massKg: 1 }] }, L)?.field).toBe('materials[0].material');
    expect(checkEventContent(null, { container: 'x\u0000' }, L)?.field).toBe('data.container');
    expect(checkEventContent('Dock 🚢', { note: 'ok', readings: { t: 21.5 } }, L)).toBeUndefined();
  });
});
