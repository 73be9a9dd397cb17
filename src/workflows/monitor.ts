/**
 * A monitor's run (the action of its Temporal Schedule): names its batch `<name>@<scheduled time>`,
 * has its input prepared (an activity: the stored URL list, or the sitemap read afresh — on the scrape
 * queue, where the OmniScrape keys and the SSRF guard are), runs it as an
 * ordinary batch workflow (a child: every batch rule applies to it), then has its changes tracked and
 * the run finished by activities that read and write the store. Nothing of the run's data passes
 * through this workflow but counts.
 *
 * The schedule appends a time to this workflow's id, so the batch id is derived here from the
 * scheduled time Temporal gives the run (`TemporalScheduledStartTime`, also on a trigger or backfill).
 */
import {
  ApplicationFailure,
  ParentClosePolicy,
  executeChild,
  patched,
  proxyActivities,
  workflowInfo,
} from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { MonitorActivities, MonitorSitemapActivities } from '../activities/monitors.js';
import { AccountAttr, BatchIdAttr, BatchStatusAttr, MonitorAttr } from '../temporal/search-attributes.js';
import { monitorRunId, type ChangeStatus } from '../monitors/types.js';
import { batchWorkflow } from './batch.js';
import { taskPriority } from './priority.js';
import { TASK_QUEUES, type BatchProgress } from './types.js';

/** Set by Temporal on every workflow a schedule starts: the time the run was scheduled for. */
const ScheduledStartAttr = defineSearchAttributeKey(
  'TemporalScheduledStartTime',
  SearchAttributeType.DATETIME,
);

const control = proxyActivities<MonitorActivities>({
  taskQueue: TASK_QUEUES.workflows,
  startToCloseTimeout: '10 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});
/**
 * Change tracking of a 100,000-URL run takes a while; it heartbeats as it goes, so a killed worker's
 * try is retried elsewhere within the heartbeat timeout.
 */
const tracking = proxyActivities<MonitorActivities>({
  taskQueue: TASK_QUEUES.workflows,
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '10 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});

/**
 * A sitemap monitor's input is read on the scrape queue: OmniScrape reads need a key, which the
 * workflows role does not hold. It heartbeats per chunk of URLs; each file has its own deadline.
 */
const sitemapPrep = proxyActivities<MonitorSitemapActivities>({
  taskQueue: TASK_QUEUES.scrape,
  startToCloseTimeout: '1 hour',
  heartbeatTimeout: '5 minutes',
  // A sitemap still unreachable after these tries fails the run visibly rather than holding it (and,
  // overlap SKIP, every later run) for ever.
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 5 },
});

/** Patch: a sitemap monitor's input is prepared on the scrape queue (`readSitemap`). */
export const SITEMAP_ON_SCRAPE_QUEUE = 'monitor-sitemap-read-on-scrape-queue';

export interface MonitorRunInput {
  name: string;
}

export interface MonitorRunResult {
  batchId: string;
  /** completed | cancelled | failed (the batch), empty (nothing to scrape), deleted (no monitor). */
  batchState: string;
  counts?: Record<ChangeStatus, number>;
  credits?: number;
  /** The schedule was paused for the month budget after this run. */
  paused?: boolean;
}

export async function monitorRunWorkflow(input: MonitorRunInput): Promise<MonitorRunResult> {
  const info = workflowInfo();
  const scheduled = info.typedSearchAttributes.get(ScheduledStartAttr) ?? info.startTime;
  // Whole seconds: the batch id holds the time to the second.
  const at = new Date(Math.floor(scheduled.getTime() / 1000) * 1000);
  const batchId = monitorRunId(input.name, at);
  const run = { name: input.name, batchId, scheduledAt: at.toISOString() };
  let prepared = await control.prepareMonitorRun(run);
  // Only a prepare of this version answers readSitemap, so older histories never reach this branch;
  // the marker says which runs took it.
  if ('readSitemap' in prepared) {
    patched(SITEMAP_ON_SCRAPE_QUEUE);
    prepared = await sitemapPrep.prepareMonitorSitemapRun(run);
  }
  if ('readSitemap' in prepared)
    throw ApplicationFailure.nonRetryable(
      'the sitemap worker did not read the sitemap',
      'MonitorSitemapUnread',
    );
  if ('skip' in prepared) return { batchId, batchState: prepared.skip };
  let batchState = 'empty';
  if (prepared.total > 0) {
    try {
      const final: BatchProgress = await executeChild(batchWorkflow, {
        workflowId: batchId,
        taskQueue: TASK_QUEUES.workflows,
        args: [
          {
            batchId,
            options: prepared.options,
            total: prepared.total,
            ...(prepared.duplicates ? { duplicates: prepared.duplicates } : {}),
          },
        ],
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        // A run that is terminated leaves no batch running: it is cancelled, and every URL gets a record.
        parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
        priority: taskPriority(prepared.options),
        typedSearchAttributes: [
          { key: BatchIdAttr, value: batchId },
          { key: BatchStatusAttr, value: 'running' },
          { key: AccountAttr, value: prepared.account },
          { key: MonitorAttr, value: input.name },
        ],
      });
      batchState = final.state;
    } catch (err) {
      if ((err as Error).name === 'WorkflowExecutionAlreadyStartedError')
        throw ApplicationFailure.nonRetryable(
          `a batch ${batchId} exists already: two runs of ${input.name} were scheduled in the same second`,
          'MonitorRunIdTaken',
        );
      // The batch failed or was terminated: its URLs without a good record are not_observed.
      batchState = 'failed';
    }
  }
  const tracked = await tracking.trackMonitorChanges(run);
  const { paused } = await control.finishMonitorRun({ ...run, ...tracked, batchState });
  return {
    batchId,
    batchState,
    counts: tracked.counts,
    credits: tracked.credits,
    ...(paused ? { paused } : {}),
  };
}
