/**
 * Priority (issue 15): started while a 5,000-URL batch of the same account runs, a 100-URL batch of
 * higher priority finishes within 1.5× its time alone. One stack (dev server with the new matcher and
 * fairness, one worker process whose scrape slots are the plan C = 10, the local API enforcing C), every
 * scrape taking L = 200 ms (a latency fault).
 *
 * The big batch runs with a concurrency above the plan (BENCH_PRIORITY_BIG_CONCURRENCY, default 4 × C,
 * as several batches of one account together have), so the `scrape` queue holds a backlog: that is
 * where a priority acts. Measured in one run, each small batch with the same options but its priority:
 * - `alone`: the 100-URL batch on an idle stack (the baseline);
 * - `urgent`: priority 1, started once the big batch (priority 3) has run for a while;
 * - `equal` (control): priority 3, same account, while the big batch still runs: first in, first out;
 * - `otherAccount`: priority 3 under another account label: the fairness key alone.
 */
import { cancelBatch, startBatch } from '../src/client/batches.js';
import { getProgress } from '../src/client/progress.js';
import type { BatchOptionsInput } from '../src/batch/options.js';
import { eventually, startStack, type Stack } from '../test/support/stack.js';
import { timedBatch } from './timed-batch.js';

export const name = 'priority';

const LIMIT = Number(process.env.BENCH_PRIORITY_LIMIT ?? 10);
/**
 * Per scrape. At 200 ms the 2-core machine's CPU (the big batch's 50 completions a second through the
 * same worker and server) slows the small batch more than any queue does; at 1 s, as in the
 * throughput benchmark, the figure measures the queues.
 */
const LATENCY_MS = Number(process.env.BENCH_PRIORITY_LATENCY_MS ?? 1000);
const BIG = Number(process.env.BENCH_PRIORITY_BIG ?? 5000);
const SMALL = Number(process.env.BENCH_PRIORITY_SMALL ?? 100);
const BIG_CONCURRENCY = Number(process.env.BENCH_PRIORITY_BIG_CONCURRENCY ?? 4 * LIMIT);
/**
 * The small batches' concurrency: above the plan, so the urgent batch keeps tasks of its own queued
 * while its finished URLs' pages schedule the next ones (at exactly C a slot freed in that gap goes to
 * the queued big batch). Measured at C as well (`atPlan`).
 */
const SMALL_CONCURRENCY = Number(process.env.BENCH_PRIORITY_SMALL_CONCURRENCY ?? 2 * LIMIT);
/** URLs of the big batch done before a small batch starts: its windows are full and the queue backlogged. */
const UNDER_WAY = Number(process.env.BENCH_PRIORITY_UNDER_WAY ?? 300);

export async function run(): Promise<Record<string, unknown>> {
  const stack = await startStack({ concurrency: LIMIT });
  try {
    await stack.startWorker();
    await stack.admin('PUT', '/admin/faults', {
      rules: [{ match: `${stack.demoOrigin}/p/*`, action: 'latency', latencyMs: LATENCY_MS }],
    });
    let next = 0;
    const urls = (n: number) => Array.from({ length: n }, () => `${stack.demoOrigin}/p/${++next}`);
    const small = (id: string, options: Partial<BatchOptionsInput>) =>
      timedBatch(stack, id, urls(SMALL), {
        mode: 'fast',
        concurrency: SMALL_CONCURRENCY,
        account: 'acme',
        ...options,
      });

    await small('priority-warm', {});
    const alone = await small('priority-alone', { priority: 1 });
    const aloneAtPlan = await small('priority-alone-at-plan', { priority: 1, concurrency: LIMIT });

    const bigId = 'priority-big';
    await startBatch(stack.client, stack.store, {
      batchId: bigId,
      urls: urls(BIG).map((url) => ({ url })),
      options: { mode: 'fast', concurrency: BIG_CONCURRENCY, account: 'acme', priority: 3 },
    });
    const bigDone = async () => (await getProgress(stack.client, stack.store, bigId)).counts.succeeded;
    const underWay = async (after: number) =>
      eventually(async () => (await bigDone()) >= after, {
        timeoutMs: 300_000,
        what: `${after} URLs of ${bigId}`,
      });

    await underWay(UNDER_WAY);
    const urgent = await small('priority-urgent', { priority: 1 });
    const doneAt = [await bigDone()];
    const urgentAtPlan = await small('priority-urgent-at-plan', { priority: 1, concurrency: LIMIT });
    doneAt.push(await bigDone());
    const equal = await small('priority-equal', { priority: 3 });
    doneAt.push(await bigDone());
    const otherAccount = await small('priority-other-account', { priority: 3, account: 'other' });
    doneAt.push(await bigDone());
    const stillRunning = (await getProgress(stack.client, stack.store, bigId)).state === 'running';
    await cancelBatch(stack.client, bigId);

    const ratio = (t: { seconds: number }, base = alone) => +(t.seconds / base.seconds).toFixed(2);
    const row = (t: { seconds: number; ok: number }, base = alone) => ({
      seconds: +t.seconds.toFixed(2),
      ok: t.ok,
      ratio: ratio(t, base),
    });
    const counters = countersOf(stack);
    return {
      target: `a ${SMALL}-URL batch of priority 1 started while a ${BIG}-URL batch of the same account runs finishes within 1.5x its time alone`,
      met: ratio(urgent) <= 1.5 && urgent.ok === SMALL && stillRunning,
      urgentRatio: ratio(urgent),
      equalPriorityRatio: ratio(equal),
      otherAccountRatio: ratio(otherAccount),
      urgentAtPlanRatio: ratio(urgentAtPlan, aloneAtPlan),
      setup: {
        plan: LIMIT,
        latencyMs: LATENCY_MS,
        big: BIG,
        bigConcurrency: BIG_CONCURRENCY,
        small: SMALL,
        smallConcurrency: SMALL_CONCURRENCY,
      },
      alone: row(alone),
      urgent: row(urgent),
      equal: row(equal),
      otherAccount: row(otherAccount),
      /** The same at the small batch's concurrency = C, against its own time alone at C. */
      atPlan: { alone: row(aloneAtPlan, aloneAtPlan), urgent: row(urgentAtPlan, aloneAtPlan) },
      /** URLs of the big batch done when each contended small batch ended: it ran throughout. */
      bigDoneAt: doneAt,
      bigStillRunning: stillRunning,
      ...counters,
    };
  } finally {
    await stack.stop();
  }
}

/** The plan held: most scrapes in flight at the local API, and the scrapes it refused with a 429. */
function countersOf(stack: Stack) {
  const snapshot = stack.api.state.counters.snapshot();
  return {
    peakConcurrency: snapshot.concurrency.peak_by_account.test,
    refused429: snapshot.endpoints.scrape['429'] ?? 0,
  };
}
