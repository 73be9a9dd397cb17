/**
 * Connection slots in front of the undici pool. undici queues a request that finds every connection busy
 * without any deadline; the client takes a slot here first, so waiting for a free connection is bounded
 * and fails as `ClientTimeoutError` with phase `'pool'`. Waiters are served first in, first out.
 */
import { AbortedError, ClientTimeoutError } from './errors.js';

/** Gives a slot back. Calling it more than once is harmless. */
export type ReleaseSlot = () => void;

interface Waiter {
  grant: () => void;
}

export class SlotQueue {
  #free: number;
  readonly #waiters = new Set<Waiter>();

  /** @param size how many requests may hold a slot at once. */
  constructor(size: number) {
    this.#free = size;
  }

  /** Requests currently waiting for a slot. */
  get waiting(): number {
    return this.#waiters.size;
  }

  /**
   * Resolves with a release function once a slot is free. Rejects with `ClientTimeoutError` (phase
   * `'pool'`) after `timeoutMs`, or with `AbortedError` when `signal` aborts first.
   */
  acquire(timeoutMs: number, signal: AbortSignal | undefined, what: string): Promise<ReleaseSlot> {
    if (signal?.aborted) {
      return Promise.reject(new AbortedError(`${what} was aborted`, { cause: signal.reason }));
    }
    if (this.#free > 0) {
      this.#free -= 1;
      return Promise.resolve(this.#releaser());
    }
    return new Promise<ReleaseSlot>((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.#waiters.delete(waiter);
      };
      const waiter: Waiter = {
        grant: () => {
          cleanup();
          resolve(this.#releaser());
        },
      };
      const onAbort = (): void => {
        cleanup();
        reject(
          new AbortedError(`${what} was aborted while waiting for a connection`, { cause: signal?.reason }),
        );
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new ClientTimeoutError(`${what} waited more than ${timeoutMs} ms for a free connection`, {
            phase: 'pool',
          }),
        );
      }, timeoutMs);
      this.#waiters.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  #releaser(): ReleaseSlot {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiters.values().next();
      if (next.done) this.#free += 1;
      else next.value.grant();
    };
  }
}
