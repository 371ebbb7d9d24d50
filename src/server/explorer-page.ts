/**
 * The auditor explorer's page (`GET /explorer`): a server-rendered shell whose script (src/browser/explorer.ts,
 * bundled by browser-assets.ts) does the searching and verifying in the browser. The server prints only the log key
 * the page pins and where GraphQL is; the auditor's API key never reaches this HTML (it lives in sessionStorage and
 * goes out only in the Authorization header of GraphQL requests).
 */

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const STYLE = `
:root{color-scheme:light;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;line-height:1.5}
*{box-sizing:border-box}
body{margin:0;background:#f6f7f9;color:#1a1a1a}
main{max-width:52rem;margin:0 auto;padding:1rem}
h1{font-size:1.5rem;margin:.5rem 0}
h2{font-size:1.2rem;margin:1.25rem 0 .5rem}
h3{font-size:1.05rem;margin:1rem 0 .5rem}
p,dd,li,code{overflow-wrap:anywhere}
code{font-size:.9em}
.panel{background:#fff;border:1px solid #c4c9d0;border-radius:.5rem;padding:.75rem 1rem;margin:.75rem 0}
label{display:block;font-weight:600;margin:.25rem 0}
input,textarea,button{font:inherit;max-width:100%}
input,textarea{width:100%;padding:.5rem;border:2px solid #5f6368;border-radius:.375rem;background:#fff;color:#1a1a1a}
textarea{min-height:6rem;font-family:ui-monospace,monospace;font-size:.85rem}
button{padding:.5rem 1rem;border:2px solid #0b57d0;border-radius:.375rem;background:#0b57d0;color:#fff;font-weight:600;cursor:pointer;margin:.25rem .25rem .25rem 0}
button.secondary{background:#fff;color:#0b57d0}
button.link{background:none;border:none;color:#0b57d0;text-decoration:underline;padding:0;margin:0;font-weight:400;text-align:left;overflow-wrap:anywhere}
:focus-visible{outline:3px solid #c2410c;outline-offset:2px}
.row{display:flex;flex-wrap:wrap;gap:.5rem;align-items:flex-end}
.row>div{flex:1 1 14rem;min-width:0}
.hint{color:#4a4f57;font-size:.9rem;margin:.25rem 0}
.error{color:#8b0000;font-weight:600}
dl{display:grid;grid-template-columns:minmax(6rem,max-content) minmax(0,1fr);gap:.15rem .75rem;margin:.5rem 0}
dt{font-weight:600}dd{margin:0;min-width:0}
ol,ul{padding-left:1.25rem}
.timeline{list-style:none;padding:0}
.timeline>li{background:#fff;border:1px solid #c4c9d0;border-left:4px solid #0b57d0;border-radius:.375rem;padding:.5rem .75rem;margin:.5rem 0}
.badge{display:inline-block;border-radius:1rem;padding:0 .5rem;font-size:.85rem;font-weight:600;border:1px solid}
.badge.ok{color:#14532d;background:#e8f5e9;border-color:#14532d}
.badge.bad{color:#8b0000;background:#fdecee;border-color:#8b0000}
.badge.muted{color:#3c4043;background:#eceff1;border-color:#5f6368}
.verification{border:2px solid #5f6368;border-radius:.5rem;padding:.5rem 1rem;margin:.75rem 0;background:#fff}
.verification[data-state=ok]{border-color:#14532d;background:#eef8ee}
.verification[data-state=failed]{border-color:#8b0000;background:#fdecee}
.verification .headline{font-weight:700}
.checks{list-style:none;padding:0;margin:.5rem 0}
.checks li{margin:.35rem 0}
.recall{background:#8b0000;color:#fff;border-radius:.5rem;padding:.75rem 1rem;margin:.5rem 0}
.recall h3{margin:0}
.withheld{font-style:italic;color:#4a4f57}
`;

/** The explorer page HTML, pinning `logKey` (the log's verifier key) for the in-browser verification. */
export function explorerPage(logKey: string, logOrigin: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Provenant auditor explorer</title>
<style>${STYLE}</style>
</head>
<body>
<main id="explorer" data-log-key="${esc(logKey)}" data-graphql="/graphql">
<h1>Auditor explorer</h1>
<p class="hint">Log <code>${esc(logOrigin)}</code>, pinned key <code>${esc(logKey.split('+').slice(0, 2).join('+'))}</code>. Every proof is checked in this browser against that key.</p>
<noscript><p class="error">The explorer needs JavaScript.</p></noscript>

<section class="panel" aria-labelledby="key-title">
<h2 id="key-title">API key</h2>
<form id="key-form" class="row" novalidate>
<div><label for="api-key">Your API key</label>
<input id="api-key" name="api-key" type="password" autocomplete="off" spellcheck="false" aria-describedby="key-note"></div>
<button type="submit">Use this key</button>
<button type="button" id="forget-key" class="secondary">Forget key</button>
</form>
<p id="key-note" class="hint">Kept in this tab only (sessionStorage; no cookie) and sent only to this server's GraphQL endpoint, in the Authorization header.</p>
<p id="key-status" role="status">No key in use.</p>
</section>

<section class="panel" aria-labelledby="search-title">
<h2 id="search-title">Search</h2>
<form id="search-form" class="row" role="search" novalidate>
<div><label for="q">SGTIN, Digital Link, GTIN and lot, or SSCC</label>
<input id="q" name="q" type="search" autocomplete="off" spellcheck="false" aria-describedby="q-hint"></div>
<button type="submit">Search</button>
</form>
<p id="q-hint" class="hint">For example <code>urn:epc:id:sgtin:4012345.011111.P001</code>, <code>https://id.gs1.org/01/04012345111118/21/P001</code>, <code>04012345111118 L1</code> (batch) or <code>340123450000000017</code> (container).</p>
</section>

<details class="panel" id="kept">
<summary>Kept checkpoint (consistency)</summary>
<p id="kept-status" class="hint" role="status">No kept checkpoint.</p>
<label for="kept-note">A checkpoint you kept earlier (signed note)</label>
<textarea id="kept-note" spellcheck="false" aria-describedby="kept-help"></textarea>
<p id="kept-help" class="hint">After each verified item the explorer keeps its checkpoint here (sessionStorage), and the next verification proves the log only grew since.</p>
<button type="button" id="keep-checkpoint">Keep this checkpoint</button>
<button type="button" id="forget-checkpoint" class="secondary">Forget</button>
</details>

<p id="status" role="status" aria-live="polite"></p>
<div id="result"></div>
</main>
<script type="module" src="/assets/explorer.js"></script>
</body>
</html>
`;
}
