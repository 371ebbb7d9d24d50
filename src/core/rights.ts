import {
  type ConflictFailure, type NotFoundFailure, type PermissionFailure, type ValidationFailure, conflict, denied, invalid, notFound, roleRequired,
} from './failures.ts';
import { companyPrefixFor, normalizeGtin } from './identifiers.ts';
import { GRANTABLE_KINDS, type GrantStatus, type LedgerKind, LIFECYCLE, decideRecorder } from './lifecycle.ts';
import { isBrandOrOperator } from './links.ts';
import { isParty } from './party.ts';
import { type Result, err, ok } from './result.ts';
import { checkOptionalText } from './text.ts';
import { parseOccurrenceTime } from './time.ts';

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
 * Nesting containers (packItems with `containers`), decided once the caller is known to hold them all: a container is
 * packed in at most one other (unpack it first), and packing `parent` into one of its own descendants would make a
 * cycle. `packedIn` maps each child already packed somewhere to that container; `parentIsInside` says whether `parent`
 * lies at any depth inside one of the children.
 */
export function decideNesting(parent: string, children: readonly string[], packedIn: ReadonlyMap<string, string>, parentIsInside: boolean): Result<null, ValidationFailure> {
  const already = children.find((c) => packedIn.has(c));
  if (already) return err(invalid('containers', `container ${already} is already packed in ${packedIn.get(already)}; unpack it first`, { type: 'container', sscc: already }));
  if (parentIsInside) return err(invalid('containers', `container ${parent} is inside one of the containers to pack; that would be a cycle`, { type: 'container', sscc: parent }));
  return ok(null);
}

/** Whose EPCIS capture jobs an actor may read: its own (its id), or every actor's for the operator (null). */
export const captureJobsOf = (actor: { id: string; isOperator: boolean }): string | null => (actor.isOperator ? null : actor.id);

/** An actor's API keys (hints only) are shown to the actor itself and to the operator. */
export const canSeeApiKeys = (viewer: { id: string; isOperator: boolean }, actorId: string): boolean => viewer.isOperator || viewer.id === actorId;

// ---- decisions of the write use cases: services load these facts, ask here, and write what is decided ----

/** The calling actor as the rules need it. */
export interface ActorFacts {
  id: string;
  roles: readonly string[];
  isOperator: boolean;
  /** GS1 company prefixes the actor registered (manufacturers). */
  companyPrefixes: readonly string[];
}

/** Operator-only actions (creating actors, issuing and revoking API keys): OPERATOR_REQUIRED for anyone else. */
export function requireOperator(actor: ActorFacts, action: string): Result<null, PermissionFailure<'OPERATOR_REQUIRED'>> {
  return actor.isOperator ? ok(null) : err(denied('OPERATOR_REQUIRED', `only the platform operator may ${action}`));
}

/** The lifecycle table's COMMISSION role and its refusal code (MANUFACTURER: test/core/write-decisions.test.ts). */
const COMMISSION_ROLE = LIFECYCLE.COMMISSION.role!;
const COMMISSION_ROLE_RULE = roleRequired(COMMISSION_ROLE) as 'ROLE_REQUIRED:MANUFACTURER';

/**
 * registerProduct: a MANUFACTURER registers a GTIN that carries one of its GS1 company prefixes (the prefix is
 * returned). Refusals: ROLE_REQUIRED:MANUFACTURER, then NOT_PREFIX_OWNER.
 */
export function decideRegisterProduct(actor: ActorFacts, gtin: string): Result<{ prefix: string }, PermissionFailure<'ROLE_REQUIRED:MANUFACTURER' | 'NOT_PREFIX_OWNER'>> {
  if (!actor.roles.includes(COMMISSION_ROLE)) return err(denied(COMMISSION_ROLE_RULE, 'only a MANUFACTURER registers products'));
  const prefix = companyPrefixFor(gtin, actor.companyPrefixes);
  if (!prefix) return err(denied('NOT_PREFIX_OWNER', `GTIN ${gtin} does not carry any of your company prefixes (${actor.companyPrefixes.join(', ') || 'none'})`));
  return ok({ prefix });
}

/**
 * registerBatch (COMMISSION of new items): the actor must hold the COMMISSION role of the lifecycle table, the product
 * must be visible to it (`product` undefined when missing or hidden: both "not found", worded alike), owned by it, and
 * still carry one of its company prefixes (returned: it shapes the SGTINs).
 */
