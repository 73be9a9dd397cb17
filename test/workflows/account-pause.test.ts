/**
 * A 402 in one batch pauses every running batch of the same account (and only that account), with the
 * reason visible; after a top-up, resuming finishes them all with nothing charged twice. An outage one
 * batch meets spreads the same way, and every batch it paused resumes by itself.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resumeBatch, startBatch } from '../../src/client/batches.js';
import { getProgress } from '../../src/client/progress.js';
import type { BatchOptionsInput } from '../../src/batch/options.js';
import type { BatchProgress } from '../../src/workflows/types.js';
import { BatchStatusAttr, PauseReasonAttr } from '../../src/temporal/search-attributes.js';
import { eventually, startStack, type Stack, type WorkerProcess } from '../support/stack.js';

let stack: Stack;
let worker: WorkerProcess;
before(async () => {
  stack = await startStack({ concurrency: 4, balance: 5 });
  worker = await stack.startWorker();
});
after(() => stack?.stop());

const OPTIONS: BatchOptionsInput = { mode: 'fast', concurrency: 1, retry: { upstreamDelayMs: 100 } };

describe('account-wide pause', () => {
  it('a 402 in batch A pauses running batch B of the same account, not batch C of another', async () => {
    const page = (n: number) => `${stack.demoOrigin}/p/${n}`;
    // B's and C's first calls wait at the demo site (which holds the item batches they fetch) from
    // before A starts until the pause has spread: A drains the balance while B and C still run, and
    // neither can meet a 402 of its own first.
    const hold = stack.demo.holdInteractiveItems();
    const held = (batch: string) =>
      Array.from({ length: 6 }, (_, i) => ({
        url: `${stack.demoOrigin}/interactive/items?page=${i + 1}&batch=${batch}`,
      }));
    const b = await startBatch(stack.client, stack.store, {
      batchId: 'acct-b',
      urls: held('b'),
      options: { ...OPTIONS, account: 'shop' },
    });
    const c = await startBatch(stack.client, stack.store, {
      batchId: 'acct-c',
      urls: held('c'),
      options: { ...OPTIONS, account: 'other' },
    });
    await eventually(() => Promise.resolve(hold.held() === 2 || undefined), {
      what: "B's and C's first calls held at the demo site",
    });
    const a = await startBatch(stack.client, stack.store, {
      batchId: 'acct-a',
      urls: Array.from({ length: 6 }, (_, i) => ({ url: page(100 + i) })),
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
    // meets a 402 of its own once released; what matters is that A's pause did not reach it.)
    const spread = stack.workers
      .flatMap((w) => w.lines)
      .map((l) => JSON.parse(l) as { event?: string; by?: string; paused?: string[] })
      .filter((l) => l.event === 'account_paused' && l.by === 'acct-a');
    assert.equal(spread.length, 1);
    assert.ok(spread[0]!.paused!.includes('acct-b'));
    assert.ok(!spread[0]!.paused!.includes('acct-c'));
    assert.equal((await getProgress(stack.client, stack.store, 'acct-c')).state, 'running', 'C still runs');

    hold.release();
    await stack.admin('POST', '/admin/balance', { account: 'test', add: 1000 });
    await Promise.all(['acct-a', 'acct-b', 'acct-c'].map((id) => resumeBatch(stack.client, id)));
    const finals = (await Promise.all([a, b, c].map((x) => x.handle.result()))) as BatchProgress[];
    for (const f of finals) assert.deepEqual([f.state, f.counts.succeeded], ['completed', 6]);
    const credits = finals.reduce((s, f) => s + f.credits, 0);
    assert.equal(credits, 18);
    assert.equal(stack.api.state.counters.snapshot().credits.charged_total, 18, 'nothing charged twice');
  });
  it('an outage batch A meets pauses batch B of the same account (reason outage), not C; all resume by themselves', async () => {
    // A fresh worker: its outage detector counts only the calls of this test.
    await worker.kill('SIGKILL');
    worker = await stack.startWorker();
    const page = (n: number) => `${stack.demoOrigin}/p/${n}`;
    const hold = stack.demo.holdInteractiveItems();
    const held = (batch: string) =>
      Array.from({ length: 4 }, (_, i) => ({
        url: `${stack.demoOrigin}/interactive/items?page=${i + 1}&batch=outage-${batch}`,
      }));
    // Only A's URLs meet the 5xx: B's and C's first calls wait at the demo site, so whatever pauses B
    // comes from A.
    await stack.admin('PUT', '/admin/faults', {
      rules: [{ id: 'down', match: `${stack.demoOrigin}/p/4*`, action: 'status', status: 500 }],
    });
    try {
      const b = await startBatch(stack.client, stack.store, {
        batchId: 'outage-b',
        urls: held('b'),
        options: { ...OPTIONS, account: 'shop' },
      });
      const c = await startBatch(stack.client, stack.store, {
        batchId: 'outage-c',
        urls: held('c'),
        options: { ...OPTIONS, account: 'other' },
      });
      await eventually(() => Promise.resolve(hold.held() === 2 || undefined), {
        what: "B's and C's first calls held at the demo site",
      });
      const a = await startBatch(stack.client, stack.store, {
        batchId: 'outage-a',
        urls: Array.from({ length: 4 }, (_, i) => ({ url: page(400 + i) })),
        // More tries than the outage detector needs calls (10): the URL cannot fail as `upstream` first.
        options: { ...OPTIONS, account: 'shop', retry: { upstreamRetries: 12, upstreamDelayMs: 50 } },
      });
      const spread = await eventually(
        () =>
          Promise.resolve(
            worker.lines
              .map(
                (l) => JSON.parse(l) as { event?: string; by?: string; reason?: string; paused?: string[] },
              )
              .find((l) => l.event === 'account_paused' && l.by === 'outage-a'),
          ),
        { what: "A's outage spread to its account" },
      );
      assert.equal(spread.reason, 'outage');
      assert.ok(spread.paused?.includes('outage-b'), 'B was paused');
      assert.ok(!spread.paused?.includes('outage-c'), 'C (another account) was not');
      // B got the pause with reason outage (it may have resumed by itself since: its probe finds the API).
      const pauses = async (id: string) =>
        ((await stack.client.workflow.getHandle(id).fetchHistory()).events ?? [])
          .filter((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'pause')
          .map((e) => {
            const data = e.workflowExecutionSignaledEventAttributes?.input?.payloads?.[0]?.data;
            return data
              ? (JSON.parse(Buffer.from(data).toString()) as { reason?: string }).reason
              : undefined;
          });
      // (A's own probe may resume A meanwhile, meet the 5xx again and spread again: B's pauses are all
      // for the outage.)
      const pausesOfB = await pauses('outage-b');
      assert.ok(pausesOfB.length >= 1, 'B got the pause');
      assert.deepEqual(new Set(pausesOfB), new Set(['outage']));
      assert.deepEqual(await pauses('outage-c'), []);
      assert.equal(await stack.store.getResult('outage-a', 0), undefined, 'the outage failed no URL of A');

      await stack.admin('PUT', '/admin/faults', { rules: [] });
      hold.release();
      // Nobody resumes them: each paused batch's probe finds the API answering.
      const finals = (await Promise.all([a, b, c].map((x) => x.handle.result()))) as BatchProgress[];
      for (const f of finals)
        assert.deepEqual(
          [f.batchId, f.state, f.counts.succeeded, f.counts.failed],
          [f.batchId, 'completed', 4, 0],
        );
    } finally {
      hold.release();
      await stack.admin('PUT', '/admin/faults', { rules: [] });
    }
  });
});
