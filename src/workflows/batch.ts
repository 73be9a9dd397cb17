/**
 * The batch workflow (id = batch id): pages through the stored input and runs each URL as a child
 * workflow `<batchId>/<index>` inside an adaptive sliding window. Children are started with
 * ParentClosePolicy ABANDON and report back by completing: the batch awaits their results. Before it
 * continues as new, the batch asks the children still in flight to report by `urlDone` signal instead,
 * and carries them into the next run, which has no handle on them. (Children of the first version
 * always report by signal.)
 */
import {
  ApplicationFailure,
  ParentClosePolicy,
  allHandlersFinished,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  patched,
  proxyActivities,
  setHandler,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { ControlActivities } from '../activities/control.js';
import type { UrlItem } from '../store/types.js';
import {
  AccountAttr,
  BatchIdAttr,
  BatchStatusAttr,
  PauseReasonAttr,
  UrlAttr,
  searchableUrl,
} from '../temporal/search-attributes.js';
import {
  cancelSignal,
  pauseSignal,
  progressQuery,
  rateLimitedSignal,
  reportBySignalSignal,
  resumeSignal,
  urlDoneSignal,
  urlPausedSignal,
} from './definitions.js';
import {
  TASK_QUEUES,
  childWorkflowId,
  type BatchProgress,
  type BatchState,
  type BatchWorkflowInput,
  type PauseReason,
  type UrlSummary,
} from './types.js';
import { urlWorkflow } from './url.js';
import { AdaptiveWindow } from './window.js';

/** Input items loaded per activity call. */
const PAGE_SIZE = 200;

const control = proxyActivities<ControlActivities>({
  taskQueue: TASK_QUEUES.control,
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});

/**
 * `recordDuplicates` pages through the whole input in one activity (a million lines take minutes), and
 * heartbeats after each page, so a retry after a worker dies resumes where it stopped.
 */
const duplicateRecords = proxyActivities<ControlActivities>({
  taskQueue: TASK_QUEUES.control,
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});

function initialProgress(input: BatchWorkflowInput): BatchProgress {
  return {
    batchId: input.batchId,
    state: 'running',
    total: input.total,
    counts: { succeeded: 0, failed: 0, dead_lettered: 0, in_flight: 0, pending: input.total },
    credits: 0,
    creditsByMethod: {},
    creditsByTag: {},
    window: input.options.concurrency,
    concurrency: input.options.concurrency,
    rateLimited: 0,
    waiting: 0,
    startedAt: new Date().toISOString(),
    continuedAsNew: 0,
    duplicates: { lines: input.duplicates ?? 0, waiting: 0 },
  };
}

export async function batchWorkflow(input: BatchWorkflowInput): Promise<BatchProgress> {
  const { batchId, options, total, carried } = input;
  const progress = carried?.progress ?? initialProgress(input);
  /** Indexes of the URLs in flight (started, not yet reported). */
  const inFlight = new Set<number>(
    carried?.inFlightIndexes ?? (carried?.inFlight ?? []).map((item) => item.index),
  );
  const waiting = new Set<number>(carried?.waiting ?? []);
  const window = new AdaptiveWindow(
    options.concurrency,
    options.adaptive,
    carried?.windowSize,
    carried?.completionsSinceDecrease,
    // Batches started before this version halve on any 429 (their histories replay that way).
    patched('window-by-429-pressure') ? 'pressure' : 'any',
    carried?.ratePressure,
  );
  /** Index of the next input item not yet started. */
  let cursor = carried?.cursor ?? 0;
  let buffer: UrlItem[] = [];
  let paused = carried?.paused ?? false;
  let cancelled = carried?.cancelled ?? false;
  /** Children of this run that ended without reporting (terminated by an operator, failed). */
  const silent: { item: UrlItem; detail: string }[] = [];
  /** Children of this run, in flight, that report by completing and have not been asked to signal. */
  const reportingByResult = new Set<number>();
  /** When the last resume was handled (workflow time, ms): 401/402s from before it are stale. */
  let lastResumeAt = carried?.lastResumeAt;
  /** Set when this batch met a 401/402 and the account's other batches must pause too. */
  let accountPause: PauseReason | undefined;

  const setState = (state: BatchState, pauseReason?: PauseReason) => {
    progress.state = state;
    progress.pauseReason = pauseReason;
    upsertSearchAttributes([
      { key: BatchStatusAttr, value: state },
      { key: PauseReasonAttr, value: pauseReason ?? null },
    ]);
  };
  const pause = (reason: PauseReason, spreadToAccount = false) => {
    if (cancelled || progress.state === 'completed') return;
    paused = true;
    // The first reason sticks: a manual pause stays manual when a 402 follows.
    if (progress.state !== 'paused') {
      setState('paused', reason);
      if (spreadToAccount) accountPause = reason;
    }
  };
  const snapshot = (): BatchProgress => ({
    ...progress,
    counts: { ...progress.counts, in_flight: inFlight.size, pending: total - cursor },
    window: window.slots,
    waiting: waiting.size,
    ...(progress.duplicates ? { duplicates: { ...progress.duplicates } } : {}),
  });
  /**
   * Writes the records of the duplicate lines the batch has passed (each from its first line's record,
   * which exists once nothing is in flight) and counts them. Only batches with duplicates run it.
   */
  const recordDuplicates = async () => {
    const dups = progress.duplicates;
    if (!dups?.waiting) return;
    const written = await duplicateRecords.recordDuplicates({ batchId, options, end: cursor });
    const recorded = written.succeeded + written.failed + written.dead_lettered;
    if (recorded !== dups.waiting) {
      throw ApplicationFailure.nonRetryable(
        `batch ${batchId}: ${recorded} duplicate lines recorded before line ${cursor}, expected ${dups.waiting}`,
        'DuplicateCountMismatch',
      );
    }
    for (const status of ['succeeded', 'failed', 'dead_lettered'] as const)
      progress.counts[status] += written[status];
    dups.waiting = 0;
  };

  // Before any handler: a signal that came with the start is delivered when its handler is set, and
  // must find the state already initialised (a pause sent right after start stays a pause).
  if (!carried) {
    upsertSearchAttributes([
      { key: BatchIdAttr, value: batchId },
      { key: AccountAttr, value: options.account },
    ]);
    setState('running');
  }

  setHandler(progressQuery, snapshot);
  setHandler(pauseSignal, (arg) => pause(arg?.reason ?? 'manual'));
  setHandler(cancelSignal, () => {
    cancelled = true;
  });
  setHandler(rateLimitedSignal, () => {
    progress.rateLimited += 1;
    window.onRateLimited();
  });
  setHandler(urlPausedSignal, async ({ index, reason, at }) => {
    if (!inFlight.has(index)) return;
    if (!paused && at !== undefined && lastResumeAt !== undefined && at < lastResumeAt) {
      // The 401/402 came before the last resume (the resume overtook its report): the operator has
      // acted since, so the URL tries again at once instead of pausing the batch.
      await getExternalWorkflowHandle(childWorkflowId(batchId, index)).signal(resumeSignal);
      return;
    }
    waiting.add(index);
    pause(reason, true);
  });
  /** Counts a URL's terminal summary (from its report, or recorded for a child that ended silently). */
  const settle = (summary: UrlSummary) => {
    if (!inFlight.delete(summary.index)) return; // a duplicate report
    waiting.delete(summary.index);
    progress.counts[summary.status] += 1;
    progress.credits += summary.charged;
    if (summary.charged) {
      const method = summary.methodUsed ?? 'unknown';
      progress.creditsByMethod[method] = (progress.creditsByMethod[method] ?? 0) + summary.charged;
      for (const tag of summary.tags ?? []) {
        progress.creditsByTag[tag] = (progress.creditsByTag[tag] ?? 0) + summary.charged;
      }
    }
    if (summary.balanceAfter !== undefined) {
      progress.lastBalance = summary.balanceAfter;
      // Pause before the 402: the balance fell below the batch's threshold.
      if (options.pauseBelowBalance !== undefined && summary.balanceAfter < options.pauseBelowBalance) {
        pause('balance', true);
      }
    }
    window.onCompleted();
  };
  setHandler(urlDoneSignal, settle);
  setHandler(resumeSignal, async () => {
    if (cancelled) return;
    // Remembered even when not paused: the 401/402 that would have paused the batch may still be on
    // its way (reported after this resume), and the operator has already acted on it.
    lastResumeAt = Date.now();
    if (!paused) return;
    paused = false;
    setState('running');
    const toWake = [...waiting];
    waiting.clear();
    await Promise.all(
      toWake.map((index) => getExternalWorkflowHandle(childWorkflowId(batchId, index)).signal(resumeSignal)),
    );
  });

  /**
   * Before continue-as-new: children of this run that would report by completing are asked to signal
   * instead. A child that had already ended cannot take the signal; its result is then awaited here, so
   * it is counted in this run.
   */
  const askToReportBySignal = async () => {
    const asked = [...reportingByResult];
    reportingByResult.clear();
    await Promise.all(
      asked.map(async (index) => {
        try {
          await getExternalWorkflowHandle(childWorkflowId(batchId, index)).signal(reportBySignalSignal);
        } catch {
          await condition(() => !inFlight.has(index) || silent.some((s) => s.item.index === index));
        }
      }),
    );
  };

  const hasMoreInput = () => cursor < total;
  const canStart = () => !paused && hasMoreInput() && inFlight.size < window.slots;
  const finished = () => !hasMoreInput() && inFlight.size === 0;

  for (;;) {
    await condition(
      () =>
        cancelled ||
        finished() ||
        canStart() ||
        accountPause !== undefined ||
        silent.length > 0 ||
        workflowInfo().continueAsNewSuggested,
    );
    if (silent.length > 0) {
      for (const { item, detail } of silent.splice(0)) {
        if (!inFlight.has(item.index)) continue; // it reported after all
        const input = { batchId, item, options, parentWorkflowId: workflowInfo().workflowId };
        settle(await control.recordFailure({ input, reason: 'url_workflow_ended', detail, attempts: 0 }));
      }
      continue;
    }
    if (accountPause !== undefined) {
      const reason = accountPause;
      accountPause = undefined;
      if (patched('account-wide-pause')) {
        await control.pauseAccountBatches({ account: options.account, reason, exceptBatchId: batchId });
      }
      continue;
    }
    if (cancelled || finished()) break;
    if (workflowInfo().continueAsNewSuggested) {
      if (reportingByResult.size > 0) {
        await askToReportBySignal();
        continue; // results that came in meanwhile (and silent endings) are handled first
      }
      await condition(allHandlersFinished);
      progress.continuedAsNew += 1;
      return continueAsNew<typeof batchWorkflow>({
        batchId,
        options,
        total,
        carried: {
          cursor,
          // Indexes only: whole items (a URL of up to 8 KB, per-item steps) times a window of up to
          // 1,000 could pass the 2 MB payload limit, and nothing in the next run needs more.
          inFlight: [],
          inFlightIndexes: [...inFlight],
          waiting: [...waiting],
          progress,
          paused,
          cancelled,
          windowSize: window.size,
          completionsSinceDecrease: window.sinceDecrease,
          ratePressure: window.pressure,
          ...(lastResumeAt !== undefined ? { lastResumeAt } : {}),
        },
      });
    }
    if (buffer.length === 0) {
      buffer = await control.loadInputPage({
        batchId,
        offset: cursor,
        limit: PAGE_SIZE,
        storeId: options.storeId,
      });
      if (buffer.length === 0)
        throw new Error(`input of batch ${batchId} ends at ${cursor}, expected ${total} URLs`);
      continue; // re-check the window: signals may have arrived while loading
    }
    // Start every URL that fits in the window in one workflow task (one command each); the first
    // version started one child per task, which capped a batch at about one start per round trip.
    const count = patched('start-children-together')
      ? Math.min(window.slots - inFlight.size, buffer.length)
      : 1;
    // A duplicate line takes no child and no slot: it waits, counted, for `recordDuplicates`.
    const items = buffer.splice(0, count).filter((item) => {
      cursor = item.index + 1;
      if (item.duplicateOf === undefined) return true;
      (progress.duplicates ??= { lines: 0, waiting: 0 }).waiting += 1;
      return false;
    });
    for (const item of items) inFlight.add(item.index);
    const byResult = patched('report-by-result');
    const children = await Promise.all(
      items.map((item) =>
        startChild(urlWorkflow, {
          workflowId: childWorkflowId(batchId, item.index),
          taskQueue: TASK_QUEUES.control,
          args: [
            {
              batchId,
              item,
              options,
              parentWorkflowId: workflowInfo().workflowId,
              ...(byResult ? { reportBy: 'result' as const } : {}),
            },
          ],
          parentClosePolicy: ParentClosePolicy.ABANDON,
          typedSearchAttributes: [
            { key: BatchIdAttr, value: batchId },
            ...(options.searchableUrls === false ? [] : [{ key: UrlAttr, value: searchableUrl(item.url) }]),
          ],
        }),
      ),
    );
    // A child's result is its report (a duplicate of a signal report is ignored by `settle`); one that
    // ends without a summary (terminated by an operator, or failed) would otherwise hold the batch open
    // forever.
    children.forEach((child, i) => {
      const item = items[i]!;
      if (byResult) reportingByResult.add(item.index);
      child.result().then(
        (summary) => {
          reportingByResult.delete(item.index);
          if (byResult) settle(summary);
        },
        (err: unknown) => {
          reportingByResult.delete(item.index);
          silent.push({ item, detail: err instanceof Error ? err.message : String(err) });
        },
      );
    });
  }

  if (cancelled) {
    await Promise.all(
      [...inFlight].map((index) =>
        getExternalWorkflowHandle(childWorkflowId(batchId, index))
          .cancel()
          .catch(() => undefined),
      ),
    );
    await condition(() => inFlight.size === 0);
    await recordDuplicates();
    setState('cancelled');
  } else {
    await recordDuplicates();
    setState('completed');
  }
  progress.endedAt = new Date().toISOString();
  await condition(allHandlersFinished);
  return snapshot();
}
