import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { EventBody } from '../../src/core/chain.ts';
import {
  DOCUMENT_CONTEXT,
  type ExportableEvent,
  epcisDocument,
  epcisQueryDocument,
  locationUri,
  materialEpcClass,
  partyUri,
  toEpcisEvent,
} from '../../src/core/epcis-export.ts';
import { epcisDocumentEventHashIds, epcisEventHashId } from '../../src/core/epcis-hash.ts';
import { validateEpcisDocument } from '../../src/core/epcis-validate.ts';
import { digitalLink, gs1CheckDigit, parseDigitalLink, parseSgtinUrn, sgtinUrn } from '../../src/core/identifiers.ts';
import { EVENT_KINDS, type EventKind, type LedgerKind } from '../../src/core/lifecycle.ts';

type Json = Record<string, unknown>;

// ---------------------------------------------------------------------------------------------------------------
// The project's EPCIS 2.0 validator (core/epcis-validate.ts). GS1's JSON Schema is the oracle of test/conformance,
// which checks these exports and GS1's example documents against it too.

const validateRoot = (doc: unknown): boolean => validateEpcisDocument(doc).length === 0;

function schemaErrors(doc: unknown): string {
  return validateEpcisDocument(doc).map((e) => `${e.path}: ${e.message}`).join('\n');
}

// ---------------------------------------------------------------------------------------------------------------
// Fixtures: one product of a brand, three serials, a realistic life across actors with and without GLNs.

const withCheck = (digits: string): string => digits + String(gs1CheckDigit(digits));
const GTIN = withCheck('0950600013435'); // 09506000134352, company prefix 9506000
const CP_LENGTH = 7;
const SERIALS = ['SN-0001', 'SN-0002', 'SN/0003'];
const ITEMS = SERIALS.map((s) => sgtinUrn(GTIN, CP_LENGTH, s)).sort();

const FACTORY_GLN = withCheck('950600000001');
const DC_GLN = withCheck('401234500000');
const STORE_GLN = withCheck('061414100001');
const RECYCLER_GLN = withCheck('400000100001');

const BRAND = { id: '0b6c3c1e-8f5a-4d1e-9a57-2c3b0e7d1a01', gln: withCheck('950600099999') };
const DISTRIBUTOR = { id: '5d0e7f42-1b3a-4c6e-8f90-a1b2c3d4e5f6', gln: withCheck('401234500001') };
const RETAILER = { id: '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d', gln: null };
const CONSUMER = { id: 'c0ffee00-1234-4abc-9def-0123456789ab', gln: null };
const RECYCLER = { id: 'e1e2e3e4-f5f6-4a7b-8c9d-0a1b2c3d4e5f', gln: withCheck('400000100009') };

type Party = { id: string; gln: string | null };

let leaf = 0;
function fixture(
  kind: LedgerKind,
  actor: Party,
  counterparty: Party | null,
  occurredAt: string,
  timezoneOffset: string,
  location: string | null,
  data: EventBody['data'] = {},
): ExportableEvent {
  const index = leaf++;
  const recordedAt = new Date(Date.parse(occurredAt) + 1_250).toISOString();
  return {
    body: { kind, actor: actor.id, occurredAt, timezoneOffset, recordedAt, location, counterparty: counterparty?.id ?? null, data, items: ITEMS },
    contentHash: (index + 1).toString(16).padStart(2, '0').repeat(32),
    leafIndex: index,
    actorGln: actor.gln,
    counterpartyGln: counterparty?.gln ?? null,
    actorId: actor.id,
    counterpartyId: counterparty?.id ?? null,
  };
}

const FIXTURES: Record<EventKind, ExportableEvent> = {
  COMMISSION: fixture('COMMISSION', BRAND, null, '2026-03-01T08:30:00.000Z', '+01:00', FACTORY_GLN, { gtin: GTIN, lot: 'L2026-03A' }),
  SHIP: fixture('SHIP', BRAND, DISTRIBUTOR, '2026-03-02T15:05:10.120Z', '+01:00', FACTORY_GLN),
  RECEIVE: fixture('RECEIVE', DISTRIBUTOR, BRAND, '2026-03-04T07:45:00.000Z', '-05:00', DC_GLN),
  SELL: fixture('SELL', RETAILER, CONSUMER, '2026-03-10T17:20:33.456Z', '+05:30', STORE_GLN, { price: 149.9, currency: 'EUR' }),
  ACTIVATE: fixture('ACTIVATE', CONSUMER, null, '2026-03-11T09:00:00.000Z', '+00:00', null, { note: 'first start' }),
  SERVICE: fixture('SERVICE', CONSUMER, null, '2026-06-01T12:00:00.000Z', '+02:00', 'Repair café, Hauptstraße 5, Zürich', { note: 'replaced fan' }),
  USE_REPORT: fixture('USE_REPORT', CONSUMER, null, '2026-07-01T00:00:00.000Z', '-09:30', null, {
    readings: { hoursRun: 812, 'peak temp °C': 71.5, faults: [] },
  }),
  RETURN: fixture('RETURN', CONSUMER, RECYCLER, '2027-01-15T10:00:00.000Z', '+01:00', null, { reason: 'end of life' }),
  RECALL: fixture('RECALL', BRAND, null, '2026-08-20T06:00:00.000Z', '+14:00', null, { reason: 'battery overheating' }),
  RECYCLE: fixture('RECYCLE', RECYCLER, null, '2027-02-01T13:30:00.000Z', '+01:00', RECYCLER_GLN, {
    materials: [
      { material: 'Aluminium', massKg: 1.25 },
      { material: 'Lithium-ion cells', massKg: 0.4 },
      { material: 'Mixed plastics (ABS/PC)', massKg: 0.75 },
    ],
  }),
  DESTROY: fixture('DESTROY', BRAND, null, '2026-09-01T10:00:00.000Z', '-03:00', FACTORY_GLN, { reason: 'water damage' }),
};

