/** Sitemaps as batch and monitor input: the reader and the one path into the stored input. */
export type { SitemapEntry, SitemapSource } from './types.js';
export {
  createSitemapReader,
  DEFAULT_MAX_DEPTH,
  DEFAULT_MAX_URLS,
  type SitemapReader,
  type SitemapReaderOptions,
  type SitemapReadStats,
} from './reader.js';
export { sitemapItems, storeSitemapInput, type SitemapInputOptions } from './input.js';
export { MAX_SITEMAP_BYTES, MAX_URLS_PER_FILE } from './parse.js';
export { parseLastmod } from './lastmod.js';
