import type { Command } from 'commander';
import type { TokenStore } from '../../auth/tokens.js';
import type { Config } from '../../config/env.js';
import { say } from '../context.js';

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

/** Opens the configured store's tokens for `work`, closing the store after. */
async function withTokens<T>(work: (tokens: TokenStore, config: Config) => Promise<T>): Promise<T> {
  const [{ loadConfig }, { openStore }, { tokenStoreOf }] = await Promise.all([
    import('../../config/env.js'),
    import('../../store/index.js'),
    import('../../auth/tokens.js'),
  ]);
  const config = loadConfig();
  const store = await openStore(config);
  try {
    return await work(tokenStoreOf(store)!, config);
  } finally {
    await store.close();
  }
}

/** `scrapeflow tokens create|list|revoke`: the HTTP service's tokens, scoped to accounts. */
export function registerTokens(program: Command): void {
  const tokens = program
    .command('tokens')
    .description(
      "the HTTP service's bearer tokens, each scoped to accounts (or admin); stored as hashes in the store",
    );
  tokens
    .command('create')
    .description('create a token and print it once (it is stored only as a hash)')
    .option('--account <label>', 'an account the token acts on (repeatable)', collect)
    .option('--admin', 'the token acts on every account')
    .option('--name <name>', 'a unique name to list and revoke it by (default: token-<hex>)')
    .option('--json', 'print one JSON object: name, token, accounts, admin, createdAt')
    .action(async (flags: { account?: string[]; admin?: boolean; name?: string; json?: boolean }) => {
      const [{ createToken }, { accountsFileOf }] = await Promise.all([
        import('../../auth/manage.js'),
        import('../../config/accounts.js'),
      ]);
      await withTokens(async (store, config) => {
        const created = await createToken(
          store,
          {
            accounts: flags.account ?? [],
            admin: flags.admin ?? false,
            ...(flags.name !== undefined ? { name: flags.name } : {}),
          },
          accountsFileOf(config),
        );
        if (flags.json) return say(JSON.stringify(created));
        const scope = created.admin ? 'admin (every account)' : `accounts ${created.accounts.join(', ')}`;
        say(`token ${created.name}: ${scope}`);
        say(created.token);
        say('(shown once: it is stored only as a hash)');
      });
    });
  tokens
    .command('list')
    .description('list tokens: name, accounts, admin, created, last used (never the token)')
    .option('--json', 'one JSON object per line')
    .action(async (flags: { json?: boolean }) => {
      await withTokens(async (store) => {
        const all = await store.list();
        for (const t of all) {
          if (flags.json) say(JSON.stringify(t));
          else
            say(
              `${t.name.padEnd(24)} ${(t.admin ? 'admin' : t.accounts.join(',')).padEnd(30)} ` +
                `created ${t.createdAt}  last used ${t.lastUsedAt ?? 'never'}`,
            );
        }
        if (!flags.json && all.length === 0) say('no tokens yet: scrapeflow tokens create --account <label>');
      });
    });
  tokens
    .command('revoke <name>')
    .description('revoke a token: the service refuses it from its next request on')
    .action(async (name: string) => {
      const { revokeToken } = await import('../../auth/manage.js');
      await withTokens(async (store) => {
        await revokeToken(store, name);
        say(`revoked token ${name}`);
      });
    });
}
