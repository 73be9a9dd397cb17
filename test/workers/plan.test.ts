/**
 * The plan is account-wide: two scrape worker processes on the PostgreSQL store, whose slots together
 * are twice the plan, never have more calls in flight at the local API than the plan (the API refuses
 * any beyond it with 429), and together keep the plan busy.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startBatch } from '../../src/client/batches.js';
import type { BatchProgress } from '../../src/workflows/types.js';
import { startStack, type Stack } from '../support/stack.js';
import { createTestSchema, type TestSchema } from '../support/pg-schema.js';
const PLAN = 4;
const URLS = 48;

describe('the plan across two scrape workers', { timeout: 180_000 }, () => {
  let db: TestSchema;
  let stack: Stack;

  before(async () => {
    db = await createTestSchema('sf_plan');
    stack = await startStack({ databaseUrl: db.url, concurrency: PLAN });
    await stack.startWorker({}, 'workflows');
    // Each worker alone could take the whole plan's worth of tasks: together twice the plan.
    for (let i = 0; i < 2; i += 1)
      await stack.startWorker({ SCRAPEFLOW_SCRAPE_SLOTS: String(PLAN) }, 'scrape');
  });
  after(async () => {
    await stack?.stop();
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
    const { rows } = await db.admin.query(`SELECT * FROM ${db.schema}.scrapeflow_plan_leases`);
    assert.equal(rows.length, 0, 'every lease released');
  });
});
