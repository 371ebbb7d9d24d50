/**
 * Headless Chromium for the browser suite (`npm run test:browser`): Debian's /usr/bin/chromium driven by playwright-core
 * (no browser download), a fresh profile per launch, and every request that is not to this machine aborted, so a page
 * that renders here renders on an offline or air-gapped network too.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';

/** The Chromium binary (PROVENANT_CHROMIUM overrides; .ci/run installs Debian's package when it is missing). */
export const CHROMIUM = process.env['PROVENANT_CHROMIUM'] || '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync',
];

const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

export interface OfflineBrowser {
  context: BrowserContext;
  page: Page;
  /** URLs of requests that left this machine and were aborted, in order. */
  blocked: string[];
  close(): Promise<void>;
}

/** Starts Chromium with a new profile; every non-localhost http(s)/ws(s) request is aborted and recorded. */
export async function launchOffline(): Promise<OfflineBrowser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: install it (apt-get install -y chromium) or set PROVENANT_CHROMIUM`);
  }
  const profile = mkdtempSync(join(tmpdir(), 'provenant-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 800 },
  });
  const blocked: string[] = [];
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (!/^(https?|wss?):$/.test(url.protocol) || LOCAL_HOSTS.has(url.hostname)) return route.continue();
    blocked.push(url.href);
    return route.abort('internetdisconnected');
  });
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    blocked,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Saves a full-page screenshot to a new temporary file, prints its path and returns it. */
export async function screenshot(page: Page, name: string): Promise<string> {
  const path = join(mkdtempSync(join(tmpdir(), 'provenant-screenshot-')), `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  console.log(`screenshot: ${path}`);
  return path;
}
