/**
 * Plan permits: an OmniScrape account's plan limits the calls it has in flight, whoever makes them, so
 * every call that takes one of the plan's slots at OmniScrape first takes a permit for its account and
 * gives it back when the call ends. Which calls take one: the sync scrape and the async submit. Status
 * polls and the outage probe do not: OmniScrape never counts them against the plan (a poll holds no
 * slot), and a poll must not queue behind the scrapes it is waiting for.
 *
 * Two implementations behind `PlanPermits`:
 * - `LocalPermits`: a semaphore per account in this process. Right for one scrape worker (the
 *   filesystem store is single-host anyway).
 * - `PgPermits` (pg-permits.ts): leases in the PostgreSQL store, shared by every scrape worker on every
 *   host that uses the same database; a dead worker's leases expire within seconds.
 */
import { AbortedError } from './errors.js';

/** Gives a permit back. Never throws; calling it more than once is harmless. */
export type ReleasePermit = () => Promise<void>;

export interface PlanPermits {
  /** Permits per account: the plan's concurrency limit. */
  readonly limit: number;
  /**
   * Resolves once a permit for `account` is held, with the function that gives it back. Waits as long
   * as it takes; rejects with `AbortedError` when `signal` aborts first (activity cancellation, worker
   * shutdown), holding nothing.
   */
  acquire(account: string, options?: { signal?: AbortSignal }): Promise<ReleasePermit>;
  /** Stops renewing and lets go of everything held (leases are deleted where the store allows). */
  close(): Promise<void>;
}

/** Runs `work` under a permit for `account`, giving the permit back however `work` ends. */
export async function withPermit<T>(
  permits: PlanPermits,
  account: string,
  signal: AbortSignal | undefined,
  work: () => Promise<T>,
): Promise<T> {
  const release = await permits.acquire(account, signal ? { signal } : {});
  try {
    return await work();
  } finally {
    await release();
  }
}

/** The rejection of a wait that `signal` ended. */
export function abortedWait(account: string, signal: AbortSignal | undefined): AbortedError {
  return new AbortedError(`waiting for a plan permit of account ${JSON.stringify(account)} was aborted`, {
    cause: signal?.reason,
  });
}

/** Checks the limit the way every implementation needs it. */
export function checkLimit(limit: number): number {
  if (!Number.isInteger(limit) || limit < 1)
    throw new RangeError(`the plan's concurrency limit must be an integer of at least 1, got ${limit}`);
  return limit;
}

interface Waiter {
  grant(): void;
}

/** A semaphore per account, first come first served, in this process only. */
export class LocalPermits implements PlanPermits {
  readonly limit: number;
  readonly #held = new Map<string, number>();
  readonly #waiters = new Map<string, Set<Waiter>>();

  constructor(limit: number) {
    this.limit = checkLimit(limit);
  }

  /** Permits held now for `account` (tests, metrics). */
  held(account: string): number {
    return this.#held.get(account) ?? 0;
  }

  acquire(account: string, options: { signal?: AbortSignal } = {}): Promise<ReleasePermit> {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(abortedWait(account, signal));
    if (this.held(account) < this.limit) {
      this.#held.set(account, this.held(account) + 1);
      return Promise.resolve(this.#releaser(account));
    }
    return new Promise<ReleasePermit>((resolve, reject) => {
      const queue = this.#waiters.get(account) ?? new Set<Waiter>();
      this.#waiters.set(account, queue);
      const cleanup = () => {
        signal?.removeEventListener('abort', onAbort);
        queue.delete(waiter);
        if (queue.size === 0) this.#waiters.delete(account);
      };
      const waiter: Waiter = {
        grant: () => {
          cleanup();
          resolve(this.#releaser(account));
        },
      };
      const onAbort = () => {
        cleanup();
        reject(abortedWait(account, signal));
      };
      queue.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  /** A held permit passes straight to the oldest waiter of its account, if there is one. */
  #releaser(account: string): ReleasePermit {
    let released = false;
    return () => {
      if (!released) {
        released = true;
        const next = this.#waiters.get(account)?.values().next();
        if (next && !next.done) next.value.grant();
        else this.#held.set(account, this.held(account) - 1);
      }
      return Promise.resolve();
    };
  }
}
