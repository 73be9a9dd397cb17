/**
 * Where a role's permits live on the filesystem store: a semaphore in the one worker of the role the
 * store lets run. A second scrape (or browser) worker on the same store is refused with one line
 * saying that several need PostgreSQL (exit code 2), instead of doubling every account's limit; the
 * browser role's semaphore holds each account's BaaS session limit.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/env.js';
import { loadAccounts } from '../../src/config/accounts.js';
import { toCliError } from '../../src/cli/context.js';
import { ExitCode } from '../../src/cli/exit.js';
import { isAppError } from '../../src/errors.js';
import { openSharedPermits, type SharedPermits } from '../../src/omniscrape/shared-permits.js';
import type { PermitResource } from '../../src/omniscrape/permits.js';
import { FsStore } from '../../src/store/fs-store.js';

describe('permits on the filesystem store', () => {
  let dataDir: string;
  let store: FsStore;
  const accounts = loadAccounts(
    loadConfig({ OMNISCRAPE_KEY: 'sk-shared-permits-test', OMNISCRAPE_BROWSER_SESSIONS: '2' }),
    {},
  );
  const open = (resource: PermitResource) =>
    openSharedPermits({ resource, accounts, store, onError: (err) => assert.fail(err) });
  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'scrapeflow-shared-'));
    store = await FsStore.open(dataDir);
  });
  after(() => rm(dataDir, { recursive: true, force: true }));

  it('refuses a second worker of a role while the first serves the store, in one line that exits 2', async () => {
    const scrape = await open('plan');
    const browser = await open('browser');
    assert.equal(scrape.where, 'process');
    for (const [resource, role] of [
      ['plan', 'scrape'],
      ['browser', 'browser'],
    ] as const) {
      const refusal = await open(resource).then(
        () => assert.fail(`a second ${role} worker was let in`),
        (err: unknown) => err,
      );
      assert.ok(isAppError(refusal, 'store_in_use'), String(refusal));
      assert.match(
        refusal.message,
        new RegExp(
          `^another ${role} worker \\(pid ${process.pid}, since .+\\) serves the filesystem store at ${dataDir}, .+: ` +
            `several ${role} workers need PostgreSQL \\(set SCRAPEFLOW_DATABASE_URL on every process\\)$`,
        ),
      );
      assert.deepEqual(
        { exit: toCliError(refusal)?.exitCode, lines: toCliError(refusal)?.message.split('\n').length },
        { exit: ExitCode.usage, lines: 1 },
      );
    }
    await scrape.close();
    const next = await open('plan');
    await next.close();
    await browser.close();
  });

  it("holds each account's BaaS session limit in the browser worker", async () => {
    const sessions: SharedPermits = await open('browser');
    try {
      assert.equal(sessions.permits.limitOf('any-label'), 2);
      const held = [await sessions.permits.acquire('any-label'), await sessions.permits.acquire('default')];
      let third = false;
      const waiting = sessions.permits.acquire('default').then((release) => {
        third = true;
        return release;
      });
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(third, false, 'a third session waits');
      await held[0]!();
      await (
        await waiting
      )();
      await held[1]!();
    } finally {
      await sessions.close();
    }
  });
});
