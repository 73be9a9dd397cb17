/**
 * The retry policy of OmniScrape calls: what each error of the taxonomy (errors.ts) leads to on the try
 * that just failed (retry after a delay, or give up with an outcome for the URL). Pure (no Node imports):
 * the activities apply it once (src/activities/failures.ts), and workflow code shares its config type.
 */
import type { ConnectionError, OmniScrapeError, RateLimitedError } from './errors.js';

/** Delays and budgets of the error matrix. Every value is configurable so tests run fast. */
export interface RetryMatrixConfig {
  /** First 429 delay in ms. @default 2000 */
  rateLimitBaseMs: number;
  /** Growth factor of the 429 delay per try. @default 1.5 */
  rateLimitFactor: number;
  /** Cap of the 429 delay in ms, before jitter. @default 60000 */
  rateLimitCapMs: number;
  /** Jitter as a fraction of the delay, applied ±. @default 0.2 */
  rateLimitJitter: number;
  /** Total tries for a URL that keeps answering 429. @default 5 */
  rateLimitMaxTries: number;
  /** Retries after a 5xx, connection error (CDP disconnect included), malformed body or browser timeout. @default 3 */
  upstreamRetries: number;
  /** Delay between those retries in ms. @default 5000 */
  upstreamDelayMs: number;
  /** Retries after a client timeout before the URL moves to the async job flow. @default 1 */
  timeoutRetries: number;
  /** Delay before the timeout retry in ms. @default 1000 */
  timeoutDelayMs: number;
}

export const DEFAULT_RETRY_MATRIX: RetryMatrixConfig = {
  rateLimitBaseMs: 2000,
  rateLimitFactor: 1.5,
  rateLimitCapMs: 60_000,
  rateLimitJitter: 0.2,
  rateLimitMaxTries: 5,
  upstreamRetries: 3,
  upstreamDelayMs: 5000,
  timeoutRetries: 1,
  timeoutDelayMs: 1000,
};

export type RetryDecision =
  | { retry: true; delayMs: number }
  | {
      retry: false;
      /**
       * What the URL becomes when the activity gives up with this error; `outage`: it waits, and the
       * account's batches pause until OmniScrape answers again.
       */
      outcome:
        'pause_auth' | 'pause_balance' | 'dead_letter' | 'fail' | 'switch_to_async' | 'outage' | 'requeue';
    };

/**
 * The error matrix. `attempt` is the 1-based number of the try that just failed (Temporal's
 * `activityInfo().attempt`); budgets count all tries of the activity, so a URL that meets several
 * error classes never exceeds the smallest budget that applies to the current error.
 * `random` is a number in [0, 1) for the jitter. `apiDown`: most recent calls across URLs failed at
 * the transport or with a 5xx (`OutageDetector`), so such an error is the API's outage, not the URL's.
 */
export function retryDecision(
  error: OmniScrapeError,
  attempt: number,
  config: RetryMatrixConfig,
  random: number,
  apiDown = false,
): RetryDecision {
  if (error.code === 'connection' && (error as ConnectionError).unreachable)
    return { retry: false, outcome: 'outage' };
  if (apiDown && isOutageSign(error)) return { retry: false, outcome: 'outage' };
  switch (error.code) {
    case 'auth':
      return { retry: false, outcome: 'pause_auth' };
    case 'balance_exhausted':
      return { retry: false, outcome: 'pause_balance' };
    case 'rate_limited': {
      if (attempt >= config.rateLimitMaxTries) return { retry: false, outcome: 'fail' };
      const backoff = Math.min(
        config.rateLimitBaseMs * config.rateLimitFactor ** (attempt - 1),
        config.rateLimitCapMs,
      );
      const jittered = backoff * (1 + config.rateLimitJitter * (2 * random - 1));
      const retryAfter = (error as RateLimitedError).retryAfterMs ?? 0;
      return { retry: true, delayMs: Math.round(Math.max(jittered, retryAfter)) };
    }
    case 'upstream':
    case 'connection':
    case 'malformed_response':
    case 'browser_timeout':
      return attempt <= config.upstreamRetries
        ? { retry: true, delayMs: config.upstreamDelayMs }
        : { retry: false, outcome: 'fail' };
    case 'client_timeout':
      return attempt <= config.timeoutRetries
        ? { retry: true, delayMs: config.timeoutDelayMs }
        : { retry: false, outcome: 'switch_to_async' };
    case 'scrape_failed':
    case 'async_job_failed':
    case 'browser_step_failed':
      return { retry: false, outcome: 'dead_letter' };
    case 'plan_busy':
      return { retry: false, outcome: 'requeue' };
    case 'bad_request':
    case 'not_found':
    case 'unexpected_status':
    case 'response_too_large':
    case 'aborted':
      return { retry: false, outcome: 'fail' };
  }
}

/** Errors that, on most calls at once, mean OmniScrape itself is down. */
export function isOutageSign(error: OmniScrapeError): boolean {
  return error.code === 'upstream' || error.code === 'connection' || error.code === 'malformed_response';
}
