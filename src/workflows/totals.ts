/**
 * What a batch adds up, from its URLs to its pages to the batch and the clients' progress: URLs by
 * terminal status, credits (by the method that spent them), 429s and the last balance seen. One
 * `addTotals` for totals, one `addOutcome` for a URL's record. Pure: the workflows use it.
 */
import type { TerminalStatus } from '../store/types.js';

export interface Totals {
  counts: Record<TerminalStatus, number>;
  credits: number;
  creditsByMethod: Record<string, number>;
  rateLimited: number;
  lastBalance?: number;
}

/** What one URL's record adds: its status and what it cost. */
export interface Outcome {
  status: TerminalStatus;
  charged: number;
  methodUsed?: string;
}

export const noCounts = (): Record<TerminalStatus, number> => ({ succeeded: 0, failed: 0, dead_lettered: 0 });

/**
 * Adds `more` into `into`; the later balance wins. `more` may lack what its source does not count (the
 * records of a range have no 429s).
 */
export function addTotals(
  into: Totals,
  more: Pick<Totals, 'counts' | 'credits' | 'creditsByMethod' | 'lastBalance'> & { rateLimited?: number },
): void {
  into.counts.succeeded += more.counts.succeeded;
  into.counts.failed += more.counts.failed;
  into.counts.dead_lettered += more.counts.dead_lettered;
  into.credits += more.credits;
  for (const [method, credits] of Object.entries(more.creditsByMethod))
    into.creditsByMethod[method] = (into.creditsByMethod[method] ?? 0) + credits;
  into.rateLimited += more.rateLimited ?? 0;
  if (more.lastBalance !== undefined) into.lastBalance = more.lastBalance;
}

/** Adds one URL's record: its status, and its charge under its method (`unknown` when it has none). */
export function addOutcome(into: Pick<Totals, 'counts' | 'credits' | 'creditsByMethod'>, url: Outcome): void {
  into.counts[url.status] += 1;
  into.credits += url.charged;
  if (!url.charged) return;
  const method = url.methodUsed ?? 'unknown';
  into.creditsByMethod[method] = (into.creditsByMethod[method] ?? 0) + url.charged;
}
