/**
 * Replays the committed workflow histories (test/fixtures/histories, recorded by
 * `npm run record-histories`) against the current workflow code: a change that breaks determinism for
 * workflows already running fails here.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import proto from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { workflowSource } from '../../src/workers/workflows.js';

const DIR = new URL('../../../test/fixtures/histories/', import.meta.url);

describe('workflow determinism', () => {
  it('replays every recorded history', async () => {
    const files = (await readdir(DIR)).filter((f) => f.endsWith('.binpb')).sort();
    assert.ok(files.length >= 10, `found ${files.length} recorded histories`);
    const histories = await Promise.all(
      files.map(async (file) => ({
        // <workflowId with / as ~>~<runId>.binpb
        workflowId: file.slice(0, -'.binpb'.length).split('~').slice(0, -1).join('/'),
        history: proto.temporal.api.history.v1.History.decode(await readFile(new URL(file, DIR))),
      })),
    );
    const types = new Set(
      histories.map(
        ({ history }) =>
          history.events[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name ?? '?',
      ),
    );
    assert.deepEqual([...types].sort(), ['batchWorkflow', 'monitorRunWorkflow', 'pageWorkflow']);
    // One replay worker for every history; each result names its workflow and any nondeterminism.
    const failures: string[] = [];
    let replayed = 0;
    for await (const result of Worker.runReplayHistories(workflowSource(), histories)) {
      replayed += 1;
      if (result.error) failures.push(`${result.workflowId}: ${String(result.error)}`);
    }
    assert.equal(replayed, files.length);
    assert.deepEqual(failures, []);
  });
});
