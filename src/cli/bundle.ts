/**
 * `provenant bundle` and `provenant checkpoint`: fetch what `provenant verify` reads from a running server, so nobody
 * has to cut a bundle or a checkpoint note out of a GraphQL response by hand.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { DEFAULT_SERVER, EXIT, graphqlUrl, postGraphql, remoteFailure } from './remote.ts';

type Io = { out: (s: string) => void; err: (s: string) => void; env: NodeJS.ProcessEnv };

export const BUNDLE_USAGE = `Usage: provenant bundle <SGTIN URN | GS1 Digital Link> [--server URL] [--key API_KEY] [--since TREE_SIZE | --since CHECKPOINT_FILE] [-o FILE]

Fetches an item's proof bundle from a running server (GraphQL itemProofBundle) and writes it as JSON: exactly the
file "provenant verify" reads. The item is named by its SGTIN URN (urn:epc:id:sgtin:…) or GS1 Digital Link
(https://…/01/<gtin>/21/<serial>).

Options:
  --server URL        GraphQL endpoint (default $PROVENANT_SERVER or ${DEFAULT_SERVER}).
  --key API_KEY       your API key (default $PROVENANT_API_KEY); you must be allowed to see the item's whole history.
  --since N|FILE      include a consistency proof from tree size N, or from the tree size of a checkpoint note you
                      kept (see "provenant checkpoint"), so "provenant verify --previous FILE" can check the log only grew.
  -o, --output FILE   write to FILE instead of standard output.

Exit status: 0 written, 1 item not found (or not visible to your key) or not allowed, 2 usage error or refused key,
3 server unreachable or unable to answer.`;

export const CHECKPOINT_USAGE = `Usage: provenant checkpoint [--server URL] [--size TREE_SIZE] [-o FILE]

Fetches the log's latest signed checkpoint note (or the one of --size) from a running server and writes it exactly
as signed. Keep it: later, "provenant bundle ITEM --since FILE" and "provenant verify BUNDLE --previous FILE" prove
that the log you see then extends the one you saw now (nothing was rewritten). No API key needed.

Options:
  --server URL        GraphQL endpoint (default $PROVENANT_SERVER or ${DEFAULT_SERVER}).
  --size N            the checkpoint of tree size N instead of the latest.
  -o, --output FILE   write to FILE instead of standard output.

Exit status: 0 written, 1 no such checkpoint, 2 usage error, 3 server unreachable or unable to answer.`;

/** Writes through a temporary file and a rename: a failure leaves no half-written FILE. */
function writeOutput(file: string | undefined, text: string, io: Io): void {
  if (file === undefined || file === '-') {
    io.out(text.endsWith('\n') ? text.slice(0, -1) : text);
    return;
  }
  const path = resolve(file);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

function parse(args: string[], options: ParseArgsConfig['options'], io: Io, usage: string, name: string) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    io.err(`provenant ${name}: ${(e as Error).message}`);
    io.err(usage);
    return undefined;
  }
}

/** The tree size in a checkpoint note: its second line (c2sp.org/tlog-checkpoint). */
export function checkpointTreeSize(note: string): number | undefined {
  const line = note.split('\n')[1];
  return line !== undefined && /^(0|[1-9]\d{0,15})$/.test(line) ? Number(line) : undefined;
}

