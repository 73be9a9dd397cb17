/**
 * A page's credits under its batch's cap (`maxCredits`): each URL in flight reserves the highest price
 * its method can cost until it ends, and the next URL starts only when the credits spent, those
 * reserved and its own price fit in the page's allowance (what is left of the cap, given by the batch).
 * Without an allowance every URL fits. It also is the page's set of URLs in flight. Pure.
 */
export class CreditBudget {
  /** Credits reserved by each URL in flight, by index. */
  private readonly holds = new Map<number, number>();
  private held = 0;

  constructor(
    /** Credits the page may spend in all; unset: no cap. */
    public allowance: number | undefined,
  ) {}

  /** URLs in flight. */
  get inFlight(): number {
    return this.holds.size;
  }

  /** Credits reserved by the URLs in flight. */
  get reserved(): number {
    return this.held;
  }

  /** URL `index` starts, reserving `price`. */
  reserve(index: number, price: number): void {
    this.holds.set(index, price);
    this.held += price;
  }

  /** URL `index` ended: its reservation goes (what it spent is counted in `spent` from now on). */
  release(index: number): void {
    const price = this.holds.get(index);
    if (price === undefined) return;
    this.holds.delete(index);
    this.held -= price;
  }

  /** Whether a URL of `price` may start when the page has spent `spent`. */
  affords(spent: number, price: number): boolean {
    return this.allowance === undefined || spent + this.held + price <= this.allowance;
  }
}
