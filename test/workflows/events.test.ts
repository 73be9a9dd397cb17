/**
 * What a batch emits (src/workflows/events.ts, src/activities/events.ts): the ids and types in order for
 * a batch with a pause, a resume and a dead-lettered URL; the page event's failures; the same drafts
 * when the record activity runs again after the sink had them; the cancelled and failed batches' events;
 * every draft valid against the catalogue. The workflows worker runs in this process with an in-memory
 * sink (test/support/event-sink.ts); the scrape worker is a process of its own.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { cancelBatch, resumeBatch } from '../../src/client/batches.js';
import { parseBatchOptions } from '../../src/batch/options.js';
import { loadConfig } from '../../src/config/env.js';
import { checkEventData } from '../../src/events/catalogue.js';
import { createLogger } from '../../src/logging/logger.js';
import { plainConnection } from '../../src/temporal/connection.js';
import { startWorkers, type RunningWorker } from '../../src/workers/process.js';
import { pauseSignal } from '../../src/workflows/definitions.js';
import { TASK_QUEUES, type BatchProgress } from '../../src/workflows/types.js';
import { memoryEventSink } from '../support/event-sink.js';
import { startStack, type Stack } from '../support/stack.js';

const PUBLIC_URL = 'https://scrapeflow.example.test';
let stack: Stack;
let worker: RunningWorker;
const sink = memoryEventSink();

before(async () => {
  stack = await startStack({ concurrency: 4 });
  await stack.startWorker({}, 'scrape');
  const address = 'address' in stack.temporal ? stack.temporal.address : '';
  const config = loadConfig({
    ...process.env,
    TEMPORAL_ADDRESS: address,
    TEMPORAL_NAMESPACE: 'default',
    SCRAPEFLOW_DATA_DIR: stack.dataDir,
    SCRAPEFLOW_PUBLIC_URL: PUBLIC_URL,
  });
  const quiet = new Writable({ write: (_chunk, _enc, done) => done() });
  worker = await startWorkers({
    config,
    logger: createLogger({ name: 'test', level: 'warn', destination: quiet }),
    store: stack.store,
    client: stack.client,
    roles: ['workflows'],
    connection: plainConnection(address, 'default'),
    events: sink,
  });
});
after(async () => {
  await worker?.shutdown();
  await stack?.stop();
});

/** Starts a batch paused by a signal that comes with the start (pages start only after a resume). */
async function startPaused(batchId: string, urls: string[], options: Record<string, unknown>) {
  const total = await stack.store.putInput(
    batchId,
    urls.map((url) => ({ url })),
  );
  return stack.client.workflow.signalWithStart('batchWorkflow', {
    workflowId: batchId,
    taskQueue: TASK_QUEUES.workflows,
    args: [{ batchId, options: parseBatchOptions({ mode: 'fast', ...options }), total }],
    signal: pauseSignal,
    signalArgs: [{ reason: 'manual' }],
  });
}

