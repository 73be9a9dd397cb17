import type { Command } from 'commander';
import type { LocalApiFlags } from '../../local-api/index.js';
import { CliError, ExitCode } from '../../../src/cli/exit.js';
import { untilSignal } from '../../../src/cli/signals.js';

/** `scrapeflow local-api`: the OmniScrape-compatible local API, until SIGINT or SIGTERM. */
export function registerLocalApi(program: Command): void {
  // No commander defaults here: an absent flag must stay undefined so that optionsFromFlags can apply
  // flag > config file > default.
  program
    .command('local-api')
    .description('run the OmniScrape-compatible local API (real fetches and Chromium renders)')
    .option('--port <port>', 'TCP port, over the config file (default 0: a free one)')
    .option('--host <host>', 'interface to listen on, over the config file (default 127.0.0.1)')
    .option('--config <file>', 'JSON config file: accounts, faults, limits')
    .option('--key <key>', 'API key of a single quick account named cli')
    .option('--balance <credits>', 'balance of the --key account (default 1000)')
    .option('--concurrency <n>', 'concurrency limit of the --key account (default 5)')
    .option('--admin-token <token>', 'bearer token that enables /admin/*')
    .option('--state-file <file>', 'keep balances, counters and charges in this file across restarts')
    .action(async (flags: LocalApiFlags) => {
      const [{ ConfigError, optionsFromFlags, startLocalApi }, { createLogger }] = await Promise.all([
        import('../../local-api/index.js'),
        import('../../../src/logging/logger.js'),
      ]);
      let options;
      try {
        options = await optionsFromFlags(flags);
      } catch (err) {
        if (err instanceof ConfigError) throw new CliError(err.message, ExitCode.usage);
        throw err;
      }
      const logger = createLogger({ name: 'local-api' });
      const api = await startLocalApi({ ...options, logger });
      try {
        process.stdout.write(`local-api listening on ${api.url}\n`);
        const signal = await untilSignal();
        logger.info({ signal }, 'local API shutting down');
      } finally {
        await api.close();
      }
    });
}
