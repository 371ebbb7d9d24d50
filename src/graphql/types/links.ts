import { normalizeGtin } from '../../core/identifiers.ts';
import { type Link, isBrandOrOperator, linkTypeUri } from '../../core/links.ts';
import { scanRange } from '../../core/resolver.ts';
import { type LinkSetVersion, type ScanDelta, currentLinks, linkHistory, scanCounts, scopeKey } from '../../db/links.ts';
import type { ProductRow } from '../../db/types.ts';
import { flushScanCounts } from '../../services/scan-counter.ts';
import { SET_LINKS_FAILURES, setLinks } from '../../services/set-links.ts';
import { builder } from '../builder.ts';
import type { Context } from '../context.ts';
import { viewerOf } from '../context.ts';
import { inputError } from '../pagination.ts';
import { ActorRef, ProductRef } from '../refs.ts';
import { failureToGraphQL, resultUnion, success } from './errors.ts';

const LinkRef = builder.objectRef<Link>('Link').implement({
  description: 'A link of the Digital Link resolver: where a scan of the product, a lot or a serial can lead.',
  fields: (t) => ({
    linkType: t.exposeString('linkType', { description: 'Compact GS1 link type (gs1:pip) or the URI of another vocabulary.' }),
    linkTypeUri: t.string({ description: 'The link type as a URI (https://gs1.org/voc/pip).', resolve: (l) => linkTypeUri(l.linkType) }),
    href: t.exposeString('href'),
    title: t.exposeString('title'),
    language: t.exposeString('language', { nullable: true, description: 'BCP 47 tag; null serves any language.' }),
    context: t.exposeString('context', { nullable: true }),
    mediaType: t.exposeString('mediaType', { nullable: true }),
    default: t.exposeBoolean('isDefault', { description: 'The resolver redirects here when no link type is asked for.' }),
  }),
});

const LinkSetRef = builder.objectRef<LinkSetVersion>('LinkSet').implement({
  description: 'One setLinks call: the whole link set of a product, a lot or a serial from then on, with who set it and when.',
  fields: (t) => ({
    gtin: t.exposeString('gtin'),
    lot: t.exposeString('lot', { nullable: true }),
    serial: t.exposeString('serial', { nullable: true }),
    setAt: t.expose('setAt', { type: 'DateTime' }),
    setBy: t.field({ type: ActorRef, resolve: async (s, _a, ctx) => (await ctx.loaders.actor.load(s.setBy))! }),
    links: t.field({ type: [LinkRef], resolve: (s) => s.links }),
  }),
});

const ScanCountRef = builder.objectRef<ScanDelta>('ScanCount').implement({
  description: 'Resolver hits of one product on one UTC day from one country (no personal data is kept).',
  fields: (t) => ({
    day: t.exposeString('day', { description: 'UTC day, YYYY-MM-DD.' }),
    country: t.exposeString('country', { description: 'ISO 3166 alpha-2 code from the trusted proxy header, or "unknown".' }),
    count: t.exposeInt('count'),
  }),
});

/** Current links of exactly one level; validation of lot/serial is left to the lookup (an unknown value has none). */
async function linksAt(ctx: Context, gtin: string, lot: string | null | undefined, serial: string | null | undefined): Promise<Link[]> {
  const scope = { lot: serial ? null : (lot ?? null), serial: serial ?? null };
  return (await currentLinks(ctx.db, gtin, [scope])).get(scopeKey(scope)) ?? [];
}

const mayManage = (ctx: Context, p: ProductRow) =>
  ctx.auth.kind === 'actor' && isBrandOrOperator({ id: ctx.auth.actor.id, isOperator: ctx.auth.actor.is_operator }, p.owner_id);

