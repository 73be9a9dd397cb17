/**
 * Process-wide Temporal runtime set-up for worker processes: the SDK's own logs go to our pino logger,
 * and, when asked, the runtime's metrics go to a Prometheus exporter (installed once, before any worker
 * or connection is created).
 */
import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';
import type { Logger } from '../logging/logger.js';

export interface RuntimeOptions {
  /**
   * Where the Temporal runtime's Prometheus exporter listens, `host:port` (it serves `/metrics`).
   * @default no exporter
   */
  prometheusBindAddress?: string;
}

let installed = false;

export function installRuntime(logger: Logger, options: RuntimeOptions = {}): void {
  if (installed) return;
  installed = true;
  const sdk = logger.child({ component: 'temporal-sdk' });
  const level = (process.env.TEMPORAL_LOG_LEVEL ?? 'WARN') as LogLevel;
  Runtime.install({
    logger: new DefaultLogger(level, (entry) => {
      const method =
        entry.level === 'ERROR'
          ? 'error'
          : entry.level === 'WARN'
            ? 'warn'
            : entry.level === 'INFO'
              ? 'info'
              : 'debug';
      sdk[method]({ ...entry.meta }, entry.message);
    }),
    telemetryOptions: {
      // Core's native logs go through the logger above too, instead of straight to the console.
      logging: { filter: { core: level, other: level }, forward: {} },
      ...(options.prometheusBindAddress
        ? {
            metrics: {
              prometheus: { bindAddress: options.prometheusBindAddress, countersTotalSuffix: true },
            },
          }
        : {}),
    },
  });
}
