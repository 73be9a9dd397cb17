/**
 * A batch whose workflow closed without completing (terminated, failed) is reported as such, with the
 * reason, by `status`, `status --watch`, `start --wait`, the service's progress route and single-URL
 * scrape, and `list`; watching and waiting exit 8 at once. A cancel through Temporal is not such an
 * end: the batch handles it as `scrapeflow cancel` and completes as `cancelled`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { startBatch } from '../../src/client/batches.js';
import { listBatches } from '../../src/client/list.js';
import { getProgress } from '../../src/client/progress.js';
import { buildService } from '../../src/service/app.js';
import { FsStore } from '../../src/store/fs-store.js';
import { BatchStatusAttr } from '../../src/temporal/search-attributes.js';
import type { BatchProgress } from '../../src/workflows/types.js';
import { BIN, runCli } from '../support/cli.js';
import { eventually, startStack, type Stack } from '../support/stack.js';

const TOKEN = 'closed-batch-test-token';
let stack: Stack;
let app: FastifyInstance;
let base: string;

before(async () => {
  stack = await startStack();
  await stack.startWorker();
  app = await buildService({
    client: stack.client,
    store: stack.store,
    token: TOKEN,
    logger: pino({ level: 'silent' }),
  });
  base = await app.listen({ host: '127.0.0.1', port: 0 });
});
after(async () => {
  await app?.close();
  await stack?.stop();
});

const page = (n: number) => `${stack.demoOrigin}/p/${n}`;
const auth = { authorization: `Bearer ${TOKEN}` };

/** A batch of two URLs: the first succeeds, the second hangs at the local API until the test ends. */
async function batchWithAHang(batchId: string) {
  await stack.admin('PUT', '/admin/faults', {
    rules: [{ match: `${page(2)}?${batchId}`, action: 'hang' }],
  });
  const started = await startBatch(stack.client, stack.store, {
    batchId,
    urls: [{ url: `${page(1)}?${batchId}` }, { url: `${page(2)}?${batchId}` }],
    options: { mode: 'fast' },
  });
  await eventually(async () => (await stack.store.getResult(batchId, 0))?.status === 'succeeded', {
    what: `the first URL of ${batchId}`,
  });
  return started;
}

/** `scrapeflow status <id> --watch --json`, resolved once it has printed its first progress line. */
async function watching(batchId: string) {
  const child = spawn(process.execPath, [BIN, 'status', batchId, '--watch', '--json', '--interval', '100'], {
    env: {
      PATH: process.env.PATH ?? '',
      TEMPORAL_ADDRESS: stack.temporal.address,
      SCRAPEFLOW_DATA_DIR: stack.dataDir,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  const exited = once(child, 'exit');
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stderr }).on('line', (line) => {
      if (line.startsWith(`${batchId}: running`)) resolve();
    });
    void exited.then(() => reject(new Error(`status --watch exited early: ${stdout}`)));
  });
  return {
    async result() {
      const [code] = (await exited) as [number | null];
      return { code, progress: JSON.parse(stdout) as BatchProgress };
    },
  };
}

