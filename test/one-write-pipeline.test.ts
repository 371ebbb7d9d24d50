import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// Issue 11, "One pipeline for every write": one function (src/services/ledger-write.ts) owns a write's transaction,
// its retries, its idempotency key and the integration of what it logged. Use cases and resolvers describe their
// write to it; they neither open a read-write transaction nor run the retry loop or the key bookkeeping themselves.

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SCANNED = ['src/services', 'src/graphql'];

/**
 * Files that may still do it themselves, and why. Shrink it as writes move onto the pipeline; never grow it for a use
 * case (describe the write to `ledgerWrite` instead).
 */
const ALLOWED = new Map<string, string>([
  ['src/services/ledger-write.ts', 'the pipeline itself'],
  ['src/services/transaction.ts', 'defines withRetries / inLedgerTransaction'],
  ['src/services/idempotency.ts', 'defines the key bookkeeping'],
  ['src/services/integrate.ts', "the integrator's own transaction (not a use case)"],
  ['src/services/record-event.ts', 'recordEvent goes through ledgerWrite with its own executor; its key is judged from its facts statement (decideRecordEvent), one for a whole batch'],
  ['src/services/record-batch.ts', 'the group-commit batcher: the executor of batchable lifecycle writes'],
  ['src/services/epcis-capture.ts', 'EPCIS capture composes its writes in one transaction of its own (to move)'],
  ['src/services/epcis-bulk.ts', 'EPCIS bulk capture (to move)'],
]);

const BYPASSES: readonly RegExp[] = [
  // the retry loop and the one-call transaction wrapper
  /\bwithRetries\s*[(<]/,
  /\binLedgerTransaction\s*[(<]/,
  // the idempotency bookkeeping
  /\b(idempotent|checkIdempotency|storeIdempotency|idempotencyVerdict|insertIdempotencyKey|findIdempotencyKey)\s*[(<]/,
  // a transaction opened by hand that is not read-only (a write outside the pipeline)
  /\.transaction\(\)(?!\.setIsolationLevel\([^)]*\)\.setAccessMode\('read only'\)|\.setAccessMode\('read only'\))/,
];

function files(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((d) => {
    const path = `${dir}/${d.name}`;
    if (d.isDirectory()) return files(path);
    return d.name.endsWith('.ts') ? [path] : [];
  });
}

const isComment = (line: string): boolean => /^\s*(\/\/|\/\*|\*)/.test(line);
const bypasses = (line: string): boolean => !isComment(line) && BYPASSES.some((re) => re.test(line));

describe('one pipeline for every write', () => {
  it('the detector catches the retry loop, the key bookkeeping and a hand-opened write transaction', () => {
    for (const bad of [
      'return inLedgerTransaction(deps, (trx) => writeIt(trx));',
      'const { result, pending } = await withRetries(deps.db, async (trx) => {',
      'idempotent(trx, caller.id, key, \'op\', request, {',
      "const check = await checkIdempotency<{ id: string }>(trx, caller.id, key, 'op', input);",
      "await storeIdempotency(trx, caller.id, key, 'op', hash, saved);",
      'return db.transaction().execute((trx) => insertThing(trx, row));',
      'await deps.db.transaction().execute(async (trx) => {',
    ]) expect(bypasses(bad), bad).toBe(true);
    for (const ok of [
      'return ledgerWrite(deps, { operation: \'grantRights\', caller, request, idempotencyKey: input.idempotencyKey, check, write, save, replay });',
      "return db.transaction().setIsolationLevel('repeatable read').setAccessMode('read only').execute((trx) => audit(trx));",
      ' * runs in its own retried transaction (withRetries) — prose is fine',
      '// the old code called idempotent(trx, …) here',
    ]) expect(bypasses(ok), ok).toBe(false);
  });

  it('src/services and src/graphql write only through ledger-write.ts (allow-list aside)', () => {
    const all = SCANNED.flatMap(files);
    expect(all.length).toBeGreaterThan(40);
    const offenders: string[] = [];
    for (const f of all) {
      if (ALLOWED.has(f)) continue;
      readFileSync(join(ROOT, f), 'utf8').split('\n').forEach((line, i) => {
        if (bypasses(line)) offenders.push(`${f}:${i + 1}: ${line.trim()}`);
      });
    }
    expect(offenders).toEqual([]);
  });

  it('every write use case that was moved goes through ledgerWrite', () => {
    for (const f of [
      'create-actor', 'issue-api-key', 'revoke-api-key', 'register-product', 'grant-rights', 'revoke-rights', 'recall-batch', 'set-links',
      'set-disclosure-policy', 'actor-keys', 'erase-event-field', 'register-batch', 'pack-items', 'unpack-items', 'signed-event',
    ]) expect(readFileSync(join(ROOT, `src/services/${f}.ts`), 'utf8'), f).toMatch(/\bledgerWrite(In)?\(/);
  });

  it('the allow-list names existing files only (remove an entry when its file goes)', () => {
    for (const f of ALLOWED.keys()) expect(existsSync(join(ROOT, f)), f).toBe(true);
  });
});
