/**
 * A batch's priority and its account's fairness key reach every task Temporal dispatches for it: the
 * batch workflow, its page workflows, their URL and control activities (read back from the histories
 * the server recorded). A bad priority is refused at every boundary, naming the field.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import type proto from '@temporalio/proto';
import { parseBatchOptions } from '../../src/batch/options.js';
import { startBatch } from '../../src/client/batches.js';
import { getProgress } from '../../src/client/progress.js';
import { buildService } from '../../src/service/app.js';
import { fairnessKeyOf } from '../../src/workflows/priority.js';
import { pageWorkflowId, type BatchProgress } from '../../src/workflows/types.js';
import { runCli } from '../support/cli.js';
import { startStack, type Stack } from '../support/stack.js';
import { ValidationError } from '../../src/errors.js';

type IPriority = proto.temporal.api.common.v1.IPriority;

const TOKEN = 'priority-test-token-0123456789';
let stack: Stack;
let app: FastifyInstance;
let base: string;

before(async () => {
  stack = await startStack({ concurrency: 3 });
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

/** Every priority a workflow's history carries, by what was scheduled: `activity <type>`, `child`, `start`. */
async function prioritiesIn(
  workflowId: string,
): Promise<Array<{ what: string; priority: IPriority | null | undefined }>> {
  const history = await stack.client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).flatMap((event) => {
    if (event.workflowExecutionStartedEventAttributes)
      return [{ what: 'start', priority: event.workflowExecutionStartedEventAttributes.priority }];
    if (event.activityTaskScheduledEventAttributes) {
      const attrs = event.activityTaskScheduledEventAttributes;
      return [{ what: `activity ${attrs.activityType?.name}`, priority: attrs.priority }];
    }
    if (event.startChildWorkflowExecutionInitiatedEventAttributes)
      return [
        { what: 'child', priority: event.startChildWorkflowExecutionInitiatedEventAttributes.priority },
      ];
    return [];
  });
}

describe('batch priority and fairness (real dev server with the new matcher)', () => {
  it('puts the priority and the account as fairness key on the batch, its pages and every activity', async () => {
    const batchId = 'prio-urgent';
    const { handle } = await startBatch(stack.client, stack.store, {
      batchId,
      // Two pages; the URL activities run on `scrape`, the input loads on `scrapeflow`.
      urls: Array.from({ length: 5 }, (_, i) => ({ url: `${stack.demoOrigin}/p/${i + 1}` })),
      options: { mode: 'fast', priority: 1, account: 'acme', pageSize: 3 },
    });
    const final = (await handle.result()) as BatchProgress;
    assert.equal(final.counts.succeeded, 5);

    const batch = await prioritiesIn(batchId);
    const pages = [
      ...(await prioritiesIn(pageWorkflowId(batchId, 0))),
      ...(await prioritiesIn(pageWorkflowId(batchId, 1))),
    ];
    const kinds = new Set([...batch, ...pages].map((p) => p.what));
    for (const kind of ['start', 'child', 'activity scrapeUrl', 'activity loadInputPage'])
      assert.ok(kinds.has(kind), `no ${kind} in the histories: ${[...kinds].join(', ')}`);
    assert.equal(pages.filter((p) => p.what === 'activity scrapeUrl').length, 5);
    for (const { what, priority } of [...batch, ...pages])
      assert.deepEqual(
        { priorityKey: priority?.priorityKey, fairnessKey: priority?.fairnessKey },
        { priorityKey: 1, fairnessKey: 'acme' },
        what,
      );
    assert.equal((await getProgress(stack.client, stack.store, batchId)).priority, 1);
  });

  it("gives a batch without a priority Temporal's default, 3, and its account's key", async () => {
    const batchId = 'prio-default';
    const { handle } = await startBatch(stack.client, stack.store, {
      batchId,
      urls: [{ url: `${stack.demoOrigin}/p/9` }],
      options: { mode: 'fast' },
    });
    await handle.result();
    const scrapes = (await prioritiesIn(pageWorkflowId(batchId, 0))).filter(
      (p) => p.what === 'activity scrapeUrl',
    );
    assert.equal(scrapes.length, 1);
    assert.equal(scrapes[0]?.priority?.priorityKey, 3);
    assert.equal(scrapes[0]?.priority?.fairnessKey, 'default');
    assert.equal((await getProgress(stack.client, stack.store, batchId)).priority, 3);
  });

  it('refuses a priority outside 1-5, naming the field (options, CLI exit 2, HTTP 400)', async () => {
    for (const priority of [0, 6, 'x', 2.5]) {
      assert.throws(
        () => parseBatchOptions({ priority }),
        (err: unknown) => err instanceof ValidationError && err.field === 'priority',
        String(priority),
      );
    }
    for (const value of ['0', '6', 'x']) {
      const run = await runCli(stack, ['start', '-', '--priority', value], { stdin: 'https://a.example/\n' });
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, /--priority must be a whole number from 1 to 5/);
    }
    const auth = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
    for (const [path, body] of [
      ['/v1/batches', { urls: ['https://a.example/'], options: { priority: 0 } }],
      ['/v1/batches', { urls: ['https://a.example/'], options: { priority: 'x' } }],
      ['/v1/scrape', { url: 'https://a.example/', options: { priority: 6 } }],
    ] as const) {
      const res = await fetch(`${base}${path}`, {
        method: 'POST',
        headers: auth,
        body: JSON.stringify(body),
      });
      const json = (await res.json()) as { field?: string };
      assert.equal(res.status, 400, JSON.stringify(json));
      assert.equal(json.field, 'body.options.priority');
    }
  });

  it("keeps fairness keys within Temporal's 64 bytes, distinct for long labels with one prefix", () => {
    assert.equal(fairnessKeyOf('acme'), 'acme');
    const a = fairnessKeyOf(`${'é'.repeat(60)}a`);
    const b = fairnessKeyOf(`${'é'.repeat(60)}b`);
    assert.notEqual(a, b);
    for (const key of [a, b, fairnessKeyOf('x'.repeat(100))]) assert.ok(Buffer.byteLength(key) <= 64, key);
    assert.equal(fairnessKeyOf('x'.repeat(64)), 'x'.repeat(64));
  });
});
