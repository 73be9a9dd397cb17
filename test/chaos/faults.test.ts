/**
 * The chaos suite (`npm run test:chaos`): a 2,000-URL batch against the local API with mixed faults —
 * 429 with Retry-After, 5xx (scattered and one burst), `success: false`, hangs (client timeouts that move
 * URLs to the async job flow), slow pages, slow async renders, and interactive pages that run in a
 * browser (BaaS sessions on the browser queue, per-URL `steps`) — while the suite kills a worker of each
 * role (workflows, scrape, browser) with SIGKILL several times (a replacement is started each time, so
 * one is always coming), restarts the Temporal dev server once (same port, persistent database file), drains the
 * balance to trigger a 402, tops up and resumes. Every fault is triggered on a progress milestone, never
 * on a timer.
 *
 * The store is PostgreSQL (a database of its own), and two scrape worker processes share the plan
 * through its leases: each has slots for twice the plan (the default), so only the leases hold it, and
 * each scrape worker kill takes one of the two while the other runs.
 *
 * A browser worker is killed while its sessions are mid-page: the demo site holds the interactive
 * page's item requests, and the kill comes once every open session is waiting on one. That is the moment
 * the invariants are hardest on (sessions billed, no record yet) and it is reached by an event, not a
 * sleep.
 *
 * Then it checks the invariants of ../shared/DESIGN.md and prints each figure as a `# chaos:` line.
 * outage.test.ts is the other chaos suite (an OmniScrape outage, a credit cap, a cancel), on a stack of
 * its own.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WorkflowExecutionInfo } from '@temporalio/client';
import { resumeBatch, startBatch } from '../../src/client/batches.js';
import { getProgress } from '../../src/client/progress.js';
import type { BatchOptionsInput } from '../../src/batch/options.js';
import type { StepInput } from '../../src/batch/steps.js';
import { freePort } from '../../devkit/temporal/dev-server.js';
import type { CountersSnapshot } from '../../devkit/local-api/index.js';
import type { ResultRecord } from '../../src/store/types.js';
import type { BatchProgress } from '../../src/workflows/types.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { containsText, eventually, startStack, type Stack, type WorkerQueue } from '../support/stack.js';
import { PLAN_LIMIT, SUITE_TIMEOUT_MS, doneOf, say } from './shared.js';

/** Scrape worker processes running at once (besides the one being replaced after a kill). */
const SCRAPE_WORKERS = 2;
const TOTAL = Number(process.env.CHAOS_URLS ?? 2000);

/** Which fault group a URL index belongs to (deterministic, so the expected outcome is known). */
function groupOf(i: number): 'dead' | 'hang' | 'slow' | 'interactive' | 'plain' {
  if (i % 50 === 7) return 'dead'; // success:false on every try: 40 URLs
  // Client timeouts -> async job (slow render): 12 URLs, early in each of the 4 pages (which run side by
  // side), so every job has ended well before the 70 % drain and most of the batch is still to come.
  if (i % 50 === 13 && i % 500 < 125) return 'hang';
  if (i % 40 === 21) return 'slow'; // 600 ms pages: 50 URLs
  if (i % 40 === 35) return 'interactive'; // a browser session with steps: 50 URLs
  return 'plain';
}

/** The interactive page's work: dismiss the banner, load every lazy item, count them. */
const INTERACTIVE_STEPS: StepInput[] = [
  { action: 'click', selector: '#cookie-accept' },
  { action: 'waitFor', selector: '#cookie-banner', state: 'detached' },
  { action: 'scroll', until: { selector: '#end:not([hidden])' }, maxScrolls: 20 },
  { action: 'extract', fields: { loaded: '#items@data-loaded', total: '#items@data-total' } },
];
/** Browser sessions the worker runs at once, and the BaaS plan's session limit. */
const BROWSER_SESSIONS = 2;

