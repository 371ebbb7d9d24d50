import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  type PartyFacts, type PriorCapture, alreadyCaptured, decideCaptureParties, itemKey, packProblem, partyNames, resolveNamedItems, resolveParty, serviceProblem,
  unpackListMatches, unpackMismatchProblem,
} from '../../src/core/epcis-capture.ts';
import { type Json, type Planned, type PlannedRecord, mapEvent, planEvents } from '../../src/core/epcis-import.ts';
import { conflict, denied, invalid, notFound } from '../../src/core/failures.ts';
import { gs1CheckDigit, sgtinUrn } from '../../src/core/identifiers.ts';
import { DEFAULT_FIELD_LIMITS } from '../../src/core/text.ts';

// Issue 11: EPCIS capture's decisions (what answers an event captured before, who the document's parties are, which
// parties must be the capturer, what happens to a stated authorizedBy) are pure functions of facts the service loads.

const withCheck = (digits: string) => digits + String(gs1CheckDigit(digits));
const GTIN = withCheck('0950600013435');
const item = (serial: string) => sgtinUrn(GTIN, 7, serial);
const hash = (n: number) => `ni:///sha-256;${n.toString(16).padStart(64, '0')}?ver=CBV2.0`;

const ME = '11111111-1111-4111-8111-111111111111';
const OTHER = '22222222-2222-4222-8222-222222222222';
const THIRD = '33333333-3333-4333-8333-333333333333';
const OPERATOR = '44444444-4444-4444-8444-444444444444';
const GLN = { me: withCheck('401234500001'), other: withCheck('061414100002'), shared: withCheck('950600099999'), unknown: withCheck('999999999999') };

const ACTORS: PartyFacts[] = [
  { id: ME, gln: GLN.me, isOperator: false },
  { id: OTHER, gln: GLN.other, isOperator: false },
  { id: THIRD, gln: GLN.shared, isOperator: false },
  // The operator is never a party, whatever GLN it carries (here: one of a real party, as corrupted data could).
  { id: OPERATOR, gln: GLN.other, isOperator: true },
];

describe('alreadyCaptured: which earlier capture answers an event of the document', () => {
  const prior = (eventID: string, ledgerEventId: string, capturedBy: string | null, visible: boolean): PriorCapture => ({ eventID, ledgerEventId, capturedBy, visible });

  it('a capture the caller may read answers ALREADY_CAPTURED with its ledger event', () => {
    expect(alreadyCaptured(ME, [hash(1)], [prior(hash(1), 'e1', OTHER, true)])).toEqual(new Map([[hash(1), 'e1']]));
  });

  it('a capture by another actor that the caller may not read does not exist for it: the event is new', () => {
    expect(alreadyCaptured(ME, [hash(1)], [prior(hash(1), 'e1', OTHER, false)])).toEqual(new Map());
    // Several hidden captures of the same ID change nothing either.
    expect(alreadyCaptured(ME, [hash(1)], [prior(hash(1), 'e1', OTHER, false), prior(hash(1), 'e2', THIRD, false)])).toEqual(new Map());
  });

  it("the caller's own capture wins, beside a hidden one and even while its event is not readable yet (pending)", () => {
    const priors = [prior(hash(1), 'hidden', OTHER, false), prior(hash(1), 'mine', ME, false)];
    expect(alreadyCaptured(ME, [hash(1)], priors)).toEqual(new Map([[hash(1), 'mine']]));
    // Over an earlier capture it may read too: its retries always get its own event back.
    expect(alreadyCaptured(ME, [hash(1)], [prior(hash(1), 'theirs', OTHER, true), prior(hash(1), 'mine', ME, true)])).toEqual(new Map([[hash(1), 'mine']]));
  });

  it('otherwise the first readable one in capture order; the ledger\'s own export (no capturer) counts when readable', () => {
    const priors = [prior(hash(1), 'hidden', OTHER, false), prior(hash(1), 'second', THIRD, true), prior(hash(1), 'export', null, true)];
    expect(alreadyCaptured(ME, [hash(1)], priors).get(hash(1))).toBe('second');
    expect(alreadyCaptured(ME, [hash(2)], [prior(hash(2), 'export', null, true)])).toEqual(new Map([[hash(2), 'export']]));
    expect(alreadyCaptured(ME, [hash(2)], [prior(hash(2), 'export', null, false)])).toEqual(new Map());
  });

  it('ignores captures of IDs the document does not hold, and answers per ID', () => {
    const priors = [prior(hash(9), 'elsewhere', ME, true), prior(hash(1), 'a', ME, true), prior(hash(2), 'b', OTHER, false)];
    expect(alreadyCaptured(ME, [hash(1), hash(2), hash(3)], priors)).toEqual(new Map([[hash(1), 'a']]));
  });

  it('an actor\'s answer does not depend on whether others captured the event: hidden priors are as no priors at all', () => {
    for (const hidden of [[], [prior(hash(1), 'x', OTHER, false)], [prior(hash(1), 'x', OTHER, false), prior(hash(1), 'y', null, false)]]) {
      expect(alreadyCaptured(ME, [hash(1)], hidden)).toEqual(new Map());
      expect(alreadyCaptured(ME, [hash(1)], [...hidden, prior(hash(1), 'mine', ME, true)])).toEqual(new Map([[hash(1), 'mine']]));
    }
  });
});

