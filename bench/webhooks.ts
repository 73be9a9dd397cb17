/**
 * Webhooks never slow a batch: one batch's wall time with no endpoint, with an endpoint that is down
 * throughout (connections refused: every event is retried on the schedule) and with a healthy one
 * (every event delivered), in the same run on the same stack. Target: both ≥ 0.95 × no endpoint.
 * Each condition runs three times, rotated (none, down, healthy; down, healthy, none; healthy, none,
 * down), so a drift of the machine over the run weighs on each alike; the medians are compared.
 *
 * N = BENCH_WEBHOOK_URLS (default 1000) URLs at L = 200 ms, C = 20, pageSize 50 (20 page events and
 * started/completed per batch).
 */
import { ENV_ADMIN } from '../src/auth/principal.js';
import { freePort } from '../devkit/temporal/dev-server.js';
import { addEndpoint, removeEndpoint, type WebhookContext } from '../src/webhooks/manage.js';
import { AllowList } from '../src/webhooks/ssrf.js';
import { webhookStoreOf } from '../src/webhooks/store.js';
import { startStack } from '../test/support/stack.js';
import { startWebhookReceiver } from '../test/support/webhook-receiver.js';
import { timedBatch } from './timed-batch.js';

export const name = 'webhooks';

const URLS = Number(process.env.BENCH_WEBHOOK_URLS ?? 1000);
const LIMIT = 20;
const LATENCY_MS = 200;
const PAGE_SIZE = 50;

type Condition = 'none' | 'down' | 'healthy';
const ORDER: Condition[] = ['none', 'down', 'healthy', 'down', 'healthy', 'none', 'healthy', 'none', 'down'];

export async function run(): Promise<Record<string, unknown>> {
  const stack = await startStack({
    concurrency: LIMIT,
    workerEnv: { SCRAPEFLOW_WEBHOOK_ALLOW_HOSTS: '127.0.0.1' },
  });
  const receiver = await startWebhookReceiver();
  try {
    await stack.startWorker();
    await stack.admin('PUT', '/admin/faults', {
      rules: [{ match: `${stack.demoOrigin}/p/*`, action: 'latency', latencyMs: LATENCY_MS }],
    });
    const ctx: WebhookContext = {
      store: webhookStoreOf(stack.store)!,
      principal: ENV_ADMIN,
      allow: new AllowList('127.0.0.1'),
    };
    const downUrl = `http://127.0.0.1:${await freePort()}/down`;
    const urls = (offset: number) =>
      Array.from({ length: URLS }, (_, i) => `${stack.demoOrigin}/p/${offset + i + 1}`);
    const batch = (id: string, offset: number) =>
      timedBatch(stack, id, urls(offset), { mode: 'fast', pageSize: PAGE_SIZE });
    await batch('webhooks-warm', 900_000);
    const seconds: Record<Condition, number[]> = { none: [], down: [], healthy: [] };
    let round = 0;
    for (const condition of ORDER) {
      round += 1;
      const endpoint =
        condition === 'none'
          ? undefined
          : await addEndpoint(ctx, { url: condition === 'down' ? downUrl : receiver.url, allowHttp: true });
      const result = await batch(`webhooks-${condition}-${round}`, round * 10_000);
      seconds[condition].push(result.seconds);
      process.stderr.write(`webhooks ${condition}: ${result.seconds.toFixed(1)} s\n`);
      if (endpoint) await removeEndpoint(ctx, endpoint.id);
    }
    const median = (c: Condition) =>
      [...seconds[c]].sort((a, b) => a - b)[Math.floor(seconds[c].length / 2)]!;
    const ratio = (c: Condition) => +(median('none') / median(c)).toFixed(3);
    return {
      target:
        'batch wall time with an endpoint down throughout, and with a healthy one: >= 0.95 x no endpoint',
      met: ratio('down') >= 0.95 && ratio('healthy') >= 0.95,
      ratioDown: ratio('down'),
      ratioHealthy: ratio('healthy'),
      seconds: Object.fromEntries(Object.entries(seconds).map(([c, s]) => [c, s.map((x) => +x.toFixed(1))])),
      urls: URLS,
      latencyMs: LATENCY_MS,
      limit: LIMIT,
      pageSize: PAGE_SIZE,
      /** Deliveries the healthy receiver accepted (each healthy batch's events; 0 before h1's emission). */
      delivered: receiver.accepted.length,
    };
  } finally {
    await receiver.close();
    await stack.stop();
  }
}
