/**
 * Plan permits: an OmniScrape account's plan limits the calls it has in flight, whoever makes them, so
 * every call that takes one of the plan's slots at OmniScrape first takes a permit for its account and
 * gives it back when the call ends. Which calls take one: the sync scrape and the async submit. Status
 * polls and the outage probe do not: OmniScrape never counts them against the plan (a poll holds no
 * slot), and a poll must not queue behind the scrapes it is waiting for.
 *
 * Each account has a limit of its own (its plan: src/config/accounts.ts). Waiting calls are served in the
 * order of their batch's priority (1 first), then of arrival: with more worker slots than the plan,
 * many calls wait here, and the order Temporal's task queue gave them by priority must hold through
 * the wait.
 *
 * The same machinery holds an account's BaaS session limit across browser workers (`PermitResource`).
 *
 * Two implementations behind `PlanPermits`:
 * - `LocalPermits`: a semaphore per account in this process. Right for one worker of the role, which
 *   is all the filesystem store allows (shared-permits.ts).
 * - `PgPermits` (pg-permits.ts): leases in the PostgreSQL store, shared by every scrape worker on every
 *   host that uses the same database; a dead worker's leases expire within seconds.
 */
import { AbortedError, PlanBusyError } from './errors.js';
import { DEFAULT_PRIORITY } from '../batch/defaults.js';
import { permitWaitOf } from '../workflows/types.js';
import type { BatchOptions } from '../batch/options.js';

/**
 * What a permit stands for: a call on the account's plan (scrape role), or one of the account's BaaS
 * sessions (browser role, limited by its `browserSessions`). Each is counted apart, with the same
 * machinery.
 */
export type PermitResource = 'plan' | 'browser';

/** How messages name a permit of each resource. */
export const PERMIT_NOUNS: Record<PermitResource, string> = {
  plan: 'plan permit',
  browser: 'browser session permit',
};

/** Gives a permit back. Never throws; calling it more than once is harmless. */
export type ReleasePermit = () => Promise<void>;

/**
 * The plan's concurrency limit: one number for every account, or the limit of each account (a
 * function that throws for an account it does not know; `acquire` then rejects with that error).
 */
export type PlanLimit = number | ((account: string) => number);

export interface AcquireOptions {
  /** Ends the wait: `acquire` rejects with `AbortedError`, holding nothing. */
  signal?: AbortSignal;
  /**
   * The batch's priority, 1 most urgent (Temporal's `priorityKey`): a freed permit goes to the most
   * urgent waiter of the account, the oldest among equals. @default 3
   */
  priority?: number;
}

export interface PlanPermits {
  /** The permits of `account`: its plan's concurrency limit. Throws for an account it does not know. */
  limitOf(account: string): number;
  /**
   * Resolves once a permit for `account` is held, with the function that gives it back. Waits as long
   * as it takes, behind more urgent waiters of the account; rejects with `AbortedError` when `signal`
   * aborts first (activity cancellation, worker shutdown), holding nothing, and with the error of
   * `limitOf` for an account it does not know, at once.
   */
  acquire(account: string, options?: AcquireOptions): Promise<ReleasePermit>;
  /** Stops renewing and lets go of everything held (leases are deleted where the store allows). */
  close(): Promise<void>;
}

/**
 * Takes a permit of the batch's account for a URL's activity (which heartbeats meanwhile), waiting at
 * most the batch's `timeouts.permitWaitMs` behind more urgent waiters (its priority). A wait that runs
 * out throws `PlanBusyError` (the URL goes back to its page's queue: nothing was done, nothing
 * charged); one that `signal` ends (cancellation, shutdown) throws the signal's reason, there being
 * nothing to classify.
 */
export async function acquireWithin(
  permits: PlanPermits,
  batch: Pick<BatchOptions, 'account' | 'priority' | 'timeouts'>,
  signal: AbortSignal,
  resource: PermitResource = 'plan',
): Promise<ReleasePermit> {
  const { account, priority } = batch;
  const waitMs = permitWaitOf(batch);
  const patience = AbortSignal.timeout(waitMs);
  try {
    return await permits.acquire(account, {
      signal: AbortSignal.any([signal, patience]),
      ...(priority !== undefined ? { priority } : {}),
    });
  } catch (err) {
    if (signal.aborted) throw signal.reason ?? err;
    if (!patience.aborted) throw err;
    throw new PlanBusyError(
      `no ${PERMIT_NOUNS[resource]} of account ${JSON.stringify(account)} came free within ${waitMs} ms`,
    );
  }
}

