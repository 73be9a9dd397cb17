/**
 * The application's errors: what the CLI and the HTTP service report to a person. Each class has a stable
 * `code` (the `error` of the service's answer), its class name as `name`, readonly data fields and
 * `cause`; `ERROR_ANSWERS` is the one table from a code to the CLI's exit code and the service's HTTP
 * status. The CLI (cli/context.ts) and the service (service/errors.ts) read it, matching on `code`.
 *
 * The OmniScrape API's failures are another taxonomy (omniscrape/errors.ts): they become Temporal retry
 * behaviour and record outcomes, never an answer to a person. Errors a module throws and catches itself
 * (a store's `InputExistsError`, a browser step's `StepFailed`) stay with that module.
 */
import { withoutCredentials } from './logging/url-credentials.js';

/** The data fields of the error class `E`. */
type Fields<E> = Omit<E, keyof Error | 'code'>;

/** What the constructor takes after the message: the data fields and `cause` (optional when no field is required). */
type FieldsArg<E> =
  object extends Fields<E> ? [fields?: Fields<E> & ErrorOptions] : [fields: Fields<E> & ErrorOptions];

/**
 * Base of the application errors. The type argument is the class itself: the fields it declares
 * (`declare readonly line: number`) are what the constructor takes after the message, with `cause`,
 * and are set here.
 */
export abstract class AppError<E = unknown> extends Error {
  abstract override readonly name: string;
  abstract readonly code: string;

  constructor(message: string, ...[fields]: FieldsArg<E>) {
    const { cause, ...data } = (fields ?? {}) as ErrorOptions;
    super(message, cause === undefined ? undefined : { cause });
    Object.assign(this, data);
  }
}

/** The environment or a configuration file is invalid; the message names the variable or the field. */
export class ConfigError extends AppError<ConfigError> {
  override readonly name = 'ConfigError';
  readonly code = 'config_invalid';
  /** What to do about it, as the CLI prints it after the message. */
  declare readonly hint: string;

  constructor(message: string, hint = 'fix the environment variable') {
    super(message, { hint });
  }
}

/** The Temporal server does not answer (or refuses the TLS handshake or the credentials). */
export class TemporalUnavailableError extends AppError<TemporalUnavailableError> {
  override readonly name = 'TemporalUnavailableError';
  readonly code = 'temporal_unavailable';
}

/**
 * The Temporal server answers, but the namespace is not ready for scrapeflow: it does not exist, or
 * search attributes are missing or have the wrong type. The message names them and the command that
 * fixes it (`scrapeflow cluster setup`).
 */
export class TemporalNotSetUpError extends AppError<TemporalNotSetUpError> {
  override readonly name = 'TemporalNotSetUpError';
  readonly code = 'temporal_not_set_up';
  declare readonly namespace: string;
  /** What is missing or wrong: the namespace's name, or search attribute names. */
  declare readonly missing: string[];
}

/** The database could not be reached or prepared. The message names the host, never the password. */
export class StoreUnavailableError extends AppError<StoreUnavailableError> {
  override readonly name = 'StoreUnavailableError';
  readonly code = 'store_unavailable';
  /** `host:port/database` of the URL. */
  declare readonly target: string;
  /** The underlying error's code (`ECONNREFUSED`, a SQLSTATE such as `28P01`), when it had one. */
  declare readonly causeCode?: string | undefined;
}

/** A filesystem store opened from a host it does not belong to (a shared folder is not a shared store). */
export class StoreHostMismatchError extends AppError<StoreHostMismatchError> {
  override readonly name = 'StoreHostMismatchError';
  readonly code = 'store_host_mismatch';
}

/**
 * A second worker of a role (scrape, browser) on a filesystem store another live process serves: its
 * own semaphore would double the account's limits, which only PostgreSQL shares across workers.
 */
export class StoreInUseError extends AppError<StoreInUseError> {
  override readonly name = 'StoreInUseError';
  readonly code = 'store_in_use';
  /** The worker role whose lock is held. */
  declare readonly role: string;
  /** The pid of the process that holds it. */
  declare readonly pid: number;
}

/** Invalid batch options or URLs; the message and `field` name the first offending field. */
export class ValidationError extends AppError<ValidationError> {
  override readonly name = 'ValidationError';
  readonly code = 'invalid_request';
  /** The first offending field, as a dotted path. */
  declare readonly field: string;

  constructor(message: string, field: string, cause?: unknown) {
    super(message, { field, cause });
  }
}

/** A bad line in an input file. */
export class InputError extends AppError<InputError> {
  override readonly name = 'InputError';
  readonly code = 'invalid_input';
  /** 1-based line number. */
  declare readonly line: number;

  constructor(message: string, line: number) {
    super(`line ${line}: ${message}`, { line });
  }
}

