import { Option, type Command } from 'commander';
import { loadConfig } from '../../config/env.js';
import { createLogger } from '../../logging/logger.js';
import { openStore } from '../../store/index.js';
import { connectClient } from '../../client/temporal.js';
import { startScrapeWorker } from '../../workers/scrape.js';
import { startBrowserWorker } from '../../workers/browser.js';
import { untilSignal } from '../signals.js';

export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description(
      'run a worker process for one task queue (scrape: OmniScrape HTTP calls and the workflows; browser: BaaS sessions)',
    )
    .addOption(
      new Option('--queue <queue>', 'task queue to serve')
        .choices(['scrape', 'browser'])
        .makeOptionMandatory(),
    )
    .action(async ({ queue }: { queue: 'scrape' | 'browser' }) => {
      const config = loadConfig();
      const logger = createLogger({ name: `${queue}-worker` });
      const store = await openStore(config);
      const client = await connectClient(config);
      try {
        const worker =
          queue === 'browser'
            ? await startBrowserWorker({ config, logger, store, client })
            : await startScrapeWorker({ config, logger, store, client });
        await Promise.race([worker.done, untilSignal().then(() => worker.shutdown())]);
      } finally {
        await client.connection.close();
        await store.close();
      }
    });
}
