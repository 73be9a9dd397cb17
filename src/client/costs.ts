/**
 * Cost attribution of a batch, from its progress (credits summed by the batch workflow as URLs end).
 * Shared by `scrapeflow costs` and the HTTP service.
 */
import type { Client } from '@temporalio/client';
import type { ResultStore } from '../store/types.js';
import type { BatchProgress } from '../workflows/types.js';
import { getProgress } from './progress.js';

export interface BatchCosts {
  batchId: string;
  state: BatchProgress['state'];
  /** Credits charged for the batch's URLs so far. */
  total: number;
  /** Credits by `metadata.method_used` (`fast`, `js_rendering`). */
  byMethod: Record<string, number>;
  /** Credits by tag (batch tags plus each URL's own); a URL with two tags counts under both. */
  byTag: Record<string, number>;
  /** The last `balance_after` the batch saw, when any. */
  lastBalance?: number;
  /** URLs ended so far (succeeded, failed, dead-lettered). */
  urlsDone: number;
}

export function costsOf(progress: BatchProgress): BatchCosts {
  const c = progress.counts;
  return {
    batchId: progress.batchId,
    state: progress.state,
    total: progress.credits,
    byMethod: { ...progress.creditsByMethod },
    byTag: { ...progress.creditsByTag },
    ...(progress.lastBalance !== undefined ? { lastBalance: progress.lastBalance } : {}),
    urlsDone: c.succeeded + c.failed + c.dead_lettered,
  };
}

export async function getCosts(client: Client, store: ResultStore, batchId: string): Promise<BatchCosts> {
  return costsOf(await getProgress(client, store, batchId));
}
