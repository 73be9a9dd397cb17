/**
 * A batch run with SCRAPEFLOW_DATABASE_URL set leaves its results in PostgreSQL, exportable and
 * re-drivable; a worker whose store is not the batch's store refuses the batch with a clear message.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { WorkflowFailedError } from '@temporalio/client';
import { startBatch } from '../../src/client/batches.js';
import { redriveBatch } from '../../src/client/redrive.js';
import { exportResults, formatResults } from '../../src/client/results.js';
import { FsStore } from '../../src/store/fs-store.js';
import type { BatchProgress } from '../../src/workflows/types.js';
import { startStack, type Stack } from '../support/stack.js';

const BASE_URL = process.env.SCRAPEFLOW_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const schema = `sf_e2e_${randomBytes(4).toString('hex')}`;
let admin: pg.Client;
let stack: Stack;

before(async () => {
  admin = new pg.Client({ connectionString: BASE_URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  const url = new URL(BASE_URL);
  url.searchParams.set('options', `-c search_path=${schema}`);
  stack = await startStack({ databaseUrl: url.href });
  await stack.startWorker();
});
after(async () => {
  await stack?.stop();
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin.end();
});

describe('a batch on the PostgreSQL store', () => {
  it('leaves one row per URL in PostgreSQL, exports it, and re-drives its dead letters with lineage', async () => {
    const page = (n: number) => `${stack.demoOrigin}/p/${n}`;
    await stack.admin('PUT', '/admin/faults', {
      rules: [{ match: page(3), action: 'success_false', first: 1 }],
    });
    const { handle } = await startBatch(stack.client, stack.store, {
      batchId: 'pg-1',
      urls: [1, 2, 3].map((n) => ({ url: page(n) })),
      options: { mode: 'fast' },
    });
    const final = (await handle.result()) as BatchProgress;
    assert.deepEqual([final.counts.succeeded, final.counts.dead_lettered], [2, 1]);
    const { rows } = await admin.query<{ idx: number; status: string }>(
      `SELECT idx, status FROM ${schema}.scrapeflow_results WHERE batch_id = 'pg-1' ORDER BY idx`,
    );
    assert.deepEqual(rows, [
      { idx: 0, status: 'succeeded' },
      { idx: 1, status: 'succeeded' },
      { idx: 2, status: 'dead_lettered' },
    ]);
    const lines: string[] = [];
    for await (const line of formatResults(await exportResults(stack.store, 'pg-1'), 'csv')) lines.push(line);
    assert.equal(lines.length, 4, 'a header and three rows');

    const redriven = await redriveBatch(stack.client, stack.store, { batchId: 'pg-1', newBatchId: 'pg-1-r' });
    await redriven.handle.result();
    assert.equal((await stack.store.getResult('pg-1-r', 0))?.status, 'succeeded');
    assert.deepEqual((await stack.store.getResult('pg-1-r', 0))?.redrivenFrom, { batchId: 'pg-1', index: 2 });
    assert.deepEqual((await stack.store.getResult('pg-1', 2))?.redrivenTo, { batchId: 'pg-1-r', index: 0 });
  });

  it('a batch whose input went to another store is refused with a message naming the fix', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'other-store-'));
    try {
      const other = new FsStore(dir);
      const { handle } = await startBatch(stack.client, other, {
        batchId: 'elsewhere',
        urls: [{ url: `${stack.demoOrigin}/p/9` }],
      });
      await assert.rejects(handle.result(), (err: unknown) => {
        assert.ok(err instanceof WorkflowFailedError);
        // The page's loadInputPage is refused; the batch's reconcile of the page (recordMissing) is
        // refused the same way, non-retryable: WorkflowFailedError → ActivityFailure → StoreMismatchError.
        const root = err.cause?.cause as { message?: string; type?: string } | undefined;
        assert.equal(root?.type, 'StoreMismatchError');
        const message = String(root?.message);
        assert.match(message, /is not the batch's store/);
        assert.match(message, /SCRAPEFLOW_DATABASE_URL/);
        return true;
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
