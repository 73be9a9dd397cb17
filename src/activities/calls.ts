/**
 * How a URL's activity makes one OmniScrape call: under heartbeats, holding a plan permit where the call
 * takes one, logged once whatever its outcome (`event: omniscrape_call`, the cost line), with its span,
 * and told to the call observers (the worker's metrics, the low-balance watcher) and the outage detector.
 * The scrape activities (scrape.ts) decide what to call; this module is what every call goes through.
 */
import { Context } from '@temporalio/activity';
import type { Logger } from '../logging/logger.js';
import type { ScrapeResponse } from '../omniscrape/types.js';
import { OmniScrapeError } from '../omniscrape/errors.js';
import { isOutageSign } from '../omniscrape/retry-matrix.js';
import type { OutageDetector } from '../omniscrape/outage.js';
import { acquireWithin, type PlanPermits } from '../omniscrape/permits.js';
import type { SpanHandle, Tracing } from '../tracing/types.js';
import { outcomeClass, type SpanAttributes } from '../tracing/attributes.js';
import { withoutCredentials } from '../logging/url-credentials.js';
import type { UrlTask } from '../workflows/types.js';
import { keepHeartbeating } from './heartbeat.js';
import { tagsOf } from './records.js';

/** Which OmniScrape endpoint a call went to. */
export type CallKind = 'scrape' | 'async_submit' | 'async_poll';

/** One OmniScrape call, as logged (`event: omniscrape_call`); unknown values are null, never absent. */
export interface CallEntry {
  event: 'omniscrape_call';
  call: CallKind;
  /** `success`, `failed` (200 with success:false), `submitted`, `pending` (job not done) or an error code. */
  outcome: string;
  batchId: string;
  index: number;
  url: string;
  /** The account label of the batch (never the key). */
  account: string;
  tags: string[];
  /** Temporal's attempt number of the activity (1 = first try). */
  attempt: number;
  success: boolean | null;
  method_used: string | null;
  solver_used: boolean | null;
  challenge_solved: boolean | null;
  /** Credits this call cost. */
  charged: number;
  balance_after: number | null;
  duration_ms: number;
  job_id: string | null;
  error_code: string | null;
  status: number | null;
}

/** Told about every OmniScrape call (the worker's Prometheus counters implement it). */
export interface CallObserver {
  /** A call is about to be made. */
  started(call: CallKind): void;
  /** That call ended (exactly once per `started`). */
  ended(entry: CallEntry): void;
}

/** Told each `balance_after` (low-balance alerts); must not throw or wait. */
export interface BalanceObserver {
  observe(balance: number, context: { account: string; batchId: string }): void;
}

/** An OmniScrape call's span attributes, from its log line and the batch's mode. */
export function callAttributes(entry: CallEntry, mode: string): SpanAttributes {
  return {
    'omniscrape.call': entry.call,
    'omniscrape.mode': mode,
    'omniscrape.outcome': entry.outcome,
    'omniscrape.outcome_class': outcomeClass(entry.outcome),
    'omniscrape.method_used': entry.method_used ?? '',
    'omniscrape.charged': entry.charged,
    'omniscrape.attempt': entry.attempt,
    'omniscrape.account': entry.account,
    'scrapeflow.batch_id': entry.batchId,
    'scrapeflow.index': entry.index,
    'url.full': withoutCredentials(entry.url),
    ...(entry.status !== null ? { 'http.response.status_code': entry.status } : {}),
    ...(entry.job_id ? { 'omniscrape.job_id': entry.job_id } : {}),
  };
}

/** What a call is told to, besides its input. */
export interface CallerDeps {
  logger: Logger;
  /** Metrics of the calls. */
  metrics?: CallObserver;
  /** Low-balance alerts. */
  balanceWatcher?: BalanceObserver;
  /**
   * The plan's permits (src/omniscrape/permits.ts): each scrape and async submit holds one of its
   * account's for the length of the call. Unset: no limit here (tests that inject an API).
   */
  permits?: PlanPermits;
  /** A span per call, when the process traces (src/tracing). */
  tracing?: Pick<Tracing, 'startSpan'>;
}

/** Calls that hold a plan permit; a status poll holds no slot at OmniScrape and takes none. */
const TAKES_PERMIT: Record<CallKind, boolean> = { scrape: true, async_submit: true, async_poll: false };

/** One OmniScrape call of a URL's activity, as `callApi` makes and logs it. */
export interface ApiCall<T> {
  input: UrlTask;
  call: CallKind;
  work: (signal: AbortSignal) => Promise<T>;
  /** What of the answer goes into the call's log line. */
  describe: (result: T) => { body?: ScrapeResponse; jobId?: string; pending?: boolean };
  /** The async job the call is about. */
  jobId?: string;
}