/** DESIGN.md "Lifecycle", column "CBV bizStep / disposition" (RECYCLE's disposition is LIFECYCLE's: the table names none). */
const DESIGN_TABLE: Record<EventKind, { type: string; bizStep: string; disposition: string; action?: string }> = {
  COMMISSION: { type: 'ObjectEvent', action: 'ADD', bizStep: 'commissioning', disposition: 'active' },
  SHIP: { type: 'ObjectEvent', action: 'OBSERVE', bizStep: 'shipping', disposition: 'in_transit' },
  RECEIVE: { type: 'ObjectEvent', action: 'OBSERVE', bizStep: 'receiving', disposition: 'in_progress' },
  SELL: { type: 'ObjectEvent', action: 'OBSERVE', bizStep: 'retail_selling', disposition: 'retail_sold' },
  ACTIVATE: { type: 'ObjectEvent', action: 'OBSERVE', bizStep: 'installing', disposition: 'active' },
  SERVICE: { type: 'ObjectEvent', action: 'OBSERVE', bizStep: 'repairing', disposition: 'active' },
  USE_REPORT: { type: 'ObjectEvent', action: 'OBSERVE', bizStep: 'sensor_reporting', disposition: 'active' },
  RETURN: { type: 'ObjectEvent', action: 'OBSERVE', bizStep: 'receiving', disposition: 'returned' },
  RECALL: { type: 'ObjectEvent', action: 'OBSERVE', bizStep: 'holding', disposition: 'recalled' },
  RECYCLE: { type: 'TransformationEvent', bizStep: 'disassembling', disposition: 'disposed' },
  DESTROY: { type: 'ObjectEvent', action: 'OBSERVE', bizStep: 'destroying', disposition: 'destroyed' },
};

const CREATED = '2027-03-01T12:00:00.000Z';
const FORMATS = ['urn', 'digitalLink'] as const;
const withoutEventId = (event: Json): Json => Object.fromEntries(Object.entries(event).filter(([k]) => k !== 'eventID'));
const exportAll = (epcFormat: 'urn' | 'digitalLink'): Json[] => EVENT_KINDS.map((k) => toEpcisEvent(FIXTURES[k], { epcFormat }));

// ---------------------------------------------------------------------------------------------------------------

describe('EPCIS 2.0 validator on exports (sanity)', () => {
  const good = (): Json => epcisDocument([toEpcisEvent(FIXTURES.SHIP, { epcFormat: 'urn' })], CREATED);
  const firstEvent = (doc: Json): Json => (doc['epcisBody'] as { eventList: Json[] }).eventList[0]!;
  const broken: [string, (doc: Json) => void][] = [
    ['missing eventTime', (d) => delete firstEvent(d)['eventTime']],
    ['missing eventTimeZoneOffset', (d) => delete firstEvent(d)['eventTimeZoneOffset']],
    ['bad action', (d) => void (firstEvent(d)['action'] = 'MOVE')],
    ['missing action', (d) => delete firstEvent(d)['action']],
    ['unknown bizStep short name', (d) => void (firstEvent(d)['bizStep'] = 'recycling')],
    ['offset beyond +14:00', (d) => void (firstEvent(d)['eventTimeZoneOffset'] = '+15:00')],
    ['un-prefixed extension field', (d) => void (firstEvent(d)['contentHash'] = 'abc')],
    ['source without type', (d) => void (firstEvent(d)['sourceList'] = [{ source: 'urn:provenant:actor:x' }])],
    ['ILMD with OBSERVE', (d) => void (firstEvent(d)['ilmd'] = { 'cbvmda:lotNumber': 'L1' })],
    ['missing creationDate', (d) => delete d['creationDate']],
    ['missing @context', (d) => delete d['@context']],
  ];
  it('a document built by the exporter validates (baseline for the broken variants)', () => {
    expect(schemaErrors(good())).toBe('');
  });
  it.each(broken)('rejects a document with %s', (_name, breakIt) => {
    const doc = good();
    breakIt(doc);
    expect(validateRoot(doc)).toBe(false);
  });
  it('rejects a TransformationEvent without outputs or transformationID', () => {
    const ev = toEpcisEvent(FIXTURES.RECYCLE, { epcFormat: 'urn' });
    delete ev['outputQuantityList'];
    expect(validateRoot(epcisDocument([ev], CREATED))).toBe(false);
  });
});

