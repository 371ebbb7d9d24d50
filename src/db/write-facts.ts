import { sql } from 'kysely';
import type { GrantFact } from '../core/rights.ts';
import { prepared, type Trx } from './connection.ts';
import { grantFactsFromJson, grantsJsonOf, type GrantJson } from './grants.ts';
import type { ItemRow } from './types.ts';

/** A referenced item with what the visibility and transition rules need beside the row. */
export interface ItemWithFacts extends ItemRow {
  /** Owner of the item's product (the brand). */
  brand_owner_id: string;
  /** The writer has held the item (a custody start after commissioning). */
  held: boolean;
}

/** Everything a write's decisions read before it writes, loaded by {@link loadWriteFacts}. */
export interface WriteFacts {
  /** Every grant ever given to the writer, with its revocation if any (core decides which are in force). */
  grants: GrantFact[];
  /** The named counterparty, when one was named and exists. */
  counterparty: { roles: string[]; isOperator: boolean } | null;
  /** The writer's stored request under the idempotency key, when a key was given and has been used. */
  idempotency: { operation: string; requestHash: Uint8Array; response: unknown } | null;
  /** Items matching the references (by id or by (gtin, serial)); a reference that matches nothing has no row. */
  items: ItemWithFacts[];
}

/**
 * Loads, in one statement, what a write decides on before writing: the writer's grants (all of them: core judges
 * which are in force), the counterparty (`counterpartyId` must be a UUID or null), the stored request under
 * `idempotencyKey`, and the items referenced by id (`ids` must be UUIDs) or by (gtin, serial). A missing and an
 * invisible item cost the same: the caller judges visibility from these facts without another query. The statement
 * of a batch of writes ({@link loadBatchWriteFacts}) for one writer.
 */
export async function loadWriteFacts(trx: Trx, q: {
  actorId: string;
  counterpartyId: string | null;
  idempotencyKey: string | null;
  ids: readonly string[];
  keys: readonly { gtin: string; serial: string }[];
}): Promise<WriteFacts> {
  const facts = await loadBatchWriteFacts(trx, {
    actorIds: [q.actorId],
    counterpartyIds: q.counterpartyId ? [q.counterpartyId] : [],
    idempotency: q.idempotencyKey !== null ? [{ actorId: q.actorId, key: q.idempotencyKey }] : [],
    ids: q.ids.map((id) => ({ actorId: q.actorId, id })),
    keys: q.keys.map((k) => ({ actorId: q.actorId, gtin: k.gtin, serial: k.serial })),
  });
  return factsOfWriter(facts, q.actorId, q.counterpartyId, q.idempotencyKey);
}

/**
 * One writer's facts cut from a batch's: its grants, the counterparty and stored request it named, and every item
 * any of its writes referenced (a decision picks the ones its own references name).
 */
export function factsOfWriter(facts: BatchWriteFacts, actorId: string, counterpartyId: string | null, idempotencyKey: string | null): WriteFacts {
  return {
    grants: facts.grantsOf.get(actorId) ?? [],
    counterparty: counterpartyId ? facts.counterparties.get(counterpartyId) ?? null : null,
    idempotency: idempotencyKey !== null ? facts.idempotency.get(`${actorId} ${idempotencyKey}`) ?? null : null,
    items: facts.itemsOf.get(actorId) ?? [],
  };
}

/** What a batch of writes decides on: {@link WriteFacts} for several writers at once (see {@link loadBatchWriteFacts}). */
export interface BatchWriteFacts {
  /** Every grant ever given to each writer, by writer id. */
  grantsOf: Map<string, GrantFact[]>;
  /** Named counterparties that exist, by id. */
  counterparties: Map<string, { roles: string[]; isOperator: boolean }>;
  /** Stored requests by `${actorId} ${key}`. */
  idempotency: Map<string, { operation: string; requestHash: Uint8Array; response: unknown }>;
  /** Matched items per writer (the `held` fact is the writer's own), by writer id. */
  itemsOf: Map<string, ItemWithFacts[]>;
}

type BatchFactRow =
  | { t: 'grants'; k1: string; k2: null; j: GrantJson[] }
  | { t: 'party'; k1: string; k2: null; j: { roles: string[]; isOperator: boolean } }
  | { t: 'idem'; k1: string; k2: string; j: { operation: string; requestHash: string; response: unknown } };