describe('batch events', () => {
  it('a paused, resumed batch with a dead letter: its events in order, the failure listed, each recorded again unchanged', async () => {
    const batchId = 'ev-main';
    const page = (n: number) => `${stack.demoOrigin}/p/${n}`;
    // The page event is recorded, then its activity "dies": the retry must record the same drafts.
    sink.failAfterRecording(`${batchId}/p0.completed`);
    const handle = await startPaused(batchId, [page(1), `${stack.demoOrigin}/status/404`, page(2), page(3)], {
      pageSize: 2,
      pagesInFlight: 1,
    });
    await sink.waitFor(`${batchId}.paused.1`);
    sink.failNext(1); // the store is down when the resume is recorded: the retry records it
    await resumeBatch(stack.client, batchId);
    const final = (await handle.result()) as BatchProgress;
    assert.equal(final.state, 'completed');

    const events = sink.of(batchId);
    assert.deepEqual(
      events.map((e) => [e.id, e.type]),
      [
        [`${batchId}.started`, 'batch.started'],
        [`${batchId}.paused.1`, 'batch.paused'],
        [`${batchId}.resumed.1`, 'batch.resumed'],
        [`${batchId}/p0.completed`, 'batch.page.completed'],
        [`${batchId}/p1.completed`, 'batch.page.completed'],
        [`${batchId}.completed`, 'batch.completed'],
      ],
    );
    for (const e of events) assert.equal(e.account, 'default');
    const [started, paused, resumed, p0, p1, completed] = events.map((e) => e.data);
    assert.deepEqual(started?.links, {
      status: `${PUBLIC_URL}/v1/batches/${batchId}`,
      results: `${PUBLIC_URL}/v1/batches/${batchId}/results`,
      webUi: `http://localhost:8233/namespaces/default/workflows/${batchId}`,
    });
    assert.equal(started?.pages, 2);
    assert.equal(paused?.reason, 'manual');
    assert.equal(paused?.state, 'paused');
    assert.equal(resumed?.reason, 'manual');
    assert.equal(resumed?.state, 'running');
    assert.deepEqual(p0?.counts, { succeeded: 1, failed: 0, dead_lettered: 1 });
    assert.deepEqual(p0?.failures, [
      { index: 1, url: `${stack.demoOrigin}/status/404`, status: 'dead_lettered', reason: 'scrape_failed' },
    ]);
    assert.equal(p0?.failuresOmitted, 0);
    assert.deepEqual(p1?.failures, []);
    assert.deepEqual(completed?.counts, { succeeded: 3, failed: 0, dead_lettered: 1 });
    assert.equal(completed?.credits, final.credits);
    assert.equal(completed?.state, 'completed');

    // Recorded twice (the retry after the "crash"), the same draft both times.
    const p0Calls = sink.calls.filter((d) => d.id === `${batchId}/p0.completed`);
    assert.equal(p0Calls.length, 2);
    assert.deepEqual(p0Calls[1], p0Calls[0]);
  });

  it('a cancelled batch (by signal or through Temporal) records its cancel; a batch whose input ends early records its failure', async () => {
    const cancelled = 'ev-cancel';
    const handle = await startPaused(cancelled, [`${stack.demoOrigin}/p/9`], {});
    await sink.waitFor(`${cancelled}.paused.1`);
    await cancelBatch(stack.client, cancelled);
    assert.equal(((await handle.result()) as BatchProgress).state, 'cancelled');
    assert.deepEqual(
      sink.of(cancelled).map((e) => e.type),
      ['batch.started', 'batch.paused', 'batch.cancelled'],
    );
    assert.deepEqual(sink.of(cancelled).at(-1)?.data.counts, { succeeded: 0, failed: 1, dead_lettered: 0 });

    // Cancelled through Temporal itself (Web UI, `temporal workflow cancel`): the same events.
    const viaTemporal = 'ev-cancel-temporal';
    const other = await startPaused(viaTemporal, [`${stack.demoOrigin}/p/11`], {});
    await sink.waitFor(`${viaTemporal}.paused.1`);
    await other.cancel();
    assert.equal(((await other.result()) as BatchProgress).state, 'cancelled');
    assert.deepEqual(
      sink.of(viaTemporal).map((e) => e.id),
      [`${viaTemporal}.started`, `${viaTemporal}.paused.1`, `${viaTemporal}.cancelled`],
    );

    // Three lines announced, one stored: the page fails, and so does the batch reconciling it.
    const failed = 'ev-failed';
    const total = await stack.store.putInput(failed, [{ url: `${stack.demoOrigin}/p/10` }]);
    const run = await stack.client.workflow.start('batchWorkflow', {
      workflowId: failed,
      taskQueue: TASK_QUEUES.workflows,
      args: [{ batchId: failed, options: parseBatchOptions({ mode: 'fast' }), total: total + 2 }],
    });
    await assert.rejects(run.result());
    const events = sink.of(failed);
    assert.deepEqual(
      events.map((e) => [e.id, e.type]),
      [
        [`${failed}.started`, 'batch.started'],
        [`${failed}.failed`, 'batch.failed'],
      ],
    );
    assert.match(String(events[1]?.data.error), /input of batch ev-failed ends at/);
  });

  it('every recorded draft matches its type in the catalogue', () => {
    assert.ok(sink.calls.length >= 11);
    for (const draft of sink.calls) assert.deepEqual(checkEventData(draft.type, draft.data), [], draft.id);
  });
});
