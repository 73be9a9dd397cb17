/**
 * The webhooks of a workflows worker process: the dispatcher over the store's outbox, with the settings
 * of the environment, and its metrics on the process's registry.
 */
import type { Registry } from 'prom-client';
import type { Config } from '../config/env.js';
import type { Logger } from '../logging/logger.js';
import { createWebhookMetrics } from '../metrics/webhook-metrics.js';
import { startDispatcher, type Dispatcher } from './dispatcher.js';
import { parseRetryDelays } from './schedule.js';
import { AllowList } from './ssrf.js';
import { webhookStoreOf } from './store.js';

/** Dispatchers of this process: a sink that records an event wakes them (no wait for the next poll). */
export const localDispatchers = new Set<Dispatcher>();

export type WebhookSettings = Pick<
  Config,
  'SCRAPEFLOW_WEBHOOK_ALLOW_HOSTS' | 'SCRAPEFLOW_WEBHOOK_MAX_IN_FLIGHT' | 'SCRAPEFLOW_WEBHOOK_RETRY_DELAYS'
>;

export function startWebhookDispatcher(deps: {
  config: WebhookSettings;
  store: object;
  logger: Logger;
  registry?: Registry;
  /** How often an idle dispatcher looks for due deliveries, ms. @default 1000 */
  pollMs?: number;
}): Dispatcher | undefined {
  const store = webhookStoreOf(deps.store);
  if (!store) return undefined;
  const metrics = deps.registry ? createWebhookMetrics(deps.registry, store) : undefined;
  const dispatcher = startDispatcher({
    store,
    logger: deps.logger,
    allow: new AllowList(deps.config.SCRAPEFLOW_WEBHOOK_ALLOW_HOSTS),
    retryDelays: parseRetryDelays(deps.config.SCRAPEFLOW_WEBHOOK_RETRY_DELAYS),
    maxInFlight: deps.config.SCRAPEFLOW_WEBHOOK_MAX_IN_FLIGHT,
    ...(deps.pollMs !== undefined ? { pollMs: deps.pollMs } : {}),
    ...('dataDir' in deps.store ? { fsDataDir: deps.store.dataDir as string } : {}),
    ...(metrics ? { onTry: metrics.onTry } : {}),
  });
  localDispatchers.add(dispatcher);
  return {
    wake: () => dispatcher.wake(),
    async stop() {
      localDispatchers.delete(dispatcher);
      await dispatcher.stop();
    },
  };
}
