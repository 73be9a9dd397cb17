/**
 * scrapeflow's own Prometheus metrics (prom-client), fed by the scrape activities' call log.
 * Names are documented in docs/operations.md.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { CallEntry, CallKind, CallObserver } from '../activities/scrape.js';
import type { AlertKind, DeliveryResult } from '../alerts/webhook.js';

export interface ScrapeMetrics extends CallObserver {
  /** Counts an alert's fate (the alert sender's `onResult`). */
  alert(kind: AlertKind, result: DeliveryResult): void;
}

export function createScrapeMetrics(registry: Registry): ScrapeMetrics {
  const registers = [registry];
  const calls = new Counter({
    name: 'scrapeflow_scrapes_total',
    help: 'OmniScrape calls by endpoint and outcome (success, failed, submitted, pending, or an error code)',
    labelNames: ['call', 'outcome'] as const,
    registers,
  });
  const credits = new Counter({
    name: 'scrapeflow_credits_charged_total',
    help: 'Credits charged by OmniScrape (billing.charged), by method used and account label',
    labelNames: ['method', 'account'] as const,
    registers,
  });
  const balance = new Gauge({
    name: 'scrapeflow_balance_credits',
    help: 'Last billing.balance_after seen, by account label',
    labelNames: ['account'] as const,
    registers,
  });
  const inFlight = new Gauge({
    name: 'scrapeflow_omniscrape_in_flight',
    help: 'OmniScrape calls in flight now',
    labelNames: ['call'] as const,
    registers,
  });
  const rateLimited = new Counter({
    name: 'scrapeflow_rate_limited_total',
    help: 'OmniScrape answers with HTTP 429',
    labelNames: ['call'] as const,
    registers,
  });
  const retries = new Counter({
    name: 'scrapeflow_retries_total',
    help: 'OmniScrape calls made by a retried activity attempt (attempt > 1)',
    labelNames: ['call'] as const,
    registers,
  });
  const duration = new Histogram({
    name: 'scrapeflow_omniscrape_call_duration_seconds',
    help: 'Duration of OmniScrape calls',
    labelNames: ['call'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers,
  });
  const alerts = new Counter({
    name: 'scrapeflow_alerts_total',
    help: 'Webhook alerts by kind and result (sent, failed after retries, dropped on a full queue)',
    labelNames: ['kind', 'result'] as const,
    registers,
  });
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
    alert(kind, result) {
      alerts.inc({ kind, result });
    },
  };
}
