/**
 * Batch throughput: scrapeflow (batch workflow, per-URL child workflows, a worker whose slots are the
 * plan limit C) against a bare undici + semaphore script (the guide's Pattern A in TypeScript), on the
 * same local API in the same run, with every scrape taking L = 1 s (a latency fault) and the plan
 * limit C enforced by the local API. Reported as a ratio and against the ideal C / L.
 *
 * Two scrapeflow rows per C: the batch window at C (as before) and at 2 x C. The plan is still enforced
 * by the worker's C activity slots (the peak concurrency the local API saw is reported to show it); the
 * larger window keeps the next URLs' workflows started and waiting for a slot.
 */
import { startStack, type Stack } from '../test/support/stack.js';
import { bareScript } from './bare-script.js';
import { timedBatch } from './timed-batch.js';

export const name = 'throughput';

const LATENCY_MS = Number(process.env.BENCH_LATENCY_MS ?? 1000);
const LIMITS = (process.env.BENCH_LIMITS ?? '5,20,50').split(',').map(Number);
/** Rounds of C URLs per measurement: enough for a steady state, bounded for a 2-core machine. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 8);

const scrapeflowBatch = (stack: Stack, urls: string[], window: number, id: string) =>
  timedBatch(stack, id, urls, { mode: 'fast', concurrency: window, adaptive: false });

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
      const urls = (offset: number) =>
        Array.from({ length: count }, (_, i) => `${stack.demoOrigin}/p/${offset + i + 1}`);
      // Warm-up: workflow bundle load, connections, first renders of each code path.
      await scrapeflowBatch(stack, urls(90_000).slice(0, limit), limit, `warm-${limit}`);
      const bare = await bareScript({ apiUrl: stack.api.url, apiKey: stack.apiKey, urls: urls(0), limit });
      const bareRate = bare.ok / bare.seconds;
      const ideal = limit / (LATENCY_MS / 1000);
      for (const window of [limit, 2 * limit]) {
        stack.api.state.counters.reset();
        const flow = await scrapeflowBatch(
          stack,
          urls(10_000 + 1000 * window),
          window,
          `bench-${limit}-w${window}`,
        );
        const rate = flow.ok / flow.seconds;
        const row = {
          limit,
          window,
          urls: count,
          latencyMs: LATENCY_MS,
          bareUrlsPerSec: +bareRate.toFixed(2),
          scrapeflowUrlsPerSec: +rate.toFixed(2),
          idealUrlsPerSec: ideal,
          ratioToBare: +(bareRate ? rate / bareRate : 0).toFixed(3),
          ratioToIdeal: +(rate / ideal).toFixed(3),
          /** Most scrapes the local API saw in flight during this scrapeflow run (the plan is C). */
          peakConcurrency: stack.api.state.counters.snapshot().concurrency.peak_by_account.test,
          completed: { bare: bare.ok, scrapeflow: flow.ok },
        };
        process.stdout.write(`throughput C=${limit} window=${window}: ${JSON.stringify(row)}\n`);
        results.push(row);
      }
    } finally {
      await stack.stop();
    }
  }
  return { target: 'scrapeflow >= 0.9 x bare script', results };
}
