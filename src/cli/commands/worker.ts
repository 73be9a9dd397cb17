import { Option, type Command } from 'commander';
import { loadConfig } from '../../config/env.js';
import { createLogger } from '../../logging/logger.js';
import { openStore } from '../../store/index.js';
import { connectClient } from '../../client/temporal.js';
import { parseRoles, startWorkers, WORKER_ROLES, type WorkerRole } from '../../workers/process.js';
import { toCliError } from '../context.js';
import { CliError, ExitCode } from '../exit.js';
import { untilSignal } from '../signals.js';

function rolesFlag(value: string): WorkerRole[] {
  try {
    return parseRoles(value);
  } catch (err) {
    throw new CliError((err as Error).message, ExitCode.usage);
  }
}

/**
 * `scrapeflow worker --queue <roles>`: a worker process for one role, several (`workflows,scrape`) or
 * `all` (what `scrapeflow dev` runs). Exits 3 naming `scrapeflow cluster setup` when the namespace is
 * not set up, before polling anything.
 */
export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description(
      'run a worker process: workflows (batch and page workflows, store bookkeeping), scrape (OmniScrape ' +
        'HTTP calls within the plan, OMNISCRAPE_PLAN_CONCURRENCY account-wide), browser (BaaS sessions); several as a comma list, or all',
    )
    .addOption(
      new Option('--queue <roles>', `${WORKER_ROLES.join(' | ')}, a comma list of them, or all`)
        .argParser(rolesFlag)
        .makeOptionMandatory(),
    )
    .action(async ({ queue: roles }: { queue: WorkerRole[] }) => {
      try {
        const config = loadConfig();
        const logger = createLogger({ name: `${roles.join('-')}-worker` });
        const store = await openStore(config);
        try {
          const client = await connectClient(config);
          try {
            const worker = await startWorkers({ config, logger, store, client, roles });
            await Promise.race([worker.done, untilSignal().then(() => worker.shutdown())]);
          } finally {
            await client.connection.close();
          }
        } finally {
          await store.close();
        }
      } catch (err) {
        throw toCliError(err);
      }
    });
}
