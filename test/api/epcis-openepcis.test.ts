/**
 * Every OpenEPCIS capture test document (test/vectors/openepcis, Apache-2.0, copied unchanged) through
 * `POST /epcis/capture`: recorded, or refused with a precise reason — the event index, the field and the code of each
 * listed problem — and nothing written.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gs1CheckDigit, sgtinUrn } from '../../src/core/identifiers.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { captureAndWait } from '../helpers/epcis-capture.ts';
import { lifecycle, registerProductAndBatch, type TestActor } from '../helpers/ledger.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

type Json = Record<string, any>;

const dir = fileURLToPath(new URL('../vectors/openepcis/Capture/', import.meta.url));
const withCheck = (digits: string): string => digits + String(gs1CheckDigit(digits));

/**
 * Problems each refused document must include, as `eventIndex field code` (`-` for the document as a whole). The
 * mapping refusals follow the capture rules (module comment of src/services/epcis-capture.ts); the Invalid/ documents
 * break GS1's JSON Schema, as OpenEPCIS intends.
 */
const REFUSED: Record<string, string[]> = {
  'Documents/AggregationEvent.json': ['0 action UNMAPPABLE'],
  'Documents/AggregationEvent_all_possible_fields.json': ['0 errorDeclaration UNMAPPABLE', '0 action UNMAPPABLE'],
  'Documents/AggregationEvent_with_digitalLink.json': ['0 action UNMAPPABLE'],
  // persistentDisposition is no AggregationEvent field in GS1's schema.
  'Documents/AggregationEvent_with_persistentDisposition.json': ['1 persistentDisposition SCHEMA'],
  'Documents/AggregationEvent_with_sensorData.json': ['0 childQuantityList UNMAPPABLE'],
  'Documents/AggregationEvent_with_userExtensions.json': ['0 action UNMAPPABLE'],
  'Documents/AssociationEvent.json': ['0 type UNMAPPABLE', '1 type UNMAPPABLE'],
  'Documents/AssociationEvent_2.json': ['0 type UNMAPPABLE'],
  'Documents/AssociationEvent_all_possible_fields.json': ['0 type UNMAPPABLE'],
  'Documents/AssociationEvent_with_sensorData.json': ['0 type UNMAPPABLE'],
  'Documents/AssociationEvent_with_userExtensions.json': ['0 type UNMAPPABLE'],
  'Documents/Combination_of_different_event.json': ['0 epcList[0] UNMAPPABLE', '1 parentID UNMAPPABLE', '2 type UNMAPPABLE', '3 persistentDisposition UNMAPPABLE'],
  'Documents/JumbledFieldsOrder.json': ['0 type UNMAPPABLE'],
  'Documents/Namespaces_at_different_level.json': ['0 bizStep UNMAPPABLE', '1 bizStep UNMAPPABLE'],
  'Documents/ObjectEvent.json': ['0 destinationList UNMAPPABLE'],
  'Documents/ObjectEvent_all_possible_fields.json': ['0 errorDeclaration UNMAPPABLE', '0 persistentDisposition UNMAPPABLE', '0 action UNMAPPABLE'],
  'Documents/ObjectEvent_with_comment.json': ['0 destinationList UNMAPPABLE'],
  'Documents/ObjectEvent_with_custom_bizStep_uri.json': ['0 bizStep UNMAPPABLE'],
  'Documents/ObjectEvent_with_digitalLink.json': ['0 quantityList UNMAPPABLE', '0 epcList UNMAPPABLE'],
  'Documents/ObjectEvent_with_error_declaration.json': ['0 errorDeclaration UNMAPPABLE', '0 destinationList UNMAPPABLE'],
  'Documents/ObjectEvent_with_persistentDisposition.json': ['0 persistentDisposition UNMAPPABLE', '1 bizStep UNMAPPABLE'],
  'Documents/ObjectEvent_with_sensorData.json': ['0 bizStep UNMAPPABLE'],
  'Documents/ObjectEvent_with_userExtensions.json': ['0 destinationList UNMAPPABLE', '1 quantityList UNMAPPABLE'],
  'Documents/SensorData_and_extension.json': ['0 bizStep UNMAPPABLE'],
  // A sensorReport type outside GS1's measurement types (and not a URI) breaks GS1's schema.
  'Documents/SensorData_with_combined_events.json': ['7 sensorElementList[0].sensorReport[1].type SCHEMA'],
  'Documents/TransactionEvent.json': ['0 type UNMAPPABLE', '1 type UNMAPPABLE'],
  'Documents/TransactionEvent_all_possible_fields.json': ['0 type UNMAPPABLE'],
  'Documents/TransactionEvent_with_sensorData.json': ['0 type UNMAPPABLE'],
  'Documents/TransactionEvent_with_userExtensions.json': ['0 sensorElementList[0].sensorReport[0].type SCHEMA'],
  'Documents/TransformationEvent.json': ['0 bizStep UNMAPPABLE'],
  'Documents/TransformationEvent_all_possible_fields.json': ['0 errorDeclaration UNMAPPABLE', '0 persistentDisposition UNMAPPABLE', '0 bizStep UNMAPPABLE'],
  'Documents/TransformationEvent_with_digitalLink.json': ['0 bizStep UNMAPPABLE'],
  'Documents/TransformationEvent_with_error_declaration.json': ['0 errorDeclaration UNMAPPABLE', '0 bizStep UNMAPPABLE', '1 bizStep UNMAPPABLE'],
  'Documents/TransformationEvent_with_sensorData.json': ['0 errorDeclaration UNMAPPABLE', '0 bizStep UNMAPPABLE'],
  'Documents/TransformationEvent_with_userExtensions.json': ['0 errorDeclaration UNMAPPABLE', '0 bizStep UNMAPPABLE'],
  'Documents/epcisDocWithAllGS1Keys.json': ['0 bizStep UNMAPPABLE'],
  'Documents/epcisDocWithSensorComponent.json': ['0 epcList[0] UNMAPPABLE'],
  'Invalid/Combination_of_events_with_missing_mandatory_fields.json': ['0 action SCHEMA', '1 eventTimeZoneOffset SCHEMA', '1 action SCHEMA'],
  'Invalid/Combination_of_multiple_invalid_fields.json': ['0 bizStep SCHEMA', '1 disposition SCHEMA'],
  'Invalid/Combination_of_non_standard_bizStep_and_disposition.json': ['0 bizStep SCHEMA', '1 disposition SCHEMA'],
  'Invalid/EPCISDocument_without_context.json': ['- @context SCHEMA'],
  'Invalid/ObjectEvent_with_ilmd_field_without_namespace.json': ['0 ilmd.materialType SCHEMA'],
  'Invalid/ObjectEvent_with_invalid_action.json': ['0 action SCHEMA'],
  'Invalid/ObjectEvent_with_invalid_certificationInfo.json': ['0 certificationInfo[0] SCHEMA', '0 certificationInfo[1] SCHEMA'],
  'Invalid/ObjectEvent_with_invalid_eventTime_format.json': ['0 eventTime SCHEMA'],
  'Invalid/ObjectEvent_with_non_standard_bizStep.json': ['0 bizStep SCHEMA'],
  'Invalid/ObjectEvent_with_non_standard_bizStep_in_second_event.json': ['1 bizStep SCHEMA'],
  'Invalid/ObjectEvent_with_non_standard_disposition.json': ['0 disposition SCHEMA'],
  'Invalid/ObjectEvent_with_quantity_as_text.json': ['0 quantityList[0].quantity SCHEMA'],
  'Invalid/ObjectEvent_with_unknown_field_in_quantityList.json': ['0 quantityList[0].weight SCHEMA'],
  'Invalid/ObjectEvent_without_action_and_eventTime.json': ['0 eventTime SCHEMA', '0 action SCHEMA'],
  'Invalid/ObjectEvent_without_identifier_list.json': ['0 epcList SCHEMA'],
};
/** Documents recorded once the ledger holds what they describe (see beforeAll), with their events' kinds. */
const RECORDED: Record<string, string[]> = {
  'Documents/CurieString_document.json': ['RECEIVE'],
};

