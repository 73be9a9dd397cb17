/**
 * A missing worker role is named, not crashed on: with only a `scrape` worker, `status`, `status
 * --json`, `inspect` and `GET /v1/batches/{id}` answer at once with the batch's state and the missing
 * `workflows` worker (exit 0: the batch exists); with only a `workflows` worker, they name `scrape`
 * once URLs wait on its queue; each line goes once the role's worker polls. A workflows worker killed a
 * moment ago (still listed by Temporal) costs a query bounded to 10 s. And the CLI's error paths,
 * run as real processes, print one line and an exit code, never a stack trace.
 *
 * Task queues belong to a namespace, and Temporal lists a stopped worker's poller for minutes: the
 * second case runs in a namespace of its own on the same dev server rather than after a stopped worker.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { startBatch } from '../../src/client/batches.js';
import { getProgress } from '../../src/client/progress.js';
import { connectClient } from '../../src/client/temporal.js';
import { buildService } from '../../src/service/app.js';
import { progressLine } from '../../src/cli/progress.js';
import type { BatchProgress } from '../../src/workflows/types.js';
import { freePort } from '../../devkit/temporal/dev-server.js';
import { runCli, type CliRun } from '../support/cli.js';
import { eventually, startStack, type Stack } from '../support/stack.js';

const TOKEN = 'missing-roles-test-token-0123456789abcdef';
const OTHER_NAMESPACE = 'roles-b';
const STACK_LINE = /^\s{4}at /m;
const WORKFLOWS_LINE =
  'waiting for a workflows worker on task queue scrapeflow (start: scrapeflow worker --queue workflows)';
const SCRAPE_LINE =
  'waiting for a scrape worker on task queue scrape (start: scrapeflow worker --queue scrape)';

let stack: Stack;
let app: FastifyInstance;
let base: string;
const clients: Client[] = [];

before(async () => {
  stack = await startStack();
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
  await Promise.all(clients.map((c) => c.connection.close()));
  await stack?.stop();
});

/** One line on stderr (or an answer on stdout) and the exit code; never a stack frame anywhere. */
function assertAnswered(run: CliRun, code: number, what: string): void {
  assert.doesNotMatch(run.stdout + run.stderr, STACK_LINE, `${what}: a stack trace\n${run.stderr}`);
  assert.equal(run.code, code, `${what}: exit ${run.code}\n${run.stdout}${run.stderr}`);
}

const urls = (batch: string, n: number) =>
  Array.from({ length: n }, (_, i) => ({ url: `${stack.demoOrigin}/p/${i + 1}?${batch}` }));
const settled = (client: Client, batchId: string) =>
  eventually(
    async () => {
      const p = await getProgress(client, stack.store, batchId);
      return p.state === 'completed' ? p : undefined;
    },
    { what: `batch ${batchId} to complete` },
  );

