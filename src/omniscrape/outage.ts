/**
 * Tells an OmniScrape outage from one URL's bad luck, per worker process: when most of the latest
 * calls, across URLs, failed at the transport or with a 5xx, the API itself is down, and a URL that
 * meets such an error waits for the API (its batch pauses with reason `outage`) instead of spending its
 * retries and failing. A 5xx that only some URLs get leaves the share low, and the error matrix applies.
 *
 * The window is the latest calls by count, not by time: after a busy healthy minute an outage must show
 * within a few calls, before the first URLs that met it run out of retries (3 × 5 s by default).
 * Pure, with the clock injected.
 */
export interface OutageDetectorOptions {
  /** How many of the latest calls count. @default 20 */
  size?: number;
  /** Fewest calls before it can say "down". @default 10 */
  minCalls?: number;
  /** Share of failed calls among them that means "down". @default 0.8 */
  failedShare?: number;
  /** Calls older than this no longer count, ms. @default 60000 */
  maxAgeMs?: number;
  now?: () => number;
}

export class OutageDetector {
  private readonly size: number;
  private readonly minCalls: number;
  private readonly failedShare: number;
  private readonly maxAgeMs: number;
  private readonly now: () => number;
  /** The latest calls, oldest first: when each ended and whether it failed. */
  private readonly calls: { at: number; failed: boolean }[] = [];
  private failed = 0;

  constructor(options: OutageDetectorOptions = {}) {
    this.size = options.size ?? 20;
    this.minCalls = options.minCalls ?? 10;
    this.failedShare = options.failedShare ?? 0.8;
    this.maxAgeMs = options.maxAgeMs ?? 60_000;
    this.now = options.now ?? Date.now;
  }

  /** One call ended: `failed` when it met a transport error or a 5xx, false for any other answer. */
  record(failed: boolean): void {
    this.calls.push({ at: this.now(), failed });
    if (failed) this.failed += 1;
    this.expire();
  }

  /** True while most of the latest calls failed: the API, not the URL, is the problem. */
  get down(): boolean {
    this.expire();
    return this.calls.length >= this.minCalls && this.failed >= this.failedShare * this.calls.length;
  }

  private expire(): void {
    const cutoff = this.now() - this.maxAgeMs;
    while (this.calls.length > 0 && (this.calls.length > this.size || this.calls[0]!.at < cutoff)) {
      if (this.calls.shift()!.failed) this.failed -= 1;
    }
  }
}
