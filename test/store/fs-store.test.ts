import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostname } from 'node:os';
import { FsStore } from '../../src/store/fs-store.js';
import { runStoreContract } from './contract.js';
import { StoreHostMismatchError } from '../../src/errors.js';

const dirs: string[] = [];
const open = async () => {
  const dir = await mkdtemp(join(tmpdir(), 'fs-store-'));
  dirs.push(dir);
  return new FsStore(dir);
};
after(() => Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true }))));

runStoreContract('FsStore', open);

describe('FsStore specifics', () => {
  it('creates its directories 0700 and its files 0600, even under umask 000', async () => {
    const parent = await mkdtemp(join(tmpdir(), 'fs-store-modes-'));
    dirs.push(parent);
    const umask = process.umask(0);
    try {
      const store = await FsStore.open(join(parent, 'data'));
      await store.putInput('b1', [{ url: 'https://example.com/' }]);
      await store.putResult({
        batchId: 'b1',
        index: 0,
        url: 'https://example.com/',
        status: 'failed',
        reason: 'x',
        charged: 0,
        attempts: 1,
        finishedAt: new Date().toISOString(),
      });
      await store.putContent('b1', 0, '<html>body</html>');
      await store.noteCharge('b1', 0, 'try-1', 5);
    } finally {
      process.umask(umask);
    }
    const modes: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      for (const entry of await readdir(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        const mode = ((await stat(path)).mode & 0o777).toString(8);
        modes.push(`${entry.isDirectory() ? 'dir' : 'file'} ${path.slice(parent.length)} ${mode}`);
        if (entry.isDirectory()) await walk(path);
      }
    };
    await walk(parent);
    assert.ok(modes.length >= 12, modes.join('\n'));
    for (const line of modes) assert.match(line, /^(dir .* 700|file .* 600)$/, line);
  });

  it('prunes by file mtime, with the temporary files of killed writers', async () => {
    const store = await open();
    const old = await store.putContent('b1', 0, 'old');
    await store.putContent('b1', 1, 'new');
    const dir = join(store.dataDir, 'content', 'b1');
    const past = new Date(Date.now() - 86_400_000);
    await utimes(join(dir, '0.html'), past, past);
    await writeFile(join(dir, '2.html.dead.tmp'), 'half');
    await utimes(join(dir, '2.html.dead.tmp'), past, past);
    assert.equal(await store.pruneContent(new Date(Date.now() - 3_600_000)), 1);
    assert.equal(await store.getContent(old), undefined);
    assert.deepEqual(await readdir(dir), ['1.html']);
  });

  it('prunes input directories abandoned by killed writers once older than the cutoff', async () => {
    const store = await open();
    await store.putInput('kept', [{ url: 'https://example.com/' }]);
    const inputs = join(store.dataDir, 'inputs');
    const past = new Date(Date.now() - 86_400_000);
    for (const name of ['.staging-b-1', '.deleted-b-2', '.staging-b-3']) {
      await mkdir(join(inputs, name));
      await writeFile(join(inputs, name, 'page-0.json'), '[]');
      if (name !== '.staging-b-3') await utimes(join(inputs, name), past, past);
    }
    await store.pruneContent(new Date(Date.now() - 3_600_000));
    assert.deepEqual((await readdir(inputs)).sort(), ['.staging-b-3', 'kept']);
    assert.equal(await store.inputCount('kept'), 1);
  });

  it('belongs to the host that opened it first; another host is refused with what to do instead', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fs-owner-'));
    dirs.push(dir);
    const mine = await FsStore.open(dir);
    assert.equal(mine.id, `fs:${hostname()}:${dir}`);
    await FsStore.open(dir); // the same host again: fine
    await writeFile(join(dir, 'store.json'), JSON.stringify({ host: 'another-host' }));
    await assert.rejects(FsStore.open(dir), (err: unknown) => {
      assert.ok(err instanceof StoreHostMismatchError);
      assert.match(err.message, /belongs to host "another-host"/);
      assert.match(err.message, /SCRAPEFLOW_DATABASE_URL/);
      return true;
    });
  });
});
