/** What both chaos suites (faults.test.ts, outage.test.ts) use; each file starts its own stack. */
import type { BatchProgress } from '../../src/workflows/types.js';

/** The plan's concurrency limit: the local API's per-account cap (each scrape worker has twice its slots). */
export const PLAN_LIMIT = 5;
/** Every wait of a suite is bounded by this (the suites' target is well under it). */
export const SUITE_TIMEOUT_MS = 20 * 60_000;

/** URLs of a batch with a record. */
export const doneOf = (p: BatchProgress) => p.counts.succeeded + p.counts.failed + p.counts.dead_lettered;

/** Prints a figure of the suite as a `# chaos:` line. */
export function say(line: string): void {
  process.stdout.write(`# chaos: ${line}\n`);
}
