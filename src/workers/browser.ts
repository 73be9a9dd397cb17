/**
 * The browser worker process (`scrapeflow worker --queue browser`): serves task queue `browser` only,
 * the BaaS sessions of URLs whose batch has `steps`. It runs no workflows (they run on the `scrapeflow`
 * queue of the scrape worker), and no browser session ever runs in the HTTP service or on `scrape`.
 *
 * - Sessions at once: `BAAS_CONCURRENCY` (default 2), the worker's activity slots.
 * - BaaS endpoint: `OMNISCRAPE_BROWSER_URL`, or derived from `OMNISCRAPE_API_URL`: same host and port,
 *   `ws:` for `http:` and `wss:` for `https:`, path `/browser` (the local API's shape; for the hosted API
 *   set `OMNISCRAPE_BROWSER_URL=wss://browser.omniscrape.io`).
 * - SIGTERM/SIGINT drain: nothing new is polled, sessions in flight get up to 2 minutes to finish.
 */
import { NativeConnection, Worker } from '@temporalio/worker';
import type { Client } from '@temporalio/client';
import type { Config } from '../config/env.js';
import type { Logger } from '../logging/logger.js';
import type { ResultStore } from '../store/types.js';
import { createBrowserActivities } from '../activities/browser.js';
import { dataConverterFromConfig } from '../codec/data-converter.js';
import { TASK_QUEUES } from '../workflows/types.js';
import { prepareWorkerMetrics } from '../metrics/worker-metrics.js';
import { redactSecrets } from '../omniscrape/errors.js';
import { installRuntime } from './runtime.js';
import { temporalNotifier, type RunningWorker } from './scrape.js';

/** The BaaS WebSocket base: `OMNISCRAPE_BROWSER_URL`, or `ws(s)://<host of OMNISCRAPE_API_URL>/browser`. */
export function browserUrlFrom(
  config: Pick<Config, 'OMNISCRAPE_BROWSER_URL' | 'OMNISCRAPE_API_URL'>,
): string {
  if (config.OMNISCRAPE_BROWSER_URL) return config.OMNISCRAPE_BROWSER_URL;
  const api = new URL(config.OMNISCRAPE_API_URL);
  return `${api.protocol === 'https:' ? 'wss:' : 'ws:'}//${api.host}/browser`;
}

export interface BrowserWorkerDeps {
  config: Config;
  logger: Logger;
  store: ResultStore;
  client: Client;
}

export async function startBrowserWorker(deps: BrowserWorkerDeps): Promise<Omit<RunningWorker, 'alerts'>> {
  const { config, logger, store, client } = deps;
  if (!config.OMNISCRAPE_KEY)
    throw new Error('OMNISCRAPE_KEY is required: the browser worker opens BaaS sessions with it');
  const dataConverter = dataConverterFromConfig(config);
  const prepared = await prepareWorkerMetrics(config);
  installRuntime(logger, prepared ? { prometheusBindAddress: prepared.runtimeAddress } : {});
  const browserUrl = browserUrlFrom(config);
  const connection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
  const worker = await Worker.create({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    dataConverter,
    taskQueue: TASK_QUEUES.browser,
    activities: createBrowserActivities({
      store,
      logger,
      browserUrl,
      apiKey: config.OMNISCRAPE_KEY,
      notifier: temporalNotifier(client, logger),
    }),
    maxConcurrentActivityTaskExecutions: config.BAAS_CONCURRENCY,
    shutdownGraceTime: '2 minutes',
  });
  const metricsServer = await prepared?.serve(logger);
  logger.info(
    {
      queues: [TASK_QUEUES.browser],
      concurrency: config.BAAS_CONCURRENCY,
      browserUrl: redactSecrets(browserUrl),
      ...(metricsServer ? { metrics: metricsServer.url } : {}),
    },
    'browser worker started',
  );
  const done = worker.run().then(async () => {
    await connection.close();
    await metricsServer?.close();
    logger.info('browser worker stopped');
  });
  return {
    done,
    ...(metricsServer ? { metricsUrl: metricsServer.url } : {}),
    async shutdown() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await done;
    },
  };
}
