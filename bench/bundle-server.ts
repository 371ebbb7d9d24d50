/**
 * Benchmark: the server's v2 proof bundle of one item of a 100,000-serial COMMISSION with 5 events (COMMISSION,
 * SHIP, RECEIVE, SHIP, RECEIVE), written through the services on in-memory PGlite. Prints the time to build the
 * bundle on the server (the items tree of the 100,000-item event is rebuilt from its stored entries), its JSON size
 * at the public and participants tiers, and the median offline verification time (core verifyAnyBundle).
 *   node bin/run-ts.mjs bench/bundle-server.ts            # BENCH_ITEMS overrides 100000
 * Limits of issue 12: ≤ 20 KB and ≤ 20 ms verification.
 */
import { verifyAnyBundle } from '../src/core/verify-any.ts';
import { findItemsBySgtins } from '../src/db/ledger.ts';
import { createActor } from '../src/services/create-actor.ts';
import { ensureOperator } from '../src/db/actors.ts';
import { itemProofBundle } from '../src/services/log-proofs.ts';
import { recordEvent } from '../src/services/record-event.ts';
import { benchSgtin, onEachDatabase, seedBenchLedger } from './harness.ts';

const N = Number(process.env.BENCH_ITEMS ?? 100_000);

console.log(`server v2 bundle bench, one item of a ${N.toLocaleString('en')}-serial batch, node ${process.version}`);
await onEachDatabase(async (engine, h, schema) => {
  const t0 = performance.now();
  const { maker, dist, deps } = await seedBenchLedger(h, schema, 'BB', N);
  const registered = performance.now() - t0;
  const op = await ensureOperator(h.db);
  const shop = await createActor(h.db, op, { name: 's', roles: ['RETAILER'] });
  if (shop.kind !== 'ok') throw new Error('bench shop');
  const sgtin = benchSgtin('BB0000001');
  const at = (m: number) => new Date(Date.now() - m * 60_000).toISOString();
  for (const [who, input] of [
    [maker, { kind: 'SHIP', counterpartyId: dist.id, occurredAt: at(4) }],
    [dist, { kind: 'RECEIVE', occurredAt: at(3) }],
    [dist, { kind: 'SHIP', counterpartyId: shop.actor.id, occurredAt: at(2) }],
    [shop.actor, { kind: 'RECEIVE', occurredAt: at(1) }],
  ] as const) {
    const r = await recordEvent(deps, who, { ...input, items: { refs: [{ kind: 'sgtin', value: sgtin }] } });
    if (r.kind !== 'ok') throw new Error(JSON.stringify(r));
  }
  const [item] = await findItemsBySgtins(h.db, [sgtin]);
  const sizes: Record<string, number> = {};
  let build = 0;
  let bundle: unknown;
  for (const tier of ['public', 'participants'] as const) {
    const b0 = performance.now();
    const r = await itemProofBundle(h.db, deps.signer, item!, null, undefined, { tier });
    if (tier === 'public') build = performance.now() - b0;
    if (r.kind !== 'ok') throw new Error(JSON.stringify(r));
    sizes[tier] = Buffer.byteLength(JSON.stringify(r.bundle));
    bundle = r.bundle;
  }
  const times: number[] = [];
  for (let i = 0; i < 15; i++) {
    const v0 = performance.now();
    const v = verifyAnyBundle(JSON.parse(JSON.stringify(bundle)), { verifierKeys: [deps.signer.verifierKey] });
    times.push(performance.now() - v0);
    if (!v.ok) throw new Error(JSON.stringify(v));
    if (i === 0) console.log(`  ${v.summary}`);
  }
  times.sort((x, y) => x - y);
  console.log(
    `${engine}: registerBatch+setup ${(registered / 1000).toFixed(1)} s; bundle built in ${build.toFixed(0)} ms; ` +
      `size ${sizes['public']!.toLocaleString('en')} B public, ${sizes['participants']!.toLocaleString('en')} B participants (limit 20 KB); ` +
      `offline verification median ${times[7]!.toFixed(1)} ms, min ${times[0]!.toFixed(1)} ms (limit 20 ms)`,
  );
});
