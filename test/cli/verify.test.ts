import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runVerify } from '../../src/cli/verify.ts';
import { toHex } from '../../src/core/bytes.ts';
import { type BundleSourceEvent, type ProofBundle, buildBundle } from '../../src/core/bundle.ts';
import { ZERO_HASH, canonicalEventBody, contentHashOf, linkHash } from '../../src/core/chain.ts';
import { formatCheckpoint, publicKeyFromPrivate, signNote, verifierKeyString } from '../../src/core/checkpoint.ts';
import { digitalLink, gs1CheckDigit, sgtinUrn } from '../../src/core/identifiers.ts';
import type { EventKind } from '../../src/core/lifecycle.ts';
import { appendLeaves, leafHash, nodeKey, rootFromNodes } from '../../src/core/merkle.ts';

// A small log: one tracked item (5 events) interleaved with another item's events.
const SEED = new Uint8Array(32).fill(42);
const OTHER_SEED = new Uint8Array(32).fill(7);
const ORIGIN = 'ledger.provenant.example/log';
const VKEY = verifierKeyString(ORIGIN, publicKeyFromPrivate(SEED));
const OTHER_VKEY = verifierKeyString(ORIGIN, publicKeyFromPrivate(OTHER_SEED));
const GTIN = '0950600013435' + String(gs1CheckDigit('0950600013435'));
const ITEM = sgtinUrn(GTIN, 7, 'S-1');
const NOISE = sgtinUrn(GTIN, 7, 'S-2');

function buildLog(variant = '') {
  const nodes = new Map<string, Uint8Array>();
  const links: BundleSourceEvent[] = [];
  let size = 0;
  const steps: [EventKind, string[]][] = [
    ['COMMISSION', [NOISE]],
    ['COMMISSION', [ITEM]],
    ['SHIP', [NOISE]],
    ['SHIP', [ITEM]],
    ['RECEIVE', [ITEM]],
    ['RECEIVE', [NOISE]],
    ['SELL', [NOISE]],
    ['SELL', [ITEM]],
    ['ACTIVATE', [ITEM]],
    ['ACTIVATE', [NOISE]],
  ];
  steps.forEach(([kind, items], i) => {
    const at = new Date(Date.UTC(2025, 0, 1) + i * 60_000).toISOString();
    const body = canonicalEventBody({
      kind, actor: 'act_1', occurredAt: at, timezoneOffset: '+00:00', recordedAt: at,
      location: null, counterparty: null, data: i === 0 ? { lot: `L${variant}` } : {}, items,
    });
    const contentHash = contentHashOf(body);
    if (items.includes(ITEM)) {
      const seq = links.length;
      const prevHash = seq === 0 ? ZERO_HASH : links[seq - 1]!.linkHash;
      links.push({ seq, leafIndex: size, body, contentHash, prevHash, linkHash: linkHash(prevHash, contentHash, ITEM, seq) });
    }
    const r = appendLeaves(size, nodes, [leafHash(contentHash)]);
    for (const n of r.nodes) nodes.set(nodeKey(n.id), n.hash);
    size = r.size;
  });
  const checkpoint = (s = size, seed = SEED): string =>
    signNote(formatCheckpoint({ origin: ORIGIN, size: s, rootHash: rootFromNodes(s, nodes) }), ORIGIN, seed);
  return { nodes, links, size, checkpoint };
}

const log = buildLog();
const forked = buildLog('-rewritten');
const PREV = 3;
const bundle: ProofBundle = buildBundle({
  sgtin: ITEM,
  digitalLink: digitalLink(GTIN, 'S-1'),
  verifierKey: VKEY,
  checkpoint: log.checkpoint(),
  events: log.links,
  nodes: log.nodes,
  consistencyFromSize: PREV,
});
const root = toHex(rootFromNodes(log.size, log.nodes));

