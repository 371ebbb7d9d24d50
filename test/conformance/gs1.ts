/**
 * GS1's EPCIS 2.0 reference files (github.com/gs1/EPCIS: `JSON/` examples, `JSON-Schema/`), the oracle of the
 * conformance suite. They are not shipped with Provenant (no clear redistribution licence): the suite reads them from
 * `PROVENANT_GS1_DIR`, default `../shared/vectors/epcis/gs1` relative to the repository root.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import type { FormatsPlugin } from 'ajv-formats';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const DEFAULT_GS1_DIR = '../shared/vectors/epcis/gs1';

/** The GS1 folder, resolved against the repository root (where `npm run test:conformance` runs). */
export function gs1Dir(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(REPO_ROOT, env['PROVENANT_GS1_DIR']?.trim() || DEFAULT_GS1_DIR);
}

/** Why the GS1 folder cannot be used, or null when it holds `JSON/` and `JSON-Schema/EPCIS-JSON-Schema-root.json`. */
export function gs1DirProblem(dir = gs1Dir()): string | null {
  const missing = [join(dir, 'JSON'), join(dir, 'JSON-Schema', 'EPCIS-JSON-Schema-root.json')].filter((p) => !existsSync(p));
  if (missing.length === 0) return null;
  return [
    `GS1 EPCIS reference files not found: ${missing.join(', ')} missing.`,
    `The conformance suite checks Provenant against GS1's EPCIS 2.0 JSON Schema and example documents, which Provenant does not ship.`,
    `Set PROVENANT_GS1_DIR to a folder holding GS1's JSON/ and JSON-Schema/ folders (from https://github.com/gs1/EPCIS)`,
    `(now ${process.env['PROVENANT_GS1_DIR'] ? `PROVENANT_GS1_DIR=${process.env['PROVENANT_GS1_DIR']}` : `unset: default ${DEFAULT_GS1_DIR} relative to the repository root`}, resolved to ${dir}).`,
  ].join(' ');
}

export type Json = Record<string, any>;
export const readJson = (path: string): Json => JSON.parse(readFileSync(path, 'utf8')) as Json;

export interface Gs1 {
  dir: string;
  examplesDir: string;
  /** The schema files added to ajv, relative to `JSON-Schema/`. */
  schemaFiles: string[];
  /** Absolute paths of the `.jsonld` example documents, sorted. */
  examples: string[];
  /** GS1's root schema, compiled. */
  validate: ValidateFunction;
  /** '' when GS1's schema accepts `doc`, else ajv's errors. */
  schemaErrors(doc: unknown): string;
  relative(file: string): string;
}

let loaded: Gs1 | undefined;

/**
 * GS1's schema as its repository documents using it: every schema file in one ajv 8 instance (`strict: false`,
 * ajv-formats), validation through the root schema's `$id`. Throws the clear message of {@link gs1DirProblem}.
 */
export function loadGs1(): Gs1 {
  if (loaded) return loaded;
  const dir = gs1Dir();
  const problem = gs1DirProblem(dir);
  if (problem) throw new Error(problem);
  const schemaDir = join(dir, 'JSON-Schema');
  const examplesDir = join(dir, 'JSON');
  const schemaFiles = [
    'EPCIS-JSON-Schema-root.json', 'EPCIS-Document-JSON-Schema.json', 'EPCIS-Event-JSON-Schema.json', 'EPCIS-Query-JSON-Schema-root.json',
    ...readdirSync(join(schemaDir, 'schemas')).filter((f) => f.endsWith('.json')).sort().map((f) => `schemas/${f}`),
  ];
  const addFormats = createRequire(import.meta.url)('ajv-formats') as FormatsPlugin;
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  for (const file of schemaFiles) ajv.addSchema(readJson(join(schemaDir, file)));
  const validate = ajv.getSchema(readJson(join(schemaDir, 'EPCIS-JSON-Schema-root.json'))['$id'] as string);
  if (!validate) throw new Error(`GS1's root schema did not compile (${schemaDir})`);
  const list = (d: string): string[] =>
    readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? list(join(d, e.name)) : e.name.endsWith('.jsonld') ? [join(d, e.name)] : []));
  loaded = {
    dir,
    examplesDir,
    schemaFiles,
    examples: list(examplesDir).sort(),
    validate,
    schemaErrors: (doc) => (validate(doc) ? '' : ajv.errorsText(validate.errors, { separator: '\n' })),
    relative: (file) => relative(examplesDir, file).split('\\').join('/'),
  };
  return loaded;
}
