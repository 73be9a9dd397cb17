/**
 * The page workflow (id `<batchId>/p<k>`): runs input lines [offset, offset + size) of its batch as
 * activities in an adaptive sliding window, and reports one summary to the batch when every URL of the
 * page has its record.
 *
 * Per URL it does what the error matrix says: the activity retries by class inside Temporal (budgets
 * from the attempt, `nextRetryDelay`); a final answer comes back as a summary (the activity wrote the
 * record) or a non-retryable failure whose details name the outcome: record a failure, move to the
 * async job flow (submitted once, polled on workflow timers), or wait — a 401, 402 or outage puts the
 * URL back in the queue and pauses the page, which tells its batch; the batch pauses its other pages
 * and the account's batches, and its `resume` wakes the waiting URLs.
 *
 * Activity ids are the URL's index (`17`), then `17.2`, `17.3`… for its later calls (a poll, a try after
 * a resume); each carries the URL as its summary, so the Web UI shows "why did URL n fail" on this page.
 */
import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  type ActivityInterface,
  allHandlersFinished,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  isCancellation,
  proxyActivities,
  setHandler,
  TemporalFailure,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { BrowserActivities } from '../activities/browser.js';
import type { ControlActivities } from '../activities/control.js';
import type { FailureDetails } from '../activities/failures.js';
import type { PollResult, ScrapeActivities } from '../activities/scrape.js';
import { highestPriceOf } from '../omniscrape/prices.js';
import type { UrlItem } from '../store/types.js';
import { countAttributes } from '../temporal/search-attributes.js';
import {
  cancelSignal,
  pageProgressQuery,
  pagePausedSignal,
  pageWindowSignal,
  pauseSignal,
  rateLimitedSignal,
  resumeSignal,
} from './definitions.js';
import type { BatchOptions } from '../batch/options.js';
import { taskPriority } from './priority.js';
import {
  TASK_QUEUES,
  permitWaitOf,
  stepsOf,
  type PageProgress,
  type PageSummary,
  type PageWorkflowInput,
  type PauseReason,
  type UrlSummary,
  type UrlTask,
} from './types.js';
import { AdaptiveWindow, pollDelayMs } from './window.js';
import { withoutCredentials } from '../logging/url-credentials.js';

/** Safety net for errors outside the taxonomy; the matrix's own budgets are smaller. */
const MAX_ATTEMPTS = 10;
/** Input items loaded per activity call. */
const LOAD_CHUNK = 200;
/** Longest activity summary shown in the Web UI (a URL may be 8 KB). */
const MAX_SUMMARY = 300;

/** A URL as the Web UI shows it: without its `user:pass@` (the activity still gets the real URL), cut short. */
function urlSummary(url: string): string {
  const shown = withoutCredentials(url);
  return shown.length > MAX_SUMMARY ? `${shown.slice(0, MAX_SUMMARY)}…` : shown;
}

/**
 * Bookkeeping activities, each with an explicit id: default ids are sequence numbers, which would
 * collide with the URL activities' ids (their indexes).
 */
const control = (activityId: string, options: BatchOptions) =>
  proxyActivities<ControlActivities>({
    taskQueue: TASK_QUEUES.workflows,
    activityId,
    // Loading input and recording failures gate the page's progress: they rank as its URLs do.
    priority: taskPriority(options),
    startToCloseTimeout: '1 minute',
    retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
  });

/** Activities that reach OmniScrape (HTTP on `scrape`, BaaS on `browser`), with the batch's timeouts. */
function remote<A extends ActivityInterface>(taskQueue: string, task: UrlTask, activityId: string) {
  const { url } = task.item;
  return proxyActivities<A>({
    taskQueue,
    activityId,
    // Its batch's priority, and its account as the fairness key (src/workflows/priority.ts).
    priority: taskPriority(task.options),
    ...(task.options.searchableUrls === false ? {} : { summary: urlSummary(url) }),
    // A call may first wait for a plan permit, a session for a session permit: that wait has its own
    // bound, and never shortens the call or the session.
    startToCloseTimeout:
      (taskQueue === TASK_QUEUES.browser ? task.options.timeouts.browserMs : task.options.timeouts.scrapeMs) +
      permitWaitOf(task.options),
    heartbeatTimeout: task.options.timeouts.heartbeatMs,
    // A cancelled call is awaited to its end: an answer that arrived (and was charged) is recorded.
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: { maximumAttempts: MAX_ATTEMPTS, initialInterval: '1 second', maximumInterval: '1 minute' },
  });
}

