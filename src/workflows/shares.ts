/**
 * The batch's concurrency shared among its pages in flight: a page that starts gets an even share of
 * what is free among the pages starting with it, and once no page is left to start the running pages
 * split what the others freed. The windows of the running pages never sum to more than the batch's
 * concurrency. Pure.
 */
export class ConcurrencyShares {
  /** Each running page's window, in the order the pages started. */
  private readonly windows = new Map<number, number>();

  constructor(readonly concurrency: number) {}

  get running(): number {
    return this.windows.size;
  }

  /** The running pages, in the order they started. */
  pages(): number[] {
    return [...this.windows.keys()];
  }

  has(page: number): boolean {
    return this.windows.has(page);
  }

  /** URLs the running pages may have in flight together. */
  get used(): number {
    let sum = 0;
    for (const window of this.windows.values()) sum += window;
    return sum;
  }

  get free(): number {
    return this.concurrency - this.used;
  }

  /** Page `page` starts, one of `starting` pages starting now: its window, an even share of the free. */
  start(page: number, starting: number): number {
    const window = Math.ceil(this.free / starting);
    this.windows.set(page, window);
    return window;
  }

  end(page: number): void {
    this.windows.delete(page);
  }

  clear(): void {
    this.windows.clear();
  }

  /**
   * Splits the free concurrency among the running pages (the first ones get the remainder): every
   * running page with its new window, in start order; none when nothing is free.
   */
  widen(): Array<{ page: number; window: number }> {
    const spare = this.free;
    if (this.windows.size === 0 || spare <= 0) return [];
    const each = Math.floor(spare / this.windows.size);
    let extra = spare - each * this.windows.size;
    const widened: Array<{ page: number; window: number }> = [];
    for (const [page, window] of this.windows) {
      const grown = window + each + (extra-- > 0 ? 1 : 0);
      this.windows.set(page, grown);
      widened.push({ page, window: grown });
    }
    return widened;
  }
}
