/**
 * Goodput under faults: with 10 % of scrapes answered 429 (Retry-After 1 s) and 2 % answered 503, and
 * every other scrape taking L = 1 s, scrapeflow (the error matrix: Retry-After honoured, 5xx retried
 * 3 times, nothing lost) against the bare undici + semaphore script with naive retries (a failed call is
 * retried at once, up to N times). Same local API, same plan limit C, same run. Reported: successful URLs
 * per second and completion % for both, and scrapeflow's ratio to the script.
 *
 * Two models of the API's 429, each measured: `held` — the API holds a URL to its Retry-After (a retry
 * within it is refused again; the guide's 429 means "over your limit", which an instant retry does not
 * cure); `independent` — every try is a fresh draw, so an instant retry is free (the most favourable case
 * for the naive script).
 */
import type { BatchOptionsInput } from '../src/batch/options.js';
import { startStack, type Stack } from '../test/support/stack.js';
import { bareScript } from './bare-script.js';
import { timedBatch } from './timed-batch.js';

export const name = 'goodput';

const LATENCY_MS = Number(process.env.BENCH_LATENCY_MS ?? 1000);
const LIMIT = Number(process.env.BENCH_GOODPUT_LIMIT ?? 5);
const URLS = Number(process.env.BENCH_GOODPUT_URLS ?? 200);
/** The naive script's immediate retries per URL. */
const NAIVE_RETRIES = Number(process.env.BENCH_NAIVE_RETRIES ?? 2);

/** A timed batch, and why its failed URLs failed. */
async function scrapeflow(stack: Stack, urls: string[], id: string, options: BatchOptionsInput) {
  const run = await timedBatch(stack, id, urls, options);
  const failedBy: Record<string, number> = {};
  for await (const r of stack.store.listResults(id, { status: 'failed' }))
    failedBy[r.reason ?? '?'] = (failedBy[r.reason ?? '?'] ?? 0) + 1;
  return { ...run, failedBy };
}

export async function run(): Promise<Record<string, unknown>> {
  const stack = await startStack({ concurrency: LIMIT });
  try {
    await stack.startWorker();
    const match = `${stack.demoOrigin}/p/*`;
    const urls = (offset: number) =>
      Array.from({ length: URLS }, (_, i) => `${stack.demoOrigin}/p/${offset + i + 1}`);
    await scrapeflow(stack, urls(90_000).slice(0, LIMIT), 'goodput-warm', {
      mode: 'fast',
      concurrency: LIMIT,
    });
    const rows: Record<string, unknown>[] = [];
    for (const [m, model] of (['held', 'independent'] as const).entries()) {
      await stack.admin('PUT', '/admin/faults', {
        rules: [
          // First match wins: a 429 or 503 answers at once; every other scrape takes L.
          {
            id: '429',
            match,
            action: 'status',
            status: 429,
            retryAfterSec: 1,
            fraction: 0.1,
            seed: 21,
            holdRetryAfter: model === 'held',
          },
          { id: '503', match, action: 'status', status: 503, fraction: 0.02, seed: 22 },
          { id: 'latency', match, action: 'latency', latencyMs: LATENCY_MS },
        ],
      });
      // Fresh URLs for every run: the fault draws are per URL, and no run may reuse another's.
      rows.push(...(await compare(stack, model, (k) => urls(100_000 * (m + 1) + 1000 * k))));
    }
    return {
      target: 'scrapeflow: more successful URLs/s than the naive script, and 100 % completion',
      results: rows,
    };
  } finally {
    await stack.stop();
  }
}

/** The naive script, then each scrapeflow variant, on fresh URLs (`urlsFor(k)`) under the rules set. */
async function compare(
  stack: Stack,
  model: string,
  urlsFor: (k: number) => string[],
): Promise<Record<string, unknown>[]> {
  const bare = await bareScript({
    apiUrl: stack.api.url,
    apiKey: stack.apiKey,
    urls: urlsFor(0),
    limit: LIMIT,
    retries: NAIVE_RETRIES,
  });
  const rows: Record<string, unknown>[] = [];
  const bareRate = bare.ok / bare.seconds;
  const variants: Array<[string, BatchOptionsInput]> = [
    // The shipped matrix (2 s 429 base, 5 s between 5xx tries), window 2 x C, adaptive window on.
    ['defaults, adaptive', { mode: 'fast', concurrency: 2 * LIMIT }],
    ['defaults, fixed window', { mode: 'fast', concurrency: 2 * LIMIT, adaptive: false }],
  ];
  for (const [label, options] of variants) {
    stack.api.state.counters.reset();
    const flow = await scrapeflow(
      stack,
      urlsFor(rows.length + 1),
      `goodput-${model}-${rows.length}`,
      options,
    );
    const rate = flow.ok / flow.seconds;
    const counters = stack.api.state.counters.snapshot();
    const row = {
      model429: model,
      scrapeflow: label,
      limit: LIMIT,
      window: options.concurrency,
      urls: URLS,
      latencyMs: LATENCY_MS,
      faults: { '429': 0.1, '503': 0.02 },
      bare: {
        naiveRetries: NAIVE_RETRIES,
        okUrlsPerSec: +bareRate.toFixed(2),
        completionPct: +((100 * bare.ok) / URLS).toFixed(1),
        calls: bare.calls,
      },
      scrapeflowResult: {
        okUrlsPerSec: +rate.toFixed(2),
        completionPct: +((100 * flow.ok) / URLS).toFixed(1),
        failed: flow.final.counts.failed,
        failedBy: flow.failedBy,
        rateLimited: flow.final.rateLimited,
        peakConcurrency: counters.concurrency.peak_by_account.test,
      },
      ratioToBare: +(bareRate ? rate / bareRate : 0).toFixed(3),
    };
    process.stdout.write(`goodput ${model} 429s, ${label}: ${JSON.stringify(row)}\n`);
    rows.push(row);
  }
  return rows;
}
