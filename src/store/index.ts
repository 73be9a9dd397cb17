/** Opens the store the configuration names: PostgreSQL when SCRAPEFLOW_DATABASE_URL is set, else files. */
import type { Config } from '../config/env.js';
import { FsStore } from './fs-store.js';
import { PgStore } from './pg-store.js';
import type { ResultStore } from './types.js';
import { isAppError, StoreUnavailableError } from '../errors.js';

export type { ResultStore } from './types.js';

/**
 * The configured store, ready to use (PostgreSQL migrations applied). Throws `StoreUnavailableError`
 * naming SCRAPEFLOW_DATABASE_URL and the database host, never the password, when PostgreSQL cannot
 * be opened.
 */
export async function openStore(
  config: Pick<Config, 'SCRAPEFLOW_DATA_DIR' | 'SCRAPEFLOW_DATABASE_URL'>,
): Promise<ResultStore> {
  const url = config.SCRAPEFLOW_DATABASE_URL;
  if (!url) return FsStore.open(config.SCRAPEFLOW_DATA_DIR);
  try {
    return await PgStore.open(url);
  } catch (err) {
    if (!isAppError(err, 'store_unavailable')) throw err;
    throw new StoreUnavailableError(`SCRAPEFLOW_DATABASE_URL: ${err.message}`, {
      target: err.target,
      causeCode: err.causeCode,
      cause: err,
    });
  }
}
