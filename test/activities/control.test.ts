import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { INPUT_PAGE_BYTES, createControlActivities, withinBytes } from '../../src/activities/control.js';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { Deduper } from '../../src/batch/dedupe.js';
import { parseBatchOptions } from '../../src/batch/options.js';
import { createLogger } from '../../src/logging/logger.js';
import { FsStore } from '../../src/store/fs-store.js';

describe('input pages', () => {
  it('cuts a page of large items to fit a history payload, and the next page goes on from there', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'scrapeflow-control-'));
    try {
      const store = await FsStore.open(dir);
      const long = (i: number) => `http://example.test/${i}/${'a'.repeat(60_000)}`;
      await store.putInput(
        'big',
        Array.from({ length: 30 }, (_, i) => ({ url: long(i) })),
      );
      const control = createControlActivities({
        store,
        logger: createLogger({ name: 'test', level: 'silent' }),
      });
      const seen: number[] = [];
      for (let offset = 0; offset < 30;) {
        const page = await control.loadInputPage({ batchId: 'big', offset, limit: 200 });
        assert.ok(page.length > 0, 'a page is never empty while input remains');
        assert.ok(Buffer.byteLength(JSON.stringify(page)) <= INPUT_PAGE_BYTES, 'the page fits');
        seen.push(...page.map((item) => item.index));
        offset = page.at(-1)!.index + 1;
      }
      assert.deepEqual(
        seen,
        Array.from({ length: 30 }, (_, i) => i),
        'every item once, in order',
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('keeps one item even when it alone is over the limit, and whole pages of small items', () => {
    assert.deepEqual(withinBytes(['x'.repeat(100)], 10), ['x'.repeat(100)]);
    const small = Array.from({ length: 200 }, (_, i) => ({ index: i, url: `http://x/${i}` }));
    assert.equal(withinBytes(small, INPUT_PAGE_BYTES).length, 200);
  });
});

describe('recordDuplicates', () => {
  const options = parseBatchOptions({ tags: ['batch'] });
  const logger = createLogger({ name: 'test', level: 'silent' });
  /** Lines 0..n-1 of `n % 3` URLs: line i is a duplicate of line i % 3 from line 3 on. */
  async function batchWithDuplicates(store: FsStore, n: number) {
    const deduper = new Deduper();
    const items = Array.from({ length: n }, (_, i) => ({ url: `http://x/${i % 3}`, tags: [`line${i}`] }));
    await store.putInput('dups', deduper.mark(items));
    for (const index of [0, 1]) {
      await store.putResult({
        batchId: 'dups',
        index,
        url: `http://x/${index}`,
        status: index === 0 ? 'succeeded' : 'dead_lettered',
        ...(index === 1 ? { reason: 'scrape_failed', detail: 'success: false' } : {}),
        charged: index === 0 ? 2 : 0,
        attempts: 1,
        methodUsed: 'fast',
        contentRef: `fs:dups/${index}`,
        tags: ['batch', `line${index}`],
        finishedAt: new Date().toISOString(),
      });
    }
    return deduper.duplicates;
  }

  it('copies each first outcome, charged 0, heartbeats its offset, and resumes from it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'scrapeflow-control-'));
    try {
      const store = await FsStore.open(dir);
      await batchWithDuplicates(store, 1200);
      await store.putResult({
        batchId: 'dups',
        index: 2,
        url: 'http://x/2',
        status: 'failed',
        reason: 'rate_limited',
        charged: 0,
        attempts: 5,
        finishedAt: new Date().toISOString(),
      });
      const control = createControlActivities({ store, logger });
      const env = new MockActivityEnvironment();
      const beats: unknown[] = [];
      env.on('heartbeat', (d: unknown) => beats.push(d));
      const counts = await env.run(() => control.recordDuplicates({ batchId: 'dups', options, end: 1000 }));
      assert.deepEqual(counts, { succeeded: 333, dead_lettered: 332, failed: 332 }, 'lines 3 to 999');
      assert.deepEqual(beats.at(-1), { offset: 1000, counts });
      assert.equal(beats.length, 2, 'one heartbeat per page of 500');
      const dup = await store.getResult('dups', 999);
      assert.equal(await store.getResult('dups', 1000), undefined, 'nothing past `end`');
      assert.deepEqual(
        { ...dup, finishedAt: '' },
        {
          batchId: 'dups',
          index: 999,
          url: 'http://x/0',
          status: 'succeeded',
          charged: 0,
          attempts: 0,
          duplicateOf: 0,
          methodUsed: 'fast',
          contentRef: 'fs:dups/0',
          tags: ['batch', 'line999'],
          finishedAt: '',
        },
      );
      assert.deepEqual(
        [(await store.getResult('dups', 4))?.status, (await store.getResult('dups', 4))?.reason],
        ['dead_lettered', 'scrape_failed'],
      );
      // A retry resumes at the heartbeat's offset, adding to its counts.
      const resumed = new MockActivityEnvironment({ heartbeatDetails: { offset: 1000, counts } });
      assert.deepEqual(
        await resumed.run(() => control.recordDuplicates({ batchId: 'dups', options, end: 1200 })),
        {
          succeeded: 399,
          dead_lettered: 399,
          failed: 399,
        },
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses (non-retryable) a duplicate whose first line has no record', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'scrapeflow-control-'));
    try {
      const store = await FsStore.open(dir);
      await batchWithDuplicates(store, 6);
      const control = createControlActivities({ store, logger });
      await assert.rejects(
        new MockActivityEnvironment().run(() =>
          control.recordDuplicates({ batchId: 'dups', options, end: 6 }),
        ),
        (err: unknown) =>
          err instanceof ApplicationFailure &&
          err.nonRetryable &&
          err.type === 'DuplicateWithoutFirst' &&
          /line 5 .* duplicate of line 2/.test(err.message),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
