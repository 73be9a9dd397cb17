/**
 * The zero-latency ceiling: URLs per second through the whole pipeline (startBatch as the CLI calls
 * it, the batch workflow, its page workflows, the scrape activity calling the local API, which fetches
 * the demo site, the records in the store) with no injected latency, with default batch options but
 * `concurrency`. Against two no-op floors measured in the same run, on the same dev server, with the
 * same number of items in flight (bench/noop, their own worker in this process):
 * - the activity-per-item floor: one workflow keeping `concurrency` no-op activities in flight (the
 *   shape of a page workflow), the floor the page design is measured against (target ≥ 0.4×);
 * - the child-per-item floor: a parent keeping as many one-activity children in flight (the shape of
 *   the per-URL-workflow design), for comparison.
 * Also the Temporal server's CPU per URL (utime + stime of the dev-server process, from /proc), the
 * worker's and this process's, and the worker's peak RSS.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { NativeConnection, Worker } from '@temporalio/worker';
import { peakRssMb } from '../test/support/cli.js';
import { startStack } from '../test/support/stack.js';
import { createNoopActivities } from './noop/activities.js';
import { timedBatch } from './timed-batch.js';

export const name = 'ceiling';

/** URLs in flight: the batch's concurrency, the plan's limit and the floors' window. */
const CONCURRENCY = Number(process.env.BENCH_CEILING_CONCURRENCY ?? 40);
/** Enough pages (500 URLs each) for the batch's steady state of 4 pages in flight. */
const URLS = Number(process.env.BENCH_CEILING_URLS ?? 3000);
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
  const stack = await startStack({ concurrency: CONCURRENCY });
  const connection = await NativeConnection.connect({ address: stack.temporal.address });
  try {
    const worker = await stack.startWorker();
    const urls = (offset: number, n: number) =>
      Array.from({ length: n }, (_, i) => `${stack.demoOrigin}/p/${offset + i + 1}`);
    const batch = (id: string, urls: string[]) =>
      timedBatch(stack, id, urls, { mode: 'fast', concurrency: CONCURRENCY });
    await batch('ceiling-warm', urls(90_000, CONCURRENCY * 2));
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
    const records = (await stack.records('ceiling')).length;
    const workerRssMb = await peakRssMb(worker.child.pid!);

    const noopWorker = await Worker.create({
      connection,
      taskQueue: NOOP_QUEUE,
      workflowsPath: fileURLToPath(new URL('./noop/workflows.js', import.meta.url)),
      activities: createNoopActivities(),
      maxConcurrentActivityTaskExecutions: CONCURRENCY,
    });
    const floors = await noopWorker.runUntil(async () => {
      const floor = async (workflow: 'noopParent' | 'noopActivities') => {
        const execute = (id: string, n: number) =>
          stack.client.workflow.execute(workflow, {
            workflowId: id,
            taskQueue: NOOP_QUEUE,
            args: [n, CONCURRENCY],
          }) as Promise<number>;
        await execute(`${workflow}-warm`, CONCURRENCY * 2);
        const before = await cpuSeconds(stack.temporal.pid);
        const started = performance.now();
        const ok = await execute(workflow, URLS);
        const seconds = (performance.now() - started) / 1000;
        const temporalCpuMs = ((await cpuSeconds(stack.temporal.pid)) - before) * 1000;
        return { ok, rate: ok / seconds, temporalCpuMsPerItem: +(temporalCpuMs / URLS).toFixed(2) };
      };
      return { activity: await floor('noopActivities'), child: await floor('noopParent') };
    });
    const rate = flow.ok / flow.seconds;
    const result = {
      concurrency: CONCURRENCY,
      urls: URLS,
      scrapeflowUrlsPerSec: +rate.toFixed(2),
      activityFloorItemsPerSec: +floors.activity.rate.toFixed(2),
      childFloorItemsPerSec: +floors.child.rate.toFixed(2),
      ratioToActivityFloor: +(rate / floors.activity.rate).toFixed(3),
      ratioToChildFloor: +(rate / floors.child.rate).toFixed(3),
      temporalCpuMsPerUrl: cpuMsPerUrl.temporal,
      cpuMsPerUrl,
      floorTemporalCpuMsPerItem: {
        activity: floors.activity.temporalCpuMsPerItem,
        child: floors.child.temporalCpuMsPerItem,
      },
      workerPeakRssMb: workerRssMb,
      completed: {
        scrapeflow: flow.ok,
        records,
        activityFloor: floors.activity.ok,
        childFloor: floors.child.ok,
      },
      pages: flow.final.pages?.total,
    };
    const met = {
      urlsPerSec: result.scrapeflowUrlsPerSec >= 150,
      ratioToActivityFloor: result.ratioToActivityFloor >= 0.4,
      temporalCpuMsPerUrl: (result.temporalCpuMsPerUrl ?? Infinity) <= 5,
    };
    return {
      target: '>= 150 URLs/s, >= 0.4 x the activity-per-item floor, <= 5 ms Temporal CPU per URL',
      met,
      ...result,
    };
  } finally {
    await connection.close();
    await stack.stop();
  }
}