/** What was wrong with a sitemap (`SitemapError.problem`). */
export type SitemapProblem =
  /** The fetch failed: network, timeout, an HTTP error status, OmniScrape's answer. */
  | 'fetch_failed'
  /** Over 50 MB (uncompressed) or the fetch's size cap. */
  | 'too_large'
  /** Not well-formed XML, or gzip that does not decompress. */
  | 'malformed'
  /** Well-formed, but neither `<urlset>` nor `<sitemapindex>`. */
  | 'not_a_sitemap'
  /** A DOCTYPE (entity declarations): refused, a sitemap needs none. */
  | 'doctype'
  /** Over 50,000 URLs (or sitemaps) in one file. */
  | 'too_many_urls'
  /** Sitemap indexes nested deeper than the limit. */
  | 'too_deep'
  /** robots.txt names no sitemap. */
  | 'no_sitemap_in_robots'
  /** Not an absolute http(s) URL. */
  | 'invalid_url';

/**
 * A sitemap (or robots.txt) could not be read: `url` names the file, `problem` what was wrong. A fetch
 * that failed for a reason that may pass (network, timeout, 429, 5xx) is `retryable`; `cause` holds the
 * OmniScrape error when the fetch went through OmniScrape (a 402 there is the account's balance).
 */
export class SitemapError extends AppError<SitemapError> {
  override readonly name = 'SitemapError';
  readonly code = 'sitemap_invalid';
  declare readonly url: string;
  declare readonly problem: SitemapProblem;
  declare readonly retryable: boolean;
}

/** A start under an id that names a batch already (`state`: running, completed, failed, terminated, …, or `stored input`). */
export class BatchIdTakenError extends AppError<BatchIdTakenError> {
  override readonly name = 'BatchIdTakenError';
  readonly code = 'batch_id_taken';
  /** The offending field of a start. */
  declare readonly field: 'batchId';
  declare readonly batchId: string;
  declare readonly state: string;

  constructor(batchId: string, state: string) {
    super(
      `batch id ${JSON.stringify(batchId)} is taken (${state === 'stored input' ? 'the store holds input for it' : `a batch under it is ${state}`}): ` +
        'a batch id names one batch forever, so choose another id (or leave it out to get a generated one)',
      { field: 'batchId', batchId, state },
    );
  }
}

/** No batch (workflow) under the id. */
export class BatchNotFoundError extends AppError<BatchNotFoundError> {
  override readonly name = 'BatchNotFoundError';
  readonly code = 'batch_not_found';
}

/** What a person asks of a running batch. */
export type BatchAction = 'pause' | 'resume' | 'cancel';

/** The batch's workflow has closed, so a signal would not reach it. */
export class BatchEndedError extends AppError<BatchEndedError> {
  override readonly name = 'BatchEndedError';
  readonly code = 'batch_ended';
  declare readonly batchId: string;
  /** The workflow's status, lower case: completed, failed, cancelled, terminated, timed_out, … */
  declare readonly status: string;
  declare readonly action: BatchAction;

  constructor(batchId: string, status: string, action: BatchAction) {
    super(`batch ${batchId} has already ended (${status})`, { batchId, status, action });
  }
}

/** A re-drive of a batch that has no dead letters left to re-drive. */
export class NothingToRedriveError extends AppError<NothingToRedriveError> {
  override readonly name = 'NothingToRedriveError';
  readonly code = 'nothing_to_redrive';
}

/** The line named does not exist: an index past the input's end, or a URL the input does not hold. */
export class LineNotFoundError extends AppError<LineNotFoundError> {
  override readonly name = 'LineNotFoundError';
  readonly code = 'line_not_found';
}

/** An uploaded input file over a cap of the service (bytes or lines); nothing of it was stored. */
export class UploadTooLargeError extends AppError<UploadTooLargeError> {
  override readonly name = 'UploadTooLargeError';
  readonly code = 'upload_too_large';
  /** The field the cap applies to: the request's body. */
  declare readonly field: 'body';
  /** The cap that was hit, and the variable that sets it. */
  declare readonly limit: number;
  declare readonly setting: string;
}

/** An uploaded input file that did not arrive within the service's time limit; nothing of it was stored. */
export class UploadTimeoutError extends AppError<UploadTimeoutError> {
  override readonly name = 'UploadTimeoutError';
  readonly code = 'upload_timeout';
  declare readonly field: 'body';
}

/** The service was started without a bearer token (SCRAPEFLOW_API_TOKEN). */
export class MissingTokenError extends AppError<MissingTokenError> {
  override readonly name = 'MissingTokenError';
  readonly code = 'missing_token';
}

/** A token asked for an account it is not scoped to (a start under it): 403 naming the account. */
export class AccountForbiddenError extends AppError<AccountForbiddenError> {
  override readonly name = 'AccountForbiddenError';
  readonly code = 'account_forbidden';
  declare readonly account: string;

