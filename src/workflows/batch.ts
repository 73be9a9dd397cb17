/**
 * The batch workflow (id = batch id): runs its input as page workflows `<batchId>/p<k>` of
 * `pageSize` lines, at most `pagesInFlight` at once, sharing the batch's `concurrency` among them (the
 * sum of their windows never exceeds it). A page reports by completing; one that ends without
 * reporting (terminated, failed) is reconciled from the store. The batch carries pause, resume and
 * cancel to its pages, spreads a 401/402/outage pause to the account's other batches, probes
 * OmniScrape while paused for an outage, and holds the credit cap. It continues as new between pages,
 * so what it carries is a page number and its totals.
 *
 * The workflow is its loop (`batchWorkflow`); its state and handlers are a `BatchRun`, its arithmetic
 * the concurrency shares (shares.ts) and the totals (totals.ts).
 */
import {
  ApplicationFailure,
  CancellationScope,
  ContinueAsNew,
  ParentClosePolicy,
  TemporalFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  isCancellation,
  patched,
  proxyActivities,
  setHandler,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { ControlActivities } from '../activities/control.js';
import type { BatchOptions } from '../batch/options.js';
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
import { BatchEvents, type PageEnd } from './events.js';
import { pageWorkflow } from './page.js';
import { taskPriority } from './priority.js';
import { ConcurrencyShares } from './shares.js';
import { addTotals } from './totals.js';
import {
  OPTIONS_BY_VERSION_PATCH,
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

/** A batch's state while it runs, and what changes it: its handlers, its pages' starts and ends. */
class BatchRun {
  readonly control: ReturnType<typeof proxyActivities<ControlActivities>>;
  /**
   * Activities that page through a whole range of the input (a million lines take minutes): they
   * heartbeat their offset, so a retry after a worker dies resumes where it stopped.
   */
  readonly longControl: ReturnType<typeof proxyActivities<ControlActivities>>;
  /** Every task the batch schedules (pages, control activities, probes) ranks as the batch does. */
  readonly priority: ReturnType<typeof taskPriority>;
  readonly pageCount: number;
  readonly progress: BatchProgress;
  readonly pages: NonNullable<BatchProgress['pages']>;
  readonly duplicates: NonNullable<BatchProgress['duplicates']>;
  maxCredits: number | undefined;
  // With a credit cap one page runs at a time, and its allowance is exactly what is left of the cap.
  readonly pagesAtOnce: number;
  nextPage: number;
  /** The version the options are stored under, once stored: pages send it instead of the options. */
  optionsVersion: string | undefined;
  /** Pages in flight, by number: their share of the concurrency. */
  readonly shares: ConcurrencyShares;
  /** Summaries of pages that ended, and pages that ended without one: folded in by the main loop. */
  readonly ended: PageSummary[] = [];
  readonly silent: { page: number; detail: string }[] = [];
  paused: boolean;
  cancelled: boolean;
  /** A 401/402/outage pause this batch met, to spread to the account's other batches. */
  accountPause: PauseReason | undefined;
  /** Workflow time of the last resume (ms): a page's 401/402 from before it is stale. */
  lastResumeAt: number | undefined;
  probing = false;
  /** Outage probes run so far (their activity ids). */
  probes = 0;
  /** The last wait of the probe that resumed the batch, and when it did (workflow time, ms). */
  lastProbe: { delay: number; resumedAt: number } | undefined;
  // Pages are started in a scope of their own that a Temporal cancel of the batch does not reach: the
  // batch cancels them itself, the same way whoever asked.
  readonly pagesScope = new CancellationScope({ cancellable: false });
  /** What the batch tells the outside world (batch.* events), each recorded before it moves on. */
  readonly events: BatchEvents;

  constructor(readonly input: BatchWorkflowInput) {
    const { options, total, carried } = input;
    this.priority = taskPriority(options);
    this.control = proxyActivities<ControlActivities>({ ...controlOptions, priority: this.priority });
    this.longControl = proxyActivities<ControlActivities>({
      ...controlOptions,
      priority: this.priority,
      startToCloseTimeout: '2 hours',
      heartbeatTimeout: '1 minute',
    });
    this.pageCount = Math.ceil(total / options.pageSize);
    this.progress = carried?.progress ?? initialProgress(input, this.pageCount);
    this.pages = this.progress.pages ??= { total: this.pageCount, done: 0, running: [] };
    this.duplicates = this.progress.duplicates ??= { lines: input.duplicates ?? 0, waiting: 0 };
    this.maxCredits = carried?.maxCredits ?? options.maxCredits;
    this.pagesAtOnce = this.maxCredits !== undefined ? 1 : options.pagesInFlight;
    this.nextPage = carried?.nextPage ?? 0;
    this.optionsVersion = carried?.optionsVersion;
    this.shares = new ConcurrencyShares(options.concurrency);
    this.paused = carried?.paused ?? false;
    this.cancelled = carried?.cancelled ?? false;
    this.events = new BatchEvents(
      { batchId: input.batchId, account: options.account, total },
      { pauses: carried?.pauses ?? 0, priority: this.priority },
    );
  }

  get batchId(): string {
    return this.input.batchId;
  }

  get options(): BatchOptions {
    return this.input.options;
  }

  setState(state: BatchState, pauseReason?: PauseReason): void {
    this.progress.state = state;
    if (pauseReason) this.progress.pauseReason = pauseReason;
    else delete this.progress.pauseReason;
    upsertSearchAttributes([
      { key: BatchStatusAttr, value: state },
      { key: PauseReasonAttr, value: pauseReason ?? null },
    ]);
  }

  async toPages(send: (page: number) => Promise<void>): Promise<void> {
    await Promise.all(this.shares.pages().map((page) => send(page).catch(() => undefined)));
  }

  pageHandle(page: number) {
    return getExternalWorkflowHandle(pageWorkflowId(this.batchId, page));
  }

  /** What is left of the credit cap, when there is one. */
  allowance(): number | undefined {
    return this.maxCredits === undefined ? undefined : Math.max(0, this.maxCredits - this.progress.credits);
  }

  allowanceArg(): { allowance: number } | undefined {
    const left = this.allowance();
    return left !== undefined ? { allowance: left } : undefined;
  }

  async pause(reason: PauseReason, spreadToAccount: boolean): Promise<void> {
    if (this.cancelled || this.paused) return; // the first reason sticks: a manual pause stays manual
    this.paused = true;
    this.setState('paused', reason);
    if (spreadToAccount) this.accountPause = reason;
    // Queued now, before anything is awaited: a resume handled meanwhile is recorded after it.
    const recorded = this.events.paused(this.progress, reason);
    await this.toPages((page) => this.pageHandle(page).signal(pauseSignal, { reason }));
    await recorded;
  }

  async resume(): Promise<void> {
    if (this.cancelled) return;
    // Remembered even when not paused: a page's 401/402 report may still be on its way.
    this.lastResumeAt = Date.now();
    const pausedFor = this.paused ? this.progress.pauseReason : undefined;
    this.paused = false;
    this.setState('running');
    const recorded = pausedFor ? this.events.resumed(this.progress, pausedFor) : undefined;
    const left = this.allowance();
    await this.toPages((page) =>
      this.pageHandle(page).signal(resumeSignal, left !== undefined ? { allowance: left } : undefined),
    );
    await recorded;
  }

  handleSignals(): void {
    const { progress, pages, duplicates } = this;
    setHandler(progressQuery, () => ({
      ...progress,
      counts: { ...progress.counts },
      creditsByMethod: { ...progress.creditsByMethod },
      pages: { ...pages, running: this.shares.pages().map((page) => pageWorkflowId(this.batchId, page)) },
      duplicates: { ...duplicates },
      window: this.shares.used,
      ...(this.maxCredits !== undefined ? { maxCredits: this.maxCredits } : {}),
    }));
    setHandler(pauseSignal, (arg) => this.pause(arg?.reason ?? 'manual', false));
    setHandler(resumeSignal, async (arg) => {
      if (arg?.maxCredits !== undefined) this.maxCredits = progress.maxCredits = arg.maxCredits;
      await this.resume();
    });
    setHandler(cancelSignal, () => {
      this.cancelled = true;
    });
    setHandler(pagePausedSignal, async ({ page, reason, at }) => {
      if (!this.shares.has(page)) return;
      if (!this.paused && at !== undefined && this.lastResumeAt !== undefined && at < this.lastResumeAt) {
        // The 401/402 came before the last resume (the resume overtook its report): the operator has
        // acted since, so the page goes on.
        await this.pageHandle(page).signal(resumeSignal, this.allowanceArg());
        return;
      }
      await this.pause(reason, reason === 'auth' || reason === 'balance' || reason === 'outage');
    });
  }

  outage(): boolean {
    return this.paused && this.progress.pauseReason === 'outage' && !this.cancelled;
  }

  /** While paused for an outage: probes OmniScrape with backoff and resumes when it answers. */
  async probeUntilUp(): Promise<void> {
    this.probing = true;
    const { lastProbe } = this;
    // An outage back within a minute of a probe's resume (the probe's endpoint answers, the scrapes do
    // not) goes on with the backoff instead of probing every 5 s again.
    let delay =
      lastProbe && Date.now() - lastProbe.resumedAt < 60_000
        ? Math.min(lastProbe.delay * 2, PROBE_MAX_MS)
        : PROBE_FIRST_MS;
    try {
      for (; this.outage(); delay = Math.min(delay * 2, PROBE_MAX_MS)) {
        if (await condition(() => !this.outage(), delay)) break; // resumed by an operator meanwhile
        const up = await proxyActivities<ScrapeActivities>({
          ...probeOptions,
          priority: this.priority,
          activityId: `probe-${++this.probes}`,
        })
          .probeApi({ account: this.options.account })
          .catch(() => false);
        if (up && this.outage()) {
          this.lastProbe = { delay, resumedAt: Date.now() };
          await this.resume();
        }
      }
    } finally {
      this.probing = false;
    }
  }

  /** Adds a page's totals (or, with `asPage` false, those of lines no page ran). */
  fold(
    summary: Pick<PageSummary, 'counts' | 'credits' | 'creditsByMethod' | 'duplicates' | 'lastBalance'> & {
      rateLimited?: number;
    },
    asPage = true,
  ): void {
    addTotals(this.progress, summary);
    this.duplicates.waiting += summary.duplicates;
    if (asPage) this.pages.done += 1;
  }

  canStartPage(): boolean {
    return (
      !this.paused &&
      !this.cancelled &&
      this.nextPage < this.pageCount &&
      this.shares.running < this.pagesAtOnce &&
      this.shares.free > 0
    );
  }

  async startPage(page: number): Promise<void> {
    const { batchId, options, total } = this.input;
    // Stored before the first page this build starts (pages that began earlier keep the options), in
    // the pages' scope: a cancel of the batch arriving meanwhile must not leave this page half-started,
    // its lines neither in a page nor in the range the cancel records.
    if (this.optionsVersion === undefined && patched(OPTIONS_BY_VERSION_PATCH))
      this.optionsVersion = await this.pagesScope.run(() => this.control.storeOptions({ batchId, options }));
    const offset = page * options.pageSize;
    const size = Math.min(options.pageSize, total - offset);
    // Shares the free concurrency among the pages that start now: the sum stays the batch's.
    const window = this.shares.start(
      page,
      Math.min(this.pagesAtOnce - this.shares.running, this.pageCount - page),
    );
    const left = this.allowance();
    const { optionsVersion } = this;
    const child = await this.pagesScope.run(() =>
      startChild(pageWorkflow, {
        workflowId: pageWorkflowId(batchId, page),
        taskQueue: TASK_QUEUES.workflows,
        args: [
          {
            batchId,
            options,
            ...(optionsVersion !== undefined ? { optionsVersion } : {}),
            page,
            offset,
            size,
            window,
            ...(left !== undefined ? { allowance: left } : {}),
          },
        ],
        // A batch that is terminated leaves no page running: each records its URLs as cancelled.
        parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
        priority: this.priority,
        typedSearchAttributes: [{ key: BatchIdAttr, value: batchId }],
      }),
    );
    // A pause or cancel handled while the start was on its way could not reach the page yet.
    if (this.cancelled) await child.signal(cancelSignal).catch(() => undefined);
    else if (this.paused)
      await child
        .signal(pauseSignal, { reason: this.progress.pauseReason ?? 'manual' })
        .catch(() => undefined);
    child.result().then(
      (summary) => this.ended.push(summary),
      (err: unknown) => this.silent.push({ page, detail: rootCause(err) }),
    );
  }

  /** Once no page is left to start, the pages still running take the concurrency the others freed. */
  async widenTail(): Promise<void> {
    if (this.nextPage < this.pageCount) return;
    for (const { page, window } of this.shares.widen())
      await this.pageHandle(page)
        .signal(pageWindowSignal, { window })
        .catch(() => undefined);
  }

  /** Input lines [from, to) of the batch, as the activities that record a range take them. */
  range(from: number, to: number): { batchId: string; options: BatchOptions; from: number; to: number } {
    return { batchId: this.batchId, options: this.options, from, to };
  }

  /** The input lines of page `page`. */
  pageRange(page: number): ReturnType<BatchRun['range']> {
    const from = page * this.options.pageSize;
    return this.range(from, Math.min(from + this.options.pageSize, this.input.total));
  }

  /** Folds the pages that ended: a page that ended without reporting is reconciled from the store. */
  async foldEnded(): Promise<void> {
    const ends: PageEnd[] = [];
    for (const summary of this.ended.splice(0)) {
      this.shares.end(summary.page);
      this.fold(summary);
      ends.push(this.pageEnd(summary.page, summary));
    }
    for (const { page, detail } of this.silent.splice(0)) {
      // Its URLs without a record fail as `page_ended`; its counts are the store's.
      const records = await this.longControl.recordMissing({
        ...this.pageRange(page),
        reason: 'page_ended',
        detail: `page workflow ${pageWorkflowId(this.batchId, page)} ended without reporting: ${detail}`,
      });
      this.shares.end(page);
      this.fold(records);
      ends.push(this.pageEnd(page, records));
    }
    await this.events.pagesCompleted(ends);
    await this.widenTail();
  }

  /** A page's end as its event tells it: its lines and its totals. */
  pageEnd(page: number, { counts, credits }: Pick<PageSummary, 'counts' | 'credits'>): PageEnd {
    const { from, to } = this.pageRange(page);
    return { page, from, to, counts, credits };
  }

  /** Something for the loop to do. */
  ready(): boolean {
    const { continueAsNewSuggested } = workflowInfo();
    return (
      this.cancelled ||
      this.ended.length > 0 ||
      this.silent.length > 0 ||
      this.accountPause !== undefined ||
      (this.paused && this.progress.pauseReason === 'outage' && !this.probing) ||
      (this.nextPage >= this.pageCount && this.shares.running === 0) ||
      (continueAsNewSuggested && this.shares.running === 0) ||
      (this.canStartPage() && !continueAsNewSuggested)
    );
  }

  /** The input of the batch's next run: no page is in flight, so it carries a page number and totals. */
  next(): BatchWorkflowInput {
    const { maxCredits, optionsVersion } = this;
    this.progress.continuedAsNew += 1;
    return {
      ...this.input,
      carried: {
        nextPage: this.nextPage,
        progress: this.progress,
        paused: this.paused,
        cancelled: this.cancelled,
        pauses: this.events.pauses,
        ...(maxCredits !== undefined ? { maxCredits } : {}),
        ...(optionsVersion !== undefined ? { optionsVersion } : {}),
      },
    };
  }

  /** Cancelled: the pages are cancelled and awaited, and every line without a record fails as cancelled. */
  async cancelAll(): Promise<void> {
    const { total, options } = this.input;
    this.setState('cancelled');
    await this.toPages((page) => this.pageHandle(page).signal(cancelSignal));
    await condition(() => this.shares.running === this.ended.length + this.silent.length);
    const ends: PageEnd[] = [];
    for (const summary of this.ended.splice(0)) {
      this.fold(summary);
      ends.push(this.pageEnd(summary.page, summary));
    }
    for (const { page } of this.silent.splice(0)) {
      const records = await this.longControl.recordMissing({ ...this.pageRange(page), reason: 'cancelled' });
      this.fold(records);
      ends.push(this.pageEnd(page, records));
    }
    await this.events.pagesCompleted(ends);
    this.shares.clear();
    // Lines of the pages never started: `failed(cancelled)` records.
    const from = this.nextPage * options.pageSize;
    if (from < total)
      this.fold(
        await this.longControl.recordMissing({ ...this.range(from, total), reason: 'cancelled' }),
        false,
      );
    this.nextPage = this.pageCount;
  }

  /**
   * Writes the records of the duplicate lines (each from its first line's record, which exists once
   * every page has ended) and counts them. Only batches with duplicates run it.
   */
  async recordDuplicates(): Promise<void> {
    const { batchId, options, total } = this.input;
    if (!this.duplicates.waiting) return;
    const written = await this.longControl.recordDuplicates({ batchId, options, end: total });
    const recorded = written.succeeded + written.failed + written.dead_lettered;
    if (recorded !== this.duplicates.waiting) {
      throw ApplicationFailure.nonRetryable(
        `batch ${batchId}: ${recorded} duplicate lines recorded, expected ${this.duplicates.waiting}`,
        'DuplicateCountMismatch',
      );
    }
    addTotals(this.progress, { counts: written, credits: 0, creditsByMethod: {} });
    this.duplicates.waiting = 0;
  }

  /** The batch's result, once it ended (completed or cancelled). */
  async finish(): Promise<BatchProgress> {
    if (this.cancelled) await this.cancelAll();
    await this.recordDuplicates();
    const { progress } = this;
    this.setState(this.cancelled ? 'cancelled' : 'completed');
    upsertSearchAttributes(countAttributes(progress.counts));
    progress.endedAt = new Date().toISOString();
    progress.counts.in_flight = 0;
    progress.counts.pending = 0;
    await this.events.ended(progress);
    await condition(allHandlersFinished);
    return { ...progress, pages: { ...this.pages, running: [] } };
  }

  /**
   * The batch fails with `err`: records `batch.failed` first, when the failure ends the workflow (a
   * TemporalFailure; anything else is a workflow task retried, not an end). Never throws: the batch
   * fails with its own error, not one of this record.
   */
  async reportFailure(err: unknown): Promise<void> {
    if (!(err instanceof TemporalFailure) || isCancellation(err)) return;
    await CancellationScope.nonCancellable(() => this.events.failed(this.progress, rootCause(err))).catch(
      () => undefined,
    );
  }
}

export async function batchWorkflow(input: BatchWorkflowInput): Promise<BatchProgress> {
  const run = new BatchRun(input);
  try {
    return await runBatch(run);
  } catch (err) {
    if (!(err instanceof ContinueAsNew)) await run.reportFailure(err);
    throw err;
  }
}

async function runBatch(run: BatchRun): Promise<BatchProgress> {
  const { input } = run;
  // Queued before the handlers are set: a pause that was waiting for them is recorded after it.
  let started: Promise<void> | undefined;
  if (!input.carried) {
    upsertSearchAttributes([
      { key: BatchIdAttr, value: input.batchId },
      { key: AccountAttr, value: input.options.account },
    ]);
    run.setState('running');
    started = run.events.started(run.progress, run.pageCount);
  }
  run.handleSignals();
  try {
    await started;
    for (;;) {
      await condition(() => run.ready());
      if (run.ended.length > 0 || run.silent.length > 0) {
        await run.foldEnded();
        continue;
      }
      if (run.accountPause !== undefined) {
        const reason = run.accountPause;
        run.accountPause = undefined;
        await run.control.pauseAccountBatches({
          account: input.options.account,
          reason,
          exceptBatchId: input.batchId,
        });
        continue;
      }
      if (run.cancelled) break;
      if (run.paused && run.progress.pauseReason === 'outage' && !run.probing) {
        void run.probeUntilUp().catch(() => undefined); // only a cancel of the batch ends it early
        continue;
      }
      if (run.nextPage >= run.pageCount && run.shares.running === 0) break;
      if (workflowInfo().continueAsNewSuggested) {
        if (run.shares.running > 0) continue;
        await condition(allHandlersFinished);
        return await continueAsNew<typeof batchWorkflow>(run.next());
      }
      while (run.canStartPage()) await run.startPage(run.nextPage++);
    }
  } catch (err) {
    if (!isCancellation(err)) throw err;
    run.cancelled = true; // cancelled through Temporal (Web UI, `temporal workflow cancel`): as by signal
  }
  return await CancellationScope.nonCancellable(() => run.finish());
}
