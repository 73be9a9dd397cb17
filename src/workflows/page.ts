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
 * Their input is the item and the version of the batch's options (`optionsVersion`), not the options.
 *
 * The workflow is its loop (`pageWorkflow`); its state and handlers are a `PageRun`, its arithmetic the
 * window (window.ts), the credit budget (budget.ts) and the totals (totals.ts).
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
  taskInput,
  type PageProgress,
  type PageSummary,
  type PageWorkflowInput,
  type PauseReason,
  type UrlSummary,
  type UrlTask,
  type UrlTaskInput,
} from './types.js';
import { CreditBudget } from './budget.js';
import { addOutcome, noCounts } from './totals.js';
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

/** One URL as its calls see it: its task, what its activities receive, and the id of its next call. */
interface UrlCalls {
  task: UrlTask;
  input: UrlTaskInput;
  nextId: () => string;
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
  counts: noCounts(),
  duplicates: 0,
  credits: 0,
  creditsByMethod: {},
  rateLimited: 0,
  continuedAsNew: 0,
});

/** A page's state while it runs, and what changes it: its handlers, its URLs' starts and ends. */
class PageRun {
  readonly end: number;
  readonly summary: PageSummary;
  readonly window: AdaptiveWindow;
  /** URLs in flight, each holding its highest price against the allowance. */
  readonly budget: CreditBudget;
  /** URLs waiting for `resume`. */
  readonly waiting = new Set<number>();
  cursor: number;
  buffer: UrlItem[] = [];
  pausedFor: PauseReason | undefined;
  /** Bumped by each resume: waiting URLs wake when it changes. */
  resumes = 0;
  /** Workflow time of the last resume (ms): a 401/402 that came before it is stale. */
  lastResumeAt: number | undefined;
  cancelled = false;
  /** Every URL runs in this scope: cancelling it cancels their activities and timers. */
  readonly urls = new CancellationScope();
  /** A URL's coroutine that failed outside the matrix: the page fails with it. */
  failure: TemporalFailure | undefined;
  private readonly batch: ReturnType<typeof getExternalWorkflowHandle>;