/** Heartbeats while `work` runs (src/activities/heartbeat.ts). */
async function withHeartbeat<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const stop = keepHeartbeating();
  try {
    return await work(Context.current().cancellationSignal);
  } finally {
    stop();
  }
}

/** The log line of one OmniScrape call (`event: omniscrape_call`). */
function callEntry(
  input: UrlTask,
  call: CallKind,
  started: number,
  outcome: { body?: ScrapeResponse; jobId?: string; error?: unknown; pending?: boolean },
): CallEntry {
  const { body, error } = outcome;
  const code = (error as Partial<OmniScrapeError> | undefined)?.code;
  return {
    event: 'omniscrape_call',
    call,
    outcome: error
      ? (code ?? 'error')
      : outcome.pending
        ? 'pending'
        : call === 'async_submit'
          ? 'submitted'
          : body?.success
            ? 'success'
            : 'failed',
    batchId: input.batchId,
    index: input.item.index,
    url: input.item.url,
    account: input.options.account,
    tags: tagsOf(input),
    attempt: Context.current().info.attempt,
    success: body ? body.success : error ? false : null,
    method_used: body?.metadata?.method_used ?? null,
    solver_used: body?.metadata?.solver_used ?? null,
    challenge_solved: body?.metadata?.challenge_solved ?? null,
    charged: body?.billing?.charged ?? 0,
    balance_after: body?.billing?.balance_after ?? null,
    duration_ms: Date.now() - started,
    job_id: outcome.jobId ?? null,
    error_code: error ? (code ?? 'internal') : null,
    status: (error as Partial<OmniScrapeError> | undefined)?.status ?? null,
  };
}

/**
 * How the scrape activities make an OmniScrape call: under heartbeats, holding a plan permit where the
 * call takes one, logged once whatever its outcome, told to the metrics, the balance watcher and the
 * outage detector.
 */
export function createCaller({
  logger,
  metrics,
  balanceWatcher,
  permits,
  health,
  tracing,
}: CallerDeps & {
  health: OutageDetector;
}) {
  /** One structured cost line per OmniScrape call (and its span), then the metrics and the balance watcher. */
  function logCall(
    input: UrlTask,
    call: CallKind,
    started: number,
    outcome: { body?: ScrapeResponse; jobId?: string; error?: unknown; pending?: boolean },
    span?: SpanHandle,
  ) {
    const entry = callEntry(input, call, started, outcome);
    logger.info(entry, 'omniscrape call');
    span?.end(
      callAttributes(entry, input.options.mode),
      outcomeClass(entry.outcome) === 'error' ? entry.outcome : undefined,
    );
    try {
      metrics?.ended(entry);
      if (entry.balance_after !== null)
        balanceWatcher?.observe(entry.balance_after, { account: entry.account, batchId: entry.batchId });
    } catch (err) {
      logger.warn({ err }, 'call observer failed');
    }
  }

  /**
   * Makes one OmniScrape call under heartbeats and logs it (one line per call, whatever the outcome).
   * A scrape or submit first waits (still heartbeating, cancellable) for a plan permit of the batch's
   * account, at most `timeouts.permitWaitMs` (the activity's start-to-close leaves room for it), and
   * gives it back when the call ends, however it ends. A wait that runs out throws `PlanBusyError` (the
   * URL is queued again); one that a cancellation or shutdown ends throws the cancellation itself: no
   * call was made, so there is nothing to classify.
   */
  async function callApi<T>(spec: ApiCall<T>): Promise<T> {
    return withHeartbeat(async (signal) => {
      const release =
        permits && TAKES_PERMIT[spec.call]
          ? await acquireWithin(permits, spec.input.options, signal)
          : undefined;
      try {
        return await logged(spec, signal);
      } finally {
        await release?.();
      }
    });
  }

  async function logged<T>(
    { input, call, work, describe, jobId }: ApiCall<T>,
    signal: AbortSignal,
  ): Promise<T> {
    const started = Date.now();
    metrics?.started(call);
    const span = tracing?.startSpan(`omniscrape ${call}`);
    let result: T;
    try {
      result = await work(signal);
    } catch (err) {
      health.record(err instanceof OmniScrapeError && isOutageSign(err));
      const response = (err as { response?: ScrapeResponse }).response;
      logCall(
        input,
        call,
        started,
        {
          error: err,
          ...(response ? { body: response } : {}),
          ...(jobId ? { jobId } : {}),
        },
        span,
      );
      throw err;
    }
    health.record(false);
    logCall(input, call, started, { ...(jobId ? { jobId } : {}), ...describe(result) }, span);
    return result;
  }

  return callApi;
}
