/**
 * One sitemap file's bytes into its entries: gzip by its magic bytes (whatever the content type says),
 * at most MAX_SITEMAP_BYTES once decompressed; XML parsed by fast-xml-parser, after a check that the
 * document declares no DOCTYPE: a sitemap needs none, and refusing it shuts out entity expansion
 * (billion laughs) and external entities (XXE) whatever the parser's own defences.
 */
import { gunzipSync } from 'node:zlib';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { SitemapError, type SitemapProblem } from '../errors.js';
import { withoutCredentials } from '../logging/url-credentials.js';

/** The protocol's limit per file, uncompressed: 50 MB (52,428,800 bytes). */
export const MAX_SITEMAP_BYTES = 50 * 1024 * 1024;
/** The protocol's limit of URLs (or sitemaps, in an index) per file. */
export const MAX_URLS_PER_FILE = 50_000;

export type ParsedSitemap =
  | { kind: 'urlset'; urls: { loc: string; lastmod?: string }[] }
  | { kind: 'index'; sitemaps: { loc: string; lastmod?: string }[] };

const GZIP_MAGIC = [0x1f, 0x8b];

export function isGzip(bytes: Uint8Array): boolean {
  return bytes[0] === GZIP_MAGIC[0] && bytes[1] === GZIP_MAGIC[1];
}

const parser = new XMLParser({
  ignoreAttributes: true,
  // `urlset:url` and friends: namespaces are prefixes we do not need.
  removeNSPrefix: true,
  // Values stay strings (a loc is never a number).
  parseTagValue: false,
  trimValues: true,
  // The five XML entities and character references (&#38;); DOCTYPE entities never get this far.
  processEntities: true,
  htmlEntities: true,
  isArray: (name, jPath) => jPath === 'urlset.url' || jPath === 'sitemapindex.sitemap',
});

function fail(url: string, problem: SitemapProblem, message: string, cause?: unknown): SitemapError {
  return new SitemapError(`sitemap ${withoutCredentials(url)}: ${message}`, {
    url,
    problem,
    retryable: false,
    ...(cause !== undefined ? { cause } : {}),
  });
}

/** The file's text: decompressed when gzip, refused past MAX_SITEMAP_BYTES. */
export function sitemapText(url: string, bytes: Buffer): string {
  let body = bytes;
  if (isGzip(bytes)) {
    try {
      body = gunzipSync(bytes, { maxOutputLength: MAX_SITEMAP_BYTES });
    } catch (err) {
      if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE')
        throw fail(
          url,
          'too_large',
          `decompresses to more than ${MAX_SITEMAP_BYTES} bytes (the protocol's 50 MB)`,
        );
      throw fail(url, 'malformed', `is not valid gzip: ${(err as Error).message}`, err);
    }
  }
  if (body.length > MAX_SITEMAP_BYTES)
    throw fail(url, 'too_large', `is over ${MAX_SITEMAP_BYTES} bytes (the protocol's 50 MB)`);
  return body.toString('utf8');
}

interface RawEntry {
  loc?: unknown;
  lastmod?: unknown;
}

function entriesOf(raw: unknown): { loc: string; lastmod?: string }[] {
  if (!Array.isArray(raw)) return [];
  const out: { loc: string; lastmod?: string }[] = [];
  for (const entry of raw as RawEntry[]) {
    if (typeof entry !== 'object' || entry === null || typeof entry.loc !== 'string') continue;
    out.push({ loc: entry.loc, ...(typeof entry.lastmod === 'string' ? { lastmod: entry.lastmod } : {}) });
  }
  return out;
}

/** Parses one sitemap file (bytes as fetched); throws `SitemapError` naming `url` and the problem. */
export function parseSitemap(url: string, bytes: Buffer): ParsedSitemap {
  const text = sitemapText(url, bytes);
  if (text.includes('<!DOCTYPE'))
    throw fail(
      url,
      'doctype',
      'declares a DOCTYPE; refused (entity declarations could expand or read files)',
    );
  const valid = XMLValidator.validate(text);
  if (valid !== true) {
    const { msg, line, col } = valid.err;
    throw fail(url, 'malformed', `is not well-formed XML: ${msg} (line ${line}, column ${col})`);
  }
  let doc: Record<string, unknown>;
  try {
    doc = parser.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw fail(url, 'malformed', `is not well-formed XML: ${(err as Error).message}`, err);
  }
  // An empty element parses to '': no entries.
  const children = (root: unknown, name: string): unknown =>
    typeof root === 'object' && root !== null ? (root as Record<string, unknown>)[name] : undefined;
  let parsed: ParsedSitemap;
  if (doc.urlset !== undefined) parsed = { kind: 'urlset', urls: entriesOf(children(doc.urlset, 'url')) };
  else if (doc.sitemapindex !== undefined)
    parsed = { kind: 'index', sitemaps: entriesOf(children(doc.sitemapindex, 'sitemap')) };
  else {
    const root = Object.keys(doc).find((k) => !k.startsWith('?')) ?? 'nothing';
    throw fail(
      url,
      'not_a_sitemap',
      `is not a sitemap: its root element is <${root}>, not <urlset> or <sitemapindex>`,
    );
  }
  const count = parsed.kind === 'urlset' ? parsed.urls.length : parsed.sitemaps.length;
  if (count > MAX_URLS_PER_FILE)
    throw fail(
      url,
      'too_many_urls',
      `lists ${count} ${parsed.kind === 'urlset' ? 'URLs' : 'sitemaps'}, over the protocol's ${MAX_URLS_PER_FILE} per file`,
    );
  return parsed;
}
