import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { ZERO_HASH, canonicalEventBody, contentHashOf, linkHash } from '../../src/core/chain.ts';
import { gs1CheckDigit } from '../../src/core/identifiers.ts';
import type { BundleEventV2, ProofBundleV2 } from '../../src/core/v2/bundle-v2.ts';
import { verifyAnyBundle } from '../../src/core/verify-any.ts';
import { insertBatch, insertItems, insertLinks } from '../../src/db/ledger.ts';
import { insertPendingEvent } from '../../src/db/pending.ts';
import { integrateAll } from '../../src/services/integrate.ts';
import { ConfigError, loadConfig } from '../../src/server/config.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { createTestActor, lifecycle, minutesAgo, registerProductAndBatch, type TestActor } from '../helpers/ledger.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const gtin = (body13: string) => body13 + String(gs1CheckDigit(body13));
const G = gtin('0401234511111'); // 04012345111118
const G2 = gtin('0401234522222'); // scan counts
const G3 = gtin('0401234533333'); // rate limit
const G4 = gtin('0401234544444'); // public history bundle
const G5 = gtin('0401234566666'); // an item logged in format v1
const G6 = gtin('0401234577777'); // shares a SHIP with G4
const UNKNOWN = gtin('0401234599999');
const OTHER = gtin('0409876500001');

let db: TestDatabase;
let srv: TestServer;
let maker: TestActor;
let rival: TestActor;
let partner: TestActor;
let base: string;

const get = (path: string, headers: Record<string, string> = {}, method = 'GET') =>
  fetch(`${base}${path}`, { method, headers, redirect: 'manual' });

const SET_LINKS = `mutation($i: SetLinksInput!) { setLinks(input: $i) { __typename
  ... on SetLinksSuccess { linkSet { gtin lot serial setAt setBy { id } links { linkType href language default } } }
  ... on Error { message } ... on ValidationError { field } ... on PermissionDeniedError { rule } } }`;

async function setLinks(by: TestActor | null, input: Record<string, unknown>) {
  const { body } = await srv.gql(SET_LINKS, { i: input }, by ? by.key : undefined);
  expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
  return body.data.setLinks;
}

const PIP_EN = { linkType: 'gs1:pip', href: 'https://brand.example/en/pip', title: 'Product page', language: 'en', default: true };
const PIP_DE = { linkType: 'gs1:pip', href: 'https://brand.example/de/pip', title: 'Produktseite', language: 'de', default: true };
const MANUAL = { linkType: 'https://gs1.org/voc/instructions', href: 'https://brand.example/manual.pdf', title: 'Manual', mediaType: 'application/pdf' };
const SUPPORT_A = { linkType: 'gs1:support', href: 'https://brand.example/support/a', title: 'Support A' };
const SUPPORT_B = { linkType: 'gs1:support', href: 'https://brand.example/support/b', title: 'Support B' };

beforeAll(async () => {
  db = await openTestDatabase();
  // A high limit here: only the rate-limit test (its own server) hits the limit.
  srv = await startTestServer(db, { resolverRatePerMinute: 100_000 });
  base = srv.origin;
  maker = await createTestActor(srv, 'Bolt Bikes', ['MANUFACTURER'], ['4012345']);
  rival = await createTestActor(srv, 'Rival', ['MANUFACTURER'], ['4098765']);
  partner = await createTestActor(srv, 'Partner', ['RETAILER']);
  await registerProductAndBatch(srv, maker, { gtin: G, lot: 'L1', serials: ['S1', 'S2'] });
  await registerProductAndBatch(srv, maker, { gtin: G, lot: 'L2', serials: ['R1'] });
  await registerProductAndBatch(srv, maker, { gtin: G2, lot: 'L1', serials: ['A'] });
  await registerProductAndBatch(srv, maker, { gtin: G3, lot: 'L1', serials: ['A'] });
  await registerProductAndBatch(srv, rival, { gtin: OTHER, lot: 'X', serials: ['1'] });
  // The partner may read G (so it is visible to it) but does not own it.
  const g = await srv.gql(`mutation($i: GrantRightsInput!) { grantRights(input: $i) { __typename } }`, { i: { grantee: partner.id, kinds: [], product: G } }, maker.key);
  expect(g.body.data.grantRights.__typename).toBe('GrantSuccess');
});
afterAll(async () => {
  await srv?.close();
  await db?.dispose();
});

