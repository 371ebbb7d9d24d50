/// <reference lib="dom" />
/**
 * The auditor explorer's script (bundled for the browser by src/server/browser-assets.ts; it imports only core):
 * the auditor's API key lives in sessionStorage and goes out only as the Authorization header of GraphQL requests
 * (fetch with credentials omitted: no cookies either way). Searches name an item, a batch or a container
 * (core `parseExplorerQuery`); an item's proof bundle (v1 or v2) is verified here with core `verifyAnyBundle`
 * against the log key the page pins, and against the checkpoint the auditor kept, if any. All text is set with
 * textContent: nothing the API returns is parsed as HTML.
 */
import { verifyCheckpoint } from '../core/checkpoint.ts';
import { type ExplorerQuery, type VerificationPicture, custodyWindows, parseExplorerQuery, verificationPicture } from '../core/explorer.ts';
import type { LedgerKind } from '../core/lifecycle.ts';
import { verifyAnyBundle } from '../core/verify-any.ts';

const KEY_SLOT = 'provenant.explorer.apiKey';
const KEPT_SLOT = 'provenant.explorer.keptCheckpoint';
/** Pages of 100 read per list at most (10 000 events or items): beyond that the view says it is partial. */
const MAX_PAGES = 100;

const root = document.getElementById('explorer')!;
const LOG_KEY = root.dataset['logKey'] ?? '';
const GRAPHQL = root.dataset['graphql'] ?? '/graphql';
const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

// ---------------------------------------------------------------------------------------------------------------
// DOM building (textContent only)

type Child = Node | string | null | undefined | false;
function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') el.className = v;
    else el.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

const dl = (rows: [string, Child][]) => h('dl', {}, ...rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v ?? '—')]));
const badge = (kind: 'ok' | 'bad' | 'muted', text: string) => h('span', { class: `badge ${kind}` }, text);
const when = (iso: string | null | undefined) => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, ' UTC') : '—');
const label = (s: string) => s.charAt(0) + s.slice(1).toLowerCase().replace(/_/g, ' ');

function openButton(text: string, query: string): HTMLButtonElement {
  const b = h('button', { type: 'button', class: 'link' }, text);
  b.addEventListener('click', () => {
    $<HTMLInputElement>('q').value = query;
    void search(query);
  });
  return b;
}

// ---------------------------------------------------------------------------------------------------------------
// API key and GraphQL

const apiKey = (): string | null => sessionStorage.getItem(KEY_SLOT);

function showKeyStatus(): void {
  const k = apiKey();
  $('key-status').textContent = k ? `Key in use: ${k.slice(0, 8)}… (kept in this tab only).` : 'No key in use.';
}

interface GqlError {
  message: string;
  extensions?: { code?: string; field?: string; rule?: string };
}
type GqlResult<T> = { data?: T | null; errors?: GqlError[] };

class ApiError extends Error {
  constructor(readonly errors: GqlError[]) {
    super(errors.map((e) => e.message).join('; '));
  }
}

async function gql<T>(query: string, variables: Record<string, unknown>): Promise<GqlResult<T>> {
  const key = apiKey();
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
  if (key) headers['authorization'] = `Bearer ${key}`;
  const res = await fetch(GRAPHQL, { method: 'POST', credentials: 'omit', headers, body: JSON.stringify({ query, variables }) });
  let body: GqlResult<T>;
  try {
    body = (await res.json()) as GqlResult<T>;
  } catch {
    throw new Error(`the server answered ${res.status} without a GraphQL response`);
  }
  return body;
}

/** `data` of a request that must succeed; throws ApiError with the API's messages otherwise. */
async function gqlData<T>(query: string, variables: Record<string, unknown>): Promise<T> {
  const r = await gql<T>(query, variables);
  if (r.errors?.length) throw new ApiError(r.errors);
  if (!r.data) throw new Error('the server returned no data');
  return r.data;
}

// ---------------------------------------------------------------------------------------------------------------
// Kept checkpoint