export function decideCommission(
  actor: ActorFacts,
  gtin: string,
  product: { ownerId: string } | undefined,
): Result<{ prefix: string }, NotFoundFailure | PermissionFailure<'ROLE_REQUIRED:MANUFACTURER' | 'NOT_BRAND_OWNER' | 'NOT_PREFIX_OWNER'>> {
  if (!actor.roles.includes(COMMISSION_ROLE)) return err(denied(COMMISSION_ROLE_RULE, 'only a MANUFACTURER registers batches'));
  if (!product) return err(notFound(`product ${gtin} not found`));
  if (product.ownerId !== actor.id) return err(denied('NOT_BRAND_OWNER', 'only the product owner registers its batches'));
  // The owner is the actor here, so its own prefixes are the owner's.
  const prefix = companyPrefixFor(gtin, actor.companyPrefixes);
  if (!prefix) return err(denied('NOT_PREFIX_OWNER', `GTIN ${gtin} no longer carries a company prefix of its owner`));
  return ok({ prefix });
}

/**
 * recallBatch, rights: a batch the actor cannot see (`batch` undefined) is "not found"; otherwise the RECALL recorder
 * rule of the lifecycle table decides (the brand, or a grantee in force; a lapsed grant is named). Returns the grant
 * relied on (null for the brand itself).
 */
export function decideRecall<B extends { brandOwnerId: string }>(
  actor: ActorFacts,
  ref: { gtin: string; lot: string },
  batch: B | undefined,
  grant: { status: GrantStatus; grantId: string | null },
): Result<{ authorizedBy: string | null; batch: B }, NotFoundFailure | PermissionFailure<'NOT_BRAND_OWNER' | 'GRANT_EXPIRED' | 'GRANT_REVOKED'>> {
  if (!batch) return err(notFound(`batch ${ref.lot} of ${ref.gtin} not found`));
  const d = decideRecorder('RECALL', actor, { custodianId: '', pendingReceiverId: null, brandOwnerId: batch.brandOwnerId }, grant);
  if (d.ok) return ok({ authorizedBy: d.value.authorizedBy, batch });
  const rule = d.error.rule as 'NOT_BRAND_OWNER' | 'GRANT_EXPIRED' | 'GRANT_REVOKED';
  if (rule === 'NOT_BRAND_OWNER') return err(denied(rule, 'only the brand owner (or a RECALL grantee) recalls a batch'));
  return err(denied(rule, 'your RECALL grant for this batch is no longer in force'));
}

/**
 * recallBatch, what to write once allowed: a batch already recalled is answered again without writing; otherwise at
 * least one item must still be open (not recycled or destroyed).
 */
export function decideRecallScope(batch: { recalled: boolean }, openItems: number): Result<{ alreadyRecalled: boolean }, ValidationFailure> {
  if (batch.recalled) return ok({ alreadyRecalled: true });
  if (openItems === 0) return err(invalid('lot', 'every item of this batch is already recycled or destroyed; nothing to recall'));
  return ok({ alreadyRecalled: false });
}

/** A grant request as submitted (grantee already resolved to an id). */
export interface GrantRequest {
  kinds: readonly string[];
  product?: string | null;
  batch?: { gtin: string; lot: string } | null;
  allProducts?: boolean | null;
  expiresAt?: string | null;
}

/** A grant request checked on its own: kinds deduplicated and sorted, exactly one scope, expiry in the future. */
export interface CheckedGrantRequest {
  kinds: string[];
  scope: { type: 'allProducts' } | { type: 'product'; gtin: string } | { type: 'batch'; gtin: string; lot: string };
  expiresAt: Date | null;
}

/**
 * Grant policy, on the request alone (before anything is looked up): only `GRANTABLE_KINDS` (derived from the
 * lifecycle table) can be granted, text is bounded, exactly one of product, batch or allProducts, an expiry in the
 * future. The GTIN is checked later (`decideGrant`), after the grantee, as the API always did.
 */
export function checkGrantRequest(req: GrantRequest, now: Date): Result<CheckedGrantRequest, ValidationFailure> {
  const kinds = [...new Set(req.kinds)].sort();
  const bad = kinds.find((k) => !(GRANTABLE_KINDS as readonly string[]).includes(k));
  if (bad) return err(invalid('kinds', `${bad} cannot be granted; grantable kinds are ${GRANTABLE_KINDS.join(', ')} (custody moves need the holder)`));
  const textProblem = checkOptionalText(req.product, 'product', { max: 100 }) ?? checkOptionalText(req.batch?.lot, 'batch.lot', { max: 200 });
  if (textProblem) return err(invalid(textProblem.field, textProblem.message));
  const scopes = [req.product, req.batch, req.allProducts || null].filter((s) => s !== null && s !== undefined);
  if (scopes.length !== 1) return err(invalid('scope', 'give exactly one of product, batch or allProducts'));
  let expiresAt: Date | null = null;
  if (req.expiresAt) {
    const t = parseOccurrenceTime(req.expiresAt);
    if (!t.ok) return err(invalid('expiresAt', t.error));
    if (t.value.instant.getTime() <= now.getTime()) return err(invalid('expiresAt', 'expiresAt must be in the future'));
    expiresAt = t.value.instant;
  }
  const scope: CheckedGrantRequest['scope'] = req.allProducts
    ? { type: 'allProducts' }
    : req.product ? { type: 'product', gtin: req.product } : { type: 'batch', gtin: req.batch!.gtin, lot: req.batch!.lot };
  return ok({ kinds, scope, expiresAt });
}

