/**
 * Deploys never disturb a running batch (README "Changing workflows safely"). A batch starts on the
 * workers of build A (this build) and makes progress; every worker of build A is SIGKILLed; workers of
 * build B (test/support/build.ts) take over. Build B's workflows differ from A's in a way that changes
 * the commands of every workflow A started (test/fixtures/build-b: a timer first), behind
 * `patched()`. The batch completes with every invariant, B continues A's workflows on A's branch and
 * starts its own on the new one, and no workflow task fails. The same change without its patch guard
 * fails to replay the histories build A began.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { DeterminismViolationError } from '@temporalio/workflow';
import { Worker } from '@temporalio/worker';
import type { BatchOptionsInput } from '../../src/batch/options.js';
import { pageWorkflowId } from '../../src/workflows/types.js';
import { TIMER_FIRST_PATCH } from '../fixtures/build-b/change.js';
import { bundleWorkflows, makeBuild, type Build } from '../support/build.js';
import { deployMidBatch, runsByBuild, tookPatch, type BuildRun } from '../support/runs.js';
import { startStack, type Stack, type WorkerProcess } from '../support/stack.js';

const PLAN = 4;
const PAGE_SIZE = 10;
const TOTAL = 80;
const OPTIONS: BatchOptionsInput = {
  mode: 'fast',
  concurrency: PLAN,
  pageSize: PAGE_SIZE,
  pagesInFlight: 2,
  retry: { rateLimitBaseMs: 200, upstreamDelayMs: 100, timeoutDelayMs: 100 },
  // Longer than the held call waits for build A's end; a dead worker's call is retried after 2 s.
  timeouts: { scrapeMs: 60_000, heartbeatMs: 2000 },
};
const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/build-b/${name}.js`, import.meta.url));

let stack: Stack;
let buildB: Build;
/** Build B's workflow bundle, and the same change without its guard. */
let guarded: string;
let unguarded: string;
before(async () => {
  guarded = await bundleWorkflows(fixture('workflows'));
  unguarded = await bundleWorkflows(fixture('unguarded'));
  buildB = await makeBuild(guarded);
  stack = await startStack({ concurrency: PLAN });
});
after(async () => {
  await stack?.stop();
  await buildB?.remove();
});

/** What a history tells about the deploy. */
interface Run extends BuildRun {
  /** Whether the run took build B's new branch (the patch marker is in its history). */
  patched: boolean;
  timers: number;
}

describe('deploys', { timeout: 300_000 }, () => {
  it('a batch started on build A finishes on build B after every worker is replaced', async () => {
    const chargedBefore = stack.api.state.counters.snapshot().credits.charged_total;
    const { batchId, final, doneOnA, workers } = await deployMidBatch(stack, {
      batchId: 'deploy-a-to-b',
      total: TOTAL,
      options: OPTIONS,
      doneOnA: 2 * PAGE_SIZE,
      binB: buildB.bin,
    });
    assert.equal(final.state, 'completed');
    assert.ok(doneOnA < TOTAL, `build A went with ${doneOnA} of ${TOTAL} URLs done`);
    const records = await stack.records(batchId);
    assert.deepEqual(
      records.map((r) => r.index),
      [...Array(TOTAL).keys()],
      'one terminal record per URL',
    );
    assert.deepEqual(
      records.filter((r) => r.status !== 'succeeded'),
      [],
      'every URL succeeded',
    );
    const sum = records.reduce((s, r) => s + r.charged, 0);
    assert.equal(sum, TOTAL);
    assert.equal(final.credits, sum, 'the batch total is the sum of the records');
    const charged = stack.api.state.counters.snapshot().credits.charged_total - chargedBefore;
    assert.equal(charged, sum, 'credits charged = records: nothing charged twice');

    const runs = await runsOf(workers);
    const byId = (id: string) => runs.filter((r) => r.workflowId === id);
    assert.deepEqual(
      runs.filter((r) => r.taskFailures > 0).map((r) => r.workflowId),
      [],
      'no workflow task failed (no nondeterminism)',
    );
    const [batchRun] = byId(batchId);
    const [page0] = byId(pageWorkflowId(batchId, 0));
    for (const run of [batchRun, page0]) {
      assert.deepEqual(run?.builds, ['A', 'B'], `${run?.workflowId} ran on build A, then on build B`);
      assert.equal(run.patched, false, `${run.workflowId} kept build A's branch on build B`);
    }
    const onA = runs.filter((r) => r.builds[0] === 'A');
    const onB = runs.filter((r) => r.builds[0] === 'B');
    assert.ok(onB.length >= 1, 'pages started on build B');
    for (const run of onA) assert.equal(run.patched, false, `${run.workflowId} began on A: old branch`);
    for (const run of onB) {
      assert.equal(run.patched, true, `${run.workflowId} began on B: new branch`);
      assert.ok(run.timers >= 1, `${run.workflowId} ran build B's timer`);
    }

    // Build B replays every history; without the guard, none of those build A began.
    const replay = async (code: string, histories: Run[]) => {
      const errors: unknown[] = [];
      for await (const result of Worker.runReplayHistories({ workflowBundle: { code } }, histories))
        errors.push(result.error);
      return errors;
    };
    assert.deepEqual(await replay(guarded, runs), Array(runs.length).fill(undefined), 'build B replays all');
    const withoutGuard = await replay(unguarded, onA);
    assert.ok(
      withoutGuard.every((e) => e instanceof DeterminismViolationError),
      `without the guard every history A began fails replay: ${withoutGuard.map(String).join('; ')}`,
    );
    process.stdout.write(
      `# deploy: build A went at ${doneOnA}/${TOTAL} URLs done; ${runs.length} workflow runs: ` +
        `${onA.length} began on A (${onA.filter((r) => r.builds.includes('B')).length} finished on B), ` +
        `${onB.length} on B; unguarded replay failed ${withoutGuard.length} of ${onA.length}\n`,
    );
  });
});

/** Every workflow run on the server, with the builds that ran it, whether it took B's branch, its timers. */
async function runsOf(builds: Record<string, WorkerProcess[]>): Promise<Run[]> {
  return (await runsByBuild(stack.client, builds)).map((run) => ({
    ...run,
    patched: tookPatch(run, TIMER_FIRST_PATCH),
    timers: run.events.filter((e) => e.timerStartedEventAttributes).length,
  }));
}