/** Runs `provenant bundle` with the arguments after the command name; returns the exit code. */
export async function runBundle(args: string[], io: Io): Promise<number> {
  const usage = (msg: string) => {
    io.err(`provenant bundle: ${msg}`);
    io.err(BUNDLE_USAGE);
    return EXIT.usage;
  };
  const parsed = parse(args, { server: { type: 'string' }, key: { type: 'string' }, since: { type: 'string' }, output: { type: 'string', short: 'o' }, help: { type: 'boolean', short: 'h' } }, io, BUNDLE_USAGE, 'bundle');
  if (!parsed) return EXIT.usage;
  const v = parsed.values as { server?: string; key?: string; since?: string; output?: string; help?: boolean };
  if (v.help) {
    io.out(BUNDLE_USAGE);
    return EXIT.ok;
  }
  if (parsed.positionals.length !== 1) return usage(parsed.positionals.length === 0 ? 'name the item (SGTIN URN or GS1 Digital Link)' : `unexpected argument ${parsed.positionals[1]}`);
  const item = parsed.positionals[0]!.trim();
  let by: { sgtin: string } | { digitalLink: string };
  if (/^urn:epc:id:sgtin:/i.test(item)) by = { sgtin: item };
  else if (/^https?:\/\//i.test(item)) by = { digitalLink: item };
  else return usage(`"${item}" is neither an SGTIN URN (urn:epc:id:sgtin:…) nor a GS1 Digital Link (https://…/01/<gtin>/21/<serial>)`);
  const url = graphqlUrl(v.server ?? io.env.PROVENANT_SERVER ?? DEFAULT_SERVER);
  if (!url) return usage(`--server must be an http(s) URL, got "${v.server ?? io.env.PROVENANT_SERVER}"`);
  const key = v.key ?? io.env.PROVENANT_API_KEY;
  if (!key) return usage('no API key: pass --key or set PROVENANT_API_KEY');
  let since: number | undefined;
  if (v.since !== undefined) {
    if (/^\d+$/.test(v.since)) since = Number(v.since);
    else {
      let note: string;
      try {
        note = readFileSync(resolve(v.since), 'utf8');
      } catch (e) {
        return usage(`--since ${v.since}: not a tree size, and cannot read it as a checkpoint file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
      since = checkpointTreeSize(note);
      if (since === undefined) return usage(`--since ${v.since}: not a checkpoint note (its second line must be the tree size)`);
    }
  }

  const r = await postGraphql<{ itemProofBundle: unknown }>(
    url,
    'query Bundle($sgtin: String, $digitalLink: String, $since: Int) { itemProofBundle(sgtin: $sgtin, digitalLink: $digitalLink, sinceTreeSize: $since) }',
    { ...by, since: since ?? null },
    key,
  );
  if (r.kind !== 'ok') return remoteFailure(r, io.err, 'provenant bundle', 'pass a valid key with --key or PROVENANT_API_KEY');
  if (r.data.itemProofBundle === null || r.data.itemProofBundle === undefined) {
    io.err(`provenant bundle: item ${item} not found (or not visible to this API key)`);
    return EXIT.failure;
  }
  writeOutput(v.output, JSON.stringify(r.data.itemProofBundle, null, 2) + '\n', io);
  if (v.output !== undefined && v.output !== '-') io.err(`wrote the proof bundle of ${item} to ${v.output}`);
  return EXIT.ok;
}

/** Runs `provenant checkpoint`; returns the exit code. */
export async function runCheckpoint(args: string[], io: Io): Promise<number> {
  const usage = (msg: string) => {
    io.err(`provenant checkpoint: ${msg}`);
    io.err(CHECKPOINT_USAGE);
    return EXIT.usage;
  };
  const parsed = parse(args, { server: { type: 'string' }, size: { type: 'string' }, output: { type: 'string', short: 'o' }, help: { type: 'boolean', short: 'h' } }, io, CHECKPOINT_USAGE, 'checkpoint');
  if (!parsed) return EXIT.usage;
  const v = parsed.values as { server?: string; size?: string; output?: string; help?: boolean };
  if (v.help) {
    io.out(CHECKPOINT_USAGE);
    return EXIT.ok;
  }
  if (parsed.positionals.length > 0) return usage(`unexpected argument ${parsed.positionals[0]}`);
  const url = graphqlUrl(v.server ?? io.env.PROVENANT_SERVER ?? DEFAULT_SERVER);
  if (!url) return usage(`--server must be an http(s) URL, got "${v.server ?? io.env.PROVENANT_SERVER}"`);
  if (v.size !== undefined && !/^\d+$/.test(v.size)) return usage(`--size must be a tree size (a whole number), got "${v.size}"`);
  const r = await postGraphql<{ checkpoint: { note: string; treeSize: number } | null }>(
    url,
    'query Checkpoint($size: Int) { checkpoint(treeSize: $size) { note treeSize } }',
    { size: v.size === undefined ? null : Number(v.size) },
    undefined,
  );
  if (r.kind !== 'ok') return remoteFailure(r, io.err, 'provenant checkpoint', 'no key is needed for checkpoints');
  if (!r.data.checkpoint) {
    io.err(`provenant checkpoint: ${v.size === undefined ? 'the log has no signed checkpoint yet' : `no signed checkpoint of tree size ${v.size}`}`);
    return EXIT.failure;
  }
  writeOutput(v.output, r.data.checkpoint.note, io);
  if (v.output !== undefined && v.output !== '-') io.err(`wrote the signed checkpoint of tree size ${r.data.checkpoint.treeSize} to ${v.output}`);
  return EXIT.ok;
}
