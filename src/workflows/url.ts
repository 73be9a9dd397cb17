/**
 * The per-URL workflow (id `<batchId>/<index>`): routes the URL to a browser session (an item or batch
 * with `steps`, task queue `browser`), the synchronous scrape or the async job flow, acts on the error matrix's outcome, and reports one summary to its batch.
 * After a 401/402 it does not fail: it tells the batch, waits for `resume`, and tries again.
 */
import {
  type ActivityInterface,
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  getExternalWorkflowHandle,
  isCancellation,
  patched,
  proxyActivities,
  setHandler,
  sleep,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { BrowserActivities } from '../activities/browser.js';
import type { ControlActivities } from '../activities/control.js';
import type { FailureDetails } from '../activities/failures.js';
import type { PollResult, ScrapeActivities } from '../activities/scrape.js';
import { BatchIdAttr, OutcomeAttr, UrlAttr, searchableUrl } from '../temporal/search-attributes.js';
import { reportBySignalSignal, resumeSignal, urlDoneSignal, urlPausedSignal } from './definitions.js';
import { TASK_QUEUES, stepsOf, type PauseReason, type UrlSummary, type UrlWorkflowInput } from './types.js';
import { pollDelayMs } from './window.js';

/** Safety net for errors outside the taxonomy; the matrix's own budgets are smaller. */
const MAX_ATTEMPTS = 10;

const control = proxyActivities<ControlActivities>({
  taskQueue: TASK_QUEUES.control,
  startToCloseTimeout: '1 minute',
  retry: { maximumAttempts: MAX_ATTEMPTS, initialInterval: '1 second', maximumInterval: '30 seconds' },
});

/** Activities that reach OmniScrape (HTTP on `scrape`, BaaS on `browser`), with the batch's timeouts. */
function remoteActivities<A extends ActivityInterface>(taskQueue: string, input: UrlWorkflowInput) {
  return proxyActivities<A>({
    taskQueue,
    startToCloseTimeout: input.options.timeouts.scrapeMs,
    heartbeatTimeout: input.options.timeouts.heartbeatMs,
    retry: { maximumAttempts: MAX_ATTEMPTS, initialInterval: '1 second', maximumInterval: '1 minute' },
  });
}
const scrapeActivities = (input: UrlWorkflowInput) =>
  remoteActivities<ScrapeActivities>(TASK_QUEUES.scrape, input);
const browserActivities = (input: UrlWorkflowInput) =>
  remoteActivities<BrowserActivities>(TASK_QUEUES.browser, input);

/** The matrix's verdict carried by a non-retryable activity failure, if it is one of ours. */
function failureDetails(err: unknown): (FailureDetails & { message: string }) | undefined {
  if (!(err instanceof ActivityFailure) || !(err.cause instanceof ApplicationFailure)) return undefined;
  const details = err.cause.details?.[0] as FailureDetails | undefined;
  return details?.outcome ? { ...details, message: err.cause.message } : undefined;
}

class Paused {
  constructor(
    readonly reason: PauseReason,
    readonly at?: number,
  ) {}
}

export async function urlWorkflow(input: UrlWorkflowInput): Promise<UrlSummary> {
  const { batchId, item } = input;
  // Newer batches set these when they start the child (no extra visibility write per URL).
  if (!patched('search-attributes-at-start')) {
    upsertSearchAttributes([
      { key: BatchIdAttr, value: batchId },
      { key: UrlAttr, value: searchableUrl(item.url) },
    ]);
  }
  let resumed = false;
  setHandler(resumeSignal, () => {
    resumed = true;
  });
  let reportBySignal = input.reportBy !== 'result';
  setHandler(reportBySignalSignal, () => {
    reportBySignal = true;
  });
  const parent = getExternalWorkflowHandle(input.parentWorkflowId);

  let summary: UrlSummary;
  try {
    for (;;) {
      const outcome = await attempt(input);
      if (!(outcome instanceof Paused)) {
        summary = outcome;
        break;
      }
      // 401/402: back in the batch's queue. Wait durably for the operator's resume, then try again.
      resumed = false;
      await parent.signal(urlPausedSignal, {
        index: item.index,
        reason: outcome.reason,
        ...(outcome.at !== undefined ? { at: outcome.at } : {}),
      });
      await condition(() => resumed);
    }
  } catch (err) {
    const reason = isCancellation(err) ? 'cancelled' : 'internal';
    const detail = err instanceof Error ? err.message : String(err);
    summary = await CancellationScope.nonCancellable(() =>
      control.recordFailure({ input, reason, detail, attempts: 0 }),
    );
  }
  await CancellationScope.nonCancellable(async () => {
    upsertSearchAttributes([{ key: OutcomeAttr, value: summary.status }]);
    // A `reportBySignal` arriving while this task completes makes the server refuse the completion; the
    // retried task runs the signal's handler (signals come first in a task) and reports by signal.
    if (reportBySignal) await parent.signal(urlDoneSignal, summary);
  });
  return summary;
}

/** One pass over the URL; `Paused` when the account needs a human first. */
async function attempt(input: UrlWorkflowInput): Promise<UrlSummary | Paused> {
  const { options } = input;
  // Only items or batches with `steps` take this path (both added after the first histories, which
  // have neither): those histories replay unchanged.
  if (stepsOf(input)?.length) {
    try {
      return await browserActivities(input).browseUrl(input);
    } catch (err) {
      return settle(input, err, failureDetails(err), 0);
    }
  }
  const scrape = scrapeActivities(input);
  const direct =
    options.asyncFlow === 'always' ||
    (options.asyncFlow === 'js_rendering' && options.mode === 'js_rendering');
  if (direct) return asyncFlow(input, 0);
  try {
    return await scrape.scrapeUrl(input);
  } catch (err) {
    const details = failureDetails(err);
    if (details?.outcome === 'switch_to_async') return asyncFlow(input, details.attempt);
    return settle(input, err, details, 0);
  }
}

/** Submit once (the job id then lives in history), then poll on workflow timers within the budget. */
async function asyncFlow(input: UrlWorkflowInput, attemptsBefore: number): Promise<UrlSummary | Paused> {
  const scrape = scrapeActivities(input);
  const { polling } = input.options;
  let jobId: string;
  let attempts = attemptsBefore;
  try {
    const submitted = await scrape.submitAsyncJob(input);
    jobId = submitted.jobId;
    attempts += submitted.attempts;
  } catch (err) {
    return settle(input, err, failureDetails(err), attempts);
  }
  let waited = 0;
  for (let turn = 0; waited < polling.budgetMs; turn++) {
    const delay = Math.min(pollDelayMs(turn, polling), polling.budgetMs - waited);
    await sleep(delay);
    waited += delay;
    let result: PollResult;
    try {
      result = await scrape.pollAsyncJob({ ...input, jobId, attemptsBefore: attempts });
    } catch (err) {
      return settle(input, err, failureDetails(err), attempts, jobId);
    }
    if (result.done) return result.summary;
  }
  return control.recordFailure({
    input,
    reason: 'render_timeout',
    detail: `async job ${jobId} not complete after ${polling.budgetMs} ms`,
    attempts: attempts + 1,
    jobId,
  });
}

/** A non-retryable activity failure: pause for a human, or record the URL as failed. */
async function settle(
  input: UrlWorkflowInput,
  err: unknown,
  details: ReturnType<typeof failureDetails>,
  attemptsBefore: number,
  jobId?: string,
): Promise<UrlSummary | Paused> {
  if (isCancellation(err)) throw err;
  if (details?.outcome === 'pause_auth') return new Paused('auth', details.at);
  if (details?.outcome === 'pause_balance') return new Paused('balance', details.at);
  const reason = details?.code ?? 'internal';
  const detail = details?.message ?? (err instanceof Error ? err.message : String(err));
  return control.recordFailure({
    input,
    reason,
    detail,
    attempts: attemptsBefore + (details?.attempt ?? MAX_ATTEMPTS),
    ...(jobId ? { jobId } : {}),
  });
}
