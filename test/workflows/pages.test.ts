/**
 * What issue 13 promises of the page design, end to end (real dev server, worker process, local API,
 * demo site): pages `<batchId>/p<k>` sharing the batch's concurrency and inspectable in the Web UI, the
 * credit cap, cancels that record every URL and lose no paid answer, and OmniScrape outages (refused
 * connections, 5xx on most calls) that pause the batch and resume it by itself, failing no URL.
 * Synchronised on the demo site's hold, the store's records and the local API's counters.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { BatchOptionsInput } from '../../src/batch/options.js';
import { cancelBatch, resumeBatch, startBatch } from '../../src/client/batches.js';
import { getProgress } from '../../src/client/progress.js';
import type { ResultRecord } from '../../src/store/types.js';
import {
  BatchIdAttr,
  BatchStatusAttr,
  DeadLetteredAttr,
  FailedAttr,
  SucceededAttr,
} from '../../src/temporal/search-attributes.js';
import type { BatchProgress, PauseReason } from '../../src/workflows/types.js';
import { eventually, startStack, type Stack, type WorkerProcess } from '../support/stack.js';

/** The plan's limit: above every batch's concurrency here, so what bounds the calls is the batch's. */
const PLAN_LIMIT = 8;
let stack: Stack;
let worker: WorkerProcess;
before(async () => {
  stack = await startStack({ concurrency: PLAN_LIMIT, restartableApi: true });
  worker = await stack.startWorker();
});
after(() => stack?.stop());

const FAST: BatchOptionsInput = {
  mode: 'fast',
  retry: { rateLimitBaseMs: 100, upstreamDelayMs: 100, timeoutDelayMs: 100 },
  timeouts: { scrapeMs: 30_000, heartbeatMs: 2000 },
};
const page = (n: number) => `${stack.demoOrigin}/p/${n}`;
/** A URL whose answer the demo site holds while `holdInteractiveItems` is on (distinct per `i`). */
const held = (batch: string, i: number) =>
  `${stack.demoOrigin}/interactive/items?page=${(i % 100) + 1}&batch=${batch}&i=${i}`;
const counters = () => stack.api.state.counters.snapshot();
const charged = () => counters().credits.charged_total;

async function progressOf(batchId: string) {
  return getProgress(stack.client, stack.store, batchId);
}

/** Waits until the batch is paused (for `reason`) with every URL it has in flight waiting. */
async function pausedFor(batchId: string, reason: PauseReason): Promise<BatchProgress> {
  return eventually(
    async () => {
      const p = await progressOf(batchId);
      return p.state === 'paused' && p.pauseReason === reason && p.counts.in_flight === p.waiting
        ? p
        : undefined;
    },
    { what: `batch ${batchId} paused for ${reason}`, timeoutMs: 120_000 },
  );
}

/** Exactly one record per input line, in index order. */
async function oneRecordEach(batchId: string, total: number): Promise<ResultRecord[]> {
  const rs = await stack.records(batchId);
  assert.deepEqual(
    rs.map((r) => r.index),
    [...Array(total).keys()],
    'exactly one record per URL',
  );
  return rs;
}

const sumCharged = (rs: ResultRecord[]) => rs.reduce((s, r) => s + r.charged, 0);

/** A charged answer is only ever recorded as `succeeded`, and the records hold what the API charged. */
function paidAnswersKept(rs: ResultRecord[], chargedDelta: number) {
  for (const r of rs.filter((x) => x.charged > 0))
    assert.equal(r.status, 'succeeded', `URL ${r.index} was charged, so it succeeded`);
  assert.equal(sumCharged(rs), chargedDelta, 'the records hold every credit the API charged');
}

