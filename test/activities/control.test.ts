import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { INPUT_PAGE_BYTES, createControlActivities, withinBytes } from '../../src/activities/control.js';
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
