/**
 * `provenant verify`: checks a proof bundle offline. Imports only node:fs/node:path and core — no database,
 * no network — so an auditor can run it anywhere.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { toHex } from '../core/bytes.ts';
import { verifyBundle } from '../core/bundle.ts';
import { parseCheckpoint, parseVerifierKey, verifyNote } from '../core/checkpoint.ts';
import { BUNDLE_FORMAT_V2, ITEM_STATEMENT_FORMAT, verifyAnyBundle } from '../core/verify-any.ts';

export const VERIFY_USAGE = `Usage: provenant verify BUNDLE.json [--key VERIFIER_KEY]... [--previous CHECKPOINT_FILE]

BUNDLE.json is a proof bundle (provenant-proof-bundle/v1 or /v2) or an item statement (provenant-item-statement/v2;
needs --key). A v2 bundle proves the history complete up to the signed checkpoint (the head map), shows which fields
were withheld or erased and which events carry a valid actor signature; see docs/ledger-format.md.

Verifies an item proof bundle offline: every event's content hash and chain link, that the chain is complete
(seq 0..headSeq, starting with COMMISSION), every event's inclusion in the signed log checkpoint, and with
--previous that the log only grew since a checkpoint you kept (consistency proof).

Options:
  --key VERIFIER_KEY        the log's C2SP verifier key you trust (name+hash+base64); repeatable. Without it the
                            bundle's own key is used, which proves internal consistency only, not who signed it.
  --previous FILE           a signed checkpoint note saved earlier (provenant checkpoint -o FILE); the bundle must
                            prove the log extends it (fetch it with provenant bundle --since FILE). A trailing
                            newline or CRLF line ends are accepted; a file that is not a signed checkpoint note
                            is a usage error (exit 2).
  --help                    print this help.

Exit status: 0 valid, 1 invalid, 2 usage or I/O error (including a malformed --previous file).`;

type Io = { out: (s: string) => void; err: (s: string) => void };

/** Runs `provenant verify` with the arguments after the command name; returns the exit code. */
export async function runVerify(args: string[], io: Io): Promise<number> {
  const usage = (msg: string): number => {
    io.err(`provenant verify: ${msg}`);
    io.err(VERIFY_USAGE);
    return 2;
  };

  const keys: string[] = [];
  let previousFile: string | undefined;
  let bundleFile: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const eq = a.startsWith('--') ? a.indexOf('=') : -1;
    const flag = eq > 0 ? a.slice(0, eq) : a;
    const inline = eq > 0 ? a.slice(eq + 1) : undefined;
    const value = (): string | undefined => inline ?? args[++i];
    if (flag === '--help' || flag === '-h') {
      io.out(VERIFY_USAGE);
      return 0;
    } else if (flag === '--key') {
      const v = value();
      if (v === undefined || v === '') return usage('--key needs a verifier key');
      const parsed = parseVerifierKey(v);
      if (!parsed.ok) return usage(`--key ${JSON.stringify(v)}: ${parsed.error}`);
      keys.push(v);
    } else if (flag === '--previous') {
      const v = value();
      if (v === undefined || v === '') return usage('--previous needs a file');
      if (previousFile !== undefined) return usage('--previous given more than once');
      previousFile = v;
    } else if (a.startsWith('-') && a !== '-') {
      return usage(`unknown option ${a}`);
    } else {
      if (bundleFile !== undefined) return usage(`unexpected argument ${a}`);
      bundleFile = a;
    }
  }
  if (bundleFile === undefined) return usage('missing BUNDLE.json');

  const read = (file: string, what: string): string | undefined => {
    try {
      return readFileSync(resolve(file), 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      io.err(`provenant verify: cannot read ${what} ${file}: ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
      return undefined;
    }
  };

  const text = read(bundleFile, 'bundle');
  if (text === undefined) return 2;
  let bundle: unknown;
  try {
    bundle = JSON.parse(text);
  } catch (e) {
    io.err(`provenant verify: ${bundleFile} is not valid JSON: ${(e as Error).message}`);
    return 2;
  }
  let previousCheckpoint: string | undefined;
  if (previousFile !== undefined) {
    const kept = read(previousFile, 'previous checkpoint');
    if (kept === undefined) return 2;
    const note = normaliseKeptNote(kept);
    const malformed = noteShapeError(note);
    if (malformed !== undefined) {
      io.err(`provenant verify: --previous ${previousFile} ${malformed} (expected the signed note saved by "provenant checkpoint")`);
      return 2;
    }
    previousCheckpoint = note;
  }

  if (keys.length === 0) {
    const own = typeof bundle === 'object' && bundle !== null ? (bundle as { verifierKey?: unknown }).verifierKey : undefined;
    if (typeof own !== 'string' || own === '') {
      return usage('no --key given and the bundle carries no verifierKey');
    }
    const parsed = parseVerifierKey(own);
    if (!parsed.ok) return usage(`no --key given and the bundle's verifierKey is unusable: ${parsed.error}`);
    io.err(
      `WARNING: no --key given; using the bundle's own verifier key ${own.split('+').slice(0, 2).join('+')}. ` +
        'This only proves the bundle is internally consistent, not who signed it: pass the log key you trust with --key.',
    );
    keys.push(own);
  }

  const format = typeof bundle === 'object' && bundle !== null ? (bundle as { format?: unknown }).format : undefined;
  if (format === BUNDLE_FORMAT_V2 || format === ITEM_STATEMENT_FORMAT) {
    // v2 bundles and item statements: one dispatch, which prints exactly what was proven.
    const v = verifyAnyBundle(bundle, previousCheckpoint === undefined ? { verifierKeys: keys } : { verifierKeys: keys, previousCheckpoint });
    if (!v.ok) {
      const f = v.failure;
      io.out(`INVALID: item ${f.item} seq ${f.seq ?? '-'}: ${f.check}: ${f.message}`);
      return 1;
    }
    io.out(`VALID: item ${v.item}: ${v.summary}`);
    return 0;
  }
  const r = verifyBundle(bundle, previousCheckpoint === undefined ? { verifierKeys: keys } : { verifierKeys: keys, previousCheckpoint });
  if (!r.ok) {
    const f = r.failure;
    io.out(`INVALID: item ${f.item} seq ${f.seq ?? '-'}: ${f.check}: ${f.message}`);
    return 1;
  }
  const sgtin = (bundle as { item: { sgtin: string } }).item.sgtin;
  io.out(
    `VALID: item ${sgtin}: ${r.length} event${r.length === 1 ? '' : 's'}, complete and included in tree size ${r.treeSize}, root ${toHex(r.rootHash)}` +
      (previousCheckpoint !== undefined ? ' (consistent with the previous checkpoint)' : ''),
  );
  return 0;
}

/**
 * A kept checkpoint note as C2SP writes it: LF line ends and exactly one final newline. Editors and shell
 * redirections add a trailing newline, CRLFs or a byte-order mark; none is part of what was signed (the signature covers the note
 * text before the blank line), so both are undone here.
 */
export function normaliseKeptNote(text: string): string {
  const lf = text.replace(/^\uFEFF/, '').replace(/\r\n/g, '\n');
  return lf.trim() === '' ? '' : lf.replace(/\n*$/, '\n');
}

/**
 * Why `note` is not a signed checkpoint note at all (a usage error, whoever signed it), or undefined when it is
 * well formed; whether its signature is trusted is for the verification to say.
 */
function noteShapeError(note: string): string | undefined {
  if (note === '') return 'is empty';
  // With no trusted keys a well-formed note can only fail for lack of a verifiable signature.
  const shape = verifyNote(note, []);
  if (!shape.ok && shape.error !== 'note has no verifiable signatures') return `is not a signed checkpoint note: ${shape.error}`;
  const c = parseCheckpoint(note.slice(0, note.lastIndexOf('\n\n') + 1));
  if (!c.ok) return `is not a checkpoint: ${c.error}`;
  return undefined;
}