describe('toEpcisEvent: every kind is valid EPCIS 2.0', () => {
  const cases = EVENT_KINDS.flatMap((kind) => FORMATS.map((f) => [kind, f] as const));
  it.each(cases)('%s (%s) in an EPCISDocument and an EPCISQueryDocument', (kind, epcFormat) => {
    const event = toEpcisEvent(FIXTURES[kind], { epcFormat });
    expect(schemaErrors(epcisDocument([event], CREATED))).toBe('');
    expect(schemaErrors(epcisQueryDocument([event], CREATED))).toBe('');
    expect(schemaErrors(epcisQueryDocument([event], CREATED, 'provenant-item-history'))).toBe('');
  });

  it.each(FORMATS)('the whole life in one document (%s)', (epcFormat) => {
    const events = exportAll(epcFormat);
    expect(schemaErrors(epcisDocument(events, CREATED))).toBe('');
    expect(schemaErrors(epcisQueryDocument(events, CREATED))).toBe('');
  });
});

describe('toEpcisEvent: CBV mapping per DESIGN.md', () => {
  it.each(EVENT_KINDS)('%s: type, action, bizStep and disposition', (kind) => {
    const want = DESIGN_TABLE[kind];
    const event = toEpcisEvent(FIXTURES[kind], { epcFormat: 'urn' });
    expect(event['type']).toBe(want.type);
    expect(event['action']).toBe(want.action);
    expect(event['bizStep']).toBe(want.bizStep);
    expect(event['disposition']).toBe(want.disposition);
    expect(event['provenant:kind']).toBe(kind);
  });

  it('RECALL is an OBSERVE holding/recalled ObjectEvent over the items', () => {
    const event = toEpcisEvent(FIXTURES.RECALL, { epcFormat: 'urn' });
    expect(event).toMatchObject({ type: 'ObjectEvent', action: 'OBSERVE', bizStep: 'holding', disposition: 'recalled', epcList: ITEMS });
  });

  it('COMMISSION carries its lot as ILMD; no other kind has ILMD', () => {
    expect(toEpcisEvent(FIXTURES.COMMISSION, { epcFormat: 'urn' })['ilmd']).toEqual({ 'cbvmda:lotNumber': 'L2026-03A' });
    for (const kind of EVENT_KINDS.filter((k) => k !== 'COMMISSION')) {
      expect(toEpcisEvent(FIXTURES[kind], { epcFormat: 'urn' })).not.toHaveProperty('ilmd');
    }
  });
});

describe('toEpcisEvent: times', () => {
  it('eventTime is rendered in the submitted offset; recordTime is recordedAt', () => {
    const event = toEpcisEvent(FIXTURES.COMMISSION, { epcFormat: 'urn' });
    expect(event['eventTime']).toBe('2026-03-01T09:30:00.000+01:00');
    expect(event['eventTimeZoneOffset']).toBe('+01:00');
    expect(event['recordTime']).toBe('2026-03-01T08:30:01.250Z');
    expect(Date.parse(event['eventTime'] as string)).toBe(Date.parse(FIXTURES.COMMISSION.body.occurredAt));
  });

  it.each([
    ['SELL', '2026-03-10T22:50:33.456+05:30', '+05:30'],
    ['USE_REPORT', '2026-06-30T14:30:00.000-09:30', '-09:30'],
    ['RECALL', '2026-08-20T20:00:00.000+14:00', '+14:00'],
    ['RECEIVE', '2026-03-04T02:45:00.000-05:00', '-05:00'],
  ] as const)('%s → %s', (kind, eventTime, offset) => {
    const event = toEpcisEvent(FIXTURES[kind], { epcFormat: 'urn' });
    expect(event['eventTime']).toBe(eventTime);
    expect(event['eventTimeZoneOffset']).toBe(offset);
    expect(event).not.toHaveProperty('provenant:timezoneOffset');
  });

  it('an offset outside EPCIS range (±14:00) is exported as UTC and kept as an extension', () => {
    const e = fixture('ACTIVATE', CONSUMER, null, '2026-03-11T09:00:00.000Z', '+15:30', null);
    const event = toEpcisEvent(e, { epcFormat: 'urn' });
    expect(event['eventTime']).toBe('2026-03-11T09:00:00.000+00:00');
    expect(event['eventTimeZoneOffset']).toBe('+00:00');
    expect(event['provenant:timezoneOffset']).toBe('+15:30');
    expect(schemaErrors(epcisDocument([event], CREATED))).toBe('');
  });
});