builder.objectFields(ProductRef, (t) => ({
  links: t.field({
    type: [LinkRef],
    description: 'The current resolver links of the product, or of one lot or serial of it (exactly that level, no walk-up).',
    args: { lot: t.arg.string(), serial: t.arg.string() },
    resolve: (p, args, ctx) => linksAt(ctx, p.gtin, args.lot, args.serial),
  }),
  linkHistory: t.field({
    type: [LinkSetRef],
    nullable: true,
    description: 'Every link set recorded for the product (or one lot or serial), newest first. Null unless you are the brand or the operator.',
    args: { lot: t.arg.string(), serial: t.arg.string(), first: t.arg.int({ defaultValue: 20 }) },
    resolve: async (p, args, ctx) => {
      if (!mayManage(ctx, p)) return null;
      const first = args.first ?? 20;
      if (first < 1 || first > 100) throw inputError('first', 'first must be between 1 and 100');
      return linkHistory(ctx.db, { gtin: p.gtin, lot: args.serial ? null : (args.lot ?? null), serial: args.serial ?? null }, first);
    },
  }),
  scanCounts: t.field({
    type: [ScanCountRef],
    nullable: true,
    description: 'Resolver scans per UTC day and country, from and to inclusive (YYYY-MM-DD, at most 366 days). Null unless you are the brand or the operator.',
    args: { from: t.arg.string({ required: true }), to: t.arg.string({ required: true }) },
    resolve: async (p, args, ctx) => {
      if (!mayManage(ctx, p)) return null;
      const range = scanRange(args.from, args.to);
      if (!range.ok) throw inputError(range.error.field, range.error.message);
      // Scans wait in memory for up to a second; a read sees them all.
      await flushScanCounts(ctx.db);
      return scanCounts(ctx.db, p.gtin, range.value.from, range.value.to);
    },
  }),
}));

builder.queryField('links', (t) =>
  t.field({
    type: [LinkRef],
    description: 'Public: the current resolver links of a product, or of one lot or serial of it (what its QR code leads to). Empty for an unknown GTIN.',
    args: { gtin: t.arg.string({ required: true }), lot: t.arg.string(), serial: t.arg.string() },
    resolve: (_r, args, ctx) => {
      const g = normalizeGtin(args.gtin);
      if (!g.ok) throw inputError('gtin', g.error);
      return linksAt(ctx, g.value, args.lot, args.serial);
    },
  }),
);

const LinkInputType = builder.inputType('LinkInput', {
  fields: (t) => ({
    linkType: t.string({ required: true, description: 'gs1:{name} (e.g. gs1:pip, gs1:instructions, gs1:registerProduct, gs1:support, gs1:recallStatus) or an absolute URI.' }),
    href: t.string({ required: true, description: 'Absolute http(s) URL.' }),
    title: t.string({ required: true, description: '1 to 200 characters.' }),
    language: t.string({ description: 'BCP 47 tag (en, de-CH); omit for any language.' }),
    context: t.string({ description: 'A token clients select with ?context= (e.g. a country code).' }),
    mediaType: t.string({ description: 'e.g. text/html, application/pdf.' }),
    default: t.boolean({ description: 'Where the resolver redirects without a link type; several defaults must differ in language, context or media type.' }),
  }),
});

const SetLinksInput = builder.inputType('SetLinksInput', {
  fields: (t) => ({
    gtin: t.string({ required: true }),
    lot: t.string({ description: 'Set the links of this lot (else of the product).' }),
    serial: t.string({ description: 'Set the links of this serial.' }),
    links: t.field({ type: [LinkInputType], required: true, description: 'The whole new set (up to 100); [] removes every link of this level.' }),
    idempotencyKey: t.string({ description: 'Retrying with the same key returns the first result and writes nothing.' }),
  }),
});

const SetLinksSuccess = builder.objectRef<{ linkSet: LinkSetVersion }>('SetLinksSuccess').implement({
  fields: (t) => ({ linkSet: t.field({ type: LinkSetRef, resolve: (s) => s.linkSet }) }),
});

builder.mutationField('setLinks', (t) =>
  t.field({
    type: resultUnion('SetLinks', SetLinksSuccess, SET_LINKS_FAILURES),
    description: "Replaces the resolver links of a product, a lot or a serial. The brand owning the GTIN or the operator only (else NOT_BRAND_OWNER); recorded with who and when.",
    authScopes: { authenticated: true },
    args: { input: t.arg({ type: SetLinksInput, required: true }) },
    resolve: async (_r, { input }, ctx) => {
      const result = await setLinks(ctx.db, viewerOf(ctx), ctx.scope, input, ctx.now());
      if (result.kind === 'ok') return success('SetLinksSuccess', result);
      return failureToGraphQL(result);
    },
  }),
);
