/** The OmniScrape-compatible local API: public exports. */
export { startLocalApi, type LocalApiHandle } from './server.js';
export type { LocalApiOptions } from './options.js';
export type { AccountConfig, AccountView } from './accounts.js';
export { COST_TABLE, priceOf, cheapestPrice } from './billing.js';
export type { CountersSnapshot, Endpoint, Outcome } from './counters.js';
export {
  FAULT_ACTIONS,
  FAULT_STATUSES,
  compileMatcher,
  faultRuleSchema,
  fractionHash,
  type FaultRule,
  type FaultRuleInput,
  type FaultRuleView,
} from './faults.js';
export { extract } from './extract.js';
export {
  ConfigError,
  configFileSchema,
  loadConfigFile,
  optionsFromFlags,
  type LocalApiConfigFile,
  type LocalApiFlags,
} from './config.js';
export type { ApiErrorBody, ApiErrorCode } from './api-error.js';
export type { LocalApiState } from './state.js';
export type { RenderBackend } from './engine.js';
