/**
 * The plan is account-wide: two scrape worker processes on the PostgreSQL store, whose slots together
 * are twice the plan, never have more calls in flight at the local API than the plan (the API refuses
 * any beyond it with 429), and together keep the plan busy. A call that finds the plan busy for longer
 * than the batch lets it wait goes back to its page's queue, and runs once the plan frees up.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { startBatch } from '../../src/client/batches.js';
import { pageWorkflowId, type BatchProgress } from '../../src/workflows/types.js';
import { eventually, startStack, type Stack } from '../support/stack.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

const PLAN = 4;
const URLS = 48;

describe('the plan across two scrape workers', { timeout: 180_000 }, () => {
  let db: TestDatabase;
  let admin: pg.Client;
  let stack: Stack;

  before(async () => {
    db = await createTestDatabase('sf_plan');
    stack = await startStack({ databaseUrl: db.url, concurrency: PLAN });
    admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    await stack.startWorker({}, 'workflows');
    // Each worker alone could take the whole plan's worth of tasks: together twice the plan.
    for (let i = 0; i < 2; i += 1)
      await stack.startWorker({ SCRAPEFLOW_SCRAPE_SLOTS: String(PLAN) }, 'scrape');
  });
  after(async () => {
    await stack?.stop();
    await admin?.end();
    await db?.drop();
  });

  it('keeps calls in flight within the plan, refuses none, and uses both workers', async () => {
    await stack.admin('PUT', '/admin/faults', {
      rules: [{ match: `${stack.demoOrigin}/p/*`, action: 'latency', latencyMs: 300 }],
    });
    stack.api.state.counters.reset();
    const { handle } = await startBatch(stack.client, stack.store, {
      batchId: 'plan-2-workers',
      urls: Array.from({ length: URLS }, (_, i) => ({ url: `${stack.demoOrigin}/p/${i + 1}` })),
      // The batch's window schedules twice the plan: the permits, not the window, must hold it.
      options: { mode: 'fast', concurrency: 2 * PLAN },
    });
    const final = (await handle.result()) as BatchProgress;
    assert.equal(final.counts.succeeded, URLS);
    const counters = stack.api.state.counters.snapshot();
    assert.equal(counters.endpoints.scrape['429'] ?? 0, 0, 'no scrape refused over the plan');
    assert.equal(counters.endpoints.scrape['200_success'], URLS, 'one call per URL: none retried');
    const peak = counters.concurrency.peak_by_account.test;
    assert.equal(peak, PLAN, `peak ${peak}: within the plan, and the plan kept full`);
    const scrapeWorkers = stack.workers.filter((w) => w.queue === 'scrape');
    const calls = scrapeWorkers.map(
      (w) => w.lines.filter((l) => l.includes('"event":"omniscrape_call"')).length,
    );
    assert.ok(
      calls.every((n) => n > 0),
      `each scrape worker made calls (${calls.join(', ')})`,
    );
    const { rows } = await admin.query(`SELECT * FROM scrapeflow_plan_leases`);
    assert.equal(rows.length, 0, 'every lease released');
  });
  it('sends a call that waited permitWaitMs for a permit back to its page, and runs it once the plan frees', async () => {
    // Another holder (say, a deployment sharing the account) has the whole plan until the test lets go.
    const leases = Array.from({ length: PLAN }, (_, i) => `held-by-test-${i}`);
    for (const id of leases)
      await admin.query(
        `INSERT INTO scrapeflow_plan_leases (lease_id, account, holder, expires_at)
         VALUES ($1, 'default', 'the-test', now() + interval '1 hour')`,
        [id],
      );
    stack.api.state.counters.reset();
    const batchId = 'plan-busy';
    const { handle } = await startBatch(stack.client, stack.store, {
      batchId,
      urls: [1, 2, 3].map((n) => ({ url: `${stack.demoOrigin}/p/${n}` })),
      options: { mode: 'fast', timeouts: { permitWaitMs: 1000 } },
    });
    const page = stack.client.workflow.getHandle(pageWorkflowId(batchId, 0));
    const planBusy = async () => {
      const history = await page.fetchHistory().catch(() => undefined); // not started yet
      const events = history?.events;
      return (events ?? []).filter(
        (e) => e.activityTaskFailedEventAttributes?.failure?.applicationFailureInfo?.type === 'PlanBusyError',
      ).length;
    };
    // Every URL gives up its wait and is queued again, more than once: none of them is failed for it.
    await eventually(async () => (await planBusy()) >= 6, { timeoutMs: 120_000, what: 'PlanBusyError x6' });
    assert.equal(stack.api.state.counters.snapshot().endpoints.scrape['200_success'] ?? 0, 0, 'no call made');
    assert.equal((await stack.store.getResult(batchId, 0)) ?? undefined, undefined, 'no record yet');
    await admin.query(`DELETE FROM scrapeflow_plan_leases WHERE holder = 'the-test'`);
    const final = (await handle.result()) as BatchProgress;
    assert.deepEqual(final.counts, { succeeded: 3, failed: 0, dead_lettered: 0, in_flight: 0, pending: 0 });
    const records = await stack.records(batchId);
    assert.deepEqual(
      records.map((r) => r.attempts),
      [1, 1, 1],
      'a wait for a permit is not a try: each URL called once',
    );
    assert.equal(stack.api.state.counters.snapshot().endpoints.scrape['200_success'], 3);
  });
});
