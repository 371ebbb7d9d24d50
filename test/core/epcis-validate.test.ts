import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { eventPath, isAbsoluteUri, isDateTime, validateEpcisDocument } from '../../src/core/epcis-validate.ts';

type Json = Record<string, any>;

// Open-licensed EPCIS 2.0 documents shipped in test/vectors (see test/vectors/SOURCES.md): every event type, sensor
// data, certification info, custom contexts, CURIEs. GS1's own examples are checked in test/conformance.
const docsDir = fileURLToPath(new URL('../vectors/epcis/hash-vectors/ralphtro-latest-pr123/documents/', import.meta.url));
const DOCS = readdirSync(docsDir).filter((f) => /\.jsonld?$/.test(f)).sort();

const CONTEXT = ['https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld', { example: 'https://example.org/epcis/' }];
const doc = (events: Json[]): Json => ({ '@context': CONTEXT, type: 'EPCISDocument', schemaVersion: '2.0', creationDate: '2026-03-01T12:00:00.000Z', epcisBody: { eventList: events } });
const when = { eventTime: '2026-03-01T10:00:00.000+01:00', eventTimeZoneOffset: '+01:00' };
const EPC = 'https://id.gs1.org/01/09506000134352/21/SN-1';
const objectEvent = (f: Json = {}): Json => ({ type: 'ObjectEvent', ...when, action: 'OBSERVE', epcList: [EPC], bizStep: 'shipping', disposition: 'in_transit', ...f });

/** The full example of every event type, with every optional member. */
const everything: Json[] = [
  objectEvent({
    action: 'ADD', bizStep: 'commissioning', disposition: 'active', quantityList: [{ epcClass: 'urn:epc:class:lgtin:4012345.012345.998877', quantity: 200.5, uom: 'KGM' }],
    readPoint: { id: 'urn:epc:id:sgln:4012345.00001.0' }, bizLocation: { id: 'https://id.gs1.org/414/4012345000009' },
    bizTransactionList: [{ type: 'po', bizTransaction: 'urn:epcglobal:cbv:bt:4012345123456:12' }, { bizTransaction: 'https://example.org/tx/1' }],
    sourceList: [{ type: 'owning_party', source: 'https://id.gs1.org/417/4012345000009' }],
    destinationList: [{ type: 'https://example.org/my-party-type', destination: 'urn:epc:id:pgln:0614141.00001' }],
    sensorElementList: [{
      sensorMetadata: { time: '2026-03-01T10:00:00Z', deviceID: 'urn:epc:id:giai:4000001.111', 'example:firmware': '1.2' },
      sensorReport: [{ type: 'Temperature', value: 21.5, uom: 'CEL', component: 'x', exception: 'ALARM_CONDITION', booleanValue: true, hexBinaryValue: 'C0FFEE', stringValue: 's', uriValue: 'https://example.org/x' }],
    }],
    ilmd: { 'cbvmda:lotNumber': 'L1', 'example:grade': { a: 1 } },
    persistentDisposition: { set: ['completeness_verified'], unset: ['completeness_inferred'] },
    certificationInfo: ['https://example.org/cert/1'],
    errorDeclaration: { declarationTime: '2026-03-02T10:00:00Z', reason: 'incorrect_data', correctiveEventIDs: ['ni:///sha-256;00?ver=CBV2.0'], 'example:note': 'x' },
    recordTime: '2026-03-01T10:00:01Z', eventID: 'urn:uuid:7e0a1f4a-1111-4c3b-9d47-1234567890ab', 'example:custom': { nested: [1, 2] },
  }),
  { type: 'AggregationEvent', ...when, action: 'ADD', parentID: 'urn:epc:id:sscc:4012345.0000000001', childEPCs: [EPC], childQuantityList: [{ epcClass: 'urn:epc:idpat:sgtin:4012345.012345.*', quantity: 4 }], bizStep: 'packing' },
  { type: 'AggregationEvent', ...when, action: 'DELETE', parentID: 'urn:epc:id:sscc:4012345.0000000001', bizStep: 'unpacking' },
  { type: 'AssociationEvent', ...when, action: 'ADD', parentID: 'urn:epc:id:grai:4012345.55555.987', childEPCs: ['urn:epc:id:giai:4000001.12345'], bizStep: 'assembling' },
  { type: 'TransactionEvent', ...when, action: 'ADD', bizTransactionList: [{ type: 'inv', bizTransaction: 'urn:epcglobal:cbv:bt:4012345123456:77' }], epcList: [EPC] },
  { type: 'TransformationEvent', ...when, inputEPCList: [EPC], outputQuantityList: [{ epcClass: 'urn:provenant:material:aluminium', quantity: 1.25, uom: 'KGM' }], bizStep: 'disassembling', ilmd: { 'example:x': 1 } },
  { type: 'TransformationEvent', ...when, transformationID: 'urn:epc:id:gdti:0614141.12345.400', inputEPCList: [EPC] },
  { type: 'https://example.org/MyEvent', ...when, 'https://example.org/anything': 1 },
];