/** What `decideGrant` needs loaded: the grantee, and for a product or batch scope the product and batch (if any). */
export interface GrantFacts {
  grantee: { id: string; isOperator: boolean } | undefined;
  product: { gtin: string; ownerId: string } | undefined;
  batch: { id: string } | undefined;
}

export interface GrantPlan {
  granteeId: string;
  kinds: string[];
  productGtin: string | null;
  batchId: string | null;
  allProducts: boolean;
  expiresAt: Date | null;
}

/**
 * Who may grant what to whom: the grantee must be a (non-operator) actor other than the caller; an all-products grant
 * is the operator's and read-only; a product or batch grant is the brand owner's (or the operator's), and someone
 * else's product is "not found", so grants never reveal what exists.
 */
export function decideGrant(
  caller: ActorFacts,
  req: CheckedGrantRequest,
  facts: GrantFacts,
): Result<GrantPlan, ValidationFailure | NotFoundFailure | PermissionFailure<'OPERATOR_REQUIRED'>> {
  if (!facts.grantee || !isParty(facts.grantee)) return err(notFound('grantee not found'));
  if (facts.grantee.id === caller.id) return err(invalid('grantee', 'you cannot grant rights to yourself'));
  const plan = { granteeId: facts.grantee.id, kinds: req.kinds, expiresAt: req.expiresAt };
  if (req.scope.type === 'allProducts') {
    if (!caller.isOperator) return err(denied('OPERATOR_REQUIRED', 'only the operator grants access to all products'));
    if (req.kinds.length > 0) return err(invalid('kinds', 'an all-products grant is read-only (no kinds)'));
    return ok({ ...plan, productGtin: null, batchId: null, allProducts: true });
  }
  const gtin = normalizeGtin(req.scope.gtin);
  if (!gtin.ok) return err(invalid(req.scope.type === 'product' ? 'product' : 'batch.gtin', gtin.error));
  const p = facts.product;
  if (!p || p.gtin !== gtin.value || (p.ownerId !== caller.id && !caller.isOperator)) return err(notFound(`product ${gtin.value} not found`));
  if (req.scope.type === 'product') return ok({ ...plan, productGtin: gtin.value, batchId: null, allProducts: false });
  if (!facts.batch) return err(notFound(`batch ${req.scope.lot} of ${gtin.value} not found`));
  return ok({ ...plan, productGtin: null, batchId: facts.batch.id, allProducts: false });
}

/**
 * Revoking a grant: a grant the caller is neither party to nor the operator of is "not found"; a grantee sees it but
 * only the grantor (or the operator) revokes it (NOT_GRANTOR); revoking twice is a conflict naming the first time.
 */
export function decideRevoke<G extends { grantorId: string; granteeId: string; revokedAt: Date | null }>(
  caller: ActorFacts,
  grant: G | undefined,
): Result<G, NotFoundFailure | PermissionFailure<'NOT_GRANTOR'> | ConflictFailure> {
  if (!grant || (grant.grantorId !== caller.id && grant.granteeId !== caller.id && !caller.isOperator)) return err(notFound('grant not found'));
  if (grant.grantorId !== caller.id && !caller.isOperator) return err(denied('NOT_GRANTOR', 'only who granted it (or the operator) may revoke a grant'));
  if (grant.revokedAt) return err(conflict(`grant was already revoked at ${grant.revokedAt.toISOString()}`));
  return ok(grant);
}

/**
 * setLinks: a product the caller cannot see (`product` undefined) is "not found", worded as for a missing one; only
 * the brand owning it or the operator manages its links (NOT_BRAND_OWNER).
 */
export function decideManageLinks(
  caller: ActorFacts,
  gtin: string,
  product: { ownerId: string } | undefined,
): Result<null, NotFoundFailure | PermissionFailure<'NOT_BRAND_OWNER'>> {
  if (!product) return err(notFound(`product ${gtin} not found`));
  if (!isBrandOrOperator({ id: caller.id, isOperator: caller.isOperator }, product.ownerId)) {
    return err(denied('NOT_BRAND_OWNER', `only the brand owning product ${gtin} (or the operator) manages its links`));
  }
  return ok(null);
}

/**
 * Whether a reader may look at a container (GraphQL `container`): all-products readers and its holder always; anyone
 * else only when at least one item inside it (at any depth) is visible to them, and then only those items.
 */
export function canSeeContainer(scope: ReadScope, c: { holderId: string; visibleItems: number }): boolean {
  return scope.allProducts || c.holderId === scope.actorId || c.visibleItems > 0;
}
