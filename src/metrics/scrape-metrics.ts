/**
 * scrapeflow's own Prometheus metrics (prom-client), fed by the scrape activities' call log.
 * Names are documented in docs/operations.md.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { CallEntry, CallKind, CallObserver } from '../activities/calls.js';

export type ScrapeMetrics = CallObserver;

/** Declares metrics in `registry`: a name, its help text and its label names each. */
function declare(registry: Registry) {
  const registers = [registry];
  return {
    counter: <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
      new Counter<L>({ name, help, labelNames, registers }),
    gauge: <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
      new Gauge<L>({ name, help, labelNames, registers }),
    histogram: <L extends string>(name: string, help: string, labelNames: readonly L[], buckets: number[]) =>
      new Histogram<L>({ name, help, labelNames, buckets, registers }),
  };
}

export function createScrapeMetrics(registry: Registry): ScrapeMetrics {
  const { counter, gauge, histogram } = declare(registry);
  const calls = counter(
    'scrapeflow_scrapes_total',
    'OmniScrape calls by endpoint and outcome (success, failed, submitted, pending, or an error code)',
    ['call', 'outcome'],
  );
  const credits = counter(
    'scrapeflow_credits_charged_total',
    'Credits charged by OmniScrape (billing.charged), by method used and account label',
    ['method', 'account'],
  );
  const balance = gauge('scrapeflow_balance_credits', 'Last billing.balance_after seen, by account label', [
    'account',
  ]);
  const inFlight = gauge('scrapeflow_omniscrape_in_flight', 'OmniScrape calls in flight now', ['call']);
  const rateLimited = counter('scrapeflow_rate_limited_total', 'OmniScrape answers with HTTP 429', ['call']);
  const retries = counter(
    'scrapeflow_retries_total',
    'OmniScrape calls made by a retried activity attempt (attempt > 1)',
    ['call'],
  );
  const duration = histogram(
    'scrapeflow_omniscrape_call_duration_seconds',
    'Duration of OmniScrape calls',
    ['call'],
    [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
  );
  for (const call of ['scrape', 'async_submit', 'async_poll'] satisfies CallKind[]) {
    inFlight.set({ call }, 0);
    rateLimited.inc({ call }, 0);
    retries.inc({ call }, 0);
  }
  return {
    started(call) {
      inFlight.inc({ call });
    },
    ended(entry: CallEntry) {
      inFlight.dec({ call: entry.call });
      calls.inc({ call: entry.call, outcome: entry.outcome });
      duration.observe({ call: entry.call }, entry.duration_ms / 1000);
      if (entry.charged)
        credits.inc({ method: entry.method_used ?? 'unknown', account: entry.account }, entry.charged);
      if (entry.balance_after !== null) balance.set({ account: entry.account }, entry.balance_after);
      if (entry.status === 429) rateLimited.inc({ call: entry.call });
      if (entry.attempt > 1) retries.inc({ call: entry.call });
    },
  };
}