function keptCheckpoint(): { note: string; size: number | null } | null {
  const note = sessionStorage.getItem(KEPT_SLOT);
  if (!note) return null;
  const c = verifyCheckpoint(note, [LOG_KEY]);
  return { note, size: c.ok ? c.value.size : null };
}

function showKept(): void {
  const k = keptCheckpoint();
  $('kept-status').textContent = !k
    ? 'No kept checkpoint.'
    : k.size === null
      ? 'The kept checkpoint is not signed by the pinned log key: the next verification will fail its consistency check.'
      : `Kept checkpoint: tree size ${k.size}.`;
  $<HTMLTextAreaElement>('kept-note').value = k?.note ?? '';
}

// ---------------------------------------------------------------------------------------------------------------
// Search

const status = (text: string, error = false) => {
  const s = $('status');
  s.textContent = text;
  s.className = error ? 'error' : '';
};

function show(...nodes: Node[]): void {
  const result = $('result');
  result.replaceChildren(...nodes);
  const heading = result.querySelector('h2');
  if (heading) {
    heading.setAttribute('tabindex', '-1');
    heading.focus();
  }
}

let searching = 0;
async function search(text: string): Promise<void> {
  const q = parseExplorerQuery(text);
  if (!q.ok) {
    status(`Cannot search: ${q.error}.`, true);
    return;
  }
  if (!apiKey()) {
    status('Enter your API key first.', true);
    $('api-key').focus();
    return;
  }
  const mine = ++searching;
  status('Searching…');
  try {
    const view = q.value.kind === 'item' ? await itemView(q.value) : q.value.kind === 'batch' ? await batchView(q.value) : await containerView(q.value);
    if (mine !== searching) return;
    status(view.found ? '' : view.message, !view.found);
    show(...view.nodes);
  } catch (e) {
    if (mine !== searching) return;
    status(`Search failed: ${(e as Error).message}`, true);
    show();
  }
}

type View = { found: boolean; message: string; nodes: Node[] };
const notFound = (message: string): View => ({ found: false, message, nodes: [] });

// ---------------------------------------------------------------------------------------------------------------
// Item

interface ApiEvent {
  id: string;
  kind: LedgerKind;
  occurredAt: string;
  recordedAt: string;
  location: string | null;
  actor: { name: string };
  counterparty: { name: string } | null;
  data: Record<string, unknown>;
  contentHash: string;
  leafIndex: number;
  withheldFields?: string[] | null;
}

interface ApiItem {
  sgtin: string;
  digitalLink: string;
  serial: string;
  gtin: string;
  stage: string;
  recalled: boolean;
  chainLength: number;
  product: { name: string; brand: { name: string } };
  batch: { lot: string; recalled: boolean; recallReason: string | null };
  custodian: { name: string };
  pendingReceiver: { name: string } | null;
  events: { edges: { node: ApiEvent }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } };
}

const EVENT_FIELDS = 'id kind occurredAt recordedAt location actor { name } counterparty { name } data contentHash leafIndex';
const itemQuery = (withheld: boolean) => `query Item($sgtin: String, $dl: String, $after: String) {
  item(sgtin: $sgtin, digitalLink: $dl) {
    sgtin digitalLink serial gtin stage recalled chainLength
    product { name brand { name } } batch { lot recalled recallReason } custodian { name } pendingReceiver { name }
    events(first: 100, after: $after) { edges { node { ${EVENT_FIELDS}${withheld ? ' withheldFields' : ''} } } pageInfo { hasNextPage endCursor } }
  }
}`;
/** Whether the server's Event type has `withheldFields` (unknown until the first item query). */
let hasWithheldFields: boolean | undefined;

