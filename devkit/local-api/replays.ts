/**
 * Idempotent sync scrapes: a scrape answer that was delivered is kept under its account and
 * `Idempotency-Key` for `ttlMs`, and a request repeating the key gets that answer again, without doing
 * the work or charging again. A worker killed after the answer reached it retries with the same key, so
 * the URL is paid for once. Only delivered answers are kept (an undelivered one was refunded), so a
 * retry after a lost answer does the work afresh.
 */
export class ScrapeReplays {
  readonly #answers = new Map<string, { body: unknown; expires: number }>();

  constructor(
    /** How long an answer is kept, in ms. */
    private readonly ttlMs: number,
    private readonly now: () => number,
    /** Most answers kept; the oldest go first. @default 100000 */
    private readonly maxEntries = 100_000,
  ) {}

  get(accountId: string, key: string): unknown {
    const id = `${accountId}\n${key}`;
    const entry = this.#answers.get(id);
    if (!entry) return undefined;
    if (entry.expires > this.now()) return entry.body;
    this.#answers.delete(id);
    return undefined;
  }

  remember(accountId: string, key: string, body: unknown): void {
    if (this.#answers.size >= this.maxEntries) {
      const oldest = this.#answers.keys().next();
      if (!oldest.done) this.#answers.delete(oldest.value);
    }
    this.#answers.set(`${accountId}\n${key}`, { body, expires: this.now() + this.ttlMs });
  }
}
