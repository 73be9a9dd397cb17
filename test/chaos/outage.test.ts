/**
 * The second chaos suite (`npm run test:chaos`, or this file alone): the local API as a process of its own (a state file keeps its balance, counters and charges), on a
 * stack of its own: three batches, one after the other, each against one product promise.
 * - Outage: the API is SIGKILLed mid-batch while every call in flight hangs in it (so no answer is cut
 *   off mid-write), stays down for OUTAGE_MS and comes back on the same port. The batch pauses with
 *   reason `outage`, no URL fails, the probe resumes it by itself, and every credit the API charged
 *   (before and after the kill) is on exactly one record.
 * - Budget: a `maxCredits` cap reached mid-batch pauses it with reason `budget` within the cap;
 *   `scrapeflow resume --max-credits` finishes it.
 * - Cancel: a Temporal cancel (the Web UI's) mid-batch, with calls in flight: every URL gets one record,
 *   the unstarted ones `failed(cancelled)`, and no URL the API charged is recorded as anything but
 *   `succeeded` (the API's charge ledger against the store, call by call).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { startBatch } from '../../src/client/batches.js';
import { getProgress } from '../../src/client/progress.js';
import type { BatchOptionsInput } from '../../src/batch/options.js';
import type { AccountView, CountersSnapshot } from '../../devkit/local-api/index.js';
import type { ChargeEntry } from '../../devkit/local-api/charges.js';
import { PauseReasonAttr } from '../../src/temporal/search-attributes.js';
import type { ResultRecord } from '../../src/store/types.js';
import { pageWorkflowId, type BatchProgress } from '../../src/workflows/types.js';
import { runCli } from '../support/cli.js';
import { eventually, startStack, type Stack } from '../support/stack.js';
import { PLAN_LIMIT, SUITE_TIMEOUT_MS, doneOf, say } from './shared.js';

describe('chaos: an OmniScrape outage, a credit cap and a cancel', { timeout: SUITE_TIMEOUT_MS }, () => {
  /** How long the API stays down: longer than the probe's first two waits (5 s, then 10 s). */
  const OUTAGE_MS = 30_000;
  const STATE_FILE = join(tmpdir(), `scrapeflow-chaos-api-${process.pid}.json`);
  let side: Stack;
  const options = (extra: Partial<BatchOptionsInput> = {}): BatchOptionsInput => ({
    mode: 'fast',
    concurrency: PLAN_LIMIT,
    pageSize: 100,
    tags: ['chaos-side'],
    retry: { rateLimitBaseMs: 200, rateLimitCapMs: 2000, upstreamDelayMs: 100, timeoutDelayMs: 100 },
    // Longer than the outage's hanging calls last before the kill ends them.
    timeouts: { scrapeMs: 20_000, heartbeatMs: 2000 },
    ...extra,
  });
  const urlsOf = (batch: string, n: number) =>
    Array.from({ length: n }, (_, i) => ({ url: `${side.demoOrigin}/p/${i + 1}?b=${batch}` }));
  const progressOf = (batchId: string) =>
    getProgress(side.client, side.store, batchId).catch(() => undefined);
  const chargesOf = async (batchId: string) =>
    (await side.admin<{ charges: ChargeEntry[] }>('GET', `/admin/charges?keyPrefix=${batchId}/`)).charges;
  const countersOf = () => side.admin<CountersSnapshot>('GET', '/admin/counters');
  const balanceOf = async () =>
    (await side.admin<{ accounts: AccountView[] }>('GET', '/admin/accounts')).accounts[0]!.balance;
  /** Waits (bounded) for a batch's progress to satisfy `test`. */
  const until = (
    batchId: string,
    what: string,
    test: (p: BatchProgress) => boolean,
    timeoutMs = 3 * 60_000,
  ) =>
    eventually(
      async () => {
        const p = await progressOf(batchId);
        return p && test(p) ? p : undefined;
      },
      { timeoutMs, intervalMs: 200, what: `${batchId}: ${what}` },
    );
  /**
   * The API's charges for a batch against its records: each charged call is one URL's, on a record
   * `succeeded` with the same credits; returns the credits charged.
   */
  const checkCharges = (charges: ChargeEntry[], records: ResultRecord[]) => {
    const byIndex = new Map(records.map((r) => [r.index, r]));
    const seen = new Set<string>();
    for (const c of charges) {
      assert.ok(c.key, 'every charged call carried its idempotency key');
      assert.ok(!seen.has(c.key), `${c.key} charged once`);
      seen.add(c.key);
      const record = byIndex.get(Number(c.key.split('/').at(-1)));
      assert.equal(record?.status, 'succeeded', `the URL charged under ${c.key} is recorded succeeded`);
      assert.equal(record.charged, c.credits, `${c.key}: the record carries what the API charged`);
    }
    const charged = charges.reduce((n, c) => n + c.credits, 0);
    assert.equal(
      charged,
      records.reduce((n, r) => n + r.charged, 0),
      'the records carry every credit charged',
    );
    return charged;
  };

  before(async () => {
    side = await startStack({ concurrency: PLAN_LIMIT, apiStateFile: STATE_FILE });
    await side.startWorker();
  });
  after(async () => {
    const dir = process.env.CHAOS_LOG_DIR;
    if (dir && side)
      await Promise.all(
        side.workers.map((w, i) =>
          writeFile(join(dir, `chaos-side-worker-${i}.log`), w.lines.join('\n') + '\n'),
        ),
      );
    await side?.stop();
    await rm(STATE_FILE, { force: true });
  });

  it('an OmniScrape outage pauses the batch, fails no URL, and the probe resumes it', async () => {
    const batchId = 'chaos-outage';
    const total = 400;
    const initialBalance = await balanceOf();
    const { handle } = await startBatch(side.client, side.store, {
      batchId,
      urls: urlsOf('outage', total),
      options: options(),
    });
    await until(batchId, '100 URLs done', (p) => doneOf(p) >= 100);
    // Every call that reaches the API from now on hangs in it: once all calls in flight hang there, no
    // answer can be mid-write when the kill comes.
    await side.admin('POST', '/admin/faults', {
      id: 'hold',
      match: `${side.demoOrigin}/p/*`,
      action: 'hang',
      endpoints: ['scrape'],
    });
    const beforeKill = await eventually(
      async () => {
        const c = await countersOf();
        const held = c.faults_fired.hold ?? 0;
        return held >= 2 && c.concurrency.current_by_account.test === held ? c : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 50, what: 'every call in flight held in the API' },
    );
    const balanceBeforeKill = await balanceOf();
    const killedAt = performance.now();
    await side.apiProcess!.kill();

    const paused = await until(batchId, 'paused for the outage', (p) => p.state === 'paused');
    assert.equal(paused.pauseReason, 'outage');
    const attrs = (await handle.describe()).typedSearchAttributes;
    assert.equal(attrs.get(PauseReasonAttr), 'outage', 'the search attribute says outage');
    const pausedAfterMs = performance.now() - killedAt;
    const duringOutage = await side.records(batchId);
    assert.equal(
      duringOutage.filter((r) => r.status !== 'succeeded').length,
      0,
      'no URL failed during the outage',
    );
    // The outage itself lasts OUTAGE_MS (the scenario's length, not a synchronisation).
    await delay(Math.max(0, OUTAGE_MS - (performance.now() - killedAt)));
    const stillPaused = await progressOf(batchId);
    assert.equal(stillPaused?.state, 'paused', 'still paused while the API is down');
    assert.equal(stillPaused.pauseReason, 'outage');
    await side.apiProcess!.start();
    const restartedAt = performance.now();
    // Nothing reset: the restarted API starts from what the killed one had (it only grows from there).
    const afterStart = await countersOf();
    assert.ok(afterStart.credits.charged_total >= beforeKill.credits.charged_total, 'charges survived');
    assert.ok(
      (afterStart.endpoints.scrape['200_success'] ?? 0) >= (beforeKill.endpoints.scrape['200_success'] ?? 0),
      'request counters survived',
    );
    assert.ok(beforeKill.credits.charged_total >= 100, 'the API had charged before the kill');

    const resumed = await until(batchId, 'resumed by the probe', (p) => p.state !== 'paused');
    const resumedAfterMs = performance.now() - restartedAt;
    const final = (await handle.result()) as BatchProgress;
    assert.equal(final.state, 'completed');
    const records = await side.records(batchId);
    assert.equal(records.length, total, 'a record for every URL');
    assert.equal(new Set(records.map((r) => r.index)).size, total, 'one record per URL');
    assert.equal(records.filter((r) => r.status !== 'succeeded').length, 0, 'no URL failed');
    const charged = checkCharges(await chargesOf(batchId), records);
    assert.equal(charged, total, 'each URL charged once');
    const counters = await countersOf();
    assert.equal(counters.credits.charged_total, charged, 'the API charged this batch only, once per URL');
    assert.equal(await balanceOf(), initialBalance - charged, 'the balance moved by what was charged');
    assert.equal(counters.endpoints.scrape['200_success'], total, 'one successful call per URL');
    say(
      `outage: API SIGKILLed after ${beforeKill.credits.charged_total} URLs charged, with ` +
        `${beforeKill.faults_fired.hold} calls held in it; ` +
        `batch paused (${paused.pauseReason}) ${(pausedAfterMs / 1000).toFixed(1)} s after the kill with ` +
        `${paused.waiting} URLs waiting; API down ${((restartedAt - killedAt) / 1000).toFixed(1)} s; resumed (${resumed.state}) ` +
        `${(resumedAfterMs / 1000).toFixed(1)} s after the restart; ${records.length} records, failed 0; charged ` +
        `${charged} = ledger = records; balance ${balanceBeforeKill} at the kill, ${await balanceOf()} at the end`,
    );
  });

  it('a maxCredits cap pauses the batch within the cap; resume --max-credits finishes it', async () => {
    const batchId = 'chaos-budget';
    const total = 120;
    const cap = 47;
    const { handle } = await startBatch(side.client, side.store, {
      batchId,
      urls: urlsOf('budget', total),
      options: options({ maxCredits: cap, pageSize: 50 }),
    });
    const paused = await until(
      batchId,
      'paused at the cap',
      (p) => p.state === 'paused' && p.counts.in_flight === 0,
    );
    assert.equal(paused.pauseReason, 'budget');
    const atPause = await side.records(batchId);
    const chargedAtPause = checkCharges(await chargesOf(batchId), atPause);
    assert.ok(chargedAtPause <= cap, `charged ${chargedAtPause} within the cap ${cap}`);
    assert.ok(chargedAtPause > cap - PLAN_LIMIT, `the batch ran up to the cap (${chargedAtPause})`);
    assert.ok(atPause.length < total, 'paused mid-batch');

    const run = await runCli(side, ['resume', batchId, '--max-credits', String(2 * total)]);
    assert.equal(run.code, 0, `resume: ${run.stderr}`);
    const final = (await handle.result()) as BatchProgress;
    assert.equal(final.state, 'completed');
    const records = await side.records(batchId);
    assert.equal(records.length, total);
    assert.equal(records.filter((r) => r.status === 'succeeded').length, total);
    const charged = checkCharges(await chargesOf(batchId), records);
    assert.equal(charged, total);
    assert.equal(final.credits, charged);
    say(
      `budget: cap ${cap} reached after ${atPause.length} URLs (charged ${chargedAtPause}, paused ${paused.pauseReason}); ` +
        `resume --max-credits ${2 * total}: ${records.length} records succeeded, charged ${charged}`,
    );
  });

  it('a cancel mid-batch records every URL once and never a charged URL as failed', async () => {
    const batchId = 'chaos-cancel';
    const total = 600;
    // Slow answers, some very slow: calls are in flight when the cancel lands, some about to be
    // charged, some cut off by it.
    await side.admin('POST', '/admin/faults', {
      rules: [
        {
          id: 'cancel-slower',
          match: `${side.demoOrigin}/p/*?b=cancel`,
          action: 'latency',
          latencyMs: 2000,
          fraction: 0.1,
          seed: 13,
          endpoints: ['scrape'],
        },
        {
          id: 'cancel-slow',
          match: `${side.demoOrigin}/p/*?b=cancel`,
          action: 'latency',
          latencyMs: 150,
          endpoints: ['scrape'],
        },
      ],
    });
    const closedBefore = (await countersOf()).outcomes.client_closed ?? 0;
    const { handle } = await startBatch(side.client, side.store, {
      batchId,
      urls: urlsOf('cancel', total),
      options: options(),
    });
    await until(batchId, '100 URLs done', (p) => doneOf(p) >= 100);
    // Through Temporal, as the Web UI or `temporal workflow cancel` would.
    await handle.cancel();
    const final = await until(
      batchId,
      'cancelled',
      (p) => p.state === 'cancelled' && p.endedAt !== undefined,
    );
    const records = await side.records(batchId);
    assert.equal(records.length, total, 'a record for every URL');
    assert.equal(new Set(records.map((r) => r.index)).size, total, 'one record per URL');
    const cancelled = records.filter((r) => r.status === 'failed');
    for (const r of cancelled) assert.equal(r.reason, 'cancelled', `URL ${r.index} failed only as cancelled`);
    // Pages whose workflow never started: every line of theirs is failed(cancelled).
    const pageSize = 100;
    const neverStarted: number[] = [];
    for (let k = 0; k < total / pageSize; k++) {
      const started = await side.client.workflow
        .getHandle(pageWorkflowId(batchId, k))
        .describe()
        .then(
          () => true,
          (err: Error) => (err.name === 'WorkflowNotFoundError' ? false : Promise.reject(err)),
        );
      if (!started) neverStarted.push(k);
    }
    const unstarted = records.filter((r) => neverStarted.includes(Math.floor(r.index / pageSize)));
    assert.ok(neverStarted.length > 0, 'the cancel came before the last pages started');
    assert.equal(unstarted.length, neverStarted.length * pageSize);
    for (const r of unstarted)
      assert.equal(r.reason, 'cancelled', `unstarted URL ${r.index} is failed(cancelled)`);
    const charges = await chargesOf(batchId);
    const charged = checkCharges(charges, records);
    const succeeded = records.filter((r) => r.status === 'succeeded').length;
    assert.equal(charges.length, succeeded, 'every succeeded URL was charged, and only those');
    assert.equal(final.counts.succeeded + final.counts.failed + final.counts.dead_lettered, total);
    assert.equal(final.counts.failed, cancelled.length);
    const counters = await countersOf();
    const calls = (counters.faults_fired['cancel-slow'] ?? 0) + (counters.faults_fired['cancel-slower'] ?? 0);
    const cutOff = (counters.outcomes.client_closed ?? 0) - closedBefore;
    say(
      `cancel (Temporal): ${succeeded} succeeded (charged ${charged}, each on its record), ${cancelled.length} ` +
        `failed(cancelled), of them ${unstarted.length} on ${neverStarted.length} pages never started; ` +
        `${calls} calls made, ${cutOff} cut off unpaid by the cancel`,
    );
  });
});
