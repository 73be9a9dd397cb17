/**
 * Batch throughput: scrapeflow (batch workflow, page workflows of URL activities, one worker with its
 * default slots, the plan C held by its permits) with default batch options, against a bare undici +
 * semaphore script (the guide's Pattern A in TypeScript), on the same local API in the same run, with
 * every scrape taking L = 1 s (a latency fault) and the plan limit C enforced by the local API. Reported
 * as a ratio (target ≥ 0.95) and against the ideal C / L.
 *
 * N = BENCH_ROUNDS (default 30) × C URLs per measurement, so each side takes about 30 s at any C.
 */
import { startStack } from '../test/support/stack.js';
import { bareScript } from './bare-script.js';
import { timedBatch } from './timed-batch.js';

export const name = 'throughput';

const LATENCY_MS = Number(process.env.BENCH_LATENCY_MS ?? 1000);
const LIMITS = (process.env.BENCH_LIMITS ?? '5,20,50,100').split(',').map(Number);
/** Rounds of C URLs per measurement: a steady state well past the ramp, ~30 s per side at L = 1 s. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 30);
/** Page options to try against the defaults (`BENCH_PAGE_SIZE`, `BENCH_PAGES_IN_FLIGHT`); unset: defaults. */
const PAGE_OPTIONS = {
  ...(process.env.BENCH_PAGE_SIZE ? { pageSize: Number(process.env.BENCH_PAGE_SIZE) } : {}),
  ...(process.env.BENCH_PAGES_IN_FLIGHT ? { pagesInFlight: Number(process.env.BENCH_PAGES_IN_FLIGHT) } : {}),
};

export async function run(): Promise<Record<string, unknown>> {
  const results: Record<string, unknown>[] = [];
  for (const limit of LIMITS) {
    const stack = await startStack({ concurrency: limit });
    try {
      await stack.startWorker();
      await stack.admin('PUT', '/admin/faults', {
        rules: [{ match: `${stack.demoOrigin}/p/*`, action: 'latency', latencyMs: LATENCY_MS }],
      });
      const count = limit * ROUNDS;
      const urls = (offset: number, n = count) =>
        Array.from({ length: n }, (_, i) => `${stack.demoOrigin}/p/${offset + i + 1}`);
      const batch = (id: string, list: string[]) =>
        timedBatch(stack, id, list, { mode: 'fast', ...PAGE_OPTIONS });
      // Warm-up: workflow bundle load, connections, first runs of each code path.
      await batch(`warm-${limit}`, urls(90_000, 2 * limit));
      const bare = await bareScript({ apiUrl: stack.api.url, apiKey: stack.apiKey, urls: urls(0), limit });
      stack.api.state.counters.reset();
      const flow = await batch(`bench-${limit}`, urls(10_000));
      const bareRate = bare.ok / bare.seconds;
      const rate = flow.ok / flow.seconds;
      const row = {
        limit,
        urls: count,
        latencyMs: LATENCY_MS,
        pages: flow.final.pages?.total,
        bareUrlsPerSec: +bareRate.toFixed(2),
        scrapeflowUrlsPerSec: +rate.toFixed(2),
        idealUrlsPerSec: limit / (LATENCY_MS / 1000),
        ratioToBare: +(bareRate ? rate / bareRate : 0).toFixed(3),
        ratioToIdeal: +(rate / (limit / (LATENCY_MS / 1000))).toFixed(3),
        seconds: { bare: +bare.seconds.toFixed(1), scrapeflow: +flow.seconds.toFixed(1) },
        /** Most scrapes the local API saw in flight during the scrapeflow run (the plan is C). */
        peakConcurrency: stack.api.state.counters.snapshot().concurrency.peak_by_account.test,
        rateLimited: flow.final.rateLimited,
        completed: { bare: bare.ok, scrapeflow: flow.ok },
      };
      process.stderr.write(`throughput C=${limit}: ${JSON.stringify(row)}\n`);
      results.push(row);
    } finally {
      await stack.stop();
    }
  }
  const ratios = results.map((r) => r.ratioToBare as number);
  return {
    target: 'scrapeflow >= 0.95 x bare script at every C, default batch options',
    met: ratios.every((r) => r >= 0.95),
    minRatioToBare: Math.min(...ratios),
    results,
  };
}
