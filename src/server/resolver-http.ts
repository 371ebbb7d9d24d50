/**
 * GS1 Digital Link resolver (GS1-Conformant Resolver standard 1.2) beside GraphQL, public (no API key, no cookies):
 * - `GET|HEAD /01/{gtin}[/22/{cpv}][/10/{lot}][/21/{serial}]` (or `/235/{tpx}`), any query string:
 *   no `linkType` → 307 to the default link (the brand's, chosen by `context`, `mediaType`, `lang` or
 *   Accept-Language; else the item page); `linkType=linkset` (or `all`, or `Accept: application/linkset+json`) →
 *   200 RFC 9264 linkset; `linkType=gs1:…` (compact or URI) → 307 to that type's link; no such link → 404; links that
 *   nothing tells apart → 300 with the list. Redirects pass the query string on (without `linkType`) and carry a
 *   `Link: <…?linkType=linkset>; rel="linkset"` header. Unknown serial or lot → the lot's / product's links;
 *   unknown GTIN → 404; bad syntax or check digit → 400 (`application/problem+json`).
 * - `GET|HEAD /item/01/…`: the resolver's own item page (server-rendered HTML; its one script, served from
 *   `/assets/`, verifies the item in the browser).
 * - `GET|HEAD /item/01/{gtin}[/10/{lot}]/21/{serial}/bundle.json`: the item's proof bundle v2 for the `public` tier
 *   (participant fields withheld, no other serial): 200 `application/json`; 404 problem JSON for an unknown item, an
 *   item not yet in a signed checkpoint, or an item with format-v1 events (v1 bodies cannot be disclosed by tier).
 * - `GET|HEAD /.well-known/gs1resolver`: the resolver description file.
 * - `GET|HEAD /explorer`: the auditor explorer (src/server/explorer-page.ts), not rate-limited, no scan counted.
 * Every answer carries `Access-Control-Allow-Origin: *`; OPTIONS answers the CORS preflight. Resolver and item page
 * requests share a per-client token bucket (429 with Retry-After beyond it); each resolver hit on a known GTIN counts
 * one scan per (GTIN, UTC day, country).
 */
import { browserAsset, isBrowserAsset } from './browser-assets.ts';
import { explorerPage } from './explorer-page.ts';
import { STAGES } from '../core/lifecycle.ts';
import {
  ITEM_PAGE_LINK_TYPE, type Link, type LinkTarget, type Preferences, buildLinkset, chooseLinks, defaultLinks, effectiveLinks, linkTarget,
  linkTypeUri, normalizeLinkType, parseAcceptLanguage,
} from '../core/links.ts';
import { type ResolverKey, type TokenBucket, bucketIsFull, parseResolverPath, resolverPath, scanCountry, scanDay, takeToken } from '../core/resolver.ts';
import type { AppDeps } from '../graphql/context.ts';
import { type ResolverFacts, resolverFacts } from '../services/resolver-facts.ts';
import { scanCounterFor } from '../services/scan-counter.ts';
import { publicItemBundle } from '../services/public-bundle.ts';
import type { Plugin } from 'graphql-yoga';
import type { Logger } from './logger.ts';

const LINKSET_CONTEXT = 'https://ref.gs1.org/standards/resolver/linkset-context';
const GS1_DEFAULT_ORIGIN = 'https://id.gs1.org';
const CORS = {
  'access-control-allow-origin': '*',
  'access-control-expose-headers': 'Link, Location, Retry-After',
} as const;
const PREFLIGHT = {
  ...CORS,
  'access-control-allow-methods': 'GET, HEAD, OPTIONS',
  'access-control-allow-headers': 'Accept, Accept-Language',
  'access-control-max-age': '86400',
  allow: 'GET, HEAD, OPTIONS',
} as const;
/** `/item/01/{gtin}[…]/21/{serial}` + this: the item's public proof bundle. */
const BUNDLE_SUFFIX = '/bundle.json';
/** Forget refilled buckets once this many clients are tracked (bounds memory; a full bucket carries no state). */
const BUCKET_SWEEP_AT = 10_000;

type Route = 'resolve' | 'item' | 'wellKnown' | 'asset' | 'explorer';

function routeOf(path: string): Route | undefined {
  if (path === '/.well-known/gs1resolver') return 'wellKnown';
  if (path.startsWith('/01/')) return 'resolve';
  if (path.startsWith('/item/01/')) return 'item';
  if (path.startsWith('/assets/')) return 'asset';
  if (path === '/explorer') return 'explorer';
  return undefined;
}