/** What {@link loadBatchWriteFacts} is asked for. */
export interface BatchFactsQuery {
  actorIds: readonly string[];
  counterpartyIds: readonly string[];
  idempotency: readonly { actorId: string; key: string }[];
  ids: readonly { actorId: string; id: string }[];
  keys: readonly { actorId: string; gtin: string; serial: string }[];
}

/**
 * The statement behind {@link loadBatchWriteFacts}, exported so a test can EXPLAIN it. One row of writer facts (grants,
 * counterparties, stored requests) as JSON beside the first item row (the LEFT JOIN keeps that row when no reference
 * matches), then one row per matched item and writer. Items are found through their primary key or the (gtin, serial)
 * index (keys as char(14), the column's type), so each reference is a point query whatever the ledger size.
 */
export const batchWriteFactsSql = (q: BatchFactsQuery) => sql<ItemWithFacts & { for_actor: string | null; facts: BatchFactRow[] | null; id: string | null }>`
    WITH f AS (
      SELECT json_agg(x) AS facts FROM (
        SELECT 'grants' AS t, a.id::text AS k1, NULL::text AS k2, ${grantsJsonOf(sql`a.id`)} AS j
          FROM unnest(${[...new Set(q.actorIds)]}::uuid[]) AS a(id)
        UNION ALL
        SELECT 'party', c.id::text, NULL, json_build_object('roles', c.roles, 'isOperator', c.is_operator)
          FROM actors c WHERE c.id = ANY(${[...new Set(q.counterpartyIds)]}::uuid[])
        UNION ALL
        SELECT 'idem', ik.actor_id::text, ik.key, json_build_object('operation', ik.operation, 'requestHash', encode(ik.request_hash, 'hex'), 'response', ik.response)
          FROM unnest(${q.idempotency.map((i) => i.actorId)}::uuid[], ${q.idempotency.map((i) => i.key)}::text[]) AS w(actor_id, key)
          JOIN idempotency_keys ik ON ik.actor_id = w.actor_id AND ik.key = w.key
      ) x
    ), k AS (
      SELECT w.actor_id AS for_actor, i.* FROM unnest(${q.keys.map((k) => k.actorId)}::uuid[], ${q.keys.map((k) => k.gtin)}::char(14)[], ${q.keys.map((k) => k.serial)}::text[]) AS w(actor_id, gtin, serial)
        JOIN items i ON i.gtin = w.gtin AND i.serial = w.serial
      UNION ALL
      SELECT w.actor_id, i.* FROM unnest(${q.ids.map((k) => k.actorId)}::uuid[], ${q.ids.map((k) => k.id)}::uuid[]) AS w(actor_id, id)
        JOIN items i ON i.id = w.id
    )
    SELECT CASE WHEN row_number() OVER () = 1 THEN f.facts END AS facts, k.*, p.owner_id AS brand_owner_id,
      EXISTS (SELECT 1 FROM custody_starts cs WHERE cs.item_id = k.id AND cs.actor_id = k.for_actor) AS held
    FROM f LEFT JOIN k ON true LEFT JOIN products p ON p.gtin = k.gtin`;

/**
 * The facts of several writes in one statement, whatever their number: each writer's grants, the named
 * counterparties, stored idempotency rows, and the referenced items with each writer's custody history (a point query per reference). `counterpartyIds` and every `id` must be UUIDs.
 */
export async function loadBatchWriteFacts(trx: Trx, q: BatchFactsQuery): Promise<BatchWriteFacts> {
  const actors = [...new Set(q.actorIds)];
  const { rows } = await prepared(batchWriteFactsSql(q)).execute(trx);
  const out: BatchWriteFacts = { grantsOf: new Map(actors.map((a) => [a, []])), counterparties: new Map(), idempotency: new Map(), itemsOf: new Map() };
  for (const r of rows[0]?.facts ?? []) {
    if (r.t === 'grants') out.grantsOf.set(r.k1, grantFactsFromJson(r.j));
    else if (r.t === 'party') out.counterparties.set(r.k1, r.j);
    else out.idempotency.set(`${r.k1} ${r.k2}`, { operation: r.j.operation, requestHash: Uint8Array.from(Buffer.from(r.j.requestHash, 'hex')), response: r.j.response });
  }
  for (const { for_actor, facts: _f, ...item } of rows) {
    if (item.id === null || for_actor === null) continue;
    const list = out.itemsOf.get(for_actor) ?? [];
    list.push(item as ItemWithFacts);
    out.itemsOf.set(for_actor, list);
  }
  return out;
}
