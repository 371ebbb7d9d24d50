/**
 * Event hash IDs (CBV 2.0, `src/core/epcis-hash.ts`): exact numbers and the place of user extensions nested in
 * standard fields. Every expectation below is written out by hand from the reference rules
 * (RalphTro/epcis-event-hash-generator, PR #123 state = commit 084b0034, the state the project's vectors come from):
 * - numbers: `hash_generator._try_format_numeric` reads every value with Python's `Decimal` (never a float): an
 *   integral value is written `str(d.to_integral_value())`, any other `format(d.normalize(), 'f')`; JSON number
 *   tokens first go through Python's `json` (integer tokens exact, others `float`) and `str()`;
 * - CBV 2.0 extensions: `derive_prehashes_from_events` appends, after the property-ordered fields, (1) the ILMD,
 *   (2) `_field_extensions` for each standard field with a sub-order, in property order (`persistentDisposition`,
 *   `readPoint`, `bizLocation`, … `sensorElementList` written without its name), each prefixed by its field path,
 *   nested sub-fields before the field's own extensions, and (3) the event-level extensions, sorted;
 *   `bizTransaction` / `source` / `destination` entries keep only their first two members (type and id) and
 *   `errorDeclaration` / `certificationInfo` never take part.
 * - CBV 2.1 draft (`inline_user_extensions`): nested extensions follow their field's regular sub-fields.
 */
import { describe, expect, it } from 'vitest';
import type { EventBody } from '../../src/core/chain.ts';
import { DOCUMENT_CONTEXT, type EpcFormat, type ExportableEvent, toEpcisEvent } from '../../src/core/epcis-export.ts';
import { JsonNumberText, epcisEventHashId, epcisPreHashString, jsonNumbersNeedExactParse, parseJsonForHash } from '../../src/core/epcis-hash.ts';
import { gs1CheckDigit, sgtinUrn } from '../../src/core/identifiers.ts';

type Json = Record<string, unknown>;

const CONTEXT = ['https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld', { ex: 'https://ex.example/', provenant: 'https://provenant.dev/epcis/' }];
const X = '{https://ex.example/}';
const P = '{https://provenant.dev/epcis/}';

const base = (): Json => ({
  type: 'ObjectEvent',
  eventTime: '2026-01-01T00:00:00.000Z',
  eventTimeZoneOffset: '+00:00',
  epcList: ['https://id.gs1.org/01/09506000134352/21/A1'],
  action: 'OBSERVE',
  bizStep: 'https://ref.gs1.org/cbv/BizStep-shipping',
  'ex:top': 'T',
});
const HEAD = 'eventType=ObjectEventeventTime=2026-01-01T00:00:00.000ZeventTimeZoneOffset=+00:00';
const EPCS = 'epcListepc=https://id.gs1.org/01/09506000134352/21/A1';
const ACTION_STEP = 'action=OBSERVEbizStep=https://ref.gs1.org/cbv/BizStep-shipping';
const TOP = `${X}top=T`;
const pre = (e: Json, version?: 'CBV2.0' | 'CBV2.1'): string => epcisPreHashString(e, CONTEXT, version ? { version } : undefined);
const hash = (e: Json): string => epcisEventHashId(e, CONTEXT);

