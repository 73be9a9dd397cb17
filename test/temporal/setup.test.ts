/**
 * Setup errors and `scrapeflow cluster setup`, against a real dev server started bare (no search
 * attributes), as a fresh cluster is. No workers: nothing here runs a batch.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time.js';
import proto from '@temporalio/proto';
import { pino } from 'pino';
import { buildService } from '../../src/service/app.js';
import { FsStore } from '../../src/store/fs-store.js';
import { ALL_SEARCH_ATTRIBUTES, BatchIdAttr, BatchStatusAttr } from '../../src/temporal/search-attributes.js';
import { startDevServer, type DevServer } from '../../devkit/temporal/dev-server.js';
import { checkSetup, notSetUpCause } from '../../src/temporal/setup.js';
import { TASK_QUEUES } from '../../src/workflows/types.js';
import { runCli } from '../support/cli.js';
import { eventually } from '../support/stack.js';

let server: DevServer;
let dataDir: string;
let connection: Connection;
let urls: string;

before(async () => {
  server = await startDevServer({ searchAttributes: false });
  dataDir = await mkdtemp(join(tmpdir(), 'scrapeflow-setup-'));
  connection = await Connection.connect({ address: server.address });
  urls = join(dataDir, 'urls.txt');
  await writeFile(urls, 'https://a.example/1\nhttps://a.example/2\n');
});
after(async () => {
  await connection?.close();
  await server?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

const cli = (args: string[], namespace = 'default') =>
  runCli({ temporal: server, dataDir }, args, { env: { TEMPORAL_NAMESPACE: namespace } });

/** The input batches the store holds (none, after a refused start). */
const storedInputs = async () =>
  (await readdir(join(dataDir, 'inputs')).catch(() => [])).filter((n) => !n.startsWith('.'));

