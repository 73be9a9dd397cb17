/**
 * A 402 in one batch pauses every running batch of the same account (and only that account), with the
 * reason visible; after a top-up, resuming finishes them all with nothing charged twice.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resumeBatch, startBatch } from '../../src/client/batches.js';
import { getProgress } from '../../src/client/progress.js';
import type { BatchOptionsInput } from '../../src/batch/options.js';
import type { BatchProgress } from '../../src/workflows/types.js';
import { BatchStatusAttr, PauseReasonAttr } from '../../src/temporal/search-attributes.js';
import { eventually, startStack, type Stack } from '../support/stack.js';

let stack: Stack;
before(async () => {
  stack = await startStack({ concurrency: 4, balance: 5 });
  await stack.startWorker();
});
after(() => stack?.stop());

const OPTIONS: BatchOptionsInput = { mode: 'fast', concurrency: 1, retry: { upstreamDelayMs: 100 } };

describe('account-wide pause', () => {
  it('a 402 in batch A pauses running batch B of the same account, not batch C of another', async () => {
    const page = (n: number) => `${stack.demoOrigin}/p/${n}`;
    // B and C make slow calls, so A drains the balance while they still run.
    await stack.admin('PUT', '/admin/faults', {
      rules: [{ match: `${stack.demoOrigin}/p/5*`, action: 'latency', latencyMs: 1500 }],
    });
    const urls = (from: number) => Array.from({ length: 6 }, (_, i) => ({ url: page(from + i) }));
    const b = await startBatch(stack.client, stack.store, {
      batchId: 'acct-b',
      urls: urls(500),
      options: { ...OPTIONS, account: 'shop' },
    });
    const c = await startBatch(stack.client, stack.store, {
      batchId: 'acct-c',
      urls: urls(510),
      options: { ...OPTIONS, account: 'other' },
    });
    const a = await startBatch(stack.client, stack.store, {
      batchId: 'acct-a',
      urls: urls(100),
      options: { ...OPTIONS, account: 'shop' },
    });

    const pausedB = await eventually(
      async () => {
        const p = await getProgress(stack.client, stack.store, 'acct-b');
        return p.state === 'paused' ? p : undefined;
      },
      { what: 'batch B to be paused by batch A' },
    );
    assert.equal(pausedB.pauseReason, 'balance');
    const progressA = await getProgress(stack.client, stack.store, 'acct-a');
    assert.equal(progressA.state, 'paused');
    assert.equal(progressA.pauseReason, 'balance');
    // Visible where operators look: the search attributes the Web UI and `list` filter on.
    const description = await stack.client.workflow.getHandle('acct-b').describe();
    assert.deepEqual(description.typedSearchAttributes.get(BatchStatusAttr), 'paused');
    assert.deepEqual(description.typedSearchAttributes.get(PauseReasonAttr), 'balance');
    // A paused B by signal, and left C (another account) alone. (C shares the local API's balance, so it
    // may meet a 402 of its own later; what matters is that A's pause did not reach it.)
    const spread = stack.workers
      .flatMap((w) => w.lines)
      .map((l) => JSON.parse(l) as { event?: string; by?: string; paused?: string[] })
      .filter((l) => l.event === 'account_paused' && l.by === 'acct-a');
    assert.equal(spread.length, 1);
    assert.ok(spread[0]!.paused!.includes('acct-b'));
    assert.ok(!spread[0]!.paused!.includes('acct-c'));

    await stack.admin('PUT', '/admin/faults', { rules: [] });
    await stack.admin('POST', '/admin/balance', { account: 'test', add: 1000 });
    await Promise.all(['acct-a', 'acct-b', 'acct-c'].map((id) => resumeBatch(stack.client, id)));
    const finals = (await Promise.all([a, b, c].map((x) => x.handle.result()))) as BatchProgress[];
    for (const f of finals) assert.deepEqual([f.state, f.counts.succeeded], ['completed', 6]);
    const credits = finals.reduce((s, f) => s + f.credits, 0);
    assert.equal(credits, 18);
    assert.equal(stack.api.state.counters.snapshot().credits.charged_total, 18, 'nothing charged twice');
  });
});
