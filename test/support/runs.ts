/** Deploy tests: a batch moved from one build's workers to another's, and the runs each build ran. */
import { hostname } from 'node:os';
import type { Client, HistoryAndWorkflowId } from '@temporalio/client';
import type proto from '@temporalio/proto';
import type { BatchOptionsInput } from '../../src/batch/options.js';
import { startBatch } from '../../src/client/batches.js';
import type { BatchProgress } from '../../src/workflows/types.js';
import { containsText, eventually, type Stack, type WorkerProcess } from './stack.js';

/** `WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND` (temporal.api.enums.v1.WorkflowTaskFailedCause). */
const UNHANDLED_COMMAND = 1;

export interface BuildRun extends HistoryAndWorkflowId {
  events: proto.temporal.api.history.v1.IHistoryEvent[];
  /** The builds whose workers completed its workflow tasks, in order of first appearance. */
  builds: string[];
  taskFailures: number;
}

/** Every run whose workflow id `keep` accepts, with the builds (named by their worker processes) that ran it. */
export async function runsByBuild(
  client: Client,
  builds: Record<string, WorkerProcess[]>,
  keep: (workflowId: string) => boolean = () => true,
): Promise<BuildRun[]> {
  const buildOf = new Map<string, string>();
  for (const [build, workers] of Object.entries(builds))
    for (const w of workers) buildOf.set(`${w.child.pid}@${hostname()}`, build);
  const runs: BuildRun[] = [];
  for await (const { workflowId, runId } of client.workflow.list()) {
    if (!keep(workflowId)) continue;
    const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    const events = history.events ?? [];
    const identities = events.flatMap((e) => e.workflowTaskCompletedEventAttributes?.identity ?? []);
    runs.push({
      workflowId,
      history,
      events,
      builds: [...new Set(identities.map((id) => buildOf.get(id) ?? id))],
      taskFailures: events.filter((e) => {
        const failed = e.workflowTaskFailedEventAttributes;
        // A signal that arrives while a task completes the workflow fails that task with
        // UNHANDLED_COMMAND and Temporal retries it with the signal: Temporal's own protocol, not a
        // failure of the code (nondeterminism fails with another cause).
        return failed && Number(failed.cause) !== UNHANDLED_COMMAND;
      }).length,
    });
  }
  return runs;
}

/** Whether the run took a patch's new branch (its marker is in the history). */
export const tookPatch = (run: BuildRun, patchId: string): boolean =>
  run.events.some(
    (e) => e.markerRecordedEventAttributes && containsText(e.markerRecordedEventAttributes, patchId),
  );

export interface Deploy {
  batchId: string;
  final: BatchProgress;
  /** URLs with a record when build A's workers were killed. */
  doneOnA: number;
  workers: { A: WorkerProcess[]; B: WorkerProcess[] };
}

/**
 * Starts a batch of `total` demo pages on build A's `workflows` and `scrape` workers, SIGKILLs them
 * once `doneOnA` URLs have records while page 0 is held open (the first call of its third URL hangs),
 * starts build B's, and waits for the batch's end. Every scrape is paced, so pages are still to start
 * when build A goes. `bin` undefined: this build.
 */
export async function deployMidBatch(
  stack: Stack,
  spec: {
    batchId: string;
    total: number;
    options: BatchOptionsInput;
    doneOnA: number;
    binA?: string;
    binB?: string;
  },
): Promise<Deploy> {
  const origin = stack.demoOrigin;
  const start = (bin: string | undefined) =>
    Promise.all([stack.startWorker({}, 'workflows', bin), stack.startWorker({}, 'scrape', bin)]);
  const A = await start(spec.binA);
  await stack.admin('PUT', '/admin/faults', {
    rules: [
      { id: 'hold', match: `${origin}/p/3`, action: 'hang', first: 1, endpoints: ['scrape'] },
      { id: 'pace', match: `${origin}/p/*`, action: 'latency', latencyMs: 100, endpoints: ['scrape'] },
    ],
  });
  const { batchId, handle } = await startBatch(stack.client, stack.store, {
    batchId: spec.batchId,
    urls: Array.from({ length: spec.total }, (_, i) => ({ url: `${origin}/p/${i + 1}` })),
    options: spec.options,
  });
  const doneOnA = await eventually(
    async () => {
      const held = stack.api.state.counters.snapshot().faults_fired.hold ?? 0;
      const done = (await stack.records(batchId)).length;
      return held === 1 && done >= spec.doneOnA ? done : undefined;
    },
    { timeoutMs: 120_000, what: 'progress on build A with page 0 held' },
  );
  for (const worker of A) await worker.kill('SIGKILL');
  const B = await start(spec.binB);
  const final = (await handle.result()) as BatchProgress;
  return { batchId, final, doneOnA, workers: { A, B } };
}