describe('page workflows', () => {
  it('runs a batch as pages p0..p4 that share its concurrency; URL activities have id = index, summary = URL', async () => {
    await stack.admin('POST', '/admin/counters/reset');
    const batchId = 'pages-45';
    const urls = Array.from({ length: 45 }, (_, i) => ({ url: held(batchId, i) }));
    const hold = stack.demo.holdInteractiveItems();
    let final: BatchProgress;
    try {
      const started = await startBatch(stack.client, stack.store, {
        batchId,
        urls,
        options: { ...FAST, concurrency: 4, pageSize: 10, pagesInFlight: 2 },
      });
      // Two pages in flight, two URLs each: the batch's whole concurrency, and no more, is in use.
      await eventually(() => Promise.resolve(hold.held() === 4 || undefined), {
        what: 'four calls held at the demo site',
      });
      assert.equal(counters().concurrency.current_by_account.test, 4);
      const running = await progressOf(batchId);
      assert.deepEqual(running.pages?.running, [`${batchId}/p0`, `${batchId}/p1`]);
      assert.equal(running.counts.in_flight, 4);
      hold.release();
      final = (await started.handle.result()) as BatchProgress;
    } finally {
      hold.release();
    }
    assert.deepEqual(final.counts, { succeeded: 45, failed: 0, dead_lettered: 0, in_flight: 0, pending: 0 });
    assert.deepEqual(final.pages, { total: 5, done: 5, running: [] });
    const rs = await oneRecordEach(batchId, 45);
    assert.ok(rs.every((r, i) => r.status === 'succeeded' && r.url === urls[i]!.url));
    const peak = counters().concurrency.peak_by_account.test ?? 0;
    assert.ok(peak <= 4, `peak ${peak} calls in flight, the batch's concurrency is 4`);

    const batch = await stack.client.workflow.getHandle(batchId).describe();
    assert.equal(batch.typedSearchAttributes.get(SucceededAttr), 45);
    assert.equal(batch.typedSearchAttributes.get(BatchStatusAttr), 'completed');
    for (let k = 0; k < 5; k++) {
      const pageId = `${batchId}/p${k}`;
      const handle = stack.client.workflow.getHandle(pageId);
      const description = await handle.describe();
      assert.equal(description.status.name, 'COMPLETED');
      const attrs = description.typedSearchAttributes;
      assert.equal(attrs.get(BatchIdAttr), batchId, `${pageId} carries its batch id`);
      assert.deepEqual(
        [attrs.get(SucceededAttr), attrs.get(FailedAttr), attrs.get(DeadLetteredAttr)],
        [k < 4 ? 10 : 5, 0, 0],
        `${pageId} carries its counts`,
      );
      // Its URL activities: id = the URL's index, summary = the URL (what the Web UI lists).
      const events = (await handle.fetchHistory()).events ?? [];
      const scrapes = events
        .filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'scrapeUrl')
        .map((e) => {
          const summary = e.userMetadata?.summary?.data;
          return {
            id: e.activityTaskScheduledEventAttributes?.activityId,
            summary: summary ? (JSON.parse(Buffer.from(summary).toString()) as string) : undefined,
          };
        });
      const indexes = Array.from({ length: k < 4 ? 10 : 5 }, (_, i) => 10 * k + i);
      assert.deepEqual(
        scrapes,
        indexes.map((i) => ({ id: String(i), summary: urls[i]!.url })),
        `${pageId}: one activity per URL, id = index, summary = URL`,
      );
    }
  });

  it("a URL's user:pass@ is not in its activity summary; the activity gets the real URL", async () => {
    const batchId = 'pages-credentials';
    const url = page(1).replace('://', '://scraper:pw-in-url@');
    const { handle } = await startBatch(stack.client, stack.store, {
      batchId,
      urls: [{ url }],
      options: FAST,
    });
    await handle.result();
    const events = (await stack.client.workflow.getHandle(`${batchId}/p0`).fetchHistory()).events ?? [];
    const scheduled = events.find(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'scrapeUrl',
    );
    const summary = scheduled?.userMetadata?.summary?.data;
    assert.ok(summary, 'the activity has a summary');
    assert.equal(JSON.parse(Buffer.from(summary).toString()), page(1).replace('://', '://***@'));
    const input = scheduled?.activityTaskScheduledEventAttributes?.input?.payloads?.[0]?.data;
    assert.match(Buffer.from(input ?? []).toString(), /scraper:pw-in-url@/, 'the scrape gets the real URL');
    assert.equal((await stack.records(batchId))[0]?.url, url);
  });

  it('pauses for budget before a call could pass maxCredits; resume --max-credits finishes it', async () => {
    const batchId = 'pages-budget';
    const before = charged();
    const scrapesBefore = counters().endpoints.scrape['200_success'] ?? 0;
    const { handle } = await startBatch(stack.client, stack.store, {
      batchId,
      urls: Array.from({ length: 12 }, (_, i) => ({ url: page(500 + i) })),
      // Pages of 4: the cap is reached inside the second page, which gets what the first left.
      options: { ...FAST, concurrency: 2, pageSize: 4, maxCredits: 5 },
    });
    const paused = await pausedFor(batchId, 'budget');
    assert.equal(paused.counts.in_flight, 0);
    assert.equal(paused.maxCredits, 5);
    const rs = await stack.records(batchId);
    assert.ok(sumCharged(rs) <= 5, `spent ${sumCharged(rs)} of a cap of 5`);
    assert.ok(charged() - before <= 5, `the API charged ${charged() - before}`);
    assert.equal(charged() - before, sumCharged(rs));
    // Fast calls cost 1 each: the cap paid for exactly five calls, and no sixth call was made.
    assert.deepEqual(
      rs.map((r) => [r.index, r.status, r.charged]),
      [0, 1, 2, 3, 4].map((i) => [i, 'succeeded', 1]),
    );
    assert.equal((counters().endpoints.scrape['200_success'] ?? 0) - scrapesBefore, 5);
    assert.equal(paused.credits, 5);

    await resumeBatch(stack.client, batchId, { maxCredits: 100 });
    const final = (await handle.result()) as BatchProgress;
    assert.equal(final.state, 'completed');
    assert.equal(final.counts.succeeded, 12);
    assert.equal(final.maxCredits, 100);
    const all = await oneRecordEach(batchId, 12);
    assert.equal(sumCharged(all), 12);
    assert.equal(final.credits, 12);
    assert.equal(charged() - before, 12, 'nothing charged twice');
  });

  it('a cancel mid-batch records every URL: unstarted ones failed(cancelled), no paid answer lost', async () => {
    const batchId = 'pages-cancel';
    // Lines 0-5 answer at once; the rest wait at the demo site: p0 ends up holding 6 and 7, p1 10 and
    // 11, and p2 never starts.
    const urls = Array.from({ length: 30 }, (_, i) => ({ url: i < 6 ? page(600 + i) : held(batchId, i) }));
    const before = charged();
    const hold = stack.demo.holdInteractiveItems();
    try {
      const { handle } = await startBatch(stack.client, stack.store, {
        batchId,
        urls,
        options: { ...FAST, concurrency: 4, pageSize: 10, pagesInFlight: 2 },
      });
      await eventually(() => Promise.resolve(hold.held() === 4 || undefined), {
        what: 'four calls held at the demo site',
      });
      await eventually(async () => (await stack.records(batchId)).length === 6 || undefined, {
        what: 'the first six URLs recorded',
      });
      await cancelBatch(stack.client, batchId);
      const final = (await handle.result()) as BatchProgress;
      assert.equal(final.state, 'cancelled');
      assert.deepEqual(final.counts, {
        succeeded: 6,
        failed: 24,
        dead_lettered: 0,
        in_flight: 0,
        pending: 0,
      });
      const rs = await oneRecordEach(batchId, 30);
      for (const r of rs) {
        if (r.index < 6) assert.equal(r.status, 'succeeded', `URL ${r.index}`);
        else assert.deepEqual([r.status, r.reason], ['failed', 'cancelled'], `URL ${r.index}`);
      }
      paidAnswersKept(rs, charged() - before);
      assert.equal((await progressOf(batchId)).state, 'cancelled');
      const description = await stack.client.workflow.getHandle(batchId).describe();
      assert.equal(description.typedSearchAttributes.get(BatchStatusAttr), 'cancelled');
    } finally {
      hold.release();
    }
  });

  it('a cancel through Temporal (Web UI, `temporal workflow cancel`) does the same', async () => {
    const batchId = 'pages-temporal-cancel';
    const urls = Array.from({ length: 12 }, (_, i) => ({ url: i < 2 ? page(700 + i) : held(batchId, i) }));
    const before = charged();
    const hold = stack.demo.holdInteractiveItems();
    try {
      const { handle } = await startBatch(stack.client, stack.store, {
        batchId,
        urls,
        options: { ...FAST, concurrency: 2, pageSize: 5, pagesInFlight: 1 },
      });
      await eventually(() => Promise.resolve(hold.held() === 2 || undefined), {
        what: 'two calls held at the demo site',
      });
      await stack.client.workflow.getHandle(batchId).cancel();
      const final = (await handle.result()) as BatchProgress;
      assert.equal(final.state, 'cancelled');
      const progress = await progressOf(batchId);
      assert.equal(progress.state, 'cancelled');
      assert.equal(progress.counts.succeeded + progress.counts.failed, 12);
      const rs = await oneRecordEach(batchId, 12);
      for (const r of rs) {
        if (r.index < 2) assert.equal(r.status, 'succeeded', `URL ${r.index}`);
        else assert.deepEqual([r.status, r.reason], ['failed', 'cancelled'], `URL ${r.index}`);
      }
      paidAnswersKept(rs, charged() - before);
      const description = await stack.client.workflow.getHandle(batchId).describe();
      assert.equal(description.typedSearchAttributes.get(BatchStatusAttr), 'cancelled');
    } finally {
      hold.release();
    }
  });
});

