/**
 * The charge ledger (`GET /admin/charges`): one entry per charge the local API committed and kept,
 * naming the call it paid for (account, `Idempotency-Key`, target URL). A charge refunded because its
 * answer could not be delivered leaves the ledger. Tests compare it, call by call, with what a client
 * recorded: a URL with two entries was paid twice, an entry without a matching success was paid and lost.
 */

export type ChargeVia = 'scrape' | 'async' | 'browser';

export interface ChargeEntry {
  account: string;
  /** The call's `Idempotency-Key`; null when it sent none (BaaS sessions never do). */
  key: string | null;
  /** The target URL; null for a browser session, which is charged before it visits anything. */
  url: string | null;
  via: ChargeVia;
  credits: number;
}

export class ChargeLedger {
  #entries: ChargeEntry[] = [];

  /** Records a committed charge; returns the entry, for `refund`. Zero charges are not kept. */
  add(entry: ChargeEntry): ChargeEntry | undefined {
    if (entry.credits === 0) return undefined;
    this.#entries.push(entry);
    return entry;
  }

  /** Drops a charge that was refunded. */
  refund(entry: ChargeEntry): void {
    const i = this.#entries.lastIndexOf(entry);
    if (i >= 0) this.#entries.splice(i, 1);
  }

  /** The entries, oldest first; with `keyPrefix`, only calls whose key starts with it (one batch's). */
  list(filter: { account?: string; keyPrefix?: string } = {}): ChargeEntry[] {
    return this.#entries.filter(
      (e) =>
        (filter.account === undefined || e.account === filter.account) &&
        (filter.keyPrefix === undefined || (e.key ?? '').startsWith(filter.keyPrefix)),
    );
  }

  /** Replaces every entry (a restart loading its state file). */
  restore(entries: readonly ChargeEntry[]): void {
    this.#entries = entries.map((e) => ({ ...e }));
  }

  /** Forgets every entry (with the counters' reset). */
  reset(): void {
    this.#entries = [];
  }
}
