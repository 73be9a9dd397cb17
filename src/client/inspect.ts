/**
 * "Why did URL n fail": one line of a batch as the store and Temporal know it. The record (or that
 * there is none yet), the page workflow that runs the line (`<batchId>/p<k>`), the line's activities in
 * that page's history (ids `"<index>"`, `"<index>.<n>"`) across its runs, and the Web UI link to the
 * page's history. Shared by the CLI (`scrapeflow inspect`) and anything else that wants it.
 */
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import proto from '@temporalio/proto';
import type { ResultRecord, ResultStore, UrlItem } from '../store/types.js';
import { pageWorkflowId, type BatchWorkflowInput, type WaitingFor } from '../workflows/types.js';
import { withBatch } from './batches.js';
import { failureText, startInput } from './history.js';
import { activitiesWaitingFor, missingWorker } from './pollers.js';
import { LineNotFoundError } from '../errors.js';

const { PendingActivityState } = proto.temporal.api.enums.v1;

/** Which line: by its 0-based index, or by its exact URL (the first line that has it). */
export type LineSelector = { index: number } | { url: string };

/** What `inspectLine` shows of a record: the terminal outcome and what it cost. */
export type RecordView = Pick<
  ResultRecord,
  | 'status'
  | 'reason'
  | 'detail'
  | 'charged'
  | 'attempts'
  | 'methodUsed'
  | 'jobId'
  | 'duplicateOf'
  | 'finishedAt'
>;

/** One activity of the line, as its page workflow's history tells it. */
export interface LineActivity {
  /** `"<index>"` for the line's first call, `"<index>.<n>"` for the later ones. */
  activityId: string;
  /** scrapeUrl, submitAsyncJob, pollAsyncJob, browseUrl, recordFailure. */
  type: string;
  /** Tries Temporal ran (the attempt of the last start); 0 while none has started. */
  attempts: number;
  outcome: 'scheduled' | 'running' | 'completed' | 'failed' | 'timed_out' | 'cancelled';
  /** The last failure of a try, as `Type: message` (redacted). */
  lastFailure?: string;
  /** The page workflow run whose history holds it. */
  runId: string;
}

export interface LineInspection {
  batchId: string;
  index: number;
  url: string;
  /** Set when the line repeats an earlier line's URL: that line's activities are shown. */
  duplicateOf?: number;
  /** The terminal record; undefined while the line has none. */
  record?: RecordView;
  page: {
    workflowId: string;
    /** False when the batch has not started the page (yet): no history, no link. */
    started: boolean;
    /** The run the link opens: the one with the line's last activity, else the current one. */
    runId?: string;
    /** Page workflow runs read (continue-as-new makes more than one). */
    runs: number;
  };
  /** The line's activities, oldest first. */
  activities: LineActivity[];
  /** The page's history in the Temporal Web UI, when the page started. */
  webUiUrl?: string;
  /**
   * While the batch runs: the worker roles the line waits for (no `workflows` worker, or the line's
   * call scheduled on a queue no live worker polls). Unset when none is missing.
   */
  waitingFor?: WaitingFor[];
}

export interface InspectOptions {
  /** Base URL of the Temporal Web UI, e.g. `http://localhost:8233`. */
  uiUrl: string;
}

/** Most page workflow runs followed back through continue-as-new. */
const MAX_RUNS = 1000;
/** Input lines read per store call while looking for a URL. */
const SCAN_CHUNK = 500;