/** The matrix's verdict carried by a non-retryable activity failure, if it is one of ours. */
function failureDetails(err: unknown): (FailureDetails & { message: string }) | undefined {
  if (!(err instanceof ActivityFailure) || !(err.cause instanceof ApplicationFailure)) return undefined;
  const details = err.cause.details?.[0] as FailureDetails | undefined;
  return details?.outcome ? { ...details, message: err.cause.message } : undefined;
}

/** A URL that must wait for `resume` (401, 402, outage); `at` is when its activity gave up. */
class Paused {
  constructor(
    readonly reason: PauseReason,
    readonly at?: number,
  ) {}
}

/** A URL whose call found no plan permit in time (`PlanBusyError`): it runs again as a fresh activity. */
const REQUEUE = Symbol('requeue');

const PAUSE_OUTCOMES: Partial<Record<FailureDetails['outcome'], PauseReason>> = {
  pause_auth: 'auth',
  pause_balance: 'balance',
  outage: 'outage',
};

const emptySummary = (page: number): PageSummary => ({
  page,
  counts: { succeeded: 0, failed: 0, dead_lettered: 0 },
  duplicates: 0,
  credits: 0,
  creditsByMethod: {},
  rateLimited: 0,
  continuedAsNew: 0,
});

export async function pageWorkflow(input: PageWorkflowInput): Promise<PageSummary> {
  const { batchId, options, page, offset, size, carried } = input;
  const end = offset + size;
  const summary = carried?.summary ?? emptySummary(page);
  const window = new AdaptiveWindow({
    ceiling: input.window,
    adaptive: options.adaptive,
    ...(carried
      ? {
          state: {
            size: carried.windowSize,
            sinceDecrease: carried.completionsSinceDecrease,
            pressure: carried.ratePressure,
          },
        }
      : {}),
  });
  const batch = getExternalWorkflowHandle(workflowInfo().parent?.workflowId ?? batchId);

  let cursor = carried?.cursor ?? offset;
  let buffer: UrlItem[] = [];
  /** URLs started and not ended, with the credits each holds against the allowance. */
  const inFlight = new Map<number, number>();
  const waiting = new Set<number>();
  let reserved = 0;
  let allowance = input.allowance;
  let pausedFor: PauseReason | undefined = input.pausedFor;
  /** Bumped by each resume: waiting URLs wake when it changes. */
  let resumes = 0;
  /** Workflow time of the last resume (ms): a 401/402 that came before it is stale. */
  let lastResumeAt = carried?.lastResumeAt;
  let cancelled = false;
  /** Every URL runs in this scope: cancelling it cancels their activities and timers. */
  const urls = new CancellationScope();
  /** A URL's coroutine that failed outside the matrix: the page fails with it. */
  let failure: TemporalFailure | undefined;

  setHandler(pageProgressQuery, (): PageProgress => ({
    ...summary,
    counts: { ...summary.counts },
    creditsByMethod: { ...summary.creditsByMethod },
    inFlight: inFlight.size,
    waiting: waiting.size,
    pending: end - cursor + buffer.length,
    window: window.slots,
    ...(pausedFor ? { paused: pausedFor } : {}),
  }));
  setHandler(pauseSignal, (arg) => {
    pausedFor ??= arg?.reason ?? 'manual';
  });
  setHandler(resumeSignal, (arg) => {
    if (arg?.allowance !== undefined) allowance = arg.allowance;
    lastResumeAt = Date.now();
    pausedFor = undefined;
    resumes += 1;
  });
  setHandler(cancelSignal, () => {
    cancelled = true;
    urls.cancel();
  });
  setHandler(rateLimitedSignal, () => {
    summary.rateLimited += 1;
    window.onRateLimited();
  });
  setHandler(pageWindowSignal, ({ window: ceiling }) => window.setCeiling(ceiling));

  /** Stops starting URLs and tells the batch why (once per pause). */
  const pause = (reason: PauseReason, at?: number) => {
    if (pausedFor !== undefined || cancelled) return;
    pausedFor = reason;
    // The batch may have closed meanwhile (cancelled): nothing to tell then.
    void batch
      .signal(pagePausedSignal, { page, reason, ...(at !== undefined ? { at } : {}) })
      .catch(() => undefined);
  };

  const settle = (result: UrlSummary) => {
    summary.counts[result.status] += 1;
    summary.credits += result.charged;
    if (result.charged) {
      const method = result.methodUsed ?? 'unknown';
      summary.creditsByMethod[method] = (summary.creditsByMethod[method] ?? 0) + result.charged;
    }
    if (result.balanceAfter !== undefined) {
      summary.lastBalance = result.balanceAfter;
      if (options.pauseBelowBalance !== undefined && result.balanceAfter < options.pauseBelowBalance)
        pause('balance');
    }
    window.onCompleted();
  };

  /** One URL, from its first call to its record; undefined when it was cancelled first. */
  const runUrl = async (item: UrlItem): Promise<UrlSummary | undefined> => {
    const task: UrlTask = { batchId, item, options };
    let calls = 0;
    const nextId = () => (++calls === 1 ? String(item.index) : `${item.index}.${calls}`);
    try {
      for (;;) {
        const outcome = await attempt(task, nextId);
        if (outcome === REQUEUE) continue;
        if (!(outcome instanceof Paused)) return outcome;
        const stale = outcome.at !== undefined && lastResumeAt !== undefined && outcome.at < lastResumeAt;
        if (stale && pausedFor === undefined) continue; // the operator acted after it: try again now
        waiting.add(item.index);
        pause(outcome.reason, outcome.at);
        const seen = resumes;
        await condition(() => resumes !== seen);
        waiting.delete(item.index);
      }
    } catch (err) {
      if (isCancellation(err)) return undefined;
      throw err;
    }
  };

  const start = (item: UrlItem) => {
    const price = highestPriceOf(options, stepsOf({ item, options }));
    inFlight.set(item.index, price);
    reserved += price;
    void urls
      .run(() => runUrl(item))
      .then(
        (result) => {
          if (result) settle(result);
        },
        (err: unknown) => {
          // Outside the matrix (a store that refuses the batch, a bug): the page fails visibly, never
          // a workflow task retried forever, nor a page waiting for this URL forever.
          failure ??=
            err instanceof TemporalFailure
              ? err
              : ApplicationFailure.nonRetryable(
                  `URL ${item.index} of page ${page}: ${err instanceof Error ? err.message : String(err)}`,
                  'PageInvariantBroken',
                );
        },
      )
      .finally(() => {
        inFlight.delete(item.index);
        waiting.delete(item.index);
        reserved -= price;
      });
  };

  const nextPrice = () => (buffer[0] ? highestPriceOf(options, stepsOf({ item: buffer[0], options })) : 0);
  const affordable = () => allowance === undefined || summary.credits + reserved + nextPrice() <= allowance;
  // A page continues as new only between loaded chunks, so what it carries is a cursor.
  const draining = () => buffer.length === 0 && workflowInfo().continueAsNewSuggested;
  const hasMore = () => cursor < end || buffer.length > 0;
  const canStart = () =>
    pausedFor === undefined && !cancelled && !draining() && hasMore() && inFlight.size < window.slots;

  try {
    for (;;) {
      await condition(
        () =>
          cancelled ||
          failure !== undefined ||
          (!hasMore() && inFlight.size === 0) ||
          (draining() && inFlight.size === 0) ||
          canStart(),
      );
      if (failure !== undefined) throw failure;
      if (cancelled || !hasMore()) break;
      if (draining()) {
        if (inFlight.size > 0) continue;
        await condition(allHandlersFinished);
        summary.continuedAsNew += 1;
        return await continueAsNew<typeof pageWorkflow>({
          batchId,
          options,
          page,
          offset,
          size,
          window: window.ceiling,
          ...(allowance !== undefined ? { allowance } : {}),
          ...(pausedFor ? { pausedFor } : {}),
          carried: {
            cursor,
            summary,
            windowSize: window.size,
            completionsSinceDecrease: window.sinceDecrease,
            ratePressure: window.pressure,
            ...(lastResumeAt !== undefined ? { lastResumeAt } : {}),
          },
        });
      }
      if (buffer.length === 0) {
        buffer = await control(`load-${cursor}`, options).loadInputPage({
          batchId,
          offset: cursor,
          limit: Math.min(LOAD_CHUNK, end - cursor),
          ...(options.storeId ? { storeId: options.storeId } : {}),
        });
        if (buffer.length === 0)
          throw ApplicationFailure.nonRetryable(
            `input of batch ${batchId} ends at line ${cursor}, expected ${end} lines in page ${page}`,
            'InputTooShort',
          );
        cursor = buffer[buffer.length - 1]!.index + 1;
        // A duplicate line takes no call and no slot: the batch records it at its end.
        buffer = buffer.filter((item) => {
          if (item.duplicateOf === undefined) return true;
          summary.duplicates += 1;
          return false;
        });
        continue; // re-check: signals may have come while loading
      }
      if (!affordable()) {
        if (inFlight.size === 0) pause('budget');
        else await condition(() => cancelled || failure !== undefined || inFlight.size === 0 || affordable());
        continue;
      }
      // Every URL that fits starts in this workflow task (one command each).
      while (canStart() && buffer.length > 0 && affordable()) start(buffer.shift()!);
    }
  } catch (err) {
    if (!isCancellation(err)) throw err;
    cancelled = true; // the page itself was cancelled through Temporal (its batch, or an operator)
  }

  return await CancellationScope.nonCancellable(async () => {
    if (cancelled) {
      urls.cancel();
      await condition(() => inFlight.size === 0);
      // Every URL of the page without a record gets `failed(cancelled)`; the counts are the store's.
      const recorded = await control('record-cancelled', options).recordMissing({
        batchId,
        options,
        from: offset,
        to: end,
        reason: 'cancelled',
      });
      Object.assign(summary, {
        counts: recorded.counts,
        duplicates: recorded.duplicates,
        credits: recorded.credits,
        creditsByMethod: recorded.creditsByMethod,
      });
    }
    upsertSearchAttributes(countAttributes(summary.counts));
    await condition(allHandlersFinished);
    return summary;
  });
}