async function loadItem(by: { sgtin?: string; dl?: string }): Promise<{ item: ApiItem; events: ApiEvent[]; partial: boolean } | null> {
  let item: ApiItem | null = null;
  const events: ApiEvent[] = [];
  let after: string | null = null;
  for (let page = 0; page < MAX_PAGES; page++) {
    let r: GqlResult<{ item: ApiItem | null }> = await gql<{ item: ApiItem | null }>(itemQuery(hasWithheldFields !== false), { ...by, after });
    // A server without per-field disclosure rejects the field at validation: ask again without it.
    if (hasWithheldFields === undefined && r.errors?.some((e) => e.extensions?.code === 'GRAPHQL_VALIDATION_FAILED')) {
      hasWithheldFields = false;
      r = await gql<{ item: ApiItem | null }>(itemQuery(false), { ...by, after });
    } else if (hasWithheldFields === undefined && !r.errors?.length) hasWithheldFields = true;
    if (r.errors?.length) throw new ApiError(r.errors);
    const got: ApiItem | null | undefined = r.data?.item;
    if (!got) return null;
    item ??= got;
    events.push(...got.events.edges.map((e) => e.node));
    if (!got.events.pageInfo.hasNextPage) return { item: item!, events, partial: false };
    after = got.events.pageInfo.endCursor;
  }
  return item ? { item, events, partial: true } : null;
}

/** The proof bundle (with a consistency proof from the kept checkpoint's size when there is one), or why none. */
async function loadBundle(by: { sgtin?: string; dl?: string }, since: number | null): Promise<{ bundle: unknown } | { unavailable: string }> {
  const q = 'query Bundle($sgtin: String, $dl: String, $since: Int) { itemProofBundle(sgtin: $sgtin, digitalLink: $dl, sinceTreeSize: $since) }';
  let r = await gql<{ itemProofBundle: unknown }>(q, { ...by, since: since && since > 0 ? since : null });
  // A kept checkpoint larger than the log's latest: fetch without it, and let the verifier judge the rollback.
  if (since && r.errors?.some((e) => e.extensions?.field === 'sinceTreeSize')) r = await gql(q, { ...by, since: null });
  if (r.errors?.length) {
    const e = r.errors[0]!;
    return { unavailable: `the API refused the proof bundle${e.extensions?.rule ? ` (${e.extensions.rule})` : ''}: ${e.message}` };
  }
  if (r.data?.itemProofBundle === null || r.data?.itemProofBundle === undefined) return { unavailable: 'the API returned no proof bundle for this item' };
  return { bundle: r.data.itemProofBundle };
}

/** Content hashes of the verified bundle's events by leaf index, and the withheld fields a v2 bundle names. */
function provenEvents(v: ReturnType<typeof verifyAnyBundle>, bundle: unknown): Map<number, { seq: number; contentHash: string; withheld: string[] }> {
  const out = new Map<number, { seq: number; contentHash: string; withheld: string[] }>();
  if (!v.ok) return out;
  if (v.kind === 'bundle-v2' && v.v2?.ok) {
    for (const e of v.v2.events) out.set(e.leafIndex, { seq: e.seq, contentHash: e.contentHash, withheld: e.withheld });
  } else if (v.kind === 'bundle-v1') {
    for (const e of (bundle as { events: { seq: number; leafIndex: number; contentHash: string }[] }).events) out.set(e.leafIndex, { seq: e.seq, contentHash: e.contentHash, withheld: [] });
  }
  return out;
}

function pictureSection(pic: VerificationPicture | null, unavailable: string | null, bundle: unknown, fileName: string): HTMLElement {
  const state = pic ? (pic.ok ? 'ok' : 'failed') : 'unavailable';
  const box = h('section', { id: 'verification', class: 'verification', 'data-state': state, 'aria-labelledby': 'verification-title' });
  box.append(h('h3', { id: 'verification-title' }, 'Verification (in this browser)'));
  if (!pic) {
    box.append(h('p', { class: 'headline' }, `Not verified: ${unavailable}.`));
    return box;
  }
  box.append(h('p', { class: 'headline' }, pic.headline));
  box.append(
    h('ul', { class: 'checks' }, ...pic.rows.map((r) => {
      const mark = r.state === 'ok' ? badge('ok', 'verified') : r.state === 'failed' ? badge('bad', 'FAILED') : badge('muted', r.state === 'not-checked' ? 'not checked' : 'not established');
      return h('li', { 'data-check': r.row, 'data-state': r.state }, mark, ' ', h('strong', {}, `${r.label}: `), r.text);
    })),
  );
  const download = h('button', { type: 'button', id: 'download-bundle' }, 'Download proof bundle (JSON)');
  download.addEventListener('click', () => {
    const url = URL.createObjectURL(new Blob([JSON.stringify(bundle, null, 2)], { type: 'application/json' }));
    const a = h('a', { href: url, download: fileName });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  });
  box.append(h('p', { class: 'hint' }, `Bundle format: ${String((bundle as { format?: unknown }).format ?? 'unknown')}. Check it again offline with `, h('code', {}, 'provenant verify'), '.'), download);
  return box;
}