/** The rejection of a wait that `signal` ended. */
export function abortedWait(
  account: string,
  signal: AbortSignal | undefined,
  resource: PermitResource = 'plan',
): AbortedError {
  return new AbortedError(
    `waiting for a ${PERMIT_NOUNS[resource]} of account ${JSON.stringify(account)} was aborted`,
    { cause: signal?.reason },
  );
}

/** Checks a limit the way every implementation needs it. */
export function checkLimit(limit: number, account?: string): number {
  if (!Number.isInteger(limit) || limit < 1)
    throw new RangeError(
      `the plan's concurrency limit${account === undefined ? '' : ` of account ${JSON.stringify(account)}`} must be an integer of at least 1, got ${limit}`,
    );
  return limit;
}

/** `PlanLimit` as a function, the number checked once (a function's answers are checked per call). */
export function limitFunction(limit: PlanLimit): (account: string) => number {
  if (typeof limit === 'function') return (account) => checkLimit(limit(account), account);
  const checked = checkLimit(limit);
  return () => checked;
}

/**
 * The waiters of one account in the order permits go to them: priority (lower first), then arrival.
 * Priorities are few (1-5), so an insertion walks back from the end past the less urgent ones.
 */
export class WaitQueue<T> {
  readonly #entries: Array<{ priority: number; item: T }> = [];

  get size(): number {
    return this.#entries.length;
  }

  /** Queues `item`; a `priority` that is not an integer (unset) ranks as the default, 3. */
  add(item: T, priority: number | undefined): void {
    const rank = Number.isInteger(priority) ? (priority as number) : DEFAULT_PRIORITY;
    let i = this.#entries.length;
    while (i > 0 && this.#entries[i - 1]!.priority > rank) i -= 1;
    this.#entries.splice(i, 0, { priority: rank, item });
  }

  delete(item: T): boolean {
    const i = this.#entries.findIndex((e) => e.item === item);
    if (i >= 0) this.#entries.splice(i, 1);
    return i >= 0;
  }

  has(item: T): boolean {
    return this.#entries.some((e) => e.item === item);
  }

  /** The next waiter to serve. */
  first(): T | undefined {
    return this.#entries[0]?.item;
  }

  /** Every waiter with its priority, in serving order (a copy). */
  list(): Array<{ priority: number; item: T }> {
    return [...this.#entries];
  }
}

interface Waiter {
  grant(): void;
}

/** A semaphore per account, most urgent then oldest waiter first, in this process only. */
export class LocalPermits implements PlanPermits {
  readonly limitOf: (account: string) => number;
  readonly #held = new Map<string, number>();
  readonly #waiters = new Map<string, WaitQueue<Waiter>>();
  readonly #resource: PermitResource;

  constructor(limit: PlanLimit, resource: PermitResource = 'plan') {
    this.limitOf = limitFunction(limit);
    this.#resource = resource;
  }

  /** Permits held now for `account` (tests, metrics). */
  held(account: string): number {
    return this.#held.get(account) ?? 0;
  }

  // async: an account the limits do not know rejects like any other refusal, never throws.
  async acquire(account: string, options: AcquireOptions = {}): Promise<ReleasePermit> {
    const { signal } = options;
    if (signal?.aborted) throw abortedWait(account, signal, this.#resource);
    if (this.held(account) < this.limitOf(account)) {
      this.#held.set(account, this.held(account) + 1);
      return this.#releaser(account);
    }
    return new Promise<ReleasePermit>((resolve, reject) => {
      const queue = this.#waiters.get(account) ?? new WaitQueue<Waiter>();
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
        reject(abortedWait(account, signal, this.#resource));
      };
      queue.add(waiter, options.priority);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  /** A held permit passes straight to the account's next waiter, if there is one. */
  #releaser(account: string): ReleasePermit {
    let released = false;
    return () => {
      if (!released) {
        released = true;
        const next = this.#waiters.get(account)?.first();
        if (next) next.grant();
        else this.#held.set(account, this.held(account) - 1);
      }
      return Promise.resolve();
    };
  }
}
