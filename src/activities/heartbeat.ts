/**
 * The heartbeat of a long OmniScrape call: so a dead worker is noticed within the heartbeat timeout and
 * a cancel reaches the call. The first beat comes after a third of the timeout, not at once: every beat
 * that reaches the server is a billed Action on Temporal Cloud, and a call shorter than that sends none.
 */
import { Context } from '@temporalio/activity';

/** Starts beating (with `details()` when given); the returned function stops it. */
export function keepHeartbeating(details?: () => unknown): () => void {
  const ctx = Context.current();
  const every = Math.max(200, Math.floor((ctx.info.heartbeatTimeoutMs ?? 30_000) / 3));
  const timer = setInterval(() => ctx.heartbeat(details?.()), every);
  return () => clearInterval(timer);
}
