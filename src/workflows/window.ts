/**
 * The adaptive sliding window (AIMD): a 429 halves it (at most once per round of completions, so one
 * burst of 429s counts once), each completion grows it by 1/size, up to the batch's concurrency.
 * Pure and deterministic.
 */
export class AdaptiveWindow {
  constructor(
    readonly ceiling: number,
    private readonly adaptive: boolean,
    /** Current size, fractional. */
    public size: number = ceiling,
    /** Completions since the last decrease. */
    public sinceDecrease: number = ceiling,
  ) {}

  /** URLs that may be in flight now. */
  get slots(): number {
    return Math.max(1, Math.floor(this.size));
  }

  onRateLimited(): void {
    if (!this.adaptive || this.sinceDecrease < this.slots) return;
    this.size = Math.max(1, this.size / 2);
    this.sinceDecrease = 0;
  }

  onCompleted(): void {
    this.sinceDecrease += 1;
    if (this.adaptive) this.size = Math.min(this.ceiling, this.size + 1 / this.size);
  }
}

/** Delay before the `turn`-th poll of an async job (0-based): initial × factor^turn, capped. */
export function pollDelayMs(
  turn: number,
  polling: { initialMs: number; factor: number; maxMs: number },
): number {
  return Math.min(polling.initialMs * polling.factor ** turn, polling.maxMs);
}
