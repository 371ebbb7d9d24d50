/// <reference lib="dom" />
/**
 * The item page's in-browser check (bundled for the browser by src/server/browser-assets.ts; it imports only core):
 * fetches the item's statement (GraphQL `itemStatement`), verifies it against the log key printed in the page with
 * core's `verifyItemStatement`, and says what it proved, or exactly what failed. Nothing is taken from the server's
 * word: the stage and recall flag the page printed are compared with what the signed log says.
 */
import { verifyItemStatement } from '../core/v2/statement.ts';

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

const box = document.getElementById('verification');
if (box) void check(box);
