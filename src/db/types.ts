import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';

/** Row types of the database; only `src/db` and services see them, never GraphQL clients. */
type CreatedAt = ColumnType<Date, Date | string | undefined, never>;

export interface ActorsTable {
  id: Generated<string>;
  name: string;
  roles: string[];
  gln: string | null;
  company_prefixes: string[];
  public_key: Uint8Array | null;
  is_operator: Generated<boolean>;
  created_at: CreatedAt;
}

export interface ApiKeysTable {
  id: Generated<string>;
  actor_id: string;
  key_hash: Uint8Array;
  hint: string;
  created_at: CreatedAt;
  revoked_at: Date | null;
}

export interface ProductsTable {
  gtin: string;
  owner_id: string;
  name: string;
  attributes: ColumnType<Record<string, unknown>, string, string>;
  public_history: Generated<boolean>;
  created_at: CreatedAt;
}

export interface BatchesTable {
  id: Generated<string>;
  gtin: string;
  lot: string;
  produced_at: Date;
  site: string;
  recalled_at: Date | null;
  recall_reason: string | null;
  created_at: CreatedAt;
}

export interface ItemsTable {
  id: Generated<string>;
  batch_id: string;
  gtin: string;
  serial: string;
  sgtin: string;
  stage: string;
  custodian_id: string;
  pending_receiver_id: string | null;
  recalled: Generated<boolean>;
  head_seq: number;
  head_hash: Uint8Array;
  created_at: CreatedAt;
}

export interface EventsTable {
  id: Generated<string>;
  leaf_index: number;
  kind: string;
  actor_id: string;
  occurred_at: Date;
  tz_offset: string;
  recorded_at: Date;
  location: string | null;
  counterparty_id: string | null;
  data: ColumnType<Record<string, unknown>, string, string>;
  body: string;
  content_hash: Uint8Array;
  signature: Uint8Array | null;
  item_count: number;
  /** 1: a v1 body (values and item list hashed in); 2: a v2 body (docs/ledger-format.md). */
  format: ColumnType<number, number | undefined, number>;
  /**
   * v2: the salt of every committed field whose value is held (erased ones have none), in the compact form of
   * db/event-content.ts `encodeFieldSalts` (name → 16 bytes); read it with `decodeFieldSalts`.
   */
  field_salts: Uint8Array | null;
  /** v2: field name → hex content hash of the ERASE event that erased it. */
  erased: ColumnType<Record<string, string> | null, string | null | undefined, string | null>;
  /** v2: the event's secret items-tree pad key (32 bytes; never disclosed). */
  pad_key: Uint8Array | null;
  /** v2: the real items-tree nodes at levels ≥ 8 (core/v2/stored-chain.ts `encodeTreeTop`). */
  item_tree_top: Uint8Array | null;
}

/** An event committed by its writer but not yet integrated into the log (no leaf index yet). */
export interface PendingEventsTable extends Omit<EventsTable, 'id' | 'leaf_index'> {
  id: string;
  pending_seq: Generated<number>;
}

export interface ChainLinksTable {
  item_id: string;
  seq: number;
  event_id: string;
  // No prev_hash: it is the hash of the item's link at seq - 1 (zero bytes at seq 0); readers derive it (ledger.ts).
  hash: Uint8Array;
  /** The item's stage and recall flag after this event (null on links written before the head map). */
  stage: string | null;
  recalled: boolean | null;
  /** v2: the salt of the item's entry in its event's items tree (16 bytes); null on v1 links. */
  entry_salt: Uint8Array | null;
  /** v2: the leaf position of the item's entry in its event's items tree. */
  entry_position: number | null;
}

/** A stored node of the head map (see core/v2/head-map.ts): a bucket (entries: its keys and values) or an inner node. */
export interface HeadMapNodesTable {
  depth: number;
  /** The path's first ceil(depth/8) bytes, bits from `depth` on zeroed. */
  prefix: Uint8Array;
  hash: Uint8Array;
  entries: Uint8Array | null;
}