export interface ResolverHandler {
  /** Answers a resolver route; undefined for any other path (GraphQL's). `clientIp` keys the rate limit. */
  (request: Request, clientIp: string): Promise<Response | undefined>;
}

/** The resolver routes over `deps`; rate-limit buckets live in the returned handler. */
export function createResolverHandler(deps: AppDeps, logger: Logger): ResolverHandler {
  const { config } = deps;
  const buckets = new Map<string, TokenBucket>();
  const counter = scanCounterFor(deps.db, (error) => logger.error('writing scan counts failed', { error }));

  const limited = (clientIp: string): Response | undefined => {
    const now = deps.now().getTime();
    const taken = takeToken(buckets.get(clientIp), now, config.resolverRatePerMinute);
    if (buckets.size >= BUCKET_SWEEP_AT) {
      for (const [ip, b] of buckets) if (bucketIsFull(b, now, config.resolverRatePerMinute)) buckets.delete(ip);
    }
    buckets.set(clientIp, taken.bucket);
    if (taken.allowed) return undefined;
    return problem(429, 'Too many requests', `at most ${config.resolverRatePerMinute} requests per minute per client`, { 'retry-after': String(taken.retryAfterSeconds) });
  };

  // The public tier of an item's verifiable history (the scan page verifies it in the browser): rate-limited like the
  // page, no scan counted (the page's own request counts nothing either).
  const publicBundle = async (url: URL, head: boolean): Promise<Response> => {
    const key = parseResolverPath(url.pathname.slice('/item'.length, -BUNDLE_SUFFIX.length));
    if (!key.ok) return problem(400, 'Invalid GS1 Digital Link', key.error);
    if (key.value.serial === null) return problem(404, 'Not found', 'a public history exists only for a serialised item (/21/{serial})');
    const what = `item ${key.value.gtin14} serial ${key.value.serial}`;
    // The Digital Link as printed on the item (the configured domain), as in the GraphQL bundle.
    const r = await publicItemBundle(deps.db, deps.signer, key.value.gtin14, key.value.serial, config.publicBaseUrl);
    switch (r.kind) {
      case 'ok':
        return json(200, r.bundle, 'application/json', {}, head);
      case 'NoSuchItem':
        return problem(404, 'Not found', `${what} is not registered with this resolver`);
      case 'NotYetLogged':
        return problem(404, 'History not yet logged', `${what} has no history in a signed checkpoint yet (${r.message}); try again shortly`);
      case 'NotPublicFormat':
        return problem(404, 'No public history', `${what} has events in ledger format v1, whose bodies list every item of the event and all of its data; its history cannot be disclosed publicly (ask the brand for an audit bundle)`);
    }
  };

  return async (request, clientIp) => {
    const url = new URL(request.url);
    const route = routeOf(url.pathname);
    if (!route) return undefined;
    if (request.method === 'OPTIONS') return new Response(null, { status: 204, headers: PREFLIGHT });
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      return problem(405, 'Method not allowed', 'the resolver answers GET, HEAD and OPTIONS', { allow: PREFLIGHT.allow });
    }
    const head = request.method === 'HEAD';
    // Behind the printed domain, links to this server use it; with GS1's default, the address the client used.
    const self = config.publicBaseUrl !== GS1_DEFAULT_ORIGIN ? config.publicBaseUrl : url.origin;
    try {
      if (route === 'wellKnown') return json(200, wellKnown(self), 'application/json', {}, head);
      if (route === 'asset') {
        const name = url.pathname.slice('/assets/'.length);
        if (!isBrowserAsset(name)) return problem(404, 'Not found', `no asset ${name}`);
        return new Response(head ? null : await browserAsset(name), {
          status: 200,
          headers: { ...CORS, 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'public, max-age=300', 'x-content-type-options': 'nosniff' },
        });
      }
      // The auditor explorer: a static shell pinning the log key; its script talks to GraphQL with the auditor's key.
      if (route === 'explorer') return html(200, explorerPage(deps.signer.verifierKey, deps.signer.origin), head);
      const tooMany = limited(clientIp);
      if (tooMany) return tooMany;
      if (route === 'item' && url.pathname.endsWith(BUNDLE_SUFFIX)) return await publicBundle(url, head);
      const key = parseResolverPath(route === 'item' ? url.pathname.slice('/item'.length) : url.pathname);
      if (!key.ok) return route === 'item' ? html(400, page('Not a product code', `<p>${esc(key.error)}</p>`), head) : problem(400, 'Invalid GS1 Digital Link', key.error);
      const facts = await resolverFacts(deps.db, key.value);
      if (!facts) {
        const detail = `GTIN ${key.value.gtin14} is not known to this resolver`;
        return route === 'item' ? html(404, page('Unknown product', `<p>${esc(detail)}.</p>`), head) : problem(404, 'Not found', detail);
      }
      if (route === 'item') return html(200, itemPage(facts, key.value, deps.signer.verifierKey), head);
      const country = config.countryHeaders.map((h) => request.headers.get(h)).find((v) => v !== null && v !== undefined);
      counter.add(facts.product.gtin, scanDay(deps.now()), scanCountry(country));
      return resolve(request, url, key.value, facts, self, head);
    } catch (error) {
      logger.error('unexpected error in the resolver', { path: url.pathname, error });
      return problem(500, 'Internal error', 'the resolver failed; try again');
    }
  };
}

