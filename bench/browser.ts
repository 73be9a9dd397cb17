/**
 * Browser sessions per minute one browser worker sustains (`BAAS_CONCURRENCY` = 2, the default) on the
 * demo site's interactive page (banner, filter, infinite scroll to the end, extraction), through the
 * whole path: batch workflow, per-URL workflows, the browser queue, the local BaaS (a Chromium per
 * session). Baseline in the same run: the same steps over the same BaaS from a bare loop with the same
 * two sessions at once and no Temporal, which shows what the orchestration costs.
 *
 * `BENCH_BROWSER_SESSIONS` sets the URLs per arm (default 12).
 */
import type { EventEmitter } from 'node:events';
import { once } from 'node:events';
import { chromium, type Browser } from 'playwright';
import type { BaasEvents } from '../devkit/local-api/baas.js';
import { startBatch } from '../src/client/batches.js';
import { parseBatchOptions } from '../src/batch/options.js';
import type { StepInput } from '../src/batch/steps.js';
import { runSteps } from '../src/activities/browser-steps.js';
import type { BatchProgress } from '../src/workflows/types.js';
import { startStack } from '../test/support/stack.js';

export const name = 'browser';

const SESSIONS = Number(process.env.BENCH_BROWSER_SESSIONS ?? 12);
const CONCURRENCY = 2;
const STEPS: StepInput[] = [
  { action: 'click', selector: '#cookie-accept' },
  { action: 'select', selector: 'select#category', value: 'toys' },
  { action: 'scroll', until: { selector: '#end:not([hidden])' }, maxScrolls: 20 },
  { action: 'extract', fields: { loaded: '#items@data-loaded', first: '.item .item-name' } },
];

/** connectOverCDP; on a 429 (a session of ours still closing) waits for a session to end and retries. */
async function connect(url: string, events: EventEmitter<BaasEvents>): Promise<Browser> {
  for (let tries = 1; ; tries++) {
    const ended = once(events, 'ended');
    try {
      return await chromium.connectOverCDP(url);
    } catch (err) {
      if (tries >= 5 || !(err instanceof Error) || !err.message.includes(' 429 ')) throw err;
      await ended;
    }
  }
}

const round = (value: number, digits = 1): number => Math.round(value * 10 ** digits) / 10 ** digits;

export async function run(): Promise<Record<string, unknown>> {
  const stack = await startStack({ concurrency: CONCURRENCY, browserSessions: CONCURRENCY });
  try {
    await stack.startWorker();
    await stack.startWorker({ BAAS_CONCURRENCY: String(CONCURRENCY) }, 'browser');
    const urls = Array.from({ length: SESSIONS }, (_, i) => `${stack.demoOrigin}/interactive?i=${i}`);

    // Warm-up: one URL, so neither arm pays the first workflow bundle load and Chromium cold start.
    await (
      await startBatch(stack.client, stack.store, {
        batchId: 'bench-browser-warmup',
        urls: [{ url: urls[0] ?? '' }],
        options: { steps: STEPS },
      })
    ).handle.result();

    const started = performance.now();
    const { handle } = await startBatch(stack.client, stack.store, {
      batchId: 'bench-browser',
      urls: urls.map((url) => ({ url })),
      options: { steps: STEPS, concurrency: CONCURRENCY * 2, adaptive: false },
    });
    const final = (await handle.result()) as BatchProgress;
    const scrapeflowSec = (performance.now() - started) / 1000;
    if (final.counts.succeeded !== SESSIONS) throw new Error(`only ${final.counts.succeeded} URLs succeeded`);

    // Baseline: the same steps, two bare loops over the same BaaS.
    const steps = parseBatchOptions({ steps: STEPS }).steps ?? [];
    const base = `${stack.api.origin.replace('http:', 'ws:')}/browser?apikey=${stack.apiKey}&render_media=false`;
    const queue = [...urls];
    const bareStarted = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        for (let url = queue.shift(); url !== undefined; url = queue.shift()) {
          const browser = await connect(base, stack.api.state.baas.events);
          try {
            const page = await (await browser.newContext()).newPage();
            await page.goto(url, { waitUntil: 'domcontentloaded' });
            const fields = await runSteps(page, url, steps, { screenshot: () => Promise.resolve('') });
            if (fields?.loaded !== '15') throw new Error(`bare loop: ${url} loaded ${fields?.loaded}`);
            await page.content();
          } finally {
            await browser.close();
          }
        }
      }),
    );
    const bareSec = (performance.now() - bareStarted) / 1000;
    const perMinute = (SESSIONS / scrapeflowSec) * 60;
    const barePerMinute = (SESSIONS / bareSec) * 60;
    return {
      sessions: SESSIONS,
      baasConcurrency: CONCURRENCY,
      sessionsPerMinute: round(perMinute),
      bareLoopSessionsPerMinute: round(barePerMinute),
      /** scrapeflow's rate as a fraction of the bare loop's. */
      ratioToBare: round(perMinute / barePerMinute, 2),
      secondsPerSession: round(scrapeflowSec / SESSIONS, 2),
      peakSessions: stack.api.state.counters.snapshot().browser.peak_by_account.test ?? 0,
    };
  } finally {
    await stack.stop();
  }
}
