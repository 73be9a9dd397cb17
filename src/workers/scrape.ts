/**
 * The scrape worker process (`scrapeflow worker --queue scrape`). It serves two task queues over one
 * connection:
 *   - `scrape`: the OmniScrape HTTP activities. Its activity slots (OMNISCRAPE_CONCURRENCY, the plan's
 *     limit) are the account-wide semaphore: every batch's calls pass through them.
 *   - `scrapeflow`: the batch and page workflows and their bookkeeping activities, so that store
 *     reads and writes never take an OmniScrape slot.
 * On SIGTERM/SIGINT both workers drain: in-flight activities finish, nothing new is polled.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { Client } from '@temporalio/client';
import type { Config } from '../config/env.js';
import type { Logger } from '../logging/logger.js';
import { OmniScrapeClient } from '../omniscrape/client.js';
import type { ResultStore } from '../store/types.js';
import { createControlActivities } from '../activities/control.js';
import { createScrapeActivities, type PageNotifier, type OmniScrapeApi } from '../activities/scrape.js';
import { rateLimitedSignal } from '../workflows/definitions.js';
import { TASK_QUEUES } from '../workflows/types.js';
import { createAlerts, type Alerts } from '../alerts/index.js';
import { dataConverterFromConfig } from '../codec/data-converter.js';
import { createScrapeMetrics, type ScrapeMetrics } from '../metrics/scrape-metrics.js';
import { prepareWorkerMetrics } from '../metrics/worker-metrics.js';
import { installRuntime } from './runtime.js';

const BUNDLE = fileURLToPath(new URL('../../workflow-bundle.js', import.meta.url));
const WORKFLOWS = fileURLToPath(new URL('../workflows/index.js', import.meta.url));

/** The workflow code: the bundle prebuilt by `npm run build`, or the sources bundled at start. */
export function workflowSource(): { workflowBundle: { codePath: string } } | { workflowsPath: string } {
  return existsSync(BUNDLE) ? { workflowBundle: { codePath: BUNDLE } } : { workflowsPath: WORKFLOWS };
}

/** Tells the page workflow whose call met a 429 (its adaptive window shrinks under sustained 429s). */
export function temporalNotifier(client: Client, logger: Logger): PageNotifier {
  return {
    async rateLimited(workflowId) {
      try {
        await client.workflow.getHandle(workflowId).signal(rateLimitedSignal);
      } catch (err) {
        logger.debug({ err, workflowId }, 'page did not take the rate-limit signal');
      }
    },
  };
}

export interface ScrapeWorkerDeps {
  config: Config;
  logger: Logger;
  store: ResultStore;
  client: Client;
  /** Injected in tests; built from the config otherwise. */
  api?: OmniScrapeApi & { close?(): Promise<void> };
}

export interface RunningWorker {
  /** Resolves when both workers have stopped. */
  done: Promise<void>;
  /** Drains and stops. */
  shutdown(): Promise<void>;
  /** The Prometheus endpoint, when SCRAPEFLOW_METRICS_PORT is set. */
  metricsUrl?: string;
  /** `sendAlert('paused', {...})` and friends, for whatever runs in this process. */
  alerts: Alerts;
}

export async function startScrapeWorker(deps: ScrapeWorkerDeps): Promise<RunningWorker> {
  const { config, logger, store, client } = deps;
  const dataConverter = dataConverterFromConfig(config); // a bad key fails here, before anything starts
  const prepared = await prepareWorkerMetrics(config);
  const metrics: ScrapeMetrics | undefined = prepared ? createScrapeMetrics(prepared.registry) : undefined;
  installRuntime(logger, prepared ? { prometheusBindAddress: prepared.runtimeAddress } : {});
  const alerts = createAlerts(config, logger, metrics ? { onResult: (k, r) => metrics.alert(k, r) } : {});
  let api = deps.api;
  if (!api) {
    if (!config.OMNISCRAPE_KEY)
      throw new Error('OMNISCRAPE_KEY is required: the scrape worker calls OmniScrape with it');
    api = new OmniScrapeClient({
      baseUrl: config.OMNISCRAPE_API_URL,
      apiKey: config.OMNISCRAPE_KEY,
      connections: Math.max(config.OMNISCRAPE_CONCURRENCY, 20),
    });
  }
  const connection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
  const common = {
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    shutdownGraceTime: '30 seconds',
    dataConverter,
  } as const;
  const controlWorker = await Worker.create({
    ...common,
    taskQueue: TASK_QUEUES.control,
    ...workflowSource(),
    activities: createControlActivities({ store, logger, client, sendAlert: alerts.sendAlert }),
  });
  const scrapeWorker = await Worker.create({
    ...common,
    taskQueue: TASK_QUEUES.scrape,
    activities: createScrapeActivities({
      api,
      store,
      logger,
      notifier: temporalNotifier(client, logger),
      ...(metrics ? { metrics } : {}),
      ...(alerts.balanceWatcher ? { balanceWatcher: alerts.balanceWatcher } : {}),
    }),
    maxConcurrentActivityTaskExecutions: config.OMNISCRAPE_CONCURRENCY,
  });
  const metricsServer = await prepared?.serve(logger);
  logger.info(
    {
      queues: [TASK_QUEUES.control, TASK_QUEUES.scrape],
      concurrency: config.OMNISCRAPE_CONCURRENCY,
      api: config.OMNISCRAPE_API_URL,
      ...(metricsServer ? { metrics: metricsServer.url } : {}),
      encrypted: Boolean(common.dataConverter.payloadCodecs?.length),
      lowBalanceThreshold: config.LOW_BALANCE_THRESHOLD ?? null,
    },
    'scrape worker started',
  );
  const done = Promise.all([controlWorker.run(), scrapeWorker.run()]).then(async () => {
    await api.close?.();
    await connection.close();
    await alerts.close();
    await metricsServer?.close();
    logger.info('scrape worker stopped');
  });
  return {
    done,
    alerts,
    ...(metricsServer ? { metricsUrl: metricsServer.url } : {}),
    async shutdown() {
      for (const w of [controlWorker, scrapeWorker]) if (w.getState() === 'RUNNING') w.shutdown();
      await done;
    },
  };
}
