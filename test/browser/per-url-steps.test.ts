/**
 * Per-URL browser steps end to end (real dev server, worker processes from bin/scrapeflow, local API
 * BaaS, real Chromium, the HTTP service): one batch mixes plain pages, scraped on the HTTP path, and
 * interactive items carrying their own `steps`, run in browser sessions on the `browser` queue.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import type { StepInput } from '../../src/batch/steps.js';
import { startBatch } from '../../src/client/batches.js';
import { redriveBatch } from '../../src/client/redrive.js';
import { buildService } from '../../src/service/app.js';
import type { BatchProgress } from '../../src/workflows/types.js';
import { startStack, type Stack } from '../support/stack.js';

const TOKEN = 'per-url-steps-token-0123456789';
let stack: Stack;
let app: FastifyInstance;
before(async () => {
  stack = await startStack({ concurrency: 2, browserSessions: 2 });
  await stack.startWorker();
  await stack.startWorker({ BAAS_CONCURRENCY: '2' }, 'browser');
  app = await buildService({
    client: stack.client,
    store: stack.store,
    token: TOKEN,
    logger: pino({ level: 'silent' }),
  });
});
after(async () => {
  await app?.close();
  await stack?.stop();
});

const OPTIONS = {
  concurrency: 5,
  retry: { upstreamDelayMs: 200 },
  // Beats go out every 0.8 × the timeout (the SDK's throttle): 5 s leaves a Chromium start on a loaded
  // machine 1 s of slack before the server gives the try up.
  timeouts: { scrapeMs: 60_000, heartbeatMs: 5000 },
};

/** The interactive page's steps with one category chosen. */
const interactive = (category: string): StepInput[] => [
  { action: 'click', selector: '#cookie-accept' },
  { action: 'waitFor', selector: '#cookie-banner', state: 'detached' },
  { action: 'select', selector: 'select#category', value: category },
  { action: 'scroll', until: { selector: '#end:not([hidden])' }, maxScrolls: 20 },
  { action: 'extract', fields: { total: '#items@data-total', first: '.item .item-name' } },
];

const finished = (batchId: string) =>
  stack.client.workflow.getHandle(batchId).result() as Promise<BatchProgress>;

