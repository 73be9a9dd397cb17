import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startDemoSite, type DemoSite } from '../../devkit/demo-site/index.js';
import type { LocalApiHandle } from '../../devkit/local-api/index.js';
import { ADMIN, Http, page, quiet, startApi } from './helpers.js';
import { startLocalApi } from '../../devkit/local-api/index.js';

const KEY = 'sk-admin-secret-key';

describe('local API: admin endpoints', () => {
  const http = new Http();
  let demo: DemoSite;
  let api: LocalApiHandle;
  let noAdmin: LocalApiHandle;

  before(async () => {
    demo = await startDemoSite({});
    api = await startApi({
      accounts: [
        { id: 'team-a', key: KEY, balance: 50, concurrency: 3 },
        { id: 'team-b', key: 'sk-admin-other-key', balance: 7, concurrency: 1 },
      ],
      faults: [{ id: 'from-config', match: '*/p/999', action: 'status', status: 503, first: 1 }],
    });
    noAdmin = await startLocalApi({
      accounts: [{ id: 'x', key: 'sk-x-key', balance: 1, concurrency: 1 }],
      logger: quiet,
    });
  });
  after(async () => {
    await Promise.all([api.close(), noAdmin.close(), demo.close()]);
    await http.close();
  });

  it('requires the bearer token, and does not exist without one', async () => {
    for (const token of [undefined, 'wrong-token', `${ADMIN}x`]) {
      const res = await http.call(`${api.origin}/admin/counters`, { token });
      assert.equal(res.status, 401);
    }
    const key = await http.call(`${api.origin}/admin/accounts`, { key: KEY });
    assert.equal(key.status, 401, 'an API key is not an admin token');
    assert.equal((await http.call(`${noAdmin.origin}/admin/counters`, { token: ADMIN })).status, 404);
  });

  it('lists accounts with balances and limits, never keys', async () => {
    const res = await http.admin(api, 'GET', '/accounts');
    assert.deepEqual(res.body, {
      accounts: [
        { id: 'team-a', balance: 50, concurrency: 3, active: 0, active_sync: 0 },
        { id: 'team-b', balance: 7, concurrency: 1, active: 0, active_sync: 0 },
      ],
    });
    const everything = JSON.stringify([res.body, (await http.admin(api, 'GET', '/counters')).body]);
    assert.ok(!everything.includes(KEY));
  });

  it('sets and tops up balances, naming bad fields', async () => {
    assert.deepEqual((await http.admin(api, 'POST', '/balance', { account: 'team-b', balance: 20 })).body, {
      id: 'team-b',
      balance: 20,
      concurrency: 1,
      active: 0,
      active_sync: 0,
    });
    assert.equal((await http.admin(api, 'POST', '/balance', { account: 'team-b', add: 5 })).body.balance, 25);
    assert.equal(api.state.accounts.byId('team-b')?.balance, 25);
    const unknown = await http.admin(api, 'POST', '/balance', { account: 'nobody', balance: 1 });
    assert.equal(unknown.status, 404);
    const bad = await http.admin(api, 'POST', '/balance', { account: 'team-b', balance: -1 });
    assert.equal(bad.status, 400);
  });

  it('applies fault rules from the configuration', async () => {
    const res = await http.scrape(api, KEY, { url: page(demo.origin, 999), mode: 'fast' });
    assert.equal(res.status, 503);
    assert.equal((await http.scrape(api, KEY, { url: page(demo.origin, 999), mode: 'fast' })).status, 200);
  });

  it('reports counters and resets them', async () => {
    const before = (await http.admin(api, 'GET', '/counters')).body as {
      outcomes: Record<string, number>;
      credits: { charged_total: number; charged_by_account: Record<string, number> };
      faults_fired: Record<string, number>;
      concurrency: { peak_by_account: Record<string, number> };
    };
    assert.deepEqual(before.outcomes, { '200_success': 1, '503': 1 });
    assert.deepEqual(before.credits, { charged_total: 1, charged_by_account: { 'team-a': 1 } });
    assert.deepEqual(before.faults_fired, { 'from-config': 1 });
    assert.deepEqual(before.concurrency.peak_by_account, { 'team-a': 1 });
    const reset = (await http.admin(api, 'POST', '/counters/reset')).body as {
      outcomes: unknown;
      credits: unknown;
    };
    assert.deepEqual(reset.outcomes, {});
    assert.deepEqual(reset.credits, { charged_total: 0, charged_by_account: {} });
  });
});
