import { readFileSync } from 'node:fs';
import type { Page, Request } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { RESULT_FIELDS, createTestActor, lifecycle, minutesAgo, registerProductAndBatch, type TestActor } from '../helpers/ledger.ts';
import { startTestServer, testSigner, type TestServer } from '../helpers/server.ts';
import { toHex } from '../../src/core/bytes.ts';
import { contentHashV2 } from '../../src/core/v2/event-v2.ts';
import { launchOffline, type OfflineBrowser, screenshot } from './helpers.ts';

// The auditor explorer in a real headless Chromium with the network off: key entry, search by SGTIN, batch and
// SSCC, the item's timeline and custody, its proof bundle verified in the browser (and refused when tampered with).
let db: TestDatabase;
let srv: TestServer;
let browser: OfflineBrowser;
let maker: TestActor, dist: TestActor, auditor: TestActor;
const GTIN = '04012345666663';
const urn = (serial: string) => `urn:epc:id:sgtin:4012345.066666.${serial}`;
const CASE = '340123450000000055';
/** Requests that carried an Authorization header: [method, url]. */
const authorized: string[] = [];

beforeAll(async () => {
  db = await openTestDatabase();
  srv = await startTestServer(db);
  maker = await createTestActor(srv, 'Explorer Maker', ['MANUFACTURER'], ['4012345']);
  dist = await createTestActor(srv, 'Explorer Dist', ['DISTRIBUTOR']);
  auditor = await createTestActor(srv, 'Auditor', ['AUDITOR']);
  const grant = await srv.gql(`mutation($i: GrantRightsInput!) { grantRights(input: $i) { __typename } }`, { i: { grantee: auditor.id, kinds: [], allProducts: true } });
  expect(grant.body.data.grantRights.__typename).toBe('GrantSuccess');
  expect((await registerProductAndBatch(srv, maker, { gtin: GTIN, lot: 'EX1', serials: ['E1', 'E2', 'E3'] })).__typename).toBe('RegisterBatchSuccess');
  expect((await registerProductAndBatch(srv, maker, { gtin: GTIN, lot: 'EX2', serials: ['R1'] })).__typename).toBe('RegisterBatchSuccess');
  expect((await lifecycle(srv, maker, 'shipItems', { items: [urn('E1')], to: dist.id, occurredAt: minutesAgo(30) })).__typename).toBe('RecordEventSuccess');
  expect((await lifecycle(srv, dist, 'receiveItems', { items: [urn('E1')], occurredAt: minutesAgo(20) })).__typename).toBe('RecordEventSuccess');
  const pack = await srv.gql(`mutation($i: PackItemsInput!) { packItems(input: $i) { ${RESULT_FIELDS} } }`, { i: { container: CASE, items: [urn('E2'), urn('E3')], occurredAt: minutesAgo(15) } }, maker.key);
  expect(pack.body.data.packItems.__typename).toBe('RecordEventSuccess');
  const recall = await srv.gql(`mutation { recallBatch(input: { gtin: "${GTIN}", lot: "EX2", reason: "cracked housing" }) { __typename } }`, {}, maker.key);
  expect(recall.body.data.recallBatch.__typename).toBe('RecallBatchSuccess');
  browser = await launchOffline();
  browser.page.on('request', (r: Request) => {
    if (r.headers()['authorization']) authorized.push(`${r.method()} ${r.url()}`);
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await srv?.close();
  await db?.dispose();
});

async function openExplorer(p: Page = browser.page): Promise<void> {
  const r = await p.goto(`${srv.origin}/explorer`, { waitUntil: 'load' });
  expect(r?.status()).toBe(200);
}

async function enterKey(key = auditor.key, p: Page = browser.page): Promise<void> {
  await p.getByLabel('Your API key').fill(key);
  await p.getByLabel('Your API key').press('Enter');
  await expect.poll(() => p.locator('#key-status').textContent()).toMatch(/^Key in use: /);
}

async function searchFor(text: string, p: Page = browser.page): Promise<void> {
  await p.locator('#result').evaluate((el) => el.replaceChildren());
  await p.getByLabel('SGTIN, Digital Link, GTIN and lot, or SSCC').fill(text);
  await p.getByRole('button', { name: 'Search', exact: true }).click();
  await p.waitForFunction(() => document.querySelector('#result h2') !== null || /failed|No |Cannot/.test(document.getElementById('status')!.textContent ?? ''), undefined, { timeout: 30_000 });
}

async function verification(p: Page = browser.page) {
  return p.evaluate(() => {
    const box = document.getElementById('verification')!;
    return {
      state: box.dataset['state'],
      headline: box.querySelector('.headline')!.textContent ?? '',
      checks: Object.fromEntries([...box.querySelectorAll<HTMLElement>('.checks li')].map((li) => [li.dataset['check'], li.dataset['state']])),
    };
  });
}

const timelineBadges = (p: Page = browser.page) => p.locator('.timeline > li h4 .badge').allTextContents();

describe('the auditor explorer (headless Chromium, network off)', () => {
  it('takes the key, searches by SGTIN, shows the timeline, custody windows and "verified"; the key stays in sessionStorage', async () => {
    const errors: string[] = [];
    browser.page.on('pageerror', (e) => errors.push(e.message));
    await openExplorer();
    await enterKey();
    await searchFor(urn('E1'));
    expect(await browser.page.locator('#result h2').textContent()).toBe('Item Product 04012345666663 · serial E1');
    const v = await verification();
    expect(v.state, v.headline).toBe('ok');
    expect(v.headline).toMatch(/^Verified in this browser: 3 events, checkpoint \d+$/);
    expect(v.checks).toEqual({ signature: 'ok', chain: 'ok', inclusion: 'ok', completeness: 'ok', consistency: 'not-checked' });
    expect(await browser.page.locator('.timeline > li').evaluateAll((lis) => lis.map((li) => (li as HTMLElement).dataset['kind']))).toEqual(['COMMISSION', 'SHIP', 'RECEIVE']);
    expect(await timelineBadges()).toEqual([expect.stringMatching(/^proven: seq 0, leaf \d+$/), expect.stringMatching(/^proven: seq 1, /), expect.stringMatching(/^proven: seq 2, /)]);
    const timelineText = await browser.page.locator('.timeline').innerText();
    expect(timelineText).toContain('Explorer Dist');
    const custody = await browser.page.locator('.custody > li').allInnerTexts();
    expect(custody).toHaveLength(2);
    expect(custody[0]).toMatch(/^Explorer Maker: .* \(Commission\) → .* \(Receive\)$/);
    expect(custody[1]).toMatch(/^Explorer Dist: .* \(Receive\) → now$/);
    // The key: in sessionStorage only, never a cookie or localStorage, not in the page, sent only to /graphql.
    const storage = await browser.page.evaluate(() => ({ cookie: document.cookie, local: localStorage.length, session: sessionStorage.getItem('provenant.explorer.apiKey'), html: document.documentElement.outerHTML }));
    expect(storage.cookie).toBe('');
    expect(storage.local).toBe(0);
    expect(storage.session).toBe(auditor.key);
    expect(storage.html).not.toContain(auditor.key);
    expect((await browser.context.cookies()).length).toBe(0);
    expect(authorized.length).toBeGreaterThan(0);
    expect(authorized.every((r) => r === `POST ${srv.origin}/graphql`)).toBe(true);
    await screenshot(browser.page, 'explorer-item');
    expect(errors).toEqual([]);
    expect(browser.blocked).toEqual([]);
  });

  it('keeps the verified checkpoint and proves the next one extends it (consistency checked in the browser)', async () => {
    const kept = await browser.page.evaluate(() => sessionStorage.getItem('provenant.explorer.keptCheckpoint'));
    expect(kept).toMatch(/^test\.provenant\/log\n\d+\n/);
    const keptSize = Number(kept!.split('\n')[1]);
    // The log grows: another item moves.
    expect((await lifecycle(srv, maker, 'shipItems', { items: [urn('E3')], to: dist.id, occurredAt: minutesAgo(5) })).__typename).toBe('RecordEventSuccess');
    await searchFor(`https://id.gs1.org/01/${GTIN}/21/E1`);
    const v = await verification();
    expect(v.state, v.headline).toBe('ok');
    expect(v.checks['consistency']).toBe('ok');
    expect(await browser.page.locator('[data-check=consistency]').textContent()).toMatch(new RegExp(`extends your kept checkpoint of size ${keptSize}$`));
    expect(await browser.page.locator('#kept-status').textContent()).toMatch(/^Kept checkpoint: tree size \d+\.$/);
  });

  it('refuses to keep a pasted checkpoint that the pinned key did not sign', async () => {
    await browser.page.locator('#kept summary').click();
    const other = testSigner();
    const { signNote } = await import('../../src/core/checkpoint.ts');
    const forged = signNote('test.provenant/log\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n', 'test.provenant/log', other.seed);
    await browser.page.getByLabel('A checkpoint you kept earlier (signed note)').fill(forged);
    await browser.page.getByRole('button', { name: 'Keep this checkpoint' }).click();
    expect(await browser.page.locator('#kept-status').textContent()).toMatch(/^Not kept: this is not a checkpoint signed by the pinned log key/);
    expect(await browser.page.evaluate(() => sessionStorage.getItem('provenant.explorer.keptCheckpoint'))).not.toBe(forged);
  });

  it('a kept checkpoint the log does not extend (same key, another root) fails consistency: the log was rewritten', async () => {
    const { signNote, formatCheckpoint } = await import('../../src/core/checkpoint.ts');
    const size = (await srv.gql('{ checkpoint { treeSize } }')).body.data.checkpoint.treeSize as number;
    const forked = signNote(formatCheckpoint({ origin: srv.signer.origin, size: size - 1, rootHash: new Uint8Array(32).fill(7) }), srv.signer.origin, srv.signer.seed);
    await browser.page.getByLabel('A checkpoint you kept earlier (signed note)').fill(forked);
    await browser.page.getByRole('button', { name: 'Keep this checkpoint' }).click();
    expect(await browser.page.locator('#kept-status').textContent()).toBe(`Kept checkpoint: tree size ${size - 1}.`);
    await searchFor(urn('E1'));
    const v = await verification();
    expect(v).toMatchObject({ state: 'failed', checks: { consistency: 'failed' } });
    expect(v.headline).toMatch(new RegExp(`^FAILED \\(consistency\\): the log was rewritten: tree size ${size} `));
    // The failed verification does not replace the kept checkpoint.
    expect(await browser.page.evaluate(() => sessionStorage.getItem('provenant.explorer.keptCheckpoint'))).toBe(forked);
    await browser.page.getByRole('button', { name: 'Forget', exact: true }).click();
    expect(await browser.page.locator('#kept-status').textContent()).toBe('No kept checkpoint.');
    await searchFor(urn('E1'));
    expect((await verification()).state).toBe('ok');
  });

  it('marks the fields the API lists in withheldFields as withheld', async () => {
    // Until the server has Event.withheldFields, the answer is rewritten here: the field is asked for without it
    // and each SHIP event then says its counterparty's note was withheld.
    const p = await browser.context.newPage();
    await p.route('**/graphql', async (route) => {
      const post = route.request().postData() ?? '';
      if (!post.includes('withheldFields')) return route.continue();
      const response = await route.fetch({ postData: post.replace(' withheldFields', '') });
      const body = (await response.json()) as any;
      for (const edge of body.data?.item?.events.edges ?? []) if (edge.node.kind === 'SHIP') edge.node.withheldFields = ['note'];
      await route.fulfill({ response, json: body });
    });
    try {
      await openExplorer(p);
      await enterKey(auditor.key, p);
      await searchFor(urn('E1'), p);
      const ship = p.locator('.timeline > li[data-kind=SHIP]');
      expect(await ship.locator('dt').allTextContents()).toContain('note');
      expect(await ship.locator('.withheld').innerText()).toMatch(/^withheld\s+not disclosed to you$/);
      expect(await p.locator('.timeline > li[data-kind=RECEIVE] .withheld').count()).toBe(0);
    } finally {
      await p.close();
    }
  });

  it('downloads the proof bundle as JSON', async () => {
    const [download] = await Promise.all([browser.page.waitForEvent('download'), browser.page.getByRole('button', { name: 'Download proof bundle (JSON)' }).click()]);
    expect(download.suggestedFilename()).toBe(`${GTIN}-E1-proof-bundle.json`);
    const bundle = JSON.parse(readFileSync((await download.path())!, 'utf8'));
    expect(bundle.format).toMatch(/^provenant-proof-bundle\/v[12]$/);
    expect(bundle.item.sgtin).toBe(urn('E1'));
  });

  it('a bundle tampered on its way to the browser is refused with the check and seq that failed', async () => {
    const tamper = async (edit: (bundle: any) => void) => {
      await browser.page.route('**/graphql', async (route) => {
        if (!route.request().postData()?.includes('itemProofBundle')) return route.continue();
        const response = await route.fetch();
        const body = (await response.json()) as { data: { itemProofBundle: any } };
        edit(body.data.itemProofBundle);
        await route.fulfill({ response, json: body });
      });
    };
    try {
      // One event changed: its time (a v1 body), else one hex digit of a commitment (a v2 body); still canonical JSON.
      await tamper((b) => {
        const e = b.events.find((x: any) => x.seq === 1);
        const before = e.body;
        e.body = e.body.replace(/(\d{4}-\d\d-\d\dT\d\d:\d\d:)(\d\d)/, (_m: string, a: string, s: string) => `${a}${String((Number(s) + 1) % 60).padStart(2, '0')}`);
        if (e.body === before) e.body = e.body.replace(/([0-9a-f]{63})([0-9a-f])/, (_m: string, a: string, c: string) => `${a}${c === '0' ? '1' : '0'}`);
        expect(e.body).not.toBe(before);
      });
      await searchFor(urn('E1'));
      let v = await verification();
      expect(v.state).toBe('failed');
      expect(v.headline).toMatch(/^FAILED \((content|fields|inclusion|item-tree)\) at seq 1: /);
      expect(Object.values(v.checks).filter((s) => s === 'failed')).toHaveLength(1);
      expect(await timelineBadges()).toEqual(['not proven', 'not proven', 'not proven']);
      await screenshot(browser.page, 'explorer-tampered');
      await browser.page.unroute('**/graphql');

      // One hash of an inclusion proof changed.
      await tamper((b) => {
        const e = b.events.find((x: any) => x.seq === 2);
        e.inclusionProof[0] = e.inclusionProof[0].replace(/^./, (c: string) => (c === '0' ? '1' : '0'));
      });
      await searchFor(urn('E1'));
      v = await verification();
      expect(v).toMatchObject({ state: 'failed', checks: { inclusion: 'failed', chain: 'not-established' } });
      expect(v.headline).toMatch(/^FAILED \(inclusion\) at seq 2: /);
    } finally {
      await browser.page.unroute('**/graphql');
    }
  });

  it('a valid bundle of another item is refused: it proves nothing about this one', async () => {
    const other = (await srv.gql(`{ itemProofBundle(sgtin: "${urn('E2')}") }`, {}, auditor.key)).body.data.itemProofBundle;
    await browser.page.route('**/graphql', async (route) => {
      if (!route.request().postData()?.includes('itemProofBundle')) return route.continue();
      await route.fulfill({ json: { data: { itemProofBundle: other } } });
    });
    try {
      await searchFor(urn('E1'));
      const v = await verification();
      expect(v.state).toBe('failed');
      expect(v.headline).toBe(`FAILED (item): the bundle proves the history of ${urn('E2')}, not of ${urn('E1')}`);
    } finally {
      await browser.page.unroute('**/graphql');
    }
  });

  it('renders a format-v2 bundle: verified with the head map, fields the bundle withholds marked "withheld"', async () => {
    // A golden v2 bundle (test/vectors/ledger-v2) served for an item whose API answer mirrors it, under its log key.
    const vector = JSON.parse(readFileSync(new URL('../vectors/ledger-v2/golden/02-lifecycle-public.json', import.meta.url), 'utf8'));
    const bundle = vector.bundle;
    const events = bundle.events.map((e: any) => {
      const body = JSON.parse(e.body);
      return {
        id: `ev${e.seq}`, kind: body.kind, occurredAt: body.occurredAt, recordedAt: body.recordedAt, location: null, actor: { name: 'Someone' },
        counterparty: null, data: {}, contentHash: toHex(contentHashV2(e.body)), leafIndex: e.leafIndex,
      };
    });
    const item = {
      sgtin: bundle.item.sgtin, digitalLink: bundle.item.digitalLink, serial: 'A-1001', gtin: '09506000134352', stage: 'RECYCLED', recalled: true,
      chainLength: events.length, product: { name: 'Vector product', brand: { name: 'Vector brand' } }, batch: { lot: 'V1', recalled: true, recallReason: null },
      custodian: { name: 'Someone' }, pendingReceiver: null, events: { edges: events.map((node: unknown) => ({ node })), pageInfo: { hasNextPage: false, endCursor: null } },
    };
    const p = await browser.context.newPage();
    await p.route('**/explorer', async (route) => {
      const response = await route.fetch();
      await route.fulfill({ response, body: (await response.text()).replace(/data-log-key="[^"]+"/, `data-log-key="${vector.verifierKeys[0]}"`) });
    });
    await p.route('**/graphql', async (route) => {
      const q = route.request().postData() ?? '';
      if (q.includes('itemProofBundle')) return route.fulfill({ json: { data: { itemProofBundle: bundle } } });
      if (q.includes('query Item')) return route.fulfill({ json: { data: { item } } });
      return route.continue();
    });
    try {
      await openExplorer(p);
      await enterKey(auditor.key, p);
      await searchFor(bundle.item.sgtin, p);
      const v = await verification(p);
      expect(v.state, v.headline).toBe('ok');
      expect(v.headline).toBe('Verified in this browser: 14 events, checkpoint 26');
      expect(await p.locator('[data-check=completeness]').textContent()).toMatch(/proven in the checkpoint's head map/);
      expect(await p.locator('#verification').innerText()).toContain('provenant-proof-bundle/v2');
      const badges = await timelineBadges(p);
      expect(badges).toHaveLength(14);
      expect(badges.every((b, i) => b.startsWith(`proven: seq ${i}, leaf `))).toBe(true);
      const sell = p.locator('.timeline > li[data-kind=SELL]');
      expect(await sell.locator('dt').allTextContents()).toEqual(expect.arrayContaining(['buyer', 'currency', 'note', 'price']));
      expect(await sell.locator('.withheld').count()).toBe(4);
      await screenshot(p, 'explorer-v2-bundle');
    } finally {
      await p.close();
    }
  });

  it('batch search shows the recall state, item count and custodians', async () => {
    await searchFor(`${GTIN} EX2`);
    expect(await browser.page.locator('#result h2').textContent()).toBe('Batch EX2 of Product 04012345666663');
    expect(await browser.page.locator('#result [role=alert] h3').textContent()).toBe('Recalled');
    const text = await browser.page.locator('#result').innerText();
    expect(text).toMatch(/Recall state\s+recalled \(cracked housing\)/);
    expect(text).toMatch(/Items\s+1 you may see/);
    await searchFor(`https://id.gs1.org/01/${GTIN}/10/EX1`);
    const ex1 = await browser.page.locator('#result').innerText();
    expect(ex1).toMatch(/Recall state\s+not recalled/);
    expect(ex1).toMatch(/Items\s+3 you may see/);
    expect(await browser.page.locator('.custodians li').allTextContents()).toEqual(['Explorer Maker: 2 items', 'Explorer Dist: 1 item']);
    await screenshot(browser.page, 'explorer-batch');
  });

  it('container search lists the contents, and an item opens from there by keyboard', async () => {
    await searchFor(CASE);
    expect(await browser.page.locator('#result h2').textContent()).toBe(`Container ${CASE}`);
    expect(await browser.page.locator('#result').innerText()).toMatch(/Items inside\s+2 you may see/);
    const items = browser.page.locator('.items li button');
    expect(await items.allTextContents()).toEqual([urn('E2'), urn('E3')]);
    await screenshot(browser.page, 'explorer-container');
    await items.first().focus();
    await browser.page.keyboard.press('Enter');
    await browser.page.waitForFunction(() => document.querySelector('#result h2')?.textContent?.endsWith('serial E2'));
    await browser.page.waitForSelector('#verification');
    expect(await browser.page.locator('.timeline > li').evaluateAll((lis) => lis.map((li) => (li as HTMLElement).dataset['kind']))).toEqual(['COMMISSION', 'PACK']);
    expect((await verification()).state).toBe('ok');
  });

  it('an unknown item, a key without rights and a malformed entry each get a clear message', async () => {
    await searchFor('340123450000000018');
    expect(await browser.page.locator('#status').textContent()).toBe('Cannot search: SSCC check digit is 8, expected 7.');
    await searchFor(urn('NOPE'));
    expect(await browser.page.locator('#status').textContent()).toBe('No item found that your key may see.');
    // The distributor holds E1 but may not read its whole history: the timeline shows, the bundle is refused.
    const p = await browser.context.newPage();
    try {
      await openExplorer(p);
      await enterKey(dist.key, p);
      await searchFor(urn('E1'), p);
      expect(await verification(p)).toMatchObject({ state: 'unavailable', headline: expect.stringMatching(/^Not verified: the API refused the proof bundle \(FULL_HISTORY_REQUIRED\): /) });
      expect(await timelineBadges(p)).toContain('not proven');
      await searchFor(urn('E2'), p);
      expect(await p.locator('#status').textContent()).toBe('No item found that your key may see.');
      // A key the server does not know: the API's own words.
      await enterKey('pvn_not-a-real-key', p);
      await searchFor(urn('E1'), p);
      expect(await p.locator('#status').textContent()).toMatch(/^Search failed: .+/);
      expect(await p.locator('#result').innerHTML()).toBe('');
    } finally {
      await p.close();
    }
  });

  it('works on a 390-px phone without horizontal overflow, and is usable from the keyboard alone', async () => {
    const p = await browser.context.newPage();
    try {
      await p.setViewportSize({ width: 390, height: 844 });
      await openExplorer(p);
      // Tab from the top of the page reaches the key field first, then (after Enter) search works by keyboard.
      const focusOrder: string[] = [];
      for (let i = 0; i < 8; i++) {
        await p.keyboard.press('Tab');
        focusOrder.push(await p.evaluate(() => document.activeElement?.id || document.activeElement?.tagName || ''));
        if (focusOrder.at(-1) === 'api-key') break;
      }
      expect(focusOrder.at(-1)).toBe('api-key');
      await p.keyboard.type(auditor.key);
      await p.keyboard.press('Enter');
      expect(await p.evaluate(() => document.activeElement?.id)).toBe('q');
      await p.keyboard.type(urn('E1'));
      await p.keyboard.press('Enter');
      await p.waitForSelector('#verification');
      // Results take the focus (their heading), so a screen reader announces them.
      expect(await p.evaluate(() => document.activeElement?.tagName)).toBe('H2');
      expect((await verification(p)).state).toBe('ok');
      expect(await p.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      await screenshot(p, 'explorer-item-390');
      await searchFor(`${GTIN} EX1`, p);
      expect(await p.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      // Every form control has an accessible name.
      const unnamed = await p.evaluate(() =>
        [...document.querySelectorAll('input, textarea, button')].filter((el) => !(el as HTMLInputElement).labels?.length && !el.textContent?.trim() && !el.getAttribute('aria-label')).length,
      );
      expect(unnamed).toBe(0);
    } finally {
      await p.close();
    }
  });
});
