/**
 * API tokens on both stores (one 0600 file per token; a PostgreSQL table holding hashes only), the
 * checks of `tokens create` that name their flag, the authenticator (revocation, last use written at
 * most once a minute), and `scrapeflow tokens` as a user runs it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Authenticator } from '../../src/auth/authenticator.js';
import { createToken, revokeToken } from '../../src/auth/manage.js';
import { FsTokenStore, hashToken, tokenStoreOf, type TokenStore } from '../../src/auth/tokens.js';
import { readAccountsFile } from '../../src/config/accounts.js';
import { redactSecrets } from '../../src/logging/secrets.js';
import { PgStore } from '../../src/store/pg-store.js';
import { runCli } from '../support/cli.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

let dir: string;
let db: TestDatabase;
let pgStore: PgStore;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tokens-'));
  db = await createTestDatabase('sf_tokens');
  pgStore = await PgStore.open(db.url);
});
after(async () => {
  await pgStore?.close();
  await db?.drop();
  await rm(dir, { recursive: true, force: true });
});

/** What every token store does. */
async function contract(store: TokenStore): Promise<string> {
  const created = await createToken(store, { accounts: ['default'], admin: false, name: 'acme' }, undefined);
  assert.match(created.token, /^sft_[A-Za-z0-9_-]{43}$/);
  assert.equal(redactSecrets(`got ${created.token}!`), 'got [REDACTED]!');
  await assert.rejects(
    createToken(store, { accounts: [], admin: true, name: 'acme' }, undefined),
    /--name: a token named "acme" exists already/,
  );
  await createToken(store, { accounts: [], admin: true, name: 'ops' }, undefined);
  const listed = await store.list();
  assert.deepEqual(
    listed.map((t) => [t.name, t.admin, t.accounts, t.lastUsedAt]),
    [
      ['acme', false, ['default'], undefined],
      ['ops', true, [], undefined],
    ],
  );
  assert.ok(!JSON.stringify(listed).includes(created.token) && !('hash' in listed[0]!));
  assert.equal((await store.find(hashToken(created.token)))?.name, 'acme');
  await store.touch('acme', new Date('2026-01-02T03:04:05Z'));
  assert.equal((await store.list())[0]?.lastUsedAt, '2026-01-02T03:04:05.000Z');
  await revokeToken(store, 'ops');
  await assert.rejects(
    revokeToken(store, 'ops'),
    (e: Error & { code?: string }) => e.code === 'token_not_found',
  );
  assert.deepEqual(
    (await store.list()).map((t) => t.name),
    ['acme'],
  );
  return created.token;
}

describe('token stores', () => {
  it('files: one 0600 file per token in a 0700 directory, holding the hash, never the token', async () => {
    const store = tokenStoreOf({ dataDir: dir })!;
    const token = await contract(store);
    const tokensDir = (store as FsTokenStore).dir;
    assert.equal((await stat(tokensDir)).mode & 0o777, 0o700);
    // A stray file in the folder is no token, and breaks none.
    await writeFile(join(tokensDir, 'stray.json'), 'not json', { mode: 0o600 });
    assert.deepEqual(
      (await store.list()).map((t) => t.name),
      ['acme'],
    );
    for (const name of await readdir(tokensDir)) {
      const path = join(tokensDir, name);
      assert.equal((await stat(path)).mode & 0o777, 0o600, name);
      assert.ok(!(await readFile(path, 'utf8')).includes(token), `${name} holds no token`);
    }
  });

  it('PostgreSQL: the table holds the hash, never the token', async () => {
    const token = await contract(tokenStoreOf(pgStore)!);
    const { rows } = await pgStore.pool.query<{ hash: string }>('SELECT * FROM scrapeflow_tokens');
    assert.equal(rows.length, 1);
    assert.ok(!JSON.stringify(rows).includes(token));
    assert.equal(rows[0]?.hash, hashToken(token));
  });
});

describe('tokens create: each refusal names its flag', () => {
  it('refuses no account without --admin, a label the accounts file lacks, a bad name', async () => {
    const store = new FsTokenStore(join(dir, 'refusals'));
    const file = join(dir, 'accounts.json');
    await writeFile(file, JSON.stringify({ acme: { plan: 2, keyEnv: 'OMNISCRAPE_KEY_ACME' } }));
    const accounts = readAccountsFile(file);
    await assert.rejects(
      createToken(store, { accounts: [], admin: false }, accounts),
      /^ValidationError: --account: give at least one account label \(or --admin\)/,
    );
    await assert.rejects(
      createToken(store, { accounts: ['acme', 'globex'], admin: false }, accounts),
      /--account: "globex" is not an account of SCRAPEFLOW_ACCOUNTS_FILE .*its accounts: default, acme/,
    );
    await assert.rejects(
      createToken(store, { accounts: ['acme'], admin: false, name: '../x' }, accounts),
      /--name/,
    );
    // A quote would change what the token's listings select (`ScrapeflowAccount IN ('…')`).
    await assert.rejects(
      createToken(store, { accounts: ["ac'me"], admin: false }, undefined),
      /^ValidationError: --account: "ac'me": an account label is 1 to 100 characters, without quotes/,
    );
    assert.deepEqual(await store.list(), [], 'nothing written');
    const ok = await createToken(store, { accounts: ['acme', 'default'], admin: false }, accounts);
    assert.match(ok.name, /^token-[0-9a-f]{8}$/);
  });
});

