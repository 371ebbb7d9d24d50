import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  EPCIS_DEFAULT_PAGE_SIZE, EPCIS_MAX_PAGE_SIZE, type EpcisQuery, type EpcisQueryError, decodePageToken, encodePageToken, kindsOfDisposition,
  decodeNameToken, encodeNameToken, locationCandidates, parseEpcisQuery, parseEpcisQueryString, parseNamedQuery, parseNamedQueryRun, partyOf,
} from '../../src/core/epcis-query-params.ts';
import { gs1CheckDigit } from '../../src/core/identifiers.ts';

const parse = (qs: string) => parseEpcisQueryString(new URLSearchParams(qs));
const query = (qs: string): EpcisQuery => {
  const r = parse(qs);
  if (!r.ok) throw new Error(JSON.stringify(r.error));
  return r.value;
};
const errors = (qs: string): EpcisQueryError[] => {
  const r = parse(qs);
  if (r.ok) throw new Error(`expected errors for ${qs}`);
  return r.error;
};

const GLN = '952000000000' + String(gs1CheckDigit('952000000000'));

describe('parseEpcisQueryString', () => {
  it('gives the defaults for an empty query: log order, 30 per page, no limits', () => {
    expect(query('')).toEqual({ filter: {}, orderBy: null, orderDirection: 'DESC', eventCountLimit: null, maxEventCount: null, perPage: EPCIS_DEFAULT_PAGE_SIZE, pageToken: null });
  });

  it('reads several values repeated and |-separated, keeping the order given', () => {
    const q = query('EQ_bizStep=shipping|receiving&EQ_bizStep=urn:epcglobal:cbv:bizstep:packing&eventType=ObjectEvent|AggregationEvent');
    expect(q.filter.bizSteps).toEqual(['shipping', 'receiving', 'urn:epcglobal:cbv:bizstep:packing']);
    expect(q.filter.eventTypes).toEqual(['ObjectEvent', 'AggregationEvent']);
  });

  it('parses EPC patterns per MATCH_ parameter', () => {
    const q = query([
      `MATCH_epc=${encodeURIComponent('urn:epc:id:sgtin:9506000.013435.S1|urn:epc:idpat:sgtin:9506000.013435.*')}`,
      `MATCH_parentID=${encodeURIComponent('urn:epc:id:sscc:0614141.1234567890')}`,
      `MATCH_inputEPC=${encodeURIComponent('https://id.gs1.org/01/09506000134352/21/S1')}`,
      `MATCH_anyEPC=${encodeURIComponent('urn:epc:idpat:sgtin:9506000.*.*|https://id.gs1.org/00/106141412345678908|urn:epc:id:grai:0614141.12345.1')}`,
      'MATCH_outputEPC=urn:epc:id:sgtin:9506000.013435.S9',
      'MATCH_epcClass=urn:epc:idpat:sgtin:9506000.013435.*',
    ].join('&'));
    expect(q.filter.matchEpc).toEqual([{ kind: 'item', gtin: '09506000134352', serial: 'S1' }, { kind: 'class', gtin: '09506000134352' }]);
    expect(q.filter.matchParentId).toEqual([{ kind: 'container', sscc: '106141412345678908' }]);
    expect(q.filter.matchInputEpc).toEqual([{ kind: 'item', gtin: '09506000134352', serial: 'S1' }]);
    expect(q.filter.matchAnyEpc).toEqual([{ kind: 'prefix', companyPrefix: '9506000' }, { kind: 'container', sscc: '106141412345678908' }, { kind: 'none' }]);
    expect(q.filter.matchOutputEpc).toEqual(['urn:epc:id:sgtin:9506000.013435.S9']);
    expect(q.filter.matchEpcClass).toEqual(['urn:epc:idpat:sgtin:9506000.013435.*']);
  });

  it('parses times (an unencoded + arrives as a space), actions, ordering and limits', () => {
    const q = query('GE_eventTime=2026-02-01T00:00:00.000+01:00&LT_eventTime=2026-03-01T00:00:00Z&GE_recordTime=2026-01-01T00:00:00Z&LT_recordTime=2027-01-01T00:00:00Z'
      + '&EQ_action=ADD|DELETE&orderBy=recordTime&orderDirection=ASC&eventCountLimit=3&perPage=5000');
    expect(q.filter.geEventTime).toEqual(new Date('2026-01-31T23:00:00.000Z'));
    expect(q.filter.ltEventTime).toEqual(new Date('2026-03-01T00:00:00.000Z'));
    expect(q.filter.geRecordTime).toEqual(new Date('2026-01-01T00:00:00.000Z'));
    expect(q.filter.ltRecordTime).toEqual(new Date('2027-01-01T00:00:00.000Z'));
    expect(q.filter.actions).toEqual(['ADD', 'DELETE']);
    expect(q).toMatchObject({ orderBy: 'recordTime', orderDirection: 'ASC', eventCountLimit: 3, maxEventCount: null, perPage: EPCIS_MAX_PAGE_SIZE });
    expect(query('orderBy=eventTime').orderDirection).toBe('DESC');
    expect(query('maxEventCount=0').maxEventCount).toBe(0);
  });

  it('turns EQ_/WD_ locations into the recorded locations that export as them, one list per parameter', () => {
    const q = query(`EQ_readPoint=${encodeURIComponent(`https://id.gs1.org/414/${GLN}`)}&WD_readPoint=${encodeURIComponent('urn:example:somewhere')}&WD_bizLocation=${encodeURIComponent(`https://id.gs1.org/414/${GLN}`)}`);
    expect(q.filter.readPoints).toHaveLength(2);
    expect(q.filter.readPoints![0]).toContain(GLN);
    expect(q.filter.readPoints![1]).toEqual([]);
    expect(q.filter.bizLocations).toEqual([q.filter.readPoints![0]]);
  });

  it('reads EQ_source_/EQ_destination_ with the CBV type in any notation; unknown party URIs match no party', () => {
    const q = query(`EQ_destination_owning_party=${encodeURIComponent(`https://id.gs1.org/417/${GLN}|urn:provenant:actor:abc|urn:example:x`)}`
      + `&EQ_source_${encodeURIComponent('urn:epcglobal:cbv:sdt:possessing_party')}=urn:provenant:actor:a%2520b`);
    expect(q.filter.destinations).toEqual([{ type: 'owning_party', parties: [{ gln: GLN }, { actorId: 'abc' }] }]);
    expect(q.filter.sources).toEqual([{ type: 'possessing_party', parties: [{ actorId: 'a b' }] }]);
  });

  it('refuses unknown and unsupported parameters by name, never ignoring them', () => {
    expect(errors('foo=1')).toEqual([{ parameter: 'foo', message: expect.stringMatching(/^unsupported query parameter foo \(supported: .*MATCH_epc/) }]);
    for (const name of ['EQ_quantity', 'MATCH_anyEPCClass', 'EQ_transformationID', 'EXISTS_errorDeclaration', 'EQ_bizTransaction_po', 'EQ_ILMD_lotNumber', 'GE_startTime']) {
      expect(errors(`${name}=1`)[0]!.message, name).toMatch(new RegExp(`^query parameter ${name} is not supported by this repository`));
    }
    // eventtype (case matters), EQ_epc (not a standard parameter: MATCH_epc is).
    expect(errors('eventtype=ObjectEvent')[0]!.parameter).toBe('eventtype');
    expect(errors('EQ_epc=urn:epc:id:sgtin:9506000.013435.S1')[0]!.parameter).toBe('EQ_epc');
  });

  it('reports every bad value with its parameter and value index', () => {
    const e = errors('EQ_action=ADD|UPSERT&MATCH_epc=urn:epc:id:sgtin:9506000.013435.S1|hello&EQ_readPoint=not a uri&GE_eventTime=yesterday&perPage=0&eventCountLimit=x&orderBy=eventTime&orderDirection=up');
    expect(e.map((x) => [x.parameter, x.index ?? null])).toEqual([
      ['EQ_action', 1], ['MATCH_epc', 1], ['EQ_readPoint', 0], ['GE_eventTime', null], ['orderDirection', null], ['eventCountLimit', null], ['perPage', null],
    ]);
    expect(e[0]!.message).toBe('EQ_action must be ADD, OBSERVE or DELETE, got UPSERT');
    expect(e[1]!.message).toMatch(/MATCH_epc: "hello" is not an EPC/);
  });

  it('refuses empty values, repeated single-valued parameters and the standard\'s forbidden combinations', () => {
    expect(errors('EQ_bizStep=')[0]).toMatchObject({ parameter: 'EQ_bizStep', message: 'EQ_bizStep needs non-empty values' });
    expect(errors('EQ_bizStep=shipping|')[0]).toMatchObject({ parameter: 'EQ_bizStep', index: 1 });
    expect(errors('perPage=1&perPage=2')[0]!.message).toBe('perPage may be given once');
    expect(errors('eventCountLimit=1')[0]!.message).toMatch(/eventCountLimit needs orderBy/);
    expect(errors('orderBy=eventTime&eventCountLimit=1&maxEventCount=3')[0]!.message).toMatch(/mutually exclusive/);
    expect(errors('eventCountLimit=0&orderBy=eventTime')[0]!.parameter).toBe('eventCountLimit');
    expect(errors('maxEventCount=-1')[0]!.parameter).toBe('maxEventCount');
  });

  it('accepts page tokens it issued for the same ordering only', () => {
    const token = encodePageToken({ treeSize: 10, afterLeafIndex: 4, remaining: null, order: 'eventTime:ASC' });
    expect(decodePageToken(token)).toEqual({ treeSize: 10, afterLeafIndex: 4, remaining: null, order: 'eventTime:ASC' });
    expect(query(`orderBy=eventTime&orderDirection=ASC&nextPageToken=${token}`).pageToken).toMatchObject({ afterLeafIndex: 4 });
    expect(errors(`orderBy=eventTime&nextPageToken=${token}`)[0]!.message).toMatch(/another orderBy/);
    expect(errors(`nextPageToken=${token}`)[0]!.message).toMatch(/another orderBy/);
    const limited = encodePageToken({ treeSize: 10, afterLeafIndex: 4, remaining: 2, order: 'log' });
    expect(errors(`nextPageToken=${limited}`)[0]!.message).toMatch(/eventCountLimit/);
    for (const bad of ['bm9wZQ', 'x'.repeat(400), '!!', encodePageToken({ treeSize: 3, afterLeafIndex: 3, remaining: null, order: 'log' })]) {
      expect(errors(`nextPageToken=${bad}`)[0]!.message, bad).toBe('nextPageToken is not a token returned by this endpoint');
    }
  });

  it('takes pre-split values (GraphQL) without splitting them again', () => {
    const r = parseEpcisQuery([['EQ_bizStep', ['a|b']]]);
    expect(r.ok && r.value.filter.bizSteps).toEqual(['a|b']);
  });
});

describe('locations and parties', () => {
  it('a GLN is matched by the bare GLN, its Digital Link and its 7 SGLN URNs (extension 0)', () => {
    const all = locationCandidates(`https://id.gs1.org/414/${GLN}`);
    expect(all).toEqual([GLN, `https://id.gs1.org/414/${GLN}`, ...[6, 7, 8, 9, 10, 11, 12].map((n) => `urn:epc:id:sgln:${GLN.slice(0, n)}.${GLN.slice(n, 12)}.0`)]);
    expect(locationCandidates(`urn:epc:id:sgln:9520000.00000.0`)).toEqual(all);
    expect(locationCandidates(`https://example.com/414/${GLN}`)).toEqual(all);
  });

  it('a GLN with extension only by its extension forms; bad check digits and other URIs by nothing', () => {
    expect(locationCandidates(`https://id.gs1.org/414/${GLN}/254/D7`)).toEqual([`https://id.gs1.org/414/${GLN}/254/D7`, ...[6, 7, 8, 9, 10, 11, 12].map((n) => `urn:epc:id:sgln:${GLN.slice(0, n)}.${GLN.slice(n, 12)}.D7`)]);
    expect(locationCandidates('urn:epc:id:sgln:9520000.00000.D7')).toContain(`https://id.gs1.org/414/${GLN}/254/D7`);
    expect(locationCandidates(`https://id.gs1.org/414/${GLN.slice(0, 12)}${(Number(GLN[12]) + 1) % 10}`)).toEqual([]);
    expect(locationCandidates('urn:epc:id:sgln:952000.000.0')).toEqual([]);
    expect(locationCandidates('Warehouse 7')).toEqual([]);
  });

  it('names parties as the export writes them', () => {
    expect(partyOf(`https://id.gs1.org/417/${GLN}`)).toEqual({ gln: GLN });
    expect(partyOf('urn:epc:id:pgln:9520000.00000')).toEqual({ gln: GLN });
    expect(partyOf('urn:provenant:actor:0b7c')).toEqual({ actorId: '0b7c' });
    expect(partyOf('urn:provenant:actor:%E0%A4%A')).toBeNull();
    expect(partyOf(`https://id.gs1.org/414/${GLN}`)).toBeNull();
  });

  it('maps dispositions to the kinds exported with them', () => {
    expect(kindsOfDisposition('in_progress')).toEqual(['RECEIVE', 'PACK', 'UNPACK']);
    expect(kindsOfDisposition('https://ref.gs1.org/cbv/Disp-recalled')).toEqual(['RECALL']);
    expect(kindsOfDisposition('urn:epcglobal:cbv:disp:nonsense')).toEqual([]);
  });

  it('epcis-query-params.ts stays pure: it imports only sibling core modules and reads no clock', () => {
    const source = readFileSync(fileURLToPath(new URL('../../src/core/epcis-query-params.ts', import.meta.url)), 'utf8');
    const imports = [...source.matchAll(/^import[^;]*?from '([^']+)'/gm)].map((m) => m[1]);
    for (const spec of imports) expect(spec).toMatch(/^\.\/[a-z-]+\.ts$/);
    expect(source).not.toMatch(/Date\.now|new Date\(\)|Buffer/);
  });
});

describe('named query definitions', () => {
  it('accepts {name, query} in the query-schema form and runs it with request paging only', () => {
    const def = parseNamedQuery({ name: 'my.query-1', query: { '@context': 'x', EQ_bizStep: ['shipping', 'receiving'], GE_eventTime: '2026-01-01T00:00:00Z', orderBy: 'eventTime', eventCountLimit: 2 } });
    expect(def.ok).toBe(true);
    if (!def.ok) return;
    const run = parseNamedQueryRun(def.value.query, new URLSearchParams('perPage=7'));
    expect(run.ok && run.value).toMatchObject({ perPage: 7, eventCountLimit: 2, orderBy: 'eventTime', filter: { bizSteps: ['shipping', 'receiving'] } });
    const extra = parseNamedQueryRun(def.value.query, new URLSearchParams('EQ_action=ADD'));
    expect(!extra.ok && extra.error.map((e) => e.parameter)).toEqual(['EQ_action']);
  });

  it('refuses bad names, non-object queries, paging inside the definition, bad value types and invalid parameters', () => {
    const params = (body: unknown) => {
      const r = parseNamedQuery(body);
      return r.ok ? [] : r.error.map((e) => e.parameter);
    };
    expect(params(null)).toEqual(['body']);
    expect(params({ name: 'a/b', query: {} })).toEqual(['name']);
    expect(params({ name: 'x'.repeat(101), query: {} })).toEqual(['name']);
    expect(params({ name: 'ok', query: [] })).toEqual(['query']);
    expect(params({ name: 'ok', query: { nextPageToken: 'abc' } })).toEqual(['nextPageToken']);
    expect(params({ name: 'ok', query: { EQ_bizStep: { a: 1 } } })).toEqual(['EQ_bizStep']);
    expect(params({ name: 'ok', query: { EQ_action: ['NOPE'], colour: 'red' } })).toEqual(['colour', 'EQ_action']);
  });

  it('name tokens round-trip and reject anything else', () => {
    expect(decodeNameToken(encodeNameToken('a.b~c'))).toBe('a.b~c');
    expect(decodeNameToken('bm9wZQ')).toBeNull();
    expect(decodeNameToken('!')).toBeNull();
  });
});
