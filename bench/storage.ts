/**
 * Benchmark: storage per event. Commissions BENCH_STORAGE_EVENTS items, then records one single-item SHIP per item
 * through the service layer (in transactions of 500, integrated after each as the sequencer does), and reports the
 * database's size per table against the bytes of the hashed event bodies: total ÷ body bytes (target ≤ 3) and the
 * size extrapolated to one million events, with each table's heap, TOAST and indexes. On PGlite it runs the server's
 * maintenance (VACUUM of the tables that outgrew their statistics) after each transaction, and VACUUMs at the end.
 *   DATABASE_URL=postgres://… node bin/run-ts.mjs bench/storage.ts   (PGlite only when unset)
 */
import { sql } from 'kysely';
import type { DatabaseHandle } from '../src/db/connection.ts';
import { maintainOutgrown } from '../src/db/statistics.ts';
import { integrateAll } from '../src/services/integrate.ts';
import { recordEventIn } from '../src/services/record-event.ts';
import { withRetries } from '../src/services/transaction.ts';
import { benchSgtin, onEachDatabase, seedBenchLedger } from './harness.ts';

const EVENTS = Number(process.env.BENCH_STORAGE_EVENTS ?? 20_000);
const PER_TRANSACTION = 500;
const TABLES = ['events', 'chain_links', 'items', 'custody_starts', 'log_nodes', 'checkpoints', 'head_map_nodes', 'pending_events', 'log_state', 'idempotency_keys'];

async function run(label: string, h: DatabaseHandle, schema: string | undefined) {
  const { maker, dist, deps } = await seedBenchLedger(h, schema, 'S', EVENTS);
  const t0 = performance.now();
  for (let i = 0; i < EVENTS; i += PER_TRANSACTION) {
    await withRetries(h.db, async (trx) => {
      for (let j = i; j < Math.min(EVENTS, i + PER_TRANSACTION); j++) {
        const r = await recordEventIn(trx, deps, maker, {
          kind: 'SHIP',
          items: { refs: [{ kind: 'sgtin', value: benchSgtin(`S${String(j + 1).padStart(7, '0')}`) }] },
          occurredAt: new Date().toISOString(),
          location: 'Warehouse 7, Dock 3',
          counterpartyId: dist.id,
          data: {},
        });
        if (r.kind !== 'ok') throw new Error(JSON.stringify(r));
      }
    });
    await integrateAll(h.db, deps.signer);
    // The server's maintenance on PGlite (keepStatistics, every 5 s): VACUUM (ANALYZE) the tables that outgrew their
    // statistics, so dead row versions are reused rather than piling up.
    if (label === 'PGlite') await maintainOutgrown(h.db);
  }
  const secs = (performance.now() - t0) / 1000;
  if (label === 'PGlite') await sql`VACUUM`.execute(h.db);
  else await sql`VACUUM ANALYZE`.execute(h.db);
  const sizes = await sql<{ t: string; bytes: number }>`
    SELECT t, pg_total_relation_size(t::regclass)::int8 AS bytes FROM unnest(${TABLES}::text[]) AS t`.execute(h.db);
  const bodies = Number((await sql<{ b: number }>`SELECT sum(octet_length(body))::int8 AS b FROM events WHERE kind = 'SHIP'`.execute(h.db)).rows[0]!.b);
  const commission = Number((await sql<{ b: number }>`SELECT sum(octet_length(body))::int8 AS b FROM events WHERE kind = 'COMMISSION'`.execute(h.db)).rows[0]!.b);
  const total = sizes.rows.reduce((s, r) => s + Number(r.bytes), 0);
  const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
  console.log(`${label}: ${EVENTS} single-item SHIP events written in ${secs.toFixed(1)} s (${Math.round(EVENTS / secs)} events/s, ${PER_TRANSACTION} per transaction)`);
  console.log(`${label}: ${sizes.rows.map((r) => `${r.t} ${mb(Number(r.bytes))}`).join(', ')}`);
  // Where each table's bytes are: the heap (rows, dead versions included), TOAST, and each index.
  const parts = await sql<{ t: string; heap: number; toast: number; rows: number; indexes: string }>`
    SELECT c.relname AS t, pg_relation_size(c.oid)::int8 AS heap, coalesce(pg_total_relation_size(nullif(c.reltoastrelid, 0)), 0)::int8 AS toast,
           c.reltuples::int8 AS rows,
           coalesce((SELECT string_agg(i.relname || ' ' || round(pg_relation_size(i.oid) / 1e3) || ' kB', ', ' ORDER BY i.relname)
                     FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = c.oid), '') AS indexes
    FROM pg_class c WHERE c.relname = ANY(${TABLES}::text[]) AND c.relnamespace = current_schema()::regnamespace ORDER BY pg_total_relation_size(c.oid) DESC`.execute(h.db);
  for (const r of parts.rows) {
    console.log(`${label}:   ${r.t}: heap ${(Number(r.heap) / 1e3).toFixed(0)} kB (${Number(r.rows)} rows), toast ${(Number(r.toast) / 1e3).toFixed(0)} kB; ${r.indexes}`);
  }
  console.log(
    `${label}: total ${mb(total)} for ${mb(bodies)} of SHIP bodies (+ ${mb(commission)} for the COMMISSION of ${EVENTS} items): ` +
      `${(total / (bodies + commission)).toFixed(2)}× the body bytes (target ≤ 3); ${(total / EVENTS).toFixed(0)} bytes per event, ` +
      `≈ ${((total / EVENTS) * 1e6 / 1e9).toFixed(2)} GB per million events and their items`,
  );
}

console.log(`storage per event, ${EVENTS} events, node ${process.version}`);
await onEachDatabase((engine, h, schema) => run(engine, h, schema));
