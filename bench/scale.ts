/**
 * Scale (`npm run bench:scale`, not in `npm run bench` or CI): one batch of BENCH_SCALE_URLS URLs
 * (default 100,000) through the whole pipeline at zero latency; reports wall time, URLs/s, the worker's
 * peak RSS, and the longest histories: every run of the batch workflow (it continues as new) and a
 * sample of per-URL workflows (all alike). Writes bench/results/scale.json.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { startBatch } from '../src/client/batches.js';
import type { BatchProgress } from '../src/workflows/types.js';
import { startStack } from '../test/support/stack.js';
import { peakRssMb } from '../test/support/cli.js';

export const name = 'scale';

const URLS = Number(process.env.BENCH_SCALE_URLS ?? 100_000);
const LIMIT = Number(process.env.BENCH_SCALE_LIMIT ?? 20);
const WINDOW = Number(process.env.BENCH_SCALE_WINDOW ?? 2 * LIMIT);
/** Per-URL histories fetched (evenly spaced): they all have the same shape. */
const CHILD_SAMPLE = 200;

export async function run(): Promise<Record<string, unknown>> {
  const stack = await startStack({ concurrency: LIMIT });
  try {
    const worker = await stack.startWorker();
    const batchId = `scale-${URLS}`;
    const started = performance.now();
    const { handle } = await startBatch(stack.client, stack.store, {
      batchId,
      urls: (function* () {
        for (let i = 0; i < URLS; i++) yield { url: `${stack.demoOrigin}/p/${(i % 999_999) + 1}` };
      })(),
      options: { mode: 'fast', concurrency: WINDOW, adaptive: false },
    });
    let lastReport = 0;
    const ticker = setInterval(() => {
      void handle
        .query<BatchProgress>('progress')
        .then((p) => {
          const done = p.counts.succeeded + p.counts.failed + p.counts.dead_lettered;
          if (done - lastReport >= URLS / 20) {
            lastReport = done;
            const s = (performance.now() - started) / 1000;
            process.stdout.write(
              `scale: ${done}/${URLS} after ${s.toFixed(0)} s (${(done / s).toFixed(1)}/s)\n`,
            );
          }
        })
        .catch(() => undefined);
    }, 5000);
    const final = (await handle.result()) as BatchProgress;
    clearInterval(ticker);
    const seconds = (performance.now() - started) / 1000;
    const workerRss = await peakRssMb(worker.child.pid!);

    const batchRuns: number[] = [];
    for await (const wf of stack.client.workflow.list({ query: `WorkflowId = '${batchId}'` })) {
      const history = await stack.client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
      batchRuns.push(history.events?.length ?? 0);
    }
    let longestChild = 0;
    for (let k = 0; k < CHILD_SAMPLE; k++) {
      const index = Math.floor((k * URLS) / CHILD_SAMPLE);
      const history = await stack.client.workflow.getHandle(`${batchId}/${index}`).fetchHistory();
      longestChild = Math.max(longestChild, history.events?.length ?? 0);
    }
    return {
      urls: URLS,
      limit: LIMIT,
      window: WINDOW,
      completed: final.counts.succeeded,
      failed: final.counts.failed + final.counts.dead_lettered,
      wallSeconds: +seconds.toFixed(1),
      urlsPerSec: +(final.counts.succeeded / seconds).toFixed(2),
      workerPeakRssMb: workerRss,
      testProcessRssMb: +(process.memoryUsage().rss / 2 ** 20).toFixed(1),
      batchRuns: batchRuns.length,
      continuedAsNew: final.continuedAsNew,
      longestBatchRunEvents: Math.max(...batchRuns),
      longestChildEvents: longestChild,
      childSample: CHILD_SAMPLE,
    };
  } finally {
    await stack.stop();
  }
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
