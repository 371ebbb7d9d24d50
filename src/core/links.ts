/**
 * Brand links of the GS1 Digital Link resolver (GS1-Conformant Resolver standard 1.2): validation of a link set,
 * link type names, choosing the link a request resolves to, and the RFC 9264 linkset a resolver answers with.
 * Pure: no clock, no I/O; `Intl` and `URL` are the only platform objects used (both exist in browsers).
 */
import { checkText } from './text.ts';
import { type Result, err, ok } from './result.ts';

/** GS1 Web Vocabulary namespace used for link types in linksets (`gs1:pip` ↔ `https://gs1.org/voc/pip`). */
export const GS1_VOC = 'https://gs1.org/voc/';
/** Other spellings of the GS1 namespace a client may send as `linkType`. */
const GS1_VOC_ALIASES = ['https://gs1.org/voc/', 'http://gs1.org/voc/', 'https://ref.gs1.org/voc/', 'http://ref.gs1.org/voc/', 'https://www.gs1.org/voc/'];
/**
 * The resolver's own item page (product, stage, recall state, the brand's links) is offered under this ratified GS1
 * link type. It is the default link when the brand marked none as default, and brand links of the same type at any
 * level replace it.
 */
export const ITEM_PAGE_LINK_TYPE = 'gs1:traceability';
/** Link types that name resolver functions, not links, and so cannot be stored. */
const RESERVED = new Set(['gs1:defaultLink', 'gs1:defaultLinkMulti', 'gs1:linkset', 'linkset', 'all']);
export const MAX_LINKS_PER_SET = 100;

/** A link as stored and served. `linkType` is compact for GS1 types (`gs1:pip`), else an absolute URI. */
export interface Link {
  linkType: string;
  href: string;
  title: string;
  /** BCP 47 tag in canonical case, or null for any language. */
  language: string | null;
  /** Free token a client selects with `?context=` (e.g. a country or a use), or null. */
  context: string | null;
  mediaType: string | null;
  isDefault: boolean;
}

export interface LinkInput {
  linkType: string;
  href: string;
  title: string;
  language?: string | null;
  context?: string | null;
  mediaType?: string | null;
  default?: boolean | null;
}

export interface LinkProblem {
  /** Input path, e.g. `links[2].href`. */
  field: string;
  message: string;
}

/**
 * Normalises a link type as written by a client: `gs1:name` or a GS1 vocabulary URI become `gs1:name`; any other
 * absolute http(s) URI is kept as it is (a link type of another vocabulary). Null when it is neither.
 */
