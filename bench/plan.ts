/**
 * The plan is account-wide: 1, 2 and 4 scrape worker processes (each with its default slots, twice the
 * plan C) plus one `workflows` worker, on the PostgreSQL store (so the plan permits are leases shared
 * through it), one batch of ROUNDS × C URLs each with default options (a window of twice the plan),
 * every scrape taking L = 1 s (a latency fault) and the local API enforcing C. Workers are added to the
 * same stack between measurements, so every row runs against the same server, API and database.
 * Targets (issue 15): each row ≥ 0.95 × the throughput of one worker, and no request refused over the
 * plan (the local API's 429s: no 429 fault is injected, so every 429 is a refusal for the account's
 * limit).
 */
import { startStack } from '../test/support/stack.js';
import { createTestDatabase } from '../test/support/database.js';
import { timedBatch } from './timed-batch.js';

export const name = 'plan';

const LATENCY_MS = Number(process.env.BENCH_LATENCY_MS ?? 1000);
const LIMIT = Number(process.env.BENCH_PLAN ?? 20);
const WORKERS = (process.env.BENCH_SCRAPE_WORKERS ?? '1,2,4').split(',').map(Number);
/** Rounds of C URLs per measurement: ~20 s per row at L = 1 s. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 20);

interface Row {
  scrapeWorkers: number;
  urlsPerSec: number;
  peakConcurrency: number;
  refusedOverPlan: number;
  [field: string]: unknown;
}

export async function run(): Promise<Record<string, unknown>> {
  const db = await createTestDatabase('sf_bench_plan');
  const results: Row[] = [];
  try {
    const stack = await startStack({ concurrency: LIMIT, databaseUrl: db.url });
    try {
      await stack.startWorker({}, 'workflows');
      await stack.admin('PUT', '/admin/faults', {
        rules: [{ match: `${stack.demoOrigin}/p/*`, action: 'latency', latencyMs: LATENCY_MS }],
      });
      const count = LIMIT * ROUNDS;
      let offset = 0;
      const urls = (n: number) => Array.from({ length: n }, () => `${stack.demoOrigin}/p/${++offset}`);
      let scrapeWorkers = 0;
      for (const workers of WORKERS) {
        while (scrapeWorkers < workers) {
          await stack.startWorker({}, 'scrape');
          scrapeWorkers += 1;
        }
        // Warm-up of the new workers: connections, first runs of each code path.
        await timedBatch(stack, `warm-${workers}`, urls(2 * LIMIT), { mode: 'fast' });
        stack.api.state.counters.reset();
        const flow = await timedBatch(stack, `plan-${workers}`, urls(count), { mode: 'fast' });
        const counters = stack.api.state.counters.snapshot();
        const refused =
          (counters.endpoints.scrape['429'] ?? 0) + (counters.endpoints.async_submit['429'] ?? 0);
        const row: Row = {
          scrapeWorkers: workers,
          slotsTotal: workers * 2 * LIMIT,
          urls: count,
          succeeded: flow.ok,
          seconds: +flow.seconds.toFixed(1),
          urlsPerSec: +(flow.ok / flow.seconds).toFixed(2),
          idealUrlsPerSec: LIMIT / (LATENCY_MS / 1000),
          /** Most scrapes the local API saw in flight at once (the plan is C). */
          peakConcurrency: counters.concurrency.peak_by_account.test ?? 0,
          refusedOverPlan: refused,
          faultsFired: counters.faults_fired,
          rateLimited: flow.final.rateLimited,
        };
        process.stderr.write(`plan workers=${workers}: ${JSON.stringify(row)}\n`);
        results.push(row);
      }
    } finally {
      await stack.stop();
    }
  } finally {
    await db.drop();
  }
  const base = results[0]!.urlsPerSec;
  const rows = results.map((r) => ({
    ...r,
    ratioToOneWorker: +(r.urlsPerSec / base).toFixed(3),
  }));
  return {
    target: `1, 2, 4 scrape workers at plan C = ${LIMIT}, L = ${LATENCY_MS} ms: each >= 0.95 x one worker, 0 refused over the plan`,
    met: rows.every(
      (r) => r.ratioToOneWorker >= 0.95 && r.refusedOverPlan === 0 && r.peakConcurrency <= LIMIT,
    ),
    minRatioToOneWorker: Math.min(...rows.map((r) => r.ratioToOneWorker)),
    refusedOverPlan: rows.reduce((n, r) => n + r.refusedOverPlan, 0),
    results: rows,
  };
}
