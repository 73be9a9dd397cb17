/**
 * The demo site's sitemaps and robots.txt, as text. Pure functions of their inputs:
 * - `/robots.txt` names `/sitemap.xml` on a `Sitemap:` line;
 * - `/sitemap.xml` is a sitemap index of one sitemap per category (`/sitemaps/<category>.xml`, the
 *   `GZIP_CATEGORY` one as `/sitemaps/<category>.xml.gz`), each listing that category's products
 *   (`/p/<n>`) with their `<lastmod>`; the index's `<lastmod>` per sitemap is its newest product's.
 * - `/sitemaps/test/…` are fixtures for the sitemap reader's tests (nested indexes, big ranges, broken
 *   and hostile XML), listed in `testSitemap`.
 */
import { CATEGORIES, productLastmod, type Category } from './catalog.js';
import type { ListedProduct } from './changes.js';
import { escapeHtml } from './pages.js';

const SITEMAP_NS = 'http://www.sitemaps.org/schemas/sitemap/0.9';
const XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n';
/** The category whose sitemap the index names compressed (every one is served both ways). */
export const GZIP_CATEGORY: Category = 'toys';
/** Most URLs a `/sitemaps/test/range/<from>-<to>.xml` lists (more than the protocol's 50,000 per file). */
export const MAX_TEST_RANGE = 100_000;
/** Most levels of `/sitemaps/test/chain/<k>.xml`. */
export const MAX_TEST_CHAIN = 20;

export interface UrlEntry {
  loc: string;
  lastmod?: string;
}

export function urlset(entries: Iterable<UrlEntry>): string {
  const parts = [XML_HEAD, `<urlset xmlns="${SITEMAP_NS}">\n`];
  for (const e of entries) {
    const lastmod = e.lastmod === undefined ? '' : `<lastmod>${escapeHtml(e.lastmod)}</lastmod>`;
    parts.push(`  <url><loc>${escapeHtml(e.loc)}</loc>${lastmod}</url>\n`);
  }
  parts.push('</urlset>\n');
  return parts.join('');
}

export function sitemapIndex(entries: Iterable<UrlEntry>): string {
  const parts = [XML_HEAD, `<sitemapindex xmlns="${SITEMAP_NS}">\n`];
  for (const e of entries) {
    const lastmod = e.lastmod === undefined ? '' : `<lastmod>${escapeHtml(e.lastmod)}</lastmod>`;
    parts.push(`  <sitemap><loc>${escapeHtml(e.loc)}</loc>${lastmod}</sitemap>\n`);
  }
  parts.push('</sitemapindex>\n');
  return parts.join('');
}

export function categorySitemapPath(category: Category): string {
  return `/sitemaps/${category}.xml${category === GZIP_CATEGORY ? '.gz' : ''}`;
}

/** The newer of two W3C datetimes as the site writes them (a date sorts before the same day's times). */
function newer(a: string | undefined, b: string): string {
  return a === undefined || b > a ? b : a;
}

/** `/sitemap.xml`: one sitemap per category, each with its newest product's lastmod. */
export function rootIndex(origin: string, listed: Iterable<ListedProduct>): string {
  const newest = new Map<Category, string>();
  for (const { product, lastmod } of listed) {
    newest.set(product.category, newer(newest.get(product.category), lastmod));
  }
  return sitemapIndex(
    CATEGORIES.map((c) => {
      const lastmod = newest.get(c);
      return { loc: `${origin}${categorySitemapPath(c)}`, ...(lastmod !== undefined ? { lastmod } : {}) };
    }),
  );
}

/** `/sitemaps/<category>.xml`: the category's listed products. */
export function categorySitemap(origin: string, category: Category, listed: Iterable<ListedProduct>): string {
  function* entries(): Generator<UrlEntry> {
    for (const { product, lastmod } of listed) {
      if (product.category === category) yield { loc: `${origin}/p/${product.id}`, lastmod };
    }
  }
  return urlset(entries());
}

export function robotsTxt(origin: string): string {
  return (
    `# Demo shop\nUser-agent: *\nDisallow: /__counters\nDisallow: /__catalog\nAllow: /\n\n` +
    `Sitemap: ${origin}/sitemap.xml\n`
  );
}

