/**
 * Delivery to a real receiver on 127.0.0.1, each verified with `standardwebhooks`' Webhook.verify:
 * retries honouring Retry-After, 410 disabling the endpoint after one try, one subject in sequence
 * order, the in-flight cap, 64 KiB of an answer read, redirects not followed; a tampered body, a wrong
 * secret and an old timestamp fail verification; rotation signs with old and new secret; the SSRF
 * guard refuses metadata, private, loopback and names resolving to loopback, at add time and at
 * delivery. The filesystem store (the contract test covers both stores alike).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Webhook } from 'standardwebhooks';
import { ENV_ADMIN } from '../../src/auth/principal.js';
import { loadConfig } from '../../src/config/env.js';
import type { EventDraft } from '../../src/events/types.js';
import { redactSecrets } from '../../src/logging/secrets.js';
import { startDispatcher, type Dispatcher } from '../../src/webhooks/dispatcher.js';
import {
  addEndpoint,
  newEndpointId,
  rotateSecret,
  testEndpoint,
  type WebhookContext,
} from '../../src/webhooks/manage.js';
import { AllowList, checkEndpointUrl, isBlockedAddress } from '../../src/webhooks/ssrf.js';
import { FsWebhookStore } from '../../src/webhooks/fs-store.js';
import { nextDelay } from '../../src/webhooks/schedule.js';
import { eventually as waitUntil } from '../support/stack.js';
import {
  startWebhookReceiver,
  type Answer,
  type ReceivedRequest,
  type WebhookReceiver,
} from '../support/webhook-receiver.js';

const logger = pino({ level: 'silent' });
const LOCAL = new AllowList('127.0.0.1');
let dir: string;
let store: FsWebhookStore;
let dispatcher: Dispatcher;
const receivers: WebhookReceiver[] = [];
let n = 0;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'webhooks-delivery-'));
  store = new FsWebhookStore(dir);
  dispatcher = startDispatcher({
    store,
    logger,
    allow: LOCAL,
    retryDelays: [0, 50, 50, 50, 50],
    maxInFlight: 3,
    pollMs: 50,
  });
});
after(async () => {
  await dispatcher?.stop();
  for (const r of receivers) await r.close();
  await rm(dir, { recursive: true, force: true });
});

const eventually = (check: () => Promise<boolean>) => waitUntil(check, { intervalMs: 20, timeoutMs: 20_000 });

const ctx = (): WebhookContext => ({ store, principal: ENV_ADMIN, allow: LOCAL });

/** A receiver answering by `respond`, and an endpoint of account `a<n>` to it. */
async function setUp(respond?: (r: ReceivedRequest, n: number) => Answer, path = '/hook') {
  const receiver = await startWebhookReceiver(respond ? { respond } : {});
  receivers.push(receiver);
  const account = `a${(n += 1)}`;
  const endpoint = await addEndpoint(ctx(), { url: `${receiver.origin}${path}`, allowHttp: true, account });
  return { receiver, endpoint, account };
}

const record = (account: string, subject: string, count: number, from = 1) => {
  const drafts: EventDraft[] = Array.from({ length: count }, (_, i) => ({
    id: `${subject}/p${from + i}.completed`,
    type: 'batch.page.completed',
    account,
    subject,
    data: { batchId: subject, page: from + i },
  }));
  return store.record(drafts, new Date()).then(() => dispatcher.wake());
};

const verify = (secret: string, r: ReceivedRequest) =>
  new Webhook(secret).verify(r.body, r.headers as Record<string, string>);