/** Yoga plugin answering the resolver routes before GraphQL sees the request. */
export function useResolverEndpoints(deps: AppDeps, logger: Logger): Plugin {
  const handle = createResolverHandler(deps, logger);
  const ipHeader = deps.config.clientIpHeader;
  return {
    async onRequest({ request, url, serverContext, endResponse }) {
      if (!routeOf(url.pathname)) return;
      const socketIp = (serverContext as { req?: { socket?: { remoteAddress?: string } } } | undefined)?.req?.socket?.remoteAddress;
      const forwarded = ipHeader ? request.headers.get(ipHeader)?.split(',')[0]?.trim() : undefined;
      const response = await handle(request, forwarded || socketIp || 'unknown');
      if (response) endResponse(response);
    },
    // Yoga's CORS plugin answers every OPTIONS itself and echoes the Origin with credentials on every response; the
    // resolver is public and credential-free, so its routes get `*` (as the GS1 standard expects) instead.
    onResponse({ request, response }) {
      if (!routeOf(new URL(request.url).pathname)) return;
      response.headers.delete('access-control-allow-credentials');
      for (const [name, value] of Object.entries(request.method === 'OPTIONS' ? PREFLIGHT : CORS)) response.headers.set(name, value);
      if (request.method !== 'OPTIONS') response.headers.set('vary', 'Accept, Accept-Language');
      else response.headers.delete('vary');
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------

function wellKnown(self: string) {
  return {
    name: 'Provenant GS1 Digital Link resolver',
    resolverRoot: self,
    supportedPrimaryKeys: ['01'],
    supportedLinkType: [{ namespace: 'https://gs1.org/voc/', prefix: 'gs1:' }],
    linkTypeDefaultCanBeLinkset: false,
    jsonLdContextLocation: LINKSET_CONTEXT,
  };
}

function itemPageLink(facts: ResolverFacts, key: ResolverKey, self: string): Link {
  return {
    linkType: ITEM_PAGE_LINK_TYPE,
    href: `${self}/item${resolverPath({ gtin14: key.gtin14, lot: key.lot, serial: key.serial })}`,
    title: `${facts.product.name}: product, stage and recall status`,
    language: null,
    context: null,
    mediaType: 'text/html',
    isDefault: false,
  };
}

function wantsLinkset(request: Request): boolean {
  return /(^|,)\s*application\/linkset\+json\s*(;(?!\s*q\s*=\s*0(\.0*)?\s*(,|$))[^,]*)?(,|$)/i.test(request.headers.get('accept') ?? '');
}

function resolve(request: Request, url: URL, key: ResolverKey, facts: ResolverFacts, self: string, head: boolean): Response {
  const anchor = `${self}${resolverPath({ gtin14: key.gtin14, lot: key.lot, serial: key.serial })}`;
  const itemPage = itemPageLink(facts, key, self);
  const links = effectiveLinks(facts.levels, itemPage);
  const defaults = defaultLinks(facts.levels, itemPage);
  const linksetUrl = `${anchor}?linkType=linkset`;
  const vary = { vary: 'Accept, Accept-Language' };
  const requested = url.searchParams.get('linkType');

  if (requested === 'linkset' || requested === 'all' || (requested === null && wantsLinkset(request))) {
    return json(200, buildLinkset(anchor, facts.product.name, links, defaults), 'application/linkset+json', {
      link: `<${LINKSET_CONTEXT}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"`,
      ...vary,
    }, head);
  }
  let candidates: Link[];
  const linkType = requested === null ? null : normalizeLinkType(requested);
  if (requested === null || linkType === 'gs1:defaultLink' || linkType === 'gs1:defaultLinkMulti') {
    candidates = defaults;
  } else {
    candidates = linkType === null ? [] : links.filter((l) => l.linkType === linkType);
    if (candidates.length === 0) return problem(404, 'No such link', `${anchor} has no link of type ${requested}`, { link: `<${linksetUrl}>; rel="linkset"; type="application/linkset+json"`, ...vary });
  }
  const lang = url.searchParams.get('lang');
  const prefs: Preferences = {
    languages: lang ? parseAcceptLanguage(lang) : parseAcceptLanguage(request.headers.get('accept-language')),
    context: url.searchParams.get('context'),
    mediaType: url.searchParams.get('mediaType'),
  };
  const chosen = chooseLinks(candidates, prefs);
  const linkHeader = `<${linksetUrl}>; rel="linkset"; type="application/linkset+json"`;
  if (chosen.length === 1) {
    return new Response(null, {
      status: 307,
      headers: { ...CORS, location: withQuery(chosen[0]!.href, url), link: linkHeader, 'cache-control': 'no-store', ...vary },
    });
  }
  // Several links nothing in the request tells apart: 300 Multiple Choices with the list.
  const byType: Record<string, unknown> = { anchor, itemDescription: facts.product.name };
  for (const l of chosen) ((byType[linkTypeUri(l.linkType)] ??= []) as LinkTarget[]).push(linkTarget(l));
  if (prefersHtml(request)) {
    const items = chosen.map((l) => `<li><a href="${esc(withQuery(l.href, url))}"${l.language ? ` hreflang="${esc(l.language)}"` : ''}>${esc(l.title)}</a>${l.language ? ` <span lang="${esc(l.language)}">(${esc(l.language)})</span>` : ''}</li>`).join('');
    return html(300, page(facts.product.name, `<h1>${esc(facts.product.name)}</h1><p>Choose a link:</p><ul class="links">${items}</ul>`), head, { link: linkHeader, ...vary });
  }
  return json(300, { linkset: [byType] }, 'application/linkset+json', { link: linkHeader, ...vary }, head);
}

function prefersHtml(request: Request): boolean {
  return /text\/html/i.test(request.headers.get('accept') ?? '');
}

/** `href` with the request's query string appended, less `linkType` (the standard passes the query on by default). */
function withQuery(href: string, url: URL): string {
  const pairs = url.search.slice(1).split('&').filter((p) => p !== '' && decodeName(p.split('=')[0]!) !== 'linkType');
  if (pairs.length === 0) return href;
  const hash = href.indexOf('#');
  const [base, fragment] = hash >= 0 ? [href.slice(0, hash), href.slice(hash)] : [href, ''];
  return `${base}${base.includes('?') ? '&' : '?'}${pairs.join('&')}${fragment}`;
}

function decodeName(raw: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    return raw;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Responses

function json(status: number, body: unknown, contentType: string, headers: Record<string, string>, head: boolean): Response {
  return new Response(head ? null : JSON.stringify(body), { status, headers: { ...CORS, 'content-type': contentType, 'cache-control': 'no-store', ...headers } });
}

/** RFC 9457 problem details. */
function problem(status: number, title: string, detail: string, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify({ type: 'about:blank', title, status, detail }), {
    status,
    headers: { ...CORS, 'content-type': 'application/problem+json', 'cache-control': 'no-store', ...headers },
  });
}

function html(status: number, body: string, head: boolean, headers: Record<string, string> = {}): Response {
  return new Response(head ? null : body, {
    status,
    headers: {
      ...CORS,
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      // Only this server's own script (the in-browser verification) and its GraphQL endpoint; nothing external.
      'content-security-policy': "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      ...headers,
    },
  });
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STYLE = `
.verification{border:2px solid #767676;border-radius:.5rem;padding:.25rem 1rem;margin:1rem 0;background:#fff}
.verification[data-state=ok]{border-color:#1b6e20;background:#eef8ee}
.verification[data-state=failed]{border-color:#b00020;background:#fdecee}
.verification .result{overflow-wrap:anywhere}
.history ol{list-style:none;padding:0;margin:.5rem 0}
.history li{border-top:1px solid #d0d4da;padding:.5rem 0}
.history .kind{font-weight:600}
.history .withheld{color:#555;font-style:italic}
:root{color-scheme:light;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;line-height:1.5}
body{margin:0;background:#f6f7f9;color:#1a1a1a}
main{max-width:40rem;margin:0 auto;padding:1rem}
h1{font-size:1.5rem;margin:.5rem 0 .25rem}
h2{font-size:1.15rem;margin:1.5rem 0 .5rem}
.brand{margin:0;color:#444}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem;background:#fff;border:1px solid #d0d4da;border-radius:.5rem;padding:.75rem 1rem;margin:1rem 0}
dt{font-weight:600}dd{margin:0;overflow-wrap:anywhere}
.recall{background:#8b0000;color:#fff;border-radius:.5rem;padding:1rem;margin:.5rem 0 1rem}
.recall h2{margin:0 0 .25rem;font-size:1.35rem}
.warn{background:#fff4d6;border:2px solid #8a5a00;color:#3d2800;border-radius:.5rem;padding:.75rem 1rem}
.links{list-style:none;padding:0;margin:0}
.links li{margin:.5rem 0}
.links a{display:block;background:#fff;border:1px solid #0b57d0;color:#0b57d0;border-radius:.5rem;padding:.75rem 1rem;text-decoration:none;font-weight:600}
.links a:focus,.links a:hover{outline:3px solid #0b57d0;outline-offset:2px;text-decoration:underline}
`;

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
}

const stageLabel = (stage: string): string =>
  (STAGES as readonly string[]).includes(stage) ? stage.charAt(0) + stage.slice(1).toLowerCase().replace(/_/g, ' ') : stage;

function itemPage(facts: ResolverFacts, key: ResolverKey, logKey: string): string {
  const { product, batch, item } = facts;
  const recalled = batch?.recalled_at != null || item?.recalled === true;
  const parts: string[] = [];
  if (recalled) {
    const when = batch?.recalled_at ? ` on ${batch.recalled_at.toISOString().slice(0, 10)}` : '';
    const reason = batch?.recall_reason ? `<p>Reason: ${esc(batch.recall_reason)}</p>` : '';
    parts.push(`<section class="recall" role="alert" aria-labelledby="recall-title"><h2 id="recall-title">Recalled</h2>
<p>This product${batch ? ` (lot ${esc(batch.lot)})` : ''} was recalled by ${esc(facts.brandName)}${when}. Do not use it; follow the brand's instructions.</p>${reason}</section>`);
  }
  parts.push(`<h1>${esc(product.name)}</h1>`, `<p class="brand">by ${esc(facts.brandName)}</p>`);
  if (facts.unknownSerial) {
    parts.push(`<p class="warn" role="status">No item with serial number ${esc(key.serial!)} is registered for this product.</p>`);
  } else if (facts.unknownLot) {
    parts.push(`<p class="warn" role="status">No lot ${esc(key.lot!)} is registered for this product.</p>`);
  }
  const rows: [string, string][] = [['GTIN', product.gtin]];
  if (batch) rows.push(['Lot', batch.lot]);
  if (item) rows.push(['Serial number', item.serial], ['Current stage', stageLabel(item.stage)]);
  parts.push(`<dl>${rows.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join('')}</dl>`);
  if (item) {
    // Checked in the browser (src/browser/verify-statement.ts) against the log key, not taken on this server's word.
    parts.push(`<section id="verification" class="verification" aria-live="polite" data-state="pending" data-sgtin="${esc(item.sgtin)}" data-log-key="${esc(logKey)}"
 data-graphql="/graphql" data-stage="${esc(item.stage)}" data-recalled="${item.recalled}"><h2>Verification</h2>
<p class="result">Checking this item's history against the signed log…</p>
<noscript><p>Verification needs JavaScript.</p></noscript></section>
<section id="history" class="verification history" aria-live="polite" data-state="pending"><h2>History</h2>
<p class="result">Checking this item's public history against the signed log…</p></section>
<script type="module" src="/assets/verify-statement.js"></script>`);
  }
  const links = effectiveLinks(facts.levels, null);
  if (links.length > 0) {
    const items = links.map((l) => {
      // hreflang for the target, lang for the title (screen readers pronounce it in its language).
      const lang = l.language ? ` hreflang="${esc(l.language)}" lang="${esc(l.language)}"` : '';
      const note = l.language ? ` <span class="lang">(${esc(l.language)})</span>` : '';
      return `<li><a href="${esc(l.href)}"${lang}${l.mediaType ? ` type="${esc(l.mediaType)}"` : ''}>${esc(l.title)}${note}</a></li>`;
    });
    parts.push(`<h2>From ${esc(facts.brandName)}</h2><ul class="links">${items.join('')}</ul>`);
  }
  return page(`${product.name}${recalled ? ' — recalled' : ''}`, parts.join('\n'));
}
