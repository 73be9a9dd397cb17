/**
 * The sitemap reader: a `SitemapSource` in, its page URLs out as a stream. Sitemap indexes are followed
 * depth first, one file in memory at a time, at most `maxDepth` levels deep; each page URL comes out
 * once (the first time it is met), absolute http(s) only, filtered by the include/exclude globs, until
 * `maxUrls`. Files come through OmniScrape (`fetch: 'omniscrape'`, the default: a charged `fast` scrape
 * each) or directly. Whatever goes wrong with a file is a `SitemapError` naming it.
 */
import { ConfigError, SitemapError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import { withoutCredentials } from '../logging/url-credentials.js';
import type { OmniScrapeApi } from '../omniscrape/api.js';
import { DEFAULT_ACCOUNT } from '../config/accounts.js';
import { directFetcher, omniscrapeFetcher, type DirectFetchOptions, type SitemapFetcher } from './fetch.js';
import { parseLastmod } from './lastmod.js';
import { urlFilter } from './match.js';
import { parseSitemap, sitemapText } from './parse.js';
import { robotsUrlOf, sitemapsInRobots } from './robots.js';
import type { SitemapEntry, SitemapSource } from './types.js';

/** Nested sitemap indexes followed below the one given. */
export const DEFAULT_MAX_DEPTH = 5;
/** Page URLs read in all when the source sets no `maxUrls`. */
export const DEFAULT_MAX_URLS = 1_000_000;

export interface SitemapReaderOptions {
  logger: Logger;
  /** The OmniScrape calls for `fetch: 'omniscrape'` (a worker's `AccountClients`, a one-key client). */
  api?: Pick<OmniScrapeApi, 'scrape'>;
  /** The account label whose credits OmniScrape fetches spend. @default 'default' */
  account?: string;
  /** The batch the sitemap is read for, named in the cost lines. */
  batchId?: string;
  /** Direct fetches: timeouts, size cap, redirects, user agent. */
  direct?: DirectFetchOptions;
  /** Read timeout of one OmniScrape call, ms. @default the client's */
  omniscrapeTimeoutMs?: number;
  /** Levels of nested indexes followed. @default 5 */
  maxDepth?: number;
}

export interface SitemapReadStats {
  /** Sitemap (and robots.txt) files fetched. */
  files: number;
  /** Page URLs given out. */
  urls: number;
  /** URLs met again (in the same or another file) and given out only once. */
  duplicates: number;
  /** URLs the include/exclude globs dropped. */
  filtered: number;
  /** `<loc>`s that are not absolute http(s) URLs. */
  invalid: number;
  /** Whether reading stopped at `maxUrls`. */
  capped: boolean;
  /** Credits the OmniScrape fetches cost. */
  charged: number;
}

export interface SitemapReader {
  /** The page URLs of `source`, streamed; a `SitemapError` ends the stream. */
  read(source: SitemapSource, signal?: AbortSignal): AsyncIterable<SitemapEntry>;
  /** Counts of the reads so far (all of this reader's reads together). */
  stats(): SitemapReadStats;
  /** Closes the direct fetcher's connections. */
  close(): Promise<void>;
}

/** An absolute http(s) URL's normal form, or undefined. */
function httpHref(value: string): string | undefined {
  try {
    const url = new URL(value.trim());
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : undefined;
  } catch {
    return undefined;
  }
}

function sourceUrl(value: string): string {
  const href = httpHref(value);
  if (href === undefined)
    throw new SitemapError(`sitemap ${JSON.stringify(value.slice(0, 200))}: is not an absolute http(s) URL`, {
      url: value,
      problem: 'invalid_url',
      retryable: false,
    });
  return href;
}

export function createSitemapReader(options: SitemapReaderOptions): SitemapReader {
  const { logger } = options;
  const maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
  const stats: SitemapReadStats = {
    files: 0,
    urls: 0,
    duplicates: 0,
    filtered: 0,
    invalid: 0,
    capped: false,
    charged: 0,
  };
  let direct: ReturnType<typeof directFetcher> | undefined;
  let viaApi: SitemapFetcher | undefined;

  function fetcherFor(source: SitemapSource): SitemapFetcher {
    if (source.fetch === 'direct') return (direct ??= directFetcher(options.direct)).fetch;
    if (!options.api)
      throw new ConfigError(
        'reading a sitemap through OmniScrape needs an API key here (OMNISCRAPE_KEY or the accounts file)',
        'set the key, or read the sitemap directly (--sitemap-fetch direct)',
      );
    viaApi ??= omniscrapeFetcher({
      api: options.api,
      account: options.account ?? DEFAULT_ACCOUNT,
      logger,
      ...(options.batchId !== undefined ? { batchId: options.batchId } : {}),
      ...(options.omniscrapeTimeoutMs !== undefined ? { timeoutMs: options.omniscrapeTimeoutMs } : {}),
      onCharged: (credits) => (stats.charged += credits),
    });
    return viaApi;
  }

  async function* read(source: SitemapSource, signal?: AbortSignal): AsyncGenerator<SitemapEntry> {
    const roots = source.urls.map(sourceUrl);
    if (roots.length === 0)
      throw new SitemapError('sitemap: no URL given', { url: '', problem: 'invalid_url', retryable: false });
    const fetch = fetcherFor(source);
    const keep = urlFilter(source.include, source.exclude);
    const maxUrls = source.maxUrls ?? DEFAULT_MAX_URLS;
    if (!Number.isInteger(maxUrls) || maxUrls < 1)
      throw new RangeError(`maxUrls must be a whole number of at least 1 (got ${maxUrls})`);
    const seen = new Set<string>();
    const visited = new Set<string>();
    let given = 0;

    const get = async (url: string): Promise<Buffer> => {
      signal?.throwIfAborted();
      const bytes = await fetch(url, signal);
      stats.files += 1;
      return bytes;
    };

    async function* visit(url: string, depth: number, root: string): AsyncGenerator<SitemapEntry> {
      if (visited.has(url)) return; // an index that lists itself, or a sitemap listed twice
      visited.add(url);
      if (depth > maxDepth)
        throw new SitemapError(
          `sitemap ${withoutCredentials(url)}: nested ${depth} indexes deep under ${withoutCredentials(root)}, over the limit of ${maxDepth}`,
          { url, problem: 'too_deep', retryable: false },
        );
      const parsed = parseSitemap(url, await get(url));
      if (parsed.kind === 'index') {
        for (const child of parsed.sitemaps) {
          const href = httpHref(child.loc);
          if (href === undefined) {
            stats.invalid += 1;
            continue;
          }
          yield* visit(href, depth + 1, root);
          if (given >= maxUrls) return;
        }
        return;
      }
      for (const entry of parsed.urls) {
        const href = httpHref(entry.loc);
        if (href === undefined) {
          stats.invalid += 1;
          continue;
        }
        if (seen.has(href)) {
          stats.duplicates += 1;
          continue;
        }
        seen.add(href);
        if (!keep(href)) {
          stats.filtered += 1;
          continue;
        }
        const lastmod = parseLastmod(entry.lastmod);
        given += 1;
        stats.urls += 1;
        yield { url: href, ...(lastmod !== undefined ? { lastmod } : {}) };
        if (given >= maxUrls) {
          stats.capped = true;
          logger.warn({ maxUrls, sitemap: withoutCredentials(url) }, 'sitemap reading stopped at maxUrls');
          return;
        }
      }
    }

    for (const root of roots) {
      const sitemaps = source.fromRobots ? await fromRobots(root) : [root];
      for (const sitemap of sitemaps) {
        yield* visit(sitemap, 0, sitemap);
        if (given >= maxUrls) return;
      }
    }

    async function fromRobots(site: string): Promise<string[]> {
      const robots = robotsUrlOf(site);
      const found = sitemapsInRobots(sitemapText(robots, await get(robots)), robots);
      if (found.length === 0)
        throw new SitemapError(
          `robots.txt ${withoutCredentials(robots)}: names no sitemap (no Sitemap: line)`,
          {
            url: robots,
            problem: 'no_sitemap_in_robots',
            retryable: false,
          },
        );
      return found.flatMap((u) => httpHref(u) ?? []);
    }
  }

  return {
    read,
    stats: () => ({ ...stats }),
    close: async () => {
      await direct?.close();
    },
  };
}
