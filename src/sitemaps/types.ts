/**
 * Sitemaps as a batch or monitor input: the contract between the sitemap reader (src/sitemaps/) and
 * its users (`start --sitemap`, monitors).
 */

/** One `<url>` of a sitemap. */
export interface SitemapEntry {
  url: string;
  /** `<lastmod>` as an ISO time, when the sitemap gives a valid one. */
  lastmod?: string;
}

/** Where a sitemap input comes from and what of it to keep. */
export interface SitemapSource {
  /** Sitemap or sitemap-index URLs (also `.xml.gz`), or site roots when `fromRobots`. */
  urls: string[];
  /** Take the `Sitemap:` lines of each URL's /robots.txt instead of the URLs themselves. */
  fromRobots?: boolean;
  /** Through OmniScrape (fast mode, charged and logged like any call) or a direct GET. @default 'omniscrape' */
  fetch?: 'omniscrape' | 'direct';
  /** Glob patterns a page URL must match one of (when given). */
  include?: string[];
  /** Glob patterns that drop a page URL. */
  exclude?: string[];
  /** Most page URLs read in all; reading stops there. */
  maxUrls?: number;
}
