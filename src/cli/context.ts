/**
 * What most commands need: the configuration, one Temporal client and the store, opened once and
 * closed in `finally`; and the mapping from library errors to exit codes with a hint of what to do.
 */
import type { Client } from '@temporalio/client';
import { ValidationError } from '../batch/options.js';
import { BatchIdTakenError, BatchNotFoundError } from '../client/batches.js';
import { InputError } from '../client/input.js';
import { LineNotFoundError } from '../client/inspect.js';
import { NothingToRedriveError } from '../client/redrive.js';
import { connectClient, TemporalNotSetUpError, TemporalUnavailableError } from '../client/temporal.js';
import { ConfigError, loadConfig, type Config } from '../config/env.js';
import {
  openStore,
  StoreHostMismatchError,
  StoreUnavailableError,
  type ResultStore,
} from '../store/index.js';
import { CliError, ExitCode } from './exit.js';

export interface CliContext {
  config: Config;
  client: Client;
  store: ResultStore;
}

/** Maps a known error to a `CliError` with its exit code; anything else is returned unchanged. */
export function toCliError(err: unknown): unknown {
  if (err instanceof CliError) return err;
  if (err instanceof TemporalUnavailableError) return new CliError(err.message, ExitCode.unavailable);
  if (err instanceof TemporalNotSetUpError) return new CliError(err.message, ExitCode.unavailable);
  if (err instanceof BatchIdTakenError) return new CliError(err.message, ExitCode.batchIdTaken);
  if (err instanceof BatchNotFoundError)
    return new CliError(`${err.message}: check the id with \`scrapeflow list\``, ExitCode.notFound);
  if (err instanceof InputError) return new CliError(`input ${err.message}`, ExitCode.usage);
  if (err instanceof LineNotFoundError) return new CliError(err.message, ExitCode.usage);
  if (err instanceof ValidationError) return new CliError(err.message, ExitCode.usage);
  if (err instanceof ConfigError) return new CliError(`${err.message} (${err.hint})`, ExitCode.usage);
  if (err instanceof NothingToRedriveError) return new CliError(err.message, ExitCode.notFound);
  if (err instanceof StoreUnavailableError) return new CliError(err.message, ExitCode.unavailable);
  if (err instanceof StoreHostMismatchError) return new CliError(err.message, ExitCode.usage);
  return err;
}

/** Runs `work` with a context, closing the client and store afterwards; errors come back mapped. */
export async function withContext<T>(work: (ctx: CliContext) => Promise<T>): Promise<T> {
  try {
    const config = loadConfig();
    const store = await openStore(config);
    try {
      const client = await connectClient(config);
      try {
        return await work({ config, client, store });
      } finally {
        await client.connection.close();
      }
    } finally {
      await store.close();
    }
  } catch (err) {
    throw toCliError(err);
  }
}

/** Parses a whole-number flag or fails with a usage error naming it. */
export function intOption(name: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < min || n > max)
      throw new CliError(
        `${name} must be a whole number from ${min} to ${max} (got ${JSON.stringify(value)})`,
        ExitCode.usage,
      );
    return n;
  };
}

/** Writes one line to stdout. */
export function say(line: string): void {
  process.stdout.write(`${line}\n`);
}
