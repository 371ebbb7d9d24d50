import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { createTestActor, lifecycle, minutesAgo, registerProductAndBatch, type TestActor } from '../helpers/ledger.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { launchOffline, type OfflineBrowser, screenshot } from './helpers.ts';

// The item page a scan leads to, in a real headless Chromium on a 390-px phone viewport with the network off: it
// verifies the item's statement in the browser against the log key and says what it proved — or what failed.
let db: TestDatabase;
let srv: TestServer;
let browser: OfflineBrowser;
let maker: TestActor, dist: TestActor, shop: TestActor, buyer: TestActor;
const GTIN = '04012345555516';
const page = (serial: string) => `${srv.origin}/item/01/${GTIN}/21/${serial}`;

beforeAll(async () => {
  db = await openTestDatabase();
  srv = await startTestServer(db);
  maker = await createTestActor(srv, 'Scan Maker', ['MANUFACTURER'], ['4012345']);
  dist = await createTestActor(srv, 'Scan Dist', ['DISTRIBUTOR']);
  expect((await registerProductAndBatch(srv, maker, { gtin: GTIN, lot: 'SC1', range: { count: 2, firstSerial: 'P1' } })).__typename).toBe('RegisterBatchSuccess');
  expect((await registerProductAndBatch(srv, maker, { gtin: GTIN, lot: 'SC2', range: { count: 1, firstSerial: 'R1' } })).__typename).toBe('RegisterBatchSuccess');
  expect((await lifecycle(srv, maker, 'shipItems', { items: [`urn:epc:id:sgtin:4012345.055551.P1`], to: dist.id, occurredAt: minutesAgo(3) })).__typename).toBe('RecordEventSuccess');
  // A sold item: shipped with its lot-mate to a shop, sold to a named buyer at a price (participant fields).
  shop = await createTestActor(srv, 'Scan Shop', ['RETAILER']);
  buyer = await createTestActor(srv, 'Scan Buyer Person', []);
  const sold = ['SOLD-A', 'SOLD-B'].map((s) => `urn:epc:id:sgtin:4012345.055551.${s}`);
  expect((await registerProductAndBatch(srv, maker, { gtin: GTIN, lot: 'SC3', serials: ['SOLD-A', 'SOLD-B'] })).__typename).toBe('RegisterBatchSuccess');
  for (const [actor, mutation, input] of [
    [maker, 'shipItems', { items: sold, to: shop.id, occurredAt: minutesAgo(6), location: 'Plant Stuttgart' }],
    [shop, 'receiveItems', { items: sold, occurredAt: minutesAgo(5), location: 'Shop Berlin' }],
    [shop, 'sellItems', { items: [sold[0]], buyer: buyer.id, price: 4711.42, currency: 'EUR', occurredAt: minutesAgo(4), location: 'Shop Berlin' }],
  ] as const) {
    expect((await lifecycle(srv, actor, mutation, input)).__typename).toBe('RecordEventSuccess');
  }
  const recall = await srv.gql(`mutation { recallBatch(input: { gtin: "${GTIN}", lot: "SC2", reason: "overheating" }) { __typename } }`, {}, maker.key);
  expect(recall.body.data.recallBatch.__typename).toBe('RecallBatchSuccess');
  browser = await launchOffline();
  await browser.page.setViewportSize({ width: 390, height: 844 });
});

afterAll(async () => {
  await browser?.close();
  await srv?.close();
  await db?.dispose();
});

async function verification() {
  const { page: p } = browser;
  await p.waitForFunction(() => document.getElementById('verification')?.dataset['state'] !== 'pending', undefined, { timeout: 30_000 });
  return p.evaluate(() => {
    const box = document.getElementById('verification')!;
    return { state: box.dataset['state'], text: box.querySelector('.result')!.textContent ?? '' };
  });
}

async function history() {
  const { page: p } = browser;
  await p.waitForFunction(() => document.getElementById('history')?.dataset['state'] !== 'pending', undefined, { timeout: 30_000 });
  return p.evaluate(() => {
    const box = document.getElementById('history')!;
    return {
      state: box.dataset['state'],
      text: box.querySelector('.result')!.textContent ?? '',
      events: [...box.querySelectorAll('ol.events li')].map((li) => li.textContent ?? ''),
    };
  });
}

