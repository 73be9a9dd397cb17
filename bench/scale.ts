/**
 * Scale (`npm run bench:scale`, or `npm run bench -- scale`; not in the default `npm run bench`):
 *
 * 1. One batch of BENCH_SCALE_URLS URLs (default 100,000; target ≤ 15 min here) through the whole
 *    pipeline at zero latency, default batch options but `concurrency` (BENCH_SCALE_CONCURRENCY,
 *    default 40). The worker's RSS is sampled every BENCH_SCALE_SAMPLE_MS (default 5 s) beside the URLs
 *    done, so "flat in N" reads off the samples (and `rssGrowthMb`, last sample minus the one at 20 %).
 *    Also the longest histories: every run of the batch workflow and of a sample of its pages.
 * 2. A batch of BENCH_SCALE_BIG_URLS lines (default 1,000,000) on a fresh stack: how long the input
 *    takes to be accepted (streamed into the store), then how long its first BENCH_SCALE_BIG_TIMED URLs
 *    (default 50,000) take, the wall time that extrapolates to, and the peak RSS of the worker and of this
 *    process (which streams the input in, as the CLI does). The rest is not run: the stack is stopped.
 *
 * Validate with small sizes, e.g. BENCH_SCALE_URLS=2000 BENCH_SCALE_BIG_URLS=20000 BENCH_SCALE_BIG_TIMED=2000.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import type { Client } from '@temporalio/client';
import { startBatch } from '../src/client/batches.js';
import { getProgress } from '../src/client/progress.js';
import type { BatchProgress } from '../src/workflows/types.js';
import { pageWorkflowId } from '../src/workflows/types.js';
import { startStack, type Stack } from '../test/support/stack.js';
import { peakRssMb } from '../test/support/cli.js';

export const name = 'scale';

const URLS = Number(process.env.BENCH_SCALE_URLS ?? 100_000);
const CONCURRENCY = Number(process.env.BENCH_SCALE_CONCURRENCY ?? 40);
const SAMPLE_MS = Number(process.env.BENCH_SCALE_SAMPLE_MS ?? 5000);
const BIG_URLS = Number(process.env.BENCH_SCALE_BIG_URLS ?? 1_000_000);
const BIG_TIMED = Math.min(BIG_URLS, Number(process.env.BENCH_SCALE_BIG_TIMED ?? 50_000));
/** Page histories fetched (evenly spaced): they all have the same shape. */
const PAGE_SAMPLE = 20;
/** Lines a batch of this size waits for at most, so a stuck run ends (12 URLs/s for 100,000 URLs). */
const timeoutMs = (urls: number) => 120_000 + urls * 80;

/** The demo site serves /p/1..999999: later lines repeat a page with a query string, still unique URLs. */
function* lines(n: number) {
  for (let i = 0; i < n; i++) {
    const page = (i % 999_999) + 1;
    yield { url: `${stackOrigin}/p/${page}${i >= 999_999 ? `?i=${i}` : ''}` };
  }
}
let stackOrigin = '';

async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return +(Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024).toFixed(1);
}

const doneOf = (p: BatchProgress) => p.counts.succeeded + p.counts.failed + p.counts.dead_lettered;