describe('a missing worker role', () => {
  it('only a scrape worker: status, --json, inspect and GET /v1/batches/{id} name the workflows worker', async () => {
    const scrape = await stack.startWorker({}, 'scrape');
    const { batchId } = await startBatch(stack.client, stack.store, {
      urls: urls('no-wf', 2),
      options: { mode: 'fast' },
    });

    const status = await runCli(stack, ['status', batchId]);
    assertAnswered(status, 0, 'status');
    assert.match(status.stdout, new RegExp(`^${batchId}: running \\| 0/2 done`));
    assert.ok(status.stdout.includes(WORKFLOWS_LINE), status.stdout);

    const json = await runCli(stack, ['status', batchId, '--json']);
    assertAnswered(json, 0, 'status --json');
    const progress = JSON.parse(json.stdout) as BatchProgress;
    assert.equal(progress.state, 'running');
    assert.equal(progress.total, 2);
    // What `status --watch` shows while it waits (its bar's state, or a line per change off a terminal).
    assert.match(
      progressLine(progress),
      /: running, waiting for a workflows worker: scrapeflow worker --queue workflows \|/,
    );
    assert.deepEqual(progress.waitingFor, [
      { role: 'workflows', taskQueue: 'scrapeflow', message: WORKFLOWS_LINE },
    ]);

    const inspect = await runCli(stack, ['inspect', batchId, '0']);
    assertAnswered(inspect, 0, 'inspect');
    assert.ok(inspect.stdout.includes(WORKFLOWS_LINE), inspect.stdout);

    const res = await fetch(`${base}/v1/batches/${batchId}`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    assert.equal(res.status, 200);
    const served = (await res.json()) as BatchProgress;
    assert.equal(served.state, 'running');
    assert.deepEqual(
      served.waitingFor?.map((w) => w.message),
      [WORKFLOWS_LINE],
    );

    // The role's worker arrives: the batch goes on, and nothing is missing any more.
    const workflows = await stack.startWorker({}, 'workflows');
    const done = await settled(stack.client, batchId);
    assert.equal(done.counts.succeeded, 2);
    const later = await runCli(stack, ['status', batchId, '--json']);
    assertAnswered(later, 0, 'status once served');
    assert.equal((JSON.parse(later.stdout) as BatchProgress).waitingFor, undefined);

    // Killed a moment ago, the worker is still listed as a poller: the query is bounded, and status
    // answers from the records.
    await workflows.kill('SIGKILL');
    const next = await startBatch(stack.client, stack.store, {
      urls: urls('killed', 1),
      options: { mode: 'fast' },
    });
    const bounded = await runCli(stack, ['status', next.batchId, '--json']);
    assertAnswered(bounded, 0, 'status after the worker was killed');
    const unanswered = JSON.parse(bounded.stdout) as BatchProgress;
    assert.equal(unanswered.state, 'running');
    assert.deepEqual(
      unanswered.waitingFor?.map((w) => w.message),
      [
        "waiting for a workflows worker on task queue scrapeflow (no worker answered the batch's query within 10 s; start: scrapeflow worker --queue workflows)",
      ],
    );
    // One scrape worker serves a filesystem store at a time: the next test starts its own.
    await scrape.kill('SIGTERM');
  });

  it('only a workflows worker: once URLs wait on the scrape queue, status and inspect name the scrape worker', async () => {
    const env = { TEMPORAL_NAMESPACE: OTHER_NAMESPACE };
    assertAnswered(await runCli(stack, ['cluster', 'setup'], { env }), 0, 'cluster setup');
    const client = await connectClient({ TEMPORAL_ADDRESS: stack.temporal.address, ...env });
    clients.push(client);
    await stack.startWorker(env, 'workflows');
    const { batchId } = await startBatch(client, stack.store, {
      urls: urls('no-scrape', 2),
      options: { mode: 'fast' },
    });

    const waiting = await eventually(
      async () => {
        const p = await getProgress(client, stack.store, batchId);
        return p.waitingFor?.some((w) => w.role === 'scrape') ? p : undefined;
      },
      { what: 'the batch to wait on the scrape queue' },
    );
    assert.equal(waiting.state, 'running');
    assert.deepEqual(
      waiting.waitingFor?.map((w) => w.role),
      ['scrape'],
    );

    const status = await runCli(stack, ['status', batchId], { env });
    assertAnswered(status, 0, 'status');
    assert.ok(status.stdout.includes(SCRAPE_LINE), status.stdout);
    assert.ok(!status.stdout.includes(WORKFLOWS_LINE), status.stdout);
    const inspect = await runCli(stack, ['inspect', batchId, '1', '--json'], { env });
    assertAnswered(inspect, 0, 'inspect');
    assert.deepEqual(
      (JSON.parse(inspect.stdout) as { waitingFor?: Array<{ role: string }> }).waitingFor?.map((w) => w.role),
      ['scrape'],
    );

    await stack.startWorker(env, 'scrape');
    const done = await settled(client, batchId);
    assert.equal(done.counts.succeeded, 2);
    assert.equal(done.waitingFor, undefined);
  });
});

describe('the CLI error paths', () => {
  it('print one line and their exit code, never a stack trace', async () => {
    const dir = stack.dataDir;
    await writeFile(join(dir, 'bad-url.txt'), 'not a url\n');
    await writeFile(join(dir, 'not-a-dir'), '');
    const { batchId } = await startBatch(stack.client, stack.store, { urls: urls('errors', 1) });
    const taken = new URL(stack.demoOrigin).port;
    const cases: Array<{ args: string[]; env?: Record<string, string>; code: number; what: string }> = [
      {
        what: 'unreachable Temporal',
        args: ['status', 'x'],
        env: { TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}` },
        code: 3,
      },
      {
        what: 'namespace not set up',
        args: ['status', 'x'],
        env: { TEMPORAL_NAMESPACE: 'nowhere' },
        code: 3,
      },
      { what: 'unknown batch id', args: ['status', 'no-such-batch'], code: 4 },
      { what: 'unknown batch id (inspect)', args: ['inspect', 'no-such-batch', '0'], code: 4 },
      { what: 'line out of range', args: ['inspect', batchId, '99'], code: 2 },
      { what: 'bad flag value', args: ['status', 'x', '--interval', '5'], code: 2 },
      { what: 'unknown flag', args: ['start', 'x.txt', '--bogus'], code: 2 },
      { what: 'unknown worker role', args: ['worker', '--queue', 'render'], code: 2 },
      { what: 'worker role without its key', args: ['worker', '--queue', 'scrape'], code: 2 },
      { what: 'missing input file', args: ['start', join(dir, 'nothing.txt')], code: 2 },
      { what: 'bad input line', args: ['start', join(dir, 'bad-url.txt')], code: 2 },
      { what: 'bad env var', args: ['status', 'x'], env: { TEMPORAL_TLS: 'maybe' }, code: 2 },
      {
        what: 'port in use',
        args: ['codec-server', '--port', taken],
        env: {
          SCRAPEFLOW_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
          SCRAPEFLOW_API_TOKEN: randomBytes(24).toString('hex'),
        },
        code: 3,
      },
      {
        what: 'port in use (local API)',
        args: ['local-api', '--port', taken, '--key', 'sk-test-key'],
        code: 3,
      },
      {
        what: 'data dir is a file',
        args: ['status', 'x'],
        env: { SCRAPEFLOW_DATA_DIR: join(dir, 'not-a-dir') },
        code: 2,
      },
    ];
    // Three processes at a time: the machine is shared.
    for (let i = 0; i < cases.length; i += 3) {
      const runs = await Promise.all(
        cases
          .slice(i, i + 3)
          .map(async (c) => ({ c, run: await runCli(stack, c.args, c.env ? { env: c.env } : {}) })),
      );
      for (const { c, run } of runs) {
        assertAnswered(run, c.code, c.what);
        assert.match(run.stderr.trim(), /^(scrapeflow|error): .+/, `${c.what}: ${run.stderr}`);
      }
    }
  });
});
