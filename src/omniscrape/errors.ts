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

/** The data fields a class of the taxonomy declares beyond the base's (`declare readonly step?: number`). */
type Extra<E> = Omit<E, keyof OmniScrapeError>;

/** What a constructor takes after the message: the base's options and the class's fields (required ones required). */
type OptionsArg<E> =
  object extends Extra<E>
    ? [options?: OmniScrapeErrorOptions & Extra<E>]
    : [options: OmniScrapeErrorOptions & Extra<E>];

/** Fields kept out of `toJSON`: the API's whole answer belongs in the record, not in every log line. */
const NOT_SERIALIZED = new Set(['response']);

/**
 * Base class of the taxonomy. Match on `code`, not `instanceof`. The type argument is the class
 * itself: the fields it declares are what its constructor takes beside the base's options, set here.
 */
export abstract class OmniScrapeError<E = unknown> extends Error {
  abstract readonly code: OmniScrapeErrorCode;
  /** HTTP status of the API's answer, when there was one. */
  readonly status: number | undefined;
  /** Redacted beginning of the API's body, when there was one. */
  readonly bodyExcerpt: string | undefined;

  constructor(message: string, ...[options]: OptionsArg<E>) {
    const { status, bodyExcerpt: body, cause, ...fields } = (options ?? {}) as OmniScrapeErrorOptions;
    super(redactSecrets(message), cause === undefined ? undefined : { cause });
    this.name = new.target.name;
    this.status = status;
    this.bodyExcerpt = bodyExcerpt(body);
    Object.assign(this, fields);
  }

  /** A plain, redacted object for logs and Temporal failure details: the name, code, message and fields. */
  toJSON(): Record<string, unknown> {
    const fields = Object.entries(this).filter(([key]) => !NOT_SERIALIZED.has(key));
    return { name: this.name, code: this.code, message: this.message, ...Object.fromEntries(fields) };
  }
}

/** 401: the key is missing or invalid. Every URL would fail: stop and fix the key. */
export class AuthError extends OmniScrapeError<AuthError> {
  readonly code = 'auth';
}

/**
 * The batch's account label has no key on this worker (src/config/accounts.ts). Raised before any call,
 * so nothing is spent; every URL of the batch would meet it, so it is a 401 of that account: the batch
 * pauses with reason `auth` until the workers know the account and it is resumed.
 */
export class UnknownAccountError extends AuthError {}

/** 402: the account's balance is exhausted. Needs a human (top up), never a blind retry. */
export class BalanceExhaustedError extends OmniScrapeError<BalanceExhaustedError> {
  readonly code = 'balance_exhausted';
}

/** 429: above the plan's concurrency or request rate. */
export class RateLimitedError extends OmniScrapeError<RateLimitedError> {
  readonly code = 'rate_limited';
  /** The Retry-After header in milliseconds, when the API sent one. */
  declare readonly retryAfterMs?: number;
}

/** 5xx from the API itself (500, 502, 503, 504, ...). */
export class UpstreamError extends OmniScrapeError<UpstreamError> {
  readonly code = 'upstream';
}

/** Our own client timeout fired before the API answered. */
export class ClientTimeoutError extends OmniScrapeError<ClientTimeoutError> {
  readonly code = 'client_timeout';
  /** Which timeout fired. */
  declare readonly phase: 'connect' | 'headers' | 'body' | 'pool';
}

/** The API could not be reached: refused, reset, DNS, TLS. */
export class ConnectionError extends OmniScrapeError<ConnectionError> {
  readonly code = 'connection';
  /**
   * Nothing answered at the API's address (refused, no such host, no route): OmniScrape itself is
   * down or unreachable, which is an outage, not this URL's error. False for a reset or a TLS failure.
   */
  declare readonly unreachable?: boolean;
}

/** The API answered with a body that is not the JSON the contract promises. */
export class MalformedResponseError extends OmniScrapeError<MalformedResponseError> {
  readonly code = 'malformed_response';
}

/** The API's body exceeded the client's configured size limit; it was not read further. */
export class ResponseTooLargeError extends OmniScrapeError<ResponseTooLargeError> {
  readonly code = 'response_too_large';
}

/** 400: the API rejected the request itself. Retrying the same request cannot help. */
export class BadRequestError extends OmniScrapeError<BadRequestError> {
  readonly code = 'bad_request';
  /** The field the API named, when it named one. */
  declare readonly field?: string;
}

/** 404: for example an async job that expired or never existed. */
export class NotFoundError extends OmniScrapeError<NotFoundError> {
  readonly code = 'not_found';
}

/** Any other status the contract does not describe. */
export class UnexpectedStatusError extends OmniScrapeError<UnexpectedStatusError> {
  readonly code = 'unexpected_status';
}

/** HTTP 200 with `success: false`: the API reached the target but the scrape failed. Dead-letter it. */
export class ScrapeFailedError extends OmniScrapeError<ScrapeFailedError> {
  readonly code = 'scrape_failed';
  /** The API's whole answer, kept for inspection and re-drive. */
  declare readonly response: unknown;
}

/** An async job ended `failed`. Dead-letter it. */
export class AsyncJobFailedError extends OmniScrapeError<AsyncJobFailedError> {
  readonly code = 'async_job_failed';
  declare readonly jobId: string;
  declare readonly response: unknown;
}

/**
 * A browser (BaaS) session timed out: connecting, a navigation, or a step's wait. Retried like a 5xx
 * (`upstreamRetries` times, `upstreamDelayMs` apart), then the URL fails as `browser_timeout`.
 */
export class BrowserTimeoutError extends OmniScrapeError<BrowserTimeoutError> {
  readonly code = 'browser_timeout';
}

/**
 * A browser step could not be carried out on the page (an option that does not exist, a scroll whose
 * condition never held, an element that cannot be filled). The session reached the target, so like
 * `success: false` it is dead-lettered for inspection, never retried blindly.
 */
export class BrowserStepError extends OmniScrapeError<BrowserStepError> {
  readonly code = 'browser_step_failed';
  /** 0-based index of the step that failed. */
  declare readonly step?: number;
}

/**
 * No plan permit of the account came free within the wait the batch allows (`timeouts.permitWaitMs`):
 * the account's other calls held the plan all that time. No call was made and nothing was charged; the
 * URL goes back to its page's queue as a fresh activity, so the wait never eats into a try's budget
 * or the call's own timeout.
 */
export class PlanBusyError extends OmniScrapeError<PlanBusyError> {
  readonly code = 'plan_busy';
}

/** The caller aborted the request (activity cancellation, shutdown). */
export class AbortedError extends OmniScrapeError<AbortedError> {
  readonly code = 'aborted';
}