function fieldValue(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function timeline(events: ApiEvent[], proven: Map<number, { seq: number; contentHash: string; withheld: string[] }>, verified: boolean): HTMLElement {
  return h('ol', { class: 'timeline', 'aria-label': 'Events, oldest first' }, ...events.map((e) => {
    const p = proven.get(e.leafIndex);
    const proof = !verified
      ? badge('muted', 'not proven')
      : !p
        ? badge('bad', 'not in the verified bundle')
        : p.contentHash === e.contentHash
          ? badge('ok', `proven: seq ${p.seq}, leaf ${e.leafIndex}`)
          : badge('bad', `differs from the proven event at leaf ${e.leafIndex}`);
    const withheld = new Set([...(e.withheldFields ?? []), ...(p?.withheld ?? [])]);
    const rows: [string, Child][] = [
      ['Occurred', when(e.occurredAt)],
      ['Recorded', when(e.recordedAt)],
      ['By', e.actor.name],
    ];
    if (e.counterparty) rows.push([e.kind === 'SHIP' ? 'To' : 'Counterparty', e.counterparty.name]);
    if (e.location) rows.push(['Location', e.location]);
    for (const [k, v] of Object.entries(e.data ?? {})) if (!withheld.has(k)) rows.push([k, fieldValue(v)]);
    for (const k of [...withheld].sort()) rows.push([k, h('span', { class: 'withheld' }, badge('muted', 'withheld'), ' not disclosed to you')]);
    rows.push(['Content hash', h('code', {}, e.contentHash)]);
    return h('li', { 'data-kind': e.kind, 'data-leaf': String(e.leafIndex) }, h('h4', {}, `${label(e.kind)} · ${when(e.occurredAt)} `, proof), dl(rows));
  }));
}

function custodySection(events: ApiEvent[]): HTMLElement {
  const windows = custodyWindows(events.map((e) => ({ kind: e.kind, occurredAt: e.occurredAt, actor: e.actor.name, counterparty: e.counterparty?.name ?? null })));
  return h('ol', { class: 'custody', 'aria-label': 'Custody windows' }, ...windows.map((w) =>
    h('li', {},
      h('strong', {}, w.holder), `: ${when(w.from)} (${label(w.startedBy)}) → `,
      w.until ? `${when(w.until)} (${label(w.endedBy!)})` : 'now',
      w.inTransitTo ? ` · in transit to ${w.inTransitTo}` : '',
    ),
  ));
}

async function itemView(q: Extract<ExplorerQuery, { kind: 'item' }>): Promise<View> {
  const by = 'sgtin' in q ? { sgtin: q.sgtin } : { dl: q.digitalLink };
  const loaded = await loadItem(by);
  if (!loaded) return notFound('No item found that your key may see.');
  const { item, events, partial } = loaded;
  const kept = keptCheckpoint();
  const got = await loadBundle({ sgtin: item.sgtin }, kept?.size ?? null);
  let pic: VerificationPicture | null = null;
  let proven = new Map<number, { seq: number; contentHash: string; withheld: string[] }>();
  if ('bundle' in got) {
    const v = verifyAnyBundle(got.bundle, { verifierKeys: [LOG_KEY], ...(kept ? { previousCheckpoint: kept.note } : {}) });
    pic = verificationPicture(v, got.bundle, { keptSize: kept ? kept.size : null, key: LOG_KEY, sgtin: item.sgtin });
    if (pic.ok) proven = provenEvents(v, got.bundle);
    // The newest checkpoint that verified becomes the one the next verification must extend.
    if (pic.ok) {
      sessionStorage.setItem(KEPT_SLOT, (got.bundle as { checkpoint: string }).checkpoint);
      showKept();
    }
  }
  const recall = item.recalled
    ? h('section', { class: 'recall', role: 'alert' }, h('h3', {}, 'Recalled'), h('p', {}, `Lot ${item.batch.lot} is recalled${item.batch.recallReason ? `: ${item.batch.recallReason}` : ''}.`))
    : null;
  const nodes: Node[] = [
    h('h2', {}, `Item ${item.product.name} · serial ${item.serial}`),
    ...(recall ? [recall] : []),
    dl([
      ['SGTIN', h('code', {}, item.sgtin)],
      ['Digital Link', h('code', {}, item.digitalLink)],
      ['Brand', item.product.brand.name],
      ['Batch', openButton(`lot ${item.batch.lot}`, `${item.gtin} ${item.batch.lot}`)],
      ['Stage', label(item.stage)],
      ['Custodian', item.pendingReceiver ? `${item.custodian.name} (in transit to ${item.pendingReceiver.name})` : item.custodian.name],
      ['Chain length', `${item.chainLength} event${item.chainLength === 1 ? '' : 's'}${events.length < item.chainLength ? ` (you may see ${events.length})` : ''}`],
    ]),
    pictureSection(pic, 'unavailable' in got ? got.unavailable : null, 'bundle' in got ? got.bundle : null, `${item.gtin}-${item.serial}-proof-bundle.json`),
    h('h3', {}, 'Custody'),
    custodySection(events),
    h('h3', {}, 'Timeline'),
    ...(partial ? [h('p', { class: 'hint' }, `Only the first ${events.length} events are listed.`)] : []),
    timeline(events, proven, pic?.ok === true),
  ];
  return { found: true, message: '', nodes };
}

// ---------------------------------------------------------------------------------------------------------------
// Batch

interface ApiBatchItem {
  sgtin: string;
  serial: string;
  stage: string;
  recalled: boolean;
  custodian: { name: string };
}
interface ApiBatch {
  lot: string;
  site: string;
  producedAt: string;
  recalled: boolean;
  recalledAt: string | null;
  recallReason: string | null;
  product: { name: string; gtin: string; brand: { name: string } };
  items: { totalCount: number; edges: { node: ApiBatchItem }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } };
}

