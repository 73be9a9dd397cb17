/**
 * The batch workflow (id = batch id): runs its input as page workflows `<batchId>/p<k>` of
 * `pageSize` lines, at most `pagesInFlight` at once, sharing the batch's `concurrency` among them (the
 * sum of their windows never exceeds it). A page reports by completing; one that ends without
 * reporting (terminated, failed) is reconciled from the store. The batch carries pause, resume and
 * cancel to its pages, spreads a 401/402/outage pause to the account's other batches, probes
 * OmniScrape while paused for an outage, and holds the credit cap. It continues as new between pages,
 * so what it carries is a page number and its totals.
 */
import {
  ApplicationFailure,
  CancellationScope,
  ParentClosePolicy,
  allHandlersFinished,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  isCancellation,
  proxyActivities,
  setHandler,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { ControlActivities } from '../activities/control.js';
import type { ScrapeActivities } from '../activities/scrape.js';
import {
  AccountAttr,
  BatchIdAttr,
  BatchStatusAttr,
  PauseReasonAttr,
  countAttributes,
} from '../temporal/search-attributes.js';
import {
  cancelSignal,
  pagePausedSignal,
  pageWindowSignal,
  pauseSignal,
  progressQuery,
  resumeSignal,
} from './definitions.js';
import { pageWorkflow } from './page.js';
import { taskPriority } from './priority.js';
import {
  TASK_QUEUES,
  pageWorkflowId,
  type BatchProgress,
  type BatchState,
  type BatchWorkflowInput,
  type PageSummary,
  type PauseReason,
} from './types.js';

/** The outage probe's first wait and its cap (it doubles in between). */
const PROBE_FIRST_MS = 5_000;
const PROBE_MAX_MS = 5 * 60_000;

const controlOptions = {
  taskQueue: TASK_QUEUES.workflows,
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
} as const;
/** One probe, one try: the loop around it is the backoff. */
const probeOptions = {
  taskQueue: TASK_QUEUES.scrape,
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 1 },
} as const;

/** The innermost cause's message (a child's failure wraps its termination or its own failure). */
function rootCause(err: unknown): string {
  let root = err;
  while (root instanceof Error && root.cause instanceof Error) root = root.cause;
  return root instanceof Error ? root.message : String(root);
}

function initialProgress(input: BatchWorkflowInput, pages: number): BatchProgress {
  const { options } = input;
  return {
    batchId: input.batchId,
    state: 'running',
    total: input.total,
    counts: { succeeded: 0, failed: 0, dead_lettered: 0, in_flight: 0, pending: input.total },
    credits: 0,
    creditsByMethod: {},
    creditsByTag: {},
    window: options.concurrency,
    concurrency: options.concurrency,
    rateLimited: 0,
    waiting: 0,
    ...(options.maxCredits !== undefined ? { maxCredits: options.maxCredits } : {}),
    pages: { total: pages, done: 0, running: [] },
    startedAt: new Date().toISOString(),
    continuedAsNew: 0,
    duplicates: { lines: input.duplicates ?? 0, waiting: 0 },
  };
}

