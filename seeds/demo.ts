import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureOperator } from '../src/db/actors.ts';
import type { ActorRow } from '../src/db/types.ts';
import { createActor } from '../src/services/create-actor.ts';
import { grantRights } from '../src/services/grant-rights.ts';
import type { LedgerDeps } from '../src/services/deps.ts';
import { recordEvent, type RecordEventInput } from '../src/services/record-event.ts';
import { registerBatch } from '../src/services/register-batch.ts';
import { registerProduct } from '../src/services/register-product.ts';
import { setLinks } from '../src/services/set-links.ts';
import { readScope } from '../src/core/rights.ts';
import { recallBatch } from '../src/services/recall-batch.ts';

function must<T extends { kind: string }>(what: string, r: T): Extract<T, { kind: 'ok' }> {
  if (r.kind !== 'ok') throw new Error(`seed: ${what} failed: ${JSON.stringify(r)}`);
  return r as Extract<T, { kind: 'ok' }>;
}

/**
 * Seeds demo actors, two products, two batches and item histories through every stage into a database with no
 * actors besides the operator (returns undefined otherwise). Actors' API keys go to `demo-keys.json` in `dataDir`.
 * Goes through the same use cases as the API, so the demo data is hashed, chained and logged like real data.
 */
export async function seedDemo(deps: LedgerDeps, dataDir: string): Promise<{ keysFile: string } | undefined> {
  const { db } = deps;
  const operator = await ensureOperator(db);
  const existing = await db.selectFrom('actors').select('id').where('is_operator', '=', false).limit(1).execute();
  if (existing.length > 0) return undefined;
  const keys: Record<string, string> = {};
  const actor = async (name: string, roles: string[], gln: string | null = null, companyPrefixes: string[] = []): Promise<ActorRow> => {
    const r = must(`create ${name}`, await createActor(db, operator, { name, roles, gln, companyPrefixes }));
    keys[name] = r.secret!;
    return r.actor;
  };
  const acme = await actor('Acme Appliances', ['MANUFACTURER', 'RETAILER'], '4012345000009', ['4012345']);
  const northwind = await actor('Northwind Logistics', ['DISTRIBUTOR']);
  const store = await actor('Corner Store', ['RETAILER']);
  const owner = await actor('Jane Doe (consumer)', []);
  const fixit = await actor('FixIt Service', ['SERVICER']);
  const green = await actor('GreenLoop Recycling', ['RECYCLER']);
  const auditor = await actor('Trust Audit', ['AUDITOR']);

  must('product kettle', await registerProduct(db, acme, { gtin: '4012345111118', name: 'Kettle K1', attributes: { colour: 'steel', watts: 2200 }, publicHistory: true }));
  must('product toaster', await registerProduct(db, acme, { gtin: '04012345222227', name: 'Toaster T2', attributes: { slots: 2 } }));

  // Timestamps walk forward from a month ago so every event lies in the past.
  const start = deps.now().getTime() - 30 * 86_400_000;
  let step = 0;
  const at = () => new Date(start + step++ * 3_600_000).toISOString().replace('Z', '+00:00');
  must('batch K', await registerBatch(deps, acme, { gtin: '4012345111118', lot: 'K2026A', producedAt: at(), site: 'Acme plant 1', range: { count: 24, firstSerial: 'K0001' } }));
  must('batch T', await registerBatch(deps, acme, { gtin: '04012345222227', lot: 'T2026A', producedAt: at(), site: 'Acme plant 2', range: { count: 12, firstSerial: '1001' } }));

  must('grant FixIt', await grantRights(db, acme, { granteeId: fixit.id, kinds: ['SERVICE', 'USE_REPORT'], product: '4012345111118' }, deps.now()));
  must('grant auditor', await grantRights(db, operator, { granteeId: auditor.id, kinds: [], allProducts: true }, deps.now()));

  const urn = (serial: string) => `urn:epc:id:sgtin:4012345.011111.${serial}`;
  const rec = async (who: ActorRow, kind: RecordEventInput['kind'], serials: string[], extra: Partial<RecordEventInput> = {}) =>
    must(`${kind} ${serials.join(',')}`, await recordEvent(deps, who, { kind, items: { refs: serials.map((s) => ({ kind: 'sgtin', value: urn(s) })) }, occurredAt: at(), location: null, ...extra }));

  const shipped = ['K0001', 'K0002', 'K0003', 'K0004', 'K0005', 'K0006'];
  await rec(acme, 'SHIP', shipped, { counterpartyId: northwind.id, location: 'Acme plant 1' });
  await rec(northwind, 'RECEIVE', shipped, { location: 'Northwind hub' });
  await rec(northwind, 'SHIP', shipped, { counterpartyId: store.id });
  await rec(store, 'RECEIVE', shipped, { location: 'Corner Store' });
  await rec(store, 'SELL', ['K0001', 'K0002', 'K0003'], { counterpartyId: owner.id, data: { price: 49.9, currency: 'EUR' } });
  await rec(owner, 'ACTIVATE', ['K0001', 'K0002']);
  await rec(fixit, 'SERVICE', ['K0001'], { data: { note: 'replaced heating element' } });
  await rec(owner, 'USE_REPORT', ['K0002'], { data: { readings: { cycles: 412 } } });
  await rec(owner, 'RETURN', ['K0001'], { counterpartyId: green.id, data: { reason: 'end of life' } });
  await rec(green, 'RECYCLE', ['K0001'], { data: { materials: [{ material: 'stainless steel', massKg: 0.61 }, { material: 'copper', massKg: 0.08 }] } });
  await rec(store, 'DESTROY', ['K0006'], { data: { reason: 'damaged in store' } });
  await rec(acme, 'SHIP', ['K0010', 'K0011'], { counterpartyId: northwind.id });
  must('recall T', await recallBatch(deps, acme, { gtin: '04012345222227', lot: 'T2026A', reason: 'loose heating element screw' }));

  // Resolver links (no default: a scan lands on the item page).
  const acmeScope = readScope(acme.id, false, [], deps.now());
  must('links K', await setLinks(db, acme, acmeScope, { gtin: '04012345111118', links: [
    { linkType: 'gs1:instructions', href: 'https://acme.example/kettle-k1/manual-en.pdf', title: 'Manual', language: 'en', mediaType: 'application/pdf' },
    { linkType: 'gs1:instructions', href: 'https://acme.example/kettle-k1/manual-de.pdf', title: 'Bedienungsanleitung', language: 'de', mediaType: 'application/pdf' },
    { linkType: 'gs1:registerProduct', href: 'https://acme.example/register', title: 'Register your kettle' },
    { linkType: 'gs1:support', href: 'https://acme.example/support', title: 'Support' },
  ] }, deps.now()));
  must('links T', await setLinks(db, acme, acmeScope, { gtin: '04012345222227', lot: 'T2026A', links: [
    { linkType: 'gs1:recallStatus', href: 'https://acme.example/recalls/toaster-t2', title: 'Recall notice' },
  ] }, deps.now()));

  const keysFile = join(dataDir, 'demo-keys.json');
  writeFileSync(keysFile, JSON.stringify(keys, null, 2) + '\n', { mode: 0o600 });
  return { keysFile };
}