describe('toEpcisEvent: EPC formats', () => {
  it('urn: the SGTIN URNs exactly as recorded', () => {
    expect(toEpcisEvent(FIXTURES.SHIP, { epcFormat: 'urn' })['epcList']).toEqual(ITEMS);
    expect(ITEMS.some((u) => u.includes('%2F'))).toBe(true); // the serial with "/" is escaped in the URN
  });

  it('digitalLink: https://id.gs1.org/01/{gtin}/21/{serial}, one per item, same order', () => {
    const list = toEpcisEvent(FIXTURES.SHIP, { epcFormat: 'digitalLink' })['epcList'] as string[];
    const sorted = [...SERIALS].sort((a, b) => (sgtinUrn(GTIN, CP_LENGTH, a) < sgtinUrn(GTIN, CP_LENGTH, b) ? -1 : 1));
    expect(list).toEqual(sorted.map((s) => digitalLink(GTIN, s)));
    expect(list).toContain('https://id.gs1.org/01/09506000134352/21/SN-0001');
    expect(list).toContain('https://id.gs1.org/01/09506000134352/21/SN%2F0003');
    for (const [i, dl] of list.entries()) {
      const parsed = parseDigitalLink(dl);
      expect(parsed.ok && parsed.value).toEqual({ gtin14: GTIN, serial: sorted[i] });
    }
  });

  it('RECYCLE puts the EPCs in inputEPCList in both formats', () => {
    expect(toEpcisEvent(FIXTURES.RECYCLE, { epcFormat: 'urn' })['inputEPCList']).toEqual(ITEMS);
    expect(toEpcisEvent(FIXTURES.RECYCLE, { epcFormat: 'digitalLink' })['inputEPCList']).toEqual(
      toEpcisEvent(FIXTURES.SHIP, { epcFormat: 'digitalLink' })['epcList'],
    );
  });

  it('digitalLink rejects an item that is not an SGTIN URN', () => {
    const e = fixture('SHIP', BRAND, DISTRIBUTOR, '2026-03-02T15:05:10.120Z', '+01:00', null);
    e.body = { ...e.body, items: ['urn:epc:id:sscc:9506000.0000000017'] };
    expect(() => toEpcisEvent(e, { epcFormat: 'digitalLink' })).toThrow(RangeError);
    expect(toEpcisEvent(e, { epcFormat: 'urn' })['epcList']).toEqual(['urn:epc:id:sscc:9506000.0000000017']);
  });
});

describe('toEpcisEvent: eventID (CBV 2.0 event hash)', () => {
  it.each(EVENT_KINDS.flatMap((kind) => FORMATS.map((f) => [kind, f] as const)))(
    '%s (%s): eventID = epcisEventHashId(event without eventID, DOCUMENT_CONTEXT)',
    (kind, epcFormat) => {
      const event = toEpcisEvent(FIXTURES[kind], { epcFormat });
      expect(event['eventID']).toMatch(/^ni:\/\/\/sha-256;[0-9a-f]{64}\?ver=CBV2\.0$/);
      expect(event['eventID']).toBe(epcisEventHashId(withoutEventId(event), DOCUMENT_CONTEXT));
      expect(Object.keys(event)[0]).toBe('eventID');
    },
  );

  it.each(FORMATS)('the document-level hash of an exported document reproduces every eventID (%s)', (epcFormat) => {
    const events = exportAll(epcFormat);
    expect(epcisDocumentEventHashIds(epcisDocument(events, CREATED))).toEqual(events.map((e) => e['eventID']));
    expect(epcisDocumentEventHashIds(epcisQueryDocument(events, CREATED))).toEqual(events.map((e) => e['eventID']));
  });

  it('URN and Digital Link exports of an event hash alike when serials need no escaping (EPCs are normalised)', () => {
    const e = fixture('SHIP', BRAND, DISTRIBUTOR, '2026-03-02T15:05:10.120Z', '+01:00', FACTORY_GLN);
    e.body = { ...e.body, items: ITEMS.filter((u) => !u.includes('%')) };
    expect(toEpcisEvent(e, { epcFormat: 'urn' })['eventID']).toBe(toEpcisEvent(e, { epcFormat: 'digitalLink' })['eventID']);
  });

  it('the eventID covers the provenant extensions, so a different contentHash gives a different eventID', () => {
    const a = toEpcisEvent(FIXTURES.SHIP, { epcFormat: 'urn' });
    const b = toEpcisEvent({ ...FIXTURES.SHIP, contentHash: 'ff'.repeat(32) }, { epcFormat: 'urn' });
    expect(a['eventID']).not.toBe(b['eventID']);
  });

  it('eventIDs are distinct across the life and deterministic', () => {
    const ids = exportAll('urn').map((e) => e['eventID']);
    expect(new Set(ids).size).toBe(ids.length);
    expect(exportAll('urn').map((e) => e['eventID'])).toEqual(ids);
  });
});

