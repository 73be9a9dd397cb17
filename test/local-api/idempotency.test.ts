import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { startDemoSite, type DemoSite } from '../../devkit/demo-site/index.js';
import type { LocalApiHandle } from '../../devkit/local-api/index.js';
import { Http, page, startApi } from './helpers.js';

const KEY = 'sk-idempotent-main';

describe('local API: idempotent sync scrapes', () => {
  const http = new Http();
  let demo: DemoSite;
  let api: LocalApiHandle;
  before(async () => {
    demo = await startDemoSite({});
    api = await startApi({ accounts: [{ id: 'main', key: KEY, balance: 100, concurrency: 2 }] });
  });
  after(async () => {
    await api.close();
    await demo.close();
    await http.close();
  });

  const scrape = (n: number, key?: string) =>
    http.call(`${api.url}/scrape`, {
      key: KEY,
      json: { url: page(demo.origin, n), mode: 'fast' },
      ...(key ? { headers: { 'idempotency-key': key } } : {}),
    });

  it('answers a repeated Idempotency-Key with the delivered answer, without work or a second charge', async () => {
    const first = await scrape(1, 'batch-1/0');
    assert.equal(first.status, 200);
    // The answer is kept once it has been written out (bounded wait for the server's 'finish').
    for (let i = 0; i < 1000 && api.state.replays.get('main', 'batch-1/0') === undefined; i++)
      await nextTurn();
    const pagesBefore = demo.counters().pages.product;
    const again = await scrape(1, 'batch-1/0');
    assert.deepEqual(again.body, first.body);
    const counters = api.state.counters.snapshot();
    assert.equal(counters.credits.charged_total, 1, 'charged once');
    assert.equal(counters.endpoints.scrape.replayed, 1);
    assert.equal(demo.counters().pages.product, pagesBefore, 'the target was not fetched again');
  });

  it('does the work again for another key or without one', async () => {
    await scrape(2, 'batch-1/1');
    await scrape(2);
    await scrape(2);
    assert.equal(api.state.counters.snapshot().credits.charged_total, 4);
  });
});
