/** The body of a scrape answer (sync, or an ended async job), built from an engine outcome and its charge. */
import type { ScrapeResponse } from '../../src/omniscrape/types.js';
import type { ScrapeOutcome } from './engine.js';

export type ScrapeBody = ScrapeResponse & { success: boolean };

export function scrapeBody(outcome: ScrapeOutcome, charged: number, balanceAfter: number): ScrapeBody {
  return {
    success: outcome.success,
    data: outcome.success
      ? {
          content: outcome.cssExtracted ? null : outcome.html,
          css_extracted: outcome.cssExtracted,
        }
      : null,
    metadata: {
      method_used: outcome.methodUsed,
      solver_used: outcome.solverUsed,
      challenge_solved: outcome.challengeSolved,
      target_status: outcome.targetStatus,
      // Only beside a base64 body, where a caller needs them to know what the bytes are.
      ...(outcome.contentEncoding
        ? { content_encoding: outcome.contentEncoding, content_type: outcome.contentType ?? null }
        : {}),
    },
    billing: { charged, balance_after: balanceAfter },
    error: outcome.error,
  };
}

/** `success: false` without any work done: a fault rule, or an async job that could not run. */
export function failedBody(error: string, balance: number): ScrapeBody {
  return {
    success: false,
    data: null,
    metadata: { method_used: null, solver_used: false, challenge_solved: false, target_status: null },
    billing: { charged: 0, balance_after: balance },
    error,
  };
}
