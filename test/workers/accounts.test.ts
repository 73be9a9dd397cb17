/**
 * Several OmniScrape accounts on one deployment: the local API holds three accounts (`test`, the
 * workers' OMNISCRAPE_KEY, as `default`; `small` and `big` with keys and plans of their own), the
 * workers learn `small` and `big` from an accounts file (one key in an environment variable, one in a
 * key file), and two scrape worker processes on the PostgreSQL store serve batches of both at once.
 * Each account stays within its own plan at the API (which refuses anything beyond it with 429), each
 * call is billed to its batch's account (so it carried that account's key), and no key reaches a log
 * line or a history. A batch under a label the workers do not know makes no call and pauses with
 * reason `auth`, with an alert naming the account and the accounts file; a client that has the file
 * refuses to start it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { pino } from 'pino';
import { ValidationError } from '../../src/errors.js';
import { buildService } from '../../src/service/app.js';
import { cancelBatch, startBatch } from '../../src/client/batches.js';
import { getProgress } from '../../src/client/progress.js';
import { readAccountsFile, type AccountsFile } from '../../src/config/accounts.js';
import type { BatchProgress } from '../../src/workflows/types.js';
import { writeAccountsFile } from '../support/accounts-file.js';
import { runCli } from '../support/cli.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { containsText, eventually, startStack, type Stack } from '../support/stack.js';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';

/** Plans: `default`'s (OMNISCRAPE_PLAN_CONCURRENCY) lies between the other two, so neither could pass for it. */
const PLANS = { default: 4, small: 2, big: 6 };

