/** The demo site's public API. */
export {
  startDemoSite,
  DEFAULT_JS_DELAY_MS,
  DEFAULT_SLOW_MS,
  MAX_JS_DELAY_MS,
  MAX_SLOW_MS,
  type DemoSite,
  type DemoSiteOptions,
  type InteractiveHold,
} from './server.js';
export { ASSET_KINDS, PAGE_KINDS, type AssetKind, type DemoCounters, type PageKind } from './counters.js';
export {
  CATEGORIES,
  INTERACTIVE_BATCH,
  INTERACTIVE_TOTAL,
  MAX_PRODUCT,
  interactiveBatch,
  product,
  productPrice,
  productSku,
  type Category,
  type Product,
} from './catalog.js';
export {
  CLEARANCE_COOKIE,
  CLEARANCE_TOKEN,
  VERIFY_PATH,
  challengeNonce,
  challengeProof,
} from './challenge.js';
