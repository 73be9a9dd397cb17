import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startDemoSite, type DemoSite } from '../../devkit/demo-site/index.js';
import { fractionHash, type FaultRuleView, type LocalApiHandle } from '../../devkit/local-api/index.js';
import { Http, type Answer, firings, outcomes, page, startApi } from './helpers.js';

const KEY = 'sk-faults-main';
const LIMIT = 3;

describe('local API: fault injection, concurrency and charging on delivery', () => {
  const http = new Http();
  let demo: DemoSite;
  let api: LocalApiHandle;

  before(async () => {
    demo = await startDemoSite({});
    api = await startApi({
      accounts: [{ id: 'main', key: KEY, balance: 10_000, concurrency: LIMIT }],
      retryAfterSec: 1,
    });
  });
  after(async () => {
    await api.close();
    await demo.close();
    await http.close();
  });
  beforeEach(async () => {
    await http.admin(api, 'PUT', '/faults', { rules: [] });
    await http.admin(api, 'POST', '/counters/reset');
  });

  it('forces each status for the first N matching requests, then lets requests through', async () => {
    for (const status of [401, 402, 429, 500, 502, 503] as const) {
      const url = page(demo.origin, 100 + status);
      await http.admin(api, 'PUT', '/faults', [
        { match: url, action: 'status', status, first: 2, retryAfterSec: 7 },
      ]);
      const balance = api.state.accounts.byId('main')?.balance;
      for (let i = 0; i < 2; i++) {
        const res = await http.scrape(api, KEY, { url, mode: 'fast' });
        assert.equal(res.status, status);
        assert.equal(res.headers['retry-after'], status === 429 ? '7' : undefined);
      }
      assert.equal(api.state.accounts.byId('main')?.balance, balance, 'faults are not charged');
      const ok = await http.scrape(api, KEY, { url, mode: 'fast' });
      assert.equal(ok.status, 200);
      assert.equal(ok.body.success, true);
    }
    const counters = api.state.counters.snapshot();
    assert.deepEqual(counters.endpoints.scrape, {
      '401': 2,
      '402': 2,
      '429': 2,
      '500': 2,
      '502': 2,
      '503': 2,
      '200_success': 6,
    });
    const rules = (await http.admin<{ rules: FaultRuleView[] }>(api, 'GET', '/faults')).body.rules;
    assert.equal(rules[0]?.matched, 3);
    assert.equal(rules[0]?.fired, 2);
  });

  it('answers success:false with HTTP 200 and charges nothing', async () => {
    await http.admin(api, 'POST', '/faults', { match: '*/p/42', action: 'success_false' });
    const res = await http.scrape(api, KEY, { url: page(demo.origin, 42) });
    assert.equal(res.status, 200);
    assert.equal(res.body.success, false);
    assert.equal(res.body.error, 'injected_failure');
    assert.equal((res.body.billing as { charged: number }).charged, 0);
  });

  it('adds latency and then does the work', async () => {
    await http.admin(api, 'POST', '/faults', { match: '/\\/p\\/43$/', action: 'latency', latencyMs: 150 });
    const started = performance.now();
    const res = await http.scrape(api, KEY, { url: page(demo.origin, 43), mode: 'fast' });
    assert.ok(performance.now() - started >= 150);
    assert.equal(res.body.success, true);
  });

  it('fires a seeded fraction deterministically, whatever the arrival order', async () => {
    const rule = { match: `${demo.origin}/p/*`, action: 'status', status: 500, fraction: 0.5, seed: 42 };
    const urls = Array.from({ length: 16 }, (_, i) => page(demo.origin, 200 + i));
    const expected = urls.filter((u) => fractionHash(42, u, 0) < 0.5);
    assert.ok(expected.length > 0 && expected.length < urls.length, 'the seed picks some, not all');
    const faulted = async (order: string[]): Promise<string[]> => {
      await http.admin(api, 'PUT', '/faults', [rule]);
      const hit: string[] = [];
      for (const url of order) {
        const res = await http.scrape(api, KEY, { url, mode: 'fast' });
        if (res.status === 500) hit.push(url);
        else assert.equal(res.status, 200);
      }
      return hit.sort();
    };
    assert.deepEqual(await faulted(urls), [...expected].sort());
    assert.deepEqual(await faulted([...urls].reverse()), [...expected].sort());
  });

  it('refuses requests above the concurrency limit with 429 and Retry-After, exactly', async () => {
    // The first LIMIT requests to reach the rule hang, holding every slot; the rest must get 429.
    await http.admin(api, 'POST', '/faults', { id: 'hold', match: '*/p/5*', action: 'hang', first: LIMIT });
    const controllers = Array.from({ length: 2 * LIMIT }, () => new AbortController());
    const held = firings(api, LIMIT);
    const answered: Answer[] = [];
    let allAnswered: () => void = () => {};
    const refused = new Promise<void>((resolve) => (allAnswered = resolve));
    const pending = controllers.map((c, i) =>
      http.scrape(api, KEY, { url: page(demo.origin, 50 + i), mode: 'fast' }, c.signal).then(
        (answer) => {
          answered.push(answer);
          if (answered.length === LIMIT) allAnswered();
        },
        () => undefined, // the held requests, aborted below
      ),
    );
    await Promise.all([held, refused]);
    const counters = api.state.counters.snapshot();
    assert.equal(counters.concurrency.current_by_account.main, LIMIT);
    assert.equal(counters.concurrency.peak_by_account.main, LIMIT);
    assert.equal(counters.endpoints.scrape['429'], LIMIT);
    assert.deepEqual(counters.concurrency.refused_over_plan_by_account, { main: LIMIT });
    assert.deepEqual(counters.concurrency.refused_for_jobs_by_account, {});
    for (const a of answered) {
      assert.equal(a.status, 429);
      assert.equal(a.headers['retry-after'], '1');
      assert.equal(a.body.error, 'rate_limited');
    }
    const closed = outcomes(api, 'scrape', 'client_closed', LIMIT);
    for (const c of controllers) c.abort();
    await Promise.all(pending);
    assert.equal(answered.length, LIMIT, 'the held requests never got an answer');
    await closed;
    assert.equal(api.state.accounts.byId('main')?.active, 0);
    const after = await http.scrape(api, KEY, { url: page(demo.origin, 50), mode: 'fast' });
    assert.equal(after.status, 200, 'slots are free again');
  });

  it('charges nothing when the client goes away before its answer is written', async () => {
    const balance = api.state.accounts.byId('main')?.balance;
    // Held by a latency fault …
    await http.admin(api, 'PUT', '/faults', [{ match: '*/p/60', action: 'latency', latencyMs: 60_000 }]);
    const controller = new AbortController();
    const fired = firings(api, 1);
    const closed = outcomes(api, 'scrape', 'client_closed', 1);
    const pending = http
      .scrape(api, KEY, { url: page(demo.origin, 60) }, controller.signal)
      .catch((e: Error) => e);
    await fired;
    controller.abort();
    assert.ok((await pending) instanceof Error);
    await closed;
    // … and in the middle of a real fetch of a slow target.
    demo.resetCounters();
    const slow = new AbortController();
    const closedSlow = outcomes(api, 'scrape', 'client_closed', 1);
    const pendingSlow = http
      .scrape(api, KEY, { url: `${demo.origin}/slow/1?ms=60000`, mode: 'fast' }, slow.signal)
      .catch((e: Error) => e);
    await demo.waitForCounters((c) => c.pages.slow >= 1);
    slow.abort();
    assert.ok((await pendingSlow) instanceof Error);
    await closedSlow;
    await demo.waitForCounters((c) => c.slowAborted >= 1); // the target fetch was abandoned too
    assert.equal(api.state.accounts.byId('main')?.balance, balance);
    const counters = api.state.counters.snapshot();
    assert.equal(counters.credits.charged_total, 0);
    assert.equal(counters.endpoints.scrape.client_closed, 2);
    assert.equal(api.state.accounts.byId('main')?.active, 0);
    assert.equal(api.state.accounts.byId('main')?.reserved, 0);
  });

  it('validates rules on the admin endpoint, naming the field', async () => {
    const cases: Array<[unknown, string]> = [
      [{ match: '*', action: 'status' }, 'status'],
      [{ match: '*', action: 'status', status: 418 }, 'status'],
      [{ match: '*', action: 'latency' }, 'latencyMs'],
      [{ match: '*', action: 'explode' }, 'action'],
      [{ match: '/(/', action: 'hang' }, 'match'],
      [{ match: '*', action: 'hang', fraction: 2 }, 'fraction'],
      [
        [
          { match: '*', action: 'hang' },
          { match: '*', action: 'hang', endpoints: ['nope'] },
        ],
        '1.endpoints.0',
      ],
      [{ rules: [{ match: '*', action: 'hang', extra: 1 }] }, 'rules.0.extra'],
    ];
    for (const [json, field] of cases) {
      const res = await http.admin(api, 'POST', '/faults', json);
      assert.equal(res.status, 400, JSON.stringify(json));
      assert.equal(res.body.field, field, JSON.stringify(json));
    }
    const dup = await http.admin(api, 'POST', '/faults', [
      { id: 'x', match: '*', action: 'hang' },
      { id: 'x', match: '*', action: 'hang' },
    ]);
    assert.equal(dup.status, 400);
    assert.equal(dup.body.field, 'id');
    assert.deepEqual((await http.admin(api, 'GET', '/faults')).body, { rules: [] });
  });

  it('adds, replaces and deletes rules at run time', async () => {
    await http.admin(api, 'POST', '/faults', { id: 'a', match: '*/a', action: 'hang' });
    await http.admin(api, 'POST', '/faults?replace=false', [{ id: 'b', match: '*/b', action: 'hang' }]);
    const ids = async () =>
      (await http.admin<{ rules: FaultRuleView[] }>(api, 'GET', '/faults')).body.rules.map((r) => r.id);
    assert.deepEqual(await ids(), ['a', 'b']);
    await http.admin(api, 'POST', '/faults?replace=true', { id: 'c', match: '*/c', action: 'hang' });
    assert.deepEqual(await ids(), ['c']);
    assert.equal((await http.admin(api, 'DELETE', '/faults/nope')).status, 404);
    assert.deepEqual((await http.admin(api, 'DELETE', '/faults/c')).body, { removed: 1 });
    await http.admin(api, 'POST', '/faults', [
      { match: '*/d', action: 'hang' },
      { match: '*/e', action: 'hang' },
    ]);
    assert.deepEqual((await http.admin(api, 'DELETE', '/faults')).body, { removed: 2 });
  });
});
