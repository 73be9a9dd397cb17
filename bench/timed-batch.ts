/** The scrapeflow side of the batch benchmarks: one batch through the whole pipeline, timed to its end. */
import type { BatchOptionsInput } from '../src/batch/options.js';
import { startBatch } from '../src/client/batches.js';
import type { BatchProgress } from '../src/workflows/types.js';
import type { Stack } from '../test/support/stack.js';

export interface TimedBatch {
  /** URLs that succeeded. */
  ok: number;
  /** From the start request to the batch's result. */
  seconds: number;
  final: BatchProgress;
}

export async function timedBatch(
  stack: Stack,
  batchId: string,
  urls: readonly string[],
  options: BatchOptionsInput,
): Promise<TimedBatch> {
  const started = performance.now();
  const { handle } = await startBatch(stack.client, stack.store, {
    batchId,
    urls: urls.map((url) => ({ url })),
    options,
    plan: stack.plan,
  });
  const final = (await handle.result()) as BatchProgress;
  return { ok: final.counts.succeeded, seconds: (performance.now() - started) / 1000, final };
}
