/// <reference lib="dom" />
/**
 * The item page's in-browser check (bundled for the browser by src/server/browser-assets.ts; it imports only core):
 * fetches the item's statement (GraphQL `itemStatement`), verifies it against the log key printed in the page with
 * core's `verifyItemStatement`, and says what it proved, or exactly what failed. Nothing is taken from the server's
 * word: the stage and recall flag the page printed are compared with what the signed log says.
 * Then the item's public history: fetches its public proof bundle (this page's path + `/bundle.json`), verifies it with core's
 * `verifyAnyBundle` against the same pinned key, and renders the history only from what that verification proved
 * (an unverified history is never shown).
 */
import { verifyItemStatement } from '../core/v2/statement.ts';
import { verifyAnyBundle } from '../core/verify-any.ts';
import type { ProofBundleV2 } from '../core/v2/bundle-v2.ts';
import type { ProvenEvent } from '../core/v2/bundle-v2.ts';

const STAGE_LABEL = (stage: string): string => stage.charAt(0) + stage.slice(1).toLowerCase().replace(/_/g, ' ');

async function check(box: HTMLElement): Promise<void> {
  const { sgtin, logKey, graphql, stage: shownStage, recalled: shownRecalled } = box.dataset;
  const say = (state: 'ok' | 'failed', text: string) => {
    box.dataset['state'] = state;
    const p = box.querySelector('.result')!;
    p.textContent = text;
  };
  if (!sgtin || !logKey || !graphql) return say('failed', 'Verification could not start: the page names no item or log key.');
  let statement: unknown;
  try {
    const res = await fetch(graphql, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ query: 'query($s: String!) { itemStatement(sgtin: $s) }', variables: { s: sgtin } }),
    });
    statement = ((await res.json()) as { data?: { itemStatement?: unknown } }).data?.itemStatement;
  } catch (e) {
    return say('failed', `Verification failed: the item statement could not be fetched (${(e as Error).message}).`);
  }
  if (!statement) return say('failed', 'Verification failed: the log returned no statement for this item.');
  const v = verifyItemStatement(statement, { verifierKeys: [logKey] });
  if (!v.ok) return say('failed', `Verification FAILED (${v.failure.check}): ${v.failure.message}`);
  if (shownStage && shownStage !== v.head.stage) {
    return say('failed', `Verification FAILED: this page says "${STAGE_LABEL(shownStage)}" but the signed log says "${STAGE_LABEL(v.head.stage)}".`);
  }
  if (shownRecalled !== undefined && (shownRecalled === 'true') !== v.head.recalled) {
    return say('failed', `Verification FAILED: this page and the signed log disagree on whether the item is recalled (log: ${v.head.recalled ? 'recalled' : 'not recalled'}).`);
  }
  say(
    'ok',
    `Confirmed by the signed log at checkpoint ${v.treeSize}: ${STAGE_LABEL(v.head.stage)}, ${v.head.recalled ? 'recalled' : 'not recalled'}, ` +
      `${v.head.seq + 1} recorded event${v.head.seq === 0 ? '' : 's'} in its chain — checked in this browser against the log key ${logKey.split('+').slice(0, 2).join('+')}.`,
  );
}

/** Readable labels of the event kinds (a consumer reads "Shipped", not SHIP). */
const KIND_LABEL: Record<string, string> = {
  COMMISSION: 'Manufactured', SHIP: 'Shipped', RECEIVE: 'Received', SELL: 'Sold', ACTIVATE: 'Activated', SERVICE: 'Serviced',
  USE_REPORT: 'Use reported', RETURN: 'Returned', RECALL: 'Recalled', RECYCLE: 'Recycled', DESTROY: 'Destroyed', PACK: 'Packed',
  UNPACK: 'Unpacked',
};

/** The event's calendar date where it happened: `occurredAt` (UTC) shifted by its `timezoneOffset`. */
function localDate(occurredAt: string, offset: string): string {
  const m = /^([+-])(\d\d):(\d\d)$/.exec(offset);
  const minutes = m ? (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) : 0;
  const t = Date.parse(occurredAt);
  return Number.isNaN(t) ? occurredAt : new Date(t + minutes * 60_000).toISOString().slice(0, 10);
}

