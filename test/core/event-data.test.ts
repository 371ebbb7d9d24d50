import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { dataPath } from '../../src/core/epcis-import.ts';
import { KIND_DATA_FIELDS, kindData } from '../../src/core/event-data.ts';

const fields = (r: ReturnType<typeof kindData>) => (r.ok ? [] : r.error.map((p) => p.field));

describe('kindData: what data each ledger kind records (GraphQL and EPCIS capture alike)', () => {
  it('SELL: a price needs an ISO 4217 currency; a currency never stands alone, even an empty one', () => {
    expect(kindData('SELL', { price: 9.5, currency: 'EUR' })).toEqual({ ok: true, value: { price: 9.5, currency: 'EUR' } });
    expect(kindData('SELL', { price: null, currency: null })).toEqual({ ok: true, value: {} });
    expect(fields(kindData('SELL', { currency: '' }))).toEqual(['currency']);
    expect(fields(kindData('SELL', { price: -1, currency: 'EUR' }))).toEqual(['price']);
    expect(fields(kindData('SELL', { price: '9', currency: 'EUR' }))).toEqual(['price']);
    expect(fields(kindData('SELL', { price: 9, currency: 'eur' }))).toEqual(['currency']);
  });

  it('use kinds keep a trimmed note and a readings object', () => {
    expect(kindData('USE_REPORT', { note: '  ok  ', readings: { t: 4 } })).toEqual({ ok: true, value: { note: 'ok', readings: { t: 4 } } });
    expect(kindData('ACTIVATE', { note: '   ' })).toEqual({ ok: true, value: {} });
    expect(fields(kindData('SERVICE', { note: 3, readings: [1] }))).toEqual(['note', 'readings']);
  });

  it('RECYCLE: every material checked and reported by index; none given records an empty list', () => {
    expect(kindData('RECYCLE', {})).toEqual({ ok: true, value: { materials: [] } });
    expect(kindData('RECYCLE', { materials: [{ material: ' Cu ', massKg: 0.5 }] })).toEqual({ ok: true, value: { materials: [{ material: 'Cu', massKg: 0.5 }] } });
    expect(fields(kindData('RECYCLE', { materials: [{ material: '', massKg: 0 }, 'x', { material: 'Al', massKg: 1, lot: 2 }] })))
      .toEqual(['materials[0].material', 'materials[0].massKg', 'materials[1]', 'materials[2].lot']);
    expect(fields(kindData('RECYCLE', { materials: 'Al' }))).toEqual(['materials']);
  });

  it('a field outside the kind is refused, naming the kind\'s fields', () => {
    const r = kindData('SHIP', { price: 1 });
    expect(r).toEqual({ ok: false, error: [{ field: 'price', message: 'price is not a field of SHIP (it has none)' }] });
    expect(fields(kindData('DESTROY', { reason: 'x', note: 'y' }))).toEqual(['note']);
    expect(KIND_DATA_FIELDS.RETURN).toEqual(['reason']);
  });
});

describe('EPCIS import: where a data problem came from', () => {
  it('maps a data field path to the EPCIS path it was taken from (structured paths, not messages)', () => {
    expect(dataPath({ fields: {} }, 'materials[1].massKg')).toBe('provenant:data.materials[1].massKg');
    expect(dataPath({ fields: { price: 'provenant:price' } }, 'price')).toBe('provenant:price');
    expect(dataPath({ fields: { readings: 'sensorElementList' } }, 'readings.t[0]')).toBe('sensorElementList.t[0]');
    // Materials read from outputQuantityList: entry 1 of the materials is entry 2 of the list (entry 1 was refused).
    const fromList = { fields: {}, materialsFrom: { list: 'outputQuantityList', index: [0, 2] } };
    expect(dataPath(fromList, 'materials[1].massKg')).toBe('outputQuantityList[2].quantity');
    expect(dataPath(fromList, 'materials[0].material')).toBe('outputQuantityList[0].epcClass');
    expect(dataPath(fromList, 'materials')).toBe('outputQuantityList');
  });

  it('cbv.ts, event-data.ts and epcis-import.ts are pure core: they import only other core files and read no clock', () => {
    for (const file of ['cbv.ts', 'event-data.ts', 'epcis-import.ts']) {
      const source = readFileSync(fileURLToPath(new URL(`../../src/core/${file}`, import.meta.url)), 'utf8');
      const imports = [...source.matchAll(/^import .* from '([^']+)';$/gm)].map((m) => m[1]!);
      expect(imports.filter((i) => !/^\.\/[a-z0-9-]+\.ts$/.test(i)), file).toEqual([]);
      expect(source, file).not.toMatch(/Date\.now|new Date\(/);
    }
  });
});
