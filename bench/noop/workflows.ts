/**
 * The no-op floors of the ceiling benchmark, each the shape of a batch with none of scrapeflow's work:
 * - `noopParent`: a parent keeping `window` children in flight until `n` have run, each child running
 *   one activity that does nothing (one child workflow per item: the per-URL-workflow design's floor);
 * - `noopActivities`: one workflow keeping `window` no-op activities in flight until `n` have run (one
 *   activity per item: the floor of the page design, whose pages run URLs as activities).
 */
import { executeChild, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { NoopActivities } from './activities.js';

const { noop } = proxyActivities<NoopActivities>({ startToCloseTimeout: '1 minute' });

export async function noopChild(index: number): Promise<number> {
  return noop(index);
}

/** Runs `n` items through `window` lanes, each lane awaiting `item` for one index at a time. */
async function lanes(n: number, window: number, item: (index: number) => Promise<unknown>) {
  let next = 0;
  let done = 0;
  const lane = async () => {
    while (next < n) {
      await item(next++);
      done += 1;
    }
  };
  await Promise.all(Array.from({ length: window }, lane));
  return done;
}

export async function noopParent(n: number, window: number): Promise<number> {
  return lanes(n, window, (index) =>
    executeChild(noopChild, { workflowId: `${workflowInfo().workflowId}/${index}`, args: [index] }),
  );
}

export async function noopActivities(n: number, window: number): Promise<number> {
  return lanes(n, window, (index) => noop(index));
}
