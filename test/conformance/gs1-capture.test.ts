/**
 * GS1's 47 EPCIS example documents captured by a ledger (moved here from test/api/epcis.test.ts, which must run without
 * GS1's files): each is imported or rejected with a precise message (index, field, reason), nothing half-written.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { epcisEventHashId } from '../../src/core/epcis-hash.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { type Json, loadGs1, readJson } from './gs1.ts';
import { type Actor, createActor, epcisCapture, registerBatch, registerProduct, step, treeSize, withCheck } from './ledger.ts';

const gs1 = loadGs1();
const GTIN = withCheck('0950600013435'); // 09506000134352, company prefix 9506000
const FACTORY_GLN = withCheck('950600000001');
const GLN = { brand: withCheck('950600099999'), shop: withCheck('061414100002') };

describe('capture of GS1\'s example documents', () => {
  let db: TestDatabase;
  let srv: TestServer;
  let maker: Actor, seller: Actor;
  const SENSOR_ITEM = `https://id.gs1.org/01/${GTIN}/21/12345`;

  beforeAll(async () => {
    db = await openTestDatabase();
    srv = await startTestServer(db);
    maker = await createActor(srv, 'Maker', ['MANUFACTURER'], GLN.brand, ['9506000']);
    seller = await createActor(srv, 'Seller', ['RETAILER'], GLN.shop);
    await createActor(srv, 'Carrier', ['DISTRIBUTOR'], null);
    await registerProduct(srv, maker, GTIN);
    // The item of GS1's sensor examples 13 and 17, sold by the seller (who then reports its use).
    await registerBatch(srv, maker, GTIN, 'S1', ['12345'], FACTORY_GLN, '2021-04-01T08:00:00.000+01:00');
    await step(srv, maker, 'shipItems', { items: [SENSOR_ITEM], to: seller.id, occurredAt: '2021-04-02T08:00:00.000+01:00' });
    await step(srv, seller, 'receiveItems', { items: [SENSOR_ITEM], occurredAt: '2021-04-03T08:00:00.000+01:00' });
    await step(srv, seller, 'sellItems', { items: [SENSOR_ITEM], occurredAt: '2021-04-04T08:00:00.000+01:00' });
  });
  afterAll(async () => {
    await srv?.close();
    await db?.dispose();
  });

  type Expectation = { imports: string[] } | { status: number; index: number | null; field: string; code: string; reason: RegExp };
  const rejects = (index: number | null, field: string, code: string, reason: RegExp, status = 400): Expectation => ({ status, index, field, code, reason });
  const NO_DESTINATION = rejects(0, 'destinationList', 'UNMAPPABLE', /^shipping must name the receiving party: a destinationList entry of type owning_party or possessing_party/);
  const ERROR_DECLARATION = rejects(0, 'errorDeclaration', 'UNMAPPABLE', /^error declarations cannot be captured: ledger events are append-only/);
  const INSPECTING = rejects(0, 'bizStep', 'UNMAPPABLE', /^bizStep inspecting has no ledger equivalent \(mapped: commissioning, shipping, receiving, /);
  const TRANSFORMATION = rejects(0, 'bizStep', 'UNMAPPABLE', /^a TransformationEvent is mapped only with bizStep disassembling \(RECYCLE\), got commissioning$/);
  const CLASS_LEVEL = rejects(0, 'quantityList', 'UNMAPPABLE', /^class-level quantities cannot be recorded: the ledger tracks serialized items/);
  const GRAI = rejects(0, 'epcList[0]', 'UNMAPPABLE', /^https:\/\/id\.example\.com\/8003\/040123450007718765 is not an item-level GS1 Digital Link/);
  const unknownItem = (urn: string) => rejects(0, 'epcList', 'NOT_FOUND', new RegExp(`^item ${urn.replace(/\./g, '\\.')} not found$`));
  const type = (name: string) => rejects(0, 'type', 'UNMAPPABLE', new RegExp(`^.*\\(${name}\\) have no ledger equivalent; the ledger maps ObjectEvents \\(.*\\), disassembling TransformationEvents and packing / unpacking AggregationEvents$`));
  const OBSERVED_AGGREGATION = rejects(0, 'action', 'UNMAPPABLE', /^an AggregationEvent with action OBSERVE only reports children seen in their parent; the ledger records changes of packing: action ADD with bizStep packing \(packItems\) or action DELETE with bizStep unpacking \(unpackItems\)$/);
  const EXPECTED: Record<string, Expectation> = {
    ...Object.fromEntries('abcdefgh'.split('').map((c) => [`AssociationEvent/AssociationEvent-${c}.jsonld`, type('AssociationEvent')])),
    'EPCISQueryDocument.jsonld': rejects(null, 'type', 'SCHEMA', /^capture takes an EPCISDocument, not an EPCISQueryDocument/),
    'Example-TransactionEvents-2020_07_03y.jsonld': type('TransactionEvent'),
    'Example-Type-sourceOrDestination,measurement,bizTransaction.jsonld': type('AssociationEvent'),
    'Example_9.6.1-ObjectEvent-with-pseudo-SBDH-headers.jsonld': NO_DESTINATION,
    'Example_9.6.1-ObjectEvent.jsonld': NO_DESTINATION,
    'Example_9.6.1-with-comment.jsonld': NO_DESTINATION,
    'Example_9.6.2-ObjectEvent.jsonld': CLASS_LEVEL,
    'Example_9.6.3-AggregationEvent.jsonld': OBSERVED_AGGREGATION,
    'Example_9.6.4-TransformationEvent.jsonld': TRANSFORMATION,
    'PersistentDisposition-example.jsonld': rejects(0, 'persistentDisposition', 'UNMAPPABLE', /^persistent dispositions have no ledger equivalent/),
    'WithDigitalLinkID/Example_9.6.1-ObjectEventWithDigitalLink.jsonld': NO_DESTINATION,
    'WithDigitalLinkID/Example_9.6.2-ObjectEventWithDigitalLink.jsonld': CLASS_LEVEL,
    'WithDigitalLinkID/Example_9.6.3-AggregationEventWithDigitalLink.jsonld': OBSERVED_AGGREGATION,
    'WithDigitalLinkID/Example_9.6.4-TransformationEventWithDigitalLink.jsonld': TRANSFORMATION,
    'WithErrorDeclaration/ErrorDeclarationAndCorrectiveEvent.jsonld': ERROR_DECLARATION,
    'WithErrorDeclaration/Example_9.6.1-ObjectEvent-with-error-declaration.jsonld': ERROR_DECLARATION,
    'WithFullCombinationOfFields/aggregation_event_all_possible_fields.jsonld': ERROR_DECLARATION,
    'WithFullCombinationOfFields/association_event_all_possible_fields.jsonld': type('AssociationEvent'),
    'WithFullCombinationOfFields/object_event_all_possible_fields.jsonld': ERROR_DECLARATION,
    'WithFullCombinationOfFields/transaction_event_all_possible_fields.jsonld': type('TransactionEvent'),
    'WithFullCombinationOfFields/transformation_event_all_possible_fields.jsonld': ERROR_DECLARATION,
    'WithSensorData/SensorDataExample1.jsonld': INSPECTING,
    'WithSensorData/SensorDataExample10.jsonld': unknownItem('urn:epc:id:sgtin:4012345.022222.1234'),
    'WithSensorData/SensorDataExample11.jsonld': type('TransactionEvent'),
    'WithSensorData/SensorDataExample12.jsonld': ERROR_DECLARATION,
    'WithSensorData/SensorDataExample13.jsonld': { imports: ['USE_REPORT'] },
    'WithSensorData/SensorDataExample14.jsonld': GRAI,
    'WithSensorData/SensorDataExample15.jsonld': GRAI,
    'WithSensorData/SensorDataExample16.jsonld': GRAI,
    'WithSensorData/SensorDataExample17.jsonld': { imports: ['USE_REPORT'] },
    'WithSensorData/SensorDataExample1b.jsonld': INSPECTING,
    'WithSensorData/SensorDataExample2.jsonld': INSPECTING,
    'WithSensorData/SensorDataExample3.jsonld': INSPECTING,
    'WithSensorData/SensorDataExample4.jsonld': INSPECTING,
    'WithSensorData/SensorDataExample5.jsonld': INSPECTING,
    'WithSensorData/SensorDataExample6.jsonld': INSPECTING,
    'WithSensorData/SensorDataExample7.jsonld': INSPECTING,
    'WithSensorData/SensorDataExample8.jsonld': rejects(0, 'childQuantityList', 'UNMAPPABLE', /^class-level quantities cannot be packed: the ledger tracks serialized items \(SGTINs\) and containers \(SSCCs\) in childEPCs$/),
    'WithSensorData/SensorDataExample9.jsonld': unknownItem('urn:epc:id:sgtin:4012345.011111.9876'),
  };

  it('imports each GS1 example document or rejects it with a precise message (index, field, reason)', async () => {
    const files = gs1.examples.map((f) => gs1.relative(f)).sort();
    expect(files).toHaveLength(47);
    expect(Object.keys(EXPECTED).sort()).toEqual(files);
    for (const file of files) {
      const size = await treeSize(srv);
      const r = await epcisCapture(srv, seller.key, readFileSync(join(gs1.examplesDir, file), 'utf8'));
      const want = EXPECTED[file]!;
      if ('imports' in want) {
        expect(r.status, `${file}: ${JSON.stringify(r.body)}`).toBe(200);
        expect(r.body.events.map((e: Json) => [e.kind, e.status]), file).toEqual(want.imports.map((k) => [k, 'RECORDED']));
        expect(await treeSize(srv)).toBe(size + want.imports.length);
        continue;
      }
      expect(r.status, `${file}: ${JSON.stringify(r.body)}`).toBe(want.status);
      // Refused at submission: a problem document; refused by its capture job: the failed job (problem + errors).
      if (r.job) expect(r.job, file).toMatchObject({ running: false, success: false, status: 'failed' });
      else expect(r.headers.get('content-type'), file).toBe('application/problem+json');
      const first = r.body.problems[0];
      expect({ index: first.eventIndex, field: first.field, code: first.code }, file).toEqual({ index: want.index, field: want.field, code: want.code });
      expect(first.reason, file).toMatch(want.reason);
      expect(r.body.title, file).toMatch(/^EPCIS document rejected, nothing was recorded: /);
      expect(await treeSize(srv), file).toBe(size);
    }
    // The imported sensor reports keep GS1's sensorElementList as the readings of a USE_REPORT.
    const { body } = await srv.gql(`query($s: String!) { item(digitalLink: $s) { stage events(first: 10) { edges { node { kind data location } } } } }`, { s: SENSOR_ITEM }, seller.key);
    expect(body.data.item.stage).toBe('IN_USE');
    const reports = body.data.item.events.edges.map((e: Json) => e.node).filter((n: Json) => n.kind === 'USE_REPORT');
    expect(reports).toHaveLength(2);
    expect(reports[0].data.readings.sensorElementList[0].sensorReport[0]).toMatchObject({ type: 'Temperature', value: 20.9, uom: 'CEL' });
    expect(reports[0].location).toBe('9506000134307'); // https://id.gs1.org/414/{GLN} is stored as the GLN
    // Capturing a GS1 example again records nothing.
    const again = await epcisCapture(srv, seller.key, readFileSync(join(gs1.examplesDir, 'WithSensorData/SensorDataExample13.jsonld'), 'utf8'));
    expect(again.body.events.map((e: Json) => e.status)).toEqual(['ALREADY_CAPTURED']);
    // GS1's eventIDs there are placeholders (13 and 17 state the same one): the ledger keys on the hash it computes.
    const doc13 = readJson(join(gs1.examplesDir, 'WithSensorData/SensorDataExample13.jsonld'));
    expect(again.body.events[0].eventID).toBe(epcisEventHashId(doc13.epcisBody.eventList[0], doc13['@context']));
    expect(again.body.events[0].eventID).not.toBe(doc13.epcisBody.eventList[0].eventID);
  });

});
