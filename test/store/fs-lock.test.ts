/**
 * The filesystem store's exclusive lock of a role: one live holder at a time, seen by every process on
 * the store; a holder that died (SIGKILL included), or whose pid now names another process, leaves a
 * lock the next taker reclaims at once; racing takers of a stale lock end with one holder.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { takeFsLock, type LockHolder } from '../../src/store/fs-lock.js';

const LOCK_MODULE = new URL('../../src/store/fs-lock.js', import.meta.url).href;

describe('filesystem store lock', () => {
  let dataDir: string;
  let n = 0;
  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'scrapeflow-lock-'));
  });
  after(() => rm(dataDir, { recursive: true, force: true }));

  /** A lock name of its own per test. */
  const fresh = () => `role-${++n}`;
  const lockPath = (name: string) => join(dataDir, 'locks', `${name}.lock`);
  const holderOf = async (name: string) => JSON.parse(await readFile(lockPath(name), 'utf8')) as LockHolder;
  /** Writes a lock as a holder would have left it. */
  const leave = async (name: string, holder: Partial<LockHolder>) => {
    await mkdir(join(dataDir, 'locks'), { recursive: true });
    await writeFile(lockPath(name), JSON.stringify({ host: hostname(), since: 'then', ...holder }));
  };

  it('has one holder at a time, says who holds it, and is free again once released', async () => {
    const name = fresh();
    const first = await takeFsLock(dataDir, name);
    assert.ok(first.held);
    const second = await takeFsLock(dataDir, name);
    assert.ok(!second.held, 'refused while its holder lives');
    assert.equal(second.holder.pid, process.pid);
    assert.equal((await stat(lockPath(name))).mode & 0o777, 0o600);
    assert.equal((await stat(join(dataDir, 'locks'))).mode & 0o777, 0o700);
    await first.release();
    const third = await takeFsLock(dataDir, name);
    assert.ok(third.held, 'free once released');
    await third.release();
  });

  it("reclaims a SIGKILLed process's lock at once, and refuses while that process lives", async () => {
    const name = fresh();
    const child = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const { takeFsLock } = await import(${JSON.stringify(LOCK_MODULE)});
         const lock = await takeFsLock(${JSON.stringify(dataDir)}, ${JSON.stringify(name)});
         console.log(lock.held ? 'held' : 'refused');
         setInterval(() => {}, 1000);`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const exited = once(child, 'exit');
    const [line] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
    assert.equal(line, 'held');
    const refused = await takeFsLock(dataDir, name);
    assert.ok(!refused.held);
    assert.equal(refused.holder.pid, child.pid);
    child.kill('SIGKILL');
    await exited;
    const taken = await takeFsLock(dataDir, name);
    assert.ok(taken.held, 'the dead holder left nothing that blocks');
    assert.equal((await holderOf(name)).pid, process.pid);
    await taken.release();
  });

  it('reclaims a lock whose pid now names another process, and one nobody could have written', async () => {
    // A container restarted on the same volume reuses its pids: the start time tells the holders apart.
    const reused = fresh();
    await leave(reused, { pid: process.pid, started: '1', token: 'earlier-life' });
    const taken = await takeFsLock(dataDir, reused);
    assert.ok(taken.held);
    await taken.release();
    const garbled = fresh();
    await mkdir(join(dataDir, 'locks'), { recursive: true });
    await writeFile(lockPath(garbled), 'not json');
    const again = await takeFsLock(dataDir, garbled);
    assert.ok(again.held);
    await again.release();
  });

  it('gives a stale lock to exactly one of many racing takers', async () => {
    const name = fresh();
    const dead = spawn(process.execPath, ['-e', '']);
    await once(dead, 'exit');
    await leave(name, { pid: dead.pid!, token: 'dead-holder' });
    const attempts = await Promise.all(Array.from({ length: 8 }, () => takeFsLock(dataDir, name)));
    const winners = attempts.filter((a) => a.held);
    assert.equal(winners.length, 1, 'one holder');
    for (const a of attempts) if (!a.held) assert.equal(a.holder.pid, process.pid, 'the others name it');
    await winners[0]!.release();
  });
});