const BATCH_QUERY = `query Batch($gtin: String!, $lot: String!, $after: String) {
  batch(gtin: $gtin, lot: $lot) {
    lot site producedAt recalled recalledAt recallReason product { name gtin brand { name } }
    items(first: 100, after: $after) { totalCount edges { node { sgtin serial stage recalled custodian { name } } } pageInfo { hasNextPage endCursor } }
  }
}`;

function itemList(items: { sgtin: string; stage: string; recalled: boolean; custodian: { name: string } }[]): HTMLElement {
  return h('ul', { class: 'items' }, ...items.map((i) =>
    h('li', {}, openButton(i.sgtin, i.sgtin), ` · ${label(i.stage)}${i.recalled ? ' · recalled' : ''} · held by ${i.custodian.name}`),
  ));
}

async function batchView(q: Extract<ExplorerQuery, { kind: 'batch' }>): Promise<View> {
  let batch: ApiBatch | null = null;
  const items: ApiBatchItem[] = [];
  let after: string | null = null;
  for (let page = 0; page < MAX_PAGES; page++) {
    const d: { batch: ApiBatch | null } = await gqlData<{ batch: ApiBatch | null }>(BATCH_QUERY, { gtin: q.gtin14, lot: q.lot, after });
    if (!d.batch) return notFound(`No batch ${q.lot} of GTIN ${q.gtin14} that your key may see.`);
    batch ??= d.batch;
    items.push(...d.batch.items.edges.map((e) => e.node));
    if (!d.batch.items.pageInfo.hasNextPage) break;
    after = d.batch.items.pageInfo.endCursor;
  }
  const b = batch!;
  const custodians = new Map<string, number>();
  for (const i of items) custodians.set(i.custodian.name, (custodians.get(i.custodian.name) ?? 0) + 1);
  const recall = b.recalled
    ? h('section', { class: 'recall', role: 'alert' }, h('h3', {}, 'Recalled'), h('p', {}, `Recalled on ${when(b.recalledAt)}${b.recallReason ? `: ${b.recallReason}` : ''}.`))
    : null;
  return {
    found: true,
    message: '',
    nodes: [
      h('h2', {}, `Batch ${b.lot} of ${b.product.name}`),
      ...(recall ? [recall] : []),
      dl([
        ['GTIN', b.product.gtin],
        ['Brand', b.product.brand.name],
        ['Recall state', b.recalled ? `recalled${b.recallReason ? ` (${b.recallReason})` : ''}` : 'not recalled'],
        ['Produced', `${when(b.producedAt)} at ${b.site}`],
        ['Items', `${b.items.totalCount} you may see${items.length < b.items.totalCount ? ` (first ${items.length} listed)` : ''}`],
      ]),
      h('h3', {}, 'Custodians'),
      h('ul', { class: 'custodians' }, ...[...custodians].sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1)).map(([name, n]) => h('li', {}, `${name}: ${n} item${n === 1 ? '' : 's'}`))),
      h('h3', {}, 'Items'),
      itemList(items),
    ],
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Container

