/**
 * The adaptive sliding window (AIMD): 429s halve it (at most once per round of completions, so one
 * burst counts once), each completion grows it by 1/size, up to the batch's concurrency.
 *
 * What counts as "429s" depends on `trigger`:
 * - `'any'` (the first version, kept for batches started by it): any 429 halves the window.
 * - `'pressure'`: only a sustained share of 429s does. `pressure` is a moving count of 429s per
 *   completion over about the last round (it decays by 1/size per completion and gains 1/size per 429),
 *   and the window halves once it reaches `PRESSURE_TO_SHRINK`. Scattered 429s (a few percent of calls,
 *   each retried after its Retry-After anyway) leave the window alone; a client over its plan, whose
 *   calls meet 429s again and again, still backs off within a round.
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
    private readonly trigger: 'any' | 'pressure' = 'any',
    /** 429s per completion, averaged over about one round (`'pressure'` only). */
    public pressure = 0,
  ) {}

  /** URLs that may be in flight now. */
  get slots(): number {
    return Math.max(1, Math.floor(this.size));
  }

  onRateLimited(): void {
    if (!this.adaptive) return;
    if (this.trigger === 'pressure') {
      this.pressure += 1 / this.slots;
      if (this.pressure < PRESSURE_TO_SHRINK) return;
    }
    if (this.sinceDecrease < this.slots) return;
    this.size = Math.max(1, this.size / 2);
    this.sinceDecrease = 0;
    this.pressure = 0;
  }

  onCompleted(): void {
    this.sinceDecrease += 1;
    this.pressure *= 1 - 1 / this.slots;
    if (this.adaptive) this.size = Math.min(this.ceiling, this.size + 1 / this.size);
  }
}

/** 429s per completion (over about a round) at which a `'pressure'` window halves. */
export const PRESSURE_TO_SHRINK = 0.3;

/** Delay before the `turn`-th poll of an async job (0-based): initial × factor^turn, capped. */
export function pollDelayMs(
  turn: number,
  polling: { initialMs: number; factor: number; maxMs: number },
): number {
  return Math.min(polling.initialMs * polling.factor ** turn, polling.maxMs);
}
