/**
 * `provenant audit`: directly on the database (takes the embedded data folder's lock, so it is refused while a server
 * owns the folder), or with `--server URL` through a running server's operator-only `audit` query.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { AuditReport } from '../services/audit.ts';
import { DEFAULT_SERVER, EXIT, graphqlUrl, postGraphql, remoteFailure } from './remote.ts';

type Io = { out: (s: string) => void; err: (s: string) => void; env: NodeJS.ProcessEnv };

export const AUDIT_USAGE = `Usage: provenant audit [--server URL [--key OPERATOR_KEY]]

Recomputes the Merkle root from every stored event and compares it with the stored tree and the latest signed
checkpoint, checks every event body against its columns and chain links, and re-verifies every item chain.

Without --server it reads the configured database itself (DATABASE_URL, or the embedded database in
PROVENANT_DATA_DIR) and shows progress on stderr. An embedded data folder belongs to one process: while a server
runs on it, this is refused (exit 3, naming the server's PID); audit through the server instead.

  --server URL        audit through a running server (its operator-only GraphQL query "audit"), on one consistent
                      snapshot while writes go on. URL is the GraphQL endpoint, e.g. ${DEFAULT_SERVER}.
  --key OPERATOR_KEY  the operator key (default $PROVENANT_OPERATOR_KEY, else the operator-key file in
                      PROVENANT_DATA_DIR).

Exit status: 0 clean, 1 discrepancies found (each is printed), 2 usage or configuration error (a refused key
included), 3 could not audit: data folder in use by another process, server or database unreachable, internal error.`;

/** Prints a report; returns 0 when clean, 1 with discrepancies. */
export function printReport(report: AuditReport, out: (s: string) => void): number {
  out(`audited ${report.events} events (tree size ${report.treeSize}), ${report.items} items, ${report.links} chain links`);
  if (report.pending > 0) out(`${report.pending} events were pending integration (their links were not checked)`);
  if (report.discrepancies.length === 0) {
    out('OK: log root, checkpoint and every item chain verify');
    return EXIT.ok;
  }
  out(`FAILED: ${report.discrepancies.length} discrepancies`);
  for (const d of report.discrepancies) out(`  - ${d}`);
  return EXIT.failure;
}

export function parseAuditArgs(args: string[], io: Io): { server?: string; key?: string; help?: boolean } | undefined {
  try {
    const p = parseArgs({ args, options: { server: { type: 'string' }, key: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, allowPositionals: false, strict: true });
    if (p.values.key !== undefined && p.values.server === undefined) throw new Error('--key is only for --server');
    return p.values;
  } catch (e) {
    io.err(`provenant audit: ${(e as Error).message}`);
    io.err(AUDIT_USAGE);
    return undefined;
  }
}

/** `audit --server`: runs the operator-only `audit` query and prints its report. */
export async function auditThroughServer(server: string, keyArg: string | undefined, io: Io): Promise<number> {
  const url = graphqlUrl(server);
  if (!url) {
    io.err(`provenant audit: --server must be an http(s) URL, got "${server}"`);
    return EXIT.usage;
  }
  let key = keyArg ?? io.env.PROVENANT_OPERATOR_KEY?.trim();
  if (!key) {
    const file = join(resolve(io.env.PROVENANT_DATA_DIR || './.provenant'), 'operator-key');
    if (existsSync(file)) key = readFileSync(file, 'utf8').trim();
  }
  if (!key) {
    io.err('provenant audit: no operator key: pass --key, set PROVENANT_OPERATOR_KEY, or run where PROVENANT_DATA_DIR holds the operator-key file');
    return EXIT.usage;
  }
  const r = await postGraphql<{ audit: AuditReport }>(url, 'query Audit { audit { treeSize events items links pending discrepancies } }', {}, key);
  if (r.kind === 'auth') {
    // A key that is not the operator's is a configuration problem, never "discrepancies found".
    io.err(`provenant audit: ${r.code === 'UNAUTHENTICATED' ? 'authentication failed' : 'not allowed'}: ${r.message} (the audit needs the operator key)`);
    return EXIT.usage;
  }
  if (r.kind !== 'ok') return remoteFailure(r, io.err, 'provenant audit', 'the audit needs the operator key');
  return printReport(r.data.audit, io.out);
}
