/**
 * The authenticator of a process that takes tokens (the HTTP service, the codec server): the admin
 * token of the environment, checked once at start, and the tokens of the store beside its results.
 */
import type { Config } from '../config/env.js';
import { ConfigError, MissingTokenError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import { registerSecret } from '../logging/secrets.js';
import { Authenticator, MIN_ADMIN_TOKEN_LENGTH } from './authenticator.js';
import { tokenStoreOf } from './tokens.js';

/** SCRAPEFLOW_API_TOKEN, registered as a secret; refused when shorter than MIN_ADMIN_TOKEN_LENGTH. */
export function checkAdminToken(config: Pick<Config, 'SCRAPEFLOW_API_TOKEN'>): string | undefined {
  const token = config.SCRAPEFLOW_API_TOKEN;
  registerSecret(token);
  if (token !== undefined && token.length < MIN_ADMIN_TOKEN_LENGTH)
    throw new ConfigError(
      `SCRAPEFLOW_API_TOKEN is ${token.length} characters: an admin token needs at least ${MIN_ADMIN_TOKEN_LENGTH}`,
      'e.g. export SCRAPEFLOW_API_TOKEN=$(openssl rand -hex 24)',
    );
  return token;
}

/**
 * Refuses a SCRAPEFLOW_API_TOKEN shorter than MIN_ADMIN_TOKEN_LENGTH, and a process with no token at
 * all (neither that nor one in the store), each with one line naming what to do.
 */
export async function openAuthenticator(
  config: Pick<Config, 'SCRAPEFLOW_API_TOKEN'>,
  store: object,
  logger: Logger,
): Promise<Authenticator> {
  const token = checkAdminToken(config);
  const tokens = tokenStoreOf(store);
  if (!token && !(await tokens?.list())?.length)
    throw new MissingTokenError(
      'no token: set SCRAPEFLOW_API_TOKEN (an admin token, e.g. export SCRAPEFLOW_API_TOKEN=$(openssl rand -hex 24)) or create one with `scrapeflow tokens create`',
    );
  return authenticatorFor(token, store, logger);
}

/** The admin token and the tokens of the store beside `store`, unchecked (tests build services with it). */
export function authenticatorFor(
  adminToken: string | undefined,
  store: object,
  logger: Logger,
): Authenticator {
  return new Authenticator({
    adminToken,
    tokens: tokenStoreOf(store),
    onTouchError: (err) => logger.warn({ err }, "could not record a token's last use"),
  });
}
