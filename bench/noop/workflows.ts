/**
 * The no-op floor of the ceiling benchmark: a parent that keeps `window` children in flight until `n`
 * have run, each child running one activity that does nothing. The same shape as a batch (parent,
 * sliding window, one child and one activity per item) with none of scrapeflow's work in it.
 */
import { executeChild, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { NoopActivities } from './activities.js';

const { noop } = proxyActivities<NoopActivities>({ startToCloseTimeout: '1 minute' });

export async function noopChild(index: number): Promise<number> {
  return noop(index);
}

export async function noopParent(n: number, window: number): Promise<number> {
  let next = 0;
  let done = 0;
  const lane = async () => {
    while (next < n) {
      const index = next++;
      await executeChild(noopChild, { workflowId: `${workflowInfo().workflowId}/${index}`, args: [index] });
      done += 1;
    }
  };
  await Promise.all(Array.from({ length: window }, lane));
  return done;
}