describe('a batch whose workflow closed without completing', () => {
  it('terminated: status, status --watch (exit 8), the service route and list say terminated, with the reason', async () => {
    const { handle } = await batchWithAHang('closed-term');
    const watch = await watching('closed-term');
    await handle.terminate('operator stopped it for the test');

    const watched = await watch.result();
    assert.equal(watched.code, 8, 'status --watch exits 8 (batchFailed)');
    assert.equal(watched.progress.state, 'terminated');
    assert.match(watched.progress.failure ?? '', /operator stopped it for the test/);

    // The batch's page is cancelled with it (parent close policy) and records its URL in flight.
    const hung = await eventually(async () => stack.store.getResult('closed-term', 1), {
      what: 'the record of the URL in flight when the batch was terminated',
    });
    assert.deepEqual({ status: hung.status, reason: hung.reason }, { status: 'failed', reason: 'cancelled' });

    const status = await runCli(stack, ['status', 'closed-term', '--json']);
    assert.equal(status.code, 0, status.stderr);
    const progress = JSON.parse(status.stdout) as BatchProgress;
    assert.equal(progress.state, 'terminated');
    assert.match(progress.failure ?? '', /operator stopped it for the test/);
    assert.equal(progress.total, 2);
    assert.equal(progress.counts.succeeded, 1, 'counted from the stored records');
    assert.equal(progress.counts.failed, 1);
    assert.equal(progress.counts.pending, 0);
    assert.ok(progress.endedAt, 'the close time');

    const text = await runCli(stack, ['status', 'closed-term']);
    assert.match(text.stdout, /closed-term: terminated \(operator stopped it for the test/);
    assert.match(text.stdout, /start the URLs that have no record again/);

    const res = await fetch(`${base}/v1/batches/closed-term`, { headers: auth });
    assert.equal(res.status, 200);
    const served = (await res.json()) as BatchProgress;
    assert.equal(served.state, 'terminated');
    assert.match(served.failure ?? '', /operator stopped it for the test/);

    const openapi = (await (await fetch(`${base}/openapi.json`, { headers: auth })).json()) as {
      components: { schemas: { BatchProgress: { properties: { state: { enum: string[] } } } } };
    };
    const states = openapi.components.schemas.BatchProgress.properties.state.enum;
    for (const state of ['failed', 'terminated', 'timed_out', 'cancelled'])
      assert.ok(states.includes(state), state);

    await eventually(
      async () => {
        for await (const b of listBatches(stack.client, { status: 'terminated' }))
          if (b.batchId === 'closed-term') return true;
        return false;
      },
      { what: 'list --status terminated to show the batch' },
    );
  });

  it('failed (input in another store than the workers): start --wait exits 8 with the StoreMismatch message, status says failed', async () => {
    const otherDir = await mkdtemp(join(tmpdir(), 'closed-other-store-'));
    try {
      const env = { SCRAPEFLOW_DATA_DIR: otherDir };
      const input = join(otherDir, 'urls.txt');
      await writeFile(input, `${page(3)}\n${page(4)}\n`);
      const started = await runCli(stack, ['start', input, '--batch-id', 'closed-fail', '--wait'], { env });
      assert.equal(started.code, 8, `start --wait exits 8 (batchFailed): ${started.stderr}`);
      assert.match(started.stdout, /closed-fail: failed \(StoreMismatchError: .*is not the batch's store/);
      assert.match(started.stdout, /SCRAPEFLOW_DATABASE_URL/);

      const status = await runCli(stack, ['status', 'closed-fail', '--json'], { env });
      const progress = JSON.parse(status.stdout) as BatchProgress;
      assert.equal(progress.state, 'failed');
      assert.match(
        progress.failure ?? '',
        /^StoreMismatchError: this worker's store .* is not the batch's store/,
      );
      assert.equal(progress.total, 2, 'total from the batch, though no record exists');
      assert.equal(progress.counts.pending, 2);

      // Non-retryable: the batch tried once to store its options where the worker could read them
      // and failed with the mismatch before starting a page (nothing retries forever).
      /** Each activity the workflow ran: its type and the attempt it was started with. */
      const activities = async (workflowId: string) => {
        const { events } = await stack.client.workflow.getHandle(workflowId).fetchHistory();
        const types = new Map<number, string>();
        const out: string[] = [];
        for (const e of events ?? []) {
          const scheduled = e.activityTaskScheduledEventAttributes;
          if (scheduled) types.set(Number(e.eventId), scheduled.activityType?.name ?? '?');
          const start = e.activityTaskStartedEventAttributes;
          if (start) out.push(`${types.get(Number(start.scheduledEventId))} #${start.attempt}`);
        }
        return out;
      };
      // Around it, the batch's events: batch.started, then batch.failed.
      assert.deepEqual(await activities('closed-fail'), [
        'recordEvents #1',
        'storeOptions #1',
        'recordEvents #1',
      ]);
      const pages = await stack.client.workflow.count(`WorkflowId = 'closed-fail/p0'`);
      assert.equal(pages.count, 0, 'no page started');
    } finally {
      await rm(otherDir, { recursive: true, force: true });
    }
  });

  it('failed: the single-URL scrape answers 500 with the message instead of 202 pending', async () => {
    const otherDir = await mkdtemp(join(tmpdir(), 'closed-other-service-'));
    const other = new FsStore(otherDir);
    const service = await buildService({
      client: stack.client,
      store: other,
      token: TOKEN,
      logger: pino({ level: 'silent' }),
    });
    try {
      const res = await service.inject({
        method: 'POST',
        url: '/v1/scrape',
        headers: auth,
        payload: { url: page(5), waitMs: 60_000 },
      });
      const body = res.json<{ error: string; state: string; message: string }>();
      assert.equal(res.statusCode, 500, res.body);
      assert.equal(body.error, 'batch_failed');
      assert.equal(body.state, 'failed');
      assert.match(body.message, /StoreMismatchError/);
    } finally {
      await service.close();
      await rm(otherDir, { recursive: true, force: true });
    }
  });

  it('cancelled through Temporal (Web UI, `temporal workflow cancel`): as `scrapeflow cancel`, every URL recorded; --watch exits 5', async () => {
    const { handle } = await batchWithAHang('closed-cancel');
    await handle.cancel();
    // The batch handles the cancel itself and completes: its result is the final progress.
    const result = (await handle.result()) as BatchProgress;
    assert.equal(result.state, 'cancelled');
    assert.equal(result.failure, undefined, 'not a workflow that ended abnormally');

    const progress = await getProgress(stack.client, stack.store, 'closed-cancel');
    assert.equal(progress.state, 'cancelled');
    assert.deepEqual(
      {
        succeeded: progress.counts.succeeded,
        failed: progress.counts.failed,
        pending: progress.counts.pending,
      },
      { succeeded: 1, failed: 1, pending: 0 },
    );
    const hung = await stack.store.getResult('closed-cancel', 1);
    assert.equal(hung?.status, 'failed');
    assert.equal(hung?.reason, 'cancelled');
    const description = await handle.describe();
    assert.equal(description.typedSearchAttributes.get(BatchStatusAttr), 'cancelled');

    const watched = await runCli(stack, ['status', 'closed-cancel', '--watch', '--json']);
    assert.equal(watched.code, 5, `batchNotCompleted: ${watched.stderr}`);
    assert.equal((JSON.parse(watched.stdout) as BatchProgress).state, 'cancelled');
  });
});
