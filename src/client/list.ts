/**
 * Listing batches through Temporal visibility, by the search attributes the batch workflow keeps
 * up to date (`ScrapeflowBatchStatus`, `ScrapeflowPauseReason`, `ScrapeflowAccount`).
 */
import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import { AccountAttr, BatchStatusAttr, PauseReasonAttr } from '../temporal/search-attributes.js';
import type { BatchState, PauseReason } from '../workflows/types.js';
import { closedStateOf } from './progress.js';
import { quote } from './query.js';

export interface BatchSummary {
  batchId: string;
  /**
   * The batch's own state; `failed` / `terminated` / `timed_out` / `cancelled` when its workflow closed
   * without completing (as `getProgress` reports it).
   */
  state: BatchState;
  pauseReason?: PauseReason;
  account?: string;
  startedAt: string;
  closedAt?: string;
}

export interface ListBatchesOptions {
  /** Only batches in this state. */
  status?: BatchState;
  /** Only batches paused for one of these reasons (implies `status: 'paused'`). */
  pauseReasons?: PauseReason[];
  /** Only batches of these accounts (`ScrapeflowAccount`). @default every account */
  accounts?: readonly string[];
  /** Stop after this many. @default 1000 */
  limit?: number;
}

const own = (state: BatchState) => `${BatchStatusAttr.name} = ${quote(state)}`;
/**
 * The visibility filter of each state, as `summarize` tells them apart: a workflow that closed without
 * completing keeps the last state it set (usually `running`), so its execution status decides.
 */
const STATE_FILTERS: Record<BatchState, string> = {
  running: `${own('running')} AND ExecutionStatus = 'Running'`,
  paused: `${own('paused')} AND ExecutionStatus = 'Running'`,
  completed: `${own('completed')} AND ExecutionStatus = 'Completed'`,
  cancelled: `((${own('cancelled')} AND ExecutionStatus = 'Completed') OR ExecutionStatus = 'Canceled')`,
  failed: `ExecutionStatus = 'Failed'`,
  terminated: `ExecutionStatus = 'Terminated'`,
  timed_out: `ExecutionStatus = 'TimedOut'`,
};

/** The visibility query for `options`; continued-as-new runs are left out (their successor is listed). */
export function batchListQuery(options: ListBatchesOptions = {}): string {
  const parts = [`WorkflowType = 'batchWorkflow'`, `ExecutionStatus != 'ContinuedAsNew'`];
  const status = options.pauseReasons?.length ? 'paused' : options.status;
  if (status) parts.push(STATE_FILTERS[status]);
  if (options.pauseReasons?.length)
    parts.push(`${PauseReasonAttr.name} IN (${options.pauseReasons.map(quote).join(', ')})`);
  if (options.accounts) parts.push(`${AccountAttr.name} IN (${options.accounts.map(quote).join(', ')})`);
  return parts.join(' AND ');
}

export function summarize(info: WorkflowExecutionInfo): BatchSummary {
  const attrs = info.typedSearchAttributes;
  const state = (closedStateOf(info.status.name) ?? attrs.get(BatchStatusAttr) ?? 'running') as BatchState;
  const pauseReason = attrs.get(PauseReasonAttr) as PauseReason | undefined;
  const account = attrs.get(AccountAttr);
  return {
    batchId: info.workflowId,
    state,
    ...(state === 'paused' && pauseReason ? { pauseReason } : {}),
    ...(account ? { account } : {}),
    startedAt: info.startTime.toISOString(),
    ...(info.closeTime ? { closedAt: info.closeTime.toISOString() } : {}),
  };
}

/** Batches, newest first, streamed page by page from visibility. */
export async function* listBatches(
  client: Client,
  options: ListBatchesOptions = {},
): AsyncIterable<BatchSummary> {
  if (options.accounts?.length === 0) return;
  const limit = options.limit ?? 1000;
  let seen = 0;
  for await (const info of client.workflow.list({ query: batchListQuery(options), pageSize: 100 })) {
    if (seen >= limit) return;
    seen += 1;
    yield summarize(info);
  }
}
