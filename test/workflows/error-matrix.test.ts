/**
 * Every row of the error matrix, end to end: fault rules in the real local API, a real worker process,
 * the real dev server. Delays are shortened through the batch's retry options, never by faking time.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resumeBatch, startBatch } from '../../src/client/batches.js';
import { getProgress } from '../../src/client/progress.js';
import type { BatchOptionsInput } from '../../src/batch/options.js';
import type { BatchProgress } from '../../src/workflows/types.js';
import type { ResultRecord } from '../../src/store/types.js';
import { eventually, startStack, type Stack } from '../support/stack.js';

let stack: Stack;
before(async () => {
  stack = await startStack({ concurrency: 4 });
  await stack.startWorker();
});
after(() => stack?.stop());

const FAST: BatchOptionsInput = {
  mode: 'fast',
  concurrency: 8,
  retry: { rateLimitBaseMs: 200, upstreamDelayMs: 100, timeoutDelayMs: 100 },
  polling: { initialMs: 200, maxMs: 500, budgetMs: 30_000 },
  timeouts: { scrapeMs: 3000, heartbeatMs: 2000 },
};

const page = (n: number) => `${stack.demoOrigin}/p/${n}`;

async function byUrl(batchId: string): Promise<Map<string, ResultRecord>> {
  const out = new Map<string, ResultRecord>();
  for await (const r of stack.store.listResults(batchId)) out.set(r.url, r);
  return out;
}

/** The worker's cost lines for one URL, in order. */
function callsFor(url: string): { time: number; attempt: number; error_code?: string }[] {
  return stack.workers
    .flatMap((w) => w.lines)
    .map(
      (l) =>
        JSON.parse(l) as { event?: string; url?: string; time: string; attempt: number; error_code?: string },
    )
    .filter((l) => l.event === 'omniscrape_call' && l.url === url)
    .map((l) => ({
      time: Date.parse(l.time),
      attempt: l.attempt,
      ...(l.error_code ? { error_code: l.error_code } : {}),
    }));
}

describe('the error matrix end to end', () => {
  it('retries 429 after Retry-After, 5xx three times, a timeout once then async; dead-letters success:false', async () => {
    const fired = (id: string) => stack.api.state.counters.snapshot().faults_fired[id] ?? 0;
    await stack.admin('POST', '/admin/faults', {
      rules: [
        { id: '429-twice', match: page(101), action: 'status', status: 429, retryAfterSec: 1, first: 2 },
        { id: '429-always', match: page(102), action: 'status', status: 429, retryAfterSec: 0 },
        { id: '503-thrice', match: page(103), action: 'status', status: 503, first: 3 },
        { id: '500-always', match: page(104), action: 'status', status: 500 },
        { id: 'false', match: page(105), action: 'success_false' },
        { id: 'hang', match: page(106), action: 'hang', endpoints: ['scrape'] },
      ],
    });
    const urls = [101, 102, 103, 104, 105, 106].map((n) => ({ url: page(n) }));
    urls.push({ url: `${stack.demoOrigin}/status/404` });
    const { batchId, handle } = await startBatch(stack.client, stack.store, {
      batchId: 'matrix-1',
      urls,
      options: FAST,
    });
    const final = (await handle.result()) as BatchProgress;
    assert.equal(final.state, 'completed');
    const rs = await byUrl(batchId);
    assert.equal(rs.size, 7);

    // 429 twice then success: three tries, each retry no sooner than Retry-After (1 s).
    const r101 = rs.get(page(101));
    assert.equal(r101?.status, 'succeeded');
    assert.equal(r101?.attempts, 3);
    const calls = callsFor(page(101));
    assert.deepEqual(
      calls.map((c) => c.attempt),
      [1, 2, 3],
    );
    for (let i = 1; i < calls.length; i++) {
      assert.ok(
        calls[i]!.time - calls[i - 1]!.time >= 1000,
        `retry ${i} came ${calls[i]!.time - calls[i - 1]!.time} ms later`,
      );
    }
    // 429 forever: five tries, then failed as rate_limited.
    assert.equal(rs.get(page(102))?.status, 'failed');
    assert.equal(rs.get(page(102))?.reason, 'rate_limited');
    assert.equal(fired('429-always'), 5);
    assert.ok(final.rateLimited >= 1, 'the batch heard about the 429s');
    // 503 three times then success; 500 forever: 1 + 3 retries, then failed.
    assert.equal(rs.get(page(103))?.status, 'succeeded');
    assert.equal(rs.get(page(103))?.attempts, 4);
    assert.equal(rs.get(page(104))?.status, 'failed');
    assert.equal(rs.get(page(104))?.reason, 'upstream');
    assert.equal(fired('500-always'), 4);
    // success:false (forced and real): dead-lettered after one call, the response kept.
    const r105 = rs.get(page(105));
    assert.equal(r105?.status, 'dead_lettered');
    assert.equal(r105?.reason, 'scrape_failed');
    assert.equal(r105?.attempts, 1);
    assert.equal((r105?.response as { success?: boolean } | undefined)?.success, false);
    assert.equal(fired('false'), 1);
    const r404 = rs.get(`${stack.demoOrigin}/status/404`);
    assert.equal(r404?.status, 'dead_lettered');
    assert.equal(callsFor(`${stack.demoOrigin}/status/404`).length, 1);
    // Two client timeouts, then the async job flow, submitted once.
    const r106 = rs.get(page(106));
    assert.equal(r106?.status, 'succeeded');
    assert.ok(r106?.jobId, 'went through the async job flow');
    assert.equal(fired('hang'), 2);
    assert.equal(stack.api.state.counters.snapshot().async.submitted_by_url[page(106)], 1);
    assert.deepEqual(final.counts, { succeeded: 3, failed: 2, dead_lettered: 2, in_flight: 0, pending: 0 });
  });

  it('pauses the batch on 401 without failing the URL, and resume finishes it', async () => {
    await stack.admin('POST', '/admin/faults', {
      rules: [{ id: 'auth', match: page(201), action: 'status', status: 401 }],
    });
    const urls = [201, 202, 203].map((n) => ({ url: page(n) }));
    const { batchId, handle } = await startBatch(stack.client, stack.store, {
      batchId: 'matrix-auth',
      urls,
      options: { ...FAST, concurrency: 1 },
    });
    const paused = await eventually(
      async () => {
        const p = await getProgress(stack.client, stack.store, batchId);
        return p.state === 'paused' && p.waiting === 1 ? p : undefined;
      },
      { what: 'the batch to pause for auth' },
    );
    assert.equal(paused.pauseReason, 'auth');
    assert.equal(paused.counts.succeeded, 0, 'no new URL started after the 401');
    assert.equal(await stack.store.getResult(batchId, 0), undefined, 'the URL is not failed');
    // The key is fixed: the fault goes away, the operator resumes.
    await stack.admin('DELETE', '/admin/faults');
    await resumeBatch(stack.client, batchId);
    const final = (await handle.result()) as BatchProgress;
    assert.equal(final.state, 'completed');
    assert.equal(final.counts.succeeded, 3);
    assert.equal((await stack.store.getResult(batchId, 0))?.status, 'succeeded');
  });
});