describe('toEpcisEvent: locations and parties', () => {
  const dl414 = (gln: string): string => `https://id.gs1.org/414/${gln}`;

  it('a GLN location becomes readPoint and bizLocation as a GS1 Digital Link (AI 414)', () => {
    const event = toEpcisEvent(FIXTURES.RECEIVE, { epcFormat: 'urn' });
    expect(event['readPoint']).toEqual({ id: dl414(DC_GLN) });
    expect(event['bizLocation']).toEqual({ id: dl414(DC_GLN) });
    expect(event).not.toHaveProperty('provenant:location');
  });

  it('SHIP (in transit) and DESTROY (gone) have a readPoint but no bizLocation', () => {
    for (const kind of ['SHIP', 'DESTROY'] as const) {
      const event = toEpcisEvent(FIXTURES[kind], { epcFormat: 'urn' });
      expect(event['readPoint']).toEqual({ id: dl414(FACTORY_GLN) });
      expect(event).not.toHaveProperty('bizLocation');
    }
  });

  it('free-text locations are kept as provenant:location, without readPoint', () => {
    const event = toEpcisEvent(FIXTURES.SERVICE, { epcFormat: 'urn' });
    expect(event).not.toHaveProperty('readPoint');
    expect(event).not.toHaveProperty('bizLocation');
    expect(event['provenant:location']).toBe('Repair café, Hauptstraße 5, Zürich');
    expect(toEpcisEvent(FIXTURES.ACTIVATE, { epcFormat: 'urn' })).not.toHaveProperty('provenant:location');
  });

  it('locationUri: GLN with valid check digit, SGLN URN and GLN Digital Link; anything else is text', () => {
    expect(locationUri(STORE_GLN)).toBe(dl414(STORE_GLN));
    const badCheck = STORE_GLN.slice(0, 12) + String((Number(STORE_GLN[12]) + 1) % 10);
    expect(locationUri(badCheck)).toBeNull();
    expect(locationUri('123456789012')).toBeNull();
    expect(locationUri('urn:epc:id:sgln:4012345.00001.0')).toBe('urn:epc:id:sgln:4012345.00001.0');
    expect(locationUri('urn:epc:id:sgln:4012345.0001.0')).toBeNull();
    expect(locationUri(`${dl414(DC_GLN)}/254/dock-7`)).toBe(`${dl414(DC_GLN)}/254/dock-7`);
    expect(locationUri('Warehouse 3')).toBeNull();
    const event = toEpcisEvent(fixture('RECEIVE', DISTRIBUTOR, null, '2026-03-04T07:45:00.000Z', '+00:00', 'urn:epc:id:sgln:4012345.00001.0'), { epcFormat: 'urn' });
    expect(event['readPoint']).toEqual({ id: 'urn:epc:id:sgln:4012345.00001.0' });
    expect(schemaErrors(epcisDocument([event], CREATED))).toBe('');
  });

  it('SHIP: source = shipper, destination = receiver, as owning and possessing party (GLN → AI 417 Digital Link)', () => {
    const event = toEpcisEvent(FIXTURES.SHIP, { epcFormat: 'urn' });
    expect(event['sourceList']).toEqual([
      { type: 'owning_party', source: `https://id.gs1.org/417/${BRAND.gln}` },
      { type: 'possessing_party', source: `https://id.gs1.org/417/${BRAND.gln}` },
    ]);
    expect(event['destinationList']).toEqual([
      { type: 'owning_party', destination: `https://id.gs1.org/417/${DISTRIBUTOR.gln}` },
      { type: 'possessing_party', destination: `https://id.gs1.org/417/${DISTRIBUTOR.gln}` },
    ]);
  });

  it('RECEIVE: destination = the receiving actor, source = the recorded counterparty', () => {
    const event = toEpcisEvent(FIXTURES.RECEIVE, { epcFormat: 'urn' });
    expect((event['destinationList'] as Json[]).map((d) => d['destination'])).toEqual([
      `https://id.gs1.org/417/${DISTRIBUTOR.gln}`,
      `https://id.gs1.org/417/${DISTRIBUTOR.gln}`,
    ]);
    expect((event['sourceList'] as Json[]).map((d) => d['source'])).toEqual([`https://id.gs1.org/417/${BRAND.gln}`, `https://id.gs1.org/417/${BRAND.gln}`]);
    const bare = toEpcisEvent(fixture('RECEIVE', DISTRIBUTOR, null, '2026-03-04T07:45:00.000Z', '+00:00', DC_GLN), { epcFormat: 'urn' });
    expect(bare).not.toHaveProperty('sourceList');
    expect(bare['destinationList']).toHaveLength(2);
  });

  it('RETURN: an actor without a GLN is identified as urn:provenant:actor:{id}', () => {
    const event = toEpcisEvent(FIXTURES.RETURN, { epcFormat: 'urn' });
    expect(event['sourceList']).toEqual([
      { type: 'owning_party', source: `urn:provenant:actor:${CONSUMER.id}` },
      { type: 'possessing_party', source: `urn:provenant:actor:${CONSUMER.id}` },
    ]);
    expect((event['destinationList'] as Json[]).every((d) => d['destination'] === `https://id.gs1.org/417/${RECYCLER.gln}`)).toBe(true);
  });

  it('only SHIP, RECEIVE and RETURN carry source/destination lists, and SELL a destination when it names its buyer', () => {
    for (const kind of EVENT_KINDS) {
      const event = toEpcisEvent(FIXTURES[kind], { epcFormat: 'urn' });
      expect([kind, 'sourceList' in event]).toEqual([kind, ['SHIP', 'RECEIVE', 'RETURN'].includes(kind)]);
      expect([kind, 'destinationList' in event]).toEqual([kind, ['SHIP', 'RECEIVE', 'RETURN', 'SELL'].includes(kind)]);
    }
  });

  it('SELL: the buyer is the destination owning_party (what capture reads back as the buyer)', () => {
    expect(toEpcisEvent(FIXTURES.SELL, { epcFormat: 'urn' })['destinationList']).toEqual([{ type: 'owning_party', destination: `urn:provenant:actor:${CONSUMER.id}` }]);
    const toGln = toEpcisEvent(fixture('SELL', RETAILER, RECYCLER, '2026-03-10T17:20:33.456Z', '+01:00', STORE_GLN), { epcFormat: 'digitalLink' });
    expect(toGln['destinationList']).toEqual([{ type: 'owning_party', destination: `https://id.gs1.org/417/${RECYCLER.gln}` }]);
    expect(toGln).not.toHaveProperty('sourceList');
    expect(schemaErrors(epcisDocument([toGln], CREATED))).toBe('');
    const anonymous = toEpcisEvent(fixture('SELL', RETAILER, null, '2026-03-10T17:20:33.456Z', '+01:00', STORE_GLN), { epcFormat: 'urn' });
    expect(anonymous).not.toHaveProperty('destinationList');
  });

  it('partyUri', () => {
    expect(partyUri('x', '4012345000009')).toBe('https://id.gs1.org/417/4012345000009');
    expect(partyUri('a b/c', null)).toBe('urn:provenant:actor:a%20b%2Fc');
  });
});

