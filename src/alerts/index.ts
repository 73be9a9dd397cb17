/**
 * Alerts of one process: the webhook sender and the low-balance watcher, built from the configuration.
 * `sendAlert` is what other code (pause handling) calls.
 */
import type { Config } from '../config/env.js';
import type { Logger } from '../logging/logger.js';
import { createBalanceWatcher, type BalanceWatcher } from './balance-watcher.js';
import { createAlertSender, type AlertKind, type AlertPayload, type AlertSenderOptions } from './webhook.js';

/** Sends an alert without waiting: `sendAlert('paused', { reason: 'balance', account, batchId })`. */
export type SendAlert = (kind: AlertKind, payload: AlertPayload) => void;

export interface Alerts {
  sendAlert: SendAlert;
  /** Present when LOW_BALANCE_THRESHOLD is set. */
  balanceWatcher?: BalanceWatcher;
  close(timeoutMs?: number): Promise<void>;
}

export function createAlerts(
  config: Pick<Config, 'ALERT_WEBHOOK_URL' | 'LOW_BALANCE_THRESHOLD'>,
  logger: Logger,
  options: Partial<Omit<AlertSenderOptions, 'url' | 'logger'>> = {},
): Alerts {
  const sender = createAlertSender({
    ...options,
    ...(config.ALERT_WEBHOOK_URL ? { url: config.ALERT_WEBHOOK_URL } : {}),
    logger,
  });
  const balanceWatcher =
    config.LOW_BALANCE_THRESHOLD === undefined
      ? undefined
      : createBalanceWatcher({ threshold: config.LOW_BALANCE_THRESHOLD, logger, alerts: sender });
  return {
    sendAlert: (kind, payload) => sender.send(kind, payload),
    ...(balanceWatcher ? { balanceWatcher } : {}),
    close: (timeoutMs) => sender.close(timeoutMs),
  };
}