describe('validateEpcisDocument: valid documents', () => {
  it.each(DOCS)('accepts %s (test/vectors)', (file) => {
    expect(validateEpcisDocument(JSON.parse(readFileSync(`${docsDir}${file}`, 'utf8')))).toEqual([]);
  });

  it('accepts every event type with every optional member, extension members and extension events', () => {
    expect(validateEpcisDocument(doc(everything))).toEqual([]);
  });

  it('accepts an EPCISQueryDocument, a single event with its @context, an empty eventList and CBV values as URIs', () => {
    expect(validateEpcisDocument({ '@context': CONTEXT, type: 'EPCISQueryDocument', schemaVersion: '2.0', creationDate: '2026-03-01T12:00:00Z', epcisBody: { queryResults: { queryName: 'SimpleEventQuery', resultsBody: { eventList: everything } } } })).toEqual([]);
    expect(validateEpcisDocument({ '@context': CONTEXT, ...objectEvent() })).toEqual([]);
    expect(validateEpcisDocument(doc([]))).toEqual([]);
    expect(validateEpcisDocument(doc([objectEvent({ bizStep: 'https://ref.gs1.org/cbv/BizStep-shipping', disposition: 'https://example.org/disp/lost' })]))).toEqual([]);
    expect(validateEpcisDocument(doc([objectEvent({ epcList: [], sensorElementList: [{ sensorReport: [{ type: 'https://example.org/measure/x' }] }], readPoint: { id: 'urn:epc:id:sgln:4012345.00001.0' } })]))).toEqual([]);
  });
});

