/** Options of `startLocalApi`, documented where they are declared. */
import type { Logger } from '../../src/logging/logger.js';
import type { AccountConfig } from './accounts.js';
import type { FaultRuleInput } from './faults.js';
import type { RenderBackend } from './engine.js';

export interface LocalApiOptions {
  /** Interface to listen on. @default '127.0.0.1' */
  host?: string;
  /** TCP port; 0 picks a free one. @default 0 */
  port?: number;
  /** The accounts: API key, balance, concurrency. */
  accounts: AccountConfig[];
  /** Bearer token of `/admin/*`. Without one the admin endpoints answer 404. */
  adminToken?: string;
  /** Fault rules active from the start. @default [] */
  faults?: FaultRuleInput[];
  /** Shortest time between two polls of one async job, in ms. @default 2000 */
  minPollIntervalMs?: number;
  /** How long an ended async job stays pollable, in ms. @default 3600000 (1 h) */
  jobTtlMs?: number;
  /** `Retry-After` of a 429 for concurrency, and of a forced 429 without its own, in seconds. @default 1 */
  retryAfterSec?: number;
  /** Longest a `hang` fault holds a request, in ms. @default 600000 (10 min) */
  maxHangMs?: number;
  /** Largest request body, in bytes; larger ones get a 400 naming `body`. @default 1048576 (1 MiB) */
  bodyLimitBytes?: number;
  /** Renderer to use instead of creating one (tests). The server does not close an injected renderer. */
  renderer?: RenderBackend;
  /** Pages the created renderer renders at once. @default 2 */
  renderPages?: number;
  /** Chromium binary for the created renderer. @default findChromium() */
  chromiumPath?: string;
  /** Timeouts of a fast fetch of the target, in ms. @default 30000 */
  fetchTimeoutMs?: number;
  /**
   * Where balances, counters and the charge ledger are kept across restarts (state-file.ts); loaded at
   * start when it exists. @default none: the state lives in memory only
   */
  stateFile?: string;
  /** @default createLogger({ name: 'local-api' }) */
  logger?: Logger;
  /** The clock, in ms since the epoch (tests move it to expire jobs and pass poll limits). @default Date.now */
  now?: () => number;
}