interface ApiContainer {
  sscc: string;
  holder: { name: string };
  parentSscc: string | null;
  containerSsccs: string[];
  itemCount: number;
  items: ApiBatchItem[];
}

async function containerView(q: Extract<ExplorerQuery, { kind: 'container' }>): Promise<View> {
  const d = await gqlData<{ container: ApiContainer | null }>(
    'query Container($sscc: String!) { container(sscc: $sscc) { sscc holder { name } parentSscc containerSsccs itemCount items { sgtin serial stage recalled custodian { name } } } }',
    { sscc: q.sscc18 },
  );
  const c = d.container;
  if (!c) return notFound(`No container ${q.sscc18} that your key may see.`);
  return {
    found: true,
    message: '',
    nodes: [
      h('h2', {}, `Container ${c.sscc}`),
      dl([
        ['Holder', c.holder.name],
        ['Packed in', c.parentSscc ? openButton(c.parentSscc, c.parentSscc) : 'nothing'],
        ['Containers inside', c.containerSsccs.length ? h('span', {}, ...c.containerSsccs.flatMap((s, i) => [i ? ', ' : '', openButton(s, s)])) : 'none'],
        ['Items inside', `${c.itemCount} you may see (at any depth)`],
      ]),
      h('h3', {}, 'Contents'),
      itemList(c.items),
    ],
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Wiring

$('key-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const input = $<HTMLInputElement>('api-key');
  const key = input.value.trim();
  if (!key) {
    status('Enter an API key.', true);
    return;
  }
  sessionStorage.setItem(KEY_SLOT, key);
  input.value = '';
  showKeyStatus();
  status('');
  $('q').focus();
});
$('forget-key').addEventListener('click', () => {
  sessionStorage.removeItem(KEY_SLOT);
  showKeyStatus();
});
$('search-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  void search($<HTMLInputElement>('q').value);
});
$('keep-checkpoint').addEventListener('click', () => {
  const note = $<HTMLTextAreaElement>('kept-note').value.replace(/\r\n/g, '\n');
  const c = verifyCheckpoint(note.endsWith('\n') ? note : `${note}\n`, [LOG_KEY]);
  if (!c.ok) {
    $('kept-status').textContent = `Not kept: this is not a checkpoint signed by the pinned log key (${c.error}).`;
    return;
  }
  sessionStorage.setItem(KEPT_SLOT, note.endsWith('\n') ? note : `${note}\n`);
  showKept();
});
$('forget-checkpoint').addEventListener('click', () => {
  sessionStorage.removeItem(KEPT_SLOT);
  showKept();
});
showKeyStatus();
showKept();
