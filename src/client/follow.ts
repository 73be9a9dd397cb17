/**
 * Following a batch until it ends: polls the progress query and hands every snapshot to a callback.
 * Used by `status --watch`, `start --wait`, the demo and the HTTP service's single-URL scrape.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import type { ResultStore } from '../store/types.js';
import type { BatchProgress } from '../workflows/types.js';
import { getProgress } from './progress.js';

export interface FollowOptions {
  /** Time between two progress queries, ms. @default 500 */
  intervalMs?: number;
  /** Receives every snapshot (the first one at once). */
  onProgress?: (progress: BatchProgress) => void;
  /**
   * Also stop when the batch is paused for a reason that waits for a human (not `outage`).
   * @default true
   */
  stopOnPause?: boolean;
  /** Give up at this time (ms since the epoch) and return the last snapshot. @default no deadline */
  deadline?: number;
  signal?: AbortSignal;
}

/**
 * True once the batch can make no more progress by itself: it ended (completed, cancelled, or its
 * workflow failed, was terminated or timed out), or it is paused and `stopOnPause`. A pause for an
 * outage is not settled: the batch resumes by itself once OmniScrape answers.
 */
export function isSettled(progress: BatchProgress, stopOnPause = true): boolean {
  if (progress.state === 'running') return false;
  if (progress.state === 'paused' && progress.pauseReason === 'outage') return false;
  return stopOnPause || progress.state !== 'paused';
}

/** Resolves with the last snapshot: the batch ended (or paused), the deadline passed, or `signal` fired. */
export async function followBatch(
  client: Client,
  store: ResultStore,
  batchId: string,
  options: FollowOptions = {},
): Promise<BatchProgress> {
  const intervalMs = options.intervalMs ?? 500;
  for (;;) {
    const progress = await getProgress(client, store, batchId);
    options.onProgress?.(progress);
    if (isSettled(progress, options.stopOnPause ?? true)) return progress;
    if (options.signal?.aborted) return progress;
    const wait =
      options.deadline === undefined ? intervalMs : Math.min(intervalMs, options.deadline - Date.now());
    if (wait <= 0) return progress;
    try {
      await sleep(wait, undefined, { signal: options.signal });
    } catch {
      return progress; // aborted
    }
  }
}
