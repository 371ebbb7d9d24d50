import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig } from '../server/config.ts';
import { DataFolderLockedError } from '../server/data-lock.ts';
import { EXIT } from './remote.ts';

const HELP: Record<string, string> = {
  '': `provenant — verifiable product-lifecycle ledger

Usage: provenant <command> [options]

Commands:
  serve       run the GraphQL server (migrates and seeds demo data on first start)
  migrate     apply pending database migrations
  seed        load the demo data into an empty database
  schema      write the printed GraphQL schema to schema.graphql (--check: fail if stale)
  log-key     print the log's verifier key (what auditors pin)
  verify      verify an item proof bundle offline (no database, no network)
  bundle      fetch an item's proof bundle from a running server (what verify reads)
  checkpoint  fetch the log's signed checkpoint note from a running server (keep it for verify --previous)
  audit       recompute the whole log and every item chain (from the database, or --server through a running server)

Run "provenant <command> --help" for a command's options. Configuration comes from the environment;
see README.md (PORT, PROVENANT_DATA_DIR, DATABASE_URL, PROVENANT_OPERATOR_KEY, …).

An embedded data folder (no DATABASE_URL) belongs to one process: serve, migrate, seed and audit are refused while
another process holds it, naming its PID.

Exit status: 0 success; 1 a negative answer (bundle INVALID, audit discrepancies, item not found, stale schema);
2 usage or configuration error; 3 could not run (data folder in use by another process, server or database
unreachable, internal error).`,
  serve: `Usage: provenant serve

Starts the GraphQL server on PORT (default 4000), GraphiQL at /graphql. Uses PostgreSQL when DATABASE_URL is set,
else embedded PGlite in PROVENANT_DATA_DIR (default ./.provenant). Migrates to latest, seeds demo data into an empty
database (PROVENANT_SEED_DEMO=false to skip), and prints the operator key the first time it is generated.
Stops gracefully on SIGTERM/SIGINT: stops accepting, finishes in-flight requests, closes the database.
An embedded data folder belongs to one process: refused (exit 3, naming the holder's PID) while another holds it.
With DATABASE_URL the server outlives database outages: /readyz and requests answer 503 until it is back.`,
  migrate: `Usage: provenant migrate

Applies every pending migration in migrations/ to the configured database and prints what ran.
Refused (exit 3) while another process holds the embedded data folder.`,
  seed: `Usage: provenant seed

Loads the demo actors, products, batches and item histories into the configured database if it has none yet.
Writes the demo actors' API keys to PROVENANT_DATA_DIR/demo-keys.json.
Refused (exit 3) while another process holds the embedded data folder.`,
  'log-key': `Usage: provenant log-key

Prints the C2SP verifier key of the log's checkpoint signing key (name+hexid+base64). The key comes from
PROVENANT_LOG_KEY, or the data folder's log-key file (generated on first use).`,
  verify: '',
  bundle: '',
  checkpoint: '',
  audit: '',
  schema: `Usage: provenant schema [--check]

Writes the lexicographically sorted printed schema to schema.graphql. With --check, exits 1 when the file is stale.`,
};

async function help(cmd: string): Promise<number> {
  // verify's usage lives with the offline verifier, which must not depend on anything else.
  if (cmd === 'verify') console.log((await import('./verify.ts')).VERIFY_USAGE);
  else if (cmd === 'bundle') console.log((await import('./bundle.ts')).BUNDLE_USAGE);
  else if (cmd === 'checkpoint') console.log((await import('./bundle.ts')).CHECKPOINT_USAGE);
  else if (cmd === 'audit') console.log((await import('./audit.ts')).AUDIT_USAGE);
  else console.log(HELP[cmd] || HELP['']);
  return 0;
}

