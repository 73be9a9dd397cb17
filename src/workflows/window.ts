/**
 * The adaptive sliding window of a page (AIMD): sustained 429s halve it (at most once per round of
 * completions, so one burst counts once), each completion grows it by 1/size, up to its ceiling.
 *
 * Only a sustained share of 429s shrinks it: `pressure` is a moving count of 429s per completion over
 * about the last round (it decays by 1/size per completion and gains 1/size per 429), and the window
 * halves once it reaches `PRESSURE_TO_SHRINK`. Scattered 429s (a few percent of calls, each retried after
 * its Retry-After anyway) leave the window alone; a client over its plan, whose calls meet 429s again
 * and again, still backs off within a round.
 * Pure and deterministic.
 */
export interface WindowState {
  /** Current size, fractional. */
  size: number;
  /** Completions since the last decrease. */
  sinceDecrease: number;
  /** 429s per completion, averaged over about one round. */
  pressure: number;
}

export class AdaptiveWindow {
  ceiling: number;
  private readonly adaptive: boolean;
  size: number;
  sinceDecrease: number;
  pressure: number;

  constructor(options: { ceiling: number; adaptive: boolean; state?: WindowState }) {
    this.ceiling = options.ceiling;
    this.adaptive = options.adaptive;
    this.size = options.state?.size ?? options.ceiling;
    this.sinceDecrease = options.state?.sinceDecrease ?? options.ceiling;
    this.pressure = options.state?.pressure ?? 0;
  }

  /** URLs that may be in flight now. */
  get slots(): number {
    return Math.max(1, Math.floor(this.size));
  }

  get state(): WindowState {
    return { size: this.size, sinceDecrease: this.sinceDecrease, pressure: this.pressure };
  }

  /** A new ceiling (the batch moved concurrency between its pages): slots it adds are usable at once. */
  setCeiling(ceiling: number): void {
    const added = Math.max(0, ceiling - this.ceiling);
    this.ceiling = ceiling;
    this.size = Math.max(1, Math.min(ceiling, this.size + added));
  }

  onRateLimited(): void {
    if (!this.adaptive) return;
    this.pressure += 1 / this.slots;
    if (this.pressure < PRESSURE_TO_SHRINK) return;
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

/** 429s per completion (over about a round) at which the window halves. */
export const PRESSURE_TO_SHRINK = 0.3;

/** Delay before the `turn`-th poll of an async job (0-based): initial × factor^turn, capped. */
export function pollDelayMs(
  turn: number,
  polling: { initialMs: number; factor: number; maxMs: number },
): number {
  return Math.min(polling.initialMs * polling.factor ** turn, polling.maxMs);
}
