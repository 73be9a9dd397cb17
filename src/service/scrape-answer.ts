/** The answer of `POST /v1/scrape` for each way a single-URL scrape can end. */
import type { ScrapeOneOutcome } from '../client/scrape-one.js';

/** Where a batch's progress, results and dead letters are served. */
export function batchLinks(batchId: string) {
  const base = `/v1/batches/${encodeURIComponent(batchId)}`;
  return { progress: base, results: `${base}/results`, deadLetters: `${base}/dead-letters` };
}

/** The HTTP answer for a single-URL scrape, per the guide's section 4 mapping. */
export function scrapeAnswer(outcome: ScrapeOneOutcome): { status: number; body: Record<string, unknown> } {
  const ids = { batchId: outcome.batchId, workflowId: outcome.batchId };
  switch (outcome.kind) {
    case 'pending':
      return {
        status: 202,
        body: { ...ids, state: outcome.progress.state, poll: batchLinks(outcome.batchId).progress },
      };
    case 'cancelled':
      return {
        status: 409,
        body: { error: 'cancelled', message: 'the batch was cancelled before the URL ended', ...ids },
      };
    case 'ended': {
      const { state } = outcome.progress;
      const message = `batch ${outcome.batchId} ${state} before the URL ended: ${outcome.failure}`;
      // Cancelled through Temporal is still a cancellation; the other ends are this system's failure.
      return state === 'cancelled'
        ? { status: 409, body: { error: 'cancelled', message, state, ...ids } }
        : { status: 500, body: { error: 'batch_failed', message, state, ...ids } };
    }
    case 'paused':
      if (outcome.reason === 'auth')
        return {
          status: 401,
          body: {
            error: 'omniscrape_auth',
            message: `Invalid OmniScrape API key, or none on the workers for the batch's account: fix OMNISCRAPE_KEY (account default) or the account's entry in SCRAPEFLOW_ACCOUNTS_FILE on the workers, then resume batch ${outcome.batchId} (or cancel it)`,
            ...ids,
          },
        };
      if (outcome.reason === 'balance')
        return {
          status: 402,
          body: {
            error: 'omniscrape_balance',
            message: `OmniScrape balance exhausted, top up required; batch ${outcome.batchId} waits paused: resume it after the top-up (or cancel it)`,
            ...ids,
          },
        };
      return { status: 202, body: { ...ids, state: 'paused', poll: batchLinks(outcome.batchId).progress } };
    case 'done': {
      const { record } = outcome;
      if (record.status === 'succeeded')
        return {
          status: 200,
          body: {
            ...ids,
            url: record.url,
            status: record.status,
            content: outcome.content ?? null,
            fields: record.fields ?? null,
            method_used: record.methodUsed ?? null,
            charged: record.charged,
            record,
          },
        };
      if (record.reason === 'rate_limited')
        return {
          status: 429,
          body: {
            error: 'omniscrape_rate_limited',
            message: 'OmniScrape rate limit: reduce concurrency',
            ...ids,
            record,
          },
        };
      if (record.reason === 'render_timeout')
        return {
          status: 504,
          body: { error: 'render_timeout', message: record.detail ?? 'render timed out', ...ids, record },
        };
      return {
        status: 502,
        body: {
          error: record.status === 'dead_lettered' ? 'scrape_failed' : (record.reason ?? 'upstream_error'),
          message: record.detail ?? 'the scrape failed',
          ...ids,
          record,
        },
      };
    }
  }
}
