import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsStore } from '../../src/store/fs-store.js';
import type { ResultRecord } from '../../src/store/types.js';

let dir: string;
let store: FsStore;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fs-store-'));
  store = new FsStore(dir);
});
after(() => rm(dir, { recursive: true, force: true }));

const record = (index: number, status: ResultRecord['status'], tags: string[] = []): ResultRecord => ({
  batchId: 'b1',
  index,
  url: `http://x/${index}`,
  status,
  charged: 1,
  attempts: 1,
  tags,
  finishedAt: new Date(0).toISOString(),
});

describe('FsStore', () => {
  it('pages through a stored input across page files', async () => {
    const items = Array.from({ length: 2500 }, (_, i) => ({ url: `http://x/${i}` }));
    assert.equal(await store.putInput('b1', items), 2500);
    assert.equal(await store.inputCount('b1'), 2500);
    const page = await store.readInput('b1', 990, 20);
    assert.deepEqual(
      page.map((p) => p.index),
      Array.from({ length: 20 }, (_, i) => 990 + i),
    );
    assert.equal(page[0]?.url, 'http://x/990');
    assert.equal((await store.readInput('b1', 2490, 100)).length, 10);
    assert.deepEqual(await store.readInput('b1', 2500, 10), []);
    assert.equal(await store.inputCount('nope'), undefined);
  });

  it('keeps exactly one record per (batch, index), streams them in order and filters', async () => {
    await store.putResult(record(2, 'failed'));
    await store.putResult(record(10, 'succeeded', ['shop']));
    await store.putResult(record(2, 'succeeded'));
    const all = [];
    for await (const r of store.listResults('b1')) all.push(r);
    assert.deepEqual(
      all.map((r) => [r.index, r.status]),
      [
        [2, 'succeeded'],
        [10, 'succeeded'],
      ],
    );
    const tagged = [];
    for await (const r of store.listResults('b1', { tag: 'shop' })) tagged.push(r.index);
    assert.deepEqual(tagged, [10]);
  });

  it('stores content behind a reference and refuses unsafe batch ids', async () => {
    const ref = await store.putContent('b1', 3, '<html>x</html>');
    assert.equal(await store.getContent(ref), '<html>x</html>');
    await assert.rejects(store.putContent('../etc', 1, 'x'), /invalid batch id/);
  });
});
