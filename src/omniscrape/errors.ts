/**
 * The one OmniScrape error taxonomy (guide section 8 plus what a real network does).
 *
 * Every failure of an OmniScrape call surfaces as exactly one of these classes. Each has a stable
 * `code`, its class name as `name` (which becomes the Temporal failure `type`), readonly data a caller
 * needs to act on, and the original `cause`. This module is pure (no Node imports) so workflow code can
 * use the names and codes; what each code leads to (retry or give up) is retry-matrix.ts.
 *
 * No error ever carries the API key: messages are built from status codes, URLs of the API itself and
 * body excerpts passed through `redactSecrets`.
 */
import { redactSecrets } from '../logging/secrets.js';

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
  | 'browser_timeout'
  | 'browser_step_failed'
  | 'plan_busy'
  | 'aborted';

const MAX_EXCERPT = 500;

/** A short, redacted excerpt of a response body, safe to keep in errors and records. */
function bodyExcerpt(body: string | undefined): string | undefined {
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