describe('several accounts on one deployment', { timeout: 240_000 }, () => {
  let db: TestDatabase;
  let stack: Stack;
  let hook: WebhookReceiver;
  let accountsFile: AccountsFile;

  before(async () => {
    db = await createTestDatabase('sf_accounts');
    hook = await startWebhookReceiver();
    stack = await startStack({
      databaseUrl: db.url,
      concurrency: PLANS.default,
      accounts: [
        { id: 'small', concurrency: PLANS.small },
        { id: 'big', concurrency: PLANS.big },
      ],
    });
    const { path, env } = await writeAccountsFile(
      stack,
      { small: PLANS.small, big: PLANS.big },
      { keyFiles: ['big'] },
    );
    accountsFile = readAccountsFile(path);
    await stack.startWorker(
      { ALERT_WEBHOOK_URL: hook.url, SCRAPEFLOW_WEBHOOK_ALLOW_HOSTS: '127.0.0.1' },
      'workflows',
    );
    for (let i = 0; i < 2; i += 1) await stack.startWorker(env, 'scrape');
  });
  after(async () => {
    await stack?.stop();
    await hook?.close();
    await db?.drop();
  });

  it('runs two accounts at once, each within its own plan and on its own key, no key in logs or histories', async () => {
    await stack.admin('PUT', '/admin/faults', {
      rules: [{ match: `${stack.demoOrigin}/p/*`, action: 'latency', latencyMs: 300 }],
    });
    stack.api.state.counters.reset();
    const sizes = { small: 16, big: 48 };
    let page = 0;
    const started = await Promise.all(
      (['small', 'big'] as const).map((account) =>
        startBatch(
          stack.client,
          stack.store,
          {
            batchId: `accounts-${account}`,
            urls: Array.from({ length: sizes[account] }, () => ({ url: `${stack.demoOrigin}/p/${++page}` })),
            // Windows of twice the plan: only the permits hold each account to its plan.
            options: { mode: 'fast', account, concurrency: 2 * PLANS[account] },
          },
          { accounts: accountsFile },
        ),
      ),
    );
    const finals = (await Promise.all(started.map((s) => s.handle.result()))) as BatchProgress[];
    const counters = stack.api.state.counters.snapshot();
    assert.equal(counters.endpoints.scrape['429'] ?? 0, 0, 'no scrape refused over an account plan');
    for (const [i, account] of (['small', 'big'] as const).entries()) {
      assert.equal(finals[i]!.counts.succeeded, sizes[account], `every URL of ${account} succeeded`);
      const peak = counters.concurrency.peak_by_account[account];
      assert.equal(peak, PLANS[account], `${account}: peak ${peak} is its own plan, kept full`);
      const records = await stack.records(`accounts-${account}`);
      const charged = records.reduce((sum, r) => sum + r.charged, 0);
      assert.ok(charged > 0);
      assert.equal(
        counters.credits.charged_by_account[account],
        charged,
        `the API billed ${account} for exactly its batch's calls: they carried its key`,
      );
    }
    assert.equal(counters.credits.charged_by_account.test ?? 0, 0, "nothing went out on default's key");
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    const { rows } = await admin
      .query<{ n: number }>(
        `SELECT (SELECT count(*) FROM scrapeflow_plan_leases) + (SELECT count(*) FROM scrapeflow_plan_waiters) AS n`,
      )
      .finally(() => admin.end());
    assert.equal(Number(rows[0]!.n), 0, 'every lease and every claim gone');

    const scrapeWorkers = stack.workers.filter((w) => w.queue === 'scrape');
    for (const worker of scrapeWorkers) {
      const start = worker.lines.find((l) => l.includes('"scrape worker started"')) ?? '';
      assert.match(start, /"plans":\{"default":4,"small":2,"big":6\}/);
    }
    const keys = Object.values(stack.keys);
    const lines = stack.workers.flatMap((w) => w.lines);
    assert.ok(
      lines.some((l) => l.includes('"account":"big"')),
      'the calls were logged, under the labels',
    );
    for (const key of keys)
      assert.ok(!lines.some((l) => l.includes(key)), 'no worker log line carries a key');
    for (const account of ['small', 'big']) {
      const batchId = `accounts-${account}`;
      for (const workflowId of [batchId, `${batchId}/p0`]) {
        const history = await stack.client.workflow.getHandle(workflowId).fetchHistory();
        // Positive control: the search finds what the history does carry, the label in the options.
        assert.ok(containsText(history, `"account":"${account}"`), `${workflowId}: the label is there`);
        for (const key of keys) assert.ok(!containsText(history, key), `no key in ${workflowId}'s history`);
      }
    }
  });

  it('a label the workers do not know makes no call: the batch pauses (auth) with an alert naming it and the file', async () => {
    stack.api.state.counters.reset();
    // A client without the accounts file cannot tell: the workers are the last word.
    const { batchId } = await startBatch(stack.client, stack.store, {
      batchId: 'accounts-unknown',
      urls: [1, 2, 3].map((n) => ({ url: `${stack.demoOrigin}/p/${n}` })),
      options: { mode: 'fast', account: 'nobody' },
    });
    const paused = await eventually(
      async () => {
        const p = await getProgress(stack.client, stack.store, batchId);
        return p.state === 'paused' ? p : undefined;
      },
      { what: 'the batch of an unknown account to pause' },
    );
    assert.equal(paused.pauseReason, 'auth');
    // The batch's own batch.paused event, delivered to ALERT_WEBHOOK_URL (subscribed to it).
    const event = await eventually(
      () =>
        Promise.resolve(
          hook.received.find(
            (e) => e.type === 'batch.paused' && (e.data as { batchId?: string }).batchId === batchId,
          ),
        ),
      { what: "the batch's batch.paused event at the webhook" },
    );
    const data = event.data as Record<string, unknown>;
    assert.equal(data.account, 'nobody');
    assert.equal(data.reason, 'auth');
    assert.match(String(data.message), /account "nobody"/);
    assert.match(String(data.message), /SCRAPEFLOW_ACCOUNTS_FILE/);
    const counters = stack.api.state.counters.snapshot();
    const requests = Object.values(counters.outcomes).reduce((sum, n) => sum + n, 0);
    assert.equal(requests, 0, 'not one request reached OmniScrape');
    assert.equal(paused.counts.succeeded + paused.counts.failed + paused.counts.dead_lettered, 0);
    // Why, for whoever opens the history: the activity's failure names the account and the file.
    const history = await stack.client.workflow.getHandle(`${batchId}/p0`).fetchHistory();
    assert.ok(containsText(history, `it is not in SCRAPEFLOW_ACCOUNTS_FILE (${accountsFile.path})`));
    await cancelBatch(stack.client, batchId);
  });

  it('a client with the accounts file refuses an unknown label before storing anything', async () => {
    await assert.rejects(
      startBatch(
        stack.client,
        stack.store,
        {
          batchId: 'accounts-refused',
          urls: [{ url: `${stack.demoOrigin}/p/1` }],
          options: { account: 'nobody' },
        },
        { accounts: accountsFile },
      ),
      (err: unknown) =>
        err instanceof ValidationError &&
        err.field === 'account' &&
        err.message.includes(
          `"nobody" is not an account of SCRAPEFLOW_ACCOUNTS_FILE (${accountsFile.path})`,
        ) &&
        err.message.includes('default, small, big'),
    );
    assert.deepEqual(await stack.store.readInput('accounts-refused', 0, 10), []);
    // A known label: the default window is twice that account's plan, as the file gives it.
    const known = await startBatch(
      stack.client,
      stack.store,
      { batchId: 'accounts-window', urls: [{ url: `${stack.demoOrigin}/p/1` }], options: { account: 'big' } },
      { accounts: accountsFile },
    );
    assert.equal(((await known.handle.result()) as BatchProgress).concurrency, 2 * PLANS.big);
    const input = join(stack.dataDir, 'urls.txt');
    await writeFile(input, `${stack.demoOrigin}/p/1\n`);
    const run = await runCli(stack, ['start', input, '--account', 'nobody'], {
      env: { SCRAPEFLOW_ACCOUNTS_FILE: accountsFile.path },
    });
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /account: "nobody" is not an account of SCRAPEFLOW_ACCOUNTS_FILE/);
    const token = 'accounts-test-token-0123456789';
    const app = await buildService({
      client: stack.client,
      store: stack.store,
      token,
      logger: pino({ level: 'silent' }),
      accounts: accountsFile,
    });
    try {
      const res = await app.inject({
        method: 'POST',
        url: '/v1/batches',
        headers: { authorization: `Bearer ${token}` },
        payload: { urls: [`${stack.demoOrigin}/p/1`], options: { account: 'nobody' } },
      });
      assert.equal(res.statusCode, 400, res.body);
      const body = res.json<{ field: string; message: string }>();
      assert.equal(body.field, 'account');
      assert.match(body.message, /"nobody" is not an account of SCRAPEFLOW_ACCOUNTS_FILE/);
    } finally {
      await app.close();
    }
  });

  it('a worker with a bad accounts file stops at start (exit 2) naming the file and the field', async () => {
    const path = join(stack.dataDir, 'bad-accounts.json');
    await writeFile(path, JSON.stringify({ acme: { plan: 5, key: 'sk-inline' } }));
    const inline = await runCli(stack, ['worker', '--queue', 'scrape'], {
      env: { SCRAPEFLOW_ACCOUNTS_FILE: path },
    });
    assert.equal(inline.code, 2, inline.stderr);
    assert.match(
      inline.stderr,
      /SCRAPEFLOW_ACCOUNTS_FILE \(.*bad-accounts\.json\): acme\.key: a key written in this file is refused/,
    );
    await writeFile(path, JSON.stringify({ acme: { plan: 5, keyEnv: 'OMNISCRAPE_KEY_ACME' } }));
    const unset = await runCli(stack, ['worker', '--queue', 'scrape'], {
      env: { SCRAPEFLOW_ACCOUNTS_FILE: path },
    });
    assert.equal(unset.code, 2, unset.stderr);
    assert.match(unset.stderr, /acme\.keyEnv: OMNISCRAPE_KEY_ACME is not set/);
  });
});
