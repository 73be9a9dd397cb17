/**
 * The browser path end to end (real dev server, worker processes from bin/scrapeflow, local API BaaS,
 * real Chromium): batches with `steps` run on the `browser` queue.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resumeBatch, startBatch } from '../../src/client/batches.js';
import { getProgress } from '../../src/client/progress.js';
import type { BatchOptionsInput } from '../../src/batch/options.js';
import type { BatchProgress } from '../../src/workflows/types.js';
import type { SessionView } from '../../devkit/local-api/baas.js';
import { containsText, eventually, startStack, type Stack } from '../support/stack.js';

let stack: Stack;
before(async () => {
  stack = await startStack({ concurrency: 2, browserSessions: 1 });
  await stack.startWorker();
  await stack.startWorker({ BAAS_CONCURRENCY: '2' }, 'browser');
});
after(() => stack?.stop());

const BASE: BatchOptionsInput = {
  concurrency: 2,
  retry: { rateLimitBaseMs: 300, rateLimitMaxTries: 10, upstreamDelayMs: 200 },
  // Beats go out every 0.8 × the timeout (the SDK's throttle): 5 s leaves a Chromium start on a loaded
  // machine 1 s of slack before the server gives the try up.
  timeouts: { scrapeMs: 60_000, heartbeatMs: 5000 },
};

const alive = (pid: number | undefined): boolean => {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('browser path (BaaS over CDP on the browser queue)', () => {
  it('scrapes the interactive page: banner dismissed, filter chosen, lazy items loaded, fields extracted', async () => {
    const sessions: SessionView[] = [];
    const onStarted = (v: SessionView): void => void sessions.push(v);
    stack.api.state.baas.events.on('started', onStarted);
    const { batchId, handle } = await startBatch(stack.client, stack.store, {
      batchId: 'browser-interactive',
      urls: [{ url: `${stack.demoOrigin}/interactive` }],
      options: {
        ...BASE,
        tags: ['browser'],
        steps: [
          { action: 'click', selector: '#cookie-accept' },
          { action: 'waitFor', selector: '#cookie-banner', state: 'detached' },
          { action: 'select', selector: 'select#category', value: 'books' },
          { action: 'scroll', until: { selector: '#end:not([hidden])' }, maxScrolls: 20 },
          {
            action: 'extract',
            fields: { loaded: '#items@data-loaded', total: '#items@data-total', first: '.item .item-name' },
          },
          { action: 'extract', fields: { categories: '.item@data-category' }, all: true },
          { action: 'screenshot', name: 'end' },
        ],
      },
    });
    const final = (await handle.result()) as BatchProgress;
    stack.api.state.baas.events.off('started', onStarted);
    assert.equal(final.counts.succeeded, 1);
    const [record] = await stack.records(batchId);
    assert.equal(record?.status, 'succeeded');
    assert.equal(record?.methodUsed, 'browser');
    // One session at 10 credits; a try lost to load (a late heartbeat) opens another, and every session
    // the BaaS billed is on the record and in the batch's credits.
    assert.ok(sessions.length >= 1);
    assert.equal(record?.charged, 10 * sessions.length);
    assert.equal(final.credits, record?.charged);
    assert.equal(record?.fields?.total, '15', 'a quarter of the 60 items are books');
    assert.equal(record?.fields?.loaded, '15', 'every lazy batch was loaded');
    assert.equal(record?.fields?.first, 'Item 2');
    const categories = JSON.parse(record?.fields?.categories ?? '[]') as string[];
    assert.equal(categories.length, 15);
    assert.ok(categories.every((c) => c === 'books'));
    const html = await stack.store.getContent(record?.contentRef ?? '');
    assert.ok(html?.includes('End of the list.') && !html.includes('id="cookie-banner"'));
    const png = await stack.store.getContent(record?.fields?.['screenshot:end'] ?? '');
    assert.equal(
      Buffer.from(png ?? '', 'base64')
        .subarray(1, 4)
        .toString(),
      'PNG',
    );
  });

  it('render_media=false: a media page through the batch fetches no image, video, audio or font', async () => {
    const blockedBefore = stack.api.state.counters.snapshot().browser.blocked_requests;
    const probe = await fetch(`${stack.demoOrigin}/__counters`);
    const assetsBefore = ((await probe.json()) as { assets: Record<string, number> }).assets;
    const { batchId, handle } = await startBatch(stack.client, stack.store, {
      batchId: 'browser-media',
      urls: [{ url: `${stack.demoOrigin}/media/21` }],
      options: { ...BASE, steps: [{ action: 'waitFor', selector: '.media-loaded', state: 'attached' }] },
    });
    await handle.result();
    assert.equal((await stack.store.getResult(batchId, 0))?.status, 'succeeded');
    const after = (
      (await (await fetch(`${stack.demoOrigin}/__counters`)).json()) as { assets: Record<string, number> }
    ).assets;
    assert.deepEqual(after, assetsBefore, 'the demo site served no asset');
    assert.ok(stack.api.state.counters.snapshot().browser.blocked_requests - blockedBefore >= 5);
  });

  it('the session limit is answered with backoff: no URL fails while tries remain', async () => {
    const before = stack.api.state.counters.snapshot().browser;
    const urls = [1, 2, 3].map((n) => ({ url: `${stack.demoOrigin}/p/${n}` }));
    const { batchId, handle } = await startBatch(stack.client, stack.store, {
      batchId: 'browser-limit',
      urls,
      options: {
        ...BASE,
        concurrency: 3,
        // Three URLs share one session: the last waits out two sessions, Chromium's start included, which
        // takes several times longer on a loaded machine. Tries every ≤ 2 s for 80 s keep that wait
        // within the budget, so the test checks the backoff, not the machine's speed.
        retry: { ...BASE.retry, rateLimitMaxTries: 40, rateLimitCapMs: 2000 },
        steps: [
          { action: 'wait', ms: 1500 },
          { action: 'extract', fields: { title: 'h1', price: '[data-price]' } },
        ],
      },
    });
    const final = (await handle.result()) as BatchProgress;
    assert.deepEqual(final.counts, { succeeded: 3, failed: 0, dead_lettered: 0, in_flight: 0, pending: 0 });
    const rs = await stack.records(batchId);
    assert.deepEqual(
      rs.map((r) => r.fields?.title),
      ['Product 1', 'Product 2', 'Product 3'],
    );
    const now = stack.api.state.counters.snapshot().browser;
    assert.ok((now.outcomes['429'] ?? 0) > (before.outcomes['429'] ?? 0), 'the limit was hit');
    assert.equal(now.peak_by_account.test, 1, 'never more than one session open');
    assert.ok(
      rs.some((r) => r.attempts > 1),
      'a refused URL was retried',
    );
  });

  it('a browser worker killed with kill -9 mid-session: retried on a new worker, completes once', async () => {
    const sessions: SessionView[] = [];
    const onStarted = (v: SessionView): void => void sessions.push(v);
    stack.api.state.baas.events.on('started', onStarted);
    // The page's first item batch is held, so the first try is mid-page, on a known step, when it dies.
    const hold = stack.demo.holdInteractiveItems();
    try {
      const { batchId, handle } = await startBatch(stack.client, stack.store, {
        batchId: 'browser-kill',
        urls: [{ url: `${stack.demoOrigin}/interactive?kill=1` }],
        options: {
          ...BASE,
          steps: [
            { action: 'waitFor', selector: '.item', state: 'attached', timeoutMs: 120_000 },
            { action: 'extract', fields: { first: '.item .item-name' } },
          ],
        },
      });
      await eventually(() => Promise.resolve(hold.held() > 0 || undefined), {
        what: 'the first try waiting on the held item batch',
      });
      const [session] = sessions;
      assert.ok(session, 'the first try runs in a browser session');
      assert.equal(sessions.length, 1);
      const ended = new Promise<SessionView>((resolve) => {
        const onEnded = (v: SessionView): void => {
          if (v.id !== session.id) return;
          stack.api.state.baas.events.off('ended', onEnded);
          resolve(v);
        };
        stack.api.state.baas.events.on('ended', onEnded);
      });
      // Mid-session: the try has noted its (billed) session and waits on its first step.
      await eventually(async () => ((await stack.store.notedCharges(batchId, 0)) > 0 ? true : undefined), {
        what: 'the session noted as billed',
      });
      const browserWorker = stack.workers.find((w) =>
        w.lines.some((l) => l.includes('"browser worker started"')),
      );
      await browserWorker!.kill('SIGKILL');
      await ended; // the dead worker's session ended when its socket dropped
      assert.equal(alive(session.pid), false, 'and its Chromium is gone');
      hold.release();
      await stack.startWorker({ BAAS_CONCURRENCY: '2' }, 'browser');
      const final = (await handle.result()) as BatchProgress;
      assert.equal(final.counts.succeeded, 1);
      const rs = await stack.records(batchId);
      assert.equal(rs.length, 1, 'one terminal record');
      assert.equal(rs[0]?.fields?.first, 'Item 1');
      // The killed try and the one that finished are both counted; a try lost to load (a late heartbeat)
      // would add one more, so the count is at least two. Every session the BaaS billed is recorded.
      assert.ok(sessions.length >= 2, `a new session after the kill (${sessions.length})`);
      assert.ok((rs[0]?.attempts ?? 0) >= sessions.length, `attempts ${rs[0]?.attempts}`);
      assert.equal(
        rs[0]?.charged,
        10 * sessions.length,
        'the lost session and the one that finished, both billed, both recorded',
      );
    } finally {
      hold.release();
      stack.api.state.baas.events.off('started', onStarted);
    }
  });

  it('402 from BaaS pauses the batch; top-up and resume complete it', async () => {
    const account = stack.api.state.accounts.byId('test')!;
    const saved = account.balance;
    account.balance = 5;
    const { batchId, handle } = await startBatch(stack.client, stack.store, {
      batchId: 'browser-402',
      urls: [{ url: `${stack.demoOrigin}/p/5` }],
      options: { ...BASE, steps: [{ action: 'extract', fields: { title: 'h1' } }] },
    });
    const paused = await eventually(
      async () => {
        const p = await getProgress(stack.client, stack.store, batchId);
        return p.state === 'paused' && p.waiting === 1 ? p : undefined;
      },
      { what: 'the batch to pause for balance' },
    );
    assert.equal(paused.pauseReason, 'balance');
    account.balance = saved;
    await resumeBatch(stack.client, batchId);
    const final = (await handle.result()) as BatchProgress;
    assert.equal(final.counts.succeeded, 1);
  });

  it('the key, which the CDP URL carries, is in no log line and no workflow history', async () => {
    const lines = stack.workers.flatMap((w) => w.lines);
    assert.ok(
      lines.some((l) => l.includes('"browser_session"')),
      'the browser workers logged sessions',
    );
    assert.ok(!lines.some((l) => l.includes(stack.apiKey)), 'no log line has the key');
    let histories = 0;
    for await (const wf of stack.client.workflow.list()) {
      const history = await stack.client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
      assert.ok(!containsText(history, stack.apiKey), `the key is in the history of ${wf.workflowId}`);
      histories += 1;
    }
    assert.ok(histories >= 10);
  });
});