/** The line's activities in one page run's history, oldest first, and the run it came from. */
async function activitiesOfRun(
  client: Client,
  workflowId: string,
  runId: string,
  index: number,
): Promise<{ activities: LineActivity[]; previousRunId?: string }> {
  const { events } = await client.workflow.getHandle(workflowId, runId).fetchHistory();
  const mine = (id: string) => id === String(index) || id.startsWith(`${index}.`);
  const byScheduled = new Map<string, LineActivity>();
  const activities: LineActivity[] = [];
  let previousRunId: string | undefined;
  for (const event of events ?? []) {
    const started = event.workflowExecutionStartedEventAttributes;
    if (started?.continuedExecutionRunId) previousRunId = started.continuedExecutionRunId;
    const scheduled = event.activityTaskScheduledEventAttributes;
    if (scheduled) {
      if (!mine(scheduled.activityId ?? '')) continue;
      const activity: LineActivity = {
        activityId: scheduled.activityId ?? '',
        type: scheduled.activityType?.name ?? '?',
        attempts: 0,
        outcome: 'scheduled',
        runId,
      };
      byScheduled.set(String(event.eventId), activity);
      activities.push(activity);
      continue;
    }
    const attrs =
      event.activityTaskStartedEventAttributes ??
      event.activityTaskCompletedEventAttributes ??
      event.activityTaskFailedEventAttributes ??
      event.activityTaskTimedOutEventAttributes ??
      event.activityTaskCanceledEventAttributes;
    const activity = attrs && byScheduled.get(String(attrs.scheduledEventId));
    if (!activity) continue;
    if (event.activityTaskStartedEventAttributes) {
      const { attempt, lastFailure } = event.activityTaskStartedEventAttributes;
      activity.attempts = attempt ?? 1;
      activity.outcome = 'running';
      const text = await failureText(client, lastFailure);
      if (text) activity.lastFailure = text;
    } else if (event.activityTaskCompletedEventAttributes) {
      activity.outcome = 'completed';
    } else if (event.activityTaskFailedEventAttributes) {
      activity.outcome = 'failed';
      activity.lastFailure =
        (await failureText(client, event.activityTaskFailedEventAttributes.failure)) ?? '?';
    } else if (event.activityTaskTimedOutEventAttributes) {
      activity.outcome = 'timed_out';
      const text = await failureText(client, event.activityTaskTimedOutEventAttributes.failure);
      if (text) activity.lastFailure = text;
    } else {
      activity.outcome = 'cancelled';
    }
  }
  return { activities, ...(previousRunId ? { previousRunId } : {}) };
}

/** The input line named by `selector`, read from the store (undefined when the store holds no input). */
async function findLine(
  store: ResultStore,
  batchId: string,
  total: number,
  selector: LineSelector,
): Promise<UrlItem | undefined> {
  if ('index' in selector) {
    if (!Number.isInteger(selector.index) || selector.index < 0 || selector.index >= total)
      throw new LineNotFoundError(
        `batch ${batchId} has lines 0 to ${total - 1}: there is no line ${selector.index}`,
      );
    return (await store.readInput(batchId, selector.index, 1))[0];
  }
  if ((await store.inputCount(batchId)) === undefined)
    throw new LineNotFoundError(
      `this store holds no input for batch ${batchId}, so a URL cannot be looked up: give the line's index, ` +
        'or point SCRAPEFLOW_DATA_DIR / SCRAPEFLOW_DATABASE_URL at the store the batch was started with',
    );
  for (let offset = 0; offset < total;) {
    const items = await store.readInput(batchId, offset, SCAN_CHUNK);
    if (items.length === 0) break;
    const found = items.find((item) => item.url === selector.url);
    if (found) return found;
    offset = items[items.length - 1]!.index + 1;
  }
  throw new LineNotFoundError(`batch ${batchId} has no line with the URL ${JSON.stringify(selector.url)}`);
}

function recordView(record: ResultRecord): RecordView {
  const { status, reason, detail, charged, attempts, methodUsed, jobId, duplicateOf, finishedAt } = record;
  return {
    status,
    ...(reason ? { reason } : {}),
    ...(detail ? { detail } : {}),
    charged,
    attempts,
    ...(methodUsed ? { methodUsed } : {}),
    ...(jobId ? { jobId } : {}),
    ...(duplicateOf !== undefined ? { duplicateOf } : {}),
    finishedAt,
  };
}

/** The Web UI page of a workflow run's history. */
export function webUiHistoryUrl(
  uiUrl: string,
  run: { namespace: string; workflowId: string; runId: string },
): string {
  const { namespace, workflowId, runId } = run;
  const base = uiUrl.replace(/\/+$/, '');
  return `${base}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}/${encodeURIComponent(runId)}/history`;
}

