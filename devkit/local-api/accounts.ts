/**
 * Accounts of the local API: who a key belongs to, the balance, and the plan's concurrency slots.
 *
 * Slots are shared by sync scrapes and running async jobs. A sync scrape that finds every slot taken is
 * refused at once (429); an async job waits in line for a slot instead. When a slot frees up, the oldest
 * waiting job of that account takes it before any new request can.
 */
export interface AccountConfig {
  /** Name used in counters, logs and the admin endpoint. The key is never shown. */
  id: string;
  /** The API key clients send in `X-API-Key`. */
  key: string;
  /** Credits available. */
  balance: number;
  /** Scrapes (sync requests plus running async jobs) in flight at once. */
  concurrency: number;
  /** Browser (BaaS) sessions open at once; a further one is refused with 429. @default 2 */
  browserSessions?: number;
}

export interface Account {
  readonly id: string;
  readonly key: string;
  /** Credits on the account. */
  balance: number;
  /** Credits held by work in flight; `balance - reserved` is what new work can count on. */
  reserved: number;
  concurrency: number;
  /** Browser sessions open at once (see baas.ts); undefined means the default. */
  browserSessions?: number;
  /** Slots in use: sync requests plus running async jobs. */
  active: number;
  /** Sync requests in flight. */
  activeSync: number;
}

/** What the admin endpoint shows of an account: never the key. */
export interface AccountView {
  id: string;
  balance: number;
  concurrency: number;
  active: number;
  active_sync: number;
}

export class Accounts {
  readonly #byId = new Map<string, Account>();
  readonly #byKey = new Map<string, Account>();
  readonly #waiting = new Map<string, Array<() => void>>();

  constructor(configs: readonly AccountConfig[]) {
    for (const c of configs) {
      if (this.#byId.has(c.id)) throw new Error(`duplicate account id ${c.id}`);
      if (this.#byKey.has(c.key)) throw new Error(`account ${c.id} reuses another account's key`);
      const account: Account = { ...c, reserved: 0, active: 0, activeSync: 0 };
      this.#byId.set(c.id, account);
      this.#byKey.set(c.key, account);
    }
  }

  byKey(key: string): Account | undefined {
    return this.#byKey.get(key);
  }

  byId(id: string): Account | undefined {
    return this.#byId.get(id);
  }

  list(): AccountView[] {
    return [...this.#byId.values()].map((a) => ({
      id: a.id,
      balance: a.balance,
      concurrency: a.concurrency,
      active: a.active,
      active_sync: a.activeSync,
    }));
  }

  /** Takes a slot for a sync request; false when every slot is taken. */
  tryAcquireSync(account: Account): boolean {
    if (account.active >= account.concurrency) return false;
    account.active += 1;
    account.activeSync += 1;
    return true;
  }

  releaseSync(account: Account): void {
    account.activeSync -= 1;
    this.#release(account);
  }

  /** Waits for a slot for an async job. Rejects with the signal's reason when aborted while waiting. */
  acquireForJob(account: Account, signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    if (account.active < account.concurrency) {
      account.active += 1;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const queue = this.#waiting.get(account.id) ?? [];
      this.#waiting.set(account.id, queue);
      const onAbort = (): void => {
        const i = queue.indexOf(grant);
        if (i >= 0) queue.splice(i, 1);
        reject(signal.reason as Error);
      };
      // Called by #release with the slot already counted as ours.
      const grant = (): void => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      queue.push(grant);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  releaseJob(account: Account): void {
    this.#release(account);
  }

  /** Hands the freed slot to the oldest waiting job, or returns it to the pool. */
  #release(account: Account): void {
    const next = this.#waiting.get(account.id)?.shift();
    if (next) next();
    else account.active -= 1;
  }
}
