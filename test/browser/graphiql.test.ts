import { statSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { launchOffline, type OfflineBrowser, screenshot } from './helpers.ts';

let db: TestDatabase;
let srv: TestServer;
let browser: OfflineBrowser;

beforeAll(async () => {
  db = await openTestDatabase();
  srv = await startTestServer(db);
  browser = await launchOffline();
});

afterAll(async () => {
  await browser?.close();
  await srv?.close();
  await db?.dispose();
});

describe('GraphiQL with the network off', () => {
  it('renders from this server alone: editor, toolbar and Provenant\'s welcome text, no "Loading"', async () => {
    const { page, blocked } = browser;
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const response = await page.goto(`${srv.origin}/graphql`, { waitUntil: 'load' });
    expect(response?.status()).toBe(200);
    expect(response?.headers()['content-type']).toMatch(/^text\/html/);

    await page.waitForSelector('.graphiql-container', { timeout: 30_000 });
    await page.waitForSelector('.graphiql-execute-button', { timeout: 30_000 });
    await page.waitForSelector('.graphiql-editor', { timeout: 30_000 });
    // The query editor shows the welcome comment (its first lines are on screen; the editor renders spaces as U+00A0).
    const pageText = () => page.evaluate(() => document.body.innerText.replace(/\s+/g, ' '));
    await page.waitForFunction(() => document.body.innerText.replace(/\s+/g, ' ').includes("Welcome to Provenant's GraphQL API"), undefined, { timeout: 30_000 }).catch(async (e) => {
      throw new Error(`${(e as Error).message}; the page says: ${(await pageText()).slice(0, 2000)}; screenshot ${await screenshot(page, 'graphiql-failed')}`);
    });
    const text = await pageText();
    expect(text).toContain('Bearer pvn_');
    expect(text).toContain('Headers tab');
    expect(text).toContain('viewer { id name roles }');
    expect(text).not.toMatch(/Loading/);
    expect(await page.title()).toBe('Provenant');

    const path = await screenshot(page, 'graphiql');
    expect(statSync(path).size).toBeGreaterThan(10_000);
    // Nothing was fetched from elsewhere (each attempt would have been aborted and listed here).
    expect(blocked).toEqual([]);
    expect(errors).toEqual([]);
  });
});