export function normalizeLinkType(raw: string): string | null {
  const value = raw.trim();
  for (const ns of GS1_VOC_ALIASES) {
    if (value.toLowerCase().startsWith(ns)) return gs1Name(value.slice(ns.length));
  }
  if (value.startsWith('gs1:')) return gs1Name(value.slice(4));
  if (/^https?:\/\/[^\s/?#]+\/\S*$/i.test(value) && value.length <= 300) return value;
  return null;
}

function gs1Name(name: string): string | null {
  return /^[a-z][A-Za-z0-9]{0,63}$/.test(name) ? `gs1:${name}` : null;
}

/** The full URI of a stored link type, as linksets key it (`gs1:pip` → `https://gs1.org/voc/pip`). */
export function linkTypeUri(linkType: string): string {
  return linkType.startsWith('gs1:') ? GS1_VOC + linkType.slice(4) : linkType;
}

/** A BCP 47 tag in canonical form (`en-gb` → `en-GB`), or null if it is not well-formed. */
export function canonicalLanguage(tag: string): string | null {
  if (!/^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$/.test(tag) || tag.length > 35) return null;
  try {
    return Intl.getCanonicalLocales(tag)[0] ?? null;
  } catch {
    return null;
  }
}

/**
 * Validates a link set written by a brand and returns it in stored form. Every problem is reported with its input
 * path. Rules: at most 100 links; link type `gs1:name` or an http(s) URI (the resolver's own names defaultLink,
 * defaultLinkMulti, linkset and all are refused); href an absolute http(s) URL without user info, ≤ 2048 characters;
 * title 1–200 characters; language a BCP 47 tag; context 1–64 of `A-Z a-z 0-9 _ . : -`; mediaType `type/subtype`;
 * several default links only when each differs from the others in language, context or media type (the resolver must
 * be able to choose among them).
 */
export function validateLinks(input: readonly LinkInput[]): Result<Link[], LinkProblem[]> {
  const problems: LinkProblem[] = [];
  const links: Link[] = [];
  if (input.length > MAX_LINKS_PER_SET) return err([{ field: 'links', message: `at most ${MAX_LINKS_PER_SET} links per product, lot or serial` }]);
  input.forEach((l, i) => {
    const at = (f: string) => `links[${i}].${f}`;
    const before = problems.length;
    const linkType = normalizeLinkType(l.linkType);
    if (linkType === null) problems.push({ field: at('linkType'), message: `linkType must be gs1:{name} (GS1 Web Vocabulary) or an absolute http(s) URI, got ${JSON.stringify(l.linkType)}` });
    else if (RESERVED.has(linkType)) problems.push({ field: at('linkType'), message: `${linkType} is a resolver function, not a link type; mark a link as default with default: true` });
    const href = l.href.trim();
    const hrefProblem = checkText(href, at('href'), { min: 1, max: 2048 });
    if (hrefProblem) problems.push(hrefProblem);
    let url: URL | undefined;
    try {
      url = new URL(href);
    } catch {
      /* reported below */
    }
    if (hrefProblem) {
      // reported above
    } else if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:') || href.length > 2048) {
      problems.push({ field: at('href'), message: 'href must be an absolute http or https URL of at most 2048 characters' });
    } else if (url.username || url.password) {
      problems.push({ field: at('href'), message: 'href must not carry a user name or password' });
    }
    const title = l.title.trim();
    const titleProblem = checkText(title, at('title'), { min: 1, max: 200 });
    if (titleProblem) problems.push(titleProblem);
    let language: string | null = null;
    if (l.language !== undefined && l.language !== null) {
      language = canonicalLanguage(l.language.trim());
      if (language === null) problems.push({ field: at('language'), message: `language must be a BCP 47 tag such as en or de-CH, got ${JSON.stringify(l.language)}` });
    }
    const context = l.context?.trim() || null;
    if (context !== null && !/^[A-Za-z0-9_.:-]{1,64}$/.test(context)) problems.push({ field: at('context'), message: 'context must be 1 to 64 characters of A-Z a-z 0-9 _ . : -' });
    const mediaType = l.mediaType?.trim().toLowerCase() || null;
    if (mediaType !== null && (!/^[a-z0-9][a-z0-9!#$&^_.+-]{0,62}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,62}$/.test(mediaType))) {
      problems.push({ field: at('mediaType'), message: 'mediaType must be a media type such as text/html or application/pdf' });
    }
    if (problems.length === before) links.push({ linkType: linkType!, href: url!.href, title, language, context, mediaType, isDefault: l.default === true });
  });
  if (problems.length > 0) return err(problems);
  const defaults = links.map((l, i) => ({ l, i })).filter(({ l }) => l.isDefault);
  const seen = new Map<string, number>();
  for (const { l, i } of defaults) {
    const key = JSON.stringify([l.language, l.context, l.mediaType]);
    const first = seen.get(key);
    if (first !== undefined) {
      problems.push({ field: `links[${i}].default`, message: `links[${first}] is already the default for the same language, context and media type` });
    } else seen.set(key, i);
  }
  return problems.length > 0 ? err(problems) : ok(links);
}

// ---------------------------------------------------------------------------------------------------------------
// Resolution

/** The link sets that apply to a request, most specific first (serial, then lot, then product). */
export type LinkLevels = readonly (readonly Link[])[];

/**
 * The links in effect: per link type, the links of the most specific level that has that type (a serial's
 * `gs1:pip` hides the product's). The resolver's item page (`itemPage`) is added under
 * {@link ITEM_PAGE_LINK_TYPE} unless a level already has that type. Order: level order, then as written.
 */
export function effectiveLinks(levels: LinkLevels, itemPage: Link | null): Link[] {
  const taken = new Set<string>();
  const out: Link[] = [];
  for (const level of levels) {
    const types = new Set(level.map((l) => l.linkType));
    for (const l of level) if (!taken.has(l.linkType)) out.push(l);
    for (const t of types) taken.add(t);
  }
  if (itemPage && !taken.has(itemPage.linkType)) out.push(itemPage);
  return out;
}

/**
 * The default links: those marked default at the most specific level that marks any; else the item page (when
 * given). A level's defaults are taken as a whole so a serial's default wins over the product's.
 */
export function defaultLinks(levels: LinkLevels, itemPage: Link | null): Link[] {
  for (const level of levels) {
    const marked = level.filter((l) => l.isDefault);
    if (marked.length > 0) return marked;
  }
  return itemPage ? [{ ...itemPage, isDefault: true }] : [];
}

/** A language range from Accept-Language with its weight; `*` matches any. */
export interface LanguageRange {
  tag: string;
  q: number;
}

/** Parses an Accept-Language header (RFC 9110 §12.5.4) into ranges by descending weight; malformed parts are skipped. */
export function parseAcceptLanguage(header: string | null | undefined): LanguageRange[] {
  if (!header) return [];
  const ranges: (LanguageRange & { order: number })[] = [];
  header.split(',').slice(0, 30).forEach((part, order) => {
    const [rawTag, ...params] = part.trim().split(';');
    const tag = rawTag!.trim().toLowerCase();
    if (!/^(\*|[a-z]{1,8}(-[a-z0-9]{1,8})*)$/.test(tag)) return;
    let q = 1;
    for (const p of params) {
      const m = /^\s*q\s*=\s*([01](?:\.\d{0,3})?)\s*$/i.exec(p);
      if (m) q = Number(m[1]);
    }
    if (q > 0) ranges.push({ tag, q, order });
  });
  return ranges.sort((a, b) => b.q - a.q || a.order - b.order).map(({ tag, q }) => ({ tag, q }));
}

function languageMatches(range: string, language: string): boolean {
  const l = language.toLowerCase();
  if (range === '*' || l === range) return true;
  // en matches en-GB and en-GB matches en: a regional request is better served in the language than not at all.
  return l.startsWith(`${range}-`) || range.startsWith(`${l}-`);
}

export interface Preferences {
  languages: readonly LanguageRange[];
  context: string | null;
  mediaType: string | null;
}

/**
 * Narrows candidates of one link type (or the default links) to the best match for a request: media type, then
 * context (a link with no context serves any context), then language by the client's ranges in order (a link with
 * no language serves any language). Returns one link, or several when nothing tells them apart (a 300 answer);
 * empty only for empty input.
 */
export function chooseLinks(candidates: readonly Link[], prefs: Preferences): Link[] {
  let set = [...candidates];
  const narrow = (keep: (l: Link) => boolean) => {
    const kept = set.filter(keep);
    if (kept.length > 0) set = kept;
  };
  const mediaType = prefs.mediaType?.toLowerCase();
  if (mediaType) narrow((l) => l.mediaType === mediaType);
  if (prefs.context) narrow((l) => l.context === prefs.context);
  else narrow((l) => l.context === null);
  if (set.length > 1) {
    let matched = false;
    for (const range of prefs.languages) {
      const byLanguage = set.filter((l) => l.language !== null && languageMatches(range.tag, l.language));
      if (byLanguage.length > 0) {
        // An exact tag beats a primary-language match (de-CH request: de-CH before de).
        const exact = byLanguage.filter((l) => l.language!.toLowerCase() === range.tag);
        set = exact.length > 0 ? exact : byLanguage;
        matched = true;
        break;
      }
    }
    if (!matched) narrow((l) => l.language === null);
  }
  return set;
}

// ---------------------------------------------------------------------------------------------------------------
// RFC 9264 linkset

/** A target object of a linkset (RFC 9264 §4.2.4) with GS1's `context` extension. */
export interface LinkTarget {
  href: string;
  title: string;
  hreflang?: string[];
  type?: string;
  context?: string[];
}

export function linkTarget(l: Link): LinkTarget {
  return {
    href: l.href,
    title: l.title,
    ...(l.language ? { hreflang: [l.language] } : {}),
    ...(l.mediaType ? { type: l.mediaType } : {}),
    ...(l.context ? { context: [l.context] } : {}),
  };
}

/**
 * The linkset document of one identified entity: its anchor, an `itemDescription`, every effective link under its
 * link type URI, exactly one `gs1:defaultLink` (href and title only, as the standard requires) and, when several
 * defaults exist, all of them under `gs1:defaultLinkMulti`.
 */
export function buildLinkset(anchor: string, itemDescription: string, links: readonly Link[], defaults: readonly Link[]): { linkset: Record<string, unknown>[] } {
  const entry: Record<string, unknown> = { anchor, itemDescription };
  for (const l of links) {
    const key = linkTypeUri(l.linkType);
    ((entry[key] ??= []) as LinkTarget[]).push(linkTarget(l));
  }
  if (defaults.length > 0) {
    entry[`${GS1_VOC}defaultLink`] = [{ href: defaults[0]!.href, title: defaults[0]!.title }];
    if (defaults.length > 1) entry[`${GS1_VOC}defaultLinkMulti`] = defaults.map(linkTarget);
  }
  return { linkset: [entry] };
}

/** Who manages a product's links and reads its scan counts: the brand that owns the product, or the operator. */
export function isBrandOrOperator(caller: { id: string; isOperator: boolean }, productOwnerId: string): boolean {
  return caller.isOperator || caller.id === productOwnerId;
}