describe('toEpcisEvent: PACK / UNPACK as AggregationEvents', () => {
  const digitalLinkOf = (urn: string): string => {
    const p = parseSgtinUrn(urn);
    if (!p.ok) throw new Error(p.error);
    return digitalLink(p.value.gtin14, p.value.serial);
  };
  const CASE_1 = withCheck('09506000100000001');
  const CASE_2 = withCheck('09506000100000002');
  const PALLET = withCheck('09506000100000003');
  const pack = (container: string, containers?: string[]) =>
    fixture('PACK', BRAND, null, '2026-03-01T10:00:00.000Z', '+01:00', FACTORY_GLN, { container, ...(containers ? { containers } : {}) });
  const unpack = fixture('UNPACK', DISTRIBUTOR, null, '2026-03-05T10:00:00.000Z', '-05:00', DC_GLN, { container: PALLET });

  it.each(FORMATS)('PACK: ADD packing, parentID = the SSCC Digital Link, childEPCs = the items (%s)', (epcFormat) => {
    const event = toEpcisEvent(pack(CASE_1), { epcFormat });
    expect(event).toMatchObject({ type: 'AggregationEvent', action: 'ADD', bizStep: 'packing', disposition: 'in_progress', parentID: `https://id.gs1.org/00/${CASE_1}` });
    expect(event['childEPCs']).toEqual(epcFormat === 'urn' ? ITEMS : ITEMS.map((u) => digitalLinkOf(u)));
    expect(event).not.toHaveProperty('epcList');
    expect(schemaErrors(epcisDocument([event], CREATED))).toBe('');
  });

  it.each(FORMATS)('PACK with child containers lists them after the items, as SSCC Digital Links (%s)', (epcFormat) => {
    const event = toEpcisEvent(pack(PALLET, [CASE_1, CASE_2]), { epcFormat });
    const items = epcFormat === 'urn' ? ITEMS : ITEMS.map((u) => digitalLinkOf(u));
    expect(event['childEPCs']).toEqual([...items, `https://id.gs1.org/00/${CASE_1}`, `https://id.gs1.org/00/${CASE_2}`]);
    expect(event['provenant:data']).toEqual({ 'provenant:container': PALLET, 'provenant:containers': [CASE_1, CASE_2] });
    expect(schemaErrors(epcisDocument([event], CREATED))).toBe('');
    expect(schemaErrors(epcisQueryDocument([event], CREATED))).toBe('');
    expect(event['eventID']).toBe(epcisEventHashId(withoutEventId(event), DOCUMENT_CONTEXT));
    expect(event['eventID']).not.toBe(toEpcisEvent(pack(PALLET), { epcFormat })['eventID']);
    // Malformed child containers in data are left out rather than exported as invalid EPCs.
    const odd = toEpcisEvent(fixture('PACK', BRAND, null, '2026-03-01T10:00:00.000Z', '+01:00', null, { container: PALLET, containers: [CASE_1, 'x', 7] }), { epcFormat });
    expect((odd['childEPCs'] as string[]).slice(-1)).toEqual([`https://id.gs1.org/00/${CASE_1}`]);
  });

  it('UNPACK: DELETE unpacking over every item of the container; no child containers (its data names none)', () => {
    const event = toEpcisEvent({ ...unpack, body: { ...unpack.body, data: { container: PALLET, containers: [CASE_1] } } }, { epcFormat: 'urn' });
    expect(event).toMatchObject({ type: 'AggregationEvent', action: 'DELETE', bizStep: 'unpacking', parentID: `https://id.gs1.org/00/${PALLET}`, childEPCs: ITEMS });
    expect(schemaErrors(epcisDocument([toEpcisEvent(unpack, { epcFormat: 'urn' }), toEpcisEvent(unpack, { epcFormat: 'digitalLink' })], CREATED))).toBe('');
  });
});