export async function batchWorkflow(input: BatchWorkflowInput): Promise<BatchProgress> {
  const { batchId, options, total, carried } = input;
  /** Every task the batch schedules (pages, control activities, probes) ranks as the batch does. */
  const priority = taskPriority(options);
  const control = proxyActivities<ControlActivities>({ ...controlOptions, priority });
  /**
   * Activities that page through a whole range of the input (a million lines take minutes): they
   * heartbeat their offset, so a retry after a worker dies resumes where it stopped.
   */
  const longControl = proxyActivities<ControlActivities>({
    ...controlOptions,
    priority,
    startToCloseTimeout: '2 hours',
    heartbeatTimeout: '1 minute',
  });
  const pageCount = Math.ceil(total / options.pageSize);
  const progress = carried?.progress ?? initialProgress(input, pageCount);
  const pages = (progress.pages ??= { total: pageCount, done: 0, running: [] });
  const duplicates = (progress.duplicates ??= { lines: input.duplicates ?? 0, waiting: 0 });
  let maxCredits = carried?.maxCredits ?? options.maxCredits;
  // With a credit cap one page runs at a time, and its allowance is exactly what is left of the cap.
  const pagesAtOnce = maxCredits !== undefined ? 1 : options.pagesInFlight;
  let nextPage = carried?.nextPage ?? 0;
  /** Pages in flight, by number: their share of the concurrency. */
  const running = new Map<number, number>();
  /** Summaries of pages that ended, and pages that ended without one: folded in by the main loop. */
  const ended: PageSummary[] = [];
  const silent: { page: number; detail: string }[] = [];
  let paused = carried?.paused ?? false;
  let cancelled = carried?.cancelled ?? false;
  /** A 401/402/outage pause this batch met, to spread to the account's other batches. */
  let accountPause: PauseReason | undefined;
  /** Workflow time of the last resume (ms): a page's 401/402 from before it is stale. */
  let lastResumeAt: number | undefined;
  let probing = false;
  // Pages are started in a scope of their own that a Temporal cancel of the batch does not reach: the
  // batch cancels them itself, the same way whoever asked.
  const pagesScope = new CancellationScope({ cancellable: false });

  const setState = (state: BatchState, pauseReason?: PauseReason) => {
    progress.state = state;
    if (pauseReason) progress.pauseReason = pauseReason;
    else delete progress.pauseReason;
    upsertSearchAttributes([
      { key: BatchStatusAttr, value: state },
      { key: PauseReasonAttr, value: pauseReason ?? null },
    ]);
  };
  const toPages = async (send: (page: number) => Promise<void>) => {
    await Promise.all([...running.keys()].map((page) => send(page).catch(() => undefined)));
  };
  const pageHandle = (page: number) => getExternalWorkflowHandle(pageWorkflowId(batchId, page));
  const allowance = () => (maxCredits === undefined ? undefined : Math.max(0, maxCredits - progress.credits));

  const pause = async (reason: PauseReason, spreadToAccount: boolean) => {
    if (cancelled || paused) return; // the first reason sticks: a manual pause stays manual
    paused = true;
    setState('paused', reason);
    if (spreadToAccount) accountPause = reason;
    await toPages((page) => pageHandle(page).signal(pauseSignal, { reason }));
  };
  const resume = async () => {
    if (cancelled) return;
    // Remembered even when not paused: a page's 401/402 report may still be on its way.
    lastResumeAt = Date.now();
    paused = false;
    setState('running');
    const left = allowance();
    await toPages((page) =>
      pageHandle(page).signal(resumeSignal, left !== undefined ? { allowance: left } : undefined),
    );
  };

  if (!carried) {
    upsertSearchAttributes([
      { key: BatchIdAttr, value: batchId },
      { key: AccountAttr, value: options.account },
    ]);
    setState('running');
  }

  setHandler(progressQuery, () => ({
    ...progress,
    counts: { ...progress.counts },
    creditsByMethod: { ...progress.creditsByMethod },
    pages: { ...pages, running: [...running.keys()].map((page) => pageWorkflowId(batchId, page)) },
    duplicates: { ...duplicates },
    window: [...running.values()].reduce((a, b) => a + b, 0),
    ...(maxCredits !== undefined ? { maxCredits } : {}),
  }));
  setHandler(pauseSignal, (arg) => pause(arg?.reason ?? 'manual', false));
  setHandler(resumeSignal, async (arg) => {
    if (arg?.maxCredits !== undefined) maxCredits = progress.maxCredits = arg.maxCredits;
    await resume();
  });
  setHandler(cancelSignal, () => {
    cancelled = true;
  });
  setHandler(pagePausedSignal, async ({ page, reason, at }) => {
    if (!running.has(page)) return;
    if (!paused && at !== undefined && lastResumeAt !== undefined && at < lastResumeAt) {
      // The 401/402 came before the last resume (the resume overtook its report): the operator has
      // acted since, so the page goes on.
      await pageHandle(page).signal(resumeSignal, allowanceArg());
      return;
    }
    await pause(reason, reason === 'auth' || reason === 'balance' || reason === 'outage');
  });
  const allowanceArg = () => {
    const left = allowance();
    return left !== undefined ? { allowance: left } : undefined;
  };

  /** While paused for an outage: probes OmniScrape with backoff and resumes when it answers. */
  let probes = 0;
  /** The last wait of the probe that resumed the batch, and when it did (workflow time, ms). */
  let lastProbe: { delay: number; resumedAt: number } | undefined;
  const probeUntilUp = async () => {
    probing = true;
    const outage = () => paused && progress.pauseReason === 'outage' && !cancelled;
    // An outage back within a minute of a probe's resume (the probe's endpoint answers, the scrapes do
    // not) goes on with the backoff instead of probing every 5 s again.
    let delay =
      lastProbe && Date.now() - lastProbe.resumedAt < 60_000
        ? Math.min(lastProbe.delay * 2, PROBE_MAX_MS)
        : PROBE_FIRST_MS;
    try {
      for (; outage(); delay = Math.min(delay * 2, PROBE_MAX_MS)) {
        if (await condition(() => !outage(), delay)) break; // resumed by an operator meanwhile
        const up = await proxyActivities<ScrapeActivities>({
          ...probeOptions,
          priority,
          activityId: `probe-${++probes}`,
        })
          .probeApi({ account: options.account })
          .catch(() => false);
        if (up && outage()) {
          lastProbe = { delay, resumedAt: Date.now() };
          await resume();
        }
      }
    } finally {
      probing = false;
    }
  };

  /** Adds a page's totals (or, with `asPage` false, those of lines no page ran). */
  const fold = (
    summary: Omit<PageSummary, 'page' | 'rateLimited' | 'continuedAsNew'> & { rateLimited?: number },
    asPage = true,
  ) => {
    for (const status of ['succeeded', 'failed', 'dead_lettered'] as const)
      progress.counts[status] += summary.counts[status];
    progress.credits += summary.credits;
    for (const [method, credits] of Object.entries(summary.creditsByMethod))
      progress.creditsByMethod[method] = (progress.creditsByMethod[method] ?? 0) + credits;
    progress.rateLimited += summary.rateLimited ?? 0;
    if (summary.lastBalance !== undefined) progress.lastBalance = summary.lastBalance;
    duplicates.waiting += summary.duplicates;
    if (asPage) pages.done += 1;
  };

  const free = () => options.concurrency - [...running.values()].reduce((a, b) => a + b, 0);
  const canStartPage = () =>
    !paused && !cancelled && nextPage < pageCount && running.size < pagesAtOnce && free() > 0;

  const startPage = async (page: number) => {
    const offset = page * options.pageSize;
    const size = Math.min(options.pageSize, total - offset);
    // Shares the free concurrency among the pages that start now: the sum stays the batch's.
    const starting = Math.min(pagesAtOnce - running.size, pageCount - page);
    const window = Math.ceil(free() / starting);
    running.set(page, window);
    const left = allowance();
    const child = await pagesScope.run(() =>
      startChild(pageWorkflow, {
        workflowId: pageWorkflowId(batchId, page),
        taskQueue: TASK_QUEUES.workflows,
        args: [
          {
            batchId,
            options,
            page,
            offset,
            size,
            window,
            ...(left !== undefined ? { allowance: left } : {}),
          },
        ],
        // A batch that is terminated leaves no page running: each records its URLs as cancelled.
        parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
        priority,
        typedSearchAttributes: [{ key: BatchIdAttr, value: batchId }],
      }),
    );
    // A pause or cancel handled while the start was on its way could not reach the page yet.
    if (cancelled) await child.signal(cancelSignal).catch(() => undefined);
    else if (paused)
      await child.signal(pauseSignal, { reason: progress.pauseReason ?? 'manual' }).catch(() => undefined);
    child.result().then(
      (summary) => ended.push(summary),
      (err: unknown) => silent.push({ page, detail: rootCause(err) }),
    );
  };

  /** Once no page is left to start, the pages still running take the concurrency the others freed. */
  const widenTail = async () => {
    const spare = free();
    if (nextPage < pageCount || running.size === 0 || spare <= 0) return;
    const each = Math.floor(spare / running.size);
    let extra = spare - each * running.size;
    for (const [page, window] of running) {
      const grown = window + each + (extra-- > 0 ? 1 : 0);
      running.set(page, grown);
      await pageHandle(page)
        .signal(pageWindowSignal, { window: grown })
        .catch(() => undefined);
    }
  };

  const ranges = (from: number, to: number) => ({ batchId, options, from, to });

  try {
    for (;;) {
      await condition(
        () =>
          cancelled ||
          ended.length > 0 ||
          silent.length > 0 ||
          accountPause !== undefined ||
          (paused && progress.pauseReason === 'outage' && !probing) ||
          (nextPage >= pageCount && running.size === 0) ||
          (workflowInfo().continueAsNewSuggested && running.size === 0) ||
          (canStartPage() && !workflowInfo().continueAsNewSuggested),
      );
      if (ended.length > 0 || silent.length > 0) {
        for (const summary of ended.splice(0)) {
          running.delete(summary.page);
          fold(summary);
        }
        for (const { page, detail } of silent.splice(0)) {
          // Its URLs without a record fail as `page_ended`; its counts are the store's.
          const from = page * options.pageSize;
          const to = Math.min(from + options.pageSize, total);
          const records = await longControl.recordMissing({
            ...ranges(from, to),
            reason: 'page_ended',
            detail: `page workflow ${pageWorkflowId(batchId, page)} ended without reporting: ${detail}`,
          });
          running.delete(page);
          fold(records);
        }
        await widenTail();
        continue;
      }
      if (accountPause !== undefined) {
        const reason = accountPause;
        accountPause = undefined;
        await control.pauseAccountBatches({ account: options.account, reason, exceptBatchId: batchId });
        continue;
      }
      if (cancelled) break;
      if (paused && progress.pauseReason === 'outage' && !probing) {
        void probeUntilUp().catch(() => undefined); // only a cancel of the batch ends it early
        continue;
      }
      if (nextPage >= pageCount && running.size === 0) break;
      if (workflowInfo().continueAsNewSuggested) {
        if (running.size > 0) continue;
        await condition(allHandlersFinished);
        progress.continuedAsNew += 1;
        return await continueAsNew<typeof batchWorkflow>({
          ...input,
          carried: {
            nextPage,
            progress,
            paused,
            cancelled,
            ...(maxCredits !== undefined ? { maxCredits } : {}),
          },
        });
      }
      while (canStartPage()) await startPage(nextPage++);
    }
  } catch (err) {
    if (!isCancellation(err)) throw err;
    cancelled = true; // cancelled through Temporal (Web UI, `temporal workflow cancel`): as by signal
  }

  return await CancellationScope.nonCancellable(async () => {
    if (cancelled) {
      setState('cancelled');
      await toPages((page) => pageHandle(page).signal(cancelSignal));
      await condition(() => running.size === ended.length + silent.length);
      for (const summary of ended.splice(0)) fold(summary);
      for (const { page } of silent.splice(0)) {
        const from = page * options.pageSize;
        fold(
          await longControl.recordMissing({
            ...ranges(from, Math.min(from + options.pageSize, total)),
            reason: 'cancelled',
          }),
        );
      }
      running.clear();
      // Lines of the pages never started: `failed(cancelled)` records.
      const from = nextPage * options.pageSize;
      if (from < total)
        fold(await longControl.recordMissing({ ...ranges(from, total), reason: 'cancelled' }), false);
      nextPage = pageCount;
    }
    await recordDuplicates();
    setState(cancelled ? 'cancelled' : 'completed');
    upsertSearchAttributes(countAttributes(progress.counts));
    progress.endedAt = new Date().toISOString();
    progress.counts.in_flight = 0;
    progress.counts.pending = 0;
    await condition(allHandlersFinished);
    return { ...progress, pages: { ...pages, running: [] } };
  });

  /**
   * Writes the records of the duplicate lines (each from its first line's record, which exists once
   * every page has ended) and counts them. Only batches with duplicates run it.
   */
  async function recordDuplicates() {
    if (!duplicates.waiting) return;
    const written = await longControl.recordDuplicates({ batchId, options, end: total });
    const recorded = written.succeeded + written.failed + written.dead_lettered;
    if (recorded !== duplicates.waiting) {
      throw ApplicationFailure.nonRetryable(
        `batch ${batchId}: ${recorded} duplicate lines recorded, expected ${duplicates.waiting}`,
        'DuplicateCountMismatch',
      );
    }
    for (const status of ['succeeded', 'failed', 'dead_lettered'] as const)
      progress.counts[status] += written[status];
    duplicates.waiting = 0;
  }
}
