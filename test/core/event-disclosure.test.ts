import { describe, expect, it } from 'vitest';
import { epcisEventHashId } from '../../src/core/epcis-hash.ts';
import { DOCUMENT_CONTEXT, type ExportableEvent, projectExportable, toEpcisEvent } from '../../src/core/epcis-export.ts';
import {
  bodyFormatOf, bodyShown, combinedFieldTier, eventFieldNames, mergedOverrides, overridesAcrossProducts, projectContent, toTierOverrides, validatePolicy, withheldFields,
} from '../../src/core/event-disclosure.ts';
import { type ReaderFacts, tierOfReader } from '../../src/core/reader-tier.ts';
import { discloseEvent } from '../../src/core/v2/disclosure.ts';

const none: ReaderFacts = { operator: false, allProducts: false, auditor: false, brandOwner: false, grantee: false, party: false, holderInWindow: false };

describe('tierOfReader', () => {
  it('operator, all-products grantees and auditors under a grant are authorities', () => {
    expect(tierOfReader({ ...none, operator: true })).toBe('authorities');
    expect(tierOfReader({ ...none, allProducts: true })).toBe('authorities');
    expect(tierOfReader({ ...none, auditor: true, grantee: true })).toBe('authorities');
  });
  it('the brand, grantees, the event\'s parties and holders in their window are participants; anyone else public', () => {
    for (const k of ['brandOwner', 'grantee', 'party', 'holderInWindow'] as const) expect(tierOfReader({ ...none, [k]: true })).toBe('participants');
    expect(tierOfReader({ ...none, auditor: true })).toBe('public');
    expect(tierOfReader(none)).toBe('public');
  });
});

describe('validatePolicy', () => {
  it('accepts known fields, kinds and tiers, sorted; names the offending input', () => {
    const r = validatePolicy([{ field: 'price', kind: 'SELL', tier: 'public' }, { field: 'note', tier: 'authorities' }]);
    expect(r).toEqual({ ok: true, value: [{ field: 'note', kind: null, tier: 'authorities' }, { field: 'price', kind: 'SELL', tier: 'public' }] });
    expect(validatePolicy([{ field: 'Price', tier: 'public' }])).toMatchObject({ ok: false, error: { field: 'overrides[0].field' } });
    expect(validatePolicy([{ field: 'price', kind: 'sell', tier: 'public' }])).toMatchObject({ ok: false, error: { field: 'overrides[0].kind' } });
    expect(validatePolicy([{ field: 'price', tier: 'everyone' }])).toMatchObject({ ok: false, error: { field: 'overrides[0].tier' } });
    expect(validatePolicy([{ field: 'price', kind: 'SELL', tier: 'public' }, { field: 'price', kind: 'SELL', tier: 'authorities' }])).toMatchObject({ ok: false, error: { field: 'overrides[1]' } });
    expect(validatePolicy(Array.from({ length: 101 }, () => ({ field: 'price', tier: 'public' })))).toMatchObject({ ok: false, error: { field: 'overrides' } });
    expect(validatePolicy([{ field: 'reason', kind: 'ERASE', tier: 'authorities' }]).ok).toBe(true);
  });
});

describe('withheld fields', () => {
  const sell = { kind: 'SELL', actorId: 'shop', location: 'Till 1', counterpartyId: 'ann', data: { price: 25, currency: 'EUR' } };
  it('names the counterparty of SELL "buyer" and of others "counterparty"', () => {
    expect(eventFieldNames(sell)).toEqual(['actor', 'buyer', 'currency', 'location', 'price']);
    expect(eventFieldNames({ ...sell, kind: 'SHIP', data: {} })).toEqual(['actor', 'counterparty', 'location']);
  });
  it('defaults, per-product overrides, and the strictest product policy of a mixed event', () => {
    expect(withheldFields(sell, 'public', [])).toEqual(['buyer', 'currency', 'price']);
    expect(withheldFields(sell, 'participants', [])).toEqual([]);
    const strict = toTierOverrides([{ field: 'price', kind: null, tier: 'authorities' }]);
    const open = toTierOverrides([{ field: 'buyer', kind: 'SELL', tier: 'public' }, { field: 'price', kind: 'SELL', tier: 'public' }]);
    expect(withheldFields(sell, 'public', [open])).toEqual(['currency']);
    expect(withheldFields(sell, 'participants', [strict, open])).toEqual(['price']);
    expect(combinedFieldTier('SELL', 'price', [open, strict])).toBe('authorities');
    // KIND.field beats field.
    expect(combinedFieldTier('SELL', 'price', [toTierOverrides([{ field: 'price', kind: null, tier: 'authorities' }, { field: 'price', kind: 'SELL', tier: 'public' }])])).toBe('public');
    expect(withheldFields({ kind: 'ACTIVATE', actorId: 'ann', location: null, counterpartyId: null, data: { note: 'x' } }, 'public', [{}])).toEqual(['actor', 'note']);
  });
  it('a merged map gives bundles (discloseEvent) the same decision for a mixed-product event', () => {
    const a = toTierOverrides([{ field: 'price', kind: null, tier: 'authorities' }]);
    const b = toTierOverrides([{ field: 'buyer', kind: 'SELL', tier: 'public' }, { field: 'price', kind: 'SELL', tier: 'public' }]);
    const fields = { buyer: { value: 'ann', salt: '00'.repeat(16) }, price: { value: 25, salt: '01'.repeat(16) }, note: { value: 'x', salt: '02'.repeat(16) } };
    const map = mergedOverrides('SELL', Object.keys(fields), [a, b]);
    for (const tier of ['public', 'participants', 'authorities'] as const) {
      const shown = discloseEvent({ kind: 'SELL', fields }, tier, map);
      const withheld = Object.keys(shown).filter((k) => 'withheld' in shown[k]!).sort();
      expect(withheld).toEqual(['buyer', 'note', 'price'].filter((f) => ['public', 'participants', 'authorities'].indexOf(tier) < ['public', 'participants', 'authorities'].indexOf(combinedFieldTier('SELL', f, [a, b]))));
    }
  });
  it('projects the content without the withheld fields', () => {
    expect(projectContent(sell, ['buyer', 'price'])).toEqual({ kind: 'SELL', actorId: 'shop', location: 'Till 1', counterpartyId: null, data: { currency: 'EUR' } });
    expect(projectContent(sell, [])).toBe(sell);
  });
  it('shows a v1 body only to a reader who sees every item; a v2 body always', () => {
    expect(bodyShown('v1', 2, 4)).toBe(false);
    expect(bodyShown('v1', 4, 4)).toBe(true);
    expect(bodyShown('v1', 4, 4, 1)).toBe(false);
    expect(bodyShown('v2', 4, 4, 3)).toBe(true);
    expect(bodyShown('v2', 0, 4)).toBe(true);
    expect(bodyFormatOf('{"actor":"x","counterparty":null}')).toBe('v1');
    expect(bodyFormatOf(`{"fields":{"actor":"${'a'.repeat(64)}"},"format":"provenant/event/v2","items":"${'b'.repeat(64)}"}`)).toBe('v2');
    expect(bodyFormatOf('{"actor":"x","data":{"note":"{\\"fields\\":{},\\"format\\":\\"provenant/event/v2\\""}}')).toBe('v1');
  });
});

