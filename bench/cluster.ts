/**
 * The same pipeline on a real cluster and on the dev server, in the same run: `scrapeflow cluster up`
 * (temporal-server v1.31.2, PostgreSQL persistence and SQL visibility, no TLS) against the Temporal CLI's
 * dev server (SQLite in memory), each with one `workflows,scrape` worker process and the local API at a
 * plan of C = 20:
 * - the ceiling: URLs per second with no injected latency (BENCH_CLUSTER_URLS, default 2,000 URLs);
 * - throughput: every scrape taking L = 1 s, 30 × C URLs, against the ideal C / L.
 * Also the Temporal server's CPU per URL on each. Needs `bash scripts/setup.sh --cluster`.
 */
import { clusterUnavailable } from '../test/support/cluster.js';
import { startStack, type Stack } from '../test/support/stack.js';
import { cpuSeconds } from './ceiling.js';
import { timedBatch } from './timed-batch.js';

export const name = 'cluster';

const CONCURRENCY = 20;
const URLS = Number(process.env.BENCH_CLUSTER_URLS ?? 2000);
const LATENCY_MS = 1000;
const ROUNDS = 30;

async function measure(stack: Stack, label: string) {
  await stack.startWorker();
  const urls = (offset: number, n: number) =>
    Array.from({ length: n }, (_, i) => `${stack.demoOrigin}/p/${offset + i + 1}`);
  const batch = (id: string, list: string[]) =>
    timedBatch(stack, id, list, { mode: 'fast', concurrency: CONCURRENCY });
  await batch(`${label}-warm`, urls(90_000, 2 * CONCURRENCY));
  const cpuBefore = await cpuSeconds(stack.temporal.pid);
  const ceiling = await batch(`${label}-ceiling`, urls(0, URLS));
  const serverCpuMsPerUrl = (((await cpuSeconds(stack.temporal.pid)) - cpuBefore) * 1000) / URLS;
  await stack.admin('PUT', '/admin/faults', {
    rules: [{ match: `${stack.demoOrigin}/p/*`, action: 'latency', latencyMs: LATENCY_MS }],
  });
  const n = CONCURRENCY * ROUNDS;
  const slow = await batch(`${label}-throughput`, urls(10_000, n));
  return {
    ceilingUrlsPerSec: +(ceiling.ok / ceiling.seconds).toFixed(2),
    serverCpuMsPerUrl: +serverCpuMsPerUrl.toFixed(2),
    throughputUrlsPerSec: +(slow.ok / slow.seconds).toFixed(2),
    ratioToIdeal: +(slow.ok / slow.seconds / (CONCURRENCY / (LATENCY_MS / 1000))).toFixed(3),
    completed: { ceiling: ceiling.ok, throughput: slow.ok },
  };
}

export async function run(): Promise<Record<string, unknown>> {
  const missing = clusterUnavailable();
  if (missing) throw new Error(`bench cluster needs the Temporal server: ${missing}`);
  const results: Record<string, Awaited<ReturnType<typeof measure>>> = {};
  for (const [label, options] of [
    ['devServer', {}],
    ['cluster', { cluster: {} }],
  ] as const) {
    const stack = await startStack({ concurrency: CONCURRENCY, ...options });
    try {
      results[label] = await measure(stack, label);
      process.stderr.write(`cluster bench ${label}: ${JSON.stringify(results[label])}\n`);
    } finally {
      await stack.stop();
    }
  }
  const dev = results.devServer!;
  const cluster = results.cluster!;
  return {
    concurrency: CONCURRENCY,
    urls: { ceiling: URLS, throughput: CONCURRENCY * ROUNDS },
    latencyMs: LATENCY_MS,
    ...results,
    clusterToDevServer: {
      ceiling: +(cluster.ceilingUrlsPerSec / dev.ceilingUrlsPerSec).toFixed(3),
      throughput: +(cluster.throughputUrlsPerSec / dev.throughputUrlsPerSec).toFixed(3),
    },
  };
}