/**
 * One pass over the URL: its summary, `Paused` when the account needs a human or the API is down, or
 * `REQUEUE` when the account's plan stayed busy for longer than the batch lets a call wait.
 */
async function attempt(task: UrlTask, nextId: () => string): Promise<UrlSummary | Paused | typeof REQUEUE> {
  const { options } = task;
  if (stepsOf(task)?.length) {
    try {
      return await remote<BrowserActivities>(TASK_QUEUES.browser, task, nextId()).browseUrl(task);
    } catch (err) {
      return settleFailure(task, nextId, err);
    }
  }
  const direct =
    options.asyncFlow === 'always' ||
    (options.asyncFlow === 'js_rendering' && options.mode === 'js_rendering');
  if (direct) return asyncFlow(task, nextId, 0);
  try {
    return await remote<ScrapeActivities>(TASK_QUEUES.scrape, task, nextId()).scrapeUrl(task);
  } catch (err) {
    const details = failureDetails(err);
    if (details?.outcome === 'switch_to_async') return asyncFlow(task, nextId, details.attempt);
    return settleFailure(task, nextId, err);
  }
}

/** Submit once (the job id then lives in history), then poll on workflow timers within the budget. */
async function asyncFlow(task: UrlTask, nextId: () => string, attemptsBefore: number) {
  const { polling } = task.options;
  let jobId: string | undefined;
  let attempts = attemptsBefore;
  while (jobId === undefined) {
    try {
      const submitted = await remote<ScrapeActivities>(TASK_QUEUES.scrape, task, nextId()).submitAsyncJob(
        task,
      );
      jobId = submitted.jobId;
      attempts += submitted.attempts;
    } catch (err) {
      // A plan that stayed busy submits again here: the URL already belongs to the async flow.
      const settled = await settleFailure(task, nextId, err, { attemptsBefore: attempts });
      if (settled !== REQUEUE) return settled;
    }
  }
  let waited = 0;
  for (let turn = 0; waited < polling.budgetMs; turn++) {
    const delay = Math.min(pollDelayMs(turn, polling), polling.budgetMs - waited);
    await sleep(delay);
    waited += delay;
    let result: PollResult;
    try {
      result = await remote<ScrapeActivities>(TASK_QUEUES.scrape, task, nextId()).pollAsyncJob({
        ...task,
        jobId,
        attemptsBefore: attempts,
      });
    } catch (err) {
      return settleFailure(task, nextId, err, { attemptsBefore: attempts, jobId });
    }
    if (result.done) return result.summary;
  }
  return control(nextId(), task.options).recordFailure({
    task,
    reason: 'render_timeout',
    detail: `async job ${jobId} not complete after ${polling.budgetMs} ms`,
    attempts: attempts + 1,
    jobId,
  });
}

/** A non-retryable activity failure: wait for a resume, run the URL again, or record it as failed. */
async function settleFailure(
  task: UrlTask,
  nextId: () => string,
  err: unknown,
  { attemptsBefore = 0, jobId }: { attemptsBefore?: number; jobId?: string } = {},
): Promise<UrlSummary | Paused | typeof REQUEUE> {
  if (isCancellation(err)) throw err;
  const details = failureDetails(err);
  if (details?.outcome === 'requeue') return REQUEUE;
  const waitFor = details && PAUSE_OUTCOMES[details.outcome];
  if (waitFor) return new Paused(waitFor, details.at);
  return control(nextId(), task.options).recordFailure({
    task,
    reason: details?.code ?? 'internal',
    detail: details?.message ?? (err instanceof Error ? err.message : String(err)),
    attempts: attemptsBefore + (details?.attempt ?? MAX_ATTEMPTS),
    ...(jobId ? { jobId } : {}),
  });
}