/** Event counts of every run of a workflow id, from its latest run back along `continuedExecutionRunId`. */
async function runLengths(client: Client, workflowId: string): Promise<number[]> {
  const lengths: number[] = [];
  let runId: string | undefined;
  for (let guard = 0; guard < 10_000; guard++) {
    const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    lengths.push(history.events?.length ?? 0);
    runId =
      history.events?.[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId ?? undefined;
    if (!runId) break;
  }
  return lengths;
}

/**
 * Samples the batch's progress and the worker's RSS every SAMPLE_MS until `until` says stop (or the
 * batch closes); returns the samples.
 */
async function watch(
  stack: Stack,
  batchId: string,
  workerPid: number,
  started: number,
  until: (done: number) => boolean,
  deadlineMs: number,
) {
  const samples: { seconds: number; done: number; workerRssMb: number }[] = [];
  const deadline = started + deadlineMs;
  for (;;) {
    const progress = await getProgress(stack.client, stack.store, batchId).catch(() => undefined);
    const done = progress ? doneOf(progress) : (samples.at(-1)?.done ?? 0);
    const seconds = +((performance.now() - started) / 1000).toFixed(1);
    samples.push({ seconds, done, workerRssMb: await rssMb(workerPid) });
    process.stderr.write(`scale ${batchId}: ${done} after ${seconds.toFixed(0)} s\n`);
    if (until(done) || (progress && progress.state !== 'running' && progress.state !== 'paused')) break;
    if (performance.now() > deadline) throw new Error(`${batchId}: ${done} URLs done by the deadline`);
    await new Promise((resolve) => setTimeout(resolve, SAMPLE_MS));
  }
  return samples;
}

async function hundredThousand(): Promise<Record<string, unknown>> {
  const stack = await startStack({ concurrency: CONCURRENCY });
  stackOrigin = stack.demoOrigin;
  try {
    const worker = await stack.startWorker();
    const batchId = `scale-${URLS}`;
    const started = performance.now();
    const { handle } = await startBatch(stack.client, stack.store, {
      batchId,
      urls: lines(URLS),
      options: { mode: 'fast', concurrency: CONCURRENCY },
    });
    const acceptSeconds = (performance.now() - started) / 1000;
    const ended = handle.result() as Promise<BatchProgress>;
    const samples = await watch(
      stack,
      batchId,
      worker.child.pid!,
      started,
      (done) => done >= URLS,
      timeoutMs(URLS),
    );
    const final = await ended;
    const seconds = (performance.now() - started) / 1000;
    const pages = final.pages?.total ?? 0;
    const batchRuns = await runLengths(stack.client, batchId);
    const pageRuns: number[] = [];
    for (let k = 0; k < Math.min(PAGE_SAMPLE, pages); k++)
      pageRuns.push(
        ...(await runLengths(
          stack.client,
          pageWorkflowId(batchId, Math.floor((k * pages) / Math.min(PAGE_SAMPLE, pages))),
        )),
      );
    const at20 = samples.find((s) => s.done >= URLS * 0.2) ?? samples[0]!;
    const last = samples.at(-1)!;
    return {
      urls: URLS,
      concurrency: CONCURRENCY,
      succeeded: final.counts.succeeded,
      failed: final.counts.failed + final.counts.dead_lettered,
      acceptSeconds: +acceptSeconds.toFixed(1),
      wallSeconds: +seconds.toFixed(1),
      urlsPerSec: +(final.counts.succeeded / seconds).toFixed(2),
      met: { wallSeconds: seconds <= 900 * (URLS / 100_000) },
      workerPeakRssMb: await peakRssMb(worker.child.pid!),
      workerRssMb: {
        at20Percent: at20.workerRssMb,
        last: last.workerRssMb,
        max: Math.max(...samples.map((s) => s.workerRssMb)),
      },
      rssGrowthMb: +(last.workerRssMb - at20.workerRssMb).toFixed(1),
      /** [seconds, URLs done, worker RSS MB], about 20 of them. */
      rssSamples: samples
        .filter((_, i) => i % Math.max(1, Math.ceil(samples.length / 20)) === 0 || i === samples.length - 1)
        .map((s) => [s.seconds, s.done, s.workerRssMb]),
      pages,
      batchRuns: batchRuns.length,
      longestBatchRunEvents: Math.max(...batchRuns),
      pageRunsSampled: pageRuns.length,
      longestPageRunEvents: Math.max(...pageRuns),
    };
  } finally {
    await stack.stop();
  }
}

async function million(): Promise<Record<string, unknown>> {
  const stack = await startStack({ concurrency: CONCURRENCY });
  stackOrigin = stack.demoOrigin;
  try {
    const worker = await stack.startWorker();
    const batchId = `scale-big-${BIG_URLS}`;
    const started = performance.now();
    const { total } = await startBatch(stack.client, stack.store, {
      batchId,
      urls: lines(BIG_URLS),
      options: { mode: 'fast', concurrency: CONCURRENCY },
    });
    const acceptSeconds = (performance.now() - started) / 1000;
    const harnessRssAfterAcceptMb = +(process.memoryUsage().rss / 2 ** 20).toFixed(1);
    const runStarted = performance.now();
    const samples = await watch(
      stack,
      batchId,
      worker.child.pid!,
      runStarted,
      (done) => done >= BIG_TIMED,
      timeoutMs(BIG_TIMED),
    );
    const timedSeconds = (performance.now() - runStarted) / 1000;
    const done = samples.at(-1)!.done;
    const rate = done / timedSeconds;
    return {
      lines: BIG_URLS,
      accepted: total,
      acceptSeconds: +acceptSeconds.toFixed(1),
      timedUrls: done,
      timedSeconds: +timedSeconds.toFixed(1),
      urlsPerSec: +rate.toFixed(2),
      extrapolatedWallSeconds: +(acceptSeconds + BIG_URLS / rate).toFixed(0),
      workerPeakRssMb: await peakRssMb(worker.child.pid!),
      harnessPeakRssMb: await peakRssMb(process.pid),
      harnessRssAfterAcceptMb,
    };
  } finally {
    await stack.stop();
  }
}

export async function run(): Promise<Record<string, unknown>> {
  const scale = await hundredThousand();
  const big = BIG_URLS > 0 ? await million() : undefined;
  return {
    target: `${URLS} URLs in <= ${(900 * URLS) / 100_000} s, worker RSS flat in N; ${BIG_URLS} lines accepted`,
    ...scale,
    ...(big ? { big } : {}),
  };
}

async function main(): Promise<void> {
  const result = await run();
  const dir = new URL('../../bench/results/', import.meta.url);
  await mkdir(dir, { recursive: true });
  const record = {
    name,
    started: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    result,
  };
  await writeFile(new URL(`${name}.json`, dir), JSON.stringify(record, null, 2) + '\n');
  process.stdout.write(`bench ${name}: ${JSON.stringify(result)}\n`);
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  main().catch((err: unknown) => {
    process.stderr.write(
      `bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exitCode = 1;
  });
}