const FILES = ['Documents', 'Invalid'].flatMap((d) => readdirSync(`${dir}${d}`).filter((f) => f.endsWith('.json')).sort().map((f) => `${d}/${f}`));

let db: TestDatabase;
let srv: TestServer;
let receiver: TestActor;

async function createActor(name: string, roles: string[], gln: string, companyPrefixes: string[] = []): Promise<TestActor> {
  const { body } = await srv.gql(
    `mutation($input: CreateActorInput!) { createActor(input: $input) { __typename ... on CreateActorSuccess { secret actor { id } } ... on Error { message } } }`,
    { input: { name, roles, gln, companyPrefixes } },
  );
  expect(body.data?.createActor?.__typename, JSON.stringify(body)).toBe('CreateActorSuccess');
  return { id: body.data.createActor.actor.id, key: body.data.createActor.secret, name };
}

async function treeSize(): Promise<number> {
  const { body } = await srv.gql(`{ logInfo { treeSize } }`, {}, null);
  return body.data.logInfo.treeSize;
}

/** POST /epcis/capture of the file as is, followed to the end of its capture job. */
const capture = (file: string) => captureAndWait(srv.origin, receiver.key, new Uint8Array(readFileSync(`${dir}${file}`)));

beforeAll(async () => {
  db = await openTestDatabase();
  srv = await startTestServer(db);
  // CurieString_document.json: urn:epc:id:pgln:4012345.00225 receives …/01/04012345999990/21/XYZ-1234 at
  // urn:epc:id:pgln:0614141.00777 on 2023-01-11: the brand made and shipped it, the receiver captures the receipt.
  const brand = await createActor('Brand', ['MANUFACTURER'], withCheck('401234500225'), ['4012345']);
  receiver = await createActor('Receiver', ['DISTRIBUTOR'], withCheck('061414100777'));
  const batch = await registerProductAndBatch(srv, brand, { gtin: '04012345999990', lot: 'C1', serials: ['XYZ-1234'], producedAt: '2023-01-02T08:00:00.000+01:00' });
  expect(batch.__typename, JSON.stringify(batch)).toBe('RegisterBatchSuccess');
  const shipped = await lifecycle(srv, brand, 'shipItems', { items: [sgtinUrn('04012345999990', 7, 'XYZ-1234')], to: receiver.id, occurredAt: '2023-01-05T08:00:00.000+01:00' });
  expect(shipped.__typename, JSON.stringify(shipped)).toBe('RecordEventSuccess');
});

