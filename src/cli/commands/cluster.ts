/**
 * `scrapeflow cluster setup`: makes the configured Temporal namespace ready for scrapeflow (the
 * namespace, and every search attribute with its type), against any cluster, connected as every other
 * process is (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TLS, API key, profile: src/temporal/connection.ts).
 * Idempotent: a second run changes nothing and says so.
 */
import { msToNumber } from '@temporalio/common/lib/time.js';
import { Option, type Command } from 'commander';
import { connectClient } from '../../client/temporal.js';
import { loadConfig } from '../../config/env.js';
import { resolveTemporalConnection } from '../../temporal/connection.js';
import { ALL_SEARCH_ATTRIBUTES } from '../../temporal/search-attributes.js';
import { DEFAULT_RETENTION_MS, setUpNamespace } from '../../temporal/setup.js';
import { say, toCliError } from '../context.js';
import { CliError, ExitCode } from '../exit.js';

/** Parses `--retention` (`72h`, `7d`, `1d`) into milliseconds, or fails naming the flag. */
function parseRetention(value: string): number {
  let ms: number;
  try {
    ms = msToNumber(value as Parameters<typeof msToNumber>[0]);
  } catch {
    ms = Number.NaN;
  }
  if (!Number.isFinite(ms) || ms < 3_600_000)
    throw new CliError(
      `--retention must be a duration of at least 1h, such as 24h or 7d (got ${JSON.stringify(value)})`,
      ExitCode.usage,
    );
  return ms;
}

export function registerCluster(program: Command): void {
  const cluster = program.command('cluster').description('prepare a Temporal cluster for scrapeflow');
  cluster
    .command('setup')
    .description(
      "create the namespace (TEMPORAL_NAMESPACE) when missing and register scrapeflow's search attributes; " +
        'exit 3 when an attribute exists with another type',
    )
    .addOption(
      new Option(
        '--retention <duration>',
        'how long a namespace created here keeps closed workflows (an existing one is left as it is)',
      )
        .argParser(parseRetention)
        .default(DEFAULT_RETENTION_MS, `${DEFAULT_RETENTION_MS / 3_600_000}h`),
    )
    .action(async ({ retention }: { retention: number }) => {
      try {
        const config = loadConfig();
        const connection = resolveTemporalConnection(config);
        const client = await connectClient(config, { connection });
        try {
          const { namespace, address } = connection;
          const outcome = await setUpNamespace(client.connection, namespace, address, {
            retentionMs: retention,
          });
          if (outcome.createdNamespace)
            say(`created namespace ${JSON.stringify(namespace)} (retention ${retention / 3_600_000}h)`);
          if (outcome.registered.length)
            say(`registered search attributes: ${outcome.registered.join(', ')}`);
          if (!outcome.createdNamespace && !outcome.registered.length)
            say(
              `nothing to change: namespace ${JSON.stringify(namespace)} exists with all ${ALL_SEARCH_ATTRIBUTES.length} search attributes`,
            );
          else say(`namespace ${JSON.stringify(namespace)} at ${address} is set up for scrapeflow`);
        } finally {
          await client.connection.close();
        }
      } catch (err) {
        throw toCliError(err);
      }
    });
}
