/**
 * When a failed delivery is tried again. The default is Svix's schedule, which receivers know: the
 * first try at once, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h after the previous one (8 tries
 * over about 28 h, so a receiver down for a day still gets every event), each delay ±20 % jitter so
 * endpoints that failed together do not come back together. 429 and 503 with `Retry-After` wait what
 * the receiver asks (at most a day) instead of the next step.
 */
import { ConfigError } from '../errors.js';

/** Delay before try n+1 after try n failed, ms (index 0: before the first try). */
export const DEFAULT_RETRY_DELAYS_MS: readonly number[] = [
  0,
  5_000,
  5 * 60_000,
  30 * 60_000,
  2 * 3_600_000,
  5 * 3_600_000,
  10 * 3_600_000,
  10 * 3_600_000,
];
/** An endpoint failing this long without one success is disabled. */
export const FAILING_DISABLE_MS = 5 * 24 * 3_600_000;
/** Longest `Retry-After` honoured, ms. */
const MAX_RETRY_AFTER_MS = 24 * 3_600_000;

/** SCRAPEFLOW_WEBHOOK_RETRY_DELAYS: comma list of ms (tests: `0,100,200`); the count is the tries. */
export function parseRetryDelays(value: string | undefined): readonly number[] {
  if (value === undefined) return DEFAULT_RETRY_DELAYS_MS;
  const delays = value.split(',').map((s) => Number(s.trim()));
  if (delays.length === 0 || delays.some((d) => !Number.isInteger(d) || d < 0))
    throw new ConfigError(
      `invalid environment: SCRAPEFLOW_WEBHOOK_RETRY_DELAYS: ${JSON.stringify(value)} is not a comma list of milliseconds`,
      'e.g. 0,5000,300000',
    );
  return delays;
}

/** ±20 % of `ms`. */
export function jitter(ms: number, random: () => number = Math.random): number {
  return Math.round(ms * (0.8 + 0.4 * random()));
}

/** `Retry-After` as ms: seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(header: string | undefined, now: number): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(header) - now;
  return Number.isFinite(ms) ? Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS) : undefined;
}

/**
 * The delay before the next try after `attempts` failed tries, or undefined when none is left: the
 * receiver's `Retry-After` when it gave one, else the schedule's next step with jitter.
 *
 * Tries spent faster than the schedule (a receiver throttling with a short `Retry-After` answers every
 * try within seconds) do not end the delivery early: until `sinceFirstMs` (since the event was
 * recorded) reaches the schedule's span, at its lowest jitter, it is tried again at the last step's
 * pace. A receiver failing on the schedule gets exactly its tries, as before.
 */
export function nextDelay(
  delays: readonly number[],
  attempts: number,
  retryAfter: number | undefined,
  sinceFirstMs = Number.POSITIVE_INFINITY,
): number | undefined {
  if (attempts < delays.length) return retryAfter ?? jitter(delays[attempts]!);
  const span = delays.reduce((sum, d) => sum + d, 0);
  if (sinceFirstMs >= 0.8 * span) return undefined;
  return Math.max(retryAfter ?? 0, jitter(delays.at(-1) ?? 0));
}
