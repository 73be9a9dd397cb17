/**
 * A 500-URL batch with mixed faults on a dev server whose continue-as-new threshold is lowered, so the
 * batch continues as new between its pages and each page continues as new between its input chunks.
 * Checks the design's invariants.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startBatch } from '../../src/client/batches.js';
import type { BatchProgress } from '../../src/workflows/types.js';
import type { ResultRecord } from '../../src/store/types.js';
import { containsText, eventually, startStack, type Stack } from '../support/stack.js';

const PLAN_LIMIT = 5;
/** Pages of 250 lines: more than one input chunk (200), so a page can continue as new in between. */
const PAGE_SIZE = 250;
let stack: Stack;
before(async () => {
  stack = await startStack({
    concurrency: PLAN_LIMIT,
    // Suggested from the first events of any run: the batch continues as new once no page runs, a page
    // once its first chunk's URLs ended.
    devServer: { dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': 10 } },
  });
  await stack.startWorker();
});
after(() => stack?.stop());

/** Runs of a workflow id by close status (all of its runs: those that continued as new too). */
async function runsOf(workflowId: string): Promise<string[]> {
  const out: string[] = [];
  for await (const wf of stack.client.workflow.list({ query: `WorkflowId = "${workflowId}"` }))
    out.push(wf.status.name);
  return out;
}

describe('a 500-URL batch under mixed faults', () => {
  it('ends every URL exactly once, dead letters = injected success:false, never above the plan limit', async () => {
    const match = `${stack.demoOrigin}/p/*`;
    await stack.admin('PUT', '/admin/faults', {
      rules: [
        { id: 'false', match, action: 'success_false', fraction: 0.04, seed: 7 },
        { id: '429', match, action: 'status', status: 429, retryAfterSec: 0, fraction: 0.04, seed: 8 },
        { id: '503', match, action: 'status', status: 503, fraction: 0.04, seed: 9 },
      ],
    });
    const urls = Array.from({ length: 500 }, (_, i) => ({ url: `${stack.demoOrigin}/p/${1000 + i}` }));
    const { batchId, handle } = await startBatch(stack.client, stack.store, {
      batchId: 'scale-500',
      urls,
      options: {
        mode: 'fast',
        concurrency: 2 * PLAN_LIMIT,
        pageSize: PAGE_SIZE,
        // One page at a time: the batch continues as new between them.
        pagesInFlight: 1,
        tags: ['scale'],
        retry: { rateLimitBaseMs: 100, upstreamDelayMs: 100 },
      },
    });
    const final = (await handle.result()) as BatchProgress;
    const counters = stack.api.state.counters.snapshot();

    const seen = new Map<number, ResultRecord>();
    for await (const r of stack.store.listResults(batchId)) {
      assert.ok(!seen.has(r.index), `index ${r.index} has one record`);
      seen.set(r.index, r);
    }
    assert.equal(seen.size, 500, 'every URL has a terminal record');
    const deadLetters = [...seen.values()].filter((r) => r.status === 'dead_lettered').length;
    assert.ok(deadLetters > 0);
    assert.equal(deadLetters, counters.faults_fired.false, 'dead letters equal the injected success:false');
    assert.equal(final.counts.dead_lettered, deadLetters);
    assert.equal(final.counts.succeeded + final.counts.failed + final.counts.dead_lettered, 500);
    assert.ok(
      (counters.concurrency.peak_by_account.test ?? 0) <= PLAN_LIMIT,
      `peak ${counters.concurrency.peak_by_account.test} within the plan`,
    );
    const charged = [...seen.values()].reduce((s, r) => s + r.charged, 0);
    assert.equal(final.credits, charged);
    assert.equal(counters.credits.charged_total, charged, 'credits charged equal the sum of per-URL charges');
    assert.ok(final.continuedAsNew >= 1, `the batch continued as new ${final.continuedAsNew} times`);
    // Each page continued as new after its first chunk; visibility lists every run (eventually).
    const pageRuns = await eventually(
      async () => {
        const runs = await Promise.all([runsOf(`${batchId}/p0`), runsOf(`${batchId}/p1`)]);
        return runs.every((r) => r.length >= 2 && r.filter((s) => s === 'RUNNING').length === 0) && runs;
      },
      { what: 'the runs of both pages listed' },
    );
    for (const runs of pageRuns) {
      assert.ok(runs.includes('CONTINUED_AS_NEW'), `a page continued as new: ${runs.join(', ')}`);
      assert.equal(runs.filter((s) => s === 'COMPLETED').length, 1, 'and completed once');
    }
    process.stdout.write(
      `# scale-500: continuedAsNew=${final.continuedAsNew} pageRuns=${pageRuns.map((r) => r.length).join('+')} ` +
        `deadLetters=${deadLetters} failed=${final.counts.failed} ` +
        `peak=${counters.concurrency.peak_by_account.test} 429s=${final.rateLimited}\n`,
    );
  });

  it('the API key appears in no workflow history and no worker log line', async () => {
    let histories = 0;
    let withUrls = 0;
    for await (const wf of stack.client.workflow.list()) {
      const history = await stack.client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
      assert.ok(!containsText(history, stack.apiKey), `the key is in the history of ${wf.workflowId}`);
      // Positive control: the same search finds what histories do carry (payloads are bytes).
      if (containsText(history, stack.demoOrigin)) withUrls += 1;
      histories += 1;
    }
    // The batch's runs and its pages' runs (each page continued as new at least once).
    assert.ok(histories >= 6, `checked ${histories} histories`);
    assert.ok(withUrls >= 4, 'the search sees inside payloads: every page run carries URLs');
    for (const line of stack.workers.flatMap((w) => w.lines)) assert.ok(!line.includes(stack.apiKey));
  });
});
