/**
 * Benchmark: EPCIS bulk capture. One EPCISDocument of 10,000 ObjectEvents (shipping, one existing item each) captured
 * end to end by `captureEpcisDocument` — validation, hash IDs, mapping, rights, writes and integration into the log —
 * against a raw multi-row INSERT of the same event rows (read back from `events` after the capture) into a table of
 * the same shape, in the same run. Target: capture ≥ 0.3× the raw rate. Also shown: the capture's rate up to its last
 * write (before its commit and the integration into the log, which the end-to-end figure includes). Also shown: the raw insert of the event rows
 * with their chain-link rows (what the capture writes per event), and the one-event-at-a-time path on a sample.
 * Runs on in-memory PGlite, and on PostgreSQL too when DATABASE_URL is set.
 *   node bin/run-ts.mjs bench/bulk-capture.ts
 *   DATABASE_URL=postgres://… node bin/run-ts.mjs bench/bulk-capture.ts
 * BENCH_CAPTURE_EVENTS overrides the event count (default 10000), BENCH_CAPTURE_SINGLE the sample of the
 * one-by-one path (default 300; 0 skips it).
 */
import { sql } from 'kysely';
import type { DatabaseHandle } from '../src/db/connection.ts';
import type { ActorRow } from '../src/db/types.ts';
import { captureEpcisDocument } from '../src/services/epcis-capture.ts';
import type { LedgerDeps } from '../src/services/deps.ts';
import { benchSgtin, onEachDatabase, seedBenchLedger } from './harness.ts';

const N = Number(process.env.BENCH_CAPTURE_EVENTS ?? 10_000);
const SINGLE = Number(process.env.BENCH_CAPTURE_SINGLE ?? 300);
const ROWS_PER_STATEMENT = 1_000;
const serial = (i: number) => `C${String(i + 1).padStart(7, '0')}`;

function shippingDocument(from: number, count: number, to: ActorRow): unknown {
  const t = new Date(Date.now() - 60_000).toISOString();
  const eventList = Array.from({ length: count }, (_, k) => ({
    type: 'ObjectEvent', action: 'OBSERVE', eventTime: t, eventTimeZoneOffset: '+01:00', epcList: [benchSgtin(serial(from + k))],
    bizStep: 'shipping', disposition: 'in_transit', readPoint: { id: 'https://id.gs1.org/414/4012345000016' },
    destinationList: [{ type: 'possessing_party', destination: `urn:provenant:actor:${to.id}` }],
  }));
  return { '@context': ['https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld'], type: 'EPCISDocument', schemaVersion: '2.0', creationDate: t, epcisBody: { eventList } };
}

/** Captures `document`; `rate` end to end (integrated into the log), `writtenRate` up to the capture's last write before its commit. */
async function capture(deps: LedgerDeps, caller: ActorRow, document: unknown, count: number, writePath: 'auto' | 'one-by-one') {
  const text = JSON.stringify(document);
  const t0 = performance.now();
  let written = 0;
  const onCaptured = async () => void (written = performance.now());
  const r = await captureEpcisDocument(deps, caller, { document: JSON.parse(text), text, byteLength: Buffer.byteLength(text), writePath, onCaptured }, { maxBytes: 64 * 1024 * 1024, maxEvents: count });
  const end = performance.now();
  if (r.kind !== 'ok' || r.recorded !== count) throw new Error(JSON.stringify(r).slice(0, 2000));
  return { rate: count / ((end - t0) / 1000), writtenRate: count / ((written - t0) / 1000), ids: r.events.map((e) => e.ledgerEventId) };
}

/** Multi-row INSERTs of the captured events' rows (and, with `links`, their chain links) into bare copies. */
async function raw(h: DatabaseHandle, ids: readonly string[], links: boolean): Promise<number> {
  const suffix = links ? 'with_links' : 'events';
  await sql.raw(`CREATE TABLE bench_raw_${suffix} (LIKE events INCLUDING ALL)`).execute(h.db);
  if (links) await sql.raw(`CREATE TABLE bench_raw_links (LIKE chain_links INCLUDING ALL)`).execute(h.db);
  const events = await h.db.selectFrom('events').selectAll().where('id', 'in', ids).execute();
  const chain = links ? await h.db.selectFrom('chain_links').selectAll().where('event_id', 'in', ids).execute() : [];
  const t0 = performance.now();
  await h.db.transaction().execute(async (trx) => {
    for (let i = 0; i < events.length; i += ROWS_PER_STATEMENT) {
      const rows = events.slice(i, i + ROWS_PER_STATEMENT).map((e) =>
        sql`(${e.id}, ${e.leaf_index}, ${e.kind}, ${e.actor_id}, ${e.occurred_at}, ${e.tz_offset}, ${e.recorded_at}, ${e.location}, ${e.counterparty_id},
             ${JSON.stringify(e.data)}::jsonb, ${e.body}, ${e.content_hash}, ${e.signature}, ${e.item_count})`);
      await sql`INSERT INTO ${sql.table(`bench_raw_${suffix}`)} (id, leaf_index, kind, actor_id, occurred_at, tz_offset, recorded_at, location, counterparty_id, data, body, content_hash, signature, item_count)
        VALUES ${sql.join(rows)}`.execute(trx);
    }
    for (let i = 0; i < chain.length; i += ROWS_PER_STATEMENT) {
      const rows = chain.slice(i, i + ROWS_PER_STATEMENT).map((l) => sql`(${l.item_id}, ${l.seq}, ${l.event_id}, ${l.hash}, ${l.stage}, ${l.recalled})`);
      await sql`INSERT INTO bench_raw_links (item_id, seq, event_id, hash, stage, recalled) VALUES ${sql.join(rows)}`.execute(trx);
    }
  });
  return events.length / ((performance.now() - t0) / 1000);
}

const fmt = (n: number) => Math.round(n).toLocaleString('en');
console.log(`EPCIS bulk capture bench, ${N.toLocaleString('en')} ObjectEvents (one existing item each), node ${process.version}`);
await onEachDatabase(async (engine, h, schema) => {
  const { maker, dist, deps } = await seedBenchLedger(h, schema, 'C', N + SINGLE);
  const bulk = await capture(deps, maker, shippingDocument(0, N, dist), N, 'auto');
  const rawEvents = await raw(h, bulk.ids, false);
  const rawWithLinks = await raw(h, bulk.ids, true);
  const label = engine === 'PGlite' ? 'PGlite (in memory)' : engine;
  console.log(`${label}: raw multi-row insert of the event rows ${fmt(rawEvents)} events/s (with their chain links ${fmt(rawWithLinks)}/s); ` +
    `bulk capture ${fmt(bulk.rate)} events/s; ratio ${(bulk.rate / rawEvents).toFixed(2)} (target ≥ 0.3; against events + links ${(bulk.rate / rawWithLinks).toFixed(2)}); ` +
    `up to its last write before commit and integration ${fmt(bulk.writtenRate)} events/s, ratio ${(bulk.writtenRate / rawEvents).toFixed(2)}`);
  if (SINGLE > 0) {
    const one = await capture(deps, maker, shippingDocument(N, SINGLE, dist), SINGLE, 'one-by-one');
    console.log(`${label}: one event at a time (sample of ${SINGLE}) ${fmt(one.rate)} events/s: bulk is ×${(bulk.rate / one.rate).toFixed(1)}`);
  }
});
