/** The OmniScrape-compatible local API: public exports. */
export { startLocalApi, type LocalApiHandle } from './server.js';
export type { LocalApiOptions } from './options.js';
export type { AccountView } from './accounts.js';
export { COST_TABLE, priceOf, cheapestPrice } from './billing.js';
export type { CountersSnapshot } from './counters.js';
export {
  compileMatcher,
  faultRuleSchema,
  fractionHash,
  type FaultRuleInput,
  type FaultRuleView,
} from './faults.js';
export { extract } from './extract.js';
export {
  ConfigError,
  loadConfigFile,
  optionsFromFlags,
  type LocalApiConfigFile,
  type LocalApiFlags,
} from './config.js';
export type { RenderBackend } from './engine.js';