describe('per-URL browser steps', () => {
  it('one JSONL batch: plain pages on the HTTP path, items with steps in browser sessions', async () => {
    const demo = stack.demoOrigin;
    const jsonl = [
      { url: `${demo}/p/1` },
      { url: `${demo}/interactive`, tags: ['books'], steps: interactive('books') },
      { url: `${demo}/p/2` },
      { url: `${demo}/interactive`, steps: interactive('toys') },
      { url: `${demo}/p/3` },
    ]
      .map((line) => JSON.stringify(line))
      .join('\n');
    const res = await app.inject({
      method: 'POST',
      url: `/v1/batches?batchId=mixed-steps&options=${encodeURIComponent(JSON.stringify(OPTIONS))}`,
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/x-ndjson' },
      payload: jsonl,
    });
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.json<{ total: number }>().total, 5);
    const stored = await stack.store.readInput('mixed-steps', 0, 5);
    assert.deepEqual(
      stored.map((item) => item.steps?.length ?? 0),
      [0, 5, 0, 5, 0],
    );

    const final = await finished('mixed-steps');
    assert.deepEqual(final.counts, { succeeded: 5, failed: 0, dead_lettered: 0, in_flight: 0, pending: 0 });
    const rs = await stack.records('mixed-steps');
    assert.equal(rs.length, 5);
    for (const [index, n] of [
      [0, 1],
      [2, 2],
      [4, 3],
    ] as const) {
      const r = rs[index];
      assert.equal(r?.status, 'succeeded');
      assert.ok(r.methodUsed && r.methodUsed !== 'browser', `p/${n} took the HTTP path (${r.methodUsed})`);
      assert.equal(r.fields, undefined);
      assert.match((await stack.store.getContent(r.contentRef ?? '')) ?? '', new RegExp(`Product ${n}<`));
    }
    const [books, toys] = [rs[1], rs[3]];
    assert.equal(books?.methodUsed, 'browser');
    assert.deepEqual(books.tags, ['books']);
    assert.deepEqual(
      { total: books.fields?.total, first: books.fields?.first },
      { total: '15', first: 'Item 2' },
    );
    assert.equal(toys?.methodUsed, 'browser');
    assert.deepEqual(
      { total: toys.fields?.total, first: toys.fields?.first },
      { total: '15', first: 'Item 4' },
    );
    assert.ok((await stack.store.getContent(toys.contentRef ?? ''))?.includes('End of the list.'));
    assert.ok(final.creditsByMethod.browser, 'browser sessions were charged');
  });

  it('refuses bad per-URL steps before the batch starts, naming the item and the field', async () => {
    const urls = [
      { url: `${stack.demoOrigin}/p/1` },
      { url: `${stack.demoOrigin}/interactive`, steps: [{ action: 'wait', ms: 1 }, { action: 'click' }] },
    ];
    const res = await app.inject({
      method: 'POST',
      url: '/v1/batches',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      payload: { batchId: 'bad-steps-http', urls },
    });
    assert.equal(res.statusCode, 400, res.body);
    const body = res.json<{ error: string; message: string; field: string }>();
    assert.equal(body.error, 'invalid_request');
    assert.equal(body.message, 'body.urls[1].steps[1].selector: is required');
    assert.equal(body.field, 'body.urls.1.steps.1.selector');
    const upload = await app.inject({
      method: 'POST',
      url: '/v1/batches?batchId=bad-steps-upload',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/x-ndjson' },
      payload: urls.map((u) => JSON.stringify(u)).join('\n'),
    });
    assert.equal(upload.statusCode, 400, upload.body);
    assert.deepEqual(upload.json(), {
      error: 'invalid_input',
      message: 'line 2: steps[1].selector: is required',
      field: 'body',
      line: 2,
    });
    await assert.rejects(
      startBatch(stack.client, stack.store, { batchId: 'bad-steps-client', urls: urls as never }),
      (err: Error & { field?: string }) => {
        assert.equal(err.name, 'ValidationError');
        assert.equal(err.message, 'urls[1].steps[1].selector: is required');
        assert.equal(err.field, 'urls[1].steps[1].selector');
        return true;
      },
    );
    for (const batchId of ['bad-steps-http', 'bad-steps-upload', 'bad-steps-client'])
      await assert.rejects(stack.client.workflow.getHandle(batchId).describe(), /not found/i);
  });

  it("re-drive keeps a dead letter's own steps: it runs in a browser session again", async () => {
    // A scroll condition that never holds dead-letters the URL (browser_step_failed) at once.
    const failing: StepInput[] = [
      { action: 'scroll', until: { selector: '#never' }, maxScrolls: 1, settleMs: 0 },
    ];
    const res = await app.inject({
      method: 'POST',
      url: '/v1/batches',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      payload: {
        batchId: 'steps-redrive',
        urls: [`${stack.demoOrigin}/p/4`, { url: `${stack.demoOrigin}/p/5`, steps: failing }],
        options: OPTIONS,
      },
    });
    assert.equal(res.statusCode, 201, res.body);
    const first = await finished('steps-redrive');
    assert.equal(first.counts.succeeded, 1);
    assert.equal(first.counts.dead_lettered, 1);
    const dead = await stack.store.getResult('steps-redrive', 1);
    assert.equal(dead?.methodUsed, 'browser');
    assert.equal(dead.reason, 'browser_step_failed');

    const redriven = await redriveBatch(stack.client, stack.store, {
      batchId: 'steps-redrive',
      newBatchId: 'steps-redrive-2',
    });
    assert.equal(redriven.total, 1);
    const [item] = await stack.store.readInput('steps-redrive-2', 0, 1);
    assert.equal(item?.url, `${stack.demoOrigin}/p/5`);
    assert.equal(item.steps?.[0]?.action, 'scroll');
    assert.deepEqual(item.redrivenFrom, { batchId: 'steps-redrive', index: 1 });
    await redriven.handle.result();
    // Without its steps the page would have succeeded on the HTTP path.
    const again = await stack.store.getResult('steps-redrive-2', 0);
    assert.equal(again?.methodUsed, 'browser');
    assert.equal(again.status, 'dead_lettered');
    assert.equal(again.reason, 'browser_step_failed');
  });
});
