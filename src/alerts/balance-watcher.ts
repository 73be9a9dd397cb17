/**
 * Low-balance events from `billing.balance_after` (guide sections 5 and 10): when an account's balance
 * falls below the threshold, one warning and one `account.low_balance` event, then silence until the
 * balance has risen back to the threshold plus a margin (a top-up). The margin absorbs answers of
 * concurrent calls arriving out of order, which would otherwise re-arm and re-fire. State is per account
 * label and per process; the event id (src/events/ids.ts) makes the workers that see one crossing
 * record one event.
 */
import { accountSubject, eventIds } from '../events/ids.js';
import type { EventSink } from '../events/types.js';
import type { Logger } from '../logging/logger.js';

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
  /** Record the event when the balance falls below this many credits. */
  threshold: number;
  logger: Logger;
  events: EventSink;
  /**
   * Credits above the threshold the balance must reach before another crossing records again.
   * @default 10 % of the threshold, at least 1
   */
  rearmMargin?: number;
  /** The clock the event id's hour comes from. @default the system clock */
  now?: () => Date;
}

export function createBalanceWatcher(options: BalanceWatcherOptions): BalanceWatcher {
  const { threshold, events, now = () => new Date() } = options;
  const rearmAt = threshold + (options.rearmMargin ?? Math.max(1, Math.ceil(threshold * 0.1)));
  const log = options.logger.child({ component: 'balance' });
  /** Accounts already reported for the current crossing. */
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
        const draft = {
          id: eventIds.lowBalance(account, threshold, now()),
          type: 'account.low_balance' as const,
          account,
          subject: accountSubject(account),
          data: { account, balance, threshold, batchId },
        };
        // The call that saw it does not wait; a sink that failed re-arms, so the next answer below the
        // threshold records the crossing again.
        events.record([draft]).catch((err: unknown) => {
          alerted.delete(account);
          log.warn({ err, account, id: draft.id }, 'low-balance event not recorded; the next answer retries');
        });
      } else if (balance >= rearmAt && alerted.delete(account)) {
        log.info({ event: 'balance_recovered', account, balance, threshold }, 'OmniScrape balance recovered');
      }
    },
  };
}