describe('resolveParty: the actor a party of the document names', () => {
  it('a GLN held by exactly one party names it; the operator sharing that GLN does not count', () => {
    expect(resolveParty({ written: 'x', gln: GLN.other }, ACTORS)).toEqual({ id: OTHER });
    expect(resolveParty({ written: 'x', gln: GLN.me }, ACTORS)).toEqual({ id: ME });
  });

  it('an unknown GLN, and one held by several parties, do not resolve', () => {
    expect(resolveParty({ written: 'x', gln: GLN.unknown }, ACTORS)).toEqual({ why: `no actor with GLN ${GLN.unknown} is known to this ledger` });
    const shared = [...ACTORS, { id: ME, gln: GLN.shared, isOperator: false }];
    expect(resolveParty({ written: 'x', gln: GLN.shared }, shared)).toEqual({ why: `GLN ${GLN.shared} belongs to 2 actors; name one as urn:provenant:actor:{id}` });
  });

  it('the operator named by id reads exactly as an unknown actor', () => {
    const unknown = '55555555-5555-4555-8555-555555555555';
    const op = resolveParty({ written: 'x', actorId: OPERATOR }, ACTORS);
    const none = resolveParty({ written: 'x', actorId: unknown }, ACTORS);
    expect(op).toEqual({ why: `no actor ${OPERATOR} is known to this ledger` });
    expect('why' in op && 'why' in none && op.why.replace(OPERATOR, '?')).toBe('why' in none && none.why.replace(unknown, '?'));
    // An operator with no GLN and nothing else: still nobody.
    expect(resolveParty({ written: 'x', actorId: OPERATOR }, [{ id: OPERATOR, gln: null, isOperator: true }])).toEqual(op);
  });

  it('an id resolves whatever its case, to the stored (lower-case) id', () => {
    expect(resolveParty({ written: 'x', actorId: OTHER.toUpperCase() }, ACTORS)).toEqual({ id: OTHER });
  });
});

// ---- the parties of real EPCIS events, mapped by core/epcis-import.ts

const ev = (fields: Json): Json => ({ type: 'ObjectEvent', eventTime: '2026-03-01T10:00:00.000+01:00', eventTimeZoneOffset: '+01:00', action: 'OBSERVE', epcList: [item('A1')], ...fields });
const party = (gln: string) => `https://id.gs1.org/417/${gln}`;
const actorUrn = (id: string) => `urn:provenant:actor:${id}`;
const ship = (to: string, from?: string) => ev({
  bizStep: 'shipping', destinationList: [{ type: 'owning_party', destination: to }], ...(from ? { sourceList: [{ type: 'owning_party', source: from }] } : {}),
});
const receive = (at: string) => ev({ bizStep: 'receiving', destinationList: [{ type: 'possessing_party', destination: at }] });