function oneLine(stderr: string): string {
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line, no stack: ${stderr}`);
  return lines[0] ?? '';
}

describe('setup errors (a bare dev server)', () => {
  it('start in a namespace that does not exist: exit 3 naming it and the fix; nothing stored', async () => {
    const run = await cli(['start', urls, '--batch-id', 'ns-1'], 'no-such-namespace');
    assert.equal(run.code, 3, run.stderr);
    const line = oneLine(run.stderr);
    assert.match(line, /namespace "no-such-namespace" does not exist/);
    assert.match(line, /`scrapeflow cluster setup`/);
    assert.deepEqual(await storedInputs(), []);
  });

  it('start without the search attributes: exit 3 naming them and the fix; nothing stored', async () => {
    const run = await cli(['start', urls, '--batch-id', 'sa-1']);
    assert.equal(run.code, 3, run.stderr);
    const line = oneLine(run.stderr);
    assert.match(
      line,
      /lacks scrapeflow's search attributes ScrapeflowBatchId, ScrapeflowBatchStatus, .*ScrapeflowDeadLettered/,
    );
    assert.match(line, /`scrapeflow cluster setup`/);
    assert.deepEqual(await storedInputs(), []);
  });

  it('the service answers 503 temporal_not_set_up, and stores nothing', async () => {
    const client = new Client({ connection, namespace: 'default' });
    const store = new FsStore(dataDir);
    const app = await buildService({ client, store, token: 't', logger: pino({ level: 'silent' }) });
    try {
      const res = await app.inject({
        method: 'POST',
        url: '/v1/batches',
        headers: { authorization: 'Bearer t' },
        payload: { batchId: 'svc-sa', urls: ['https://a.example/1'] },
      });
      assert.equal(res.statusCode, 503, res.body);
      const body = res.json<{ error: string; message: string; missing: string[] }>();
      assert.equal(body.error, 'temporal_not_set_up');
      assert.match(body.message, /ScrapeflowBatchId.*scrapeflow cluster setup/);
      assert.ok(body.missing.includes('ScrapeflowFailed'));
      assert.deepEqual(await storedInputs(), []);
    } finally {
      await app.close();
    }
  });

  it('a worker of every role exits 3 naming `scrapeflow cluster setup`, before polling', async () => {
    for (const queue of ['workflows', 'scrape', 'browser', 'all']) {
      const run = await runCli({ temporal: server, dataDir }, ['worker', '--queue', queue], {
        env: { OMNISCRAPE_KEY: 'sk-test-setup', OMNISCRAPE_API_URL: 'http://127.0.0.1:9/v1' },
      });
      assert.equal(run.code, 3, `${queue}: ${run.stderr}`);
      assert.match(
        oneLine(run.stderr),
        /lacks scrapeflow's search attributes ScrapeflowBatchId, .*: register them with `scrapeflow cluster setup`/,
      );
      assert.doesNotMatch(run.stdout, /worker started/);
    }
    const missing = await cli(['worker', '--queue', 'workflows'], 'no-such-namespace');
    assert.equal(missing.code, 3, missing.stderr);
    assert.match(
      oneLine(missing.stderr),
      /namespace "no-such-namespace" does not exist.*`scrapeflow cluster setup`/,
    );
  });

  it('the HTTP service refuses to start: exit 3 naming `scrapeflow cluster setup`', async () => {
    const run = await runCli({ temporal: server, dataDir }, ['serve', '--port', '0'], {
      env: { SCRAPEFLOW_API_TOKEN: 'setup-test-token-0123456789abcdef' },
    });
    assert.equal(run.code, 3, run.stderr);
    assert.match(oneLine(run.stderr), /lacks scrapeflow's search attributes .*`scrapeflow cluster setup`/);
    assert.doesNotMatch(run.stdout, /listening/);
  });

  it("a start's own refusal is read as the same error (for servers that hide the attribute list)", async () => {
    const start = (namespace: string) =>
      new Client({ connection, namespace }).workflow
        .start('batchWorkflow', {
          workflowId: `raw-${namespace}`,
          taskQueue: TASK_QUEUES.workflows,
          typedSearchAttributes: [
            { key: BatchIdAttr, value: 'x' },
            { key: BatchStatusAttr, value: 'running' },
          ],
        })
        .then(
          () => assert.fail('started'),
          (err: unknown) => err,
        );
    const attribute = notSetUpCause(await start('default'), 'default', server.address);
    assert.match(
      attribute?.message ?? '',
      /lacks scrapeflow's search attribute Scrapeflow\w+: .*cluster setup/,
    );
    const namespace = notSetUpCause(await start('no-such-namespace'), 'no-such-namespace', server.address);
    assert.match(namespace?.message ?? '', /namespace "no-such-namespace" does not exist.*cluster setup/);
    assert.equal(notSetUpCause(new Error('something else'), 'default', server.address), undefined);
  });
});

describe('scrapeflow cluster setup', () => {
  it('registers every search attribute, then changes nothing and says so; start works after it', async () => {
    const first = await cli(['cluster', 'setup']);
    assert.equal(first.code, 0, first.stderr);
    assert.match(
      first.stdout,
      /registered search attributes: ScrapeflowBatchId, ScrapeflowBatchStatus, ScrapeflowPauseReason, ScrapeflowAccount, ScrapeflowSucceeded, ScrapeflowFailed, ScrapeflowDeadLettered, ScrapeflowMonitor$/m,
    );
    assert.doesNotMatch(first.stdout, /created namespace/);
    const second = await cli(['cluster', 'setup']);
    assert.equal(second.code, 0, second.stderr);
    assert.match(
      second.stdout,
      new RegExp(
        `nothing to change: namespace "default" exists with all ${ALL_SEARCH_ATTRIBUTES.length} search attributes`,
      ),
    );
    const state = await checkSetup(connection, 'default');
    assert.deepEqual({ missing: state.missing, wrongType: state.wrongType }, { missing: [], wrongType: [] });
    // The counts are registered as numbers, so `ScrapeflowFailed > 0` compares them as such.
    const { customAttributes } = await connection.operatorService.listSearchAttributes({
      namespace: 'default',
    });
    const { INDEXED_VALUE_TYPE_INT, INDEXED_VALUE_TYPE_KEYWORD } =
      proto.temporal.api.enums.v1.IndexedValueType;
    assert.deepEqual(
      Object.fromEntries(
        Object.entries(customAttributes ?? {}).filter(([name]) => name.startsWith('Scrapeflow')),
      ),
      {
        ScrapeflowBatchId: INDEXED_VALUE_TYPE_KEYWORD,
        ScrapeflowBatchStatus: INDEXED_VALUE_TYPE_KEYWORD,
        ScrapeflowPauseReason: INDEXED_VALUE_TYPE_KEYWORD,
        ScrapeflowAccount: INDEXED_VALUE_TYPE_KEYWORD,
        ScrapeflowSucceeded: INDEXED_VALUE_TYPE_INT,
        ScrapeflowFailed: INDEXED_VALUE_TYPE_INT,
        ScrapeflowDeadLettered: INDEXED_VALUE_TYPE_INT,
        ScrapeflowMonitor: INDEXED_VALUE_TYPE_KEYWORD,
      },
    );
    const started = await cli(['start', urls, '--batch-id', 'after-setup', '--json']);
    assert.equal(started.code, 0, started.stderr);
    await new Client({ connection }).workflow.getHandle('after-setup').terminate('test: no workers here');
  });

  it('creates a missing namespace with --retention', async () => {
    const run = await cli(['cluster', 'setup', '--retention', '36h'], 'made-here');
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /created namespace "made-here" \(retention 36h\)/);
    assert.match(run.stdout, /registered search attributes: ScrapeflowBatchId/);
    const described = await connection.workflowService.describeNamespace({ namespace: 'made-here' });
    assert.equal(Number(described.config?.workflowExecutionRetentionTtl?.seconds), 36 * 3600);
    assert.equal((await checkSetup(connection, 'made-here')).missing.length, 0);
    const again = await cli(['cluster', 'setup'], 'made-here');
    assert.match(again.stdout, /nothing to change/);
    assert.equal((await cli(['cluster', 'setup', '--retention', 'soon'], 'made-here')).code, 2);
  });

  it('refuses an attribute registered with another type, naming it, and changes nothing', async () => {
    await connection.workflowService.registerNamespace({
      namespace: 'wrong-type',
      workflowExecutionRetentionPeriod: msToTs('24h'),
    });
    // Other services learn of a new namespace a moment after it is described.
    await eventually(async () => (await checkSetup(connection, 'wrong-type')).namespaceExists, {
      what: 'namespace wrong-type known',
    });
    await connection.operatorService.addSearchAttributes({
      namespace: 'wrong-type',
      searchAttributes: {
        ScrapeflowFailed: proto.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
      },
    });
    const run = await cli(['cluster', 'setup'], 'wrong-type');
    assert.equal(run.code, 3, run.stderr);
    assert.match(oneLine(run.stderr), /ScrapeflowFailed is Keyword, scrapeflow needs Int/);
    assert.deepEqual(
      (await checkSetup(connection, 'wrong-type')).missing.length,
      ALL_SEARCH_ATTRIBUTES.length - 1,
      'nothing registered',
    );
    const start = await cli(['start', urls, '--batch-id', 'wt-1'], 'wrong-type');
    assert.equal(start.code, 3);
    assert.match(start.stderr, /ScrapeflowFailed is Keyword/);
  });
});
