/**
 * What OmniScrape charges, in credits (the guide's cost table; the local API bills by it too). Pure:
 * the page workflow holds a call's highest price against a batch's `maxCredits` while the call runs.
 */
import type { ScrapeMode } from './types.js';

export const PRICES = {
  /** A plain HTTP fetch. */
  fast: 1,
  /** A Chromium render. */
  js_rendering: 5,
  /** Added when the challenge solver ran. */
  solver: 10,
  /** One browser (BaaS) session, whatever its length, charged when the session is handed over. */
  baas_session: 10,
} as const;

/**
 * The most one URL's call can cost: a browser session when it has steps; else the method its mode may
 * end on (`auto` may escalate to rendering), plus the solver when the batch enables it.
 */
export function highestPriceOf(
  options: { mode: ScrapeMode; enableSolver: boolean },
  steps: readonly unknown[] | undefined,
): number {
  if (steps?.length) return PRICES.baas_session;
  const method = options.mode === 'fast' ? PRICES.fast : PRICES.js_rendering;
  return method + (options.enableSolver ? PRICES.solver : 0);
}