describe('authenticator', () => {
  it('resolves admin and scoped tokens, forgets a revoked one, writes the last use once a minute', async () => {
    const store = new FsTokenStore(join(dir, 'auth'));
    let touches = 0;
    const counting: TokenStore = {
      ...Object.fromEntries(
        (['create', 'list', 'find', 'revoke'] as const).map((m) => [m, store[m].bind(store)]),
      ),
      touch: async (name, at) => {
        touches += 1;
        await store.touch(name, at);
      },
    } as TokenStore;
    const { token } = await createToken(store, { accounts: ['default'], admin: false, name: 'a' }, undefined);
    const envAdmin = 'e'.repeat(32);
    const auth = new Authenticator({ adminToken: envAdmin, tokens: counting });
    assert.deepEqual(await auth.principalOf(`Bearer ${envAdmin}`), {
      name: 'SCRAPEFLOW_API_TOKEN',
      admin: true,
      accounts: [],
    });
    for (let i = 0; i < 20; i += 1)
      assert.deepEqual(await auth.principalOf(`Bearer ${token}`), {
        name: 'a',
        admin: false,
        accounts: ['default'],
      });
    assert.equal(touches, 1, '20 requests, one write of the last use');
    assert.equal(await auth.principalOf(token), undefined, 'not a Bearer header');
    assert.equal(await auth.principalOf(undefined), undefined);
    await revokeToken(store, 'a');
    assert.equal(await auth.principalOf(`Bearer ${token}`), undefined);
  });
});

describe('scrapeflow tokens', () => {
  it('creates (printed once), lists (never the token), revokes; errors are one line with an exit code', async () => {
    const dataDir = join(dir, 'cli');
    const stack = { temporal: { address: '127.0.0.1:1' }, dataDir };
    const created = await runCli(stack, [
      'tokens',
      'create',
      '--account',
      'default',
      '--name',
      'ci',
      '--json',
    ]);
    assert.equal(created.code, 0, created.stderr);
    const { token, name, accounts } = JSON.parse(created.stdout) as Record<string, unknown>;
    assert.deepEqual([name, accounts], ['ci', ['default']]);
    const listed = await runCli(stack, ['tokens', 'list']);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /^ci +default +created \S+ +last used never$/m);
    assert.ok(!listed.stdout.includes(String(token)));
    const bad = await runCli(stack, ['tokens', 'create']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--account: give at least one account label/);
    assert.doesNotMatch(bad.stderr, /^\s+at /m);
    assert.equal((await runCli(stack, ['tokens', 'revoke', 'ci'])).code, 0);
    const again = await runCli(stack, ['tokens', 'revoke', 'ci']);
    assert.equal(again.code, 4);
    assert.match(again.stderr, /no token named "ci"/);
  });

  it('serve refuses a SCRAPEFLOW_API_TOKEN under 32 characters: one line, exit 2, nothing started', async () => {
    const stack = { temporal: { address: '127.0.0.1:1' }, dataDir: join(dir, 'serve') };
    const run = await runCli(stack, ['serve', '--port', '0'], {
      env: { SCRAPEFLOW_API_TOKEN: 'short-token' },
    });
    assert.equal(run.code, 2, run.stderr);
    assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
    assert.match(run.stderr, /SCRAPEFLOW_API_TOKEN is 11 characters: an admin token needs at least 32/);
    assert.doesNotMatch(run.stdout, /listening/);
  });

  it('serve without any token (none in the environment, none created) refuses to start, naming both ways', async () => {
    const stack = { temporal: { address: '127.0.0.1:1' }, dataDir: join(dir, 'no-token') };
    const run = await runCli(stack, ['serve', '--port', '0']);
    assert.equal(run.code, 2, run.stderr);
    assert.match(
      run.stderr,
      /no token: set SCRAPEFLOW_API_TOKEN .* or create one with `scrapeflow tokens create`/,
    );
    assert.doesNotMatch(run.stderr, /^\s+at /m);
  });
});