const OPTIONS: BatchOptionsInput = {
  mode: 'fast',
  concurrency: 2 * PLAN_LIMIT,
  asyncFlow: 'on_timeout',
  tags: ['chaos'],
  retry: {
    rateLimitBaseMs: 200,
    rateLimitCapMs: 2000,
    upstreamDelayMs: 100,
    timeoutDelayMs: 100,
  },
  polling: { initialMs: 300, factor: 1.5, maxMs: 1000, budgetMs: 60_000 },
  timeouts: { scrapeMs: 4000, heartbeatMs: 2000 },
};

/** Temporal's persistent database: the restart must find every workflow again. */
const DB_FILE = join(tmpdir(), `scrapeflow-chaos-${process.pid}.db`);
let stack: Stack;
let database: TestDatabase | undefined;
const kills: string[] = [];
before(async () => {
  database = await createTestDatabase('sf_chaos');
  stack = await startStack({
    concurrency: PLAN_LIMIT,
    databaseUrl: database.url,
    browserSessions: BROWSER_SESSIONS,
    devServer: {
      port: await freePort(),
      dbFile: DB_FILE,
      // Pages continue as new about twice each, under the kills and the restart.
      dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': 1000 },
    },
  });
  await stack.startWorker({}, 'workflows');
  for (let i = 0; i < SCRAPE_WORKERS; i += 1) await stack.startWorker({}, 'scrape');
  await stack.startWorker({ BAAS_CONCURRENCY: String(BROWSER_SESSIONS) }, 'browser');
});
after(async () => {
  // CHAOS_LOG_DIR=dir keeps every worker's log lines for a post-mortem.
  const dir = process.env.CHAOS_LOG_DIR;
  if (dir && stack)
    await Promise.all(
      stack.workers.map((w, i) => writeFile(join(dir, `chaos-worker-${i}.log`), w.lines.join('\n') + '\n')),
    );
  await stack?.stop();
  await database?.drop();
  await rm(DB_FILE, { force: true });
});

/** The workers of `queue` still running. */
const liveWorkers = (queue: WorkerQueue) =>
  stack.workers.filter((w) => w.queue === queue && w.child.exitCode === null && w.child.signalCode === null);

/** Kills the newest live worker of `queue` with SIGKILL, then starts its replacement. */
async function killWorker(at: string, queue: 'workflows' | 'scrape' | 'browser'): Promise<void> {
  const live = liveWorkers(queue);
  const victim = live[live.length - 1];
  assert.ok(victim, `a live ${queue} worker to kill`);
  if (queue === 'scrape') assert.equal(live.length, SCRAPE_WORKERS, 'the other scrape worker runs on');
  await victim.kill('SIGKILL');
  kills.push(`${at} (${queue})`);
  await stack.startWorker(queue === 'browser' ? { BAAS_CONCURRENCY: String(BROWSER_SESSIONS) } : {}, queue);
}

/**
 * Kills the browser worker while every open BaaS session is mid-page: the demo site holds the
 * interactive page's item requests until each open session waits on one, then the worker dies, then the
 * hold ends. Returns how many sessions were caught.
 */
async function killBrowserWorkerMidPage(at: string): Promise<number> {
  const hold = stack.demo.holdInteractiveItems();
  try {
    const caught = await eventually(
      () => {
        const open = stack.api.state.baas.activeFor('test');
        return Promise.resolve(open > 0 && hold.held() >= open ? open : undefined);
      },
      { timeoutMs: 2 * 60_000, intervalMs: 50, what: 'every open browser session held mid-page' },
    );
    await killWorker(at, 'browser');
    return caught;
  } finally {
    hold.release();
  }
}

/** Runs `work` over `items` with at most `limit` at once. */
async function eachLimited<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: limit }, lane));
}