describe('numbers are written exactly (Decimal rules, never a float)', () => {
  const valueOf = (v: unknown): string => {
    const e: Json = { ...base(), 'ex:v': v };
    delete e['ex:top'];
    const p = pre(e);
    return p.slice(p.indexOf(`${X}v=`) + `${X}v=`.length);
  };

  it('18-digit SSCCs in container fields keep every digit, so different containers hash differently', () => {
    // Decimal('040123450000001020') is integral: str() gives 40123450000001020 (a float gives ...1024 for both).
    const packed = (container: string, child: string): Json => ({
      ...base(),
      'provenant:data': { 'provenant:container': container, 'provenant:containers': [child] },
    });
    const a = packed('040123450000001020', '040123450000001037');
    const b = packed('040123450000001021', '040123450000001038');
    expect(pre(a)).toContain(`${P}data${P}container=40123450000001020${P}containers=40123450000001037`);
    expect(pre(b)).toContain(`${P}container=40123450000001021${P}containers=40123450000001038`);
    expect(hash(a)).not.toBe(hash(b));
  });

  it.each([
    // [string value, pre-hash text]: Decimal(x) integral -> str(to_integral_value()); else format(normalize(), 'f')
    ['0.000001', '0.000001'], // a float would print 1e-06
    ['1e-06', '0.000001'],
    ['0.0000001', '0.0000001'],
    ['25.0', '25'],
    ['12.40', '12.4'],
    ['+5', '5'],
    ['.5', '0.5'],
    ['007', '7'],
    ['1.5E3', '1.5E+3'], // integral with a positive exponent: Decimal's scientific string
    ['-0.0', '-0'],
    ['1_000', '1000'], // Decimal ignores underscores
    ['12345678901234567890123', '12345678901234567890123'],
    ['0.12345678901234567890123456789', '0.1234567890123456789012345679'], // normalize(): 28 digits, half even
    ['NaN', 'NaN'], // not finite: kept as written
    ['A-1', 'A-1'],
  ])('string %s is hashed as %s', (value, expected) => {
    expect(valueOf(value)).toBe(expected);
  });

  it.each([
    // [JSON token, pre-hash text]: Python's json gives int for integer tokens, float otherwise; then Decimal(str(x))
    ['12345678901234567890', '12345678901234567890'],
    ['25.0', '25'],
    ['1e-7', '0.0000001'], // float 1e-07 -> Decimal -> 0.0000001
    ['1E21', '1E+21'], // float repr 1e+21 -> Decimal integral -> 1E+21
    ['0.1', '0.1'],
    ['-0', '0'], // int('-0') is 0
  ])('JSON number token %s (lossless parse) is hashed as %s', (token, expected) => {
    const parsed = parseJsonForHash(`{"v": ${token}}`) as Json;
    expect(parsed['v']).toBeInstanceOf(JsonNumberText);
    expect(valueOf(parsed['v'])).toBe(expected);
  });

  it('a JS number is hashed as the JSON text it is exported as', () => {
    expect(valueOf(25)).toBe('25');
    expect(valueOf(1e-7)).toBe('0.0000001'); // JSON.stringify gives 1e-7, a float token
    expect(valueOf(1e16)).toBe('10000000000000000'); // JSON.stringify gives an integer token
    expect(valueOf(1e21)).toBe('1E+21');
    expect(valueOf(149.9)).toBe('149.9');
  });

  it('the lossless parse and JSON.parse agree wherever a double holds the number exactly', () => {
    const text = '{"type":"ObjectEvent","eventTime":"2026-01-01T00:00:00Z","eventTimeZoneOffset":"+00:00","ex:a":1.25,"ex:b":[3,40.50],"ex:c":{"ex:d":1e-7}}';
    expect(pre(parseJsonForHash(text) as Json)).toBe(pre(JSON.parse(text) as Json));
  });

  it('jsonNumbersNeedExactParse: true exactly when some number token reads differently as a double', () => {
    expect(jsonNumbersNeedExactParse('{"a":1,"b":[0.1,-2.5e-7,1e21,149.9],"c":"12345678901234567890","d":"1e20"}')).toBe(false);
    expect(jsonNumbersNeedExactParse('{"a":12345678901234567890}')).toBe(true); // beyond 2^53
    expect(jsonNumbersNeedExactParse('{"a":1e20}')).toBe(true); // a float for Python, an integer text for JSON.stringify
    expect(jsonNumbersNeedExactParse('{"a":25.0}')).toBe(true); // str(25.0) is "25.0"
    expect(jsonNumbersNeedExactParse('{"s":"a \\"quoted\\" 12345678901234567890"}')).toBe(false);
  });

  it('digits a double cannot hold change the hash only through the lossless parse', () => {
    const text = (n: string) => `{"type":"ObjectEvent","eventTime":"2026-01-01T00:00:00Z","eventTimeZoneOffset":"+00:00","ex:n":${n}}`;
    expect(hash(JSON.parse(text('12345678901234567890')) as Json)).toBe(hash(JSON.parse(text('12345678901234567891')) as Json));
    expect(hash(parseJsonForHash(text('12345678901234567890')) as Json)).not.toBe(hash(parseJsonForHash(text('12345678901234567891')) as Json));
  });
});

