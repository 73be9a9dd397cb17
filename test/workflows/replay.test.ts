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
    const types = new Set<string>();
    for (const file of files) {
      const history = proto.temporal.api.history.v1.History.decode(await readFile(new URL(file, DIR)));
      // <workflowId with / as ~>~<runId>.binpb
      const workflowId = file.slice(0, -'.binpb'.length).split('~').slice(0, -1).join('/');
      types.add(history.events[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name ?? '?');
      await Worker.runReplayHistory({ ...workflowSource(), replayName: file }, history, workflowId);
    }
    assert.deepEqual([...types].sort(), ['batchWorkflow', 'pageWorkflow']);
  });
});
