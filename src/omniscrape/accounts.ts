/**
 * Calls and plan permits of several OmniScrape accounts in one worker, routed by the batch's `account`
 * label (src/config/accounts.ts maps it to an account). One client per account: each sends its own key
 * and keeps its own connections. A label the worker has no key for fails the call before anything is
 * sent, or the permit before any wait, with `UnknownAccountError` (the batch pauses with reason `auth`).
 */
import type { Accounts } from '../config/accounts.js';
import type { OmniScrapeApi } from './api.js';
import { OmniScrapeClient, type OmniScrapeClientOptions } from './client.js';
import type { AcquireOptions, PlanPermits, ReleasePermit } from './permits.js';
import type { AsyncJobResponse, AsyncSubmitResponse, ScrapeRequestInput, ScrapeResponse } from './types.js';

export class AccountClients implements OmniScrapeApi {
  readonly #accounts: Accounts;
  readonly #clients = new Map<string, OmniScrapeClient>();

  /** One client per account, with `options` (all but the key) each. */
  constructor(accounts: Accounts, options: Omit<OmniScrapeClientOptions, 'apiKey'>) {
    this.#accounts = accounts;
    for (const account of accounts.list())
      this.#clients.set(account.name, new OmniScrapeClient({ ...options, apiKey: account.key }));
  }

  async scrape(
    request: ScrapeRequestInput,
    { account, ...options }: Parameters<OmniScrapeApi['scrape']>[1],
  ): Promise<ScrapeResponse> {
    return this.#client(account).scrape(request, options);
  }

  async submitAsync(
    request: ScrapeRequestInput,
    { account, ...options }: Parameters<OmniScrapeApi['submitAsync']>[1],
  ): Promise<AsyncSubmitResponse> {
    return this.#client(account).submitAsync(request, options);
  }

  async getAsyncJob(
    jobId: string,
    { account, ...options }: Parameters<OmniScrapeApi['getAsyncJob']>[1],
  ): Promise<AsyncJobResponse> {
    return this.#client(account).getAsyncJob(jobId, options);
  }

  async close(): Promise<void> {
    await Promise.all([...this.#clients.values()].map((c) => c.close()));
  }

  #client(label: string): OmniScrapeClient {
    const client = this.#clients.get(this.#accounts.resolve(label).name);
    if (!client) throw new Error(`no client for account ${JSON.stringify(label)}`); // resolve() said it has a key
    return client;
  }
}

/**
 * Permits taken under the account a label resolves to, at that account's plan: labels that share an
 * account (every label, without an accounts file) share its plan.
 */
export class AccountPermits implements PlanPermits {
  readonly #accounts: Accounts;
  readonly #permits: PlanPermits;

  /** `permits`: those of account names, each at its plan (`limit: (name) => accounts.planOf(name)`). */
  constructor(accounts: Accounts, permits: PlanPermits) {
    this.#accounts = accounts;
    this.#permits = permits;
  }

  /** The permits underneath (a `PgPermits` or a `LocalPermits`). */
  get inner(): PlanPermits {
    return this.#permits;
  }

  limitOf(label: string): number {
    return this.#permits.limitOf(this.#accounts.resolve(label).name);
  }

  async acquire(label: string, options?: AcquireOptions): Promise<ReleasePermit> {
    return this.#permits.acquire(this.#accounts.resolve(label).name, options);
  }

  close(): Promise<void> {
    return this.#permits.close();
  }
}
