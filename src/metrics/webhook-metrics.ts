/**
 * Webhook delivery metrics of a dispatching process: tries by outcome (a counter of this process), and
 * the outbox's deliveries by status and the disabled endpoints (gauges read from the store at each
 * scrape, so every dispatcher reports the same fleet-wide figures). Names are in docs/webhooks.md.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { TryOutcome } from '../webhooks/dispatcher.js';
import type { WebhookStore } from '../webhooks/types.js';

export function createWebhookMetrics(registry: Registry, store: WebhookStore) {
  const tries = new Counter({
    name: 'scrapeflow_webhook_tries_total',
    help: 'Webhook delivery tries by outcome (delivered, retry, failed: no tries left, disabled: the endpoint was disabled)',
    labelNames: ['outcome'],
    registers: [registry],
  });
  new Gauge({
    name: 'scrapeflow_webhook_deliveries',
    help: 'Webhook deliveries in the outbox by status (pending, delivered, failed)',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      const counts = await store.counts().catch(() => undefined);
      if (!counts) return;
      for (const status of ['pending', 'delivered', 'failed'] as const) this.set({ status }, counts[status]);
    },
  });
  new Gauge({
    name: 'scrapeflow_webhook_endpoints_disabled',
    help: 'Webhook endpoints disabled (by hand, a 410, or 5 days of failures)',
    registers: [registry],
    async collect() {
      const counts = await store.counts().catch(() => undefined);
      if (counts) this.set(counts.disabledEndpoints);
    },
  });
  return { onTry: (outcome: TryOutcome) => tries.inc({ outcome }) };
}
