import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startBatch, resumeBatch } from '../../src/client/batches.js';
import { getProgress } from '../../src/client/progress.js';
import { getCosts } from '../../src/client/costs.js';
import { parseBatchOptions } from '../../src/batch/options.js';
import { pagePausedSignal, pauseSignal } from '../../src/workflows/definitions.js';
import { TASK_QUEUES } from '../../src/workflows/types.js';
import type { BatchProgress } from '../../src/workflows/types.js';
import { eventually, startStack, type Stack } from '../support/stack.js';

let stack: Stack;
before(async () => {
  stack = await startStack({ concurrency: 4 });
  await stack.startWorker();
});
after(() => stack?.stop());

describe('batch workflow (real dev server, worker process, local API)', () => {
  it('scrapes a batch of product pages with extraction, one record per URL, credits summed', async () => {
    const urls = Array.from({ length: 12 }, (_, i) => ({ url: `${stack.demoOrigin}/p/${i + 1}` }));
    const { batchId, handle } = await startBatch(stack.client, stack.store, {
      batchId: 'basic-1',
      urls,
      options: {
        mode: 'fast',
        outputFormat: 'css_extractor',
        cssSelectors: { title: 'h1', price: '[data-price]', sku: '.product-sku' },
        schema: { title: { type: 'string' }, price: { type: 'number' } },
        concurrency: 3,
        tags: ['demo'],
      },
    });
    const final = (await handle.result()) as BatchProgress;
    assert.equal(final.state, 'completed');
    assert.deepEqual(final.counts, { succeeded: 12, failed: 0, dead_lettered: 0, in_flight: 0, pending: 0 });
    const rs = await stack.records(batchId);
    assert.equal(rs.length, 12);
    assert.deepEqual(
      rs.map((r) => r.index),
      [...Array(12).keys()],
    );
    for (const r of rs) {
      assert.equal(r.status, 'succeeded');
      assert.equal(r.fields?.title, `Product ${r.index + 1}`);
      assert.match(r.fields?.price ?? '', /^\d+\.\d{2}$/);
      assert.equal(r.methodUsed, 'fast');
    }
    const charged = rs.reduce((sum, r) => sum + r.charged, 0);
    assert.equal(final.credits, charged);
    assert.equal((await getCosts(stack.client, stack.store, batchId)).byTag.demo, charged);
    assert.equal(stack.api.state.counters.snapshot().credits.charged_total, charged);
    // The client adds what the server holds for the batch (its task priority, 3 by default).
    assert.deepEqual(await getProgress(stack.client, stack.store, batchId), { ...final, priority: 3 });
  });

  it('honours a pause that arrives with the start: no URL starts until resume', async () => {
    const batchId = 'paused-at-start';
    const total = await stack.store.putInput(batchId, [{ url: `${stack.demoOrigin}/p/77` }]);
    const requestsBefore = stack.api.state.counters.snapshot().endpoints.scrape;
    const handle = await stack.client.workflow.signalWithStart('batchWorkflow', {
      workflowId: batchId,
      taskQueue: TASK_QUEUES.workflows,
      args: [{ batchId, options: parseBatchOptions({ mode: 'fast' }), total }],
      signal: pauseSignal,
      signalArgs: [{ reason: 'manual' }],
    });
    const progress = await getProgress(stack.client, stack.store, batchId);
    assert.equal(progress.state, 'paused');
    assert.equal(progress.pauseReason, 'manual');
    assert.equal(progress.counts.in_flight, 0);
    assert.deepEqual(stack.api.state.counters.snapshot().endpoints.scrape, requestsBefore);
    await resumeBatch(stack.client, batchId);
    const final = (await handle.result()) as BatchProgress;
    assert.equal(final.counts.succeeded, 1);
  });

  it('a 402 reported after a resume but from before it does not pause the batch again', async () => {
    await stack.admin('PUT', '/admin/faults', {
      rules: [{ match: `${stack.demoOrigin}/p/88`, action: 'latency', latencyMs: 4000 }],
    });
    const { batchId, handle } = await startBatch(stack.client, stack.store, {
      batchId: 'stale-402',
      urls: [{ url: `${stack.demoOrigin}/p/88` }],
      options: { mode: 'fast', concurrency: 1 },
    });
    await eventually(
      async () => (await getProgress(stack.client, stack.store, batchId)).counts.in_flight === 1,
      {
        what: 'the URL in flight',
      },
    );
    // The operator resumes (after a top-up) while a child's 402 report is still on its way: the batch is
    // not paused yet when the resume arrives, and the report that follows is from a minute before it.
    await resumeBatch(stack.client, batchId);
    await handle.signal(pagePausedSignal, { page: 0, reason: 'balance', at: Date.now() - 60_000 });
    const child = stack.client.workflow.getHandle(`${batchId}/p0`);
    const resumeSignals = async () =>
      ((await child.fetchHistory().catch(() => undefined))?.events ?? []).filter(
        (e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'resume',
      ).length;
    // Two resumes reach the page: the operator's, forwarded, and the batch's answer to the stale report.
    await eventually(async () => (await resumeSignals()) === 2, {
      what: 'the page told to go on at once',
      timeoutMs: 15_000,
    });
    let progress = await getProgress(stack.client, stack.store, batchId);
    assert.deepEqual([progress.state, progress.waiting], ['running', 0], 'the batch did not pause again');
    // A 402 from after the resume pauses it, as any 402 does.
    await handle.signal(pagePausedSignal, { page: 0, reason: 'balance', at: Date.now() + 60_000 });
    progress = await eventually(
      async () => {
        const p = await getProgress(stack.client, stack.store, batchId);
        return p.state === 'paused' ? p : undefined;
      },
      { what: 'the batch paused by a new 402' },
    );
    assert.equal(progress.pauseReason, 'balance');
    await resumeBatch(stack.client, batchId);
    const final = (await handle.result()) as BatchProgress;
    assert.equal(final.counts.succeeded, 1);
    await stack.admin('PUT', '/admin/faults', { rules: [] });
  });

  it('a page workflow terminated by an operator does not hold its batch: its URLs without a record fail', async () => {
    const hung = `${stack.demoOrigin}/p/88`;
    await stack.admin('PUT', '/admin/faults', {
      rules: [{ match: hung, action: 'hang', endpoints: ['scrape'] }],
    });
    const { batchId, handle } = await startBatch(stack.client, stack.store, {
      batchId: 'terminated-child',
      urls: [{ url: hung }, { url: `${stack.demoOrigin}/p/89` }],
      options: { mode: 'fast', concurrency: 2 },
    });
    await eventually(
      () => Promise.resolve(stack.api.state.counters.snapshot().concurrency.current_by_account.test === 1),
      {
        what: 'the hung call to be in flight',
        intervalMs: 20,
      },
    );
    await eventually(async () => (await stack.store.getResult(batchId, 1)) !== undefined, {
      what: 'the other URL of the page recorded',
      intervalMs: 20,
    });
    await stack.client.workflow.getHandle(`${batchId}/p0`).terminate('operator gave up on this page');
    const final = (await handle.result()) as BatchProgress;
    assert.deepEqual([final.state, final.counts.succeeded, final.counts.failed], ['completed', 1, 1]);
    const record = await stack.store.getResult(batchId, 0);
    assert.equal(record?.status, 'failed');
    assert.equal(record?.reason, 'page_ended');
    assert.match(record?.detail ?? '', /terminated-child\/p0 ended without reporting: .*terminated/i);
    await stack.admin('PUT', '/admin/faults', { rules: [] });
  });
});
