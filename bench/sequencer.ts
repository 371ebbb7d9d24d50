/**
 * Benchmark for the log-sequencing choice (issue 5): the same single-item append done two ways, on the same
 * PostgreSQL (or PGlite) database, under 1/8/32 concurrent writers.
 *   in-transaction: each writer takes the log's sequencer row lock, appends its leaf (frontier read, node inserts,
 *     head update), signs and stores a checkpoint, and writes event + link + item head — all in one transaction.
 *   sequencer: each writer locks only its item row and writes event + link + item head with no leaf; a separate
 *     loop integrates pending events in batches every 20 ms (one tree update and one signed checkpoint per batch).
 * Reports writer throughput and, for the sequencer, the delay until an event is covered by a signed checkpoint.
 *   DATABASE_URL=postgres://… node bin/run-ts.mjs bench/sequencer.ts
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { formatCheckpoint } from '../src/core/checkpoint.ts';
import { appendLeaves, frontier, leafHash, nodeKey } from '../src/core/merkle.ts';
import { contentHashOf, linkHash } from '../src/core/chain.ts';
import type { DatabaseHandle, Db } from '../src/db/connection.ts';
import { signCheckpoint } from '../src/db/log.ts';
import { benchSigner, onEachDatabase } from './harness.ts';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 1500);
const signer = benchSigner();

async function setup(db: Db, items: number) {
  for (const s of [
    `CREATE TABLE s_items (id uuid PRIMARY KEY, sgtin text NOT NULL, head_seq int NOT NULL, head_hash bytea NOT NULL)`,
    `CREATE TABLE s_events (seq bigserial PRIMARY KEY, id uuid NOT NULL UNIQUE, leaf_index bigint UNIQUE, body text NOT NULL, content_hash bytea NOT NULL, recorded_at timestamptz NOT NULL DEFAULT clock_timestamp())`,
    `CREATE INDEX s_events_pending ON s_events (seq) WHERE leaf_index IS NULL`,
    `CREATE TABLE s_links (item_id uuid, seq int, event_id uuid NOT NULL, prev_hash bytea NOT NULL, hash bytea NOT NULL, PRIMARY KEY (item_id, seq))`,
    `CREATE TABLE s_nodes (level smallint, index bigint, hash bytea NOT NULL, PRIMARY KEY (level, index))`,
    `CREATE TABLE s_state (id boolean PRIMARY KEY DEFAULT true, size bigint NOT NULL, root bytea NOT NULL)`,
    `CREATE TABLE s_checkpoints (tree_size bigint PRIMARY KEY, note text NOT NULL, signed_at timestamptz NOT NULL DEFAULT clock_timestamp())`,
  ]) await sql.raw(s).execute(db);
  await sql`INSERT INTO s_state (size, root) VALUES (0, ${new Uint8Array(32)})`.execute(db);
  const ids = Array.from({ length: items }, () => randomUUID());
  await sql`INSERT INTO s_items SELECT id, 'urn:epc:id:sgtin:4012345.011111.' || n, 0, ${new Uint8Array(32)} FROM unnest(${ids}::uuid[]) WITH ORDINALITY AS t(id, n)`.execute(db);
  return ids;
}

async function appendLog(trx: Db, contentHashes: Uint8Array[]): Promise<number> {
  const st = await sql<{ size: number }>`SELECT size FROM s_state FOR UPDATE`.execute(trx);
  const size = Number(st.rows[0]!.size);
  const fr = frontier(size);
  const rows = fr.length ? (await sql<{ level: number; index: number; hash: Uint8Array }>`SELECT level, index, hash FROM s_nodes n JOIN unnest(${fr.map((f) => f.level)}::int[], ${fr.map((f) => f.index)}::int8[]) AS w(l, i) ON n.level = w.l AND n.index = w.i`.execute(trx)).rows : [];
  const map = new Map(rows.map((r) => [nodeKey({ level: Number(r.level), index: Number(r.index) }), r.hash]));
  const out = appendLeaves(size, map, contentHashes.map(leafHash));
  await sql`INSERT INTO s_nodes SELECT * FROM unnest(${out.nodes.map((n) => n.id.level)}::int[], ${out.nodes.map((n) => n.id.index)}::int8[], ${out.nodes.map((n) => Buffer.from(n.hash))}::bytea[])`.execute(trx);
  await sql`UPDATE s_state SET size = ${out.size}, root = ${out.root}`.execute(trx);
  await sql`INSERT INTO s_checkpoints (tree_size, note) VALUES (${out.size}, ${signCheckpoint(signer, formatCheckpoint({ origin: signer.origin, size: out.size, rootHash: out.root }))})`.execute(trx);
  return size;
}

async function writeEvent(trx: Db, itemId: string, leaf: number | null) {
  const it = await sql<{ sgtin: string; head_seq: number; head_hash: Uint8Array }>`SELECT sgtin, head_seq, head_hash FROM s_items WHERE id = ${itemId} FOR UPDATE`.execute(trx);
  const item = it.rows[0]!;
  const body = JSON.stringify({ kind: 'USE_REPORT', items: [item.sgtin], at: new Date().toISOString() });
  const ch = contentHashOf(body);
  const id = randomUUID();
  const seq = item.head_seq + 1;
  const h = linkHash(item.head_hash, ch, item.sgtin, seq);
  await sql`INSERT INTO s_events (id, leaf_index, body, content_hash) VALUES (${id}, ${leaf}, ${body}, ${ch})`.execute(trx);
  await sql`INSERT INTO s_links VALUES (${itemId}, ${seq}, ${id}, ${item.head_hash}, ${h})`.execute(trx);
  await sql`UPDATE s_items SET head_seq = ${seq}, head_hash = ${h} WHERE id = ${itemId}`.execute(trx);
  return ch;
}

async function pool(n: number, total: number, task: (i: number) => Promise<void>) {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: n }, async () => { while (next < total) await task(next++); }));
  return total / ((performance.now() - t0) / 1000);
}

async function level(db: Db, ids: string[], n: number) {
  // In-transaction: log lock first (as the service does), then the event.
  const inTx = await pool(n, EVENTS, async (i) => {
    await db.transaction().execute(async (trx) => {
      const st = await sql<{ size: number }>`SELECT size FROM s_state FOR UPDATE`.execute(trx);
      const leaf = Number(st.rows[0]!.size);
      const ch = await writeEvent(trx, ids[i % ids.length]!, leaf);
      await appendLog(trx, [ch]);
    });
  });
  // Sequencer: writers never touch the log; the integrator batches pending events.
  let stop = false;
  let batches = 0;
  const integrator = (async () => {
    while (!stop) {
      await db.transaction().execute(async (trx) => {
        await sql`SELECT 1 FROM s_state FOR UPDATE`.execute(trx);
        const pending = (await sql<{ seq: number; content_hash: Uint8Array }>`SELECT seq, content_hash FROM s_events WHERE leaf_index IS NULL ORDER BY seq LIMIT 5000`.execute(trx)).rows;
        if (pending.length === 0) return;
        const first = await appendLog(trx, pending.map((p) => p.content_hash));
        await sql`UPDATE s_events e SET leaf_index = u.leaf FROM unnest(${pending.map((p) => p.seq)}::int8[], ${pending.map((_, k) => first + k)}::int8[]) AS u(seq, leaf) WHERE e.seq = u.seq`.execute(trx);
        batches++;
      });
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const seqRate = await pool(n, EVENTS, async (i) => {
    await db.transaction().execute((trx) => writeEvent(trx, ids[(i + 7919) % ids.length]!, null).then(() => undefined));
  });
  // Drain, then measure how long events waited for a signed checkpoint.
  for (let k = 0; k < 500; k++) {
    const left = await sql<{ n: number }>`SELECT count(*)::int AS n FROM s_events WHERE leaf_index IS NULL`.execute(db);
    if (left.rows[0]!.n === 0) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  stop = true;
  await integrator;
  const lag = await sql<{ p50: number; p99: number }>`
    SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS p50, percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) AS p99 FROM (
      SELECT extract(epoch FROM (SELECT min(c.signed_at) FROM s_checkpoints c WHERE c.tree_size > e.leaf_index) - e.recorded_at) * 1000 AS ms
      FROM s_events e WHERE e.seq > (SELECT max(seq) - ${EVENTS} FROM s_events)) t`.execute(db);
  return { inTx, seqRate, batches, p50: Number(lag.rows[0]!.p50), p99: Number(lag.rows[0]!.p99) };
}

async function run(label: string, h: DatabaseHandle, levels: number[]) {
  const ids = await setup(h.db, 20_000);
  for (const n of levels) {
    const r = await level(h.db, ids, n);
    console.log(`${label}, ${n} writer(s): in-transaction ${Math.round(r.inTx)} events/s; sequencer ${Math.round(r.seqRate)} events/s (×${(r.seqRate / r.inTx).toFixed(1)}), ${r.batches} batches, time to signed checkpoint p50 ${r.p50.toFixed(0)} ms, p99 ${r.p99.toFixed(0)} ms`);
  }
}

console.log(`sequencer bench, ${EVENTS} single-item events per mode and level, node ${process.version}`);
await onEachDatabase((engine, h) => run(engine, h, engine === 'PGlite' ? [1, 8] : [1, 8, 32]), 40);
