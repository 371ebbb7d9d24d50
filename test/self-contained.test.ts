import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// CI runs with a shared/ folder beside the clone, so a test or a runtime path that reads it would pass there and fail
// in a plain clone. Nothing the server or `npm test` runs may name it; only the conformance suite (GS1's files) does.
const ROOT = fileURLToPath(new URL('../', import.meta.url));
const SCANNED = ['src', 'bin', 'seeds', 'bench', 'migrations', 'test'];
const ALLOWED = ['test/conformance/', 'test/vectors/SOURCES.md', 'test/self-contained.test.ts'];

function files(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((d) => {
    const path = `${dir}/${d.name}`;
    if (d.isDirectory()) return path === 'test/vectors/ledger' || path === 'test/vectors/epcis' ? [] : files(path);
    return /\.(ts|mjs|js|json|md)$/.test(d.name) ? [path] : [];
  });
}

describe('a plain clone is self-contained', () => {
  it('no source, script or npm test file refers to ../shared', () => {
    const all = SCANNED.flatMap(files);
    expect(all.length).toBeGreaterThan(50);
    const offenders = all
      .filter((f) => !ALLOWED.some((a) => f.startsWith(a)))
      .filter((f) => /\.\.\/shared\b|\/work\/shared\b|'shared\/vectors|"shared\/vectors/.test(readFileSync(join(ROOT, f), 'utf8')))
      .map((f) => relative(ROOT, join(ROOT, f)));
    expect(offenders).toEqual([]);
  });

  it('the vectors npm test uses are in the repository', () => {
    for (const f of ['ledger/rfc6962-vectors.json', 'ledger/signed-note-vectors.json', 'epcis/hash-vectors.json', 'epcis/dl-normalisation-vectors.json', 'SOURCES.md']) {
      expect(() => readFileSync(join(ROOT, 'test/vectors', f))).not.toThrow();
    }
    expect(files('test/vectors').some((f) => f.includes('gs1'))).toBe(false);
  });
});
