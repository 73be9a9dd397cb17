/**
 * A batch that began before URL activities received their options by version finishes on this build
 * (README "Changing workflows safely"). Build A is the product's workflows with
 * `OPTIONS_BY_VERSION_PATCH` never taken, which gives the commands of the build before the change:
 * every URL activity carries the batch's whole options. Its workers are SIGKILLed mid-batch and this
 * build's take over: the batch stores its options when it starts its next page, the pages it starts
 * send the version, the pages build A started go on sending the options, and every URL ends once.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { Worker } from '@temporalio/worker';
import type { BatchOptionsInput } from '../../src/batch/options.js';
import { workflowSource } from '../../src/workers/workflows.js';
import { OPTIONS_BY_VERSION_PATCH, pageWorkflowId } from '../../src/workflows/types.js';
import { bundleWorkflows, makeBuild, type Build } from '../support/build.js';
import { deployMidBatch, runsByBuild, tookPatch, type BuildRun } from '../support/runs.js';
import { containsText, startStack, type Stack, type WorkerProcess } from '../support/stack.js';

const PLAN = 4;
const PAGE_SIZE = 10;
const TOTAL = 60;
const OPTIONS: BatchOptionsInput = {
  mode: 'fast',
  outputFormat: 'css_extractor',
  cssSelectors: { title: 'title', heading: 'h1' },
  concurrency: PLAN,
  pageSize: PAGE_SIZE,
  pagesInFlight: 2,
  retry: { rateLimitBaseMs: 200, upstreamDelayMs: 100, timeoutDelayMs: 100 },
  // Longer than the held call waits for build A's end; a dead worker's call is retried after 2 s.
  timeouts: { scrapeMs: 60_000, heartbeatMs: 2000 },
};
const compiled = (path: string) => fileURLToPath(new URL(path, import.meta.url));

let stack: Stack;
let buildA: Build;
before(async () => {
  const bundle = await bundleWorkflows(
    compiled('../../src/workflows/index.js'),
    compiled('../fixtures/build-a/workflow-sdk.js'),
  );
  buildA = await makeBuild(bundle);
  stack = await startStack({ concurrency: PLAN });
});
after(async () => {
  await stack?.stop();
  await buildA?.remove();
});

interface Run extends BuildRun {
  /** The run took the new branch: the patch marker is in its history. */
  patched: boolean;
  /** Its URL activities' inputs: how many carry the version, how many the whole options. */
  byVersion: number;
  withOptions: number;
  storedOptions: number;
}

describe('deploys: options by version', { timeout: 300_000 }, () => {
  it("a batch whose URL activities carried the options finishes on this build, its new pages' by version", async () => {
    const { batchId, final, doneOnA, workers } = await deployMidBatch(stack, {
      batchId: 'deploy-options',
      total: TOTAL,
      options: OPTIONS,
      doneOnA: PAGE_SIZE,
      binA: buildA.bin,
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
      records.filter((r) => r.status !== 'succeeded' || !r.fields?.title),
      [],
      'every URL succeeded with its fields, whichever way its options came',
    );

    const runs = await runsOf(batchId, workers);
    assert.deepEqual(
      runs.filter((r) => r.taskFailures > 0).map((r) => r.workflowId),
      [],
      'no workflow task failed (no nondeterminism)',
    );
    const [batchRun] = runs.filter((r) => r.workflowId === batchId);
    assert.deepEqual(batchRun?.builds, ['A', 'B'], 'the batch ran on build A, then on this build');
    assert.equal(batchRun.patched, true, 'the batch took the new branch on this build');
    assert.equal(batchRun.storedOptions, 1, 'it stored its options once');
    const pages = runs.filter((r) => r.workflowId !== batchId);
    const onA = pages.filter((r) => r.builds[0] === 'A');
    const onB = pages.filter((r) => r.builds[0] === 'B');
    assert.ok(
      onA.some((r) => r.workflowId === pageWorkflowId(batchId, 0) && r.builds.includes('B')),
      'page 0 began on build A and finished on this build',
    );
    assert.ok(onB.length >= 1, 'pages started on this build');
    for (const run of onA) {
      assert.equal(run.byVersion, 0, `${run.workflowId} began on A: its URLs carry the options`);
      assert.ok(run.withOptions >= 1, `${run.workflowId} scheduled URLs`);
    }
    for (const run of onB) {
      assert.equal(run.withOptions, 0, `${run.workflowId} began on this build: no URL carries the options`);
      assert.ok(run.byVersion >= 1, `${run.workflowId} sent its URLs the version`);
    }

    // This build replays every history of the batch, those build A began included.
    const errors: unknown[] = [];
    for await (const result of Worker.runReplayHistories(workflowSource(), runs)) errors.push(result.error);
    assert.deepEqual(errors, Array(runs.length).fill(undefined), 'this build replays all');
    process.stdout.write(
      `# deploy-options: build A went at ${doneOnA}/${TOTAL} URLs done; pages begun on A ${onA.length}, ` +
        `on this build ${onB.length}\n`,
    );
  });
});

/** The batch's workflow runs: the builds that ran them, and what their URL activities were sent. */
async function runsOf(batchId: string, builds: Record<string, WorkerProcess[]>): Promise<Run[]> {
  const ofBatch = (id: string) => id === batchId || id.startsWith(`${batchId}/`);
  return (await runsByBuild(stack.client, builds, ofBatch)).map((run) => {
    const scheduled = (type: string) =>
      run.events.flatMap((e) => {
        const attributes = e.activityTaskScheduledEventAttributes;
        return attributes?.activityType?.name === type ? [attributes.input] : [];
      });
    const urlInputs = scheduled('scrapeUrl');
    return {
      ...run,
      patched: tookPatch(run, OPTIONS_BY_VERSION_PATCH),
      byVersion: urlInputs.filter((input) => containsText(input, '"optionsVersion"')).length,
      withOptions: urlInputs.filter((input) => containsText(input, '"cssSelectors"')).length,
      storedOptions: scheduled('storeOptions').length,
    };
  });
}
