/**
 * Webhooks under chaos (DESIGN.md invariant 9: every event reaches every subscribed, enabled endpoint at
 * least once, with the same id on every try). A 2,000-URL batch (pageSize 250: started, 8 pages,
 * completed) on PostgreSQL, while the workflows worker (which also dispatches) and the scrape worker are
 * SIGKILLed once each and the Temporal server is restarted once. Endpoint A's receiver refuses
 * connections (nothing listens on its port), then answers 500, then 429 with `Retry-After: 2`, then 2xx;
 * endpoint B answers 410 and is disabled after its first delivery.
 *
 * The receiver's phases follow events, not the clock: it refuses until the batch has ended and its
 * events are all recorded (a receiver down for the whole batch, longer than the 60 s on this
 * machine), then answers 500 to 3 tries and 429 to 5, then 2xx. Each phase is thereby met by a known
 * number of tries whatever the machine's speed; the retry delays are shortened
 * (SCRAPEFLOW_WEBHOOK_RETRY_DELAYS) so the day-long schedule fits in minutes.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { ENV_ADMIN } from '../../src/auth/principal.js';
import { startBatch } from '../../src/client/batches.js';
import { getProgress } from '../../src/client/progress.js';
import { AllowList } from '../../src/webhooks/ssrf.js';
import { addEndpoint, type WebhookContext } from '../../src/webhooks/manage.js';
import { webhookStoreOf } from '../../src/webhooks/store.js';
import type { WebhookStore } from '../../src/webhooks/types.js';
import type { BatchProgress } from '../../src/workflows/types.js';
import { freePort } from '../../devkit/temporal/dev-server.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { eventually, startStack, type Stack, type WorkerQueue } from '../support/stack.js';
import {
  startWebhookReceiver,
  type ReceivedRequest,
  type WebhookReceiver,
} from '../support/webhook-receiver.js';
import { PLAN_LIMIT, SUITE_TIMEOUT_MS, doneOf, say } from './shared.js';

const TOTAL = Number(process.env.CHAOS_URLS ?? 2000);
const PAGE_SIZE = 250;
const BATCH = 'chaos-webhooks';
/**
 * Quick first tries, then every 5 s for longer than the suite may run: the refusal lasts as long as the
 * batch, however slow the machine.
 */
const RETRY_DELAYS = [
  '0',
  '500',
  '1000',
  '2000',
  '4000',
  ...Array<string>(SUITE_TIMEOUT_MS / 5000).fill('5000'),
].join(',');
const DB_FILE = join(tmpdir(), `scrapeflow-chaos-webhooks-${process.pid}.db`);

let stack: Stack;
let database: TestDatabase;
let store: WebhookStore;
let port: number;
let receiver: WebhookReceiver | undefined;
let gone: WebhookReceiver;

before(async () => {
  database = await createTestDatabase('sf_chaos_hooks');
  stack = await startStack({
    concurrency: PLAN_LIMIT,
    databaseUrl: database.url,
    devServer: { port: await freePort(), dbFile: DB_FILE },
    workerEnv: { SCRAPEFLOW_WEBHOOK_ALLOW_HOSTS: '127.0.0.1', SCRAPEFLOW_WEBHOOK_RETRY_DELAYS: RETRY_DELAYS },
  });
  await stack.startWorker({}, 'workflows');
  await stack.startWorker({}, 'scrape');
  store = webhookStoreOf(stack.store)!;
  port = await freePort();
  gone = await startWebhookReceiver({ respond: () => ({ status: 410 }) });
});
after(async () => {
  await receiver?.close();
  await gone?.close();
  await stack?.stop();
  await database?.drop();
  await rm(DB_FILE, { force: true });
});

async function killAndReplace(queue: WorkerQueue): Promise<void> {
  const live = stack.workers.filter(
    (w) => w.queue === queue && w.child.exitCode === null && w.child.signalCode === null,
  );
  await live.at(-1)!.kill('SIGKILL');
  await stack.startWorker({}, queue);
}

const progressAt = (fraction: number) =>
  eventually(
    async () => {
      const p = await getProgress(stack.client, stack.store, BATCH);
      return doneOf(p) >= TOTAL * fraction || p.state !== 'running' ? p : undefined;
    },
    { timeoutMs: SUITE_TIMEOUT_MS, intervalMs: 200, what: `${fraction * 100} % of the batch` },
  );