describe('resolver without brand links', () => {
  it('redirects (307) to the item page, which shows product, stage and links; a Link header points at the linkset', async () => {
    const res = await get(`/01/${G}/21/S2`);
    expect(res.status).toBe(307);
    expect(res.headers.get('location')).toBe(`${base}/item/01/${G}/21/S2`);
    expect(res.headers.get('link')).toBe(`<${base}/01/${G}/21/S2?linkType=linkset>; rel="linkset"; type="application/linkset+json"`);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    const page = await fetch(res.headers.get('location')!);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = await page.text();
    expect(html).toContain(`Product ${G}`);
    expect(html).toMatch(/<dt>Current stage<\/dt><dd>Manufactured<\/dd>/);
    expect(html).toContain('<meta name="viewport" content="width=device-width, initial-scale=1">');
    expect(html).not.toMatch(/role="alert"/i);
    // Its only script is this server's own in-browser verification (the CSP allows nothing else).
    expect(html.match(/<script[^>]*>/g)).toEqual(['<script type="module" src="/assets/verify-statement.js">']);
    expect(page.headers.get('content-security-policy')).toMatch(/script-src 'self'; connect-src 'self'/);
    const js = await fetch(`${base}/assets/verify-statement.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect((await js.text()).length).toBeGreaterThan(1000);
    expect((await fetch(`${base}/assets/other.js`)).status).toBe(404);
  });

  it('the item page of a recalled lot shows a recall banner; an unregistered serial is said so', async () => {
    const r = await srv.gql(`mutation { recallBatch(input: { gtin: "${G}", lot: "L2", reason: "Brake cable may snap" }) { __typename } }`, {}, maker.key);
    expect(r.body.data.recallBatch.__typename).toBe('RecallBatchSuccess');
    const html = await (await get(`/item/01/${G}/21/R1`)).text();
    expect(html).toMatch(/<section class="recall" role="alert"[^>]*><h2 id="recall-title">Recalled<\/h2>/);
    expect(html).toContain('Reason: Brake cable may snap');
    const unknown = await (await get(`/item/01/${G}/21/NOPE`)).text();
    expect(unknown).toContain('No item with serial number NOPE is registered for this product.');
    expect((await get(`/item/01/${UNKNOWN}`)).status).toBe(404);
  });
});

describe('setLinks', () => {
  it('the brand replaces the product links; history keeps every set with who and when; anonymous readers see the current set', async () => {
    const first = await setLinks(maker, { gtin: G, links: [PIP_EN] });
    expect(first.__typename).toBe('SetLinksSuccess');
    const second = await setLinks(maker, { gtin: G, links: [PIP_EN, PIP_DE, MANUAL, SUPPORT_A, SUPPORT_B] });
    expect(second.linkSet).toMatchObject({ gtin: G, lot: null, serial: null, setBy: { id: maker.id } });
    expect(second.linkSet.links.map((l: any) => l.linkType)).toEqual(['gs1:pip', 'gs1:pip', 'gs1:instructions', 'gs1:support', 'gs1:support']);

    const hist = await srv.gql(`{ product(gtin: "${G}") { linkHistory { setBy { id } setAt links { href } } } }`, {}, maker.key);
    expect(hist.body.data.product.linkHistory.map((s: any) => s.links.length)).toEqual([5, 1]);
    const pub = await srv.gql(`{ links(gtin: "${G}") { linkType linkTypeUri href language default } }`, {}, null);
    expect(pub.status).toBe(200);
    expect(pub.body.data.links[0]).toEqual({ linkType: 'gs1:pip', linkTypeUri: 'https://gs1.org/voc/pip', href: PIP_EN.href, language: 'en', default: true });
  });

  it('refuses another brand (NotFoundError worded as for a missing GTIN), a reader that is not the owner (NOT_BRAND_OWNER), and bad input by field path', async () => {
    const hidden = await setLinks(rival, { gtin: G, links: [] });
    const missing = await setLinks(rival, { gtin: UNKNOWN, links: [] });
    expect(hidden.__typename).toBe('NotFoundError');
    expect(hidden.message).toBe(missing.message.replace(UNKNOWN, G));
    const denied = await setLinks(partner, { gtin: G, links: [] });
    expect(denied).toMatchObject({ __typename: 'PermissionDeniedError', rule: 'NOT_BRAND_OWNER' });
    const hist = await srv.gql(`{ product(gtin: "${G}") { linkHistory { setAt } scanCounts(from: "2026-01-01", to: "2026-01-02") { count } } }`, {}, partner.key);
    expect(hist.body.data.product).toEqual({ linkHistory: null, scanCounts: null });

    const bad = await setLinks(maker, { gtin: G, links: [PIP_EN, { ...MANUAL, href: 'ftp://x.example/a' }] });
    expect(bad).toMatchObject({ __typename: 'ValidationError', field: 'links[1].href' });
    expect((await setLinks(maker, { gtin: G, links: [{ ...PIP_EN, language: 'not a tag' }] })).field).toBe('links[0].language');
    expect((await setLinks(maker, { gtin: G, links: [PIP_EN, { ...PIP_EN, href: 'https://b.example/' }] })).field).toBe('links[1].default');
    expect((await setLinks(maker, { gtin: G, links: [{ ...PIP_EN, linkType: 'gs1:defaultLink' }] })).field).toBe('links[0].linkType');
    expect((await setLinks(maker, { gtin: G, lot: 'NOLOT', links: [] })).__typename).toBe('NotFoundError');
    const anon = await srv.gql(SET_LINKS, { i: { gtin: G, links: [] } }, null);
    expect(anon.body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
    // Nothing of the refused calls was recorded.
    const hist2 = await srv.gql(`{ product(gtin: "${G}") { linkHistory { setAt } } }`, {}, maker.key);
    expect(hist2.body.data.product.linkHistory).toHaveLength(2);
  });

  it('the operator may set links too; lot and serial levels are kept apart', async () => {
    expect((await setLinks(null, { gtin: G, lot: 'L1', links: [{ linkType: 'gs1:recallStatus', href: 'https://brand.example/recall/L1', title: 'Recall status' }] })).__typename).toBe('SetLinksSuccess');
    const serial = await setLinks(maker, { gtin: G, serial: 'S1', links: [{ linkType: 'gs1:pip', href: 'https://brand.example/s1', title: 'Your bike', default: true }, { linkType: 'gs1:registerProduct', href: 'https://brand.example/register', title: 'Register' }] });
    expect(serial.linkSet).toMatchObject({ lot: null, serial: 'S1' });
    const levels = await srv.gql(`{ product(gtin: "${G}") { lot: links(lot: "L1") { linkType } serial: links(serial: "S1") { linkType } } }`, {}, maker.key);
    expect(levels.body.data.product).toEqual({ lot: [{ linkType: 'gs1:recallStatus' }], serial: [{ linkType: 'gs1:pip' }, { linkType: 'gs1:registerProduct' }] });
  });
});

describe('resolution', () => {
  it('picks the default link by Accept-Language (307), and answers 300 when nothing tells two defaults apart', async () => {
    expect((await get(`/01/${G}`, { 'accept-language': 'de-CH, de;q=0.9, en;q=0.5' })).headers.get('location')).toBe(PIP_DE.href);
    expect((await get(`/01/${G}`, { 'accept-language': 'fr, en-GB;q=0.8' })).headers.get('location')).toBe(PIP_EN.href);
    expect((await get(`/01/${G}?lang=de`, { 'accept-language': 'en' })).headers.get('location')).toBe(`${PIP_DE.href}?lang=de`);
    expect((await get(`/01/${G}?linkType=gs1:defaultLink`, { 'accept-language': 'de' })).headers.get('location')).toBe(PIP_DE.href);
    const multi = await get(`/01/${G}`);
    expect(multi.status).toBe(300);
    const body = (await multi.json()) as any;
    expect(body.linkset[0]['https://gs1.org/voc/pip'].map((l: any) => l.href)).toEqual([PIP_EN.href, PIP_DE.href]);
    const asHtml = await get(`/01/${G}`, { accept: 'text/html' });
    expect(asHtml.status).toBe(300);
    expect(await asHtml.text()).toContain(`<a href="${PIP_DE.href}" hreflang="de">Produktseite</a>`);
  });

  it('redirects to a requested link type given compact or as a URI, passes the query string on, and 404s an unknown type', async () => {
    for (const lt of ['gs1:instructions', 'https://gs1.org/voc/instructions', 'https://ref.gs1.org/voc/instructions']) {
      const res = await get(`/01/${G}?linkType=${encodeURIComponent(lt)}`);
      expect(res.status).toBe(307);
      expect(res.headers.get('location')).toBe(MANUAL.href);
    }
    expect((await get(`/01/${G}?linkType=gs1:instructions&foo=bar&17=261231`)).headers.get('location')).toBe(`${MANUAL.href}?foo=bar&17=261231`);
    const none = await get(`/01/${G}?linkType=gs1:nosuchlt`);
    expect(none.status).toBe(404);
    expect(none.headers.get('content-type')).toBe('application/problem+json');
    expect(((await none.json()) as any).status).toBe(404);
    expect((await get(`/01/${G}?linkType=gs1:support`)).status).toBe(300);
    const head = await get(`/01/${G}?linkType=gs1:instructions`, {}, 'HEAD');
    expect(head.status).toBe(307);
  });

  it('answers the linkset (RFC 9264) for linkType=linkset and for Accept: application/linkset+json', async () => {
    for (const res of [await get(`/01/${G}?linkType=linkset`), await get(`/01/${G}`, { accept: 'application/linkset+json' })]) {
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/linkset+json');
      expect(res.headers.get('link')).toBe('<https://ref.gs1.org/standards/resolver/linkset-context>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"');
      const { linkset } = (await res.json()) as any;
      expect(linkset).toHaveLength(1);
      expect(linkset[0].anchor).toBe(`${base}/01/${G}`);
      expect(linkset[0].itemDescription).toBe(`Product ${G}`);
      expect(linkset[0]['https://gs1.org/voc/pip']).toEqual([
        { href: PIP_EN.href, title: 'Product page', hreflang: ['en'] },
        { href: PIP_DE.href, title: 'Produktseite', hreflang: ['de'] },
      ]);
      expect(linkset[0]['https://gs1.org/voc/instructions']).toEqual([{ href: MANUAL.href, title: 'Manual', type: 'application/pdf' }]);
      expect(linkset[0]['https://gs1.org/voc/defaultLink']).toEqual([{ href: PIP_EN.href, title: 'Product page' }]);
      expect(linkset[0]['https://gs1.org/voc/defaultLinkMulti']).toHaveLength(2);
      expect(linkset[0]['https://gs1.org/voc/traceability']).toEqual([{ href: `${base}/item/01/${G}`, title: `Product ${G}: product, stage and recall status`, type: 'text/html' }]);
    }
  });

  it('the item page lists the links in effect for the item, titles marked with their language', async () => {
    const html = await (await get(`/item/01/${G}/21/S2`)).text();
    expect(html).toContain(`<a href="${PIP_DE.href}" hreflang="de" lang="de">Produktseite <span class="lang">(de)</span></a>`);
    expect(html).toContain('<a href="https://brand.example/recall/L1">Recall status</a>');
    expect(html).not.toContain('/item/01/'); // it does not link to itself
  });

  it('walks up from serial to lot to product; an unknown serial falls back to the product links', async () => {
    const linkset = async (path: string) => ((await (await get(`${path}?linkType=linkset`)).json()) as any).linkset[0];
    const s1 = await linkset(`/01/${G}/10/L1/21/S1`);
    expect(s1['https://gs1.org/voc/pip']).toEqual([{ href: 'https://brand.example/s1', title: 'Your bike' }]); // the serial's hides the product's
    expect(s1['https://gs1.org/voc/recallStatus'][0].href).toBe('https://brand.example/recall/L1'); // the lot's
    expect(s1['https://gs1.org/voc/instructions'][0].href).toBe(MANUAL.href); // the product's
    expect((await get(`/01/${G}/21/S1`)).headers.get('location')).toBe('https://brand.example/s1');
    // S2 is in L1 too: the lot is found from the item even when the link does not name it.
    expect((await get(`/01/${G}/21/S2?linkType=gs1:recallStatus`)).headers.get('location')).toBe('https://brand.example/recall/L1');
    expect((await get(`/01/${G}/21/S2?linkType=gs1:registerProduct`)).status).toBe(404);
    const unknown = await linkset(`/01/${G}/21/NOPE`);
    expect(Object.keys(unknown).filter((k) => k.startsWith('https://gs1.org/voc/')).sort()).toEqual(
      ['defaultLink', 'defaultLinkMulti', 'instructions', 'pip', 'support', 'traceability'].map((t) => `https://gs1.org/voc/${t}`),
    );
    expect((await get(`/01/${G}/10/NOLOT?linkType=gs1:instructions`)).headers.get('location')).toBe(MANUAL.href);
  });

  it('accepts GTIN-13, a trailing slash and the CPV/TPX qualifiers; 404 for an unknown GTIN; 400 for bad syntax', async () => {
    expect((await get(`/01/${G.slice(1)}?linkType=gs1:instructions`)).headers.get('location')).toBe(MANUAL.href);
    expect((await get(`/01/${G}/?linkType=gs1:instructions`)).headers.get('location')).toBe(MANUAL.href);
    expect((await get(`/01/${G}/22/V1/10/L1?linkType=gs1:recallStatus`)).status).toBe(307);
    expect((await get(`/01/${G}/235/TPX1?linkType=gs1:instructions`)).status).toBe(307);
    const unknown = await get(`/01/${UNKNOWN}`);
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as any).detail).toBe(`GTIN ${UNKNOWN} is not known to this resolver`);
    for (const path of [`/01/04012345111119`, `/01/abc`, `/01/${G}/21/S1/foo`, `/01/${G}/21/S1/10/L1`, `/01/${G}/21/`, `/01/${G}/10/${'x'.repeat(21)}`]) {
      const res = await get(path);
      expect(res.status, path).toBe(400);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      expect(res.headers.get('access-control-allow-origin')).toBe('*');
    }
    expect(((await (await get('/01/04012345111119')).json()) as any).detail).toBe('GTIN check digit is 9, expected 8');
  });

  it('publishes /.well-known/gs1resolver and answers CORS preflights', async () => {
    const res = await get('/.well-known/gs1resolver');
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ resolverRoot: base, supportedPrimaryKeys: ['01'], linkTypeDefaultCanBeLinkset: false });
    const pre = await get(`/01/${G}/21/S1`, { origin: 'https://app.example', 'access-control-request-method': 'GET' }, 'OPTIONS');
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('*');
    expect(pre.headers.get('access-control-allow-methods')).toBe('GET, HEAD, OPTIONS');
    expect(pre.headers.get('access-control-allow-credentials')).toBeNull();
    const simple = await get(`/01/${G}/21/S1`, { origin: 'https://app.example' });
    expect(simple.headers.get('access-control-allow-origin')).toBe('*');
    expect(simple.headers.get('vary')).toBe('Accept, Accept-Language');
    expect((await get(`/01/${G}`, {}, 'POST')).status).toBe(405);
  });
});

