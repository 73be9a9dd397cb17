/**
 * The `scrape` role (`scrapeflow worker --queue scrape`): serves task queue `scrape` only, the
 * OmniScrape HTTP activities. Its activity slots (OMNISCRAPE_CONCURRENCY, the plan's limit) are the
 * account-wide semaphore: every batch's calls pass through them. The workflows that schedule these
 * calls run on the `workflows` role. On shutdown, in-flight calls finish and nothing new is polled.
 */
import { Worker } from '@temporalio/worker';
import { OmniScrapeClient } from '../omniscrape/client.js';
import { createScrapeActivities } from '../activities/scrape.js';
import { TASK_QUEUES } from '../workflows/types.js';
import { temporalNotifier, type RoleDefinition } from './role.js';

export const scrapeRole: RoleDefinition = {
  require(config, deps) {
    if (!deps.api && !config.OMNISCRAPE_KEY)
      throw new Error('OMNISCRAPE_KEY is required: the scrape worker calls OmniScrape with it');
  },
  async start({ config, connection, namespace, dataConverter, store, logger, client, alerts, metrics, api }) {
    const omniscrape =
      api ??
      new OmniScrapeClient({
        baseUrl: config.OMNISCRAPE_API_URL,
        apiKey: config.OMNISCRAPE_KEY ?? '',
        connections: Math.max(config.OMNISCRAPE_CONCURRENCY, 20),
      });
    const worker = await Worker.create({
      connection,
      namespace,
      dataConverter,
      taskQueue: TASK_QUEUES.scrape,
      activities: createScrapeActivities({
        api: omniscrape,
        store,
        logger,
        notifier: temporalNotifier(client, logger),
        ...(metrics ? { metrics } : {}),
        ...(alerts.balanceWatcher ? { balanceWatcher: alerts.balanceWatcher } : {}),
      }),
      maxConcurrentActivityTaskExecutions: config.OMNISCRAPE_CONCURRENCY,
      shutdownGraceTime: '30 seconds',
    });
    return {
      workers: [worker],
      info: {
        queues: [TASK_QUEUES.scrape],
        concurrency: config.OMNISCRAPE_CONCURRENCY,
        api: config.OMNISCRAPE_API_URL,
        lowBalanceThreshold: config.LOW_BALANCE_THRESHOLD ?? null,
      },
      close: async () => {
        await omniscrape.close?.();
      },
    };
  },
};
