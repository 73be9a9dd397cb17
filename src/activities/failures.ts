/**
 * The one place where the error taxonomy meets Temporal: an OmniScrape error plus the attempt number
 * becomes an `ApplicationFailure` whose `type` is the error's class name, retryable with the matrix's
 * `nextRetryDelay` or non-retryable with the outcome the workflow acts on.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { SitemapError } from '../errors.js';
import { withoutCredentials } from '../logging/url-credentials.js';
import { OmniScrapeError } from '../omniscrape/errors.js';
import { retryDecision, type RetryDecision, type RetryMatrixConfig } from '../omniscrape/retry-matrix.js';

/** What a non-retryable failure carries for the workflow (first detail). */
export interface FailureDetails {
  outcome: Exclude<RetryDecision, { retry: true }>['outcome'];
  code: string;
  /** The attempt that gave up. */
  attempt: number;
  status?: number;
  /** When the activity gave up (ms since the epoch): tells a 402 from before a resume from a new one. */
  at?: number;
}

export type Classified =
  | { kind: 'dead_letter'; error: OmniScrapeError }
  | { kind: 'throw'; failure: ApplicationFailure; decision: RetryDecision };

/**
 * Classifies an activity error. Errors outside the taxonomy are rethrown as-is (default retry policy).
 * `apiDown` says whether most recent calls failed (`OutageDetector`): then a 5xx is an outage.
 */
export function classifyActivityError(
  err: unknown,
  attempt: number,
  matrix: RetryMatrixConfig,
  options: { random?: () => number; apiDown?: boolean } = {},
): Classified {
  if (!(err instanceof OmniScrapeError)) throw err;
  const decision = retryDecision(err, attempt, matrix, (options.random ?? Math.random)(), options.apiDown);
  if (!decision.retry && decision.outcome === 'dead_letter') return { kind: 'dead_letter', error: err };
  // Retryable: Temporal waits the matrix's delay. Final: the details tell the workflow what to do.
  const details: FailureDetails | Record<string, unknown> = decision.retry
    ? err.toJSON()
    : { outcome: decision.outcome, code: err.code, attempt, status: err.status, at: Date.now() };
  return {
    kind: 'throw',
    decision,
    failure: ApplicationFailure.create({
      type: err.name,
      message: err.message,
      nonRetryable: !decision.retry,
      ...(decision.retry ? { nextRetryDelay: decision.delayMs } : {}),
      details: [details],
    }),
  };
}

/**
 * A sitemap that could not be read (an activity reading a monitor's sitemap), as the activity's failure:
 * retried when it may pass (`retryable`: network, timeout, 429, 5xx), final otherwise, with the file
 * and the problem as details. Without this, an error outside the taxonomy would retry forever.
 */
export function sitemapFailure(err: SitemapError): ApplicationFailure {
  return ApplicationFailure.create({
    type: err.name,
    message: err.message,
    nonRetryable: !err.retryable,
    details: [{ url: withoutCredentials(err.url), problem: err.problem }],
  });
}

/**
 * Refuses work for a batch whose input went to another store than this worker's (for example a
 * filesystem store on another host). Retryable where another, correctly configured worker may take
 * the task; non-retryable where the batch cannot go on at all.
 */
export function checkSameStore(
  store: { id: string },
  batchStoreId: string | undefined,
  { retryable }: { retryable: boolean },
): void {
  if (batchStoreId === undefined || batchStoreId === store.id) return;
  const message =
    `this worker's store (${store.id}) is not the batch's store (${batchStoreId}). A filesystem store ` +
    'serves one machine: run workers on several hosts against one PostgreSQL store (SCRAPEFLOW_DATABASE_URL).';
  throw retryable
    ? ApplicationFailure.retryable(message, 'StoreMismatchError')
    : ApplicationFailure.nonRetryable(message, 'StoreMismatchError');
}