describe('chaos: webhooks', { timeout: SUITE_TIMEOUT_MS }, () => {
  it('every event reaches endpoint A once verified, in order, same id and body on every try; B is disabled by its 410', async () => {
    const ctx: WebhookContext = { store, principal: ENV_ADMIN, allow: new AllowList('127.0.0.1') };
    const a = await addEndpoint(ctx, { url: `http://127.0.0.1:${port}/a`, allowHttp: true });
    const b = await addEndpoint(ctx, { url: `${gone.origin}/b`, allowHttp: true, events: ['batch.*'] });

    const started = performance.now();
    const { handle } = await startBatch(stack.client, stack.store, {
      batchId: BATCH,
      urls: Array.from({ length: TOTAL }, (_, i) => ({ url: `${stack.demoOrigin}/p/${i + 1}` })),
      options: { mode: 'fast', pageSize: PAGE_SIZE },
      plan: stack.plan,
    });
    await progressAt(0.25);
    await killAndReplace('workflows');
    await progressAt(0.45);
    await killAndReplace('scrape');
    await progressAt(0.65);
    await stack.restartTemporal();
    const final = (await handle.result()) as BatchProgress;
    const batchSeconds = (performance.now() - started) / 1000;
    assert.equal(final.state, 'completed');
    assert.equal(doneOf(final), TOTAL);

    const pages = Math.ceil(TOTAL / PAGE_SIZE);
    const expected = [
      `${BATCH}.started`,
      ...Array.from({ length: pages }, (_, k) => `${BATCH}/p${k}.completed`),
      `${BATCH}.completed`,
    ].sort();
    // Every event recorded and fanned out to A while its receiver was down; the first tried and refused.
    await eventually(
      async () =>
        (await store.deliveries({ endpointId: a.id, limit: 1000 })).length >= expected.length || undefined,
      { timeoutMs: 60_000, what: "the batch's events recorded" },
    );
    const refused = (await store.deliveries({ endpointId: a.id, eventId: `${BATCH}.started` }))[0]!;
    assert.ok(
      refused.log.length >= 1 && refused.log.every((t) => /ECONNREFUSED/.test(t.error ?? '')),
      JSON.stringify(refused.log),
    );

    // The receiver comes up: 3 × 500, 5 × 429 (Retry-After: 2), then 2xx.
    receiver = await startWebhookReceiver({
      port,
      respond: (_r, n) =>
        n <= 3
          ? { status: 500 }
          : n <= 8
            ? { status: 429, headers: { 'retry-after': '2' } }
            : { status: 204 },
    });
    const up = performance.now();
    await eventually(
      () =>
        Promise.resolve(
          new Set(receiver!.accepted.map((r) => r.headers['webhook-id'])).size >= expected.length ||
            undefined,
        ),
      { timeoutMs: 5 * 60_000, intervalMs: 200, what: 'every event accepted by A' },
    );
    const deliveredSeconds = (performance.now() - up) / 1000;

    const ids = (list: ReceivedRequest[]) =>
      [...new Set(list.map((r) => String(r.headers['webhook-id'])))].sort();
    const batchEvents = (list: ReceivedRequest[]) =>
      list.filter((r) => String(r.headers['webhook-id']).startsWith(BATCH));
    assert.deepEqual(
      ids(batchEvents(receiver.accepted)),
      expected,
      'the distinct webhook-ids are the expected set',
    );
    const bodies = new Map<string, string>();
    for (const r of receiver.all) {
      const id = String(r.headers['webhook-id']);
      assert.equal(bodies.get(id) ?? r.body, r.body, `every try of ${id} carries the same body`);
      bodies.set(id, r.body);
      new Webhook(a.secret).verify(r.body, r.headers as Record<string, string>);
    }
    const sequences = batchEvents(receiver.accepted).map(
      (r) => (JSON.parse(r.body) as { sequence: number }).sequence,
    );
    assert.deepEqual(
      sequences,
      Array.from({ length: expected.length }, (_, i) => i + 1),
      'in order, without a gap',
    );
    const retryAfterGaps = receiver.all
      .slice(3, 9)
      .map((r, i, all) => (i ? r.at - all[i - 1]!.at : 0))
      .slice(1);
    assert.ok(
      retryAfterGaps.every((g) => g >= 1800 && g < 4800),
      `Retry-After: 2 honoured: ${retryAfterGaps.join(', ')} ms`,
    );

    // B: one delivery, a 410, disabled; nothing more after it.
    assert.equal(gone.requests, 1);
    const disabled = await store.getEndpoint(b.id);
    assert.deepEqual([disabled?.enabled, disabled?.disabledReason], [false, 'gone']);

    say(
      `webhooks: batch ${batchSeconds.toFixed(0)} s with its receiver down throughout (workflows and scrape worker ` +
        `SIGKILLed, Temporal restarted); ${refused.log.length} refused tries of the first event; all ` +
        `${expected.length} events delivered ${deliveredSeconds.toFixed(0)} s after the receiver came up ` +
        `(${receiver.requests} requests: 3 × 500, 5 × 429); endpoint B disabled after 1 delivery (410)`,
    );
  });
});
