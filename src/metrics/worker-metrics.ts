/**
 * A worker process's Prometheus endpoint, when SCRAPEFLOW_METRICS_PORT is set: our counters plus the
 * Temporal runtime's exporter, which listens on a private loopback port and is read through by our
 * endpoint on each scrape (one page per process). Used by the scrape and the browser worker.
 */
import type { Registry } from 'prom-client';
import type { Config } from '../config/env.js';
import type { Logger } from '../logging/logger.js';
import { createRegistry, httpSource } from './registry.js';
import { freePort, startMetricsServer, type RunningMetricsServer } from './server.js';

export interface WorkerMetrics {
  registry: Registry;
  /** Where the Temporal runtime's exporter must bind (pass to `installRuntime`). */
  runtimeAddress: string;
  /** Starts the process's endpoint, once the runtime is installed. */
  serve(logger: Logger): Promise<RunningMetricsServer>;
}

/** Undefined when metrics are off (SCRAPEFLOW_METRICS_PORT unset). */
export async function prepareWorkerMetrics(
  config: Pick<Config, 'SCRAPEFLOW_METRICS_PORT' | 'SCRAPEFLOW_METRICS_HOST'>,
): Promise<WorkerMetrics | undefined> {
  if (config.SCRAPEFLOW_METRICS_PORT === undefined) return undefined;
  const registry = createRegistry();
  const runtimeAddress = `127.0.0.1:${await freePort()}`;
  return {
    registry,
    runtimeAddress,
    serve: (logger) =>
      startMetricsServer({
        registry,
        sources: [httpSource(`http://${runtimeAddress}/metrics`)],
        host: config.SCRAPEFLOW_METRICS_HOST,
        port: config.SCRAPEFLOW_METRICS_PORT ?? 0,
        logger,
      }),
  };
}
