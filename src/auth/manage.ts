/**
 * What `scrapeflow tokens create|list|revoke` do, apart from printing: the checks of their flags (each
 * error names the flag) and the token store of the configured result store.
 */
import { DEFAULT_ACCOUNT, isKnownLabel, type AccountsFile } from '../config/accounts.js';
import { ACCOUNT_LABEL_PATTERN, ACCOUNT_LABEL_RULE } from '../batch/defaults.js';
import { TokenNotFoundError, ValidationError } from '../errors.js';
import { registerSecret } from '../logging/secrets.js';
import { generateToken, hashToken, TOKEN_NAME_PATTERN, type TokenInfo, type TokenStore } from './tokens.js';

export interface CreateTokenRequest {
  /** Account labels (`--account`, repeatable). */
  accounts: string[];
  /** Every account (`--admin`). */
  admin: boolean;
  /** @default `token-<8 hex>` */
  name?: string;
}

/** A new token: `token` is shown once and never stored. */
export type CreatedToken = TokenInfo & { token: string };

function checkRequest(request: CreateTokenRequest, accountsFile: AccountsFile | undefined): void {
  if (request.name !== undefined && !TOKEN_NAME_PATTERN.test(request.name))
    throw new ValidationError(
      `--name: ${JSON.stringify(request.name)} must be 1 to 64 letters, digits, ".", "_" or "-", starting with a letter or digit`,
      'name',
    );
  if (!request.admin && request.accounts.length === 0)
    throw new ValidationError('--account: give at least one account label (or --admin)', 'account');
  for (const label of request.accounts) {
    if (!ACCOUNT_LABEL_PATTERN.test(label))
      throw new ValidationError(`--account: ${JSON.stringify(label)}: ${ACCOUNT_LABEL_RULE}`, 'account');
    // As a batch start refuses it: without an accounts file, every label is a label of `default`'s key.
    if (accountsFile && !isKnownLabel(accountsFile, label))
      throw new ValidationError(
        `--account: ${JSON.stringify(label)} is not an account of SCRAPEFLOW_ACCOUNTS_FILE (${accountsFile.path}); ` +
          `its accounts: ${[DEFAULT_ACCOUNT, ...Object.keys(accountsFile.entries)].join(', ')}`,
        'account',
      );
  }
}

export async function createToken(
  store: TokenStore,
  request: CreateTokenRequest,
  accountsFile: AccountsFile | undefined,
): Promise<CreatedToken> {
  checkRequest(request, accountsFile);
  const token = generateToken();
  registerSecret(token);
  const name = request.name ?? `token-${hashToken(token).slice(0, 8)}`;
  const record = {
    name,
    hash: hashToken(token),
    accounts: request.admin ? [] : [...new Set(request.accounts)],
    admin: request.admin,
    createdAt: new Date().toISOString(),
  };
  if (!(await store.create(record)))
    throw new ValidationError(`--name: a token named ${JSON.stringify(name)} exists already`, 'name');
  const { hash: _hash, ...info } = record;
  return { ...info, token };
}

export async function revokeToken(store: TokenStore, name: string): Promise<void> {
  if (!TOKEN_NAME_PATTERN.test(name) || !(await store.revoke(name)))
    throw new TokenNotFoundError(`no token named ${JSON.stringify(name)}`);
}
