/**
 * The one OmniScrape error taxonomy (guide section 8 plus what a real network does).
 *
 * Every failure of an OmniScrape call surfaces as exactly one of these classes. Each has a stable
 * `code`, its class name as `name` (which becomes the Temporal failure `type`), readonly data a caller
 * needs to act on, and the original `cause`. This module is pure (no Node imports) so workflow code can
 * use the names and codes; `retryDecision` is the error matrix, applied once by the activities.
 *
 * No error ever carries the API key: messages are built from status codes, URLs of the API itself and
 * body excerpts passed through `redactSecrets`.
 */

export type OmniScrapeErrorCode =
  | 'auth'
  | 'balance_exhausted'
  | 'rate_limited'
  | 'upstream'
  | 'client_timeout'
  | 'connection'
  | 'malformed_response'
  | 'response_too_large'
  | 'bad_request'
  | 'not_found'
  | 'unexpected_status'
  | 'scrape_failed'
  | 'async_job_failed'
  | 'async_job_timeout'
  | 'browser_timeout'
  | 'browser_step_failed'
  | 'plan_busy'
  | 'aborted';

const MAX_EXCERPT = 500;

/** Strings that must never leave the process in an error, a log line or a history. */
const secrets = new Set<string>();

/** Registers a secret (the API key, an admin token) so that `redactSecrets` removes it everywhere. */
export function registerSecret(secret: string | undefined): void {
  if (secret && secret.length >= 4) secrets.add(secret);
}

/** Replaces every registered secret, and anything shaped like `apikey=...`, with `[REDACTED]`. */
export function redactSecrets(text: string): string {
  let out = text;
  for (const s of secrets) out = out.split(s).join('[REDACTED]');
  return out.replace(/(apikey=)[^&\s"']+/gi, '$1[REDACTED]');
}

/** A short, redacted excerpt of a response body, safe to keep in errors and records. */
export function bodyExcerpt(body: string | undefined): string | undefined {
  if (body === undefined) return undefined;
  const cut = body.length > MAX_EXCERPT ? `${body.slice(0, MAX_EXCERPT)}…` : body;
  return redactSecrets(cut);
}

export interface OmniScrapeErrorOptions {
  status?: number;
  bodyExcerpt?: string;
  cause?: unknown;
}

/** Base class of the taxonomy. Match on `code`, not `instanceof`. */
export abstract class OmniScrapeError extends Error {
  abstract readonly code: OmniScrapeErrorCode;
  /** HTTP status of the API's answer, when there was one. */
  readonly status: number | undefined;
  /** Redacted beginning of the API's body, when there was one. */
  readonly bodyExcerpt: string | undefined;

  constructor(message: string, options: OmniScrapeErrorOptions = {}) {
    super(redactSecrets(message), options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.status = options.status;
    this.bodyExcerpt = bodyExcerpt(options.bodyExcerpt);
  }

  /** A plain, redacted object for logs and Temporal failure details. */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      status: this.status,
      bodyExcerpt: this.bodyExcerpt,
    };
  }
}

/** 401: the key is missing or invalid. Every URL would fail: stop and fix the key. */
export class AuthError extends OmniScrapeError {
  readonly code = 'auth';
}

/**
 * The batch's account label has no key on this worker (src/config/accounts.ts). Raised before any call,
 * so nothing is spent; every URL of the batch would meet it, so it is a 401 of that account: the batch
 * pauses with reason `auth` until the workers know the account and it is resumed.
 */
export class UnknownAccountError extends AuthError {}

/** 402: the account's balance is exhausted. Needs a human (top up), never a blind retry. */
export class BalanceExhaustedError extends OmniScrapeError {
  readonly code = 'balance_exhausted';
}

/** 429: above the plan's concurrency or request rate. */
export class RateLimitedError extends OmniScrapeError {
  readonly code = 'rate_limited';
  /** The Retry-After header in milliseconds, when the API sent one. */
  readonly retryAfterMs: number | undefined;
  constructor(message: string, options: OmniScrapeErrorOptions & { retryAfterMs?: number } = {}) {
    super(message, options);
    this.retryAfterMs = options.retryAfterMs;
  }
  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), retryAfterMs: this.retryAfterMs };
  }
}

/** 5xx from the API itself (500, 502, 503, 504, ...). */
export class UpstreamError extends OmniScrapeError {
  readonly code = 'upstream';
}

/** Our own client timeout fired before the API answered. */
export class ClientTimeoutError extends OmniScrapeError {
  readonly code = 'client_timeout';
  /** Which timeout fired. */
  readonly phase: 'connect' | 'headers' | 'body' | 'pool';
  constructor(message: string, options: OmniScrapeErrorOptions & { phase: ClientTimeoutError['phase'] }) {
    super(message, options);
    this.phase = options.phase;
  }
}

