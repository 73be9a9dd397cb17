/**
 * What most commands need: the configuration, one Temporal client and the store, opened once and
 * closed in `finally`; and the line and exit code an error ends the CLI with.
 */
import type { Client } from '@temporalio/client';
import type { Config } from '../config/env.js';
import type { ResultStore } from '../store/index.js';
import { CliError, ExitCode } from './exit.js';
import { answerOf, isAppError } from '../errors.js';

export interface CliContext {
  config: Config;
  client: Client;
  store: ResultStore;
}

/**
 * `err` as the line and exit code the CLI ends with: a `CliError` as it is, an application error as
 * `ERROR_ANSWERS` says; undefined for anything else (a bug: the CLI prints its stack).
 */
export function toCliError(err: unknown): CliError | undefined {
  if (err instanceof CliError) return err;
  const listen = listenError(err);
  if (listen) return listen;
  if (!isAppError(err)) return undefined;
  const answer = answerOf(err);
  return new CliError(answer.cliMessage?.(err) ?? err.message, answer.exit);
}

/** Why a server command could not listen on its address, for whichever command met it. */
const LISTEN_CODES: Record<string, string> = {
  EADDRINUSE: 'another process listens there',
  EACCES: 'this user may not listen on that port',
  EADDRNOTAVAIL: 'no interface of this host has that address',
};

/** A failed `listen` as one line naming the address (exit 3 when the port is taken, else 2). */
function listenError(err: unknown): CliError | undefined {
  const { code, syscall, address, port } = (err ?? {}) as NodeJS.ErrnoException & {
    address?: string;
    port?: number;
  };
  if (syscall !== 'listen' || !code || !Object.hasOwn(LISTEN_CODES, code)) return undefined;
  return new CliError(
    `cannot listen on ${address}:${port}: ${LISTEN_CODES[code]} (${code}); choose another --port or --host`,
    code === 'EADDRINUSE' ? ExitCode.unavailable : ExitCode.usage,
  );
}

/**
 * Runs `work` with a context, closing the client and store afterwards. The modules it opens are loaded
 * here, when a command runs, not when the program is built: the Temporal client and the store drivers
 * are most of the CLI's start-up, which `--help` and usage errors should not pay.
 */
export async function withContext<T>(
  work: (ctx: CliContext) => Promise<T>,
  /** The service name of the process's traces (src/tracing). @default scrapeflow-cli */
  service?: string,
): Promise<T> {
  const [{ connectClient, temporalAppError }, { loadConfig }, { openStore }] = await Promise.all([
    import('../client/temporal.js'),
    import('../config/env.js'),
    import('../store/index.js'),
  ]);
  const config = loadConfig();
  const store = await openStore(config);
  try {
    const client = await connectClient(config, service ? { service } : {});
    try {
      return await work({ config, client, store });
    } catch (err) {
      throw temporalAppError(err, client) ?? err;
    } finally {
      await client.connection.close();
    }
  } finally {
    await store.close();
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
