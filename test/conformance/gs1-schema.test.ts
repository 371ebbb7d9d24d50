/**
 * The project's EPCIS 2.0 validator (src/core/epcis-validate.ts) against GS1's JSON Schema: both accept all of GS1's
 * example documents, and they agree, in both directions, on documents corrupted field by field.
 */
import { describe, expect, it } from 'vitest';
import { epcisDocument, toEpcisEvent } from '../../src/core/epcis-export.ts';
import { validateEpcisDocument } from '../../src/core/epcis-validate.ts';
import { type Json, loadGs1, readJson } from './gs1.ts';

const gs1 = loadGs1();
const mine = (doc: unknown): string => validateEpcisDocument(doc).map((e) => `${e.path}: ${e.message}`).join('\n');

describe('GS1 reference files', () => {
  it('loads every schema file and finds all 47 GS1 examples', () => {
    expect(gs1.schemaFiles).toHaveLength(19);
    expect(gs1.examples).toHaveLength(47);
    expect(typeof gs1.validate).toBe('function');
  });
});

describe('GS1 examples', () => {
  it.each(gs1.examples.map((f) => [gs1.relative(f), f] as const))('%s: GS1\'s schema and the project validator accept it', (_name, file) => {
    const doc = readJson(file);
    expect(gs1.schemaErrors(doc)).toBe('');
    expect(mine(doc)).toBe('');
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Corruptions. Each applies to an event (when it has what the corruption needs) or to the document; `valid` is
// what GS1's schema says of the result (checked, so the list itself is verified), and the project must say the same.

type Mutation = { name: string; valid: boolean; applies?: (e: Json) => boolean; apply: (e: Json) => void };
const hasKey = (k: string) => (e: Json) => Object.prototype.hasOwnProperty.call(e, k);
const EVENT_MUTATIONS: Mutation[] = [
  { name: 'without eventTime', valid: false, apply: (e) => delete e['eventTime'] },
  { name: 'without eventTimeZoneOffset', valid: false, apply: (e) => delete e['eventTimeZoneOffset'] },
  { name: 'eventTime as a number', valid: false, apply: (e) => void (e['eventTime'] = 1_700_000_000) },
  { name: 'eventTime without a time zone', valid: false, apply: (e) => void (e['eventTime'] = '2020-01-01T10:00:00') },
  { name: 'eventTime a date only', valid: false, apply: (e) => void (e['eventTime'] = '2020-01-01') },
  { name: 'eventTime on 30 February', valid: false, apply: (e) => void (e['eventTime'] = '2020-02-30T10:00:00Z') },
  { name: 'offset +15:00', valid: false, apply: (e) => void (e['eventTimeZoneOffset'] = '+15:00') },
  { name: 'offset without colon', valid: false, apply: (e) => void (e['eventTimeZoneOffset'] = '+0100') },
  { name: 'recordTime not a date-time', valid: false, apply: (e) => void (e['recordTime'] = 'yesterday') },
  { name: 'action MOVE', valid: false, applies: hasKey('action'), apply: (e) => void (e['action'] = 'MOVE') },
  { name: 'action in lower case', valid: false, applies: hasKey('action'), apply: (e) => void (e['action'] = 'observe') },
  { name: 'without action', valid: false, applies: (e) => hasKey('action')(e) && e['type'] !== 'TransformationEvent', apply: (e) => delete e['action'] },
  { name: 'epcList as a string', valid: false, applies: hasKey('epcList'), apply: (e) => void (e['epcList'] = 'urn:epc:id:sgtin:0614141.107346.2017') },
  { name: 'an EPC with a space', valid: false, applies: hasKey('epcList'), apply: (e) => void (e['epcList'] = [...e['epcList'], 'SN 1']) },
  { name: 'an EPC as a number', valid: false, applies: hasKey('epcList'), apply: (e) => void (e['epcList'] = [...e['epcList'], 42]) },
  { name: 'childEPCs as an object', valid: false, applies: hasKey('childEPCs'), apply: (e) => void (e['childEPCs'] = { a: 1 }) },
  { name: 'parentID not a URI', valid: false, applies: hasKey('parentID'), apply: (e) => void (e['parentID'] = 'pallet 7') },
  { name: 'unknown bizStep short name', valid: false, apply: (e) => void (e['bizStep'] = 'recycling') },
  { name: 'bizStep as a number', valid: false, apply: (e) => void (e['bizStep'] = 7) },
  { name: 'bizStep in the CBV URN form', valid: false, apply: (e) => void (e['bizStep'] = 'urn:epcglobal:cbv:bizstep:shipping') },
  { name: 'bizStep as an own URI', valid: true, apply: (e) => void (e['bizStep'] = 'https://example.org/steps/polishing') },
  { name: 'unknown disposition', valid: false, apply: (e) => void (e['disposition'] = 'lost') },
  { name: 'readPoint without id', valid: false, apply: (e) => void (e['readPoint'] = { name: 'dock 3' }) },
  { name: 'readPoint as a string', valid: false, apply: (e) => void (e['readPoint'] = 'urn:epc:id:sgln:0614141.00777.0') },
  { name: 'readPoint with an extra member', valid: true, apply: (e) => void (e['readPoint'] = { id: 'urn:epc:id:sgln:0614141.00777.0', 'example:dock': 3 }) },
  { name: 'bizLocation id not a URI', valid: false, apply: (e) => void (e['bizLocation'] = { id: 'the warehouse' }) },
  { name: 'source without type', valid: false, applies: (e) => e['type'] !== 'ExtensionEvent', apply: (e) => void (e['sourceList'] = [{ source: 'urn:epc:id:pgln:0614141.00001' }]) },
  { name: 'destination with an unknown type', valid: false, apply: (e) => void (e['destinationList'] = [{ type: 'buyer', destination: 'urn:epc:id:pgln:0614141.00001' }]) },
  { name: 'destination with an extra member', valid: false, apply: (e) => void (e['destinationList'] = [{ type: 'owning_party', destination: 'urn:epc:id:pgln:0614141.00001', name: 'x' }]) },
  { name: 'bizTransaction without its URI', valid: false, apply: (e) => void (e['bizTransactionList'] = [{ type: 'po' }]) },
  { name: 'quantity as a string', valid: false, applies: hasKey('quantityList'), apply: (e) => void (e['quantityList'] = [{ epcClass: 'urn:epc:class:lgtin:4012345.012345.998877', quantity: '200' }]) },
  { name: 'quantity element without epcClass', valid: false, applies: hasKey('quantityList'), apply: (e) => void (e['quantityList'] = [{ quantity: 2, uom: 'KGM' }]) },
  { name: 'unit in lower case', valid: false, applies: hasKey('quantityList'), apply: (e) => void (e['quantityList'] = [{ epcClass: 'urn:epc:class:lgtin:4012345.012345.998877', quantity: 2, uom: 'kg' }]) },
  { name: 'sensor report without type', valid: false, applies: hasKey('sensorElementList'), apply: (e) => void (e['sensorElementList'][0].sensorReport = [{ value: 3 }]) },
  { name: 'sensor value as a string', valid: false, applies: hasKey('sensorElementList'), apply: (e) => void (e['sensorElementList'][0].sensorReport[0].value = '3') },
  { name: 'empty sensorReport', valid: false, applies: hasKey('sensorElementList'), apply: (e) => void (e['sensorElementList'][0].sensorReport = []) },
  { name: 'un-prefixed sensor member', valid: false, applies: hasKey('sensorElementList'), apply: (e) => void (e['sensorElementList'][0].sensorReport[0].colour = 'red') },
  { name: 'ILMD with action OBSERVE', valid: false, applies: (e) => e['type'] === 'ObjectEvent', apply: (e) => void Object.assign(e, { action: 'OBSERVE', ilmd: { 'cbvmda:lotNumber': 'L1' } }) },
  { name: 'ILMD with action ADD', valid: true, applies: (e) => e['type'] === 'ObjectEvent' && (hasKey('epcList')(e) || hasKey('quantityList')(e)), apply: (e) => void Object.assign(e, { action: 'ADD', ilmd: { 'cbvmda:lotNumber': 'L1' } }) },
  { name: 'un-prefixed ILMD member', valid: false, applies: hasKey('ilmd'), apply: (e) => void (e['ilmd'] = { lotNumber: 'L1' }) },
  { name: 'un-prefixed extension member', valid: false, apply: (e) => void (e['contentHash'] = 'abc') },
  { name: 'namespaced extension member', valid: true, apply: (e) => void (e['example:contentHash'] = { nested: ['abc', 1, null] }) },
  { name: 'eventID not a URI', valid: false, apply: (e) => void (e['eventID'] = 'event 1') },
  { name: 'certificationInfo as a number', valid: false, apply: (e) => void (e['certificationInfo'] = 5) },
  { name: 'errorDeclaration without declarationTime', valid: false, apply: (e) => void (e['errorDeclaration'] = { reason: 'did_not_occur' }) },
  { name: 'persistentDisposition empty', valid: false, applies: (e) => ['ObjectEvent', 'TransformationEvent'].includes(e['type']), apply: (e) => void (e['persistentDisposition'] = {}) },
  { name: 'persistentDisposition with a repeated value', valid: false, applies: (e) => ['ObjectEvent', 'TransformationEvent'].includes(e['type']), apply: (e) => void (e['persistentDisposition'] = { set: ['active', 'active'] }) },
  { name: 'unknown event type', valid: false, apply: (e) => void (e['type'] = 'ShipmentEvent') },
  { name: 'without type', valid: false, apply: (e) => delete e['type'] },
  { name: 'TransformationEvent without outputs', valid: false, applies: (e) => e['type'] === 'TransformationEvent', apply: (e) => { delete e['outputEPCList']; delete e['outputQuantityList']; delete e['transformationID']; } },
  { name: 'AggregationEvent ADD without children', valid: false, applies: (e) => e['type'] === 'AggregationEvent', apply: (e) => { e['action'] = 'ADD'; delete e['childEPCs']; delete e['childQuantityList']; } },
  { name: 'AssociationEvent without parentID', valid: false, applies: (e) => e['type'] === 'AssociationEvent', apply: (e) => delete e['parentID'] },
  { name: 'TransactionEvent without bizTransactionList', valid: false, applies: (e) => e['type'] === 'TransactionEvent', apply: (e) => delete e['bizTransactionList'] },
];
const DOCUMENT_MUTATIONS: Mutation[] = [
  { name: 'without @context', valid: false, apply: (d) => delete d['@context'] },
  { name: '@context as a number', valid: false, apply: (d) => void (d['@context'] = 5) },
  { name: 'without creationDate', valid: false, applies: (d) => d['type'] === 'EPCISDocument', apply: (d) => delete d['creationDate'] },
  { name: 'creationDate not a date-time', valid: false, apply: (d) => void (d['creationDate'] = '2020-13-01T00:00:00Z') },
  { name: 'schemaVersion as a number', valid: false, apply: (d) => void (d['schemaVersion'] = 2) },
  { name: 'without schemaVersion', valid: false, applies: (d) => d['type'] === 'EPCISDocument', apply: (d) => delete d['schemaVersion'] },
  { name: 'without epcisBody', valid: false, apply: (d) => delete d['epcisBody'] },
  { name: 'an empty epcisBody', valid: false, apply: (d) => void (d['epcisBody'] = {}) },
  { name: 'un-prefixed member', valid: false, apply: (d) => void (d['sentBy'] = 'me') },
  { name: 'namespaced member', valid: true, apply: (d) => void (d['example:sentBy'] = 'me') },
  { name: 'an event that is a string', valid: false, applies: (d) => d['type'] === 'EPCISDocument', apply: (d) => void d['epcisBody'].eventList.push('event') },
];

const eventListOf = (doc: Json): Json[] | null =>
  doc['type'] === 'EPCISDocument' ? doc['epcisBody'].eventList : doc['type'] === 'EPCISQueryDocument' ? doc['epcisBody'].queryResults.resultsBody.eventList : null;

interface Trial { name: string; doc: Json; valid: boolean }

/** Each mutation on a fresh copy of the document (events: the first three of each document). */
function trials(name: string, base: Json): Trial[] {
  const out: Trial[] = [];
  for (const m of DOCUMENT_MUTATIONS) {
    if (m.applies && !m.applies(base)) continue;
    const doc = structuredClone(base);
    m.apply(doc);
    out.push({ name: `${name} / document ${m.name}`, doc, valid: m.valid });
  }
  const events = eventListOf(base) ?? [];
  for (let i = 0; i < Math.min(events.length, 3); i++) {
    for (const m of EVENT_MUTATIONS) {
      if (m.applies && !m.applies(events[i]!)) continue;
      const doc = structuredClone(base);
      const event = eventListOf(doc)![i]!;
      // A corruption the event already has (or a "valid" change to an event GS1 rejects anyway) proves nothing.
      m.apply(event);
      out.push({ name: `${name} / event ${i} ${m.name}`, doc, valid: m.valid });
    }
  }
  return out;
}

describe('agreement with GS1\'s schema on corrupted documents', () => {
  const CREATED = '2027-03-01T12:00:00.000Z';
  const exported = epcisDocument([
    toEpcisEvent({
      body: { kind: 'SHIP', actor: 'a', occurredAt: '2026-03-02T15:05:10.120Z', timezoneOffset: '+01:00', recordedAt: '2026-03-02T15:05:11.000Z', location: '9506000000018', counterparty: 'b', data: {}, items: ['urn:epc:id:sgtin:9506000.013435.SN-1'] },
      contentHash: 'ab'.repeat(32), leafIndex: 3, actorGln: '9506000999992', counterpartyGln: null, actorId: 'a', counterpartyId: 'b',
    }, { epcFormat: 'urn' }),
  ], CREATED);
  const bases: [string, Json][] = [['exporter SHIP', exported], ...gs1.examples.map((f) => [gs1.relative(f), readJson(f)] as [string, Json])];
  const all = bases.flatMap(([name, doc]) => trials(name, doc));

  it('covers every mutation at least once, on hundreds of documents', () => {
    for (const m of [...EVENT_MUTATIONS, ...DOCUMENT_MUTATIONS]) expect(all.some((t) => t.name.endsWith(` ${m.name}`)), m.name).toBe(true);
    expect(all.length).toBeGreaterThan(1000);
  });

  it('GS1\'s schema judges each corrupted document as the mutation list says (the list is right)', () => {
    const wrong = all.filter((t) => (gs1.schemaErrors(t.doc) === '') !== t.valid).map((t) => `${t.name}: GS1 says ${t.valid ? gs1.schemaErrors(t.doc).slice(0, 300) : 'valid'}`);
    expect(wrong).toEqual([]);
  });

  it('the project validator rejects exactly what GS1\'s schema rejects, and accepts what it accepts', () => {
    const disagree = all
      .filter((t) => (mine(t.doc) === '') !== (gs1.schemaErrors(t.doc) === ''))
      .map((t) => `${t.name}: project ${mine(t.doc) || 'accepts'} / GS1 ${gs1.schemaErrors(t.doc).slice(0, 300) || 'accepts'}`);
    expect(disagree).toEqual([]);
    expect(all.filter((t) => !t.valid).length).toBeGreaterThan(900);
  });

  it('names the corrupted field: each rejected event corruption is reported inside that event', () => {
    const misplaced = all
      .filter((t) => !t.valid && / \/ event \d+ /.test(t.name))
      .flatMap((t) => {
        const i = Number(/ \/ event (\d+) /.exec(t.name)![1]);
        const list = t.doc['type'] === 'EPCISDocument' ? 'epcisBody.eventList' : 'epcisBody.queryResults.resultsBody.eventList';
        const errors = validateEpcisDocument(t.doc);
        return errors.some((e) => e.path === `${list}[${i}]` || e.path.startsWith(`${list}[${i}].`)) ? [] : [`${t.name}: ${JSON.stringify(errors)}`];
      });
    expect(misplaced).toEqual([]);
  });
});
