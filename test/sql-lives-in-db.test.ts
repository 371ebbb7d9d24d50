import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// Team rule 4 and issue 11: all SQL lives in src/db as plain functions of (db | trx, …). Use cases and resolvers call
// those functions; they neither build queries (kysely's query builder or `sql` templates), nor run one a db function
// hands back, nor compose SQL fragments (the `…Sql(scope, alias)` visibility builders).

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SCANNED = ['src/services', 'src/graphql'];

/** Files allowed to hold SQL: none. Keep it empty: a query belongs in src/db as a function of (db | trx, …). */
const ALLOWED = new Set<string>([]);

const SQL_PATTERNS: readonly RegExp[] = [
  // kysely's query builder
  /\.(selectFrom|insertInto|updateTable|deleteFrom|replaceInto|mergeInto|withRecursive|selectNoFrom)\s*\(/,
  // raw SQL: the `sql` tag (sql`…`, sql<T>`…`) and its helpers
  /\bsql\s*(<[^>]*>\s*)?`/,
  /\bsql\.(raw|ref|lit|id|join|table|val|value)\s*\(/,
  // running a query built elsewhere (a db function must run it): execute() without arguments, or raw SQL on a connection
  /\.execute(TakeFirst|TakeFirstOrThrow)?\(\s*\)/,
  /\.execute\(\s*(ctx\.)?(db|trx)\s*\)/,
  /\.executeQuery\s*\(/,
  /\bCompiledQuery\b/,
  // composing SQL fragments (visibility and the like)
  /\b[a-z]\w*Sql\s*\(/,
  // any value import from kysely (types only are fine)
  /^\s*import\s+(?!type\b)[^;]*from\s+['"]kysely['"]/,
];

function files(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((d) => {
    const path = `${dir}/${d.name}`;
    if (d.isDirectory()) return files(path);
    return d.name.endsWith('.ts') ? [path] : [];
  });
}

/** A comment line (TSDoc, block or line comment) never counts: names of SQL builders are fine in prose. */
const isComment = (line: string): boolean => /^\s*(\/\/|\/\*|\*)/.test(line);
const holdsSql = (line: string): boolean => !isComment(line) && SQL_PATTERNS.some((re) => re.test(line));

describe('SQL lives in src/db', () => {
  it('the detector catches query building, raw SQL and fragments, and lets calls of db functions through', () => {
    for (const bad of [
      "const row = await trx.selectFrom('items').select(['gtin']).where('id', '=', id).executeTakeFirst();",
      "await trx.insertInto('container_members').values(rows).execute();",
      "await trx.updateTable('batches').set({ recalled_at: now }).where('id', '=', id).execute();",
      "await trx.deleteFrom('container_members').where('parent_sscc', '=', sscc).execute();",
      'const rows = await sql<{ prefix: string }>`SELECT 1`.execute(db);',
      'base = base.where(sql`e.kind = ${k}`);',
      "const c = sql.ref('e.id');",
      'const rows = await readableGrants(ctx.db, viewer.id, all).where(x).execute();',
      'const r = await q.executeTakeFirstOrThrow();',
      "q = q.where(eventVisibleSql(ctx.scope, 'e'));",
      "import { sql } from 'kysely';",
      "import { type RawBuilder, sql } from 'kysely';",
      'await db.executeQuery(compiled);',
    ]) expect(holdsSql(bad), bad).toBe(true);
    for (const ok of [
      "import type { Kysely } from 'kysely';",
      'const rows = await findEventPage(ctx.db, ctx.scope, filter, page);',
      'return db.transaction().execute(async (trx) => run(trx));',
      'const result = await db.transaction().execute((trx) => packItemsIn(trx, deps, caller, input));',
      ' * Visibility is exactly `eventVisibleSql`, the rule of every other read.',
      '// the query used to call selectFrom(…) here',
      "const label = 'select from the list';",
    ]) expect(holdsSql(ok), ok).toBe(false);
  });

  it('src/services and src/graphql build, run or compose no SQL (allow-list aside)', () => {
    const all = SCANNED.flatMap(files);
    expect(all.length).toBeGreaterThan(40);
    const offenders: string[] = [];
    for (const f of all) {
      if (ALLOWED.has(f)) continue;
      readFileSync(join(ROOT, f), 'utf8').split('\n').forEach((line, i) => {
        if (holdsSql(line)) offenders.push(`${f}:${i + 1}: ${line.trim()}`);
      });
    }
    expect(offenders).toEqual([]);
  });

  it('the allow-list names existing files only (remove an entry when its file goes)', () => {
    for (const f of ALLOWED) expect(existsSync(join(ROOT, f)), f).toBe(true);
  });
});
