/**
 * Which worker roles a running batch waits for, from Temporal's own view of its task queues
 * (DescribeTaskQueue's pollers), and the line that names the missing role and how to start it. A batch
 * with no `workflows` worker moves not at all and cannot answer a query (the query waits for a worker,
 * then fails); URLs scheduled on the `scrape` or `browser` queue wait while no worker of that role
 * polls it. Every call here is bounded, and a server that will not say gives no claim either way.
 */
import type { Client } from '@temporalio/client';
import proto from '@temporalio/proto';
import { BatchIdAttr } from '../temporal/search-attributes.js';
import { quote } from './query.js';
import { TASK_QUEUES, type WaitingFor } from '../workflows/types.js';

type Role = WaitingFor['role'];
type PendingActivity = proto.temporal.api.workflow.v1.IPendingActivityInfo;
const { TaskQueueType, PendingActivityState } = proto.temporal.api.enums.v1;

/**
 * A poller last seen longer ago than this is taken for a stopped worker. A live worker polls again at
 * least every minute (the server ends an idle long poll after one), while the server lists a poller
 * for five minutes after its last poll.
 */
export const POLLER_STALE_MS = 2 * 60_000;
/** Longest wait for a describe (of a task queue, of a page). */
const DESCRIBE_TIMEOUT_MS = 5_000;
/**
 * Longest wait for a batch's answer to its progress query. Above the SDK's sticky-queue timeout (5 s): a
 * query to a workflow whose last worker stopped goes to another worker after it.
 */
export const QUERY_TIMEOUT_MS = 10_000;
/**
 * Longest wait for that answer while no worker polls the `workflows` queue: a worker that started a
 * moment ago (its first poll not yet in) still answers, and a missing one costs `status` no more.
 */
export const NO_WORKER_QUERY_MS = 2_000;
/** How long one view of a queue serves (`status --watch` and the service ask every few hundred ms). */
const CACHE_MS = 2_000;
/** Most running pages described when looking for URLs that wait. */
const MAX_PAGES = 20;

const ROLES = Object.keys(TASK_QUEUES) as Role[];

/** The command that starts a worker of `role`. */
export const workerCommand = (role: Role): string => `scrapeflow worker --queue ${role}`;

/** The entry naming `role`, with what Temporal saw of its queue (`detail`) when there is more to say. */
export function waitingFor(role: Role, detail?: string): WaitingFor {
  const taskQueue = TASK_QUEUES[role];
  return {
    role,
    taskQueue,
    message: `waiting for a ${role} worker on task queue ${taskQueue} (${detail ? `${detail}; ` : ''}start: ${workerCommand(role)})`,
  };
}

/** The `workflows` entry when a worker polls its queue but the batch did not answer in time. */
export const unansweredQuery = (): WaitingFor =>
  waitingFor('workflows', `no worker answered the batch's query within ${QUERY_TIMEOUT_MS / 1000} s`);

/**
 * `fn` bounded by `ms`; undefined when it fails or runs out of time (a server error, a raw gRPC error, a
 * page that ended meanwhile): what these reads add to an answer is never worth failing it.
 */
export async function bounded<T>(client: Client, ms: number, fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await client.withDeadline(Date.now() + ms, fn);
  } catch {
    return undefined;
  }
}

/** Milliseconds since the epoch of a protobuf timestamp (0 when unset). */
const msOf = (ts: proto.google.protobuf.ITimestamp | null | undefined): number =>
  ts ? Number(ts.seconds ?? 0) * 1000 + Math.floor((ts.nanos ?? 0) / 1e6) : 0;

/** Whether a live worker polls the role's queue, when it was last polled; undefined when the server will not say. */
type QueueView = { polled: boolean; lastPolledAt: number } | undefined;

const views = new WeakMap<Client, Map<Role, { at: number; view: Promise<QueueView> }>>();