describe('toEpcisEvent: RECYCLE as a TransformationEvent', () => {
  it('items in, one KGM quantity per recovered material out', () => {
    const event = toEpcisEvent(FIXTURES.RECYCLE, { epcFormat: 'urn' });
    expect(event['type']).toBe('TransformationEvent');
    expect(event).not.toHaveProperty('action');
    expect(event).not.toHaveProperty('epcList');
    expect(event['inputEPCList']).toEqual(ITEMS);
    expect(event['outputQuantityList']).toEqual([
      { epcClass: 'urn:provenant:material:aluminium', quantity: 1.25, uom: 'KGM' },
      { epcClass: 'urn:provenant:material:lithium-ion-cells', quantity: 0.4, uom: 'KGM' },
      { epcClass: 'urn:provenant:material:mixed-plastics-abs-pc', quantity: 0.75, uom: 'KGM' },
    ]);
    expect(event['bizStep']).toBe('disassembling');
    expect(event['readPoint']).toEqual({ id: `https://id.gs1.org/414/${RECYCLER_GLN}` });
    expect(event['bizLocation']).toEqual({ id: `https://id.gs1.org/414/${RECYCLER_GLN}` });
    expect(event['provenant:data']).toEqual({
      'provenant:materials': [
        { 'provenant:material': 'Aluminium', 'provenant:massKg': 1.25 },
        { 'provenant:material': 'Lithium-ion cells', 'provenant:massKg': 0.4 },
        { 'provenant:material': 'Mixed plastics (ABS/PC)', 'provenant:massKg': 0.75 },
      ],
    });
  });

  it('without materials it stays a valid OBSERVE ObjectEvent (a TransformationEvent needs outputs)', () => {
    for (const data of [{}, { materials: [] }] as EventBody['data'][]) {
      const event = toEpcisEvent(fixture('RECYCLE', RECYCLER, null, '2027-02-01T13:30:00.000Z', '+01:00', RECYCLER_GLN, data), { epcFormat: 'urn' });
      expect(event).toMatchObject({ type: 'ObjectEvent', action: 'OBSERVE', bizStep: 'disassembling', disposition: 'disposed', epcList: ITEMS });
      expect(schemaErrors(epcisDocument([event], CREATED))).toBe('');
    }
  });

  it('materialEpcClass slugs names into URIs', () => {
    expect(materialEpcClass('Copper')).toBe('urn:provenant:material:copper');
    expect(materialEpcClass('  Stainless steel 316L ')).toBe('urn:provenant:material:stainless-steel-316l');
    expect(materialEpcClass('Élément Nickel–Cobalt')).toBe('urn:provenant:material:element-nickel-cobalt');
    expect(materialEpcClass('铜')).toBe(`urn:provenant:material:${encodeURIComponent('铜')}`);
    const odd = toEpcisEvent(
      fixture('RECYCLE', RECYCLER, null, '2027-02-01T13:30:00.000Z', '+01:00', null, { materials: [{ material: '铜', massKg: 2 }] }),
      { epcFormat: 'digitalLink' },
    );
    expect(schemaErrors(epcisDocument([odd], CREATED))).toBe('');
  });
});

