import { sha256 } from '@noble/hashes/sha2.js';
import { type KyselyPlugin, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toHex } from '../../src/core/bytes.ts';
import { appendLeaves, consistencyProofNodes, inclusionProofNodes, leafHash, type NodeId, rootNodes, verifyConsistency, verifyInclusion } from '../../src/core/merkle.ts';
import { ensureOperator } from '../../src/db/actors.ts';
import type { Db } from '../../src/db/connection.ts';
import { STORED_FROM_LEVEL } from '../../src/db/log.ts';
import { consistencyProofFor, inclusionProofFor } from '../../src/services/log-proofs.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/db.ts';

const N = 100_000;
let db: TestDatabase;
let root: Uint8Array;
const contentHash = (i: number) => sha256(new TextEncoder().encode(`leaf ${i}`));
const PROBES = [0, 1, 31_337, 65_535, 65_536, 99_998, 99_999];

/** Counts statements and rows returned through a Kysely instance sharing the test database's connection. */
function counting(base: Db) {
  const stats = { queries: 0, rows: 0, nodeRows: 0 };
  const plugin: KyselyPlugin = {
    transformQuery: (args) => args.node,
    transformResult: async (args) => {
      stats.queries++;
      stats.rows += args.result.rows.length;
      if (args.result.rows.length && 'hash' in (args.result.rows[0] as object) && 'level' in (args.result.rows[0] as object)) stats.nodeRows += args.result.rows.length;
      return args.result;
    },
  };
  return { db: base.withPlugin(plugin), stats };
}

/** Rows readNodes returns for `ids`: one per stored node, one per distinct leaf under the recomputed ones. */
function rowsFor(ids: readonly NodeId[]): number {
  const stored = new Set<string>();
  const leaves = new Set<number>();
  for (const n of ids) {
    if (n.level >= STORED_FROM_LEVEL) stored.add(`${n.level}:${n.index}`);
    else for (let j = n.index * 2 ** n.level; j < (n.index + 1) * 2 ** n.level; j++) leaves.add(j);
  }
  return stored.size + leaves.size;
}

beforeAll(async () => {
  db = await openTestDatabase();
  const leaves = Array.from({ length: N }, (_, i) => leafHash(contentHash(i)));
  const appended = appendLeaves(0, new Map(), leaves);
  root = appended.root;
  // Stored as appendToLog stores them: only levels ≥ STORED_FROM_LEVEL; lower ones come from the events.
  const nodes = appended.nodes.filter((n) => n.id.level >= STORED_FROM_LEVEL);
  for (let i = 0; i < nodes.length; i += 20_000) {
    const part = nodes.slice(i, i + 20_000);
    await sql`INSERT INTO log_nodes (level, index, hash) SELECT l, i, decode(h, 'hex')
      FROM unnest(${part.map((n) => n.id.level)}::int[], ${part.map((n) => n.id.index)}::int8[], ${part.map((n) => toHex(n.hash))}::text[]) AS t(l, i, h)`.execute(db.db);
  }
  await sql`UPDATE log_state SET size = ${N}, root_hash = ${root}`.execute(db.db);
  // One event per leaf (content hash SHA-256("leaf i"), as contentHash): proofs read the event's content hash, the
  // stored nodes, and the content hashes under the low-level nodes they need.
  const op = await ensureOperator(db.db);
  await sql`INSERT INTO events (leaf_index, kind, actor_id, occurred_at, tz_offset, recorded_at, body, content_hash, item_count)
    SELECT i, 'DESTROY', ${op.id}, now(), '+00:00', now(), '{}', sha256(convert_to('leaf ' || i, 'UTF8')), 1 FROM generate_series(0, ${N - 1}) AS i`.execute(db.db);
}, 300_000);
afterAll(async () => {
  await db?.dispose();
});

describe('a log of 100,000 leaves', () => {
  it('inclusion proofs need O(log n) stored-node reads in a bounded number of statements', async () => {
    const bound = 2 * Math.ceil(Math.log2(N)) + 2;
    for (const i of PROBES) {
      const { db: counted, stats } = counting(db.db);
      const event = await db.db.selectFrom('events').select('id').where('leaf_index', '=', i).executeTakeFirstOrThrow();
      const r = await inclusionProofFor(counted, event.id);
      if (r.kind !== 'ok') throw new Error(JSON.stringify(r));
      expect(verifyInclusion(r.leafHash, i, N, r.proof, root)).toEqual({ ok: true, value: true });
      expect(r.proof.length).toBeLessThanOrEqual(Math.ceil(Math.log2(N)));
      // The node query returns the plan's nodes plus the root's (one per set bit of n), the low ones as the content
      // hashes under them, nothing more.
      expect(stats.nodeRows).toBe(rowsFor([...inclusionProofNodes(i, N).ids, ...rootNodes(N)]));
      expect(stats.nodeRows).toBeLessThanOrEqual(bound + rootNodes(N).length + 2 * 2 ** STORED_FROM_LEVEL);
      expect(stats.queries).toBeLessThanOrEqual(3);
    }
  });

  it('consistency proofs likewise', async () => {
    for (const from of [1, 1000, 65_536, 77_777, N]) {
      const { db: counted, stats } = counting(db.db);
      const r = await consistencyProofFor(counted, from, N);
      if (r.kind !== 'ok') throw new Error(JSON.stringify(r));
      expect(verifyConsistency(from, N, r.proof, r.fromRoot, root)).toEqual({ ok: true, value: true });
      expect(stats.nodeRows).toBe(rowsFor([...consistencyProofNodes(from, N).ids, ...rootNodes(from), ...rootNodes(N)]));
      expect(stats.nodeRows).toBeLessThanOrEqual(2 * Math.ceil(Math.log2(N)) + 2 + 2 * rootNodes(N).length + 4 * 2 ** STORED_FROM_LEVEL);
      expect(stats.queries).toBeLessThanOrEqual(2);
    }
  });
});
