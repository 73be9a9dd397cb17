/**
 * Low-balance alerting from `billing.balance_after` (guide sections 5 and 10): when an account's
 * balance falls below the threshold, one warning and one alert, then silence until the balance has
 * risen back to the threshold plus a margin (a top-up). The margin absorbs answers of concurrent calls
 * arriving out of order, which would otherwise re-arm and re-fire the alert. State is per account label
 * and per process.
 */
import type { Logger } from '../logging/logger.js';
import type { AlertSender } from './webhook.js';

export interface BalanceObservation {
  /** The OmniScrape account label (never the key). */
  account: string;
  batchId: string;
}

export interface BalanceWatcher {
  /** Called after each OmniScrape call that reported `balance_after`; never throws, never waits. */
  observe(balance: number, context: BalanceObservation): void;
}

export interface BalanceWatcherOptions {
  /** Alert when the balance falls below this many credits. */
  threshold: number;
  logger: Logger;
  alerts: AlertSender;
  /**
   * Credits above the threshold the balance must reach before another crossing alerts again.
   * @default 10 % of the threshold, at least 1
   */
  rearmMargin?: number;
}

export function createBalanceWatcher(options: BalanceWatcherOptions): BalanceWatcher {
  const { threshold, alerts } = options;
  const rearmAt = threshold + (options.rearmMargin ?? Math.max(1, Math.ceil(threshold * 0.1)));
  const log = options.logger.child({ component: 'balance' });
  /** Accounts already alerted for the current crossing. */
  const alerted = new Set<string>();
  return {
    observe(balance, { account, batchId }) {
      if (balance < threshold) {
        if (alerted.has(account)) return;
        alerted.add(account);
        log.warn(
          { event: 'low_balance', account, balance, threshold, batchId },
          `OmniScrape balance ${balance} is below ${threshold} credits`,
        );
        alerts.send('low_balance', { account, balance, threshold, batchId });
      } else if (balance >= rearmAt && alerted.delete(account)) {
        log.info({ event: 'balance_recovered', account, balance, threshold }, 'OmniScrape balance recovered');
      }
    },
  };
}