describe('toEpcisEvent: provenant extensions', () => {
  it('ledger fields are provenant: user extensions', () => {
    const e = FIXTURES.SHIP;
    const event = toEpcisEvent(e, { epcFormat: 'urn' });
    expect(event['provenant:contentHash']).toBe(e.contentHash);
    expect(event['provenant:leafIndex']).toBe(e.leafIndex);
    expect(event['provenant:kind']).toBe('SHIP');
    expect(event['provenant:actor']).toBe(BRAND.id);
    expect(event['provenant:counterparty']).toBe(DISTRIBUTOR.id);
    expect(event).not.toHaveProperty('provenant:data'); // SHIP data is {}
  });

  it('SELL: price and currency as extensions, no bizTransactionList', () => {
    const event = toEpcisEvent(FIXTURES.SELL, { epcFormat: 'urn' });
    expect(event['provenant:price']).toBe(149.9);
    expect(event['provenant:priceCurrency']).toBe('EUR');
    expect(event['provenant:data']).toEqual({ 'provenant:price': 149.9, 'provenant:currency': 'EUR' });
    expect(event['provenant:counterparty']).toBe(CONSUMER.id);
    for (const kind of EVENT_KINDS) expect(toEpcisEvent(FIXTURES[kind], { epcFormat: 'urn' })).not.toHaveProperty('bizTransactionList');
    const unpriced = toEpcisEvent(fixture('SELL', RETAILER, null, '2026-03-10T17:20:33.456Z', '+01:00', STORE_GLN), { epcFormat: 'urn' });
    expect(unpriced).not.toHaveProperty('provenant:price');
  });

  it('nested data keys are namespaced (percent-encoded), values kept', () => {
    const event = toEpcisEvent(FIXTURES.USE_REPORT, { epcFormat: 'urn' });
    expect(event['provenant:data']).toEqual({
      'provenant:readings': { 'provenant:hoursRun': 812, [`provenant:${encodeURIComponent('peak temp °C')}`]: 71.5, 'provenant:faults': [] },
    });
  });

  it('every top-level key is an EPCIS field or a provenant: extension', () => {
    const standard = new Set([
      'eventID', 'type', 'eventTime', 'eventTimeZoneOffset', 'recordTime', 'epcList', 'inputEPCList', 'outputQuantityList', 'action',
      'bizStep', 'disposition', 'readPoint', 'bizLocation', 'sourceList', 'destinationList', 'ilmd',
    ]);
    for (const event of [...exportAll('urn'), ...exportAll('digitalLink')]) {
      for (const key of Object.keys(event)) expect(standard.has(key) || key.startsWith('provenant:')).toBe(true);
    }
  });

  it('does not modify its input', () => {
    const e = structuredClone(FIXTURES.RECYCLE);
    toEpcisEvent(e, { epcFormat: 'digitalLink' });
    expect(e).toEqual(FIXTURES.RECYCLE);
  });
});

describe('epcisDocument / epcisQueryDocument', () => {
  it('DOCUMENT_CONTEXT is the EPCIS 2.0 context plus the provenant prefix', () => {
    expect(DOCUMENT_CONTEXT).toEqual(['https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld', { provenant: 'https://provenant.dev/epcis/' }]);
    expect(Object.isFrozen(DOCUMENT_CONTEXT)).toBe(true);
  });

  it('EPCISDocument shape', () => {
    const events = exportAll('urn');
    const doc = epcisDocument(events, CREATED);
    expect(doc).toEqual({ '@context': DOCUMENT_CONTEXT, type: 'EPCISDocument', schemaVersion: '2.0', creationDate: CREATED, epcisBody: { eventList: events } });
    (doc['@context'] as unknown[]).push('https://example.org/extra'); // the document's context is its own copy
    expect(DOCUMENT_CONTEXT).toHaveLength(2);
  });

  it('EPCISQueryDocument shape, queryName defaults to SimpleEventQuery', () => {
    const events = exportAll('digitalLink');
    expect(epcisQueryDocument(events, CREATED)).toEqual({
      '@context': DOCUMENT_CONTEXT,
      type: 'EPCISQueryDocument',
      schemaVersion: '2.0',
      creationDate: CREATED,
      epcisBody: { queryResults: { queryName: 'SimpleEventQuery', resultsBody: { eventList: events } } },
    });
    expect((epcisQueryDocument(events, CREATED, 'itemHistory')['epcisBody'] as { queryResults: Json }).queryResults['queryName']).toBe('itemHistory');
  });

  it('an empty export is a valid document', () => {
    expect(schemaErrors(epcisDocument([], CREATED))).toBe('');
    expect(schemaErrors(epcisQueryDocument([], CREATED))).toBe('');
  });

  it('epcis-export.ts stays pure: it imports only sibling core modules', () => {
    const source = readFileSync(fileURLToPath(new URL('../../src/core/epcis-export.ts', import.meta.url)), 'utf8');
    const imports = [...source.matchAll(/^import[^;]*?from '([^']+)'/gm)].map((m) => m[1]);
    expect(imports.length).toBeGreaterThan(0);
    for (const spec of imports) expect(spec).toMatch(/^\.\/[a-z-]+\.ts$/);
    expect(source).not.toMatch(/Date\.now|new Date\(\)/);
  });
});
