/** Following a batch in the terminal: the live view until it settles (or Ctrl-C), then the exit code. */
import type { Client } from '@temporalio/client';
import { followBatch } from '../client/follow.js';
import { endedAbnormally } from '../client/progress.js';
import type { ResultStore } from '../store/types.js';
import type { BatchProgress } from '../workflows/types.js';
import { ExitCode } from './exit.js';
import { createProgressView } from './progress.js';

/** Follows with the progress view on stderr; Ctrl-C stops watching (the batch goes on). */
export async function watchBatch(
  client: Client,
  store: ResultStore,
  batchId: string,
  intervalMs = 500,
): Promise<BatchProgress> {
  const view = createProgressView();
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await followBatch(client, store, batchId, {
      intervalMs,
      onProgress: (p) => view.update(p),
      signal: stop.signal,
    });
  } finally {
    view.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (stop.signal.aborted) process.stderr.write(`stopped watching; batch ${batchId} goes on\n`);
  }
}

/**
 * 0 when the batch completed with every URL succeeded; `batchFailed` when its workflow did not end by
 * itself (failed, terminated, timed out); `batchNotCompleted` otherwise (paused, cancelled, or with
 * failed or dead-lettered URLs).
 */
export function exitCodeOf(progress: BatchProgress): ExitCode {
  if (endedAbnormally(progress)) return ExitCode.batchFailed;
  const clean =
    progress.state === 'completed' && progress.counts.failed === 0 && progress.counts.dead_lettered === 0;
  return clean ? ExitCode.ok : ExitCode.batchNotCompleted;
}