afterAll(async () => {
  await srv?.close();
  await db?.dispose();
});

describe('OpenEPCIS capture test documents', () => {
  it('every document has an expected outcome', () => {
    expect(FILES).toHaveLength(53);
    expect([...FILES].sort()).toEqual([...Object.keys(REFUSED), ...Object.keys(RECORDED)].sort());
  });

  let sizeBefore = 0;
  it('(the log size before the refused documents)', async () => {
    sizeBefore = await treeSize();
    expect(sizeBefore).toBeGreaterThan(0);
  });

  it.each(Object.keys(REFUSED))('%s is refused with a precise reason', async (file) => {
    const { status, body } = await capture(file);
    expect(status, JSON.stringify(body)).toBe(400);
    expect(body.title).toMatch(/rejected, nothing was recorded/);
    const problems = body.problems as Json[];
    for (const p of problems) {
      expect(p.reason.length, JSON.stringify(p)).toBeGreaterThan(15);
      expect(typeof p.field).toBe('string');
      if (p.eventIndex !== null) expect(p.eventID).toMatch(/^ni:\/\/\/sha-256;[0-9a-f]{64}\?ver=CBV2\.0$/);
    }
    const found = problems.map((p) => `${p.eventIndex ?? '-'} ${p.field} ${p.code}`);
    for (const expected of REFUSED[file]!) expect(found, JSON.stringify(problems, null, 1)).toContain(expected);
  });

  it('nothing of the refused documents was written', async () => {
    expect(await treeSize()).toBe(sizeBefore);
  });

  it.each(Object.keys(RECORDED))('%s is recorded, and recognised when captured again', async (file) => {
    const first = await capture(file);
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(first.body.events.map((e: Json) => [e.kind, e.status])).toEqual(RECORDED[file]!.map((k) => [k, 'RECORDED']));
    const size = await treeSize();
    const again = await capture(file);
    expect(again.body.events.map((e: Json) => e.status)).toEqual(RECORDED[file]!.map(() => 'ALREADY_CAPTURED'));
    expect(again.body.events.map((e: Json) => e.eventID)).toEqual(first.body.events.map((e: Json) => e.eventID));
    expect(await treeSize()).toBe(size);
  });
});
