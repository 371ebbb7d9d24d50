/**
 * What `data` each ledger kind records: the one rule shared by the GraphQL mutations (through `recordEvent`) and EPCIS
 * capture (`epcis-import.ts`), so the two write paths cannot accept different data for the same kind. Pure.
 *
 * Lengths and Unicode of the strings kept here (note, reason, material names) are bounded separately by the configured
 * field limits (`text.ts` `checkEventContent`), in code points.
 */
import type { JsonValue } from './chain.ts';
import type { LedgerKind } from './lifecycle.ts';
import { type Result, err, ok } from './result.ts';

/** The fields a caller may give for each kind (COMMISSION / PACK / UNPACK data is derived by the ledger itself). */
export const KIND_DATA_FIELDS: Readonly<Record<LedgerKind, readonly string[]>> = {
  COMMISSION: ['gtin', 'lot'],
  SHIP: [],
  RECEIVE: [],
  SELL: ['price', 'currency'],
  ACTIVATE: ['note', 'readings'],
  SERVICE: ['note', 'readings'],
  USE_REPORT: ['note', 'readings'],
  RETURN: ['reason'],
  RECALL: ['reason'],
  RECYCLE: ['materials'],
  DESTROY: ['reason'],
  PACK: ['container', 'containers'],
  UNPACK: ['container'],
};

/** One refused field: `field` is a path inside the data (`price`, `materials[1].massKg`). */
export interface DataProblem {
  field: string;
  message: string;
}

type Data = { [key: string]: JsonValue };

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const given = (v: unknown): boolean => v !== undefined && v !== null;

/**
 * The data recorded for `kind` from what a caller gave (absent and null fields are "not given"), or every problem:
 * - a field outside {@link KIND_DATA_FIELDS};
 * - SELL: `price` a non-negative number and then `currency` an ISO 4217 code (three capitals); a currency without a price;
 * - ACTIVATE / SERVICE / USE_REPORT: `note` a string (kept trimmed, dropped when blank), `readings` a JSON object;
 * - RETURN / RECALL / DESTROY: `reason` a string (kept trimmed, dropped when blank);
 * - RECYCLE: `materials` a list of `{material, massKg}` (no other keys): material a non-blank string (kept trimmed),
 *   massKg a positive number; recorded as `materials: []` when none are given.
 * COMMISSION / PACK / UNPACK data is passed through: the ledger derives it and its callers check it against the event.
 */
export function kindData(kind: LedgerKind, input: { readonly [key: string]: unknown }): Result<Data, DataProblem[]> {
  const problems: DataProblem[] = [];
  const fail = (field: string, message: string) => void problems.push({ field, message });
  const allowed = KIND_DATA_FIELDS[kind];
  for (const k of Object.keys(input)) {
    if (!allowed.includes(k)) fail(k, `${k} is not a field of ${kind}${allowed.length ? ` (its fields: ${allowed.join(', ')})` : ' (it has none)'}`);
  }
  const out: Data = {};
  const text = (key: string) => {
    const v = input[key];
    if (!given(v)) return;
    if (typeof v !== 'string') return fail(key, `${key} must be a string`);
    if (v.trim()) out[key] = v.trim();
  };
  switch (kind) {
    case 'SELL': {
      const { price, currency } = input;
      if (given(price)) {
        if (typeof price !== 'number' || !Number.isFinite(price) || price < 0) fail('price', 'price must be a non-negative number');
        else if (typeof currency !== 'string' || !/^[A-Z]{3}$/.test(currency)) fail('currency', 'currency must be an ISO 4217 code such as EUR when a price is given');
        else Object.assign(out, { price, currency });
      } else if (given(currency)) {
        // Any currency, even an empty one: a currency is never recorded without the price it qualifies.
        fail('currency', 'currency without price');
      }
      break;
    }
    case 'ACTIVATE':
    case 'SERVICE':
    case 'USE_REPORT': {
      text('note');
      const readings = input['readings'];
      if (given(readings)) {
        if (!isObject(readings)) fail('readings', 'readings must be a JSON object');
        else out['readings'] = readings as Data;
      }
      break;
    }
    case 'RETURN':
    case 'RECALL':
    case 'DESTROY':
      text('reason');
      break;
    case 'RECYCLE': {
      const materials = input['materials'];
      const kept: { material: string; massKg: number }[] = [];
      if (given(materials) && !Array.isArray(materials)) fail('materials', 'materials must be a list of {material, massKg}');
      else {
        ((materials ?? []) as unknown[]).forEach((m, i) => {
          if (!isObject(m)) return fail(`materials[${i}]`, 'a material must be an object {material, massKg}');
          for (const k of Object.keys(m)) if (k !== 'material' && k !== 'massKg') fail(`materials[${i}].${k}`, `${k} is not a field of a recovered material (material, massKg)`);
          const { material, massKg } = m;
          const name = typeof material === 'string' ? material.trim() : '';
          if (!name) fail(`materials[${i}].material`, 'material must not be empty');
          if (typeof massKg !== 'number' || !Number.isFinite(massKg) || massKg <= 0) fail(`materials[${i}].massKg`, 'massKg must be a positive number');
          else if (name) kept.push({ material: name, massKg });
        });
      }
      out['materials'] = kept;
      break;
    }
    case 'COMMISSION':
    case 'PACK':
    case 'UNPACK':
      for (const k of allowed) if (input[k] !== undefined) out[k] = input[k] as JsonValue;
      break;
    default:
      break;
  }
  return problems.length > 0 ? err(problems) : ok(out);
}
