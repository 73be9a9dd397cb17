/**
 * What the batch workflow tells the outside world (src/events): it builds each event's draft from its
 * state and records it through the `recordEvents` activity, awaited before the batch moves on. Drafts
 * go out one call after the other, in the order the workflow made them, so the sink numbers a batch's
 * events in the order they happened even when a pause and a resume are handled at once.
 */
import type { Priority } from '@temporalio/common';
import { CancellationScope, patched, proxyActivities } from '@temporalio/workflow';
import type { EventActivities } from '../activities/events.js';
import { eventIds } from '../events/ids.js';
import type { EventDraft, EventType } from '../events/types.js';
import { TASK_QUEUES, type BatchProgress, type PageSummary, type PauseReason } from './types.js';

/** The patch that makes the batch record its events (histories from before it replay without them). */
export const EVENTS_PATCH = 'events';

/** What a page ended with, as its event tells it. */
export type PageEnd = Pick<PageSummary, 'page' | 'counts' | 'credits'> & { from: number; to: number };

export class BatchEvents {
  /** Off for a batch whose history began before the events patch. */
  readonly enabled: boolean;
  /** Pauses so far (carried across continue-as-new): the `n` of `<batchId>.paused.<n>`. */
  pauses: number;
  private chain: Promise<void> = Promise.resolve();
  private readonly activities: EventActivities;

  constructor(
    private readonly batch: { batchId: string; account: string; total: number },
    { pauses, priority }: { pauses: number; priority: Priority },
  ) {
    this.enabled = patched(EVENTS_PATCH);
    this.pauses = pauses;
    this.activities = proxyActivities<EventActivities>({
      taskQueue: TASK_QUEUES.workflows,
      priority,
      startToCloseTimeout: '1 minute',
      // No attempt limit: a store that is down delays the batch until it is back, and loses nothing.
      retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
    });
  }

  /** Records the drafts after every earlier call; resolves once they are durable. */
  private record(drafts: EventDraft[]): Promise<void> {
    if (!this.enabled || drafts.length === 0) return Promise.resolve();
    // Out of reach of a cancel through Temporal: the batch then ends as cancelled, and what it was
    // recording still gets recorded.
    const recorded = this.chain.then(() =>
      CancellationScope.nonCancellable(() => this.activities.recordEvents(drafts)),
    );
    this.chain = recorded.catch(() => undefined);
    return recorded;
  }

  private draft(type: EventType, id: string, data: Record<string, unknown>): EventDraft {
    const { batchId, account } = this.batch;
    return { id, type, account, subject: batchId, data: { batchId, account, ...data } };
  }

  /** The fields every batch-level event carries (the activity adds the links). */
  private state(progress: BatchProgress): Record<string, unknown> {
    const { succeeded, failed, dead_lettered } = progress.counts;
    return {
      state: progress.state,
      total: this.batch.total,
      counts: { succeeded, failed, dead_lettered },
      credits: progress.credits,
    };
  }

  started(progress: BatchProgress, pages: number): Promise<void> {
    const { batchId } = this.batch;
    return this.record([
      this.draft('batch.started', eventIds.started(batchId), { ...this.state(progress), pages }),
    ]);
  }

  /** The batch's next pause; called as the pause happens, before anything is awaited. */
  paused(progress: BatchProgress, reason: PauseReason): Promise<void> {
    if (!this.enabled) return Promise.resolve();
    this.pauses += 1;
    const id = eventIds.paused(this.batch.batchId, this.pauses);
    return this.record([this.draft('batch.paused', id, { ...this.state(progress), reason })]);
  }

  /** The end of the current pause, which was for `reason`. */
  resumed(progress: BatchProgress, reason: PauseReason): Promise<void> {
    const id = eventIds.resumed(this.batch.batchId, this.pauses);
    return this.record([this.draft('batch.resumed', id, { ...this.state(progress), reason })]);
  }

  pagesCompleted(pages: PageEnd[]): Promise<void> {
    const { batchId } = this.batch;
    return this.record(
      pages.map(({ page, counts, credits, from, to }) =>
        this.draft('batch.page.completed', eventIds.pageCompleted(batchId, page), {
          page,
          from,
          to,
          counts: { succeeded: counts.succeeded, failed: counts.failed, dead_lettered: counts.dead_lettered },
          credits,
        }),
      ),
    );
  }

  /** The batch ended: completed or cancelled. */
  ended(progress: BatchProgress): Promise<void> {
    const { batchId } = this.batch;
    const cancelled = progress.state === 'cancelled';
    return this.record([
      cancelled
        ? this.draft('batch.cancelled', eventIds.cancelled(batchId), this.state(progress))
        : this.draft('batch.completed', eventIds.completed(batchId), this.state(progress)),
    ]);
  }

  failed(progress: BatchProgress, error: string): Promise<void> {
    const { batchId } = this.batch;
    return this.record([
      this.draft('batch.failed', eventIds.failed(batchId), {
        ...this.state(progress),
        state: 'failed',
        error,
      }),
    ]);
  }
}