describe('validateEpcisDocument: field-level errors', () => {
  const first = (f: (e: Json) => void, base: Json = objectEvent()): Json => {
    const e = structuredClone(base);
    f(e);
    return doc([objectEvent(), e]);
  };
  const E = 'epcisBody.eventList[1]';
  const cases: [string, Json, string, RegExp][] = [
    ['missing eventTime', first((e) => delete e.eventTime), `${E}.eventTime`, /^is required in an ObjectEvent$/],
    ['missing eventTimeZoneOffset', first((e) => delete e.eventTimeZoneOffset), `${E}.eventTimeZoneOffset`, /^is required/],
    ['offset beyond +14:00', first((e) => void (e.eventTimeZoneOffset = '+14:30')), `${E}.eventTimeZoneOffset`, /^must be a time zone offset from -14:00 to \+14:00/],
    ['eventTime without a zone', first((e) => void (e.eventTime = '2026-03-01T10:00:00')), `${E}.eventTime`, /^must be an RFC 3339 date-time with a time zone/],
    ['eventTime as a number', first((e) => void (e.eventTime = 1700000000)), `${E}.eventTime`, /^must be a date-time string, got an integer$/],
    ['action not in the list', first((e) => void (e.action = 'MOVE')), `${E}.action`, /^must be one of OBSERVE, ADD, DELETE, got "MOVE"$/],
    ['missing action', first((e) => delete e.action), `${E}.action`, /^is required/],
    ['epcList as a string', first((e) => void (e.epcList = EPC)), `${E}.epcList`, /^must be an array, got a string$/],
    ['an EPC that is no URI', first((e) => void (e.epcList = [EPC, 'SN 1'])), `${E}.epcList[1]`, /^must be an absolute URI/],
    ['a repeated EPC', first((e) => void (e.epcList = [EPC, EPC])), `${E}.epcList[1]`, /^repeats epcisBody\.eventList\[1\]\.epcList\[0\]/],
    ['no epcList, quantityList or sensor data', first((e) => delete e.epcList), `${E}.epcList`, /^an ObjectEvent needs epcList/],
    ['unknown bizStep', first((e) => void (e.bizStep = 'recycling')), `${E}.bizStep`, /^"recycling" is not a CBV business step/],
    ['bizStep in CBV URN form', first((e) => void (e.bizStep = 'urn:epcglobal:cbv:bizstep:shipping')), `${E}.bizStep`, /is not a CBV business step/],
    ['unknown disposition', first((e) => void (e.disposition = 'lost')), `${E}.disposition`, /^"lost" is not a CBV disposition/],
    ['readPoint without id', first((e) => void (e.readPoint = { name: 'dock' })), `${E}.readPoint.id`, /^is required in readPoint$/],
    ['bizLocation as a string', first((e) => void (e.bizLocation = 'urn:epc:id:sgln:4012345.00001.0')), `${E}.bizLocation`, /^must be an object, got a string$/],
    ['source without type', first((e) => void (e.sourceList = [{ source: 'urn:provenant:actor:x' }])), `${E}.sourceList[0].type`, /^is required in a source$/],
    ['destination with an extra member', first((e) => void (e.destinationList = [{ type: 'owning_party', destination: 'urn:x:y', name: 'Shop' }])), `${E}.destinationList[0].name`, /^is not a field of a destination/],
    ['bizTransaction without its URI', first((e) => void (e.bizTransactionList = [{ type: 'po' }])), `${E}.bizTransactionList[0].bizTransaction`, /^is required/],
    ['quantity as a string', first((e) => void (e.quantityList = [{ epcClass: 'urn:epc:class:lgtin:4012345.012345.1', quantity: '5' }])), `${E}.quantityList[0].quantity`, /^must be a number, got a string$/],
    ['lower-case unit', first((e) => void (e.quantityList = [{ epcClass: 'urn:epc:class:lgtin:4012345.012345.1', quantity: 5, uom: 'kg' }])), `${E}.quantityList[0].uom`, /^must be a UN\/CEFACT unit code/],
    ['sensor report without type', first((e) => void (e.sensorElementList = [{ sensorReport: [{ value: 1 }] }])), `${E}.sensorElementList[0].sensorReport[0].type`, /^is required in a sensor report$/],
    ['empty sensorReport', first((e) => void (e.sensorElementList = [{ sensorReport: [] }])), `${E}.sensorElementList[0].sensorReport`, /^must have at least 1 item$/],
    ['sensor value as a string', first((e) => void (e.sensorElementList = [{ sensorReport: [{ type: 'Temperature', value: '20' }] }])), `${E}.sensorElementList[0].sensorReport[0].value`, /^must be a number/],
    ['ILMD with OBSERVE', first((e) => void (e.ilmd = { 'cbvmda:lotNumber': 'L1' })), `${E}.ilmd`, /^ILMD is only allowed with action ADD, not OBSERVE$/],
    ['un-prefixed ILMD member', first((e) => void Object.assign(e, { action: 'ADD', ilmd: { lotNumber: 'L1' } })), `${E}.ilmd.lotNumber`, /^ILMD members must be namespaced/],
    ['un-prefixed extension field', first((e) => void (e.contentHash = 'abc')), `${E}.contentHash`, /^is not a field of an ObjectEvent and not a namespaced extension \(prefix:name\)$/],
    ['a field of another event type', first((e) => void (e.parentID = 'urn:epc:id:sscc:4012345.0000000001')), `${E}.parentID`, /^is not a field of an ObjectEvent/],
    ['certificationInfo as a number', first((e) => void (e.certificationInfo = 5)), `${E}.certificationInfo`, /^must be a URI string/],
    ['error declaration without time', first((e) => void (e.errorDeclaration = { reason: 'did_not_occur' })), `${E}.errorDeclaration.declarationTime`, /^is required/],
    ['persistentDisposition empty', first((e) => void (e.persistentDisposition = {})), `${E}.persistentDisposition`, /^must have set or unset$/],
    ['eventID that is no URI', first((e) => void (e.eventID = 'my event')), `${E}.eventID`, /^must be an absolute URI/],
    ['unknown event type', first((e) => void (e.type = 'ShipmentEvent')), `${E}.type`, /^must be ObjectEvent, AggregationEvent, TransformationEvent, TransactionEvent, AssociationEvent or an extension event type URI/],
    ['event that is no object', doc([objectEvent(), 'event' as unknown as Json]), E, /^an event must be an object, got a string$/],
    ['AggregationEvent ADD without children', first((e) => { delete e.childEPCs; delete e.childQuantityList; }, everything[1]), `${E}.childEPCs`, /^an AggregationEvent with action ADD needs a non-empty childEPCs or childQuantityList$/],
    ['AssociationEvent without parentID', first((e) => delete e.parentID, everything[3]), `${E}.parentID`, /^is required in an AssociationEvent$/],
    ['TransactionEvent with an empty bizTransactionList', first((e) => void (e.bizTransactionList = []), everything[4]), `${E}.bizTransactionList`, /^must have at least 1 item$/],
    ['TransformationEvent without outputs or transformationID', first((e) => delete e.outputQuantityList, everything[5]), `${E}.outputEPCList`, /^a TransformationEvent needs inputs/],
    ['missing creationDate', (() => { const d = doc([]); delete d.creationDate; return d; })(), 'creationDate', /^is required in an EPCISDocument$/],
    ['missing @context', (() => { const d = doc([]); delete d['@context']; return d; })(), '@context', /^is required/],
    ['schemaVersion as a number', { ...doc([]), schemaVersion: 2.0 }, 'schemaVersion', /^must be a version string/],
    ['eventList as an object', { ...doc([]), epcisBody: { eventList: {} } }, 'epcisBody.eventList', /^must be an array of events/],
    ['missing epcisBody', (() => { const d = doc([]); delete d.epcisBody; return d; })(), 'epcisBody', /^is required/],
    ['unknown document member', { ...doc([]), sentBy: 'me' }, 'sentBy', /not a namespaced extension/],
    ['a document that is an array', [] as unknown as Json, '', /^an EPCIS document must be a JSON object, got an array$/],
    ['no type', { '@context': CONTEXT }, 'type', /^is required/],
  ];

  it.each(cases)('%s', (_name, d, path, message) => {
    const errors = validateEpcisDocument(d);
    expect(errors.length, JSON.stringify(errors)).toBeGreaterThan(0);
    const found = errors.find((e) => e.path === path);
    expect(found, `${path} in ${JSON.stringify(errors)}`).toBeDefined();
    expect(found!.message).toMatch(message);
    // Only the broken event is reported.
    expect(errors.some((e) => e.path.startsWith('epcisBody.eventList[0]'))).toBe(false);
  });

  it('reports every problem of every event, in document order, up to maxErrors', () => {
    const bad = doc([objectEvent({ action: 'X' }), objectEvent(), objectEvent({ eventTime: 'now', epcList: ['a b'] })]);
    expect(validateEpcisDocument(bad).map((e) => e.path)).toEqual([
      'epcisBody.eventList[0].action', 'epcisBody.eventList[2].eventTime', 'epcisBody.eventList[2].epcList[0]',
    ]);
    const many = doc(Array.from({ length: 50 }, () => objectEvent({ action: 'X' })));
    expect(validateEpcisDocument(many)).toHaveLength(50);
    expect(validateEpcisDocument(many, 7)).toHaveLength(7);
  });

  it('never throws on odd input', () => {
    for (const odd of [null, undefined, 5, 'EPCISDocument', { type: 'EPCISDocument', epcisBody: null }, { type: 'EPCISDocument', epcisBody: { eventList: [null, [], 1] } }, { type: 7 }]) {
      expect(() => validateEpcisDocument(odd)).not.toThrow();
      expect(validateEpcisDocument(odd).length).toBeGreaterThan(0);
    }
  });
});