/** A sitemap that nests `levels` indexes before its urlset: `chain/0.xml` lists `/p/1`. */
function chain(origin: string, levels: number): string {
  if (levels === 0) return urlset([{ loc: `${origin}/p/1`, lastmod: productLastmod(1) }]);
  return sitemapIndex([{ loc: `${origin}/sitemaps/test/chain/${levels - 1}.xml` }]);
}

function range(origin: string, from: number, to: number): string {
  function* entries(): Generator<UrlEntry> {
    for (let n = from; n <= to; n++) yield { loc: `${origin}/p/${n}`, lastmod: productLastmod(n) };
  }
  return urlset(entries());
}

/** Cut off mid-element, so no parser can take it for a whole document. */
function malformed(origin: string): string {
  return `${XML_HEAD}<urlset xmlns="${SITEMAP_NS}">\n  <url><loc>${origin}/p/1</loc></url>\n  <url><loc>${origin}/p/2</lo`;
}

/** The billion-laughs shape: ten levels of ten references each, 10^10 `lol`s if a parser expanded them. */
function entities(origin: string): string {
  const defs = ['<!ENTITY lol0 "lol">'];
  for (let i = 1; i <= 9; i++) defs.push(`<!ENTITY lol${i} "${`&lol${i - 1};`.repeat(10)}">`);
  return (
    `${XML_HEAD}<!DOCTYPE urlset [\n  ${defs.join('\n  ')}\n]>\n` +
    `<urlset xmlns="${SITEMAP_NS}">\n  <url><loc>${origin}/p/1?x=&lol9;</loc></url>\n</urlset>\n`
  );
}

/** An external entity: a parser that resolved it would put a local file into a URL. */
function externalEntity(origin: string): string {
  return (
    `${XML_HEAD}<!DOCTYPE urlset [\n  <!ENTITY xxe SYSTEM "file:///etc/passwd">\n]>\n` +
    `<urlset xmlns="${SITEMAP_NS}">\n  <url><loc>${origin}/p/1?x=&xxe;</loc></url>\n</urlset>\n`
  );
}

/**
 * What a reader must filter: duplicates, a relative URL, non-http(s) schemes, an empty `<loc>`, and
 * lastmods in every shape (date, datetime with offset, invalid).
 */
function mixed(origin: string): string {
  return urlset([
    { loc: `${origin}/p/1`, lastmod: '2025-02-03' },
    { loc: `${origin}/p/2`, lastmod: '2025-02-03T04:05:06+01:00' },
    { loc: `${origin}/p/1`, lastmod: '2025-02-04' },
    { loc: `/p/3`, lastmod: '2025-02-03' },
    { loc: `ftp://127.0.0.1/p/4` },
    { loc: `javascript:alert(1)` },
    { loc: `` },
    { loc: `${origin}/p/5`, lastmod: 'yesterday' },
    { loc: `${origin}/p/6`, lastmod: '2025-13-45' },
    { loc: `${origin}/p/7?a=1&b=2` },
  ]);
}

/**
 * The fixture at `/sitemaps/test/<name>`, or undefined for an unknown name:
 * `chain/<k>.xml` (k = 0..MAX_TEST_CHAIN nested indexes), `range/<from>-<to>.xml` (products
 * from..to, at most MAX_TEST_RANGE), `malformed.xml`, `entities.xml`, `external-entity.xml`, `mixed.xml`, `feed.xml` (an RSS feed).
 */
export function testSitemap(origin: string, name: string): string | undefined {
  const chainMatch = /^chain\/(\d{1,2})\.xml$/.exec(name);
  if (chainMatch) {
    const levels = Number(chainMatch[1]);
    return levels <= MAX_TEST_CHAIN ? chain(origin, levels) : undefined;
  }
  const rangeMatch = /^range\/([1-9]\d{0,5})-([1-9]\d{0,5})\.xml$/.exec(name);
  if (rangeMatch) {
    const from = Number(rangeMatch[1]);
    const to = Number(rangeMatch[2]);
    return to >= from && to - from < MAX_TEST_RANGE ? range(origin, from, to) : undefined;
  }
  switch (name) {
    case 'malformed.xml':
      return malformed(origin);
    case 'entities.xml':
      return entities(origin);
    case 'external-entity.xml':
      return externalEntity(origin);
    case 'mixed.xml':
      return mixed(origin);
    case 'feed.xml':
      // Well-formed XML that is no sitemap.
      return `${XML_HEAD}<rss version="2.0"><channel><link>${origin}/p/1</link></channel></rss>\n`;
    default:
      return undefined;
  }
}
