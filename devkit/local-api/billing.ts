/**
 * What a scrape costs and when it is charged.
 *
 * ## Cost table (credits)
 * | what ran                          | price |
 * | --------------------------------- | ----- |
 * | `fast` (plain HTTP fetch)         | 1     |
 * | `js_rendering` (Chromium)         | 5     |
 * | the challenge solver, when used   | +10   |
 * | any `success: false` result       | 0     |
 * | a browser (BaaS) session          | 10    |
 *
 * `auto` is charged for what finally ran: 1 when the fast fetch was enough, 5 (+10 with the solver) when
 * it escalated to rendering; the fast attempt before an escalation is free.
 *
 * ## When the balance is checked
 * Before any work, the request reserves the price of the cheapest method it can run (fast for `auto` and
 * `fast`, rendering for `js_rendering`); 402 when the balance minus what other requests in flight hold
 * cannot cover it. When `auto` escalates to rendering the reservation is raised to the rendering price
 * first, 402 when it cannot be. What a reservation holds is charged in full: work that was accepted is
 * paid at its price (a BaaS session's client notes the session price, it gets no bill to read). The
 * solver extra, beyond the hold, is capped at what is left: the balance never goes below zero. For the
 * same reason an operator cannot set a balance below what work in flight holds (`setBalance`).
 *
 * ## When the charge is committed
 * A sync scrape is charged when its response is delivered: if the client went away before the response
 * was written (a worker killed with `kill -9`, an aborted request), nothing is charged, and a charge whose
 * response could not be written is refunded. This is what lets a caller that retries after a crash prove
 * that nothing was charged twice. An async job is charged when it completes, and the charge appears in
 * the job's `billing`.
 */
import { PRICES } from '../../src/omniscrape/prices.js';
import type { MethodUsed, ScrapeMode } from '../../src/omniscrape/types.js';
import type { Account } from './accounts.js';

/** OmniScrape's prices (one table for the product and this double: src/omniscrape/prices.ts). */
export const COST_TABLE = PRICES;

/** The price of a successful scrape by what ran. */
export function priceOf(method: MethodUsed, solverUsed: boolean): number {
  return COST_TABLE[method] + (solverUsed ? COST_TABLE.solver : 0);
}

/** The price of the cheapest method a mode can run: what must be available before any work. */
export function cheapestPrice(mode: ScrapeMode): number {
  return mode === 'js_rendering' ? COST_TABLE.js_rendering : COST_TABLE.fast;
}

/** Credits held for one piece of work until it is committed or released. */
export class Reservation {
  #held: number;
  #done = false;

  private constructor(
    readonly account: Account,
    held: number,
  ) {
    this.#held = held;
  }

  /** Holds `amount` credits, or returns undefined when the account cannot cover them. */
  static take(account: Account, amount: number): Reservation | undefined {
    if (account.balance - account.reserved < amount) return undefined;
    account.reserved += amount;
    return new Reservation(account, amount);
  }

  /** Raises the hold to `amount` credits; false (hold unchanged) when the account cannot cover it. */
  raiseTo(amount: number): boolean {
    const extra = amount - this.#held;
    if (extra <= 0) return true;
    if (this.account.balance - this.account.reserved < extra) return false;
    this.account.reserved += extra;
    this.#held = amount;
    return true;
  }

  /**
   * Charges `price` and drops the hold: the held part in full, anything beyond it capped at what the
   * account has free. Returns what was charged.
   */
  commit(price: number): { charged: number; balanceAfter: number } {
    const held = this.#done ? 0 : this.#held;
    this.#drop();
    const free = Math.max(0, this.account.balance - this.account.reserved - held);
    const charged = Math.max(0, Math.min(price, held) + Math.min(Math.max(0, price - held), free));
    this.account.balance -= charged;
    return { charged, balanceAfter: this.account.balance };
  }

  /** Drops the hold without charging. */
  release(): void {
    this.#drop();
  }

  #drop(): void {
    if (this.#done) return;
    this.#done = true;
    this.account.reserved -= this.#held;
  }
}

/**
 * Sets an account's balance (the admin endpoint), never below what work in flight holds: that work was
 * accepted against the old balance and is charged in full. Returns the balance set.
 */
export function setBalance(account: Account, requested: number): number {
  account.balance = Math.max(requested, account.reserved, 0);
  return account.balance;
}