/** The API could not be reached: refused, reset, DNS, TLS. */
export class ConnectionError extends OmniScrapeError {
  readonly code = 'connection';
  /**
   * Nothing answered at the API's address (refused, no such host, no route): OmniScrape itself is
   * down or unreachable, which is an outage, not this URL's error. False for a reset or a TLS failure.
   */
  readonly unreachable: boolean;
  constructor(message: string, options: OmniScrapeErrorOptions & { unreachable?: boolean } = {}) {
    super(message, options);
    this.unreachable = options.unreachable ?? false;
  }
  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), unreachable: this.unreachable };
  }
}

/** The API answered with a body that is not the JSON the contract promises. */
export class MalformedResponseError extends OmniScrapeError {
  readonly code = 'malformed_response';
}

/** The API's body exceeded the client's configured size limit; it was not read further. */
export class ResponseTooLargeError extends OmniScrapeError {
  readonly code = 'response_too_large';
}

/** 400: the API rejected the request itself. Retrying the same request cannot help. */
export class BadRequestError extends OmniScrapeError {
  readonly code = 'bad_request';
  /** The field the API named, when it named one. */
  readonly field: string | undefined;
  constructor(message: string, options: OmniScrapeErrorOptions & { field?: string } = {}) {
    super(message, options);
    this.field = options.field;
  }
}

/** 404: for example an async job that expired or never existed. */
export class NotFoundError extends OmniScrapeError {
  readonly code = 'not_found';
}

/** Any other status the contract does not describe. */
export class UnexpectedStatusError extends OmniScrapeError {
  readonly code = 'unexpected_status';
}

/** HTTP 200 with `success: false`: the API reached the target but the scrape failed. Dead-letter it. */
export class ScrapeFailedError extends OmniScrapeError {
  readonly code = 'scrape_failed';
  /** The API's whole answer, kept for inspection and re-drive. */
  readonly response: unknown;
  constructor(message: string, options: OmniScrapeErrorOptions & { response: unknown }) {
    super(message, options);
    this.response = options.response;
  }
}

/** An async job ended `failed`. Dead-letter it. */
export class AsyncJobFailedError extends OmniScrapeError {
  readonly code = 'async_job_failed';
  readonly jobId: string;
  readonly response: unknown;
  constructor(message: string, options: OmniScrapeErrorOptions & { jobId: string; response: unknown }) {
    super(message, options);
    this.jobId = options.jobId;
    this.response = options.response;
  }
}

/** An async job did not finish within the wait budget. The URL fails as `render_timeout`. */
export class AsyncJobTimeoutError extends OmniScrapeError {
  readonly code = 'async_job_timeout';
}

/**
 * A browser (BaaS) session timed out: connecting, a navigation, or a step's wait. Retried like a 5xx
 * (`upstreamRetries` times, `upstreamDelayMs` apart), then the URL fails as `browser_timeout`.
 */
export class BrowserTimeoutError extends OmniScrapeError {
  readonly code = 'browser_timeout';
}

/**
 * A browser step could not be carried out on the page (an option that does not exist, a scroll whose
 * condition never held, an element that cannot be filled). The session reached the target, so like
 * `success: false` it is dead-lettered for inspection, never retried blindly.
 */
export class BrowserStepError extends OmniScrapeError {
  readonly code = 'browser_step_failed';
  /** 0-based index of the step that failed. */
  readonly step: number | undefined;
  constructor(message: string, options: OmniScrapeErrorOptions & { step?: number } = {}) {
    super(message, options);
    this.step = options.step;
  }
  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), step: this.step };
  }
}

/**
 * No plan permit of the account came free within the wait the batch allows (`timeouts.permitWaitMs`):
 * the account's other calls held the plan all that time. No call was made and nothing was charged; the
 * URL goes back to its page's queue as a fresh activity, so the wait never eats into a try's budget
 * or the call's own timeout.
 */
export class PlanBusyError extends OmniScrapeError {
  readonly code = 'plan_busy';
}

/** The caller aborted the request (activity cancellation, shutdown). */
export class AbortedError extends OmniScrapeError {
  readonly code = 'aborted';
}

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
  if (error instanceof ConnectionError && error.unreachable) return { retry: false, outcome: 'outage' };
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
    case 'async_job_timeout':
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

/** Parses a Retry-After header (delta-seconds or an HTTP date) into milliseconds. */
export function parseRetryAfter(
  value: string | string[] | undefined,
  now: number = Date.now(),
): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw === undefined || raw.trim() === '') return undefined;
  const trimmed = raw.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}
