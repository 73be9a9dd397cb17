/**
 * The `scrape` role (`scrapeflow worker --queue scrape`): serves task queue `scrape` only, the
 * OmniScrape HTTP activities. The plan (OMNISCRAPE_PLAN_CONCURRENCY) is held by permits, one per call,
 * not by this worker's slots: with SCRAPEFLOW_DATABASE_URL set they are leases in PostgreSQL shared by
 * every scrape worker of the deployment, else a semaphore in this process. The slots
 * (SCRAPEFLOW_SCRAPE_SLOTS, default twice the plan, as a batch's default window) only say how many
 * tasks this worker takes at once, so one worker can keep the whole plan busy and adding workers never
 * divides it. The workflows that
 * schedule these calls run on the `workflows` role. On shutdown, in-flight calls finish and nothing new
 * is polled; the leases go last.
 */
import { Worker } from '@temporalio/worker';
import { OmniScrapeClient } from '../omniscrape/client.js';
import { createScrapeActivities } from '../activities/scrape.js';
import { TASK_QUEUES } from '../workflows/types.js';
import { LocalPermits, type PlanPermits } from '../omniscrape/permits.js';
import { PgPermits } from '../omniscrape/pg-permits.js';
import { temporalNotifier, type RoleDefinition } from './role.js';
import { WINDOW_PER_PLAN } from '../batch/options.js';

export const scrapeRole: RoleDefinition = {
  require(config, deps) {
    if (!deps.api && !config.OMNISCRAPE_KEY)
      throw new Error('OMNISCRAPE_KEY is required: the scrape worker calls OmniScrape with it');
  },
  async start({ config, connection, namespace, dataConverter, store, logger, client, alerts, metrics, api }) {
    const plan = config.OMNISCRAPE_PLAN_CONCURRENCY;
    const slots = config.SCRAPEFLOW_SCRAPE_SLOTS ?? WINDOW_PER_PLAN * plan;
    const permits: PlanPermits = config.SCRAPEFLOW_DATABASE_URL
      ? await PgPermits.open({
          connectionString: config.SCRAPEFLOW_DATABASE_URL,
          limit: plan,
          onError: (err, what) => logger.warn({ err, event: 'plan_permits' }, `plan permits: ${what}`),
        })
      : new LocalPermits(plan);
    const omniscrape =
      api ??
      new OmniScrapeClient({
        baseUrl: config.OMNISCRAPE_API_URL,
        apiKey: config.OMNISCRAPE_KEY ?? '',
        connections: Math.max(slots, 20),
      });
    const created = Worker.create({
      connection,
      namespace,
      dataConverter,
      taskQueue: TASK_QUEUES.scrape,
      activities: createScrapeActivities({
        api: omniscrape,
        store,
        logger,
        notifier: temporalNotifier(client, logger),
        permits,
        ...(metrics ? { metrics } : {}),
        ...(alerts.balanceWatcher ? { balanceWatcher: alerts.balanceWatcher } : {}),
      }),
      maxConcurrentActivityTaskExecutions: slots,
      shutdownGraceTime: '30 seconds',
    });
    const worker = await created.catch(async (err: unknown) => {
      await permits.close();
      throw err;
    });
    return {
      workers: [worker],
      info: {
        queues: [TASK_QUEUES.scrape],
        concurrency: plan,
        slots,
        permits: permits instanceof PgPermits ? 'postgres' : 'process',
        api: config.OMNISCRAPE_API_URL,
        lowBalanceThreshold: config.LOW_BALANCE_THRESHOLD ?? null,
      },
      close: async () => {
        await omniscrape.close?.();
        await permits.close();
      },
    };
  },
};
