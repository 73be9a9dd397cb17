/**
 * Monitor (`npm run bench -- monitor`): one monitor run of BENCH_MONITOR_URLS URLs (default 100,000) at
 * zero latency on the PostgreSQL store, two runs in a row (the second compares against the first, so
 * its tracking reads a baseline for every URL), with separate `workflows` and `scrape` worker processes.
 *
 * - Change tracking's share: the time from the batch's close to the run's close (tracking plus the
 *   run's finish) over the batch's wall time (its workflow's start to close). Target ≤ 10 %.
 * - Workflows worker RSS (where tracking runs) before the second run and after it: flat.
 * - Queries on PostgreSQL: `monitor changes` of the 100,000-URL run, and `monitor history` of one URL
 *   over 365 runs (the 363 runs beyond the two real ones are seeded directly, BENCH_MONITOR_SEED_URLS
 *   URLs each, default 1,000). Target < 1 s each.
 *
 * Validate with a small size, e.g. BENCH_MONITOR_URLS=2000.
 */
import { readFile } from 'node:fs/promises';
import { createMonitor } from '../src/client/monitors.js';
import { monitorChanges, monitorHistory, triggerMonitor, waitForRun } from '../src/client/monitor-runs.js';
import { monitorStoreOf } from '../src/monitors/store.js';
import { monitorRunId, type Observation } from '../src/monitors/types.js';
import { createTestDatabase } from '../test/support/database.js';
import { startStack, type Stack } from '../test/support/stack.js';

export const name = 'monitor';

const URLS = Number(process.env.BENCH_MONITOR_URLS ?? 100_000);
const SEED_URLS = Number(process.env.BENCH_MONITOR_SEED_URLS ?? 1000);
const CONCURRENCY = 40;
const RUNS = 365;

async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

/** Runs the monitor once: the batch's wall time and what came after it (tracking and the finish). */
async function timedRun(stack: Stack, monitor: string) {
  const triggered = await triggerMonitor(stack.client, stack.store, monitor);
  const result = await waitForRun(stack.client, triggered.workflowId!);
  const batch = await stack.client.workflow.getHandle(result.batchId).describe();
  const run = await stack.client.workflow.getHandle(triggered.workflowId!).describe();
  const batchSeconds = (batch.closeTime!.getTime() - batch.startTime.getTime()) / 1000;
  const trackingSeconds = (run.closeTime!.getTime() - batch.closeTime!.getTime()) / 1000;
  return { result, batchSeconds, trackingSeconds, share: +(trackingSeconds / batchSeconds).toFixed(3) };
}

async function seconds<T>(work: () => Promise<T>): Promise<[number, T]> {
  const started = performance.now();
  const value = await work();
  return [+((performance.now() - started) / 1000).toFixed(3), value];
}

export async function run(): Promise<Record<string, unknown>> {
  const db = await createTestDatabase('sf_bench_monitor');
  const stack = await startStack({ concurrency: CONCURRENCY, databaseUrl: db.url });
  try {
    const workflows = await stack.startWorker({}, 'workflows');
    await stack.startWorker({}, 'scrape');
    const urls = Array.from({ length: URLS }, (_, i) => ({
      url: `${stack.demoOrigin}/p/${(i % 999_999) + 1}?v=${i}`,
    }));
    await createMonitor(stack.client, stack.store, 'bench', {
      urls,
      every: '1d',
      paused: true,
      options: {
        mode: 'fast',
        outputFormat: 'css_extractor',
        cssSelectors: { title: 'h1', price: '[data-price]' },
        schema: { title: { type: 'string' }, price: { type: 'number' } },
        concurrency: CONCURRENCY,
      },
    });
    const first = await timedRun(stack, 'bench');
    const rssBefore = await rssMb(workflows.child.pid!);
    const second = await timedRun(stack, 'bench');
    const rssAfter = await rssMb(workflows.child.pid!);

    // 363 more runs of the first SEED_URLS URLs, older than the real two, straight into the store.
    const monitors = monitorStoreOf(stack.store)!;
    const seeded = urls.slice(0, SEED_URLS);
    const baseTime = Date.parse('2025-01-01T00:00:00Z');
    for (let k = 0; k < RUNS - 2; k++) {
      const at = new Date(baseTime + k * 86_400_000);
      const batchId = monitorRunId('bench', at);
      const rows: Observation[] = seeded.map(({ url }) => ({
        monitor: 'bench',
        url,
        batchId,
        observedAt: at.toISOString(),
        status: 'same',
        charged: 1,
        baseline: { batchId, observedAt: at.toISOString(), configHash: 'seed', fields: { price: '10.00' } },
      }));
      for (let i = 0; i < rows.length; i += 1000) await monitors.putObservations(rows.slice(i, i + 1000));
    }
    const [historySeconds, history] = await seconds(async () => {
      let n = 0;
      for await (const _ of monitorHistory(stack.store, 'bench', urls[0]!.url)) n += 1;
      return n;
    });
    const [changesSeconds, changes] = await seconds(async () => {
      let n = 0;
      for await (const _ of monitorChanges(stack.store, 'bench', { run: second.result.batchId })) n += 1;
      return n;
    });
    return {
      target:
        'tracking <= 10 % of the batch wall time; history (365 runs) and changes (one run) < 1 s on PostgreSQL',
      urls: URLS,
      first: { batchSeconds: first.batchSeconds, trackingSeconds: first.trackingSeconds, share: first.share },
      second: {
        batchSeconds: second.batchSeconds,
        trackingSeconds: second.trackingSeconds,
        share: second.share,
        counts: second.result.counts,
      },
      workflowsWorkerRssMb: { beforeSecondRun: +rssBefore.toFixed(1), afterSecondRun: +rssAfter.toFixed(1) },
      historyRows: history,
      historySeconds,
      changesRows: changes,
      changesSeconds,
      met: {
        tracking: Math.max(first.share, second.share) <= 0.1,
        history: historySeconds < 1,
        changes: changesSeconds < 1,
      },
    };
  } finally {
    await stack.stop();
    await db.drop();
  }
}
