/**
 * The accounts configuration (SCRAPEFLOW_ACCOUNTS_FILE): what a file may say, the errors that name the
 * file and the field, how workers resolve a batch's label, and the keys registered as secrets.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/env.js';
import { ConfigError } from '../../src/errors.js';
import { isKnownLabel, loadAccounts, readAccountsFile } from '../../src/config/accounts.js';
import { redactSecrets } from '../../src/logging/secrets.js';

describe('accounts configuration', () => {
  let dir: string;
  let n = 0;
  /** Writes `content` (JSON unless a string) to a file of its own and returns its path. */
  const file = async (content: unknown, name = `accounts-${++n}.json`) => {
    const path = join(dir, name);
    await writeFile(path, typeof content === 'string' ? content : JSON.stringify(content));
    return path;
  };
  /** The ConfigError message of `run`. */
  const refusal = (run: () => unknown): string => {
    try {
      run();
    } catch (err) {
      assert.ok(err instanceof ConfigError, String(err));
      return err.message;
    }
    assert.fail('no ConfigError');
  };
  const config = (env: Record<string, string>) => loadConfig(env);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'scrapeflow-accounts-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('refuses a malformed file naming the file and every bad field', async () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ acme: { plan: 5, key: 'sk-inline-secret' } }, /acme\.key: a key written in this file is refused/],
      [{ acme: { plan: 5 } }, /acme: needs exactly one of keyEnv and keyFile/],
      [{ acme: { plan: 5, keyEnv: 'A', keyFile: 'a.key' } }, /acme: needs exactly one of keyEnv and keyFile/],
      [{ acme: { plan: 0, keyEnv: 'A' } }, /acme\.plan: /],
      [{ acme: { plan: 5, browserSessions: 0, keyEnv: 'A' } }, /acme\.browserSessions: /],
      [
        { acme: { plan: 5, keyEnv: 'not a name' } },
        /acme\.keyEnv: must be the name of an environment variable/,
      ],
      [{ acme: { plan: 5, keyEnv: 'A', extra: 1 } }, /acme: .*extra/],
      [{ default: { plan: 5, keyEnv: 'A' } }, /default: is the account of OMNISCRAPE_KEY/],
      [['acme'], /\(the file\): /],
    ];
    for (const [content, expected] of cases) {
      const path = await file(content);
      const message = refusal(() => readAccountsFile(path));
      assert.match(message, new RegExp(`^invalid SCRAPEFLOW_ACCOUNTS_FILE \\(${path}\\): `));
      assert.match(message, expected);
      assert.doesNotMatch(message, /sk-inline-secret/);
    }
    assert.match(
      refusal(() => readAccountsFile(join(dir, 'missing.json'))),
      /missing\.json\) cannot be read/,
    );
    const notJson = await file('{ acme: ');
    assert.match(
      refusal(() => readAccountsFile(notJson)),
      /is not JSON/,
    );
  });

  it('reads keys from variables and files, registers them as secrets, and resolves labels', async () => {
    await file('sk-globex-from-file\n', 'globex.key');
    const path = await file({
      acme: { plan: 5, keyEnv: 'OMNISCRAPE_KEY_ACME' },
      globex: { plan: 20, keyFile: 'globex.key' },
    });
    const accounts = loadAccounts(
      config({
        OMNISCRAPE_KEY: 'sk-default-key',
        OMNISCRAPE_PLAN_CONCURRENCY: '3',
        SCRAPEFLOW_ACCOUNTS_FILE: path,
      }),
      { OMNISCRAPE_KEY_ACME: 'sk-acme-from-env' },
    );
    assert.deepEqual(
      accounts.list().map((a) => [a.name, a.plan]),
      [
        ['default', 3],
        ['acme', 5],
        ['globex', 20],
      ],
    );
    assert.equal(accounts.resolve('acme').key, 'sk-acme-from-env');
    assert.equal(accounts.resolve('globex').key, 'sk-globex-from-file');
    assert.equal(accounts.resolve('default').key, 'sk-default-key');
    for (const key of ['sk-acme-from-env', 'sk-globex-from-file', 'sk-default-key'])
      assert.equal(redactSecrets(`x ${key} y`), 'x [REDACTED] y');
    assert.throws(
      () => accounts.resolve('initech'),
      (err: Error & { code?: string }) =>
        err.name === 'UnknownAccountError' &&
        err.code === 'auth' &&
        err.message.includes(
          `account "initech" has no OmniScrape key on this worker: it is not in SCRAPEFLOW_ACCOUNTS_FILE (${path})`,
        ) &&
        err.message.includes('accounts here: default, acme, globex'),
    );
    const known = readAccountsFile(path);
    assert.ok(
      isKnownLabel(known, 'acme') && isKnownLabel(known, 'default') && !isKnownLabel(known, 'initech'),
    );
    assert.ok(isKnownLabel(undefined, 'initech'), 'without a file, every label');
  });

  it("reads each account's BaaS session limit: OMNISCRAPE_BROWSER_SESSIONS, browserSessions, default 2", async () => {
    const path = await file({
      acme: { plan: 5, browserSessions: 7, keyEnv: 'K1' },
      globex: { plan: 5, keyEnv: 'K2' },
    });
    const accounts = loadAccounts(
      config({
        OMNISCRAPE_KEY: 'sk-default-sessions',
        OMNISCRAPE_BROWSER_SESSIONS: '4',
        SCRAPEFLOW_ACCOUNTS_FILE: path,
      }),
      { K1: 'sk-acme-sessions', K2: 'sk-globex-sessions' },
    );
    assert.deepEqual(
      accounts.list().map((a) => [a.name, accounts.browserSessionsOf(a.name)]),
      [
        ['default', 4],
        ['acme', 7],
        ['globex', 2],
      ],
    );
    assert.equal(loadConfig({}).OMNISCRAPE_BROWSER_SESSIONS, 2);
  });

  it('without a file every label is default; with one, default needs OMNISCRAPE_KEY', async () => {
    const plain = loadAccounts(config({ OMNISCRAPE_KEY: 'sk-only-key' }), {});
    assert.equal(plain.resolve('any-label').name, 'default', 'labels share the one key and its plan');
    assert.equal(plain.resolve('any-label').plan, 5);
    const path = await file({ acme: { plan: 5, keyEnv: 'K' } });
    const fileOnly = loadAccounts(config({ SCRAPEFLOW_ACCOUNTS_FILE: path }), { K: 'sk-acme-only' });
    assert.throws(() => fileOnly.resolve('default'), /OMNISCRAPE_KEY is not set on this worker/);
  });

  it('refuses a key it cannot read, a malformed key, and one key under two accounts', async () => {
    const path = await file({
      acme: { plan: 5, keyEnv: 'KEY_A' },
      globex: { plan: 5, keyFile: 'nowhere.key' },
    });
    const env = config({ SCRAPEFLOW_ACCOUNTS_FILE: path });
    assert.match(
      refusal(() => loadAccounts(env, {})),
      /: acme\.keyEnv: KEY_A is not set/,
    );
    assert.match(
      refusal(() => loadAccounts(env, { KEY_A: 'sk-acme-1234' })),
      /: globex\.keyFile: .*nowhere\.key cannot be read/,
    );
    const twice = await file({ acme: { plan: 5, keyEnv: 'KEY_A' }, globex: { plan: 9, keyEnv: 'KEY_B' } });
    const message = refusal(() =>
      loadAccounts(config({ SCRAPEFLOW_ACCOUNTS_FILE: twice }), {
        KEY_A: 'sk-same-key',
        KEY_B: 'sk-same-key',
      }),
    );
    assert.match(message, /globex\.keyEnv \(KEY_B\): the key of account "globex" is also account "acme"'s/);
    assert.doesNotMatch(message, /sk-same-key/);
    assert.match(
      refusal(() =>
        loadAccounts(config({ SCRAPEFLOW_ACCOUNTS_FILE: twice }), { KEY_A: 'a b c d', KEY_B: 'x' }),
      ),
      /acme\.keyEnv \(KEY_A\): the key must be printable ASCII without spaces/,
    );
  });
});
