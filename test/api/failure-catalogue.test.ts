import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getNamedType, isUnionType } from 'graphql';
import { describe, expect, it } from 'vitest';
import { FAILURE_KINDS, type FailureOf, RULE_CODES, denied } from '../../src/core/failures.ts';
import { MUTATION_FAILURES, failureToGraphQL } from '../../src/graphql/types/errors.ts';
import { schema } from '../../src/graphql/schema.ts';
import { CREATE_ACTOR_FAILURES, type CreateActorResult } from '../../src/services/create-actor.ts';
import { CAPTURE_EPCIS_FAILURES, type EpcisCaptureResult } from '../../src/services/epcis-capture.ts';
import type { SetLinksResult } from '../../src/services/set-links.ts';

// Issue 11: failures are structured values from one catalogue (src/core/failures.ts); each use case declares what it
// may fail with, its mutation's union is built from that declaration, and nothing matches error text.

describe('mutation unions are derived from the use cases’ failure declarations', () => {
  const mutations = Object.values(schema.getMutationType()!.getFields());

  it('every mutation result union (the EPCIS capture\'s too) is built from a declared failure spec, member for member', () => {
    expect(mutations.length).toBeGreaterThanOrEqual(19);
    for (const field of mutations) {
      const type = getNamedType(field.type);
      expect(isUnionType(type), field.name).toBe(true);
      const spec = MUTATION_FAILURES.get(type.name);
      expect(spec, `${field.name}: ${type.name} not built by resultUnion from a spec`).toBeDefined();
      const members = isUnionType(type) ? type.getTypes().map((t) => t.name) : [];
      const errors = members.filter((m) => !m.endsWith('Success'));
      expect(errors.sort(), field.name).toEqual([...spec!.kinds].sort());
      expect(members.length - errors.length, `${field.name}: one success type`).toBe(1);
    }
  });

  it('every failure kind and every rule code of the catalogue is reachable through at least one mutation', () => {
    const specs = [...MUTATION_FAILURES.values()];
    const kinds = new Set(specs.flatMap((s) => s.kinds));
    const rules = new Set(specs.flatMap((s) => s.rules));
    expect(FAILURE_KINDS.filter((k) => !kinds.has(k))).toEqual([]);
    expect(RULE_CODES.filter((r) => !rules.has(r))).toEqual([]);
    for (const r of rules) expect(RULE_CODES, `undeclared rule ${r}`).toContain(r);
  });

  it('a use case that names rule codes can return PermissionDeniedError', () => {
    for (const [name, spec] of MUTATION_FAILURES) {
      if (spec.rules.length > 0) expect(spec.kinds, name).toContain('PermissionDeniedError');
      expect(new Set(spec.kinds).size, name).toBe(spec.kinds.length);
    }
  });

  it('types: a failure outside a use case’s declaration does not fit its result (checked by npm run typecheck)', () => {
    // @ts-expect-error createActor declares no NotFoundError
    const notDeclared: CreateActorResult = { kind: 'NotFoundError', message: 'x' };
    // @ts-expect-error setLinks declares only NOT_BRAND_OWNER among the rules
    const wrongRule: SetLinksResult = denied('NOT_GRANTOR', 'x');
    const declared: FailureOf<typeof CREATE_ACTOR_FAILURES> = denied('OPERATOR_REQUIRED', 'only the operator');
    expect([notDeclared.kind, wrongRule.kind, declared.kind]).toEqual(['NotFoundError', 'PermissionDeniedError', 'PermissionDeniedError']);
    // @ts-expect-error the EPCIS capture declares no NotFoundError (a missing item is a problem of its EpcisCaptureError)
    const notCaptured: EpcisCaptureResult = { kind: 'NotFoundError', message: 'x' };
    const refused: FailureOf<typeof CAPTURE_EPCIS_FAILURES> = { kind: 'EpcisCaptureError', code: 'LIMIT', message: 'too big', problems: [] };
    expect(failureToGraphQL(refused)).toEqual({ __typename: 'EpcisCaptureError', code: 'LIMIT', message: 'too big', problems: [] });
    expect(notCaptured.kind).toBe('NotFoundError');
    expect(failureToGraphQL(declared)).toEqual({ __typename: 'PermissionDeniedError', rule: 'OPERATOR_REQUIRED', message: 'only the operator', items: [] });
  });
});

// ---- nobody reads a failure's message to decide anything ----

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SCANNED = ['src/services', 'src/graphql'];

/** Ways of deciding on a message's text: string tests on it, regexes over it, comparisons with a literal. */
const MESSAGE_MATCHING = [
  /\bmessage\??\.\s*(includes|startsWith|endsWith|match|matchAll|search|indexOf|lastIndexOf)\s*\(/,
  /\.(test|exec)\(\s*[\w.?!]*\bmessage\s*\)/,
  /\bmessage\s*[!=]==?\s*['"`]/,
  /['"`]\s*[!=]==?\s*[\w.?!]*\bmessage\b/,
];

/** Lines allowed to read a message (none: EPCIS capture now reads failures' structured `subject`). */
const KNOWN = new Map<string, readonly string[]>();

function files(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((d) => {
    const path = `${dir}/${d.name}`;
    if (d.isDirectory()) return files(path);
    return d.name.endsWith('.ts') ? [path] : [];
  });
}

const matchesMessage = (line: string): boolean => MESSAGE_MATCHING.some((re) => re.test(line));

describe('no resolver or use case decides on error text', () => {
  it('the detector catches the usual ways and lets plain uses of a message through', () => {
    for (const bad of [
      "if (f.message.includes('not found')) {",
      'const m = /container (\\d+)/.exec(f.message);',
      "return /^batch /.test(result.message) ? a : b;",
      "if (e.message === 'gone') throw e;",
      "const same = 'x' !== err?.message;",
      'if (message.startsWith("item")) return;',
    ]) expect(matchesMessage(bad), bad).toBe(true);
    for (const ok of [
      'throw inputError(named.field, named.message);',
      "return invalid(problem.field, problem.message);",
      "fields: (t) => ({ message: t.exposeString('message') }),",
      'report(`log: ${(e as Error).message}`);',
    ]) expect(matchesMessage(ok), ok).toBe(false);
  });

  it('src/services and src/graphql never test, match or compare a message', () => {
    const all = SCANNED.flatMap(files);
    expect(all.length).toBeGreaterThan(40);
    const offenders: string[] = [];
    for (const f of all) {
      const allowed = KNOWN.get(f) ?? [];
      readFileSync(join(ROOT, f), 'utf8').split('\n').forEach((line, i) => {
        if (matchesMessage(line) && !allowed.includes(line.trim())) offenders.push(`${f}:${i + 1}: ${line.trim()}`);
      });
    }
    expect(offenders).toEqual([]);
  });
});
