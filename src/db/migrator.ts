import { readdir } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type Kysely, type Migration, type MigrationProvider, type MigrationResult, Migrator } from 'kysely';
import { analyzeSchema } from './statistics.ts';

const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));

/** Loads `migrations/*.ts` in file-name (timestamp) order. */
class FolderProvider implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    const files = (await readdir(MIGRATIONS_DIR)).filter((f) => /^\d{8}T\d{6}-[\w-]+\.ts$/.test(f)).sort();
    const out: Record<string, Migration> = {};
    for (const file of files) {
      out[file.replace(/\.ts$/, '')] = (await import(pathToFileURL(MIGRATIONS_DIR + file).href)) as Migration;
    }
    return out;
  }
}

export function migrator(db: Kysely<any>, schema?: string): Migrator {
  return new Migrator({ db, provider: new FolderProvider(), ...(schema ? { migrationTableSchema: schema } : {}) });
}

/** Migrates to latest. Throws with the failing migration's name and cause; a failed migration is rolled back. */
export async function migrateToLatest(db: Kysely<any>, schema?: string): Promise<MigrationResult[]> {
  const { error, results } = await migrator(db, schema).migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    throw new Error(`migration ${failed?.migrationName ?? '(unknown)'} failed: ${(error as Error).message ?? String(error)}`);
  }
  // A migration may rebuild tables or add indexes: fresh statistics before the first query plans against them.
  if (results && results.length > 0) await analyzeSchema(db);
  return results ?? [];
}

/** Names of migrations not yet applied (empty when the database is current). */
export async function pendingMigrations(db: Kysely<any>, schema?: string): Promise<string[]> {
  const all = await migrator(db, schema).getMigrations();
  return all.filter((m) => !m.executedAt).map((m) => m.name);
}
