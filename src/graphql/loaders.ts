import DataLoader from 'dataloader';
import { findActorsByIds } from '../db/actors.ts';
import type { Db } from '../db/connection.ts';
import type { ActorRow } from '../db/types.ts';

/** Orders `rows` like `keys`, with undefined for a missing key (DataLoader's contract). */
export function byKeys<K, R>(keys: readonly K[], rows: readonly R[], keyOf: (r: R) => K): (R | undefined)[] {
  const map = new Map<K, R>();
  for (const r of rows) map.set(keyOf(r), r);
  return keys.map((k) => map.get(k));
}

/** Per-request batching; created fresh for every request so nothing is cached across callers. */
export function createLoaders(db: Db) {
  return {
    actor: new DataLoader<string, ActorRow | undefined>(async (ids) => byKeys(ids, await findActorsByIds(db, ids), (a) => a.id)),
  };
}

export type Loaders = ReturnType<typeof createLoaders>;
