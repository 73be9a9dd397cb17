/**
 * The `scrape` role (`scrapeflow worker --queue scrape`): serves task queue `scrape` only, the
 * OmniScrape HTTP activities. Each call goes out under the batch's account (src/config/accounts.ts):
 * that account's key, and a permit of that account's plan, one per call, not this worker's slots. With
 * SCRAPEFLOW_DATABASE_URL set the permits are leases in PostgreSQL shared by every scrape worker of the
 * deployment, else a semaphore in this process, the one scrape worker the filesystem store lets run
 * (src/omniscrape/shared-permits.ts). The slots (SCRAPEFLOW_SCRAPE_SLOTS, default twice the
 * plans of all its accounts together, as a batch's default window is twice its plan) only say how many
 * tasks this worker takes at once, so one worker can keep every account's plan busy and adding workers
 * never divides a plan. The workflows that schedule these calls run on the `workflows` role. On
 * shutdown, in-flight calls finish and nothing new is polled; the leases go last.
 */
import { Worker } from '@temporalio/worker';
import { createScrapeActivities } from '../activities/scrape.js';
import { createMonitorSitemapActivities } from '../activities/monitors.js';
import { monitorSitemapReader } from './sitemap-reader.js';
import { TASK_QUEUES } from '../workflows/types.js';
import { openSharedPermits } from '../omniscrape/shared-permits.js';
import { AccountClients } from '../omniscrape/accounts.js';
import { temporalNotifier, type RoleDefinition } from './role.js';
import { WINDOW_PER_PLAN } from '../batch/defaults.js';
import { ConfigError } from '../errors.js';

export const scrapeRole: RoleDefinition = {
  require(_config, { api, accounts }) {
    if (!api && accounts.size === 0)
      throw new ConfigError(
        'OMNISCRAPE_KEY or SCRAPEFLOW_ACCOUNTS_FILE is required: the scrape worker calls OmniScrape with their keys',
        'set one of them in the environment of this worker',
      );
  },
  async start({
    config,
    connection,
    namespace,
    dataConverter,
    store,
    logger,
    client,
    balanceWatcher,
    metrics,
    api,
    accounts,
    tracing,
  }) {
    const plans = accounts.list().reduce((sum, a) => sum + a.plan, 0);
    const slots = config.SCRAPEFLOW_SCRAPE_SLOTS ?? WINDOW_PER_PLAN * Math.max(plans, 1);
    const shared = await openSharedPermits({
      resource: 'plan',
      accounts,
      databaseUrl: config.SCRAPEFLOW_DATABASE_URL,
      store,
      onError: (err, what) => logger.warn({ err, event: 'plan_permits' }, `plan permits: ${what}`),
    });
    const { permits } = shared;
    const omniscrape =
      api ??
      new AccountClients(accounts, {
        baseUrl: config.OMNISCRAPE_API_URL,
        connections: Math.max(slots, 20),
      });
    const created = Worker.create({
      connection,
      namespace,
      dataConverter,
      taskQueue: TASK_QUEUES.scrape,
      activities: {
        ...createScrapeActivities({
          api: omniscrape,
          store,
          logger,
          notifier: temporalNotifier(client, logger),
          permits,
          ...(metrics ? { metrics } : {}),
          ...(balanceWatcher ? { balanceWatcher } : {}),
          ...(tracing ? { tracing } : {}),
        }),
        // A sitemap monitor's run reads its sitemap here, where the keys are.
        ...createMonitorSitemapActivities({
          store,
          logger,
          sitemapReader: monitorSitemapReader({ config, logger, api: omniscrape, permits }),
        }),
      },
      ...tracing?.workerOptions,
      maxConcurrentActivityTaskExecutions: slots,
      shutdownGraceTime: '30 seconds',
    });
    const worker = await created.catch(async (err: unknown) => {
      await shared.close();
      throw err;
    });
    return {
      workers: [worker],
      info: {
        queues: [TASK_QUEUES.scrape],
        // Each account's plan; never its key.
        plans: Object.fromEntries(accounts.list().map((a) => [a.name, a.plan])),
        slots,
        permits: shared.where,
        api: config.OMNISCRAPE_API_URL,
        lowBalanceThreshold: config.LOW_BALANCE_THRESHOLD ?? null,
      },
      close: async () => {
        await omniscrape.close?.();
        await shared.close();
      },
    };
  },
};
