/**
 * A batch's progress as status, watch, wait, the progress bar and the HTTP service show it: the live
 * query while its workflow runs, the workflow's result once it completed, and the workflow's real end
 * once it closed any other way (failed, terminated, timed out, cancelled through Temporal), with the
 * reason read from the close event of its history.
 */
import type { Client, WorkflowExecutionDescription, WorkflowExecutionStatusName } from '@temporalio/client';
import { redactSecrets } from '../logging/secrets.js';
import type { ResultStore } from '../store/types.js';
import { pageProgressQuery, progressQuery } from '../workflows/definitions.js';
import type { BatchProgress, BatchState, BatchWorkflowInput, PauseReason } from '../workflows/types.js';
import { DEFAULT_PRIORITY } from '../batch/defaults.js';
import { BatchStatusAttr, PauseReasonAttr } from '../temporal/search-attributes.js';
import { addOutcome, addTotals } from '../workflows/totals.js';
import { withBatch } from './batches.js';
import { closeEvent, failureText, startInput } from './history.js';
import {
  bounded,
  missingWorker,
  NO_WORKER_QUERY_MS,
  pagesWaitingFor,
  QUERY_TIMEOUT_MS,
  unansweredQuery,
} from './pollers.js';

/** The state of a batch whose workflow closed without completing, by the workflow's status. */
const CLOSED_STATES: Partial<Record<WorkflowExecutionStatusName, BatchState>> = {
  FAILED: 'failed',
  TERMINATED: 'terminated',
  TIMED_OUT: 'timed_out',
  CANCELLED: 'cancelled',
};

/**
 * `failed`, `terminated`, `timed_out` or `cancelled` when a workflow with this status closed without
 * completing (its own last state is then stale); undefined while it runs or once it completed.
 */
export function closedStateOf(status: WorkflowExecutionStatusName): BatchState | undefined {
  return CLOSED_STATES[status];
}

/** True when the batch's workflow did not end by itself: `progress.failure` says why. */
export function endedAbnormally(progress: BatchProgress): boolean {
  return progress.failure !== undefined;
}

/** Why the workflow closed, from its close event (decoded through the client's codecs). */
async function closeReason(client: Client, description: WorkflowExecutionDescription): Promise<string> {
  const event = await closeEvent(client, description);
  const failed = event?.workflowExecutionFailedEventAttributes;
  if (failed) return (await failureText(client, failed.failure)) ?? 'the workflow failed';
  const terminated = event?.workflowExecutionTerminatedEventAttributes;
  if (terminated)
    return `${terminated.reason || 'no reason given'}${terminated.identity ? ` (by ${terminated.identity})` : ''}`;
  if (event?.workflowExecutionTimedOutEventAttributes)
    return 'timed out: the workflow ran past its execution or run timeout';
  if (event?.workflowExecutionCanceledEventAttributes)
    return 'the workflow was cancelled through Temporal (Web UI or `temporal workflow cancel`)';
  return `the workflow closed as ${description.status.name.toLowerCase()}`;
}

/**
 * The progress of a batch whose workflow closed without completing, or that no worker can answer for.
 * The counts come from the store's records, not from the progress query: a query on a closed workflow
 * needs a worker to replay its history and hangs while none runs, and the records are the truth anyway
 * (the pages of a terminated batch are cancelled by Temporal and still write theirs). `total` and what
 * the records cannot tell (429s seen, continue-as-new count) come from the start event of the
 * workflow's last run; `failure` from its close event, once closed.
 */
async function recordedProgress(
  client: Client,
  store: ResultStore,
  description: WorkflowExecutionDescription,
  state: BatchState,
): Promise<BatchProgress> {
  const [input, failure] = await Promise.all([
    startInput<BatchWorkflowInput>(client, description),
    closedStateOf(description.status.name) ? closeReason(client, description) : undefined,
  ]);
  if (!input) throw new Error(`the workflow ${description.workflowId} started without an input`);
  const carried = input.carried?.progress;
  const counts = { succeeded: 0, failed: 0, dead_lettered: 0, in_flight: 0, pending: 0 };
  const creditsByMethod: Record<string, number> = {};
  const creditsByTag: Record<string, number> = {};
  let lastBalance: { value: number; at: string } | undefined;
  const totals = { counts, credits: 0, creditsByMethod };
  for await (const record of store.listResults(description.workflowId)) {
    addOutcome(totals, record);
    for (const tag of record.charged ? (record.tags ?? []) : [])
      creditsByTag[tag] = (creditsByTag[tag] ?? 0) + record.charged;
    if (record.balanceAfter !== undefined && (!lastBalance || record.finishedAt >= lastBalance.at))
      lastBalance = { value: record.balanceAfter, at: record.finishedAt };
  }
  counts.pending = Math.max(0, input.total - counts.succeeded - counts.failed - counts.dead_lettered);
  return {
    batchId: description.workflowId,
    state,
    total: input.total,
    counts,
    credits: totals.credits,
    creditsByMethod,
    creditsByTag,
    ...(lastBalance ? { lastBalance: lastBalance.value } : {}),
    // A closed batch starts nothing more.
    window: 0,
    concurrency: input.options.concurrency,
    rateLimited: carried?.rateLimited ?? 0,
    waiting: 0,
    startedAt: carried?.startedAt ?? description.startTime.toISOString(),
    ...(description.closeTime ? { endedAt: description.closeTime.toISOString() } : {}),
    continuedAsNew: carried?.continuedAsNew ?? 0,
    ...(failure !== undefined ? { failure: redactSecrets(failure) } : {}),
  };
}