describe('webhook delivery', () => {
  it('signs per Standard Webhooks; a tampered body, a wrong secret and an old timestamp fail', async () => {
    const { receiver, endpoint, account } = await setUp();
    assert.match(endpoint.secret, /^whsec_/);
    assert.equal(redactSecrets(`x ${endpoint.secret} y`), 'x [REDACTED] y');
    assert.ok(!endpoint.secretPrefix.includes(endpoint.secret.slice(10)));
    await record(account, 'sig', 1);
    const [req] = (await receiver.waitFor(1), receiver.accepted);
    assert.equal(req!.headers['webhook-id'], 'sig/p1.completed');
    assert.match(String(req!.headers['webhook-signature']), /^v1,[A-Za-z0-9+/=]+$/);
    assert.deepEqual(verify(endpoint.secret, req!), JSON.parse(req!.body));
    const event = JSON.parse(req!.body) as Record<string, unknown>;
    assert.deepEqual(Object.keys(event), ['id', 'type', 'timestamp', 'sequence', 'data']);
    assert.equal(event.sequence, 1);
    assert.throws(
      () => verify(endpoint.secret, { ...req!, body: req!.body.replace('"page":1', '"page":2') }),
      /signature/i,
    );
    const other = await addEndpoint(ctx(), { url: receiver.url, allowHttp: true, account: 'zz' });
    assert.throws(() => verify(other.secret, req!), /signature/i);
    const old = String(Math.floor(Date.now() / 1000) - 600);
    assert.throws(
      () => verify(endpoint.secret, { ...req!, headers: { ...req!.headers, 'webhook-timestamp': old } }),
      /timestamp/i,
    );
  });

  it('retries: 500 then 429 with Retry-After (waited), then delivered with the same id and body', async () => {
    const { receiver, account } = await setUp((_r, k) =>
      k === 1
        ? { status: 500 }
        : k === 2
          ? { status: 429, headers: { 'retry-after': '1' } }
          : { status: 200, body: 'ok' },
    );
    await record(account, 'retry', 1);
    await receiver.waitFor(1);
    const [a, b, c] = receiver.all;
    assert.equal(new Set([a, b, c].map((r) => r!.headers['webhook-id'])).size, 1);
    assert.equal(new Set([a, b, c].map((r) => r!.body)).size, 1, 'byte-identical body on every try');
    assert.ok(c!.at - b!.at >= 900, `Retry-After 1 s honoured (${c!.at - b!.at} ms)`);
    await eventually(
      async () => (await store.deliveries({ eventId: 'retry/p1.completed' }))[0]?.status === 'delivered',
    );
    const [delivery] = await store.deliveries({ eventId: 'retry/p1.completed' });
    assert.deepEqual(
      delivery?.log.map((x) => x.status),
      [500, 429, 200],
    );
    assert.equal(delivery?.status, 'delivered');
  });

  it('a receiver throttling with short Retry-After does not use up the schedule in seconds', async () => {
    // 3 tries over ~2 s: three 429s with Retry-After 0 come back at once; the delivery waits a step more.
    const { receiver, endpoint, account } = await setUp((_r, k) =>
      k <= 3 ? { status: 429, headers: { 'retry-after': '0' } } : { status: 200 },
    );
    const own = new FsWebhookStore(join(dir, 'throttled'));
    const throttled = startDispatcher({
      store: own,
      logger,
      allow: LOCAL,
      retryDelays: [0, 1000, 1000],
      pollMs: 50,
    });
    try {
      await own.createEndpoint((await store.getEndpoint(endpoint.id))!);
      await own.record(
        [{ id: 'throttled.completed', type: 'batch.completed', account, subject: 'throttled', data: {} }],
        new Date(),
      );
      throttled.wake();
      await receiver.waitForRequests(4);
      await eventually(
        async () => (await own.deliveries({ eventId: 'throttled.completed' }))[0]?.status === 'delivered',
      );
      // A receiver failing on the schedule still gets its tries and no more.
      assert.equal(nextDelay([0, 1000, 1000], 3, undefined, 1600), undefined);
      const extra = nextDelay([0, 1000, 1000], 3, 0, 30)!;
      assert.ok(extra >= 800 && extra <= 1200, `the last step's pace (${extra} ms)`);
    } finally {
      await throttled.stop();
    }
  });

  it('410 disables the endpoint after one try; its other events wait', async () => {
    const { receiver, endpoint, account } = await setUp(() => ({ status: 410 }));
    await record(account, 'gone', 3);
    await receiver.waitForRequests(1);
    await eventually(async () => (await store.getEndpoint(endpoint.id))?.enabled === false);
    const e = await store.getEndpoint(endpoint.id);
    assert.equal(e?.disabledReason, 'gone');
    await record(account, 'gone', 1, 4);
    const pending = await store.deliveries({ endpointId: endpoint.id, status: 'pending' });
    assert.equal(pending.length, 2, 'recorded before the 410: waiting; after it: not fanned out');
    assert.equal(receiver.requests, 1);
  });

  it('an endpoint failing for 5 days is disabled at its next failure, and says so', async () => {
    const { receiver, endpoint, account } = await setUp(() => ({ status: 500 }));
    const sixDaysAgo = new Date(Date.now() - 6 * 86_400_000).toISOString();
    await store.updateEndpoint(endpoint.id, { failingSince: sixDaysAgo });
    await record(account, 'failing', 1);
    await receiver.waitForRequests(1);
    await eventually(async () => (await store.getEndpoint(endpoint.id))?.enabled === false);
    assert.equal((await store.getEndpoint(endpoint.id))?.disabledReason, 'failing');
  });

  it("one subject's events in sequence order, a failed one holding the later ones back", async () => {
    let failedOnce = false;
    const { receiver, account } = await setUp((r) => {
      if (!failedOnce && r.headers['webhook-id'] === 'order/p2.completed') {
        failedOnce = true;
        return { status: 500 };
      }
      return { status: 204 };
    });
    await record(account, 'order', 5);
    await receiver.waitFor(5);
    assert.deepEqual(
      receiver.all.map((r) => (JSON.parse(r.body) as { sequence: number }).sequence),
      [1, 2, 2, 3, 4, 5],
    );
  });

  it('at most maxInFlight (3) deliveries to one endpoint at once', async () => {
    const { receiver, account } = await setUp(() => 'hold');
    for (let s = 0; s < 8; s += 1) await record(account, `cap${s}`, 1);
    // Each time 3 are held (the cap), answer them: the next ones come only then.
    while (receiver.all.length < 8) {
      if (receiver.held === 3) receiver.release();
      await receiver.waitForRequests(receiver.all.length + 1);
    }
    receiver.release();
    await receiver.waitFor(8);
    assert.equal(receiver.maxHeld, 3);
  });

  it('reads at most 64 KiB of an answer and follows no redirect', async () => {
    const big = Buffer.alloc(1024 * 1024, 'x');
    const { receiver, endpoint, account } = await setUp((r) =>
      r.path === '/moved'
        ? { status: 204 }
        : r.path === '/big'
          ? { status: 200, body: big }
          : { status: 302, headers: { location: '/moved' } },
    );
    const ping = await testEndpoint(ctx(), endpoint.id);
    assert.equal(ping.status, 302);
    await record(account, 'redirect', 1);
    await eventually(
      async () => (await store.deliveries({ eventId: 'redirect/p1.completed' }))[0]?.log.length === 2,
    );
    assert.ok(
      receiver.all.every((r) => r.path === '/hook'),
      'the redirect target got nothing',
    );
    const bigEndpoint = await addEndpoint(ctx(), {
      url: `${receiver.origin}/big`,
      allowHttp: true,
      account: 'big',
    });
    const answer = await testEndpoint(ctx(), bigEndpoint.id);
    assert.equal(answer.status, 200);
    assert.equal(answer.answer?.length, 64 * 1024);
  });

  it('rotate-secret: both the old and the new secret verify during the grace period', async () => {
    const { receiver, endpoint, account } = await setUp();
    const rotated = await rotateSecret(ctx(), endpoint.id, 60_000);
    await record(account, 'rotate', 1);
    const [req] = (await receiver.waitFor(1), receiver.accepted);
    assert.equal(String(req!.headers['webhook-signature']).split(' ').length, 2);
    assert.ok(verify(endpoint.secret, req!));
    assert.ok(verify(rotated.secret, req!));
  });

  it('SSRF: IPv4-compatible and -translated IPv6 refused as URL writes them; a bad allowlist CIDR is a config error', async () => {
    const none = new AllowList(undefined);
    for (const url of ['https://[::127.0.0.1]/', 'https://[::ffff:0:7f00:1]/', 'https://[fec0::1]/'])
      await assert.rejects(checkEndpointUrl(url, { allowHttp: false, allow: none }), /url: .*loopback/, url);
    // `10.0.0.0/` must not read as 10.0.0.0/0 (every address allowed).
    for (const value of ['10.0.0.0/', '10.0.0.0/33', '10.0.0.0/8x', 'hooks.internal/8'])
      assert.throws(() => new AllowList(value), /SCRAPEFLOW_WEBHOOK_ALLOW_HOSTS: .* is not a host/, value);
    assert.throws(
      () => loadConfig({ ...process.env, SCRAPEFLOW_WEBHOOK_ALLOW_HOSTS: '127.0.0.1,10.0.0.0/' }),
      /SCRAPEFLOW_WEBHOOK_ALLOW_HOSTS.*"10\.0\.0\.0\/" is not a host/,
    );
    assert.ok(new AllowList('10.1.0.0/16').address('10.1.2.3'));
  });

  it('SSRF: metadata, private, loopback and a name of loopback refused at add and at delivery', async () => {
    const none = new AllowList(undefined);
    for (const url of [
      'https://169.254.169.254/latest',
      'https://10.0.0.1/hook',
      'https://[::1]/hook',
      'https://localhost/hook',
      'https://[::ffff:127.0.0.1]/hook',
      'https://[fd00:ec2::254]/',
      'https://100.64.1.1/',
    ])
      await assert.rejects(
        checkEndpointUrl(url, { allowHttp: false, allow: none }),
        /url: .*(loopback|private)/,
        url,
      );
    await assert.rejects(
      checkEndpointUrl('http://example.com/', { allowHttp: false, allow: none }),
      /url: must be https/,
    );
    assert.ok(!isBlockedAddress('93.184.216.34'));
    await assert.rejects(
      addEndpoint(
        { store, principal: ENV_ADMIN, allow: none },
        { url: 'http://127.0.0.1:9/', allowHttp: true },
      ),
      /loopback/,
    );
    // At delivery: endpoints made past the guard (as if DNS changed after the add) get nothing.
    const receiver = await startWebhookReceiver();
    receivers.push(receiver);
    const guarded = startDispatcher({
      store: new FsWebhookStore(join(dir, 'ssrf')),
      logger,
      allow: none,
      retryDelays: [0],
      pollMs: 50,
    });
    const ssrfStore = new FsWebhookStore(join(dir, 'ssrf'));
    const port = new URL(receiver.origin).port;
    const ids: string[] = [];
    for (const host of ['localhost', '127.0.0.1', '[::ffff:127.0.0.1]']) {
      const id = newEndpointId();
      ids.push(id);
      await ssrfStore.createEndpoint({
        id,
        url: `http://${host}:${port}/hook`,
        account: 'ssrf',
        events: [],
        allowHttp: true,
        enabled: true,
        createdAt: new Date().toISOString(),
        secrets: [{ secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' }],
      });
    }
    await ssrfStore.record(
      [{ id: 'ssrf.started', type: 'batch.started', account: 'ssrf', subject: 'ssrf', data: {} }],
      new Date(),
    );
    guarded.wake();
    await eventually(
      async () => (await ssrfStore.deliveries({ eventId: 'ssrf.started', status: 'failed' })).length === 3,
    );
    await guarded.stop();
    const tries = await ssrfStore.deliveries({ eventId: 'ssrf.started' });
    for (const t of tries) assert.match(t.log[0]?.error ?? '', /loopback/, t.endpointId);
    assert.equal(receiver.requests, 0);
  });
});