describe('OmniScrape outages', () => {
  const probes = (w: WorkerProcess) =>
    w.lines
      .map((l) => JSON.parse(l) as { event?: string; up?: boolean })
      .filter((l) => l.event === 'outage_probe');

  it('connection refused pauses the batch (outage), fails no URL; it resumes by itself when the API is back', async () => {
    const batchId = 'outage-refused';
    // Each call takes a while, so the API goes away with calls in flight and URLs left to start.
    await stack.admin('PUT', '/admin/faults', {
      rules: [{ match: `${stack.demoOrigin}/p/8*`, action: 'latency', latencyMs: 200 }],
    });
    const before = charged();
    const { handle } = await startBatch(stack.client, stack.store, {
      batchId,
      urls: Array.from({ length: 20 }, (_, i) => ({ url: page(800 + i) })),
      options: { ...FAST, concurrency: 2, pageSize: 10 },
    });
    await eventually(async () => (await stack.records(batchId)).length >= 3 || undefined, {
      what: 'three URLs recorded',
    });
    const probesBefore = probes(worker).length;
    await stack.stopApi();
    let paused: BatchProgress;
    try {
      paused = await pausedFor(batchId, 'outage');
      const rs = await stack.records(batchId);
      assert.deepEqual(
        rs.filter((r) => r.status !== 'succeeded').map((r) => [r.index, r.status, r.reason]),
        [],
        'an outage fails no URL',
      );
      assert.ok(rs.length < 20, 'the batch paused before its end');
      assert.equal(paused.counts.failed, 0);
    } finally {
      await stack.restartApi();
    }
    // Nobody resumes it: the probe finds the API answering again.
    const final = (await handle.result()) as BatchProgress;
    assert.equal(final.state, 'completed');
    assert.deepEqual(final.counts, { succeeded: 20, failed: 0, dead_lettered: 0, in_flight: 0, pending: 0 });
    const rs = await oneRecordEach(batchId, 20);
    assert.ok(rs.every((r) => r.status === 'succeeded'));
    paidAnswersKept(rs, charged() - before);
    assert.equal(sumCharged(rs), 20, 'each URL paid once');
    assert.ok(
      probes(worker)
        .slice(probesBefore)
        .some((p) => p.up === true),
      'a probe found it back',
    );
    await stack.admin('PUT', '/admin/faults', { rules: [] });
  });

  it('5xx on most calls pauses the batch (outage) instead of failing URLs; it resumes by itself when they stop', async () => {
    // A fresh worker: its outage detector has seen no successful call of the tests above.
    await worker.kill('SIGKILL');
    worker = await stack.startWorker();
    const batchId = 'outage-5xx';
    await stack.admin('PUT', '/admin/faults', {
      rules: [{ id: 'down', match: '*', action: 'status', status: 500 }],
    });
    const before = charged();
    const { handle } = await startBatch(stack.client, stack.store, {
      batchId,
      urls: Array.from({ length: 12 }, (_, i) => ({ url: page(900 + i) })),
      // More tries than the detector needs calls (10): a URL cannot spend its 5xx budget alone.
      options: { ...FAST, concurrency: 4, retry: { upstreamRetries: 12, upstreamDelayMs: 50 } },
    });
    let paused: BatchProgress;
    try {
      paused = await pausedFor(batchId, 'outage');
      assert.ok((counters().faults_fired.down ?? 0) >= 10, 'the API answered 500 to most calls');
      assert.deepEqual(await stack.records(batchId), [], 'no URL failed (nor ended at all)');
      assert.equal(paused.counts.failed, 0);
    } finally {
      await stack.admin('PUT', '/admin/faults', { rules: [] });
    }
    const final = (await handle.result()) as BatchProgress;
    assert.equal(final.state, 'completed');
    assert.deepEqual(final.counts, { succeeded: 12, failed: 0, dead_lettered: 0, in_flight: 0, pending: 0 });
    const rs = await oneRecordEach(batchId, 12);
    paidAnswersKept(rs, charged() - before);
    assert.ok(
      probes(worker).some((p) => p.up === true),
      'resumed by its probe',
    );
  });
});
