/**
 * The retry policy of OmniScrape calls: what each error of the taxonomy (errors.ts) leads to on the try
 * that just failed (retry after a delay, or give up with an outcome for the URL). Pure (no Node imports):
 * the activities apply it once (src/activities/failures.ts); its config is the batch's `retry` option.
 */
import { z } from 'zod';
import type { ConnectionError, OmniScrapeError, RateLimitedError } from './errors.js';

const ms = (max: number) => z.number().int().min(0).max(max);

/**
 * Delays and budgets of the error matrix: a batch's `retry` option (src/batch/options.ts), every field
 * configurable so tests run fast. Its defaults are the matrix's defaults.
 */
export const retryMatrixSchema = z
  .object({
    rateLimitBaseMs: ms(600_000).default(2000).describe('first 429 delay, ms'),
    rateLimitFactor: z.number().min(1).max(10).default(1.5).describe('growth of the 429 delay per try'),
    rateLimitCapMs: ms(3_600_000).default(60_000).describe('cap of the 429 delay before jitter, ms'),
    rateLimitJitter: z.number().min(0).max(1).default(0.2).describe('jitter as a fraction of the delay, ±'),
    rateLimitMaxTries: z
      .number()
      .int()
      .min(1)
      .max(50)
      .default(5)
      .describe('total tries for a URL that keeps answering 429'),
    upstreamRetries: z
      .number()
      .int()
      .min(0)
      .max(20)
      .default(3)
      .describe(
        'retries after a 5xx, connection error (CDP disconnect included), malformed body or browser timeout',
      ),
    upstreamDelayMs: ms(600_000).default(5000).describe('delay between those retries, ms'),
    timeoutRetries: z
      .number()
      .int()
      .min(0)
      .max(10)
      .default(1)
      .describe('retries after a client timeout before the URL moves to the async job flow'),
    timeoutDelayMs: ms(600_000).default(1000).describe('delay before the timeout retry, ms'),
  })
  .strict();

export type RetryMatrixConfig = z.output<typeof retryMatrixSchema>;

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
