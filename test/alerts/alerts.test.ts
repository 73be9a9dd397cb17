import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/logging/logger.js';
import { createAlertSender, type DeliveryResult } from '../../src/alerts/webhook.js';
import { createBalanceWatcher } from '../../src/alerts/balance-watcher.js';
import { startWebhookReceiver } from '../support/webhook-receiver.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n'))
        if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { lines, logger: createLogger({ name: 'test', level: 'debug', destination }) };
}

describe('alert webhook sender', () => {
  it('retries a failing webhook with backoff until it accepts, and keeps its URL out of logs', async (t) => {
    const receiver = await startWebhookReceiver({ failFirst: 2 });
    t.after(() => receiver.close());
    const { lines, logger } = capture();
    const results: DeliveryResult[] = [];
    const sender = createAlertSender({
      url: receiver.url,
      logger,
      baseDelayMs: 10,
      onResult: (_k, r) => results.push(r),
    });
    sender.send('paused', { reason: 'balance', account: 'acme', batchId: 'b-1' });
    const [alert] = await receiver.waitFor(1);
    assert.equal(receiver.requests, 3);
    assert.equal(alert?.kind, 'paused');
    assert.equal(alert?.reason, 'balance');
    assert.equal(alert?.account, 'acme');
    assert.ok(!Number.isNaN(Date.parse(String(alert?.time))));
    await sender.close();
    assert.deepEqual(results, ['sent']);
    assert.equal(lines.filter((l) => l.msg === 'alert webhook failed; retrying').length, 2);
    assert.ok(!JSON.stringify(lines).includes('secret-token'), 'the webhook URL is redacted');
  });

  it('never blocks the caller: a bounded queue drops what does not fit, and a dead webhook is given up', async () => {
    const { logger } = capture();
    const results: DeliveryResult[] = [];
    const sender = createAlertSender({
      url: 'http://127.0.0.1:9/unreachable',
      logger,
      queueLimit: 2,
      maxAttempts: 2,
      baseDelayMs: 10,
      onResult: (_k, r) => results.push(r),
    });
    for (let i = 0; i < 5; i++) sender.send('low_balance', { balance: i });
    assert.deepEqual(results, ['dropped', 'dropped'], 'send returned before any delivery was tried');
    await sender.close(10_000);
    // One in delivery, two queued, two dropped; the three tried ones fail after their retries.
    assert.deepEqual([...results].sort(), ['dropped', 'dropped', 'failed', 'failed', 'failed']);
  });
});

describe('low-balance watcher', () => {
  it('alerts once per crossing per account, and re-arms after a top-up above threshold plus margin', () => {
    const { lines, logger } = capture();
    const sent: Record<string, unknown>[] = [];
    const watcher = createBalanceWatcher({
      threshold: 100,
      rearmMargin: 10,
      logger,
      alerts: { send: (kind, payload) => sent.push({ kind, ...payload }), close: async () => {} },
    });
    const ctx = { account: 'acme', batchId: 'b-1' };
    for (const balance of [150, 120, 99, 98, 101, 97, 50]) watcher.observe(balance, ctx);
    assert.equal(sent.length, 1, 'answers arriving out of order around the threshold do not re-fire');
    assert.deepEqual(sent[0], {
      kind: 'low_balance',
      account: 'acme',
      balance: 99,
      threshold: 100,
      batchId: 'b-1',
    });
    watcher.observe(95, { account: 'other', batchId: 'b-2' });
    assert.equal(sent.length, 2, 'accounts are independent');
    watcher.observe(500, ctx); // top-up
    watcher.observe(90, ctx);
    assert.equal(sent.length, 3);
    assert.equal(lines.filter((l) => l.event === 'low_balance' && l.level === 40).length, 3);
  });
});