  constructor(readonly input: PageWorkflowInput) {
    const { carried } = input;
    this.end = input.offset + input.size;
    this.summary = carried?.summary ?? emptySummary(input.page);
    this.window = new AdaptiveWindow({
      ceiling: input.window,
      adaptive: input.options.adaptive,
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
    this.batch = getExternalWorkflowHandle(workflowInfo().parent?.workflowId ?? input.batchId);
    this.cursor = carried?.cursor ?? input.offset;
    this.budget = new CreditBudget(input.allowance);
    this.pausedFor = input.pausedFor;
    this.lastResumeAt = carried?.lastResumeAt;
  }

  handleSignals(): void {
    setHandler(pageProgressQuery, (): PageProgress => ({
      ...this.summary,
      counts: { ...this.summary.counts },
      creditsByMethod: { ...this.summary.creditsByMethod },
      inFlight: this.budget.inFlight,
      waiting: this.waiting.size,
      pending: this.end - this.cursor + this.buffer.length,
      window: this.window.slots,
      ...(this.pausedFor ? { paused: this.pausedFor } : {}),
    }));
    setHandler(pauseSignal, (arg) => {
      this.pausedFor ??= arg?.reason ?? 'manual';
    });
    setHandler(resumeSignal, (arg) => {
      if (arg?.allowance !== undefined) this.budget.allowance = arg.allowance;
      this.lastResumeAt = Date.now();
      this.pausedFor = undefined;
      this.resumes += 1;
    });
    setHandler(cancelSignal, () => {
      this.cancelled = true;
      this.urls.cancel();
    });
    setHandler(rateLimitedSignal, () => {
      this.summary.rateLimited += 1;
      this.window.onRateLimited();
    });
    setHandler(pageWindowSignal, ({ window: ceiling }) => this.window.setCeiling(ceiling));
  }

  /** Stops starting URLs and tells the batch why (once per pause). */
  pause(reason: PauseReason, at?: number): void {
    if (this.pausedFor !== undefined || this.cancelled) return;
    this.pausedFor = reason;
    // The batch may have closed meanwhile (cancelled): nothing to tell then.
    void this.batch
      .signal(pagePausedSignal, { page: this.input.page, reason, ...(at !== undefined ? { at } : {}) })
      .catch(() => undefined);
  }

  /** A URL ended with its record. */
  settle(result: UrlSummary): void {
    addOutcome(this.summary, result);
    if (result.balanceAfter !== undefined) {
      this.summary.lastBalance = result.balanceAfter;
      const floor = this.input.options.pauseBelowBalance;
      if (floor !== undefined && result.balanceAfter < floor) this.pause('balance');
    }
    this.window.onCompleted();
  }

  /** One URL, from its first call to its record; undefined when it was cancelled first. */
  async runUrl(item: UrlItem): Promise<UrlSummary | undefined> {
    const { batchId, options, optionsVersion } = this.input;
    const task: UrlTask = { batchId, item, options };
    let calls = 0;
    const url: UrlCalls = {
      task,
      input: taskInput(task, optionsVersion),
      nextId: () => (++calls === 1 ? String(item.index) : `${item.index}.${calls}`),
    };
    try {
      for (;;) {
        const outcome = await attempt(url);
        if (outcome === REQUEUE) continue;
        if (!(outcome instanceof Paused)) return outcome;
        const stale =
          outcome.at !== undefined && this.lastResumeAt !== undefined && outcome.at < this.lastResumeAt;
        if (stale && this.pausedFor === undefined) continue; // the operator acted after it: try again now
        this.waiting.add(item.index);
        this.pause(outcome.reason, outcome.at);
        const seen = this.resumes;
        await condition(() => this.resumes !== seen);
        this.waiting.delete(item.index);
      }
    } catch (err) {
      if (isCancellation(err)) return undefined;
      throw err;
    }
  }

  /** Starts a URL in the page's scope; its end settles it, or fails the page when outside the matrix. */
  start(item: UrlItem): void {
    this.budget.reserve(item.index, this.priceOf(item));
    void this.urls
      .run(() => this.runUrl(item))
      .then(
        (result) => {
          if (result) this.settle(result);
        },
        (err: unknown) => {
          // Outside the matrix (a store that refuses the batch, a bug): the page fails visibly, never
          // a workflow task retried forever, nor a page waiting for this URL forever.
          this.failure ??=
            err instanceof TemporalFailure
              ? err
              : ApplicationFailure.nonRetryable(
                  `URL ${item.index} of page ${this.input.page}: ${err instanceof Error ? err.message : String(err)}`,
                  'PageInvariantBroken',
                );
        },
      )
      .finally(() => {
        this.budget.release(item.index);
        this.waiting.delete(item.index);
      });
  }

  priceOf(item: UrlItem): number {
    const { options } = this.input;
    return highestPriceOf(options, stepsOf({ item, options }));
  }

  affordable(): boolean {
    const next = this.buffer[0];
    return this.budget.affords(this.summary.credits, next ? this.priceOf(next) : 0);
  }

  // A page continues as new only between loaded chunks, so what it carries is a cursor.
  draining(): boolean {
    return this.buffer.length === 0 && workflowInfo().continueAsNewSuggested;
  }

  hasMore(): boolean {
    return this.cursor < this.end || this.buffer.length > 0;
  }

  canStart(): boolean {
    return (
      this.pausedFor === undefined &&
      !this.cancelled &&
      !this.draining() &&
      this.hasMore() &&
      this.budget.inFlight < this.window.slots
    );
  }

  /** Something for the loop to do. */
  ready(): boolean {
    const idle = this.budget.inFlight === 0;
    return (
      this.cancelled ||
      this.failure !== undefined ||
      (!this.hasMore() && idle) ||
      (this.draining() && idle) ||
      this.canStart()
    );
  }

  /** Loads the next chunk of input lines; duplicate lines are counted, not run. */
  async load(): Promise<void> {
    const { batchId, options, page } = this.input;
    this.buffer = await control(`load-${this.cursor}`, options).loadInputPage({
      batchId,
      offset: this.cursor,
      limit: Math.min(LOAD_CHUNK, this.end - this.cursor),
      ...(options.storeId ? { storeId: options.storeId } : {}),
    });
    if (this.buffer.length === 0)
      throw ApplicationFailure.nonRetryable(
        `input of batch ${batchId} ends at line ${this.cursor}, expected ${this.end} lines in page ${page}`,
        'InputTooShort',
      );
    this.cursor = this.buffer[this.buffer.length - 1]!.index + 1;
    // A duplicate line takes no call and no slot: the batch records it at its end.
    this.buffer = this.buffer.filter((item) => {
      if (item.duplicateOf === undefined) return true;
      this.summary.duplicates += 1;
      return false;
    });
  }

  /** The input of the page's next run: nothing is in flight, so it carries a cursor and its totals. */
  next(): PageWorkflowInput {
    const { budget, window, lastResumeAt, pausedFor } = this;
    this.summary.continuedAsNew += 1;
    return {
      batchId: this.input.batchId,
      options: this.input.options,
      ...(this.input.optionsVersion !== undefined ? { optionsVersion: this.input.optionsVersion } : {}),
      page: this.input.page,
      offset: this.input.offset,
      size: this.input.size,
      window: window.ceiling,
      ...(budget.allowance !== undefined ? { allowance: budget.allowance } : {}),
      ...(pausedFor ? { pausedFor } : {}),
      carried: {
        cursor: this.cursor,
        summary: this.summary,
        windowSize: window.size,
        completionsSinceDecrease: window.sinceDecrease,
        ratePressure: window.pressure,
        ...(lastResumeAt !== undefined ? { lastResumeAt } : {}),
      },
    };
  }

  /** Cancelled: every URL of the page without a record gets `failed(cancelled)`; the counts are the store's. */
  async recordCancelled(): Promise<void> {
    this.urls.cancel();
    await condition(() => this.budget.inFlight === 0);
    const { batchId, options, offset } = this.input;
    const recorded = await control('record-cancelled', options).recordMissing({
      batchId,
      options,
      from: offset,
      to: this.end,
      reason: 'cancelled',
    });
    Object.assign(this.summary, {
      counts: recorded.counts,
      duplicates: recorded.duplicates,
      credits: recorded.credits,
      creditsByMethod: recorded.creditsByMethod,
    });
  }
}

export async function pageWorkflow(input: PageWorkflowInput): Promise<PageSummary> {
  const run = new PageRun(input);
  run.handleSignals();
  try {
    for (;;) {
      await condition(() => run.ready());
      if (run.failure !== undefined) throw run.failure;
      if (run.cancelled || !run.hasMore()) break;
      if (run.draining()) {
        if (run.budget.inFlight > 0) continue;
        await condition(allHandlersFinished);
        return await continueAsNew<typeof pageWorkflow>(run.next());
      }
      if (run.buffer.length === 0) {
        await run.load();
        continue; // re-check: signals may have come while loading
      }
      if (!run.affordable()) {
        if (run.budget.inFlight === 0) run.pause('budget');
        else
          await condition(
            () => run.cancelled || run.failure !== undefined || run.budget.inFlight === 0 || run.affordable(),
          );
        continue;
      }
      // Every URL that fits starts in this workflow task (one command each).
      while (run.canStart() && run.buffer.length > 0 && run.affordable()) run.start(run.buffer.shift()!);
    }
  } catch (err) {
    if (!isCancellation(err)) throw err;
    run.cancelled = true; // the page itself was cancelled through Temporal (its batch, or an operator)
  }

  return await CancellationScope.nonCancellable(async () => {
    if (run.cancelled) await run.recordCancelled();
    upsertSearchAttributes(countAttributes(run.summary.counts));
    await condition(allHandlersFinished);
    return run.summary;
  });
}

/**
 * One pass over the URL: its summary, `Paused` when the account needs a human or the API is down, or
 * `REQUEUE` when the account's plan stayed busy for longer than the batch lets a call wait.
 */
async function attempt(url: UrlCalls): Promise<UrlSummary | Paused | typeof REQUEUE> {
  const { task, input, nextId } = url;
  const { options } = task;
  if (stepsOf(task)?.length) {
    try {
      return await remote<BrowserActivities>(TASK_QUEUES.browser, task, nextId()).browseUrl(input);
    } catch (err) {
      return settleFailure(url, err);
    }
  }
  const direct =
    options.asyncFlow === 'always' ||
    (options.asyncFlow === 'js_rendering' && options.mode === 'js_rendering');
  if (direct) return asyncFlow(url, 0);
  try {
    return await remote<ScrapeActivities>(TASK_QUEUES.scrape, task, nextId()).scrapeUrl(input);
  } catch (err) {
    const details = failureDetails(err);
    if (details?.outcome === 'switch_to_async') return asyncFlow(url, details.attempt);
    return settleFailure(url, err);
  }
}

/** Submit once (the job id then lives in history), then poll on workflow timers within the budget. */
async function asyncFlow(url: UrlCalls, attemptsBefore: number) {
  const { task, input, nextId } = url;
  const { polling } = task.options;
  let jobId: string | undefined;
  let attempts = attemptsBefore;
  while (jobId === undefined) {
    try {
      const submitted = await remote<ScrapeActivities>(TASK_QUEUES.scrape, task, nextId()).submitAsyncJob(
        input,
      );
      jobId = submitted.jobId;
      attempts += submitted.attempts;
    } catch (err) {
      // A plan that stayed busy submits again here: the URL already belongs to the async flow.
      const settled = await settleFailure(url, err, { attemptsBefore: attempts });
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
        ...input,
        jobId,
        attemptsBefore: attempts,
      });
    } catch (err) {
      return settleFailure(url, err, { attemptsBefore: attempts, jobId });
    }
    if (result.done) return result.summary;
  }
  return control(nextId(), task.options).recordFailure({
    task: input,
    reason: 'render_timeout',
    detail: `async job ${jobId} not complete after ${polling.budgetMs} ms`,
    attempts: attempts + 1,
    jobId,
  });
}

/** A non-retryable activity failure: wait for a resume, run the URL again, or record it as failed. */
async function settleFailure(
  { task, input, nextId }: UrlCalls,
  err: unknown,
  { attemptsBefore = 0, jobId }: { attemptsBefore?: number; jobId?: string } = {},
): Promise<UrlSummary | Paused | typeof REQUEUE> {
  if (isCancellation(err)) throw err;
  const details = failureDetails(err);
  if (details?.outcome === 'requeue') return REQUEUE;
  const waitFor = details && PAUSE_OUTCOMES[details.outcome];
  if (waitFor) return new Paused(waitFor, details.at);
  return control(nextId(), task.options).recordFailure({
    task: input,
    reason: details?.code ?? 'internal',
    detail: details?.message ?? (err instanceof Error ? err.message : String(err)),
    attempts: attemptsBefore + (details?.attempt ?? MAX_ATTEMPTS),
    ...(jobId ? { jobId } : {}),
  });
}