describe(
  'chaos: a 2,000-URL batch under faults, kills, a server restart and a 402',
  { timeout: SUITE_TIMEOUT_MS },
  () => {
    const batchId = 'chaos-2000';
    const url = (i: number) =>
      groupOf(i) === 'interactive'
        ? `${stack.demoOrigin}/interactive?i=${i}`
        : `${stack.demoOrigin}/p/${i + 1}?g=${groupOf(i)}`;
    const indexesOf = (group: ReturnType<typeof groupOf>) =>
      Array.from({ length: TOTAL }, (_, i) => i).filter((i) => groupOf(i) === group);
    let final: BatchProgress;
    let counters: CountersSnapshot;
    let records: ResultRecord[];
    let wallSeconds = 0;
    const deadFiredFor = new Set<string>();
    let recoveredAfterRestart = 0;
    let pausedAt: BatchProgress | undefined;
    const caughtMidPage: number[] = [];

    it('runs to completion through every fault', async () => {
      const origin = stack.demoOrigin;
      await stack.admin('PUT', '/admin/faults', {
        rules: [
          // First match wins: the group rules come before the scattered ones.
          { id: 'dead', match: `${origin}/p/*?g=dead`, action: 'success_false', endpoints: ['scrape'] },
          { id: 'hang', match: `${origin}/p/*?g=hang`, action: 'hang', endpoints: ['scrape'] },
          {
            id: 'slow-job',
            match: `${origin}/p/*?g=hang`,
            action: 'latency',
            latencyMs: 2500,
            endpoints: ['async_submit'],
          },
          {
            id: 'slow',
            match: `${origin}/p/*?g=slow`,
            action: 'latency',
            latencyMs: 600,
            endpoints: ['scrape'],
          },
          {
            id: '429',
            match: `${origin}/p/*`,
            action: 'status',
            status: 429,
            retryAfterSec: 1,
            fraction: 0.04,
            seed: 11,
            endpoints: ['scrape'],
          },
          {
            id: '5xx',
            match: `${origin}/p/*`,
            action: 'status',
            status: 503,
            fraction: 0.03,
            seed: 12,
            endpoints: ['scrape'],
          },
        ],
      });
      stack.api.state.faults.events.on('fired', (rule, _endpoint, target) => {
        if (rule.id === 'dead') deadFiredFor.add(target);
      });

      const started = performance.now();
      const { handle } = await startBatch(stack.client, stack.store, {
        batchId,
        urls: Array.from({ length: TOTAL }, (_, i) =>
          groupOf(i) === 'interactive' ? { url: url(i), steps: INTERACTIVE_STEPS } : { url: url(i) },
        ),
        options: OPTIONS,
      });

      /** Waits (bounded) until `done` URLs have ended, returning the progress seen. */
      let last: BatchProgress | undefined;
      const reach = async (fraction: number) => {
        const target = Math.floor(TOTAL * fraction);
        return eventually(
          async () => {
            const p = await getProgress(stack.client, stack.store, batchId).catch(() => undefined);
            if (p) last = p;
            return p && doneOf(p) >= target ? p : undefined;
          },
          { timeoutMs: 5 * 60_000, intervalMs: 300, what: `${target} URLs done` },
        ).then(
          (p) => {
            // As it happens: a run that outlives its timeout still tells how far it got, and when.
            say(`${doneOf(p)} URLs done at ${((performance.now() - started) / 1000).toFixed(0)} s`);
            return p;
          },
          (err: Error) => {
            const tail = stack.workers.at(-1)?.lines.slice(-5).join('\n');
            throw new Error(
              `${err.message}; last progress ${JSON.stringify(last)}; worker log tail:\n${tail}`,
            );
          },
        );
      };

      await reach(0.1);
      await killWorker('10%', 'scrape');
      await reach(0.15);
      caughtMidPage.push(await killBrowserWorkerMidPage('15%'));
      await reach(0.25);
      await killWorker('25%', 'workflows');

      await reach(0.3);
      // A burst of 5xx: the next 15 scrapes answer 503.
      await stack.admin('POST', '/admin/faults', {
        rules: [
          {
            id: '5xx-burst',
            match: `${origin}/p/*`,
            action: 'status',
            status: 502,
            first: 15,
            endpoints: ['scrape'],
          },
        ],
      });

      const beforeRestart = doneOf(await reach(0.45));
      await stack.restartTemporal();
      // The worker and the client find the server again: progress moves on without a new worker.
      const afterRestart = await eventually(
        async () => {
          const p = await getProgress(stack.client, stack.store, batchId).catch(() => undefined);
          return p && doneOf(p) >= beforeRestart + 50 ? p : undefined;
        },
        { timeoutMs: 3 * 60_000, intervalMs: 300, what: 'progress after the Temporal restart' },
      );
      recoveredAfterRestart = doneOf(afterRestart) - beforeRestart;

      await reach(0.55);
      caughtMidPage.push(await killBrowserWorkerMidPage('55%'));
      await reach(0.6);
      await killWorker('60%', 'scrape');

      await reach(0.7);
      // Async jobs still running while the balance is drained would end `failed: insufficient_balance`
      // (the local API's job semantics): every hang URL ended long before 70 %, this makes it certain.
      await eventually(
        async () => {
          for (const i of indexesOf('hang')) if (!(await stack.store.getResult(batchId, i))) return false;
          return true;
        },
        { timeoutMs: 2 * 60_000, intervalMs: 300, what: 'every async job to end before the drain' },
      );
      await stack.admin('POST', '/admin/balance', { account: 'test', balance: 3 });
      pausedAt = await eventually(
        async () => {
          const p = await getProgress(stack.client, stack.store, batchId).catch(() => undefined);
          return p?.state === 'paused' && p.counts.in_flight === p.waiting ? p : undefined;
        },
        {
          timeoutMs: 2 * 60_000,
          intervalMs: 300,
          what: 'the batch to pause on the 402 with every URL waiting',
        },
      );
      assert.equal(pausedAt.pauseReason, 'balance');
      await stack.admin('POST', '/admin/balance', { account: 'test', add: 1_000_000 });
      await resumeBatch(stack.client, batchId);

      await reach(0.85);
      await killWorker('85%', 'workflows');

      final = await eventually(
        async () => {
          const p = await getProgress(stack.client, stack.store, batchId).catch(() => undefined);
          return p?.state === 'completed' ? p : undefined;
        },
        { timeoutMs: 5 * 60_000, intervalMs: 500, what: 'the batch to complete' },
      );
      final = (await handle.result()) as BatchProgress;
      wallSeconds = (performance.now() - started) / 1000;
      counters = stack.api.state.counters.snapshot();
      records = await stack.records(batchId);
      assert.equal(final.state, 'completed');
    });

    it('every URL ends with exactly one terminal record', () => {
      const seen = new Set<number>();
      for (const r of records) {
        assert.ok(!seen.has(r.index), `index ${r.index} has one record`);
        seen.add(r.index);
        assert.ok(['succeeded', 'failed', 'dead_lettered'].includes(r.status), `terminal status ${r.status}`);
      }
      assert.equal(seen.size, TOTAL, 'a record for every URL');
      assert.equal(final.counts.succeeded + final.counts.failed + final.counts.dead_lettered, TOTAL);
      assert.equal(final.counts.in_flight + final.counts.pending + final.waiting, 0);
      const byStatus = (s: string) => records.filter((r) => r.status === s).length;
      const reasons: Record<string, number> = {};
      for (const r of records)
        if (r.status === 'failed') reasons[r.reason ?? '?'] = (reasons[r.reason ?? '?'] ?? 0) + 1;
      say(
        `records ${records.length}/${TOTAL}: succeeded ${byStatus('succeeded')}, dead-lettered ${byStatus('dead_lettered')}, ` +
          `failed ${byStatus('failed')} ${JSON.stringify(reasons)}; wall ${wallSeconds.toFixed(1)} s`,
      );
      say(
        `faults: kills at ${kills.join(', ')}; Temporal restarted at 45 % (${recoveredAfterRestart} URLs ended after it ` +
          `with the same worker); 402 pause with ${pausedAt?.waiting} URLs waiting; continued-as-new ${final.continuedAsNew}; ` +
          `fired ${JSON.stringify(counters.faults_fired)}`,
      );
    });

    it('dead letters equal the injected success:false', () => {
      const dead = records.filter((r) => r.status === 'dead_lettered');
      const expected = indexesOf('dead');
      assert.deepEqual(
        dead.map((r) => r.index).sort((a, b) => a - b),
        expected,
        'exactly the success:false URLs are dead letters',
      );
      assert.equal(deadFiredFor.size, expected.length, 'success:false was injected for each of them');
      assert.equal(dead.length, deadFiredFor.size);
      for (const r of dead) assert.equal(r.reason, 'scrape_failed');
      say(
        `dead letters ${dead.length} = injected success:false URLs ${deadFiredFor.size} ` +
          `(rule fired ${counters.faults_fired.dead} times: a URL whose answer a killed worker never stored is asked again)`,
      );
    });

    it('concurrent calls never exceed the plan, across two scrape workers and their kills', () => {
      const peak = counters.concurrency.peak_by_account.test ?? 0;
      // A 429 the fault rules did not inject is the local API refusing a call for want of a plan slot:
      // over the plan when the sync calls in flight filled it by themselves, else for the async jobs
      // that hold plan slots no permit covers (docs/deployment.md, Scaling out).
      const scrape429 = counters.endpoints.scrape['429'] ?? 0;
      const injected = counters.faults_fired['429'] ?? 0;
      const overPlan = counters.concurrency.refused_over_plan_by_account.test ?? 0;
      const forJobs = counters.concurrency.refused_for_jobs_by_account.test ?? 0;
      const calls = stack.workers
        .filter((w) => w.queue === 'scrape')
        .map((w) => w.lines.filter((l) => l.includes('"event":"omniscrape_call"')).length);
      say(
        `peak concurrency ${peak} (plan ${PLAN_LIMIT}, ${SCRAPE_WORKERS} scrape workers of ${2 * PLAN_LIMIT} slots, ` +
          `PostgreSQL leases); 429s ${scrape429}: injected ${injected}, refused over the plan ${overPlan}, ` +
          `refused for running async jobs ${forJobs}; calls by scrape worker process ${calls.join(', ')}`,
      );
      assert.ok(peak <= PLAN_LIMIT, `peak ${peak} within the plan ${PLAN_LIMIT}`);
      assert.equal(overPlan, 0, 'no call refused over the plan');
      assert.equal(scrape429, injected + forJobs, 'every 429 injected or for a running async job');
      assert.equal(counters.endpoints.async_submit['429'] ?? 0, 0, 'no async submit refused');
      assert.ok(
        calls.slice(0, SCRAPE_WORKERS).every((n) => n > 0),
        'both first scrape workers made calls',
      );
    });

    it('each async job is submitted once per URL', () => {
      const submitted = counters.async.submitted_by_url;
      const hang = indexesOf('hang').map(url);
      assert.deepEqual(Object.keys(submitted).sort(), [...hang].sort(), 'the hanging URLs went async');
      for (const [u, n] of Object.entries(submitted)) assert.equal(n, 1, `${u} submitted once`);
      for (const i of indexesOf('hang')) {
        const r = records.find((x) => x.index === i);
        assert.equal(r?.status, 'succeeded', `hang URL ${i} succeeded through the async flow`);
        assert.ok(r?.jobId, `hang URL ${i} has its job id`);
      }
      say(
        `async jobs ${counters.async.submitted} for ${Object.keys(submitted).length} URLs (max ${Math.max(...Object.values(submitted))} per URL), ` +
          `idempotent replays ${counters.async.idempotent_replays}, polls ${counters.async.polls}`,
      );
    });

    it('interactive pages ran in a browser; sessions of killed tries are paid and on the record', () => {
      const interactive = indexesOf('interactive').map((i) => records.find((r) => r.index === i));
      for (const r of interactive) {
        assert.equal(r?.status, 'succeeded', `interactive URL ${r?.index} succeeded`);
        assert.equal(r.methodUsed, 'browser');
        assert.ok(Number(r.fields?.loaded) > 0, `items loaded on ${r.url}`);
        assert.equal(r.fields?.loaded, r.fields?.total, `every lazy item of ${r.url} loaded`);
      }
      const browser = counters.browser;
      const sessionsOnRecord = interactive.reduce((n, r) => n + (r?.charged ?? 0), 0) / 10;
      const paidTwice = interactive.filter((r) => (r?.charged ?? 0) > 10).length;
      const caught = caughtMidPage.reduce((a, b) => a + b, 0);
      say(
        `browser: ${interactive.length} interactive URLs succeeded; BaaS sessions opened ${browser.sessions_started}, ` +
          `on the records ${sessionsOnRecord}; sessions caught mid-page by the kills ${caughtMidPage.join(' + ')}, ` +
          `URLs that paid for more than one session ${paidTwice}; peak sessions ` +
          `${browser.peak_by_account.test ?? 0} (limit ${BROWSER_SESSIONS}); refusals ${JSON.stringify(browser.outcomes)}`,
      );
      assert.equal(
        sessionsOnRecord,
        browser.sessions_started,
        'every session the BaaS opened is on a record',
      );
      assert.ok(caught >= 2, `the kills caught sessions mid-page (${caught})`);
      assert.ok(paidTwice >= caught, 'each URL caught mid-page paid for its lost session and a new one');
      assert.ok((browser.peak_by_account.test ?? 0) <= BROWSER_SESSIONS);
    });

    it('credits charged equal the sum of per-URL charges', () => {
      const sum = records.reduce((s, r) => s + r.charged, 0);
      say(
        `credits: local API charged ${counters.credits.charged_total}, sum of records ${sum}, batch total ${final.credits}; ` +
          `402s ${counters.outcomes['402'] ?? 0}; answers never delivered ${counters.outcomes.client_closed ?? 0}`,
      );
      assert.equal(final.credits, sum, 'the batch total is the sum of the records');
      assert.equal(counters.credits.charged_total, sum, 'nothing charged twice, nothing charged unrecorded');
    });

    it('the API key appears in no workflow history and no worker log line', async () => {
      const executions: WorkflowExecutionInfo[] = [];
      for await (const wf of stack.client.workflow.list()) executions.push(wf);
      let withKey = 0;
      let withUrls = 0;
      let longest = { id: '', events: 0 };
      await eachLimited(executions, 8, async (wf) => {
        const history = await stack.client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
        if (containsText(history, stack.apiKey)) withKey += 1;
        // Positive control: the same search finds what histories do carry (URLs inside payload bytes).
        if (containsText(history, stack.demoOrigin)) withUrls += 1;
        const events = history.events?.length ?? 0;
        if (events > longest.events) longest = { id: wf.workflowId, events };
      });
      const lines = stack.workers.flatMap((w) => w.lines);
      const linesWithKey = lines.filter((l) => l.includes(stack.apiKey)).length;
      say(
        `key: in ${withKey} of ${executions.length} histories (positive control: URLs found in ${withUrls}), ` +
          `in ${linesWithKey} of ${lines.length} worker log lines from ${stack.workers.length} worker processes; ` +
          `longest history ${longest.events} events (${longest.id})`,
      );
      // The batch and each of its pages (and their runs after a continue-as-new).
      const pages = final.pages?.total ?? 0;
      assert.ok(pages >= 4, `the batch ran ${pages} pages`);
      assert.ok(executions.length >= 1 + pages, `checked ${executions.length} histories`);
      assert.ok(withUrls >= pages, 'the search sees inside payloads');
      assert.equal(withKey, 0);
      assert.ok(lines.length > TOTAL, 'the worker logs were captured');
      assert.equal(linesWithKey, 0);
    });
  },
);
