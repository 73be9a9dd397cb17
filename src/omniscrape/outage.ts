/**
 * Tells an OmniScrape outage from one URL's bad luck, per worker process: when most recent calls,
 * across URLs, failed at the transport or with a 5xx, the API itself is down, and a URL that meets such
 * an error waits for the API (its batch pauses with reason `outage`) instead of spending its retries
 * and failing. A 5xx that only some URLs get leaves the share low, and the error matrix applies.
 * Pure, with the clock injected.
 */
export interface OutageDetectorOptions {
  /** How far back calls count, ms. @default 30000 */
  windowMs?: number;
  /** Fewest calls in the window before it can say "down". @default 10 */
  minCalls?: number;
  /** Share of failed calls in the window that means "down". @default 0.8 */
  failedShare?: number;
  now?: () => number;
}

export class OutageDetector {
  private readonly windowMs: number;
  private readonly minCalls: number;
  private readonly failedShare: number;
  private readonly now: () => number;
  /** Recent calls, oldest first: when each ended and whether it failed. */
  private readonly calls: { at: number; failed: boolean }[] = [];
  private failed = 0;

  constructor(options: OutageDetectorOptions = {}) {
    this.windowMs = options.windowMs ?? 30_000;
    this.minCalls = options.minCalls ?? 10;
    this.failedShare = options.failedShare ?? 0.8;
    this.now = options.now ?? Date.now;
  }

  /** One call ended: `failed` when it met a transport error or a 5xx, false for any other answer. */
  record(failed: boolean): void {
    this.calls.push({ at: this.now(), failed });
    if (failed) this.failed += 1;
    this.expire();
  }

  /** True while most recent calls failed: the API, not the URL, is the problem. */
  get down(): boolean {
    this.expire();
    return this.calls.length >= this.minCalls && this.failed >= this.failedShare * this.calls.length;
  }

  private expire(): void {
    const cutoff = this.now() - this.windowMs;
    // Bounded: at most the calls of one window, and never more than 10,000 of them.
    while (this.calls.length > 0 && (this.calls[0]!.at < cutoff || this.calls.length > 10_000)) {
      if (this.calls.shift()!.failed) this.failed -= 1;
    }
  }
}
