import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { startDemoSite, type DemoSite } from '../../devkit/demo-site/index.js';
import type { LocalApiHandle } from '../../devkit/local-api/index.js';
import type { Job } from '../../devkit/local-api/jobs.js';
import { GatedRenderer } from './fake-renderer.js';
import { Http, firings, page, startApi, type Answer } from './helpers.js';

const KEY = 'sk-async-main';
const OTHER = 'sk-async-other';
const TTL = 60_000;

describe('local API: async jobs', () => {
  const http = new Http();
  const renderer = new GatedRenderer();
  let now = 1_700_000_000_000;
  let demo: DemoSite;
  let api: LocalApiHandle;

  before(async () => {
    demo = await startDemoSite({});
    api = await startApi({
      accounts: [
        { id: 'main', key: KEY, balance: 100, concurrency: 1 },
        { id: 'other', key: OTHER, balance: 0, concurrency: 1 },
      ],
      renderer,
      jobTtlMs: TTL,
      now: () => now,
    });
  });
  after(async () => {
    await api.close();
    await demo.close();
    await http.close();
  });
  beforeEach(async () => {
    await http.admin(api, 'PUT', '/faults', []);
    await http.admin(api, 'POST', '/counters/reset');
  });

  const submit = (json: unknown, key = KEY, headers: Record<string, string> = {}): Promise<Answer> =>
    http.call(`${api.url}/scrape/async`, { key, json, headers });
  /** Polls after the minimum interval (the clock is moved, nothing sleeps). */
  const poll = (id: string, key = KEY): Promise<Answer> => {
    now += 2000;
    return http.call(`${api.url}/scrape/async/${id}`, { key });
  };
  const ended = (id: string): Promise<unknown> =>
    new Promise((resolve) => {
      const listener = (job: Job): void => {
        if (job.id !== id || (job.status !== 'complete' && job.status !== 'failed')) return;
        api.state.jobs.events.off('status', listener);
        resolve(job);
      };
      api.state.jobs.events.on('status', listener);
    });

  it('goes queued → running → complete, queueing behind a full account, charged on completion', async () => {
    // A hanging sync scrape holds the account's only slot, so the job must queue.
    await http.admin(api, 'POST', '/faults', { match: '*/p/301', action: 'hang', endpoints: ['scrape'] });
    const hold = new AbortController();
    const held = firings(api, 1);
    const holding = http
      .scrape(api, KEY, { url: page(demo.origin, 301) }, hold.signal)
      .catch(() => undefined);
    await held;

    const url = page(demo.origin, 302);
    const submitted = await submit({
      url,
      mode: 'js_rendering',
      js_wait_selector: 'h1',
      js_wait_timeout: 5000,
    });
    assert.equal(submitted.status, 202);
    const id = String(submitted.body.job_id);
    assert.deepEqual(submitted.body, { job_id: id, status: 'queued' });
    assert.deepEqual((await poll(id)).body, { job_id: id, status: 'queued' });

    const rendering = once(renderer.events, 'render');
    hold.abort();
    await holding;
    const [job] = (await rendering) as [
      { url: string; waitSelector: string; waitTimeoutMs: number; solve: boolean },
    ];
    assert.deepEqual(
      { url: job.url, waitSelector: job.waitSelector, waitTimeoutMs: job.waitTimeoutMs, solve: job.solve },
      { url, waitSelector: 'h1', waitTimeoutMs: 5000, solve: false },
    );
    assert.deepEqual((await poll(id)).body, { job_id: id, status: 'running' });
    const sync = await http.scrape(api, KEY, { url: page(demo.origin, 303), mode: 'fast' });
    assert.equal(sync.status, 429, 'a running job occupies a concurrency slot');
    const refused = api.state.counters.snapshot().concurrency;
    assert.deepEqual(refused.refused_for_jobs_by_account, { main: 1 }, 'refused for the job');
    assert.deepEqual(refused.refused_over_plan_by_account, {}, 'not over the plan: no other sync scrape ran');

    const done = ended(id);
    renderer.finish();
    await done;
    const complete = await poll(id);
    assert.equal(complete.status, 200);
    assert.equal(complete.body.status, 'complete');
    assert.equal(complete.body.job_id, id);
    assert.equal(complete.body.success, true);
    assert.match((complete.body.data as { content: string }).content, /Rendered/);
    assert.equal((complete.body.metadata as { method_used: string }).method_used, 'js_rendering');
    assert.deepEqual(complete.body.billing, { charged: 5, balance_after: 95 });
    const c = api.state.counters.snapshot();
    assert.deepEqual(c.async.submitted_by_url, { [url]: 1 });
    assert.equal(c.async.completed, 1);
    assert.equal(c.renders_started, 1);
    assert.equal(c.credits.charged_by_account.main, 5);
  });

  it('refuses polls of one job sooner than every 2 s with 429 and Retry-After', async () => {
    const id = String((await submit({ url: page(demo.origin, 304), mode: 'fast' })).body.job_id);
    const first = await poll(id);
    assert.equal(first.status, 200);
    const again = await http.call(`${api.url}/scrape/async/${id}`, { key: KEY });
    assert.equal(again.status, 429);
    assert.equal(again.headers['retry-after'], '2');
    now += 1500;
    const soon = await http.call(`${api.url}/scrape/async/${id}`, { key: KEY });
    assert.equal(soon.status, 429);
    assert.equal(soon.headers['retry-after'], '1');
    now += 500;
    assert.equal((await http.call(`${api.url}/scrape/async/${id}`, { key: KEY })).status, 200);
    const c = api.state.counters.snapshot();
    assert.deepEqual(c.endpoints.async_poll, { '200': 2, '429': 2 });
    assert.equal(c.async.polls, 4);
  });

  it('ends failed when a fault or the target fails it, charging nothing', async () => {
    await http.admin(api, 'POST', '/faults', { match: '*/p/310', action: 'success_false' });
    const balance = api.state.accounts.byId('main')?.balance;
    for (const [url, error] of [
      [page(demo.origin, 310), 'injected_failure'],
      [`${demo.origin}/status/500`, 'target_http_error'],
    ] as const) {
      const id = String((await submit({ url, mode: 'fast' })).body.job_id);
      const done = ended(id);
      const first = await poll(id);
      if (first.body.status !== 'failed') await done;
      const res = await poll(id);
      assert.equal(res.body.status, 'failed', url);
      assert.equal(res.body.success, false);
      assert.equal(res.body.error, error);
      assert.equal((res.body.billing as { charged: number }).charged, 0);
    }
    assert.equal(api.state.accounts.byId('main')?.balance, balance);
    assert.equal(api.state.counters.snapshot().async.failed, 2);
  });

  it('answers a status fault on submit or poll like the real error, creating no job', async () => {
    await http.admin(api, 'POST', '/faults', [
      { match: '*/p/320', action: 'status', status: 503, endpoints: ['async_submit'] },
      { match: '*/p/321', action: 'status', status: 429, retryAfterSec: 4, endpoints: ['async_poll'] },
    ]);
    assert.equal((await submit({ url: page(demo.origin, 320) })).status, 503);
    const id = String((await submit({ url: page(demo.origin, 321), mode: 'fast' })).body.job_id);
    const limited = await poll(id);
    assert.equal(limited.status, 429);
    assert.equal(limited.headers['retry-after'], '4');
    const c = api.state.counters.snapshot();
    assert.equal(c.async.submitted, 1);
    assert.deepEqual(c.endpoints.async_submit, { '202': 1, '503': 1 });
  });

  it('returns the existing job for a repeated Idempotency-Key of the same account', async () => {
    const json = { url: page(demo.origin, 330), mode: 'fast' };
    const a = await submit(json, KEY, { 'idempotency-key': 'batch-1/330' });
    const b = await submit(json, KEY, { 'idempotency-key': 'batch-1/330' });
    assert.equal(a.body.job_id, b.body.job_id);
    await http.admin(api, 'POST', '/balance', { account: 'other', add: 10 });
    const other = await submit(json, OTHER, { 'idempotency-key': 'batch-1/330' });
    assert.notEqual(other.body.job_id, a.body.job_id);
    const c = api.state.counters.snapshot();
    assert.equal(c.async.submitted, 2);
    assert.equal(c.async.idempotent_replays, 1);
    assert.equal(c.async.submitted_by_url[json.url], 2);
    const bad = await submit(json, KEY, { 'idempotency-key': 'has spaces' });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.field, 'Idempotency-Key');
  });

  it('expires ended jobs after the TTL, and hides other accounts’ jobs', async () => {
    const id = String((await submit({ url: page(demo.origin, 340), mode: 'fast' })).body.job_id);
    const done = ended(id);
    if ((await poll(id)).body.status !== 'complete') await done;
    assert.equal((await poll(id, OTHER)).status, 404);
    assert.equal((await poll('job_nope')).status, 404);
    const main = api.state.accounts.byId('main');
    assert.ok(main);
    const endedAt = api.state.jobs.get(id, main)?.endedAt;
    assert.ok(endedAt !== undefined);
    now = endedAt + TTL - 1 - 2000; // poll() adds 2000
    assert.equal((await poll(id)).status, 200, 'still there just before the TTL');
    const gone = await poll(id);
    assert.equal(gone.status, 404);
    assert.equal(gone.body.error, 'not_found');
  });

  it('answers 402 to a submit the balance cannot cover, and 401 without a key', async () => {
    await http.admin(api, 'POST', '/balance', { account: 'other', balance: 4 });
    assert.equal((await submit({ url: page(demo.origin, 350), mode: 'js_rendering' }, OTHER)).status, 402);
    assert.equal(
      (await http.call(`${api.url}/scrape/async`, { json: { url: page(demo.origin, 350) } })).status,
      401,
    );
    assert.equal((await http.call(`${api.url}/scrape/async/job_x`)).status, 401);
    const invalid = await submit({ url: page(demo.origin, 350), mode: 'slow' });
    assert.equal(invalid.status, 400);
    assert.equal(invalid.body.field, 'mode');
  });
});

