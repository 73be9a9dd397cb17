/**
 * The account's BaaS session limit is held across browser workers: two browser worker processes on
 * the PostgreSQL store, whose slots together (6) are three times the limit (2), never have more
 * sessions open at the local BaaS than the limit (it refuses any beyond it with 429), so no session is
 * refused and no URL fails; the tasks beyond the limit wait for a session permit instead.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { startBatch } from '../../src/client/batches.js';
import type { BatchProgress } from '../../src/workflows/types.js';
import { startStack, type Stack } from '../support/stack.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

const LIMIT = 2;
const SLOTS = 3;
const URLS = 30;

describe('the BaaS session limit across two browser workers', { timeout: 600_000 }, () => {
  let db: TestDatabase;
  let stack: Stack;

  before(async () => {
    db = await createTestDatabase('sf_sessions');
    stack = await startStack({ databaseUrl: db.url, browserSessions: LIMIT });
    await stack.startWorker({}, 'workflows');
    for (let i = 0; i < 2; i += 1)
      await stack.startWorker(
        { BAAS_CONCURRENCY: String(SLOTS), OMNISCRAPE_BROWSER_SESSIONS: String(LIMIT) },
        'browser',
      );
  });
  after(async () => {
    await stack?.stop();
    await db?.drop();
  });

  it('keeps sessions within the limit, refuses none, fails no URL, and uses both workers', async () => {
    stack.api.state.counters.reset();
    const { handle } = await startBatch(stack.client, stack.store, {
      batchId: 'sessions-2-workers',
      urls: Array.from({ length: URLS }, (_, i) => ({ url: `${stack.demoOrigin}/interactive?i=${i}` })),
      options: {
        // Every slot of both workers busy: the permits, not the slots or the window, must hold the limit.
        concurrency: 2 * SLOTS,
        steps: [
          { action: 'click', selector: '#cookie-accept' },
          { action: 'waitFor', selector: '#cookie-banner', state: 'detached' },
          { action: 'extract', fields: { total: '#items@data-total' } },
        ],
      },
    });
    const final = (await handle.result()) as BatchProgress;
    assert.deepEqual(final.counts, {
      succeeded: URLS,
      failed: 0,
      dead_lettered: 0,
      in_flight: 0,
      pending: 0,
    });
    const browser = stack.api.state.counters.snapshot().browser;
    assert.equal(browser.outcomes['429'] ?? 0, 0, 'no session refused over the limit');
    const peak = browser.peak_by_account.test;
    assert.equal(peak, LIMIT, `peak ${peak}: within the limit, and the limit kept full`);
    const sessions = stack.workers
      .filter((w) => w.queue === 'browser')
      .map((w) => w.lines.filter((l) => l.includes('"event":"browser_session"')).length);
    assert.ok(
      sessions.every((n) => n > 0),
      `each browser worker ran sessions (${sessions.join(', ')})`,
    );
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    try {
      const { rows } = await admin.query('SELECT account FROM scrapeflow_plan_leases');
      assert.equal(rows.length, 0, 'every session permit given back');
    } finally {
      await admin.end();
    }
  });
});