/** Head-map entries of a big pending event, computed by its writer (see db/head-map.ts `insertPendingHeads`). */
export interface PendingHeadsTable {
  event_id: string;
  entries: Uint8Array;
}

export interface IdempotencyKeysTable {
  actor_id: string;
  key: string;
  operation: string;
  request_hash: Uint8Array;
  response: ColumnType<unknown, string, string>;
  created_at: CreatedAt;
}

export interface LogStateTable {
  id: Generated<boolean>;
  size: number;
  root_hash: Uint8Array;
}

export interface LogNodesTable {
  level: number;
  index: number;
  hash: Uint8Array;
}

export interface CheckpointsTable {
  tree_size: number;
  root_hash: Uint8Array;
  note: string;
  created_at: CreatedAt;
}

export interface GrantsTable {
  id: Generated<string>;
  grantor_id: string;
  grantee_id: string;
  kinds: string[];
  product_gtin: string | null;
  batch_id: string | null;
  all_products: Generated<boolean>;
  expires_at: Date | null;
  created_at: Date;
}

export interface GrantRevocationsTable {
  grant_id: string;
  revoked_by: string;
  revoked_at: Date;
}

export interface CustodyStartsTable {
  item_id: string;
  seq: number;
  actor_id: string;
}

export interface ContainersTable {
  sscc: string;
  created_by: string;
  /** Who last packed into or unpacked it (its holder while empty). */
  holder_id: string;
  created_at: CreatedAt;
}

export interface ContainerMembersTable {
  parent_sscc: string;
  item_id: string | null;
  child_sscc: string | null;
}

export interface LinkSetsTable {
  id: Generated<string>;
  gtin: string;
  lot: string | null;
  serial: string | null;
  set_by: string;
  set_at: Date;
}

export interface LinksTable {
  set_id: string;
  position: number;
  link_type: string;
  href: string;
  title: string;
  language: string | null;
  context: string | null;
  media_type: string | null;
  is_default: boolean;
}

/** View: the links of the latest set per product / lot / serial. */
export interface CurrentLinksView extends LinksTable {
  gtin: string;
  lot: string | null;
  serial: string | null;
  set_by: string;
  set_at: Date;
}

export interface ScanCountsTable {
  gtin: string;
  day: ColumnType<string, string, string>;
  country: string;
  count: ColumnType<string, number, number>;
}

export interface Database {
  link_sets: LinkSetsTable;
  links: LinksTable;
  current_links: CurrentLinksView;
  scan_counts: ScanCountsTable;
  containers: ContainersTable;
  container_members: ContainerMembersTable;
  grants: GrantsTable;
  grant_revocations: GrantRevocationsTable;
  custody_starts: CustodyStartsTable;
  actors: ActorsTable;
  api_keys: ApiKeysTable;
  products: ProductsTable;
  batches: BatchesTable;
  items: ItemsTable;
  events: EventsTable;
  pending_events: PendingEventsTable;
  chain_links: ChainLinksTable;
  head_map_nodes: HeadMapNodesTable;
  pending_heads: PendingHeadsTable;
  idempotency_keys: IdempotencyKeysTable;
  log_state: LogStateTable;
  log_nodes: LogNodesTable;
  checkpoints: CheckpointsTable;
}

export type ActorRow = Selectable<ActorsTable>;
export type ApiKeyRow = Selectable<ApiKeysTable>;
export type ProductRow = Selectable<ProductsTable>;
export type BatchRow = Selectable<BatchesTable>;
export type ItemRow = Selectable<ItemsTable>;
export type EventRow = Selectable<EventsTable>;
export type ChainLinkRow = Selectable<ChainLinksTable>;
export type NewEvent = Insertable<EventsTable>;
export type GrantRow = Selectable<GrantsTable> & { revoked_at: Date | null; revoked_by: string | null };
