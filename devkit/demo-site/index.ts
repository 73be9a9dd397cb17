/** The demo site's public API. */
export { startDemoSite, type DemoSite } from './server.js';
export { INTERACTIVE_BATCH, INTERACTIVE_TOTAL, product, productPrice } from './catalog.js';
export { CLEARANCE_COOKIE, CLEARANCE_TOKEN, challengeNonce, challengeProof } from './challenge.js';
