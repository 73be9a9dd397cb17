import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/logging/logger.js';
import { createBalanceWatcher } from '../../src/alerts/balance-watcher.js';
import { checkEventData } from '../../src/events/catalogue.js';
import { memoryEventSink } from '../support/event-sink.js';

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

describe('low-balance watcher', () => {
  it('records one account.low_balance per crossing per account, re-armed by a top-up above threshold plus margin', () => {
    const { lines, logger } = capture();
    const events = memoryEventSink();
    const at = new Date('2026-03-01T10:15:00Z');
    const watcher = createBalanceWatcher({ threshold: 100, rearmMargin: 10, logger, events, now: () => at });
    const ctx = { account: 'acme', batchId: 'b-1' };
    for (const balance of [150, 120, 99, 98, 101, 97, 50]) watcher.observe(balance, ctx);
    assert.equal(events.calls.length, 1, 'answers arriving out of order around the threshold do not re-fire');
    assert.deepEqual(events.calls[0], {
      id: 'account:acme.low_balance.100.2026-03-01T10',
      type: 'account.low_balance',
      account: 'acme',
      subject: 'account:acme',
      data: { account: 'acme', balance: 99, threshold: 100, batchId: 'b-1' },
    });
    assert.deepEqual(checkEventData('account.low_balance', events.calls[0].data), []);
    watcher.observe(95, { account: 'other', batchId: 'b-2' });
    assert.equal(events.calls.length, 2, 'accounts are independent');
    watcher.observe(500, ctx); // top-up
    watcher.observe(90, ctx);
    assert.equal(events.calls.length, 3);
    assert.equal(
      events.calls[2]!.id,
      events.calls[0].id,
      'the same hour: the same id, one event in the sink',
    );
    assert.equal(lines.filter((l) => l.event === 'low_balance' && l.level === 40).length, 3);
  });

  it('a sink that fails re-arms: the next answer below the threshold records the crossing again', async () => {
    const { logger } = capture();
    const events = memoryEventSink();
    const watcher = createBalanceWatcher({ threshold: 100, logger, events });
    events.failNext(1);
    watcher.observe(80, { account: 'acme', batchId: 'b-1' });
    await new Promise((resolve) => setImmediate(resolve)); // the rejection's handler runs
    assert.equal(events.calls.length, 0);
    watcher.observe(79, { account: 'acme', batchId: 'b-1' });
    assert.equal(events.calls.length, 1);
    assert.equal(events.calls[0]!.data.balance, 79);
  });
});
