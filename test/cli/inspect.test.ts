/**
 * `scrapeflow inspect <batchId> <index|url>` against a real stack: a URL that needed a retry (a 500,
 * then an answer), a dead-lettered URL (`success: false`), a URL still in flight (no record yet), and
 * the exit codes for an unknown batch and a line the batch does not have.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startBatch } from '../../src/client/batches.js';
import type { LineInspection } from '../../src/client/inspect.js';
import { runCli } from '../support/cli.js';
import { eventually, startStack, type Stack } from '../support/stack.js';

let stack: Stack;
const UI = 'http://ui.example:8233';

before(async () => {
  stack = await startStack();
  await stack.startWorker();
});
after(async () => {
  await stack?.stop();
});

const page = (n: number, batchId: string) => `${stack.demoOrigin}/p/${n}?${batchId}`;
const inspect = (args: string[]) => runCli(stack, ['inspect', ...args], { env: { TEMPORAL_UI_URL: UI } });

async function inspectJson(batchId: string, line: string): Promise<LineInspection> {
  const run = await inspect([batchId, line, '--json']);
  assert.equal(run.code, 0, run.stderr);
  return JSON.parse(run.stdout) as LineInspection;
}

describe('scrapeflow inspect', () => {
  it('shows the record, the page workflow, the attempts and last failure of each call, and the Web UI link', async () => {
    const batchId = 'insp';
    await stack.admin('PUT', '/admin/faults', {
      rules: [
        { match: page(2, batchId), action: 'success_false' },
        { match: page(3, batchId), action: 'status', status: 500, first: 1 },
      ],
    });
    const { handle } = await startBatch(stack.client, stack.store, {
      batchId,
      urls: [0, 1, 2, 3].map((n) => ({ url: page(n, batchId) })),
      // Two pages of two lines: line 3 runs in page p1.
      options: { mode: 'fast', pageSize: 2, retry: { upstreamDelayMs: 100 } },
    });
    await handle.result();

    // Line 3: a 500, retried, then an answer.
    const retried = await inspectJson(batchId, '3');
    assert.equal(retried.url, page(3, batchId));
    assert.equal(retried.record?.status, 'succeeded');
    assert.equal(retried.record?.attempts, 2);
    assert.ok((retried.record?.charged ?? 0) > 0);
    assert.equal(retried.page.workflowId, `${batchId}/p1`);
    assert.equal(retried.activities.length, 1, JSON.stringify(retried.activities));
    const [call] = retried.activities;
    assert.equal(call?.activityId, '3');
    assert.equal(call?.type, 'scrapeUrl');
    assert.equal(call?.attempts, 2);
    assert.equal(call?.outcome, 'completed');
    assert.match(call?.lastFailure ?? '', /^UpstreamError: .*500/);
    const { runId } = await stack.client.workflow.getHandle(`${batchId}/p1`).describe();
    assert.equal(retried.webUiUrl, `${UI}/namespaces/default/workflows/insp%2Fp1/${runId}/history`);

    // Line 2, by its URL: dead-lettered on its first try.
    const dead = await inspectJson(batchId, page(2, batchId));
    assert.equal(dead.index, 2);
    assert.equal(dead.record?.status, 'dead_lettered');
    assert.equal(dead.record?.reason, 'scrape_failed');
    assert.equal(dead.record?.attempts, 1);
    assert.deepEqual(
      dead.activities.map((a) => [a.activityId, a.type, a.attempts, a.outcome, a.lastFailure]),
      [['2', 'scrapeUrl', 1, 'completed', undefined]],
    );
    assert.equal(dead.page.workflowId, `${batchId}/p1`);

    // Line 0 ran in the first page.
    assert.equal((await inspectJson(batchId, '0')).page.workflowId, `${batchId}/p0`);

    const text = await inspect([batchId, '3']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^insp line 3: http/m);
    assert.match(text.stdout, /^record: succeeded$/m);
    assert.match(text.stdout, /2 attempts, method \w+/);
    assert.match(text.stdout, /^page workflow: insp\/p1$/m);
    assert.match(
      text.stdout,
      /^ {2}3 {2}scrapeUrl {2}2 attempts {2}completed \| last failure: UpstreamError/m,
    );
    assert.match(
      text.stdout,
      new RegExp(`^web UI: ${UI}/namespaces/default/workflows/insp%2Fp1/${runId}/history$`, 'm'),
    );

    const deadText = await inspect([batchId, '2']);
    assert.match(deadText.stdout, /^record: dead_lettered \(scrape_failed\)$/m);
    assert.match(deadText.stdout, /^ {2}detail: .+/m);
  });

  it('a URL still in flight: no record yet, its call running', async () => {
    const batchId = 'insp-hang';
    await stack.admin('PUT', '/admin/faults', { rules: [{ match: page(1, batchId), action: 'hang' }] });
    const { handle } = await startBatch(stack.client, stack.store, {
      batchId,
      urls: [{ url: page(1, batchId) }],
      options: { mode: 'fast' },
    });
    try {
      const view = await eventually(
        async () => {
          const v = await inspectJson(batchId, '0');
          return v.activities[0]?.outcome === 'running' ? v : undefined;
        },
        { what: 'the hanging call to be running' },
      );
      assert.equal(view.record, undefined);
      assert.deepEqual(
        view.activities.map((a) => [a.activityId, a.attempts]),
        [['0', 1]],
      );
      const text = await inspect([batchId, '0']);
      assert.match(text.stdout, /^record: no record yet$/m);
      assert.match(text.stdout, /^ {2}0 {2}scrapeUrl {2}1 attempt {3}running$/m);
    } finally {
      await handle.terminate('test over');
    }
  });

  it('exit 4 for an unknown batch, 2 for a line the batch does not have', async () => {
    const unknown = await inspect(['no-such-batch', '0']);
    assert.equal(unknown.code, 4, unknown.stderr);
    assert.match(unknown.stderr, /no batch "no-such-batch"/);

    const past = await inspect(['insp', '4']);
    assert.equal(past.code, 2, past.stderr);
    assert.match(past.stderr, /batch insp has lines 0 to 3: there is no line 4/);

    const url = await inspect(['insp', 'https://not.in.the.input/x']);
    assert.equal(url.code, 2, url.stderr);
    assert.match(url.stderr, /batch insp has no line with the URL "https:\/\/not\.in\.the\.input\/x"/);

    const bad = await inspect(['insp', 'third']);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /by its index .* or by its exact URL/);
  });
});