/**
 * One line of a batch: its record, its page workflow and the line's activities there, and the Web UI
 * link. Throws `BatchNotFoundError` for an unknown batch and `LineNotFoundError` for a line the batch
 * does not have.
 */
export async function inspectLine(
  client: Client,
  store: ResultStore,
  batchId: string,
  selector: LineSelector,
  options: InspectOptions,
): Promise<LineInspection> {
  const description = await withBatch(batchId, () => client.workflow.getHandle(batchId).describe());
  // Every run of the batch starts with its options (continue-as-new passes them on): the latest will do.
  const input = await startInput<BatchWorkflowInput>(client, {
    workflowId: batchId,
    runId: description.runId,
  });
  if (!input) throw new Error(`the workflow ${batchId} started without an input`);
  const item = await findLine(store, batchId, input.total, selector);
  const index = item?.index ?? (selector as { index: number }).index;
  const record = await store.getResult(batchId, index);
  // A duplicate line makes no call: its URL's calls are its first line's.
  const duplicateOf = item?.duplicateOf ?? record?.duplicateOf;
  const callsOf = duplicateOf ?? index;
  const pageId = pageWorkflowId(batchId, Math.floor(callsOf / input.options.pageSize));

  const activities: LineActivity[] = [];
  let currentRunId: string | undefined;
  let runs = 0;
  let pending: proto.temporal.api.workflow.v1.IPendingActivityInfo[] = [];
  try {
    const page = await client.workflow.getHandle(pageId).describe();
    currentRunId = page.runId;
    pending = page.raw.pendingActivities ?? [];
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
  }
  for (let runId = currentRunId; runId && runs < MAX_RUNS; runs++) {
    const run = await activitiesOfRun(client, pageId, runId, callsOf);
    activities.unshift(...run.activities);
    runId = run.previousRunId;
  }
  // History records a try only once it ends; a call still trying is in the page's pending activities.
  for (const info of pending) {
    const activity = activities.find((a) => a.runId === currentRunId && a.activityId === info.activityId);
    if (!activity || activity.outcome !== 'scheduled') continue;
    activity.attempts = info.attempt ?? 0;
    if (info.state === PendingActivityState.PENDING_ACTIVITY_STATE_STARTED) activity.outcome = 'running';
    // Attempt n is scheduled after try n - 1 failed: so many tries have run.
    else activity.attempts = Math.max(0, activity.attempts - 1);
    const text = await failureText(client, info.lastFailure);
    if (text) activity.lastFailure = text;
  }
  const linkRunId = activities[activities.length - 1]?.runId ?? currentRunId;
  const waitingFor = await lineWaitingFor(client, description.status.name === 'RUNNING', pending, callsOf);
  return {
    batchId,
    index,
    url: item?.url ?? record?.url ?? '?',
    ...(duplicateOf !== undefined ? { duplicateOf } : {}),
    ...(record ? { record: recordView(record) } : {}),
    page: {
      workflowId: pageId,
      started: currentRunId !== undefined,
      ...(linkRunId ? { runId: linkRunId } : {}),
      runs,
    },
    activities,
    ...(linkRunId
      ? {
          webUiUrl: webUiHistoryUrl(options.uiUrl, {
            namespace: client.options.namespace,
            workflowId: pageId,
            runId: linkRunId,
          }),
        }
      : {}),
    ...(waitingFor.length ? { waitingFor } : {}),
  };
}

/** The roles a line of a running batch waits for: `workflows`, and the queue of its scheduled call. */
async function lineWaitingFor(
  client: Client,
  running: boolean,
  pending: proto.temporal.api.workflow.v1.IPendingActivityInfo[],
  index: number,
): Promise<WaitingFor[]> {
  if (!running) return [];
  const mine = pending.filter((p) => p.activityId === String(index) || p.activityId?.startsWith(`${index}.`));
  const [workflows, calls] = await Promise.all([
    missingWorker(client, 'workflows'),
    activitiesWaitingFor(client, mine),
  ]);
  return workflows ? [workflows, ...calls] : calls;
}
