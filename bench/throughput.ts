/**
 * Batch throughput: scrapeflow (batch workflow, per-URL child workflows, a worker whose slots are the
 * plan limit C) against a bare undici + semaphore script (the guide's Pattern A in TypeScript), on the
 * same local API in the same run, with every scrape taking L = 1 s (a latency fault) and the plan
 * limit C enforced by the local API. Reported as a ratio and against the ideal C / L.
 */
import { Pool } from 'undici';
import { startBatch } from '../src/client/batches.js';
import type { BatchProgress } from '../src/workflows/types.js';
import { startStack, type Stack } from '../test/support/stack.js';

export const name = 'throughput';

const LATENCY_MS = Number(process.env.BENCH_LATENCY_MS ?? 1000);
const LIMITS = (process.env.BENCH_LIMITS ?? '5,20,50').split(',').map(Number);
/** Rounds of C URLs per measurement: enough for a steady state, bounded for a 2-core machine. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 8);

/** Pattern A: one pool for the process, a semaphore of C, every URL posted once. */
async function bareScript(
  stack: Stack,
  urls: string[],
  limit: number,
): Promise<{ ok: number; seconds: number }> {
  const pool = new Pool(new URL(stack.api.url).origin, { connections: Math.max(limit, 20) });
  const path = `${new URL(stack.api.url).pathname}/scrape`;
  let next = 0;
  let ok = 0;
  const started = performance.now();
  const lane = async () => {
    while (next < urls.length) {
      const url = urls[next++]!;
      const res = await pool.request({
        method: 'POST',
        path,
        headers: { 'content-type': 'application/json', 'x-api-key': stack.apiKey },
        body: JSON.stringify({ url, mode: 'fast', output_format: 'html' }),
      });
      const body = (await res.body.json()) as { success?: boolean };
      if (res.statusCode === 200 && body.success) ok += 1;
    }
  };
  await Promise.all(Array.from({ length: limit }, lane));
  const seconds = (performance.now() - started) / 1000;
  await pool.close();
  return { ok, seconds };
}

async function scrapeflowBatch(stack: Stack, urls: string[], limit: number, id: string) {
  const started = performance.now();
  const { handle } = await startBatch(stack.client, stack.store, {
    batchId: id,
    urls: urls.map((url) => ({ url })),
    options: { mode: 'fast', concurrency: limit, adaptive: false },
  });
  const final = (await handle.result()) as BatchProgress;
  return { ok: final.counts.succeeded, seconds: (performance.now() - started) / 1000 };
}

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
      const bare = await bareScript(stack, urls(0), limit);
      const flow = await scrapeflowBatch(stack, urls(10_000), limit, `bench-${limit}`);
      const ideal = limit / (LATENCY_MS / 1000);
      const row = {
        limit,
        urls: count,
        latencyMs: LATENCY_MS,
        bareUrlsPerSec: +(bare.ok / bare.seconds).toFixed(2),
        scrapeflowUrlsPerSec: +(flow.ok / flow.seconds).toFixed(2),
        idealUrlsPerSec: ideal,
        ratioToBare: +(
          bare.ok / bare.seconds ? flow.ok / flow.seconds / (bare.ok / bare.seconds) : 0
        ).toFixed(3),
        ratioToIdeal: +(flow.ok / flow.seconds / ideal).toFixed(3),
        peakConcurrency: stack.api.state.counters.snapshot().concurrency.peak_by_account.test,
        completed: { bare: bare.ok, scrapeflow: flow.ok },
      };
      process.stdout.write(`throughput C=${limit}: ${JSON.stringify(row)}\n`);
      results.push(row);
    } finally {
      await stack.stop();
    }
  }
  return { target: 'scrapeflow >= 0.9 x bare script', results };
}
