/** Opens the store the configuration names: PostgreSQL when SCRAPEFLOW_DATABASE_URL is set, else files. */
import type { Config } from '../config/env.js';
import { FsStore } from './fs-store.js';
import { PgStore } from './pg-store.js';
import type { ResultStore } from './types.js';
import { resolve } from 'node:path';
import { ConfigError, isAppError, StoreUnavailableError } from '../errors.js';

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
  if (!url) return openFsStore(config.SCRAPEFLOW_DATA_DIR);
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

/** Errors of a data directory that is not one this process can use (a file in its place, no permission). */
const UNUSABLE_DIR = new Set(['EEXIST', 'ENOTDIR', 'EACCES', 'EPERM', 'EROFS']);

/** The filesystem store; a data directory this process cannot use is a `ConfigError` naming the variable. */
async function openFsStore(dataDir: string): Promise<ResultStore> {
  try {
    return await FsStore.open(dataDir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (!code || !UNUSABLE_DIR.has(code)) throw err;
    throw new ConfigError(
      `SCRAPEFLOW_DATA_DIR: cannot use ${resolve(dataDir)} as the store: ${(err as Error).message}`,
      'point SCRAPEFLOW_DATA_DIR at a directory this process can create and write',
    );
  }
}