describe('CBV 2.0: user extensions nested in standard fields', () => {
  it('readPoint: the field stays in place, its extension goes to the trailing block, before event-level ones', () => {
    const e = { ...base(), readPoint: { id: 'https://id.gs1.org/414/4012345000009', 'ex:r': 'R' } };
    expect(pre(e)).toBe(`${HEAD}${EPCS}${ACTION_STEP}readPointid=https://id.gs1.org/414/4012345000009readPoint${X}r=R${TOP}`);
  });

  it('bizLocation, likewise', () => {
    const e = { ...base(), bizLocation: { id: 'https://id.gs1.org/414/4012345000009', 'ex:b': 'B' } };
    expect(pre(e)).toBe(`${HEAD}${EPCS}${ACTION_STEP}bizLocationid=https://id.gs1.org/414/4012345000009bizLocation${X}b=B${TOP}`);
  });

  it('the trailing block follows the property order (readPoint before bizLocation), not lexical order', () => {
    const e = {
      ...base(),
      bizLocation: { id: 'https://id.gs1.org/414/4012345000016', 'ex:b': 'B' },
      readPoint: { id: 'https://id.gs1.org/414/4012345000009', 'ex:r': 'R' },
    };
    expect(pre(e)).toBe(
      `${HEAD}${EPCS}${ACTION_STEP}readPointid=https://id.gs1.org/414/4012345000009bizLocationid=https://id.gs1.org/414/4012345000016` +
        `readPoint${X}r=RbizLocation${X}b=B${TOP}`,
    );
  });

  it('a field\'s several extensions (and nested ones) are sorted in the generic form', () => {
    const e = { ...base(), readPoint: { 'ex:z': 'Z', id: 'https://id.gs1.org/414/4012345000009', 'ex:a': { 'ex:y': '2', 'ex:x': '1' } } };
    expect(pre(e)).toBe(`${HEAD}${EPCS}${ACTION_STEP}readPointid=https://id.gs1.org/414/4012345000009readPoint${X}a${X}x=1${X}y=2${X}z=Z${TOP}`);
  });

  it('ILMD comes first in the trailing block, before the field extensions (even bizLocation\'s)', () => {
    const e = {
      ...base(),
      bizLocation: { id: 'https://id.gs1.org/414/4012345000016', 'ex:b': 'B' },
      ilmd: { 'ex:lot': 'L1', 'ex:dims': { 'ex:w': '2', 'ex:h': '1' } },
    };
    expect(pre(e)).toBe(
      `${HEAD}${EPCS}${ACTION_STEP}bizLocationid=https://id.gs1.org/414/4012345000016` +
        `ilmd${X}dims${X}h=1${X}w=2${X}lot=L1bizLocation${X}b=B${TOP}`,
    );
  });

  it('sensorElement, sensorMetadata, sensorReport: nested parts first (metadata, then reports), then the element\'s own', () => {
    const e = {
      ...base(),
      sensorElementList: [
        {
          'ex:e': 'E',
          sensorMetadata: { time: '2026-01-01T01:00:00Z', 'ex:m': 'M' },
          sensorReport: [{ type: 'https://ref.gs1.org/voc/Temperature', value: 20.5, uom: 'CEL', 'ex:s': 'S' }],
        },
      ],
    };
    expect(pre(e)).toBe(
      `${HEAD}${EPCS}${ACTION_STEP}sensorElementsensorMetadatatime=2026-01-01T01:00:00.000ZsensorReporttype=https://ref.gs1.org/voc/Temperaturevalue=20.5uom=CEL` +
        `sensorElementsensorMetadata${X}m=MsensorReport${X}s=S${X}e=E${TOP}`,
    );
  });

  it('persistentDisposition', () => {
    const e = { ...base(), persistentDisposition: { set: ['https://ref.gs1.org/cbv/Disp-completeness_verified'], 'ex:p': 'P' } };
    expect(pre(e)).toBe(
      `${HEAD}${EPCS}${ACTION_STEP}persistentDispositionset=https://ref.gs1.org/cbv/Disp-completeness_verified` +
        `persistentDisposition${X}p=P${TOP}`,
    );
  });

  it.each(['quantityList', 'childQuantityList', 'inputQuantityList', 'outputQuantityList'])('%s entries', (list) => {
    const e: Json = { ...base(), [list]: [{ epcClass: 'https://id.gs1.org/01/09506000134352', quantity: 5, uom: 'KGM', 'ex:q': 'Q' }] };
    delete e.epcList;
    const element = 'quantityElementepcClass=https://id.gs1.org/01/09506000134352quantity=5uom=KGM';
    expect(pre(e)).toBe(`${HEAD}${list}${element}${ACTION_STEP}${list}quantityElement${X}q=Q${TOP}`);
  });

  it.each([
    ['bizTransactionList', 'bizTransaction', 'https://ref.gs1.org/cbv/BTT-po', 'urn:epcglobal:cbv:bt:9506000000000:PO-1'],
    ['sourceList', 'source', 'https://ref.gs1.org/cbv/SDT-owning_party', 'https://id.gs1.org/417/9506000999996'],
    ['destinationList', 'destination', 'https://ref.gs1.org/cbv/SDT-owning_party', 'https://id.gs1.org/417/4012345000016'],
  ])('%s entries: only type and identifier take part', (list, key, type, id) => {
    const plain = { ...base(), [list]: [{ type, [key]: id }] };
    const extended = { ...base(), [list]: [{ type, [key]: id, 'ex:x': 'X' }] };
    expect(pre(extended)).toBe(`${HEAD}${EPCS}${ACTION_STEP}${list}type=${type}${key}=${id}${TOP}`);
    expect(hash(extended)).toBe(hash(plain));
  });

  it('errorDeclaration and certificationInfo take no part, their extensions neither', () => {
    const e = {
      ...base(),
      errorDeclaration: { declarationTime: '2026-01-02T00:00:00Z', reason: 'https://ref.gs1.org/cbv/ER-incorrect_data', 'ex:why': 'typo' },
      certificationInfo: 'https://cert.example/1',
    };
    expect(pre(e)).toBe(`${HEAD}${EPCS}${ACTION_STEP}${TOP}`);
  });

  it('a key whose namespace does not end in "/" is no user extension for the rule: the field is hashed with the event-level ones', () => {
    const context = ['https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld', { ex: 'https://ex.example/', u: 'urn:ex:' }];
    const e = { ...base(), readPoint: { id: 'https://id.gs1.org/414/4012345000009', 'u:r': 'R' } };
    // readPoint keeps its leftover and is emitted in the generic, sorted tail: "readPoint…" sorts before "{https…".
    expect(epcisPreHashString(e, context)).toBe(`${HEAD}${EPCS}${ACTION_STEP}readPointid=https://id.gs1.org/414/4012345000009readPoint{urn:ex:}r=R${TOP}`);
  });

  it('CBV 2.1 draft keeps extensions inline, after the field\'s regular sub-fields', () => {
    const e = { ...base(), readPoint: { id: 'https://id.gs1.org/414/4012345000009', 'ex:r': 'R' } };
    expect(pre(e, 'CBV2.1')).toBe(`${HEAD}${EPCS}${ACTION_STEP}readPointid=https://id.gs1.org/414/4012345000009${X}r=R${TOP}`);
  });
});

