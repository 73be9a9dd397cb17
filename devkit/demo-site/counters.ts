/**
 * Request counters of the demo site, so tests can check how often a page was fetched or that media was
 * blocked. `waitFor` resolves on the change that satisfies a predicate: tests synchronise on it
 * instead of polling.
 */

export const PAGE_KINDS = [
  'index',
  'product',
  'js',
  'api',
  'slow',
  'challenge',
  'challengePassed',
  'challengeVerify',
  'interactive',
  'interactiveItems',
  'media',
  'status',
  'sitemap',
  'robots',
  'notFound',
] as const;
export type PageKind = (typeof PAGE_KINDS)[number];

export const ASSET_KINDS = ['image', 'video', 'audio', 'font'] as const;
export type AssetKind = (typeof ASSET_KINDS)[number];

export interface DemoCounters {
  /** Requests per page kind (`challenge` = challenge documents served, `challengePassed` = real pages). */
  pages: Record<PageKind, number>;
  /** Requests per asset kind under `/assets/`. */
  assets: Record<AssetKind, number>;
  /** Slow pages whose client went away before the answer; the server stopped waiting for them. */
  slowAborted: number;
  /** Failed `/challenge/verify` submissions. */
  challengeFailed: number;
}

function zeroes<K extends string>(keys: readonly K[]): Record<K, number> {
  return Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;
}

function empty(): DemoCounters {
  return { pages: zeroes(PAGE_KINDS), assets: zeroes(ASSET_KINDS), slowAborted: 0, challengeFailed: 0 };
}

function copy(c: DemoCounters): DemoCounters {
  return { ...c, pages: { ...c.pages }, assets: { ...c.assets } };
}

interface Waiter {
  predicate: (c: DemoCounters) => boolean;
  resolve: (c: DemoCounters) => void;
}

export class CounterStore {
  #counters = empty();
  #waiters = new Set<Waiter>();

  page(kind: PageKind): void {
    this.#counters.pages[kind]++;
    this.#changed();
  }

  asset(kind: AssetKind): void {
    this.#counters.assets[kind]++;
    this.#changed();
  }

  event(kind: 'slowAborted' | 'challengeFailed'): void {
    this.#counters[kind]++;
    this.#changed();
  }

  /** A snapshot (later requests do not change it). */
  snapshot(): DemoCounters {
    return copy(this.#counters);
  }

  reset(): void {
    this.#counters = empty();
    this.#changed();
  }

  /** Resolves with a snapshot as soon as `predicate` holds (at once if it already does). */
  waitFor(predicate: (c: DemoCounters) => boolean, signal?: AbortSignal): Promise<DemoCounters> {
    if (predicate(this.#counters)) return Promise.resolve(this.snapshot());
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        predicate,
        resolve: (c) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(c);
        },
      };
      const onAbort = (): void => {
        this.#waiters.delete(waiter);
        const reason: unknown = signal?.reason;
        reject(reason instanceof Error ? reason : new Error('aborted'));
      };
      signal?.throwIfAborted();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.add(waiter);
    });
  }

  #changed(): void {
    for (const w of this.#waiters) {
      if (w.predicate(this.#counters)) {
        this.#waiters.delete(w);
        w.resolve(this.snapshot());
      }
    }
  }
}
