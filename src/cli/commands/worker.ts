import { Option, type Command } from 'commander';
import { parseRoles, WORKER_ROLES, type WorkerRole } from '../../workers/roles.js';
import { withContext } from '../context.js';
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
    .action(({ queue: roles }: { queue: WorkerRole[] }) =>
      withContext(
        async ({ config, client, store }) => {
          const [{ createLogger }, { startWorkers }] = await Promise.all([
            import('../../logging/logger.js'),
            import('../../workers/process.js'),
          ]);
          const logger = createLogger({ name: `${roles.join('-')}-worker` });
          const worker = await startWorkers({ config, logger, store, client, roles });
          await Promise.race([worker.done, untilSignal().then(() => worker.shutdown())]);
        },
        `scrapeflow-worker-${roles.join('-')}`,
      ),
    );
}