/**
 * The batch's progress: the live query while its workflow runs, its result once completed, and once
 * it closed any other way its real end (`failed`, `terminated`, `timed_out`, `cancelled` with
 * `failure`), counted from `store` (the store the batch's records go to).
 */
export function getProgress(client: Client, store: ResultStore, batchId: string): Promise<BatchProgress> {
  return withBatch(batchId, async () => {
    const handle = client.workflow.getHandle(batchId);
    const description = await handle.describe();
    const closed = closedStateOf(description.status.name);
    const progress =
      description.status.name === 'COMPLETED'
        ? ((await handle.result()) as BatchProgress)
        : closed
          ? await recordedProgress(client, store, description, closed)
          : await runningProgress(client, store, description);
    // What the server holds, not what the batch was asked for: 0 or unset there means Temporal's default.
    const priority = description.priority?.priorityKey;
    return { ...progress, priority: priority || DEFAULT_PRIORITY };
  });
}

/**
 * A running batch's progress, and the worker roles it waits for (`waitingFor`): the live query, bounded
 * by QUERY_TIMEOUT_MS, or by NO_WORKER_QUERY_MS while no `workflows` worker polls (a query waits for
 * one, then fails; a worker that has just started answers within it). Without an answer, the counts
 * come from the store's records and the state from the batch's search attributes.
 */
async function runningProgress(
  client: Client,
  store: ResultStore,
  description: WorkflowExecutionDescription,
): Promise<BatchProgress> {
  const batchId = description.workflowId;
  const noWorkflowsWorker = await missingWorker(client, 'workflows');
  const live = await bounded(client, noWorkflowsWorker ? NO_WORKER_QUERY_MS : QUERY_TIMEOUT_MS, async () =>
    withRunningPages(client, await client.workflow.getHandle(batchId).query(progressQuery)),
  );
  const attrs = description.typedSearchAttributes;
  const pauseReason = attrs.get(PauseReasonAttr) as PauseReason | undefined;
  const progress: BatchProgress = live ?? {
    ...(await recordedProgress(client, store, description, 'running')),
    state: attrs.get(BatchStatusAttr) === 'paused' ? 'paused' : 'running',
    ...(attrs.get(BatchStatusAttr) === 'paused' && pauseReason ? { pauseReason } : {}),
  };
  const waitingFor = [
    ...(live ? [] : [noWorkflowsWorker ?? unansweredQuery()]),
    ...(await pagesWaitingFor(client, batchId, live?.pages?.running)),
  ];
  return waitingFor.length ? { ...progress, waitingFor } : progress;
}

/**
 * A running batch's progress with its running pages' added: the batch counts the pages that ended,
 * each page its own URLs (queries cost the workflows nothing; the pages never report while they run).
 * A page that ended between the two queries is counted by the batch's next answer.
 */
async function withRunningPages(client: Client, batch: BatchProgress): Promise<BatchProgress> {
  const running = batch.pages?.running ?? [];
  const pages = await Promise.all(
    running.map((id) =>
      client.workflow
        .getHandle(id)
        .query(pageProgressQuery)
        .catch(() => undefined),
    ),
  );
  const progress: BatchProgress = {
    ...batch,
    counts: { ...batch.counts, in_flight: 0 },
    creditsByMethod: { ...batch.creditsByMethod },
    duplicates: { lines: batch.duplicates?.lines ?? 0, waiting: batch.duplicates?.waiting ?? 0 },
    waiting: 0,
  };
  for (const page of pages) {
    if (!page) continue;
    addTotals(progress, page);
    progress.counts.in_flight += page.inFlight;
    progress.waiting += page.waiting;
    progress.duplicates!.waiting += page.duplicates;
  }
  const { succeeded, failed, dead_lettered, in_flight } = progress.counts;
  progress.counts.pending = Math.max(
    0,
    progress.total - succeeded - failed - dead_lettered - in_flight - progress.duplicates!.waiting,
  );
  return progress;
}