/** Entry point; returns the process exit code (see `EXIT`: 0 ok, 1 negative answer, 2 usage, 3 could not run). */
export async function main(argv: string[]): Promise<number> {
  const [cmd = '', ...rest] = argv;
  if (cmd === '--help' || cmd === '-h' || cmd === 'help' || cmd === '') return help(rest[0] ?? '');
  if (!(cmd in HELP)) {
    console.error(`provenant: unknown command "${cmd}"\n`);
    console.error(HELP['']);
    return 2;
  }
  if (cmd === 'verify') {
    // Offline: only core and the file system, never the database or config.
    const { runVerify } = await import('./verify.ts');
    return runVerify(rest, { out: (s) => console.log(s), err: (s) => console.error(s) });
  }
  const io = { out: (s: string) => console.log(s), err: (s: string) => console.error(s), env: process.env };
  if (cmd === 'bundle') return (await import('./bundle.ts')).runBundle(rest, io);
  if (cmd === 'checkpoint') return (await import('./bundle.ts')).runCheckpoint(rest, io);
  if (rest.includes('--help') || rest.includes('-h')) return help(cmd);
  try {
    switch (cmd) {
      case 'log-key': {
        const { loadLogSigner } = await import('../server/bootstrap.ts');
        console.log(loadLogSigner(loadConfig()).verifierKey);
        return 0;
      }
      case 'audit': {
        const { auditThroughServer, parseAuditArgs, printReport } = await import('./audit.ts');
        const opts = parseAuditArgs(rest, io);
        if (!opts) return EXIT.usage;
        if (opts.server !== undefined) return await auditThroughServer(opts.server, opts.key, io);
        const config = loadConfig();
        const { loadLogSigner, openConfiguredDatabase } = await import('../server/bootstrap.ts');
        const { auditLedger } = await import('../services/audit.ts');
        const { progressBar } = await import('./progress.ts');
        const signer = loadLogSigner(config);
        const handle = await openConfiguredDatabase(config, 'audit');
        try {
          const bar = progressBar(process.stderr);
          // One snapshot: with DATABASE_URL, servers may be writing meanwhile.
          const report = await auditLedger(handle.db, signer.verifierKey, bar.update);
          bar.done();
          return printReport(report, io.out);
        } finally {
          await handle.close();
        }
      }
      case 'schema': {
        const { printedSchema } = await import('../graphql/schema.ts');
        const file = fileURLToPath(new URL('../../schema.graphql', import.meta.url));
        const sdl = printedSchema();
        if (rest.includes('--check')) {
          const { readFileSync } = await import('node:fs');
          const current = (() => { try { return readFileSync(file, 'utf8'); } catch { return ''; } })();
          if (current !== sdl) {
            console.error('schema.graphql is stale: run npm run schema');
            return 1;
          }
          console.log('schema.graphql is up to date');
          return 0;
        }
        writeFileSync(file, sdl);
        console.log(`wrote ${file}`);
        return 0;
      }
      case 'serve': {
        const { serve } = await import('../server/main.ts');
        await serve(loadConfig());
        return 0;
      }
      case 'migrate': {
        const config = loadConfig();
        const { openConfiguredDatabase } = await import('../server/bootstrap.ts');
        const { migrateToLatest } = await import('../db/migrator.ts');
        const handle = await openConfiguredDatabase(config, 'migrate');
        try {
          const results = await migrateToLatest(handle.db);
          if (results.length === 0) console.log('database is up to date');
          for (const r of results) console.log(`${r.status === 'Success' ? 'applied' : r.status}: ${r.migrationName}`);
        } finally {
          await handle.close();
        }
        return 0;
      }
      case 'seed': {
        const config = loadConfig();
        const { loadLogSigner, openConfiguredDatabase, prepareDatabase } = await import('../server/bootstrap.ts');
        const { seedDemo } = await import('../../seeds/demo.ts');
        const signer = loadLogSigner(config);
        const handle = await openConfiguredDatabase(config, 'seed');
        try {
          await prepareDatabase(handle);
          const seeded = await seedDemo({ db: handle.db, signer, now: () => new Date(), maxClockSkewMs: config.maxClockSkewMs }, config.dataDir);
          console.log(seeded ? `seeded demo data; API keys in ${seeded.keysFile}` : 'database already has actors; nothing seeded');
        } finally {
          await handle.close();
        }
        return 0;
      }
    }
    return 2;
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`provenant: configuration error: ${e.message}`);
      return EXIT.usage;
    }
    if (e instanceof DataFolderLockedError) {
      console.error(`provenant ${cmd}: refused: ${e.message}`);
      return EXIT.unavailable;
    }
    // Never exit 1 here: 1 is a command's negative answer (e.g. audit's "discrepancies found"), not a crash.
    console.error(`provenant ${cmd}: ${(e as Error).message}`);
    return EXIT.unavailable;
  }
}
