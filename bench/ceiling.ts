/**
 * The zero-latency ceiling: URLs per second through the whole pipeline (batch workflow, per-URL child
 * workflows, the scrape activity calling the local API, which fetches the demo site, the result store)
 * with no injected latency, and the worker process's peak RSS (VmHWM). Against the no-op floor in the
 * same run, on the same dev server: a minimal parent workflow keeping the same window of children in
 * flight, each child running one no-op activity (bench/noop, its own worker in this process).
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { NativeConnection, Worker } from '@temporalio/worker';
import { peakRssMb } from '../test/support/cli.js';
import { startStack } from '../test/support/stack.js';
import { createNoopActivities } from './noop/activities.js';
import { timedBatch } from './timed-batch.js';

export const name = 'ceiling';

const LIMIT = Number(process.env.BENCH_CEILING_LIMIT ?? 20);
const WINDOW = Number(process.env.BENCH_CEILING_WINDOW ?? 2 * LIMIT);
const URLS = Number(process.env.BENCH_CEILING_URLS ?? 600);
const NOOP_QUEUE = 'noop-bench';

/** CPU seconds (user + system) a process has used so far, from /proc; 0 when unknown. */
export async function cpuSeconds(pid: number | undefined): Promise<number> {
  if (pid === undefined) return 0;
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  // Fields after the command name (which may hold spaces): state is the 3rd, utime the 14th, stime the 15th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11] ?? 0) + Number(fields[12] ?? 0)) / CLOCK_TICKS;
}
/** Linux's USER_HZ, the unit of /proc's CPU times. */
const CLOCK_TICKS = 100;

export async function run(): Promise<Record<string, unknown>> {
  const stack = await startStack({ concurrency: LIMIT });
  const connection = await NativeConnection.connect({ address: stack.temporal.address });
  try {
    const worker = await stack.startWorker();
    const urls = (offset: number, n: number) =>
      Array.from({ length: n }, (_, i) => `${stack.demoOrigin}/p/${offset + i + 1}`);
    const batch = (id: string, urls: string[]) =>
      timedBatch(stack, id, urls, { mode: 'fast', concurrency: WINDOW, adaptive: false });
    await batch('ceiling-warm', urls(90_000, LIMIT));
    // Where the CPU goes: the Temporal server, the worker process, this process (local API, demo site,
    // client). On 2 cores the three share, so their sum over the wall time says how busy the machine was.
    const cpu = async () => ({
      temporal: await cpuSeconds(stack.temporal.pid),
      worker: await cpuSeconds(worker.child.pid),
      harness: await cpuSeconds(process.pid),
    });
    const cpuBefore = await cpu();
    const flow = await batch('ceiling', urls(0, URLS));
    const cpuAfter = await cpu();
    const cpuMsPerUrl = Object.fromEntries(
      (['temporal', 'worker', 'harness'] as const).map((k) => [
        k,
        +(((cpuAfter[k] - cpuBefore[k]) * 1000) / URLS).toFixed(2),
      ]),
    );
    const workerRssMb = await peakRssMb(worker.child.pid!);

    const noopWorker = await Worker.create({
      connection,
      taskQueue: NOOP_QUEUE,
      workflowsPath: fileURLToPath(new URL('./noop/workflows.js', import.meta.url)),
      activities: createNoopActivities(),
      maxConcurrentActivityTaskExecutions: LIMIT,
    });
    const floor = await noopWorker.runUntil(async () => {
      const run = (id: string, n: number) =>
        stack.client.workflow.execute('noopParent', {
          workflowId: id,
          taskQueue: NOOP_QUEUE,
          args: [n, WINDOW],
        }) as Promise<number>;
      await run('noop-warm', LIMIT);
      const started = performance.now();
      const ok = await run('noop', URLS);
      return { ok, seconds: (performance.now() - started) / 1000 };
    });
    const rate = flow.ok / flow.seconds;
    const floorRate = floor.ok / floor.seconds;
    const result = {
      limit: LIMIT,
      window: WINDOW,
      urls: URLS,
      scrapeflowUrlsPerSec: +rate.toFixed(2),
      noopFloorUrlsPerSec: +floorRate.toFixed(2),
      ratioToNoopFloor: +(rate / floorRate).toFixed(3),
      workerPeakRssMb: workerRssMb,
      cpuMsPerUrl,
      completed: { scrapeflow: flow.ok, noop: floor.ok },
    };
    process.stdout.write(`ceiling: ${JSON.stringify(result)}\n`);
    return { target: '>= 100 URLs/s and >= 0.5 x the no-op floor', ...result };
  } finally {
    await connection.close();
    await stack.stop();
  }
}
