import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { RESULT_FIELDS, createTestActor, minutesAgo, registerProductAndBatch, type TestActor } from '../helpers/ledger.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

// GraphQL `container(sscc)`: what is packed in a case or pallet, as far as the caller may see (the explorer's container view).
let db: TestDatabase;
let srv: TestServer;
let maker: TestActor, stranger: TestActor;
const GTIN = '04012345222227';
const urn = (n: number) => `urn:epc:id:sgtin:4012345.022222.C${n}`;
const CASE = '340123450000000017';
const PALLET = '340123450000000031';
const QUERY = `query($s: String!) { container(sscc: $s) { sscc holder { name } parentSscc containerSsccs itemCount items { sgtin } } }`;

beforeAll(async () => {
  db = await openTestDatabase();
  srv = await startTestServer(db);
  maker = await createTestActor(srv, 'Box Maker', ['MANUFACTURER'], ['4012345']);
  stranger = await createTestActor(srv, 'Stranger', ['DISTRIBUTOR']);
  await registerProductAndBatch(srv, maker, { gtin: GTIN, lot: 'B1', range: { count: 3, firstSerial: 'C1' } });
  for (const i of [{ container: CASE, items: [urn(1), urn(2)] }, { container: PALLET, containers: [CASE], items: [urn(3)] }]) {
    const { body } = await srv.gql(`mutation($i: PackItemsInput!) { packItems(input: $i) { ${RESULT_FIELDS} } }`, { i: { occurredAt: minutesAgo(5), ...i } }, maker.key);
    expect(body.data.packItems.__typename).toBe('RecordEventSuccess');
  }
});
afterAll(async () => {
  await srv?.close();
  await db?.dispose();
});

describe('container query', () => {
  it('lists the items at any depth, the nested containers and the parent, by SSCC or SSCC URN', async () => {
    const pallet = await srv.gql(QUERY, { s: PALLET }, maker.key);
    expect(pallet.body.data.container).toEqual({
      sscc: PALLET, holder: { name: 'Box Maker' }, parentSscc: null, containerSsccs: [CASE], itemCount: 3, items: [1, 2, 3].map((n) => ({ sgtin: urn(n) })),
    });
    const kase = await srv.gql(QUERY, { s: 'urn:epc:id:sscc:4012345.3000000001' }, maker.key);
    expect(kase.body.data.container).toMatchObject({ sscc: CASE, parentSscc: PALLET, containerSsccs: [], itemCount: 2 });
  });

  it('is null for an unknown container and for one the caller can see nothing of; a bad SSCC is a validation error', async () => {
    expect((await srv.gql(QUERY, { s: '340123450000000048' }, maker.key)).body.data.container).toBeNull();
    expect((await srv.gql(QUERY, { s: PALLET }, stranger.key)).body.data.container).toBeNull();
    const bad = await srv.gql(QUERY, { s: '340123450000000018' }, maker.key);
    expect(bad.body.errors[0].message).toMatch(/SSCC check digit is 8, expected 7/);
  });
});