  constructor(account: string, token: string) {
    super(`account: token ${JSON.stringify(token)} may not act on account ${JSON.stringify(account)}`, {
      account,
    });
  }
}

/** `tokens revoke` of a name no token has. */
export class TokenNotFoundError extends AppError<TokenNotFoundError> {
  override readonly name = 'TokenNotFoundError';
  readonly code = 'token_not_found';
}

/** A webhook endpoint id no endpoint has, or one of an account the token may not act on (404 alike). */
export class WebhookNotFoundError extends AppError<WebhookNotFoundError> {
  override readonly name = 'WebhookNotFoundError';
  readonly code = 'webhook_not_found';
}

/** An event id nothing recorded, or an event of an account the token may not act on (404 alike). */
export class EventNotFoundError extends AppError<EventNotFoundError> {
  override readonly name = 'EventNotFoundError';
  readonly code = 'event_not_found';
}

/** The embedded dev stack could not start (a bad `--faults` file, a part that failed); the message says which. */
export class StackStartError extends AppError<StackStartError> {
  override readonly name = 'StackStartError';
  readonly code = 'stack_start';
}

/** Bad `cluster up` input; the message names the option. */
export class ClusterConfigError extends AppError<ClusterConfigError> {
  override readonly name = 'ClusterConfigError';
  readonly code = 'cluster_config';
}

/** The server, the schema tool or the database failed; the message says which and quotes its output. */
export class ClusterStartError extends AppError<ClusterStartError> {
  override readonly name = 'ClusterStartError';
  readonly code = 'cluster_start';
}

/** The start was aborted (`ClusterUpOptions.signal`); the server, if started, was stopped. */
export class ClusterInterruptedError extends AppError<ClusterInterruptedError> {
  override readonly name = 'ClusterInterruptedError';
  readonly code = 'cluster_interrupted';
}

/** No monitor under the name (or one of an account the principal may not act on). */
export class MonitorNotFoundError extends AppError<MonitorNotFoundError> {
  override readonly name = 'MonitorNotFoundError';
  readonly code = 'monitor_not_found';
  declare readonly monitor: string;

  constructor(monitor: string) {
    super(`no monitor ${JSON.stringify(monitor)}`, { monitor });
  }
}

/** `monitor create` under a name that is taken. */
export class MonitorExistsError extends AppError<MonitorExistsError> {
  override readonly name = 'MonitorExistsError';
  readonly code = 'monitor_exists';
  declare readonly monitor: string;
  declare readonly field: string;

  constructor(monitor: string) {
    super(
      `a monitor ${JSON.stringify(monitor)} exists already: choose another name, or \`monitor update\` it`,
      {
        monitor,
        field: 'name',
      },
    );
  }
}

/** Every application error; each has an entry in `ERROR_ANSWERS`. */
export type AnyAppError =
  | ConfigError
  | TemporalUnavailableError
  | TemporalNotSetUpError
  | StoreUnavailableError
  | StoreHostMismatchError
  | StoreInUseError
  | ValidationError
  | InputError
  | SitemapError
  | BatchIdTakenError
  | BatchNotFoundError
  | BatchEndedError
  | NothingToRedriveError
  | LineNotFoundError
  | UploadTooLargeError
  | UploadTimeoutError
  | MissingTokenError
  | AccountForbiddenError
  | TokenNotFoundError
  | WebhookNotFoundError
  | EventNotFoundError
  | StackStartError
  | ClusterConfigError
  | ClusterStartError
  | ClusterInterruptedError
  | MonitorNotFoundError
  | MonitorExistsError;

export type AppErrorCode = AnyAppError['code'];

