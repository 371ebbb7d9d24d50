import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { VECTORS_DIR, generateLedgerV2Vectors, serialize } from '../../bench/gen-ledger-v2-vectors.ts';
import { CHECKS_V2 } from '../../src/core/v2/bundle-v2.ts';
import { verifyAnyBundle } from '../../src/core/verify-any.ts';

type Vector = {
  desc: string;
  bundle: { format: string };
  verifierKeys: string[];
  previousCheckpoint?: string;
  want: { ok: true; summary: string } | { ok: false; check: string; seq: number | null };
};

const load = (sub: string): [string, Vector][] =>
  readdirSync(join(VECTORS_DIR, sub))
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => [`${sub}/${f}`, JSON.parse(readFileSync(join(VECTORS_DIR, sub, f), 'utf8')) as Vector]);

const golden = load('golden');
const probes = load('probes');
const run = (v: Vector) =>
  verifyAnyBundle(v.bundle, { verifierKeys: v.verifierKeys, ...(v.previousCheckpoint !== undefined ? { previousCheckpoint: v.previousCheckpoint } : {}) });

describe('ledger v2 vectors', () => {
  it('has golden bundles of every required kind and at least 40 probes', () => {
    expect(golden.length).toBeGreaterThanOrEqual(8);
    expect(probes.length).toBeGreaterThanOrEqual(40);
    // every named check is exercised by some probe except the ones no corruption of a well-formed bundle can reach
    const checks = new Set(probes.map(([, v]) => (v.want as { check: string }).check));
    for (const c of CHECKS_V2) expect(checks, c).toContain(c);
  });

  it.each(golden)('%s verifies and says what it proves', (_name, v) => {
    const r = run(v);
    expect(r.ok ? r.summary : r.failure).toEqual((v.want as { summary: string }).summary);
  });

  it.each(probes)('%s fails with its named check and seq', (_name, v) => {
    const r = run(v);
    expect(r.ok).toBe(false);
    if (r.ok || v.want.ok) return;
    expect({ check: r.failure.check, seq: r.failure.seq }).toEqual({ check: v.want.check, seq: v.want.seq });
  });

  it('golden bundles and statements match docs/ledger-bundle-v2.schema.json; malformed ones do not', () => {
    const schema = JSON.parse(readFileSync(new URL('../../docs/ledger-bundle-v2.schema.json', import.meta.url), 'utf8'));
    const validate = new Ajv2020({ strict: false }).compile(schema);
    for (const [name, v] of golden) expect(validate(v.bundle), `${name}: ${JSON.stringify(validate.errors)}`).toBe(true);
    for (const [name, v] of probes.filter(([, p]) => p.want.ok === false && p.want.check === 'format')) {
      if (name.includes('digital-link')) continue; // same shape, different item: only the verifier can tell
      expect(validate(v.bundle), name).toBe(false);
    }
  });

  it('the committed files are exactly what bench/gen-ledger-v2-vectors.ts generates', async () => {
    const files = await generateLedgerV2Vectors();
    const committed = [...golden, ...probes].map(([n]) => n).sort();
    expect(committed).toEqual([...files.keys()].sort());
    for (const [name, v] of files) expect(serialize(v), name).toBe(readFileSync(join(VECTORS_DIR, name), 'utf8'));
  }, 180_000);
});
