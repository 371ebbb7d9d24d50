import { describe, expect, it } from 'vitest';
import {
  type Link, buildLinkset, canonicalLanguage, chooseLinks, defaultLinks, effectiveLinks, normalizeLinkType, parseAcceptLanguage, validateLinks,
} from '../../src/core/links.ts';

const link = (over: Partial<Link>): Link => ({
  linkType: 'gs1:pip', href: 'https://b.example/', title: 'T', language: null, context: null, mediaType: null, isDefault: false, ...over,
});
const none = { languages: [], context: null, mediaType: null };

describe('link types and languages', () => {
  it('normalises GS1 link types given compact or as any GS1 vocabulary URI, keeps other URIs, refuses the rest', () => {
    expect(normalizeLinkType('gs1:pip')).toBe('gs1:pip');
    expect(normalizeLinkType('https://gs1.org/voc/recallStatus')).toBe('gs1:recallStatus');
    expect(normalizeLinkType('http://gs1.org/voc/pip')).toBe('gs1:pip');
    expect(normalizeLinkType('https://ref.gs1.org/voc/pip')).toBe('gs1:pip');
    expect(normalizeLinkType('https://schema.org/manual')).toBe('https://schema.org/manual');
    for (const bad of ['pip', 'gs1:', 'gs1:Pip', 'gs1:a b', 'urn:x:y', '']) expect(normalizeLinkType(bad), bad).toBeNull();
  });

  it('canonicalises BCP 47 tags and refuses malformed ones', () => {
    expect(canonicalLanguage('en-gb')).toBe('en-GB');
    expect(canonicalLanguage('DE')).toBe('de');
    expect(canonicalLanguage('not a tag')).toBeNull();
    expect(canonicalLanguage('en_GB')).toBeNull();
  });

  it('parses Accept-Language by weight, then order; drops q=0 and junk', () => {
    expect(parseAcceptLanguage('fr;q=0.5, de-CH, en;q=0.9, *;q=0.1, it;q=0, ??')).toEqual([
      { tag: 'de-ch', q: 1 }, { tag: 'en', q: 0.9 }, { tag: 'fr', q: 0.5 }, { tag: '*', q: 0.1 },
    ]);
    expect(parseAcceptLanguage(null)).toEqual([]);
  });
});

describe('validateLinks', () => {
  const ok = { linkType: 'gs1:pip', href: 'https://b.example/p', title: ' Page ' };
  it('returns the stored form', () => {
    const r = validateLinks([{ ...ok, language: 'en-gb', mediaType: 'Text/HTML', context: 'GB', default: true }]);
    expect(r).toEqual({ ok: true, value: [{ linkType: 'gs1:pip', href: 'https://b.example/p', title: 'Page', language: 'en-GB', context: 'GB', mediaType: 'text/html', isDefault: true }] });
  });
  it('reports every problem with its input path', () => {
    const r = validateLinks([
      { ...ok, href: 'javascript:alert(1)' },
      { ...ok, linkType: 'all', title: '' },
      { ...ok, href: 'https://user:pw@b.example/' },
      { ...ok, mediaType: 'html', context: 'a b' },
    ]);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error.map((p) => p.field)).toEqual(['links[0].href', 'links[1].linkType', 'links[1].title', 'links[2].href', 'links[3].context', 'links[3].mediaType']);
  });
  it('allows several defaults only when they differ in language, context or media type', () => {
    expect(validateLinks([{ ...ok, language: 'en', default: true }, { ...ok, language: 'de', default: true }]).ok).toBe(true);
    const r = validateLinks([{ ...ok, default: true }, { ...ok, href: 'https://b.example/q', default: true }]);
    expect(!r.ok && r.error).toEqual([{ field: 'links[1].default', message: 'links[0] is already the default for the same language, context and media type' }]);
  });
  it('caps a set at 100 links', () => {
    expect(validateLinks(Array.from({ length: 101 }, () => ok)).ok).toBe(false);
  });
});

describe('resolution', () => {
  const en = link({ language: 'en', href: 'https://b.example/en' });
  const enGb = link({ language: 'en-GB', href: 'https://b.example/en-gb' });
  const de = link({ language: 'de', href: 'https://b.example/de' });
  const any = link({ href: 'https://b.example/any' });

  it('chooses by language range order, exact tag before primary language, and falls back to a language-neutral link', () => {
    expect(chooseLinks([en, enGb, de], { ...none, languages: parseAcceptLanguage('en-GB,de;q=0.5') })).toEqual([enGb]);
    expect(chooseLinks([en, de], { ...none, languages: parseAcceptLanguage('en-US') })).toEqual([en]);
    expect(chooseLinks([en, de, any], { ...none, languages: parseAcceptLanguage('fr') })).toEqual([any]);
    expect(chooseLinks([en, de], none)).toEqual([en, de]); // nothing tells them apart: 300
  });

  it('chooses by context and media type first; a link without context serves requests without one', () => {
    const us = link({ context: 'US', href: 'https://b.example/us' });
    const pdf = link({ mediaType: 'application/pdf', href: 'https://b.example/pdf' });
    expect(chooseLinks([any, us], { ...none, context: 'US' })).toEqual([us]);
    expect(chooseLinks([any, us], none)).toEqual([any]);
    expect(chooseLinks([any, us], { ...none, context: 'FR' })).toEqual([any, us]);
    expect(chooseLinks([any, pdf], { ...none, mediaType: 'Application/PDF' })).toEqual([pdf]);
  });

  it('takes each link type from the most specific level and adds the item page unless a level has its type', () => {
    const page = link({ linkType: 'gs1:traceability', href: 'https://r.example/item' });
    const serial = [link({ href: 'https://b.example/serial' })];
    const product = [link({ href: 'https://b.example/product', isDefault: true }), link({ linkType: 'gs1:support', href: 'https://b.example/help' })];
    expect(effectiveLinks([serial, [], product], page).map((l) => l.href)).toEqual(['https://b.example/serial', 'https://b.example/help', 'https://r.example/item']);
    expect(effectiveLinks([[link({ linkType: 'gs1:traceability' })]], page).map((l) => l.href)).toEqual(['https://b.example/']);
    expect(defaultLinks([serial, [], product], page).map((l) => l.href)).toEqual(['https://b.example/product']);
    expect(defaultLinks([serial], page)).toEqual([{ ...page, isDefault: true }]);
  });

  it('builds a linkset with one defaultLink (href and title only) and defaultLinkMulti when several', () => {
    const set = buildLinkset('https://r.example/01/1', 'Bike', [en, de], [en, de]);
    expect(set).toEqual({
      linkset: [{
        anchor: 'https://r.example/01/1',
        itemDescription: 'Bike',
        'https://gs1.org/voc/pip': [{ href: en.href, title: 'T', hreflang: ['en'] }, { href: de.href, title: 'T', hreflang: ['de'] }],
        'https://gs1.org/voc/defaultLink': [{ href: en.href, title: 'T' }],
        'https://gs1.org/voc/defaultLinkMulti': [{ href: en.href, title: 'T', hreflang: ['en'] }, { href: de.href, title: 'T', hreflang: ['de'] }],
      }],
    });
  });
});
