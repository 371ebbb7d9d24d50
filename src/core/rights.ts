import type { GrantStatus, LedgerKind } from './lifecycle.ts';
import { type Result, err, ok } from './result.ts';

/** A brand grant as the rules need it. `allProducts` grants come from the operator (auditors). */
export interface GrantFact {
  id: string;
  granteeId: string;
  kinds: readonly string[];
  productGtin: string | null;
  batchId: string | null;
  allProducts: boolean;
  createdAt: Date;
  expiresAt: Date | null;
  revokedAt: Date | null;
}

export interface ItemScope {
  gtin: string;
  batchId: string;
}

const covers = (g: GrantFact, item: ItemScope): boolean =>
  g.allProducts || g.productGtin === item.gtin || g.batchId === item.batchId;

/** In force at `at`: created before, not expired, not revoked. */
export const grantInForce = (g: GrantFact, at: Date): boolean =>
  g.createdAt.getTime() <= at.getTime() &&
  (g.expiresAt === null || at.getTime() < g.expiresAt.getTime()) &&
  (g.revokedAt === null || at.getTime() < g.revokedAt.getTime());

/**
 * The actor's grant status for recording `kind` on an item at `at`: a grant in force wins; otherwise a revoked
 * one is reported before an expired one, so a denial can say why a once-valid right stopped working.
 */
export function grantStatus(grants: readonly GrantFact[], actorId: string, kind: LedgerKind, item: ItemScope, at: Date): { status: GrantStatus; grantId: string | null } {
  const relevant = grants.filter((g) => g.granteeId === actorId && g.kinds.includes(kind) && covers(g, item) && g.createdAt.getTime() <= at.getTime());
  const valid = relevant.find((g) => grantInForce(g, at));
  if (valid) return { status: 'valid', grantId: valid.id };
  if (relevant.some((g) => g.revokedAt !== null && g.revokedAt.getTime() <= at.getTime())) return { status: 'revoked', grantId: null };
  if (relevant.some((g) => g.expiresAt !== null && g.expiresAt.getTime() <= at.getTime())) return { status: 'expired', grantId: null };
  return { status: 'none', grantId: null };
}

/** What a viewer is entitled to read, beyond what it holds or owns. */
export interface ReadScope {
  actorId: string;
  isOperator: boolean;
  /** Products and batches covered by grants in force (any kind, including read-only grants with no kinds). */
  gtins: string[];
  batchIds: string[];
  allProducts: boolean;
}

export function readScope(actorId: string, isOperator: boolean, grants: readonly GrantFact[], at: Date): ReadScope {
  const live = grants.filter((g) => g.granteeId === actorId && grantInForce(g, at));
  return {
    actorId,
    isOperator,
    gtins: live.flatMap((g) => (g.productGtin ? [g.productGtin] : [])),
    batchIds: live.flatMap((g) => (g.batchId ? [g.batchId] : [])),
    allProducts: isOperator || live.some((g) => g.allProducts),
  };
}

/** Facts about one item relative to a viewer; `held` = the viewer has been its custodian after commissioning. */
export interface ItemVisibilityFacts {
  gtin: string;
  batchId: string;
  brandOwnerId: string;
  custodianId: string;
  pendingReceiverId: string | null;
  held: boolean;
}

/**
 * An actor sees items of its own products, items it holds, has held or is about to receive, and items its grants
 * cover; the operator and all-products grantees see everything. Everything else is "not found".
 */
export function canSeeItem(scope: ReadScope, item: ItemVisibilityFacts): boolean {
  return (
    scope.allProducts ||
    item.brandOwnerId === scope.actorId ||
    item.custodianId === scope.actorId ||
    item.pendingReceiverId === scope.actorId ||
    item.held ||
    scope.gtins.includes(item.gtin) ||
    scope.batchIds.includes(item.batchId)
  );
}

/**
 * Whether the viewer may read an item's whole history (a proof bundle must be complete): the brand, grantees and
 * all-products readers; or the current custodian of an item whose brand made its history public.
 */
export function canSeeFullHistory(scope: ReadScope, item: Omit<ItemVisibilityFacts, 'held'> & { publicHistory: boolean }): boolean {
  return (
    scope.allProducts || item.brandOwnerId === scope.actorId || scope.gtins.includes(item.gtin) || scope.batchIds.includes(item.batchId) ||
    (item.publicHistory && item.custodianId === scope.actorId)
  );
}

/** What the container rules need to know about one SSCC, relative to the caller. */
export interface ContainerFacts {
  exists: boolean;
  /** Who last packed into or unpacked it: its holder while it is empty. */
  holderId: string | null;
  /** Current custodian of every item inside it, at any depth (empty for an empty container). */
  contentCustodians: readonly string[];
  /** Whether the caller may see at least one item inside. */
  seesContent: boolean;
}

/** PACK_INTO: the container packed into; PACK_NESTED: a container packed into another; UNPACK: the one emptied. */
export type ContainerUse = 'PACK_INTO' | 'PACK_NESTED' | 'UNPACK';

export type ContainerDenial = { type: 'NotFound' } | { type: 'PermissionDenied'; rule: 'NOT_CONTAINER_CUSTODIAN' };

/**
 * A container belongs to whoever holds what is in it (custody of its contents), and while empty to whoever last
 * packed or unpacked it. Only that custodian packs into, nests or unpacks it. A container the caller can neither
 * hold nor see into is answered as missing; packing into an SSCC that does not exist yet creates it.
 */
export function decideContainerUse(actorId: string, use: ContainerUse, c: ContainerFacts): Result<null, ContainerDenial> {
  if (!c.exists) return use === 'PACK_INTO' ? ok(null) : err({ type: 'NotFound' });
  const custodians = c.contentCustodians.length > 0 ? new Set(c.contentCustodians) : new Set(c.holderId ? [c.holderId] : []);
  if (!custodians.has(actorId) && !c.seesContent) return err({ type: 'NotFound' });
  if (custodians.size !== 1 || !custodians.has(actorId)) return err({ type: 'PermissionDenied', rule: 'NOT_CONTAINER_CUSTODIAN' });
  return ok(null);
}

/**
 * Whether a reader may look at a container (GraphQL `container`): all-products readers and its holder always; anyone
 * else only when at least one item inside it (at any depth) is visible to them, and then only those items.
 */
export function canSeeContainer(scope: ReadScope, c: { holderId: string; visibleItems: number }): boolean {
  return scope.allProducts || c.holderId === scope.actorId || c.visibleItems > 0;
}