function plan(events: Json[]): Planned[] {
  const { planned, problems } = planEvents(events, events.map((_, i) => hash(i + 1)), DEFAULT_FIELD_LIMITS);
  expect(problems).toEqual([]);
  return planned;
}
const records = (events: Json[]) => plan(events) as PlannedRecord[];

describe('decideCaptureParties: counterparties, and the parties that must be the capturing actor', () => {
  it('resolves each counterparty (GLN or actor URN) and lists what to load', () => {
    const evs = records([ship(party(GLN.other)), ship(actorUrn(THIRD)), receive(party(GLN.me))]);
    expect(partyNames(evs)).toEqual({ glns: [GLN.other, GLN.me], actorIds: [THIRD] });
    const d = decideCaptureParties(evs, ME, ACTORS);
    expect(d.problems).toEqual([]);
    expect(d.counterpartyOf).toEqual(new Map([[0, OTHER], [1, THIRD]]));
    expect(d.warnings).toEqual(new Map());
  });

  it('refuses a shipment to an unknown party or to the operator alike (NOT_FOUND at the destination)', () => {
    const d = decideCaptureParties(records([ship(actorUrn(OPERATOR)), ship(party(GLN.unknown))]), ME, ACTORS);
    expect(d.problems.map((p) => [p.eventIndex, p.field, p.code])).toEqual([[0, 'destinationList[0].destination', 'NOT_FOUND'], [1, 'destinationList[0].destination', 'NOT_FOUND']]);
    expect(d.problems[0]!.reason).toBe(`no actor ${OPERATOR} is known to this ledger`);
    expect(d.counterpartyOf.size).toBe(0);
  });

  it('a RECEIVE naming another actor as its destination, or a SHIP naming another as its source, is refused (INVALID)', () => {
    const d = decideCaptureParties(records([receive(party(GLN.other)), ship(party(GLN.other), actorUrn(THIRD)), receive(party(GLN.me)), ship(party(GLN.other), party(GLN.me))]), ME, ACTORS);
    expect(d.problems.map((p) => [p.eventIndex, p.field, p.code, p.reason])).toEqual([
      [0, 'destinationList[0].destination', 'INVALID', `names ${party(GLN.other)}, which is not the capturing actor: a RECEIVE is recorded by its receiver`],
      [1, 'sourceList[0].source', 'INVALID', `names ${actorUrn(THIRD)}, which is not the capturing actor: a shipment is recorded by its sender`],
    ]);
  });

  it('a self-party that does not resolve (unknown, the operator, an ambiguous GLN) is not checked: a warning, never a pass for someone else', () => {
    const d = decideCaptureParties(records([receive(party(GLN.unknown)), receive(actorUrn(OPERATOR)), receive(party(GLN.shared))]), ME, [...ACTORS, { id: OTHER, gln: GLN.shared, isOperator: false }]);
    expect(d.problems).toEqual([]);
    expect(d.warnings.get(0)).toEqual([`destinationList[0].destination ${party(GLN.unknown)} is not checked: no actor with GLN ${GLN.unknown} is known to this ledger`]);
    expect(d.warnings.get(1)).toEqual([`destinationList[0].destination ${actorUrn(OPERATOR)} is not checked: no actor ${OPERATOR} is known to this ledger`]);
    expect(d.warnings.get(2)![0]).toMatch(/belongs to 2 actors/);
  });

  it('the same document is judged per capturing actor: what passes for the receiver is refused for anyone else', () => {
    const evs = records([receive(party(GLN.other))]);
    expect(decideCaptureParties(evs, OTHER, ACTORS).problems).toEqual([]);
    expect(decideCaptureParties(evs, ME, ACTORS).problems).toHaveLength(1);
  });
});

