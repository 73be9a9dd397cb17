/**
 * Durability: a 402 pauses the batch with nothing lost and nothing charged twice, and a worker killed
 * with SIGKILL while a long render is being polled neither loses nor resubmits the job.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resumeBatch, startBatch } from '../../src/client/batches.js';
import { getProgress } from '../../src/client/progress.js';
import type { BatchOptionsInput } from '../../src/batch/options.js';
import type { BatchProgress } from '../../src/workflows/types.js';
import { eventually, startStack, type Stack } from '../support/stack.js';

let stack: Stack;
before(async () => {
  stack = await startStack({ concurrency: 2, balance: 10 });
  await stack.startWorker();
});
after(() => stack?.stop());

const OPTIONS: BatchOptionsInput = {
  mode: 'fast',
  concurrency: 2,
  retry: { rateLimitBaseMs: 200, upstreamDelayMs: 100, timeoutDelayMs: 100 },
  polling: { initialMs: 300, maxMs: 500, budgetMs: 60_000 },
  timeouts: { scrapeMs: 10_000, heartbeatMs: 2000 },
};
const page = (n: number) => `${stack.demoOrigin}/p/${n}`;
const scrapeRequests = () =>
  Object.values(stack.api.state.counters.snapshot().endpoints.scrape).reduce((a, b) => a + b, 0);

describe('durability', () => {
  it('402 mid-batch pauses it; no call while paused; top-up and resume finish with nothing lost or charged twice', async () => {
    const urls = Array.from({ length: 30 }, (_, i) => ({ url: page(i + 1) }));
    const chargedBefore = stack.api.state.counters.snapshot().credits.charged_total;
    const { batchId, handle } = await startBatch(stack.client, stack.store, {
      batchId: 'balance-1',
      urls,
      options: OPTIONS,
    });
    const paused = await eventually(
      async () => {
        const p = await getProgress(stack.client, stack.store, batchId);
        return p.state === 'paused' && p.counts.in_flight === p.waiting ? p : undefined;
      },
      { what: 'the batch to pause for balance with every in-flight URL waiting' },
    );
    assert.equal(paused.pauseReason, 'balance');
    assert.equal(paused.counts.succeeded, 10, 'the balance of 10 paid for exactly 10 pages');
    assert.equal(paused.counts.failed + paused.counts.dead_lettered, 0, 'a 402 fails no URL');

    // While paused, nothing reaches the API. Absence needs an observation window: 1.5 s is several
    // times the retry delays above, so a leaking retry or start would show.
    const requestsWhilePaused = scrapeRequests();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal(scrapeRequests(), requestsWhilePaused, 'no OmniScrape call while paused');

    await stack.admin('POST', '/admin/balance', { account: 'test', add: 100 });
    await resumeBatch(stack.client, batchId);
    const final = (await handle.result()) as BatchProgress;
    assert.equal(final.state, 'completed');
    assert.equal(final.counts.succeeded, 30);
    const rs = await stack.records(batchId);
    assert.deepEqual(
      rs.map((r) => r.index),
      [...Array(30).keys()],
      'exactly one record per URL',
    );
    const sum = rs.reduce((s, r) => s + r.charged, 0);
    assert.equal(sum, 30);
    assert.equal(final.credits, 30);
    assert.equal(
      stack.api.state.counters.snapshot().credits.charged_total - chargedBefore,
      30,
      'nothing charged twice',
    );
    assert.ok((stack.api.state.counters.snapshot().outcomes['402'] ?? 0) >= 1);
  });

  it('a worker killed with SIGKILL mid-poll: a new worker finishes the render, submitted once', async () => {
    await stack.admin('POST', '/admin/faults', {
      rules: [
        { id: 'slow-job', match: page(301), action: 'latency', latencyMs: 4000, endpoints: ['async_submit'] },
      ],
    });
    const pollsBefore = stack.api.state.counters.snapshot().async.polls;
    const { batchId, handle } = await startBatch(stack.client, stack.store, {
      batchId: 'kill-1',
      urls: [{ url: page(301) }],
      options: { ...OPTIONS, asyncFlow: 'always' },
    });
    await eventually(() => Promise.resolve(stack.api.state.counters.snapshot().async.polls > pollsBefore), {
      what: 'the first status poll of the job',
      intervalMs: 20,
    });
    const [first] = stack.workers;
    await first!.kill('SIGKILL');
    await stack.startWorker();
    const final = (await handle.result()) as BatchProgress;
    assert.equal(final.counts.succeeded, 1);
    const record = await stack.store.getResult(batchId, 0);
    assert.equal(record?.status, 'succeeded');
    assert.ok(record?.jobId);
    const counters = stack.api.state.counters.snapshot();
    assert.equal(counters.async.submitted_by_url[page(301)], 1, 'the job was submitted once');
    assert.equal(counters.async.idempotent_replays, 0, 'and never re-submitted');
  });
});
