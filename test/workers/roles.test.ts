/**
 * Worker roles: each role's process polls its own task queue and nothing else (read from Temporal's
 * own view, DescribeTaskQueue), a batch completes with the roles in separate processes, a second scrape
 * worker on the same filesystem store is refused (its plan would double), and a bad `--queue` is a
 * usage error naming the flag.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import proto from '@temporalio/proto';
import { startBatch } from '../../src/client/batches.js';
import { getProgress } from '../../src/client/progress.js';
import { TASK_QUEUES } from '../../src/workflows/types.js';
import { runCli } from '../support/cli.js';
import { eventually, startStack, type Stack, type WorkerProcess } from '../support/stack.js';

const { TaskQueueType } = proto.temporal.api.enums.v1;

let stack: Stack;
before(async () => {
  stack = await startStack();
});
after(() => stack?.stop());

/** The identities polling `queue` for tasks of `type`, as the server reports them. */
async function pollers(queue: string, type: proto.temporal.api.enums.v1.TaskQueueType): Promise<string[]> {
  const res = await stack.client.workflowService.describeTaskQueue({
    namespace: 'default',
    taskQueue: { name: queue },
    taskQueueType: type,
  });
  return (res.pollers ?? []).map((p) => p.identity ?? '');
}

const ofWorker = (identities: string[], worker: WorkerProcess) =>
  identities.some((id) => id.startsWith(`${worker.child.pid}@`));

describe('worker roles', () => {
  it('a scrape worker polls only the scrape queue, a workflows worker only the workflows queue', async () => {
    const scrape = await stack.startWorker({}, 'scrape');
    const workflows = await stack.startWorker({}, 'workflows');
    await eventually(
      async () => ofWorker(await pollers(TASK_QUEUES.scrape, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY), scrape),
      {
        what: 'the scrape worker polling the scrape queue',
      },
    );
    await eventually(
      async () =>
        ofWorker(await pollers(TASK_QUEUES.workflows, TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW), workflows),
      { what: 'the workflows worker polling the workflows queue' },
    );

    // A small batch through both processes: workflows on one, OmniScrape calls on the other.
    const urls = [1, 2, 3].map((n) => ({ url: `${stack.demoOrigin}/p/${n}` }));
    const { batchId } = await startBatch(stack.client, stack.store, { urls, options: { mode: 'fast' } });
    const final = await eventually(
      async () => {
        const p = await getProgress(stack.client, stack.store, batchId).catch(() => undefined);
        return p?.state === 'completed' ? p : undefined;
      },
      { what: 'the batch to complete' },
    );
    assert.equal(final.counts.succeeded, 3);

    for (const type of [TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY]) {
      const workflowsQueue = await pollers(TASK_QUEUES.workflows, type);
      const scrapeQueue = await pollers(TASK_QUEUES.scrape, type);
      assert.ok(
        !ofWorker(workflowsQueue, scrape),
        `the scrape worker never polled the workflows queue (${type})`,
      );
      assert.ok(
        !ofWorker(scrapeQueue, workflows),
        `the workflows worker never polled the scrape queue (${type})`,
      );
      assert.ok(!ofWorker(await pollers(TASK_QUEUES.browser, type), scrape), 'nor the browser queue');
    }
    assert.ok(
      ofWorker(await pollers(TASK_QUEUES.workflows, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY), workflows),
    );
    const scrapeStart = scrape.lines.find((l) => l.includes('"scrape worker started"')) ?? '';
    assert.match(scrapeStart, /"queues":\["scrape"\]/);
    assert.match(
      scrapeStart,
      /"temporal":\{"address":"127\.0\.0\.1:\d+","namespace":"default","tls":"off","apiKeySet":false\}/,
    );
  });

  it('a second scrape worker on the filesystem store exits 2 saying several need PostgreSQL; a SIGKILLed one leaves no lock', async () => {
    const first =
      stack.workers.find((w) => w.queue === 'scrape' && w.child.exitCode === null) ??
      (await stack.startWorker({}, 'scrape'));
    const second = await runCli(stack, ['worker', '--queue', 'scrape'], {
      env: { OMNISCRAPE_KEY: stack.apiKey, OMNISCRAPE_API_URL: stack.apiUrl },
    });
    assert.equal(second.code, 2, second.stderr);
    assert.match(
      second.stderr,
      new RegExp(
        `another scrape worker \\(pid ${first.child.pid}, since [^)]+\\) serves the filesystem store at ${stack.dataDir}, ` +
          `.+: several scrape workers need PostgreSQL \\(set SCRAPEFLOW_DATABASE_URL on every process\\)`,
      ),
    );
    assert.equal(second.stderr.trim().split('\n').length, 1, `one line: ${second.stderr}`);
    await first.kill('SIGKILL');
    const next = await stack.startWorker({}, 'scrape'); // the dead worker's lock is reclaimed at once
    assert.ok(next.lines.some((l) => l.includes('"permits":"process"')));
  });

  it('--queue: a role, a comma list of roles or all; anything else exits 2 naming the flag', async () => {
    const run = await runCli(stack, ['worker', '--queue', 'scrape,render']);
    assert.equal(run.code, 2, run.stderr);
    assert.match(
      run.stderr,
      /--queue must be workflows, scrape, browser, a comma list of them, or all \(got "scrape,render"\)/,
    );
  });
});