const dir = mkdtempSync(join(tmpdir(), 'provenant-verify-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, content: string): string => {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
};
const GOOD = file('bundle.json', JSON.stringify(bundle, null, 2));
const PREV_OK = file('prev.checkpoint', log.checkpoint(PREV));
const PREV_FORK = file('fork.checkpoint', forked.checkpoint(PREV));

async function run(...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runVerify(args, { out: (s) => out.push(s), err: (s) => err.push(s) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('provenant verify', () => {
  it('exit 0 with --key: one-line summary naming item, events, tree size and root', async () => {
    const r = await run(GOOD, '--key', VKEY);
    expect(r).toEqual({
      code: 0,
      out: `VALID: item ${ITEM}: 5 events, complete and included in tree size ${log.size}, root ${root}`,
      err: '',
    });
    expect((await run(`--key=${VKEY}`, GOOD)).code).toBe(0);
  });

  it('accepts repeated --key (any trusted key may have signed)', async () => {
    const r = await run('--key', OTHER_VKEY, GOOD, '--key', VKEY);
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
  });

  it('without --key uses the bundle key and warns that this proves no signer', async () => {
    const r = await run(GOOD);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^VALID: item /);
    expect(r.err).toMatch(/^WARNING: no --key given; using the bundle's own verifier key .*only proves the bundle is internally consistent, not who signed it/);
  });

  it('with --previous: consistent log is valid, a rewritten one is invalid', async () => {
    const ok = await run(GOOD, '--key', VKEY, '--previous', PREV_OK);
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/\(consistent with the previous checkpoint\)$/);
    const bad = await run(GOOD, '--key', VKEY, '--previous', PREV_FORK);
    expect(bad.code).toBe(1);
    expect(bad.out).toMatch(new RegExp(`^INVALID: item ${ITEM} seq -: consistency: the log was rewritten: tree size ${log.size} is not an extension of the previous checkpoint's tree size ${PREV}`));
  });

  it('--previous accepts a kept note with an extra trailing newline, CRLF line ends or a BOM (editors add them)', async () => {
    for (const [name, text] of [
      ['extra-nl.checkpoint', log.checkpoint(PREV) + '\n'],
      ['extra-nls.checkpoint', log.checkpoint(PREV) + '\n\n'],
      ['crlf.checkpoint', log.checkpoint(PREV).replace(/\n/g, '\r\n')],
      ['bom.checkpoint', '\uFEFF' + log.checkpoint(PREV)],
    ] as const) {
      const r = await run(GOOD, '--key', VKEY, '--previous', file(name, text));
      expect(r, name).toEqual({
        code: 0,
        out: `VALID: item ${ITEM}: 5 events, complete and included in tree size ${log.size}, root ${root} (consistent with the previous checkpoint)`,
        err: '',
      });
    }
    // The newline is only tolerated, not the fork: a rewritten log with a trailing newline is still INVALID.
    expect((await run(GOOD, '--key', VKEY, '--previous', file('fork-nl.checkpoint', forked.checkpoint(PREV) + '\n'))).code).toBe(1);
  });

  it('--previous that is not a signed checkpoint note is a usage error (exit 2), not INVALID', async () => {
    const note = log.checkpoint(PREV);
    const cases: [string, string, RegExp][] = [
      ['empty.checkpoint', '', /is empty/],
      ['bundle-as-prev.json', JSON.stringify(bundle), /is not a signed checkpoint note: malformed note/],
      ['unsigned.checkpoint', note.slice(0, note.indexOf('\n\n') + 1), /is not a signed checkpoint note: malformed note/],
      ['bad-sigline.checkpoint', note.replace('\u2014 ', '- '), /is not a signed checkpoint note: malformed note/],
      ['not-a-checkpoint.checkpoint', note.replace(/\n3\n/, '\nthree\n'), /is not a checkpoint: /],
    ];
    for (const [name, text, why] of cases) {
      const r = await run(GOOD, '--key', VKEY, '--previous', file(name, text));
      expect(r.code, `${name}: ${r.out}`).toBe(2);
      expect(r.out).toBe('');
      expect(r.err, name).toMatch(new RegExp(`^provenant verify: --previous .*${name.replace('.', '\\.')} ${why.source}`));
    }
    // A well-formed note that fails verification stays exit 1: signed by an untrusted key.
    const other = file('other-signer.checkpoint', buildLog().checkpoint(PREV, OTHER_SEED));
    const r = await run(GOOD, '--key', VKEY, '--previous', other);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^INVALID: item .* seq -: signature: previous checkpoint is not signed by any trusted key/);
  });

  it('exit 1 on a corrupted bundle, naming item, seq, check and message', async () => {
    const b = JSON.parse(JSON.stringify(bundle)) as ProofBundle;
    b.events.splice(2, 1);
    const r = await run(file('dropped.json', JSON.stringify(b)), '--key', VKEY);
    expect(r).toEqual({ code: 1, out: `INVALID: item ${ITEM} seq 2: completeness: event seq 2 is missing (the next event in the bundle is seq 3)`, err: '' });

    const c = JSON.parse(JSON.stringify(bundle)) as ProofBundle;
    c.events[1]!.body = c.events[1]!.body.replace('"SHIP"', '"SELL"');
    const r2 = await run(file('edited.json', JSON.stringify(c)), '--key', VKEY);
    expect(r2.code).toBe(1);
    expect(r2.out).toMatch(new RegExp(`^INVALID: item ${ITEM} seq 1: content: body hashes to [0-9a-f]{64} but contentHash is ${c.events[1]!.contentHash}$`));
  });

  it('exit 1 when only an untrusted key is given', async () => {
    const r = await run(GOOD, '--key', OTHER_VKEY);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(new RegExp(`^INVALID: item ${ITEM} seq -: signature: bundle checkpoint is not signed by any trusted key`));
  });

  it('exit 1 on a bundle of an unknown format', async () => {
    const r = await run(file('v2.json', JSON.stringify({ ...bundle, format: 'other' })), '--key', VKEY);
    expect(r.code).toBe(1);
    expect(r.out).toBe(`INVALID: item ${ITEM} seq -: format: unknown bundle format "other", expected "provenant-proof-bundle/v1"`);
  });

  it('exit 2 on usage and I/O errors', async () => {
    const missing = await run(join(dir, 'nope.json'), '--key', VKEY);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/cannot read bundle .*nope\.json: no such file/);

    const bad = await run(file('bad.json', '{"format": "provenant-proof-bundle/v1",'), '--key', VKEY);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/bad\.json is not valid JSON/);

    const flag = await run(GOOD, '--frobnicate');
    expect(flag.code).toBe(2);
    expect(flag.err).toMatch(/unknown option --frobnicate/);
    expect(flag.out).toBe('');

    expect((await run()).err).toMatch(/missing BUNDLE\.json/);
    expect((await run()).code).toBe(2);
    expect((await run(GOOD, GOOD)).code).toBe(2);
    expect((await run(GOOD, '--key')).err).toMatch(/--key needs a verifier key/);
    expect((await run(GOOD, '--key', 'not-a-key')).err).toMatch(/--key "not-a-key": malformed verifier key/);
    const prevMissing = await run(GOOD, '--key', VKEY, '--previous', join(dir, 'none.checkpoint'));
    expect(prevMissing.code).toBe(2);
    expect(prevMissing.err).toMatch(/cannot read previous checkpoint/);
  });

  it('exit 2 when no key is given and the bundle has none', async () => {
    const { verifierKey: _drop, ...rest } = bundle;
    const r = await run(file('nokey.json', JSON.stringify(rest)));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/no --key given and the bundle carries no verifierKey/);
    const r2 = await run(file('emptykey.json', JSON.stringify({ ...bundle, verifierKey: '' })));
    expect(r2.code).toBe(2);
  });

  it('--help prints usage and exits 0', async () => {
    const r = await run('--help');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^Usage: provenant verify BUNDLE\.json \[--key VERIFIER_KEY\]\.\.\. \[--previous CHECKPOINT_FILE\]/);
    expect((await run(GOOD, '--key', VKEY, '--help')).code).toBe(0);
  });

  it('imports only node:fs, node:path and core (runs offline, anywhere)', () => {
    const src = readFileSync(new URL('../../src/cli/verify.ts', import.meta.url), 'utf8');
    const imports = [...src.matchAll(/^import .* from '([^']+)';$/gm)].map((m) => m[1]!);
    expect(imports.length).toBeGreaterThan(0);
    for (const i of imports) expect(i, i).toMatch(/^(node:fs|node:path|\.\.\/core\/[a-z-]+\.ts)$/);
  });
});