describe('a stated authorizedBy is never taken from the document', () => {
  const grants = ['66666666-6666-4666-8666-666666666666'];
  const mapped = (event: Json) => {
    const problems: never[] = [];
    const p = mapEvent(event, { index: 0, eventID: hash(1), problems, limits: DEFAULT_FIELD_LIMITS });
    expect(problems).toEqual([]);
    return p as PlannedRecord;
  };
  const service = (data: Json) => ev({ bizStep: 'repairing', 'provenant:data': data });

  it('is dropped from provenant:data, prefixed, bare or percent-encoded, with a warning', () => {
    for (const data of [{ 'provenant:authorizedBy': grants, 'provenant:note': 'n' }, { authorizedBy: grants, note: 'n' }, { 'provenant:authorized%42y': grants, note: 'n' }]) {
      const p = mapped(service(data));
      expect(p.data).toEqual({ note: 'n' });
      expect(Object.hasOwn(p.data, 'authorizedBy')).toBe(false);
      expect(p.warnings).toContain('provenant:data.authorizedBy is not kept: the ledger records the grants the capturing actor relied on');
    }
  });

  it('an empty or odd-typed claim is dropped too; no claim, no warning', () => {
    for (const claim of [[], null, 'all', { id: 'x' }]) expect(mapped(service({ authorizedBy: claim as never })).data).toEqual({});
    expect(mapped(service({ note: 'n' })).warnings).toEqual([]);
  });

  it('a top-level provenant:authorizedBy is not kept, and another spelling is refused as an unknown field', () => {
    const top = mapped(ev({ bizStep: 'repairing', 'provenant:authorizedBy': grants }));
    expect(top.data).toEqual({});
    expect(top.warnings).toEqual(['provenant:authorizedBy is not kept by the ledger']);
    const problems: { field: string }[] = [];
    expect(mapEvent(service({ AuthorizedBy: grants }), { index: 0, eventID: hash(1), problems: problems as never, limits: DEFAULT_FIELD_LIMITS })).toBeNull();
    expect(problems.map((p) => p.field)).toEqual(['provenant:data.AuthorizedBy']);
  });

  it('a __proto__ key cannot smuggle it in through the prototype', () => {
    const event = JSON.parse(`{"type":"ObjectEvent","eventTime":"2026-03-01T10:00:00.000+01:00","eventTimeZoneOffset":"+01:00","action":"OBSERVE","bizStep":"repairing","epcList":["${item('A1')}"],"provenant:data":{"__proto__":{"authorizedBy":["g"]},"note":"n"}}`) as Json;
    const p = mapped(event);
    expect(p.data).toEqual({ note: 'n' });
    expect((p.data as { authorizedBy?: unknown }).authorizedBy).toBeUndefined();
  });
});