function eventItem(e: ProvenEvent, body: { occurredAt?: unknown; timezoneOffset?: unknown }): HTMLLIElement {
  const li = document.createElement('li');
  li.dataset['seq'] = String(e.seq);
  const add = (cls: string, text: string) => {
    const span = document.createElement('span');
    span.className = cls;
    span.textContent = text;
    li.append(span);
    return span;
  };
  add('kind', KIND_LABEL[e.kind] ?? e.kind);
  add('date', ` · ${localDate(String(body.occurredAt), String(body.timezoneOffset ?? '+00:00'))}`);
  const place = e.disclosed['location'];
  if (typeof place === 'string' && place !== '') add('place', ` · ${place}`);
  const reason = e.kind === 'RECALL' ? e.disclosed['reason'] : undefined;
  if (typeof reason === 'string' && reason !== '') add('reason', ` · reason: ${reason}`);
  if (e.withheld.length > 0) add('withheld', ' · details withheld');
  if (e.erased.length > 0) add('withheld', ' · details erased');
  return li;
}

async function history(box: HTMLElement, sgtin: string, logKey: string, shownStage: string | undefined): Promise<void> {
  const say = (state: 'ok' | 'failed' | 'unavailable', text: string) => {
    box.dataset['state'] = state;
    box.querySelector('.result')!.textContent = text;
  };
  // This page's own path names the item (`/item/01/{gtin}[/10/{lot}]/21/{serial}`); the bundle lives beneath it.
  const url = `${location.pathname.replace(/\/$/, '')}/bundle.json`;
  let doc: unknown;
  try {
    const res = await fetch(url, { headers: { accept: 'application/json' } });
    if (!res.ok) {
      const p = (await res.json().catch(() => ({}))) as { title?: string; detail?: string };
      return say('unavailable', `No public history to show: ${p.detail ?? p.title ?? `the server answered ${res.status}`}.`);
    }
    doc = await res.json();
  } catch (e) {
    return say('failed', `History verification failed: the proof bundle could not be fetched (${(e as Error).message}).`);
  }
  const v = verifyAnyBundle(doc, { verifierKeys: [logKey] });
  if (!v.ok) {
    const at = v.failure.seq === null ? '' : ` at event ${v.failure.seq}`;
    return say('failed', `History verification FAILED (${v.failure.check})${at}: ${v.failure.message}`);
  }
  if (v.kind !== 'bundle-v2' || !v.v2?.ok) return say('failed', `History verification FAILED: a ${v.kind} document cannot prove a complete history.`);
  if (v.item !== sgtin) return say('failed', `History verification FAILED: the bundle is for ${v.item}, not this item (${sgtin}).`);
  const proven = v.v2;
  if (shownStage && shownStage !== proven.head.stage) {
    return say('failed', `History verification FAILED: this page says "${STAGE_LABEL(shownStage)}" but the verified history ends at "${STAGE_LABEL(proven.head.stage)}".`);
  }
  // Dates come from the event bodies, which the verification just proved (each body's hash is in the signed log).
  const bodies = new Map((doc as ProofBundleV2).events.map((e) => [e.seq, JSON.parse(e.body) as { occurredAt?: unknown; timezoneOffset?: unknown }]));
  const list = document.createElement('ol');
  list.className = 'events';
  for (const e of proven.events) list.append(eventItem(e, bodies.get(e.seq) ?? {}));
  box.append(list);
  say('ok', `History intact up to checkpoint ${proven.treeSize} (complete): ${proven.events.length} event${proven.events.length === 1 ? '' : 's'}, checked in this browser against the log key.`);
}

const box = document.getElementById('verification');
if (box) void check(box);
const historyBox = document.getElementById('history');
if (box && historyBox) {
  const { sgtin, logKey, stage } = box.dataset;
  if (sgtin && logKey) void history(historyBox, sgtin, logKey, stage);
  else historyBox.dataset['state'] = 'failed';
}
