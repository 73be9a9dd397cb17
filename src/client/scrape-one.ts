/**
 * A single-URL scrape for request/response callers: starts a one-URL batch and waits a bounded time.
 * Nothing is scraped here: the workers do it; this only talks to Temporal and the store.
 */
import type { Client } from '@temporalio/client';
import type { BatchOptionsInput } from '../batch/options.js';
import type { ResultRecord, ResultStore } from '../store/types.js';
import type { BatchProgress, PauseReason } from '../workflows/types.js';
import { startBatch, type StartContext } from './batches.js';
import { followBatch } from './follow.js';

export interface ScrapeOneRequest {
  url: string;
  options?: BatchOptionsInput;
  /** @default generated */
  batchId?: string;
  /** How long to wait for the result, ms. */
  waitMs: number;
}

export type ScrapeOneOutcome =
  /** The URL ended: its terminal record (and the page body, when stored). */
  | { kind: 'done'; batchId: string; record: ResultRecord; content?: string; progress: BatchProgress }
  /** The batch paused for a human (401 auth or 402 balance); it resumes with `resume`. */
  | { kind: 'paused'; batchId: string; reason: PauseReason; progress: BatchProgress }
  /** Still running when the wait ended: poll the batch. */
  | { kind: 'pending'; batchId: string; progress: BatchProgress }
  /** The batch was cancelled before the URL ended. */
  | { kind: 'cancelled'; batchId: string; progress: BatchProgress }
  /**
   * The batch's workflow failed, was terminated, timed out or was cancelled through Temporal before
   * the URL ended; `failure` says why.
   */
  | { kind: 'ended'; batchId: string; failure: string; progress: BatchProgress };

export async function scrapeOne(
  client: Client,
  store: ResultStore,
  request: ScrapeOneRequest,
  context: StartContext = {},
): Promise<ScrapeOneOutcome> {
  const { batchId } = await startBatch(
    client,
    store,
    {
      ...(request.batchId ? { batchId: request.batchId } : {}),
      urls: [{ url: request.url }],
      options: { ...request.options, concurrency: 1 },
    },
    context,
  );
  const progress = await followBatch(client, store, batchId, {
    intervalMs: 200,
    deadline: Date.now() + request.waitMs,
  });
  if (progress.state === 'paused')
    return { kind: 'paused', batchId, reason: progress.pauseReason ?? 'manual', progress };
  if (progress.state === 'running') return { kind: 'pending', batchId, progress };
  const record = await store.getResult(batchId, 0);
  if (!record && progress.failure !== undefined)
    return { kind: 'ended', batchId, failure: progress.failure, progress };
  if (!record) return { kind: 'cancelled', batchId, progress };
  const content = record.contentRef ? await store.getContent(record.contentRef) : undefined;
  return { kind: 'done', batchId, record, ...(content !== undefined ? { content } : {}), progress };
}