describe('the item page of a scan (headless Chromium, network off)', () => {
  it('shows the product and stage, and verifies in the browser: history intact up to checkpoint N', async () => {
    const errors: string[] = [];
    browser.page.on('pageerror', (e) => errors.push(e.message));
    const r = await browser.page.goto(page('P1'), { waitUntil: 'load' });
    expect(r?.status()).toBe(200);
    const v = await verification();
    expect(v, JSON.stringify(v)).toMatchObject({ state: 'ok' });
    expect(v.text).toMatch(/^Confirmed by the signed log at checkpoint \d+: In transit, not recalled, 2 recorded events in its chain/);
    const text = await browser.page.evaluate(() => document.body.innerText);
    expect(text).toContain('Product 04012345555516');
    expect(text).toContain('In transit');
    expect(text).not.toContain('Recalled');
    // Its public history, rendered from the bundle the browser verified: two events, oldest first, intact.
    const h = await history();
    expect(h, JSON.stringify(h)).toMatchObject({ state: 'ok' });
    expect(h.text).toMatch(/^History intact up to checkpoint \d+ \(complete\): 2 events, checked in this browser/);
    const today = new Date().toISOString().slice(0, 10);
    expect(h.events).toHaveLength(2);
    expect(h.events[0]).toMatch(/^Manufactured · \d{4}-\d\d-\d\d/);
    expect(h.events[1]).toMatch(new RegExp(`^Shipped · ${today.slice(0, 8)}\\d\\d`));
    // Phone-sized: nothing wider than the viewport.
    expect(await browser.page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await screenshot(browser.page, 'scan-page');
    expect(errors).toEqual([]);
    expect(browser.blocked).toEqual([]);
  });

  it('a recalled item shows the recall banner, and the verification confirms the recall from the signed log', async () => {
    await browser.page.goto(page('R1'), { waitUntil: 'load' });
    expect(await browser.page.locator('[role=alert] h2').textContent()).toBe('Recalled');
    const v = await verification();
    expect(v).toMatchObject({ state: 'ok' });
    expect(v.text).toMatch(/Manufactured, recalled/);
    const h = await history();
    expect(h, JSON.stringify(h)).toMatchObject({ state: 'ok' });
    expect(h.events.at(-1)).toMatch(/^Recalled · \d{4}-\d\d-\d\d · reason: overheating$/);
    await screenshot(browser.page, 'scan-page-recalled');
  });

  it('a sold item: its public history shows where and when, withholds buyer and price, and names no other serial', async () => {
    // The bundle the page fetches, as anyone gets it (no key): no participant field, no lot-mate's serial.
    const res = await fetch(`${page('SOLD-A')}/bundle.json`);
    expect(res.status).toBe(200);
    const raw = await res.text();
    for (const secret of [buyer.id, 'Scan Buyer Person', '4711.42', '"EUR"', 'SOLD-B']) expect(raw).not.toContain(secret);

    await browser.page.goto(page('SOLD-A'), { waitUntil: 'load' });
    const h = await history();
    expect(h, JSON.stringify(h)).toMatchObject({ state: 'ok' });
    expect(h.text).toMatch(/^History intact up to checkpoint \d+ \(complete\): 4 events/);
    expect(h.events.map((e) => e.replace(/ · \d{4}-\d\d-\d\d/, ''))).toEqual([
      'Manufactured · Plant 1',
      'Shipped · Plant Stuttgart',
      'Received · Shop Berlin',
      'Sold · Shop Berlin · details withheld',
    ]);
    const text = await browser.page.evaluate(() => document.body.innerText);
    for (const secret of [buyer.id, 'Scan Buyer Person', 'Buyer', 'buyer', '4711', 'EUR', 'price', 'SOLD-B']) expect(text).not.toContain(secret);
    expect(await browser.page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await screenshot(browser.page, 'scan-page-sold-history');
  });

  it('a bundle tampered on its way (one event changed) fails in the browser, naming the check, and no history is shown', async () => {
    await browser.page.route('**/bundle.json', async (route) => {
      const response = await route.fetch();
      const bundle = (await response.json()) as { events: { seq: number; body: string }[] };
      // Move the shipment one day earlier: still canonical JSON, but no longer the body the log committed to.
      const ship = bundle.events.find((e) => e.seq === 1)!;
      ship.body = ship.body.replace(/"occurredAt":"(\d{4}-\d\d-)(\d\d)/, (_m, ym: string, d: string) => `"occurredAt":"${ym}${String(Number(d) === 1 ? 2 : Number(d) - 1).padStart(2, '0')}`);
      await route.fulfill({ response, json: bundle });
    });
    try {
      await browser.page.goto(page('SOLD-A'), { waitUntil: 'load' });
      const h = await history();
      expect(h.state, JSON.stringify(h)).toBe('failed');
      expect(h.text).toMatch(/^History verification FAILED \(inclusion\) at event 1: /);
      expect(h.events).toEqual([]);
      const text = await browser.page.evaluate(() => document.body.innerText);
      expect(text).not.toContain('Shop Berlin');
      // A failure message with long hashes still fits the phone.
      expect(await browser.page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      // The statement check is independent and still passes: the head is not what was tampered with.
      expect(await verification()).toMatchObject({ state: 'ok' });
      await screenshot(browser.page, 'scan-page-tampered-history');
    } finally {
      await browser.page.unroute('**/bundle.json');
    }
  });

  it('a tampered statement (stage changed on its way to the browser) is refused, naming the failed check', async () => {
    await browser.page.route('**/graphql', async (route) => {
      const response = await route.fetch();
      const body = (await response.json()) as { data: { itemStatement: { head: { stage: string } } } };
      body.data.itemStatement.head.stage = 'SOLD';
      await route.fulfill({ response, json: body });
    });
    try {
      await browser.page.goto(page('P1'), { waitUntil: 'load' });
      const v = await verification();
      expect(v).toMatchObject({ state: 'failed' });
      expect(v.text).toMatch(/^Verification FAILED \(head\): /);
      await screenshot(browser.page, 'scan-page-tampered');
    } finally {
      await browser.page.unroute('**/graphql');
    }
  });

  it('a statement signed by another key than the page pins is refused too', async () => {
    await browser.page.route('**/item/01/**', async (route) => {
      const response = await route.fetch();
      const other = (await import('../helpers/server.ts')).testSigner();
      const html = (await response.text()).replace(/data-log-key="[^"]+"/, `data-log-key="${other.verifierKey}"`);
      await route.fulfill({ response, body: html });
    });
    try {
      await browser.page.goto(page('P1'), { waitUntil: 'load' });
      const v = await verification();
      expect(v).toMatchObject({ state: 'failed' });
      expect(v.text).toMatch(/^Verification FAILED \(signature\): /);
      const h = await history();
      expect(h).toMatchObject({ state: 'failed', events: [] });
      expect(h.text).toMatch(/^History verification FAILED \(signature\): /);
    } finally {
      await browser.page.unroute('**/item/01/**');
    }
  });
});