describe('toEpcisEvent: one eventID per event; containers in the URN format', () => {
  const withCheck = (digits: string): string => digits + String(gs1CheckDigit(digits));
  const GTIN = withCheck('0950600013435');
  // Every character GS1 allows in AI 21 besides alphanumerics, over serials of at most 20 characters.
  const SERIALS = [`!"%&'()*+,`, `-./:;<=>?_`, 'Az09', "O'Neil", 'a(1)*'];
  const ITEMS = SERIALS.map((s) => sgtinUrn(GTIN, 7, s)).sort();
  const CASE = withCheck('09506000000000042');
  const PALLET = withCheck('09506000000000059');
  const FOREIGN = withCheck('01234567000000018'); // company prefix 1234567, not registered here
  const event = (kind: EventBody['kind'], data: EventBody['data'] = {}): ExportableEvent => ({
    body: { kind, actor: 'a1', occurredAt: '2026-03-01T10:00:00.000Z', timezoneOffset: '+01:00', recordedAt: '2026-03-01T10:00:01.000Z', location: null, counterparty: null, data, items: ITEMS },
    contentHash: 'ab'.repeat(32),
    leafIndex: 7,
    actorGln: null,
    counterpartyGln: null,
    actorId: 'a1',
    counterpartyId: null,
  });
  const both = (e: ExportableEvent, companyPrefixes?: string[]) =>
    (['urn', 'digitalLink'] as EpcFormat[]).map((epcFormat) => toEpcisEvent(e, { epcFormat, ...(companyPrefixes ? { companyPrefixes } : {}) }));

  it.each(['COMMISSION', 'SHIP', 'DESTROY'] as const)('%s: the URN and Digital Link exports carry the same eventID', (kind) => {
    const [urn, dl] = both(event(kind));
    expect((dl!['epcList'] as string[]).some((epc) => epc.includes('%27'))).toBe(true);
    expect(dl!['eventID']).toBe(urn!['eventID']);
    const { eventID, ...rest } = urn!;
    expect(eventID).toBe(epcisEventHashId(rest, DOCUMENT_CONTEXT));
  });

  it('provenant:capturedEventID is written last and covered by the eventID, the same in both formats', () => {
    const captured = { ...event('SHIP'), capturedEventId: 'ni:///sha-256;' + '0'.repeat(64) + '?ver=CBV2.0' };
    const [urn, dl] = both(captured);
    expect(Object.keys(urn!).at(-1)).toBe('provenant:capturedEventID');
    expect(dl!['eventID']).toBe(urn!['eventID']);
    expect(urn!['eventID']).not.toBe(toEpcisEvent(event('SHIP'), { epcFormat: 'urn' })['eventID']);
  });

  it('PACK in the URN format: parentID and child containers are SSCC URNs when their company prefix is known', () => {
    const [urn, dl] = both(event('PACK', { container: PALLET, containers: [CASE, FOREIGN] }), ['950600', '9506000', '4012345']);
    // Longest registered prefix that the SSCC carries after its extension digit: 9506000 (7 digits).
    expect(urn!['parentID']).toBe('urn:epc:id:sscc:9506000.0000000059');
    expect((urn!['childEPCs'] as string[]).slice(-2)).toEqual(['urn:epc:id:sscc:9506000.0000000042', `https://id.gs1.org/00/${FOREIGN}`]);
    expect(dl!['parentID']).toBe(`https://id.gs1.org/00/${PALLET}`);
    expect((dl!['childEPCs'] as string[]).slice(-2)).toEqual([`https://id.gs1.org/00/${CASE}`, `https://id.gs1.org/00/${FOREIGN}`]);
    expect(dl!['eventID']).toBe(urn!['eventID']);
  });

  it('without known company prefixes a container stays a Digital Link (the URN needs the prefix length)', () => {
    const [urn] = both(event('UNPACK', { container: PALLET }));
    expect(urn!['parentID']).toBe(`https://id.gs1.org/00/${PALLET}`);
    // The hash normalises both container forms alike: the eventID does not depend on the registered prefixes.
    expect(urn!['eventID']).toBe(both(event('UNPACK', { container: PALLET }), ['9506000'])[0]!['eventID']);
  });
});