describe('formats', () => {
  it('isAbsoluteUri', () => {
    for (const ok of ['urn:epc:id:sgtin:0614141.107346.2017', 'https://id.gs1.org/01/09506000134352/21/SN%2F3', 'cbvmda:lotNumber', 'ni:///sha-256;ab?ver=CBV2.0', 'http://[::1]:8080/x', 'mailto:a@b.c#f']) {
      expect(isAbsoluteUri(ok), ok).toBe(true);
    }
    for (const bad of ['lotNumber', 'SN 1', 'https://x.org/a b', 'https://x.org/%zz', '1abc:x', 'urn:', 'https://x.org/é', '', 5]) expect(isAbsoluteUri(bad), String(bad)).toBe(false);
  });

  it('isDateTime', () => {
    for (const ok of ['2026-03-01T10:00:00Z', '2026-03-01T10:00:00.123456+05:30', '2024-02-29t10:00:00z', '2026-03-01 10:00:00-03:00', '2016-12-31T23:59:60Z']) expect(isDateTime(ok), ok).toBe(true);
    for (const bad of ['2026-03-01T10:00:00', '2026-02-29T10:00:00Z', '2026-13-01T10:00:00Z', '2026-03-01T24:00:00Z', '2026-03-01', '2026-03-01T10:00:60Z', '2026-3-1T10:00:00Z']) expect(isDateTime(bad), bad).toBe(false);
  });

  it('eventPath splits a path into the event index and the field inside it', () => {
    expect(eventPath('epcisBody.eventList[12].epcList[0]')).toEqual({ eventIndex: 12, field: 'epcList[0]' });
    expect(eventPath('epcisBody.eventList[3]')).toEqual({ eventIndex: 3, field: '' });
    expect(eventPath('creationDate')).toEqual({ eventIndex: null, field: 'creationDate' });
  });

  it('epcis-validate.ts is pure core: it imports nothing but the CBV vocabulary', () => {
    const source = readFileSync(fileURLToPath(new URL('../../src/core/epcis-validate.ts', import.meta.url)), 'utf8');
    expect(source.match(/^import .* from '([^']+)';$/gm)?.map((l) => /from '([^']+)'/.exec(l)![1])).toEqual(['./cbv.ts']);
    expect(source).not.toMatch(/Date\.now|new Date\(/);
  });
});