describe('overridesAcrossProducts (public bundles of chains shared by several products)', () => {
  const sell = { kind: 'SELL' as const, fields: {
    buyer: { value: 'b', salt: '0'.repeat(32) }, price: { value: 1, salt: '1'.repeat(32) }, location: { value: 'Shop', salt: '2'.repeat(32) },
  } };
  const opened = (o: Parameters<typeof discloseEvent>[2]) => Object.entries(discloseEvent(sell, 'public', o)).filter(([, d]) => 'value' in d).map(([f]) => f);

  it('one brand lowering a field does not open it while another product in the chain keeps the default; raising by either wins', () => {
    const lowers = [{ field: 'buyer', kind: 'SELL' as const, tier: 'public' as const }];
    const raises = [{ field: 'location', kind: null, tier: 'participants' as const }];
    expect(opened(overridesAcrossProducts([lowers]))).toEqual(['buyer', 'location']);
    expect(opened(overridesAcrossProducts([lowers, []]))).toEqual(['location']);
    expect(opened(overridesAcrossProducts([lowers, raises]))).toEqual([]);
    expect(opened(overridesAcrossProducts([[], []]))).toEqual(['location']);
    expect(overridesAcrossProducts([])).toEqual({});
  });
});

describe('EPCIS projection', () => {
  const e: ExportableEvent = {
    body: {
      kind: 'SELL', actor: 'shop', occurredAt: '2026-03-01T10:00:00.000Z', timezoneOffset: '+01:00', recordedAt: '2026-03-01T10:00:01.000Z',
      location: '4012345000009', counterparty: 'ann', data: { price: 25, currency: 'EUR' },
      items: ['urn:epc:id:sgtin:4012345.011111.A1', 'urn:epc:id:sgtin:4098765.000001.B1'],
    },
    contentHash: 'ab'.repeat(32), leafIndex: 7, actorGln: null, counterpartyGln: null, actorId: 'shop', counterpartyId: 'ann',
  };
  it('an event seen entirely is exported exactly as before (same eventID)', () => {
    expect(projectExportable(e, null, false, [])).toBe(e);
    expect(toEpcisEvent(projectExportable(e, null, false, []), { epcFormat: 'urn' })).toEqual(toEpcisEvent(e, { epcFormat: 'urn' }));
  });
  it('a projection lists only the visible items, drops withheld fields, is labelled and hashed as exported', () => {
    const p = toEpcisEvent(projectExportable(e, ['urn:epc:id:sgtin:4012345.011111.A1'], true, ['buyer', 'price']), { epcFormat: 'urn' });
    expect(p['epcList']).toEqual(['urn:epc:id:sgtin:4012345.011111.A1']);
    expect(JSON.stringify(p)).not.toContain('B1');
    expect(JSON.stringify(p)).not.toContain('ann');
    expect(p['provenant:price']).toBeUndefined();
    expect(p['provenant:data']).toEqual({ 'provenant:currency': 'EUR' });
    expect(p['destinationList']).toBeUndefined();
    expect(p['provenant:projection']).toEqual({ 'provenant:itemsOmitted': true, 'provenant:withheldFields': ['buyer', 'price'] });
    const { eventID, ...rest } = p;
    expect(epcisEventHashId(rest, DOCUMENT_CONTEXT)).toBe(eventID);
    expect(eventID).not.toBe(toEpcisEvent(e, { epcFormat: 'urn' })['eventID']);
  });
});
