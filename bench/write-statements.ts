/**
 * Lists every statement of one single-item write through the service layer (the 40th of a run, so caches and plans
 * are warm) with its duration on an in-memory PGlite: the writer's transaction, then the integration round it waits
 * for. Counts them per transaction.
 *   node bin/run-ts.mjs bench/write-statements.ts            (KIND=SHIP by default; DESTROY, SELL … also work)
 */
import { Kysely } from 'kysely';
import { PGliteDialect } from 'kysely-pglite-dialect';
import { createPGlite, type DatabaseHandle } from '../src/db/connection.ts';
import type { Database } from '../src/db/types.ts';
import { recordEvent, type RecordEventInput } from '../src/services/record-event.ts';
import { benchSgtin, seedBenchLedger } from './harness.ts';

const kind = (process.env.KIND ?? 'SHIP') as RecordEventInput['kind'];
const pglite = await createPGlite();
let logging = false;
const lines: string[] = [];
// kysely's query log (begin and commit included: the PGlite driver sends them as queries).
const db = new Kysely<Database>({
  dialect: new PGliteDialect(pglite),
  log: (e) => {
    if (logging) lines.push(`${e.queryDurationMillis.toFixed(2).padStart(7)} ms  ${e.query.sql.replace(/\s+/g, ' ').trim().slice(0, 140)}`);
  },
});
const h: DatabaseHandle = { db, engine: 'pglite', where: 'memory', close: () => db.destroy() };
const { maker, dist, deps } = await seedBenchLedger(h, undefined, 'W', 100);
for (let i = 1; i <= 40; i++) {
  logging = i === 40;
  const r = await recordEvent(deps, maker, {
    kind, items: { refs: [{ kind: 'sgtin', value: benchSgtin(`W${String(i).padStart(7, '0')}`) }] }, occurredAt: new Date().toISOString(),
    counterpartyId: kind === 'SHIP' ? dist.id : null, data: {},
  });
  if (r.kind !== 'ok') throw new Error(JSON.stringify(r));
}
console.log(lines.join('\n'));
const transactions: number[] = [];
let open = 0;
for (const l of lines) {
  open++;
  if (/ms {2}commit$/.test(l)) {
    transactions.push(open);
    open = 0;
  }
}
console.log(`${kind} of one item: ${lines.length} statements (${[...transactions, ...(open ? [open] : [])].join(' + ')}: outside/writer transaction, then integration)`);
await h.close();