describe('local API: rendering, escalation and the solver price (stand-in renderer)', () => {
  const http = new Http();
  const renderer = new GatedRenderer();
  let demo: DemoSite;
  let api: LocalApiHandle;

  before(async () => {
    demo = await startDemoSite({});
    api = await startApi({
      accounts: [
        { id: 'main', key: KEY, balance: 1000, concurrency: 2 },
        { id: 'small', key: OTHER, balance: 3, concurrency: 2 },
      ],
      renderer,
    });
  });
  after(async () => {
    await api.close();
    await demo.close();
    await http.close();
  });

  const rendered = async (json: unknown, result = {}, key = KEY): Promise<Answer> => {
    const started = once(renderer.events, 'render');
    const pending = http.scrape(api, key, json);
    await started;
    renderer.finish(result);
    return pending;
  };

  it('charges 5 for a render and 15 when the solver was used', async () => {
    const url = `${demo.origin}/challenge/8`;
    const plain = await rendered({ url, mode: 'js_rendering' });
    assert.deepEqual(plain.body.billing, { charged: 5, balance_after: 995 });
    const solved = await rendered(
      { url, mode: 'js_rendering', enable_solver: true },
      { challengeDetected: true, solverUsed: true, challengeSolved: true },
    );
    assert.equal(solved.body.success, true);
    assert.deepEqual(solved.body.metadata, {
      method_used: 'js_rendering',
      solver_used: true,
      challenge_solved: true,
      target_status: 200,
    });
    assert.deepEqual(solved.body.billing, { charged: 15, balance_after: 980 });
    const unsolved = await rendered(
      { url, mode: 'js_rendering', enable_solver: true },
      { challengeDetected: true, solverUsed: true, challengeSolved: false, status: 403 },
    );
    assert.equal(unsolved.body.success, false);
    assert.equal(unsolved.body.error, 'challenge_not_solved');
    assert.deepEqual(unsolved.body.billing, { charged: 0, balance_after: 980 });
  });

  it('escalates auto to rendering for JavaScript pages, challenges and empty extractions', async () => {
    const js = await rendered({ url: `${demo.origin}/js/5`, mode: 'auto' });
    assert.equal((js.body.metadata as { method_used: string }).method_used, 'js_rendering');
    assert.deepEqual(js.body.billing, { charged: 5, balance_after: 975 });
    const challenge = await rendered({ url: `${demo.origin}/challenge/5`, mode: 'auto' });
    assert.equal((challenge.body.metadata as { method_used: string }).method_used, 'js_rendering');
    const extraction = await rendered({
      url: `${demo.origin}/js/6`,
      output_format: 'css_extractor',
      css_selectors: { price: '[data-price]' },
    });
    assert.deepEqual((extraction.body.data as { css_extracted: unknown }).css_extracted, { price: '9.99' });
    const stays = await http.scrape(api, KEY, { url: page(demo.origin, 5), mode: 'auto' });
    assert.equal((stays.body.metadata as { method_used: string }).method_used, 'fast');
    assert.equal(api.state.counters.snapshot().renders_started, 6);
  });

  it('answers 402 when auto must escalate but the balance cannot cover a render', async () => {
    const res = await http.scrape(api, OTHER, { url: `${demo.origin}/js/7`, mode: 'auto' });
    assert.equal(res.status, 402);
    assert.equal(api.state.accounts.byId('small')?.balance, 3);
    assert.equal(api.state.counters.snapshot().renders_started, 6);
  });

  it('reports a wait selector that never appeared as success:false', async () => {
    const res = await rendered(
      { url: page(demo.origin, 9), mode: 'js_rendering', js_wait_selector: '.never' },
      { waitTimedOut: true },
    );
    assert.equal(res.body.success, false);
    assert.equal(res.body.error, 'wait_selector_timeout');
  });
});
