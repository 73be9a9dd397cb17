/** The demo site's public API. */
export {
  startDemoSite,
  type CatalogSnapshot,
  type CatalogState,
  type DemoSite,
  type ProductPatch,
} from './server.js';
export {
  INTERACTIVE_BATCH,
  INTERACTIVE_TOTAL,
  product,
  productLastmod,
  productPrice,
  productStock,
} from './catalog.js';
export { DEFAULT_SITEMAP_PRODUCTS } from './changes.js';
export { GZIP_CATEGORY, MAX_TEST_CHAIN, MAX_TEST_RANGE } from './sitemaps.js';
export { CLEARANCE_COOKIE, CLEARANCE_TOKEN, challengeNonce, challengeProof } from './challenge.js';