async function describeQueue(client: Client, role: Role): Promise<QueueView> {
  const described = await bounded(client, DESCRIBE_TIMEOUT_MS, () =>
    client.workflowService.describeTaskQueue({
      namespace: client.options.namespace,
      taskQueue: { name: TASK_QUEUES[role] },
      taskQueueType:
        role === 'workflows'
          ? TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW
          : TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
    }),
  );
  if (!described) return undefined;
  const lastPolledAt = Math.max(0, ...(described.pollers ?? []).map((p) => msOf(p.lastAccessTime)));
  return { polled: Date.now() - lastPolledAt < POLLER_STALE_MS, lastPolledAt };
}

function queueView(client: Client, role: Role): Promise<QueueView> {
  let byRole = views.get(client);
  if (!byRole) {
    byRole = new Map<Role, { at: number; view: Promise<QueueView> }>();
    views.set(client, byRole);
  }
  const cached = byRole.get(role);
  if (cached && Date.now() - cached.at < CACHE_MS) return cached.view;
  const view = describeQueue(client, role);
  byRole.set(role, { at: Date.now(), view });
  return view;
}

/** The entry naming `role` when no live worker polls its queue; undefined otherwise (or when unknown). */
export async function missingWorker(client: Client, role: Role): Promise<WaitingFor | undefined> {
  const view = await queueView(client, role);
  if (!view || view.polled) return undefined;
  if (!view.lastPolledAt) return waitingFor(role);
  const minutes = Math.max(1, Math.round((Date.now() - view.lastPolledAt) / 60_000));
  return waitingFor(role, `the last one polled ${minutes} min ago`);
}

/** The role whose queue is `name`. */
const roleOfQueue = (name: string | null | undefined): Role | undefined =>
  ROLES.find((role) => TASK_QUEUES[role] === name);

/**
 * The roles `pending` activities wait for: scheduled (not running) on a queue no live worker polls. The
 * queue comes from the activity's options as the server describes them (servers from 1.27 on).
 */
export async function activitiesWaitingFor(
  client: Client,
  pending: PendingActivity[],
): Promise<WaitingFor[]> {
  const roles = new Set<Role>();
  for (const activity of pending)
    if (activity.state === PendingActivityState.PENDING_ACTIVITY_STATE_SCHEDULED) {
      const role = roleOfQueue(activity.activityOptions?.taskQueue?.name);
      if (role) roles.add(role);
    }
  const missing = await Promise.all([...roles].map((role) => missingWorker(client, role)));
  return missing.filter((m): m is WaitingFor => m !== undefined);
}

/** The running pages of a batch, from visibility (when the batch cannot tell them). */
async function runningPages(client: Client, batchId: string): Promise<string[]> {
  const query =
    `${BatchIdAttr.name} = ${quote(batchId)} AND WorkflowType = 'pageWorkflow' ` +
    `AND ExecutionStatus = 'Running'`;
  const ids: string[] = [];
  const listed = await bounded(client, DESCRIBE_TIMEOUT_MS, async () => {
    for await (const info of client.workflow.list({ query, pageSize: MAX_PAGES })) {
      ids.push(info.workflowId);
      if (ids.length >= MAX_PAGES) break;
    }
  });
  return listed === undefined ? [] : ids;
}

/**
 * The `scrape` and `browser` roles a running batch's URLs wait for: URLs of its running pages (`pages`,
 * else looked up in visibility) scheduled on a queue no live worker polls. Describes the pages only when
 * such a queue exists.
 */
export async function pagesWaitingFor(
  client: Client,
  batchId: string,
  pages?: string[],
): Promise<WaitingFor[]> {
  const unpolled = await Promise.all(
    ROLES.filter((role) => role !== 'workflows').map((role) => missingWorker(client, role)),
  );
  if (!unpolled.some(Boolean)) return [];
  const ids = (pages ?? (await runningPages(client, batchId))).slice(0, MAX_PAGES);
  const described = await Promise.all(
    ids.map((id) => bounded(client, DESCRIBE_TIMEOUT_MS, () => client.workflow.getHandle(id).describe())),
  );
  const pending = described.flatMap((d) => d?.raw.pendingActivities ?? []);
  return activitiesWaitingFor(client, pending);
}