/** The CLI's exit codes, which scripts can rely on (the table below maps error codes to them). */
export const ExitCode = {
  ok: 0,
  /** Something failed that is not one of the cases below. */
  failure: 1,
  /** Bad command-line usage or bad input (named in the message). */
  usage: 2,
  /**
   * The Temporal server (or another required service) is not reachable, or Temporal is not set up for
   * scrapeflow (namespace or search attributes missing: `scrapeflow cluster setup` fixes it).
   */
  unavailable: 3,
  /** The batch or workflow named does not exist. */
  notFound: 4,
  /** `--wait` / `--watch` ended with the batch not completed (paused, cancelled or with failures). */
  batchNotCompleted: 5,
  /** The batch has already ended, so it cannot be paused, resumed or cancelled. */
  batchEnded: 6,
  /** The batch id is already taken (a batch runs or ran under it, or the store holds input for it). */
  batchIdTaken: 7,
  /**
   * `--wait` / `--watch`: the batch's workflow failed, was terminated or timed out (the message printed).
   */
  batchFailed: 8,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** How the CLI and the service answer an error. */
export interface ErrorAnswer<E> {
  /** The CLI's exit code. */
  exit: ExitCode;
  /** The CLI's line, when it says more than the message (what to do next). @default the message */
  cliMessage?: (err: E) => string;
  /**
   * The service's HTTP status. None: the error is not the client's to act on (the service's own
   * configuration, a CLI-only command), so the service answers 500 and hides the details.
   */
  status?: number;
  /** Fields of the service's error body after `error` (the code) and `message`. */
  body?: (err: E) => Record<string, unknown>;
}

const PAST: Record<BatchAction, string> = { pause: 'paused', resume: 'resumed', cancel: 'cancelled' };

/** The one table from an error's code to the CLI's exit code and the service's HTTP status. */
export const ERROR_ANSWERS: { readonly [E in AnyAppError as E['code']]: ErrorAnswer<E> } = {
  config_invalid: { exit: ExitCode.usage, cliMessage: (err) => `${err.message} (${err.hint})` },
  temporal_unavailable: { exit: ExitCode.unavailable, status: 503 },
  temporal_not_set_up: { exit: ExitCode.unavailable, status: 503, body: (err) => ({ missing: err.missing }) },
  store_unavailable: { exit: ExitCode.unavailable },
  store_host_mismatch: { exit: ExitCode.usage },
  store_in_use: { exit: ExitCode.usage },
  invalid_request: { exit: ExitCode.usage, status: 400, body: (err) => ({ field: err.field }) },
  invalid_input: {
    exit: ExitCode.usage,
    cliMessage: (err) => `input ${err.message}`,
    status: 400,
    body: (err) => ({ field: 'body', line: err.line }),
  },
  sitemap_invalid: {
    exit: ExitCode.usage,
    status: 422,
    // The URL as the message shows it: `user:pass@` in a sitemap URL is a secret.
    body: (err) => ({ field: 'sitemap', url: withoutCredentials(err.url), problem: err.problem }),
  },
  batch_id_taken: {
    exit: ExitCode.batchIdTaken,
    status: 409,
    body: (err) => ({ field: err.field, state: err.state }),
  },
  batch_not_found: {
    exit: ExitCode.notFound,
    cliMessage: (err) => `${err.message}: check the id with \`scrapeflow list\``,
    status: 404,
  },
  batch_ended: {
    exit: ExitCode.batchEnded,
    cliMessage: (err) =>
      `${err.message}, so it cannot be ${PAST[err.action]}; see \`scrapeflow status ${err.batchId}\``,
    status: 409,
  },
  nothing_to_redrive: { exit: ExitCode.notFound, status: 409 },
  line_not_found: { exit: ExitCode.usage },
  upload_too_large: {
    exit: ExitCode.usage,
    status: 413,
    body: (err) => ({ field: err.field, limit: err.limit }),
  },
  upload_timeout: { exit: ExitCode.usage, status: 408, body: (err) => ({ field: err.field }) },
  missing_token: { exit: ExitCode.usage },
  account_forbidden: {
    exit: ExitCode.usage,
    status: 403,
    body: (err) => ({ field: 'account', account: err.account }),
  },
  token_not_found: {
    exit: ExitCode.notFound,
    cliMessage: (err) => `${err.message}: see \`scrapeflow tokens list\``,
  },
  webhook_not_found: {
    exit: ExitCode.notFound,
    cliMessage: (err) => `${err.message}: see \`scrapeflow webhooks list\``,
    status: 404,
  },
  event_not_found: {
    exit: ExitCode.notFound,
    cliMessage: (err) => `${err.message}: see \`scrapeflow webhooks deliveries\``,
    status: 404,
  },
  stack_start: { exit: ExitCode.unavailable },
  cluster_config: { exit: ExitCode.usage },
  cluster_start: { exit: ExitCode.unavailable },
  cluster_interrupted: { exit: ExitCode.failure },
  monitor_not_found: {
    exit: ExitCode.notFound,
    cliMessage: (err) => `${err.message}: see \`scrapeflow monitor list\``,
    status: 404,
  },
  monitor_exists: { exit: ExitCode.batchIdTaken, status: 409, body: (err) => ({ field: err.field }) },
};

/**
 * Whether `err` is an application error (of `code`, when given), matched on its `code` rather than
 * `instanceof`, which fails for a class loaded twice.
 */
export function isAppError<C extends AppErrorCode = AppErrorCode>(
  err: unknown,
  code?: C,
): err is Extract<AnyAppError, { code: C }> {
  const found = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof found === 'string' && Object.hasOwn(ERROR_ANSWERS, found) && (code ?? found) === found;
}

/** The table's entry for `err`. */
export function answerOf(err: AnyAppError): ErrorAnswer<AnyAppError> {
  return ERROR_ANSWERS[err.code] as ErrorAnswer<AnyAppError>;
}
