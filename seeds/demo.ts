import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Db } from '../src/db/connection.ts';
import { ensureOperator } from '../src/db/actors.ts';
import { createActor } from '../src/services/create-actor.ts';

export interface SeedOptions {
  now: () => Date;
  maxClockSkewMs: number;
  dataDir: string;
}

/**
 * Seeds demo actors (and, once lifecycle services exist, products and histories) into a database with no actors
 * besides the operator. Returns undefined when there is already data. Keys go to `demo-keys.json` in the data folder.
 */
export async function seedDemo(db: Db, opts: SeedOptions): Promise<{ keysFile: string } | undefined> {
  const operator = await ensureOperator(db);
  const existing = await db.selectFrom('actors').select('id').where('is_operator', '=', false).limit(1).execute();
  if (existing.length > 0) return undefined;
  const keys: Record<string, string> = {};
  const specs = [
    { name: 'Acme Appliances', roles: ['MANUFACTURER'], gln: '4012345000009', companyPrefixes: ['4012345'] },
    { name: 'Northwind Logistics', roles: ['DISTRIBUTOR'], gln: null, companyPrefixes: [] },
    { name: 'Corner Store', roles: ['RETAILER'], gln: null, companyPrefixes: [] },
    { name: 'FixIt Service', roles: ['SERVICER'], gln: null, companyPrefixes: [] },
    { name: 'GreenLoop Recycling', roles: ['RECYCLER'], gln: null, companyPrefixes: [] },
    { name: 'Trust Audit', roles: ['AUDITOR'], gln: null, companyPrefixes: [] },
  ];
  for (const spec of specs) {
    const r = await createActor(db, operator, spec);
    if (r.kind !== 'ok') throw new Error(`seed: creating ${spec.name} failed: ${r.kind} ${r.message}`);
    keys[spec.name] = r.secret;
  }
  void opts.now;
  const keysFile = join(opts.dataDir, 'demo-keys.json');
  writeFileSync(keysFile, JSON.stringify(keys, null, 2) + '\n', { mode: 0o600 });
  return { keysFile };
}