describe('the public history bundle (/item/01/…/21/{serial}/bundle.json)', () => {
  const sgtinOf = (gtin14: string, serial: string) => `urn:epc:id:sgtin:4012345.${gtin14[0]}${gtin14.slice(8, 13)}.${serial}`;
  const bundleOf = async (path: string) => {
    const res = await get(path);
    expect(res.status, path).toBe(200);
    return (await res.json()) as ProofBundleV2;
  };

  it('serves the v2 bundle for the public tier: verifiable, participant fields withheld, no other serial, the policies of every product in its events applied, no scan counted', async () => {
    await registerProductAndBatch(srv, maker, { gtin: G4, lot: 'L1', serials: ['B1', 'B2'] });
    await registerProductAndBatch(srv, maker, { gtin: G6, lot: 'L1', serials: ['C1'] });
    const both = [sgtinOf(G4, 'B1'), sgtinOf(G4, 'B2')];
    for (const [actor, mutation, input] of [
      [maker, 'shipItems', { items: [...both, sgtinOf(G6, 'C1')], to: partner.id, occurredAt: minutesAgo(3), location: 'Dock 7' }],
      [partner, 'receiveItems', { items: both, occurredAt: minutesAgo(2) }],
      [partner, 'sellItems', { items: [both[0]], buyer: rival.id, price: 99.5, currency: 'EUR', occurredAt: minutesAgo(1) }],
    ] as const) {
      expect((await lifecycle(srv, actor, mutation, input)).__typename).toBe('RecordEventSuccess');
    }
    const res = await get(`/item/01/${G4}/21/B1/bundle.json`, { origin: 'https://app.example' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    const raw = await res.text();
    // Quoted or with their URN/Digital Link prefix: a bare two-letter serial may occur by chance in base64 text.
    for (const secret of [`"${rival.id}"`, '99.5', '"EUR"', sgtinOf(G4, 'B2'), '/21/B2', sgtinOf(G6, 'C1'), '/21/C1']) expect(raw).not.toContain(secret);
    const bundle = JSON.parse(raw) as ProofBundleV2;
    expect(bundle.item).toEqual({ sgtin: both[0], digitalLink: `https://id.gs1.org/01/${G4}/21/B1` });
    const v = verifyAnyBundle(bundle, { verifierKeys: [srv.signer.verifierKey] });
    expect(v.ok && v.kind, JSON.stringify(v)).toBe('bundle-v2');
    const events = bundle.events as BundleEventV2[];
    expect(events.map((e) => JSON.parse(e.body).kind)).toEqual(['COMMISSION', 'SHIP', 'RECEIVE', 'SELL']);
    expect(events[1]!.fields['location']).toMatchObject({ value: 'Dock 7' });
    for (const f of ['buyer', 'price', 'currency']) expect(events[3]!.fields[f], f).toEqual({ withheld: true });
    // The same path with the lot, and HEAD.
    expect((await bundleOf(`/item/01/${G4}/10/L1/21/B1/bundle.json`)).item.sgtin).toBe(both[0]);
    const head = await get(`/item/01/${G4}/21/B1/bundle.json`, {}, 'HEAD');
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');

    // The policy of the other product in the shared SHIP withholds places: the public bundle of B1 follows it too.
    const policy = await srv.gql(`mutation($i: SetDisclosurePolicyInput!) { setDisclosurePolicy(input: $i) { __typename } }`,
      { i: { gtin: G6, overrides: [{ field: 'location', tier: 'PARTICIPANTS' }] } }, maker.key);
    expect(policy.body.data?.setDisclosurePolicy.__typename, JSON.stringify(policy.body)).toBe('SetDisclosurePolicySuccess');
    const strict = await bundleOf(`/item/01/${G4}/21/B1/bundle.json`);
    expect((strict.events[1] as BundleEventV2).fields['location']).toEqual({ withheld: true });
    expect(JSON.stringify(strict)).not.toContain('Dock 7');

    // Reading the bundle is not a scan (the page's own request is not counted either).
    const today = new Date().toISOString().slice(0, 10);
    const { body } = await srv.gql(`{ product(gtin: "${G4}") { scanCounts(from: "${today}", to: "${today}") { count } } }`, {}, maker.key);
    expect(body.data?.product.scanCounts, JSON.stringify(body)).toEqual([]);
  });

  it('answers 404 problem JSON for an unknown item, a path without serial and an item with v1 events (also once v2 events follow); 400 for bad syntax', async () => {
    const problemOf = async (path: string, status: number) => {
      const res = await get(path);
      expect(res.status, path).toBe(status);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      expect(res.headers.get('access-control-allow-origin')).toBe('*');
      return (await res.json()) as { title: string; detail: string };
    };
    expect((await problemOf(`/item/01/${G}/21/NOPE/bundle.json`, 404)).detail).toBe(`item ${G} serial NOPE is not registered with this resolver`);
    expect((await problemOf(`/item/01/${UNKNOWN}/21/S1/bundle.json`, 404)).detail).toMatch(/not registered/);
    expect((await problemOf(`/item/01/${G}/bundle.json`, 404)).detail).toMatch(/only for a serialised item/);
    expect((await problemOf(`/item/01/04012345111119/21/S1/bundle.json`, 400)).detail).toBe('GTIN check digit is 9, expected 8');

    // An item commissioned as the server wrote events before format v2: its v1 body lists every serial of the event.
    const made = await srv.gql('mutation($i: RegisterProductInput!) { registerProduct(input: $i) { __typename } }', { i: { gtin: G5, name: 'Old product' } }, maker.key);
    expect(made.body.data.registerProduct.__typename).toBe('RegisterProductSuccess');
    const actorId = (await sql<{ id: string }>`SELECT id FROM actors WHERE name = 'Bolt Bikes'`.execute(db.db)).rows[0]!.id;
    const sgtins = ['OLD-1', 'OLD-2'].map((s) => sgtinOf(G5, s));
    await db.db.transaction().execute(async (trx) => {
      const at = new Date('2026-01-01T00:00:00Z');
      const batch = await insertBatch(trx, { gtin: G5, lot: 'OLD', producedAt: at, site: 'Plant 0' });
      const body = canonicalEventBody({
        kind: 'COMMISSION', actor: actorId, occurredAt: at.toISOString(), timezoneOffset: '+00:00', recordedAt: at.toISOString(),
        location: 'Plant 0', counterparty: null, data: { gtin: G5, lot: 'OLD' }, items: sgtins,
      });
      const contentHash = contentHashOf(body);
      const event = await insertPendingEvent(trx, {
        id: randomUUID(), kind: 'COMMISSION', actor_id: actorId, occurred_at: at, tz_offset: '+00:00', recorded_at: at, location: 'Plant 0', counterparty_id: null,
        data: { gtin: G5, lot: 'OLD' }, body, content_hash: contentHash, signature: null, item_count: 2, format: 1, field_salts: null, erased: null, pad_key: null, item_tree_top: null,
      });
      const items = sgtins.map((sgtin, i) => ({ id: randomUUID(), sgtin, serial: `OLD-${i + 1}`, link: linkHash(ZERO_HASH, contentHash, sgtin, 0) }));
      await insertItems(trx, items.map((it) => ({ id: it.id, batchId: batch.id, gtin: G5, serial: it.serial, sgtin: it.sgtin, stage: 'MANUFACTURED', custodianId: actorId, headHash: it.link })));
      await insertLinks(trx, event.id, items.map((it) => ({ itemId: it.id, seq: 0, prevHash: ZERO_HASH, hash: it.link, stage: 'MANUFACTURED', recalled: false })));
    });
    await integrateAll(db.db, srv.signer);
    const v1 = await problemOf(`/item/01/${G5}/21/OLD-1/bundle.json`, 404);
    expect(v1.title).toBe('No public history');
    expect(v1.detail).toMatch(/format v1/);
    expect(JSON.stringify(v1)).not.toContain('OLD-2');
    // Later v2 events do not make the v1 prefix disclosable.
    expect((await lifecycle(srv, maker, 'shipItems', { items: [sgtins[0]], to: partner.id, occurredAt: minutesAgo(1) })).__typename).toBe('RecordEventSuccess');
    expect((await problemOf(`/item/01/${G5}/21/OLD-1/bundle.json`, 404)).title).toBe('No public history');
  });
});

describe('scan counts', () => {
  const counts = async (key: string, from = '2026-03-01', to = '2026-03-31') =>
    (await srv.gql(`{ product(gtin: "${G2}") { scanCounts(from: "${from}", to: "${to}") { day country count } } }`, {}, key)).body;

  it('counts one scan per hit per UTC day and country, readable only by the brand and the operator', async () => {
    try {
      srv.setNow(new Date('2026-03-01T23:59:00Z'));
      await get(`/01/${G2}/21/A`, { 'cf-ipcountry': 'DE' });
      await get(`/01/${G2}/10/L1`, { 'cf-ipcountry': 'de' });
      await get(`/01/${G2}?linkType=linkset`, { 'x-country-code': 'FR' });
      await get(`/01/${G2}/21/A`);
      await get(`/01/${G2}/21/A`, { 'cf-ipcountry': 'XX' });
      await get(`/01/${G2}/21/A/bad`, { 'cf-ipcountry': 'DE' }); // 400: not counted
      srv.setNow(new Date('2026-03-02T00:00:01Z'));
      await get(`/01/${G2}/21/A`, { 'cf-ipcountry': 'DE' });
    } finally {
      srv.setNow(undefined);
    }
    const expected = [
      { day: '2026-03-01', country: 'DE', count: 2 },
      { day: '2026-03-01', country: 'FR', count: 1 },
      { day: '2026-03-01', country: 'unknown', count: 2 },
      { day: '2026-03-02', country: 'DE', count: 1 },
    ];
    expect((await counts(maker.key)).data.product.scanCounts).toEqual(expected);
    expect((await counts(srv.operatorKey)).data.product.scanCounts).toEqual(expected);
    expect((await counts(maker.key, '2026-03-02', '2026-03-02')).data.product.scanCounts).toEqual(expected.slice(3));
    expect((await counts(rival.key)).data.product).toBeNull(); // not visible at all
    expect((await counts(maker.key, '2026-03-05', '2026-03-01')).errors[0].extensions).toMatchObject({ code: 'VALIDATION_ERROR', field: 'to' });
  });

  it('rate-limits each client (429 with Retry-After), and refused hits are not counted', async () => {
    const limited = await startTestServer(db, { resolverRatePerMinute: 3 });
    try {
      limited.setNow(new Date('2026-04-01T12:00:00Z'));
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) statuses.push((await fetch(`${limited.origin}/01/${G3}`, { redirect: 'manual' })).status);
      expect(statuses).toEqual([307, 307, 307, 429, 429]);
      // The public history bundle shares the bucket.
      expect((await fetch(`${limited.origin}/item/01/${G3}/21/A/bundle.json`)).status).toBe(429);
      const res = await fetch(`${limited.origin}/01/${G3}`, { redirect: 'manual' });
      expect(res.headers.get('retry-after')).toBe('20');
      expect(res.headers.get('access-control-allow-origin')).toBe('*');
      // 20 s later one token is back.
      limited.setNow(new Date('2026-04-01T12:00:20Z'));
      expect((await fetch(`${limited.origin}/01/${G3}`, { redirect: 'manual' })).status).toBe(307);
      const { body } = await limited.gql(`{ product(gtin: "${G3}") { scanCounts(from: "2026-04-01", to: "2026-04-01") { count } } }`, {}, maker.key);
      expect(body.data.product.scanCounts).toEqual([{ count: 4 }]);
    } finally {
      await limited.close();
    }
  });
});

describe('PROVENANT_PUBLIC_BASE_URL', () => {
  it("prints Digital Links on the configured domain and links the resolver's own pages to it", async () => {
    const branded = await startTestServer(db, { publicBaseUrl: 'https://id.bolt.example', resolverRatePerMinute: 100_000 });
    try {
      const { body } = await branded.gql(`{ item(digitalLink: "https://id.bolt.example/01/${G}/21/S1") { digitalLink } itemProofBundle(sgtin: "urn:epc:id:sgtin:4012345.011111.S1") }`, {}, maker.key);
      expect(body.data.item.digitalLink).toBe(`https://id.bolt.example/01/${G}/21/S1`);
      expect(body.data.itemProofBundle.item.digitalLink).toBe(`https://id.bolt.example/01/${G}/21/S1`);
      const res = await fetch(`${branded.origin}/01/${G}/21/S2?linkType=gs1:traceability`, { redirect: 'manual' });
      expect(res.headers.get('location')).toBe(`https://id.bolt.example/item/01/${G}/21/S2`);
      expect((await (await fetch(`${branded.origin}/.well-known/gs1resolver`)).json()) as any).toMatchObject({ resolverRoot: 'https://id.bolt.example' });
      // Without the setting: GS1's global resolver.
      expect((await srv.gql(`{ item(digitalLink: "https://id.gs1.org/01/${G}/21/S1") { digitalLink } }`, {}, maker.key)).body.data.item.digitalLink).toBe(`https://id.gs1.org/01/${G}/21/S1`);
    } finally {
      await branded.close();
    }
  });
});

describe('resolver configuration', () => {
  const env = (over: Record<string, string>) => ({ PROVENANT_DATA_DIR: mkdtempSync(join(tmpdir(), 'pvn-resolver-')), ...over });
  it('defaults to GS1\'s domain, Cloudflare-style country headers, 60 requests a minute, the socket address', () => {
    expect(loadConfig(env({}))).toMatchObject({ publicBaseUrl: 'https://id.gs1.org', countryHeaders: ['cf-ipcountry', 'x-country-code'], resolverRatePerMinute: 60, clientIpHeader: undefined });
    expect(loadConfig(env({ PROVENANT_PUBLIC_BASE_URL: 'https://brand.example/dl/', PROVENANT_COUNTRY_HEADERS: '', PROVENANT_CLIENT_IP_HEADER: 'X-Forwarded-For' })))
      .toMatchObject({ publicBaseUrl: 'https://brand.example/dl', countryHeaders: [], clientIpHeader: 'x-forwarded-for' });
  });
  it.each([
    [{ PROVENANT_PUBLIC_BASE_URL: 'http://brand.example' }, /PROVENANT_PUBLIC_BASE_URL must be an https URL/],
    [{ PROVENANT_PUBLIC_BASE_URL: 'brand.example' }, /PROVENANT_PUBLIC_BASE_URL must be an https URL/],
    [{ PROVENANT_PUBLIC_BASE_URL: 'https://brand.example/?a=1' }, /without user, query or fragment/],
    [{ PROVENANT_COUNTRY_HEADERS: 'cf-ipcountry, bad header' }, /PROVENANT_COUNTRY_HEADERS/],
    [{ PROVENANT_RESOLVER_RATE_PER_MINUTE: '0' }, /PROVENANT_RESOLVER_RATE_PER_MINUTE must be an integer between 1/],
  ])('rejects %o naming the variable', (over, message) => {
    expect(() => loadConfig(env(over))).toThrow(message);
    expect(() => loadConfig(env(over))).toThrow(ConfigError);
  });
});
