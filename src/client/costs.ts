/**
 * Cost attribution of a batch: totals and credits by method from its progress (summed by its workflows
 * as URLs end), credits by tag from the store's records (the workflows carry no per-tag totals: the
 * number of distinct tags has no bound). Shared by `scrapeflow costs` and the HTTP service.
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
  const costs = costsOf(await getProgress(client, store, batchId));
  const byTag: Record<string, number> = {};
  for await (const record of store.listResults(batchId)) {
    if (!record.charged) continue;
    for (const tag of record.tags ?? []) byTag[tag] = (byTag[tag] ?? 0) + record.charged;
  }
  return { ...costs, byTag };
}
