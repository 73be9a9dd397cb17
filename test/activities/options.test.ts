/** Batch options by version: stored once by the batch, read once per batch, version and worker. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createControlActivities } from '../../src/activities/control.js';
import { OptionsCache, optionsVersionOf } from '../../src/activities/options.js';
import { parseBatchOptions } from '../../src/batch/options.js';
import { createLogger } from '../../src/logging/logger.js';
import { FsStore } from '../../src/store/fs-store.js';

const options = parseBatchOptions({ mode: 'fast', cssSelectors: { title: 'h1' } });
const item = (index: number) => ({ index, url: `http://example.test/${index}` });

let dir: string;
let store: FsStore;
/** Store reads of options, by the cache under test. */
let reads = 0;
const counted = () => ({
  id: store.id,
  getOptions: (batchId: string, version: string) => {
    reads += 1;
    return store.getOptions(batchId, version);
  },
});

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'scrapeflow-options-'));
  store = await FsStore.open(dir);
});
after(() => rm(dir, { recursive: true, force: true }));

describe('options by version', () => {
  it('the batch stores its options under their hash; other options are another version', async () => {
    const control = createControlActivities({
      store,
      logger: createLogger({ name: 'test', level: 'silent' }),
    });
    const version = await control.storeOptions({ batchId: 'b1', options });
    assert.equal(version, optionsVersionOf(options));
    assert.equal(await control.storeOptions({ batchId: 'b1', options }), version, 'idempotent');
    const other = await control.storeOptions({ batchId: 'b1', options: { ...options, concurrency: 3 } });
    assert.notEqual(other, version);
    assert.deepEqual(await store.getOptions('b1', version), options);
  });

  it('a worker reads a version once for all its URLs, and resolves tasks that carry the options as they are', async () => {
    reads = 0;
    const cache = new OptionsCache(counted());
    const optionsVersion = optionsVersionOf(options);
    const tasks = await Promise.all(
      Array.from({ length: 50 }, (_, i) => cache.resolve({ batchId: 'b1', item: item(i), optionsVersion })),
    );
    assert.equal(reads, 1, 'one store read for 50 URLs of the batch');
    assert.deepEqual(tasks[7], { batchId: 'b1', item: item(7), options });
    const polled = await cache.resolve({
      batchId: 'b1',
      item: item(3),
      optionsVersion,
      jobId: 'j',
      attemptsBefore: 2,
    });
    assert.deepEqual(polled, { batchId: 'b1', item: item(3), options, jobId: 'j', attemptsBefore: 2 });
    const earlier = { batchId: 'b0', item: item(1), options };
    assert.equal(await cache.resolve(earlier), earlier, 'a task of an earlier build is its own');
    assert.equal(reads, 1);
  });

  it('fails retryably for a version its store does not have, and reads again on the next try', async () => {
    reads = 0;
    const cache = new OptionsCache(counted());
    const task = { batchId: 'b2', item: item(0), optionsVersion: optionsVersionOf(options) };
    await assert.rejects(cache.resolve(task), (err: Error & { type?: string; nonRetryable?: boolean }) => {
      assert.equal(err.type, 'OptionsNotFound');
      assert.equal(err.nonRetryable, false);
      assert.ok(err.message.includes(`not in this worker's store (${store.id})`), err.message);
      return true;
    });
    await store.putOptions('b2', task.optionsVersion, options);
    assert.deepEqual((await cache.resolve(task)).options, options);
    assert.equal(reads, 2, 'the failed read was not kept');
  });

  it('keeps a bounded number of versions, the oldest read going first', async () => {
    reads = 0;
    const cache = new OptionsCache(counted(), 2);
    const versions = await Promise.all(
      [1, 2, 3].map((n) =>
        createControlActivities({
          store,
          logger: createLogger({ name: 'test', level: 'silent' }),
        }).storeOptions({
          batchId: 'b3',
          options: { ...options, concurrency: n },
        }),
      ),
    );
    for (const optionsVersion of [...versions, versions[2]!, versions[0]!])
      await cache.resolve({ batchId: 'b3', item: item(0), optionsVersion });
    assert.equal(reads, 4, 'three first reads, then the first again once evicted');
  });
});