describe('serviceProblem: a refused write pointed at the EPCIS field it came from', () => {
  it('a counterparty not found points at the destination, an item not found at the EPCs', () => {
    const [p] = plan([ship(party(GLN.other))]);
    expect(serviceProblem(p!, notFound('the receiver was not found', { type: 'counterparty' }))).toMatchObject({ field: 'destinationList[0].destination', code: 'NOT_FOUND' });
    expect(serviceProblem(p!, notFound('item x not found'))).toMatchObject({ field: 'epcList', code: 'NOT_FOUND' });
    expect(serviceProblem(p!, denied('NOT_CUSTODIAN', 'no'))).toMatchObject({ field: 'epcList', code: 'PERMISSION_DENIED', rule: 'NOT_CUSTODIAN' });
    expect(serviceProblem(p!, invalid('occurredAt', 'in the future'))).toMatchObject({ field: 'eventTime', code: 'INVALID' });
  });

  it('a container subject points at the childEPCs entry or the parentID; an existing lot at its ILMD', () => {
    const box = withCheck('09506000000000001');
    const inner = withCheck('09506000000000002');
    const [pack] = plan([{
      type: 'AggregationEvent', eventTime: '2026-03-01T10:00:00.000+01:00', eventTimeZoneOffset: '+01:00', action: 'ADD', bizStep: 'packing',
      parentID: `https://id.gs1.org/00/${box}`, childEPCs: [item('A1'), `https://id.gs1.org/00/${inner}`],
    }]);
    expect(serviceProblem(pack!, notFound('container not found', { type: 'container', sscc: inner })).field).toBe('childEPCs[1]');
    expect(serviceProblem(pack!, invalid('container', 'bad', { type: 'container', sscc: box })).field).toBe('parentID');
    const [commission] = plan([ev({ action: 'ADD', bizStep: 'commissioning', readPoint: { id: 'Plant 1' }, ilmd: { 'cbvmda:lotNumber': 'L1' } })]);
    expect(serviceProblem(commission!, conflict('batch exists', { type: 'batch', gtin: GTIN, lot: 'L1' }))).toMatchObject({ field: 'ilmd.cbvmda:lotNumber', code: 'CONFLICT' });
  });
});

describe('resolveNamedItems: the items an event names (bulk path), as recordEvent resolves them', () => {
  const stored = new Map([[itemKey(GTIN, 'A1'), { id: 'a1', mine: true }], [itemKey(GTIN, 'A2'), { id: 'a2', mine: false }]]);
  const sgtin = (serial: string) => ({ kind: 'sgtin' as const, value: item(serial) });
  const link = (serial: string) => ({ kind: 'digitalLink' as const, value: `https://id.gs1.org/01/${GTIN}/21/${serial}` });
  const mine = (i: { mine: boolean }) => i.mine;

  it('finds items by SGTIN URN or Digital Link, in submission order', () => {
    expect(resolveNamedItems([link('A1'), sgtin('A1')], stored, () => true)).toEqual({ kind: 'ok', items: [stored.get(itemKey(GTIN, 'A1')), stored.get(itemKey(GTIN, 'A1'))] });
    expect(resolveNamedItems([sgtin('A2'), sgtin('A1')], stored, () => true)).toMatchObject({ kind: 'ok', items: [{ id: 'a2' }, { id: 'a1' }] });
  });

  it('an item the caller may not see is missing exactly as one that does not exist', () => {
    const hidden = resolveNamedItems([sgtin('A1'), sgtin('A2')], stored, mine);
    const absent = resolveNamedItems([sgtin('A1'), sgtin('A9')], stored, mine);
    expect(hidden).toEqual({ kind: 'missing', refs: [item('A2')] });
    expect(absent).toEqual({ kind: 'missing', refs: [item('A9')] });
    // Every missing one is listed, as submitted, in order; an id reference never names an item here.
    expect(resolveNamedItems([link('A9'), sgtin('A2'), { kind: 'id', value: 'a1' }], stored, mine)).toEqual({ kind: 'missing', refs: [link('A9').value, item('A2'), 'a1'] });
  });

  it('a malformed reference or an empty selection is a ValidationError on items', () => {
    const bad = resolveNamedItems([sgtin('A1'), { kind: 'sgtin', value: 'urn:epc:id:sgtin:12.34.A1' }], stored, () => true);
    expect(bad).toMatchObject({ kind: 'ValidationError', field: 'items' });
    expect(resolveNamedItems([], stored, () => true)).toEqual({ kind: 'ValidationError', field: 'items', message: 'the selection contains no items' });
  });
});

