import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsStore } from '../../src/store/fs-store.js';
import { BIN } from '../support/cli.js';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

const prune = (dataDir: string, ...args: string[]) =>
  spawnSync(process.execPath, [BIN, 'prune', ...args], {
    env: { PATH: process.env.PATH ?? '', SCRAPEFLOW_DATA_DIR: dataDir },
    encoding: 'utf8',
  });

describe('scrapeflow prune', () => {
  it('removes page bodies older than the age and keeps the result records', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'prune-'));
    dirs.push(dir);
    const store = await FsStore.open(dir);
    const old = await store.putContent('b', 0, '<html>old</html>');
    const fresh = await store.putContent('b', 1, '<html>new</html>');
    await store.putResult({
      batchId: 'b',
      index: 0,
      url: 'http://x/0',
      status: 'succeeded',
      charged: 1,
      attempts: 1,
      contentRef: old,
      finishedAt: new Date().toISOString(),
    });
    const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000);
    await utimes(join(dir, 'content', 'b', '0.html'), twoDaysAgo, twoDaysAgo);

    const run = prune(dir, '--older-than', '1d');
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /pruned 1 page bodies/);
    assert.equal(await store.getContent(old), undefined);
    assert.equal(await store.getContent(fresh), '<html>new</html>');
    assert.equal((await store.getResult('b', 0))?.status, 'succeeded');
  });

  it('names the flag on a bad age', () => {
    const run = prune(tmpdir(), '--older-than', 'soon');
    assert.equal(run.status, 2);
    assert.match(run.stderr, /--older-than must look like 30m, 12h or 7d/);
  });
});