it('epcis-capture.ts stays pure: it imports only sibling core modules', () => {
  const source = readFileSync(fileURLToPath(new URL('../../src/core/epcis-capture.ts', import.meta.url)), 'utf8');
  const imports = [...source.matchAll(/from '([^']+)'/g)].map((m) => m[1]!);
  expect(imports.length).toBeGreaterThan(0);
  expect(imports.every((i) => /^\.\/[\w-]+\.ts$/.test(i))).toBe(true);
  expect(source).not.toMatch(/\bDate\.now\(|new Date\(\)/);
});

describe('packProblem and the UNPACK content rule', () => {
  const box = withCheck('09506000000000001');
  const inner = withCheck('09506000000000002');
  const aggregation = (action: 'ADD' | 'DELETE', childEPCs: string[]) => plan([{
    type: 'AggregationEvent', eventTime: '2026-03-01T10:00:00.000+01:00', eventTimeZoneOffset: '+01:00', action, bizStep: action === 'ADD' ? 'packing' : 'unpacking',
    parentID: `https://id.gs1.org/00/${box}`, childEPCs,
  }])[0] as Extract<Planned, { op: 'pack' | 'unpack' }>;
  const entry = (serial: string) => [`${GTIN}/${serial}`, { id: `id-${serial}`, sgtin: item(serial) }] as const;
  // A1 directly in the box, A2 and A3 inside the inner case, which is in the box.
  const content = { direct: new Map([entry('A1')]), all: new Map([entry('A1'), entry('A2'), entry('A3')]), containers: new Set([inner]) };

  it('an already packed item is named as the document lists it; without the stored item, the plain refusal', () => {
    const p = aggregation('ADD', [item('A9'), `https://id.gs1.org/01/${GTIN}/21/A1`]);
    const f = invalid('items', 'item id-A1 is already packed', { type: 'packedItem', itemId: 'id-A1', container: inner });
    expect(packProblem(p, f, { gtin: GTIN, serial: 'A1' })).toMatchObject({
      field: 'childEPCs[1]', code: 'INVALID', reason: `https://id.gs1.org/01/${GTIN}/21/A1 is already packed in container ${inner}; unpack it first (or list that container among the children)`,
    });
    expect(packProblem(p, f, null)).toEqual(serviceProblem(p, f));
    // A stored item the document does not list (a corrupted subject) is not invented into the report.
    expect(packProblem(p, f, { gtin: GTIN, serial: 'ZZ' })).toEqual(serviceProblem(p, f));
  });

  it('accepts the direct children, or every item with or without the direct child containers', () => {
    expect(unpackListMatches(aggregation('DELETE', [item('A1'), `urn:epc:id:sscc:9506000.0000000002`]), content)).toBe(true);
    expect(unpackListMatches(aggregation('DELETE', [item('A1'), item('A2'), item('A3')]), content)).toBe(true);
    expect(unpackListMatches(aggregation('DELETE', [item('A3'), item('A1'), item('A2'), `https://id.gs1.org/00/${inner}`]), content)).toBe(true);
  });

  it('refuses anything else, naming only the items the caller\'s UNPACK covered and counting the others', () => {
    const partial = aggregation('DELETE', [item('A1'), item('A2'), item('A9')]);
    expect(unpackListMatches(partial, content)).toBe(false);
    const seen = unpackMismatchProblem(partial, content, new Set(['id-A1', 'id-A2', 'id-A3']));
    expect(seen).toMatchObject({ field: 'childEPCs', code: 'INVALID' });
    expect(seen.reason).toContain(`listed but not in it: ${item('A9')}; in it but not listed: ${item('A3')}`);
    const hidden = unpackMismatchProblem(partial, content, new Set(['id-A1', 'id-A2']));
    expect(hidden.reason).toContain('in it but not listed: 1 more item(s)');
    expect(hidden.reason).not.toContain(item('A3'));
    // The direct form is missing its child container.
    expect(unpackListMatches(aggregation('DELETE', [item('A1')]), content)).toBe(false);
    expect(unpackMismatchProblem(aggregation('DELETE', [item('A1')]), content, new Set()).reason).toContain('in it but not listed: 2 more item(s)');
  });
});
