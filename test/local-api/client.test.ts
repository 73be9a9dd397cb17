import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startDemoSite, type DemoSite } from '../../devkit/demo-site/index.js';
import type { LocalApiHandle } from '../../devkit/local-api/index.js';
import { OmniScrapeClient } from '../../src/omniscrape/client.js';
import { OmniScrapeError, RateLimitedError } from '../../src/omniscrape/errors.js';
import { retryDecision, retryMatrixSchema } from '../../src/omniscrape/retry-matrix.js';
import { Http, page, startApi } from './helpers.js';

const KEY = 'sk-client-main';

/** The error a call failed with, which must be one of the taxonomy. */
async function failure(call: Promise<unknown>): Promise<OmniScrapeError> {
  try {
    await call;
  } catch (err) {
    assert.ok(err instanceof OmniScrapeError, String(err));
    return err;
  }
  assert.fail('the call succeeded');
}

describe('local API answers, as the OmniScrape client classifies them (the error matrix)', () => {
  const http = new Http();
  let demo: DemoSite;
  let api: LocalApiHandle;
  let client: OmniScrapeClient;

  before(async () => {
    demo = await startDemoSite({});
    api = await startApi({
      accounts: [
        { id: 'main', key: KEY, balance: 1000, concurrency: 1 },
        { id: 'empty', key: 'sk-client-empty', balance: 0, concurrency: 1 },
      ],
      minPollIntervalMs: 0,
    });
    client = new OmniScrapeClient({ baseUrl: api.url, apiKey: KEY });
  });
  after(async () => {
    await client.close();
    await api.close();
    await demo.close();
    await http.close();
  });

  it('classifies forced 401, 402, 429, 500, 502 and 503', async () => {
    const expected = {
      401: 'auth',
      402: 'balance_exhausted',
      429: 'rate_limited',
      500: 'upstream',
      502: 'upstream',
      503: 'upstream',
    } as const;
    for (const [status, code] of Object.entries(expected)) {
      const url = page(demo.origin, 400 + Number(status));
      await http.admin(api, 'PUT', '/faults', [
        { match: url, action: 'status', status: Number(status), first: 1, retryAfterSec: 3 },
      ]);
      const err = await failure(client.scrape({ url, mode: 'fast' }));
      assert.equal(err.code, code, `status ${status}`);
      assert.equal(err.status, Number(status));
      if (err instanceof RateLimitedError) {
        assert.equal(err.retryAfterMs, 3000);
        const decision = retryDecision(err, 1, retryMatrixSchema.parse({}), 0);
        assert.ok(decision.retry && decision.delayMs >= 3000, 'the matrix honours Retry-After');
      }
    }
  });

  it('classifies the real 401, 402 and 429', async () => {
    const url = page(demo.origin, 1);
    const wrongKey = new OmniScrapeClient({ baseUrl: api.url, apiKey: 'sk-client-wrong' });
    const empty = new OmniScrapeClient({ baseUrl: api.url, apiKey: 'sk-client-empty' });
    try {
      assert.equal((await failure(wrongKey.scrape({ url }))).code, 'auth');
      assert.equal((await failure(empty.scrape({ url }))).code, 'balance_exhausted');
    } finally {
      await Promise.all([wrongKey.close(), empty.close()]);
    }
    await http.admin(api, 'PUT', '/faults', [{ match: '*/p/2', action: 'hang', first: 1 }]);
    const hold = new AbortController();
    const held = new Promise((resolve) => api.state.faults.events.once('fired', resolve));
    const holding = client
      .scrape({ url: page(demo.origin, 2) }, { signal: hold.signal })
      .catch((e: unknown) => e);
    await held;
    const limited = await failure(client.scrape({ url }));
    assert.equal(limited.code, 'rate_limited');
    assert.equal((limited as RateLimitedError).retryAfterMs, 1000);
    hold.abort();
    assert.equal(((await holding) as OmniScrapeError).code, 'aborted');
  });

  it('classifies success:false (faulted and real), a bad selector and an expired job', async () => {
    await http.admin(api, 'PUT', '/faults', [{ match: '*/p/3', action: 'success_false' }]);
    assert.equal((await failure(client.scrape({ url: page(demo.origin, 3) }))).code, 'scrape_failed');
    assert.equal((await failure(client.scrape({ url: `${demo.origin}/status/404` }))).code, 'scrape_failed');
    const bad = await failure(
      client.scrape({
        url: page(demo.origin, 4),
        output_format: 'css_extractor',
        css_selectors: { x: 'div[' },
      }),
    );
    assert.equal(bad.code, 'bad_request');
    assert.equal((bad as OmniScrapeError & { field?: string }).field, 'css_selectors.x');
    assert.equal((await failure(client.getAsyncJob('job_missing'))).code, 'not_found');
  });

  it('submits and polls async jobs, returning a failed job rather than throwing', async () => {
    const done = (id: string) =>
      new Promise<void>((resolve) => {
        const check = (job: { id: string; status: string }): void => {
          if (job.id === id && (job.status === 'complete' || job.status === 'failed')) resolve();
        };
        api.state.jobs.events.on('status', check);
      });
    const ok = await client.submitAsync(
      { url: page(demo.origin, 5), mode: 'fast' },
      { idempotencyKey: 'k-5' },
    );
    const again = await client.submitAsync(
      { url: page(demo.origin, 5), mode: 'fast' },
      { idempotencyKey: 'k-5' },
    );
    assert.equal(again.job_id, ok.job_id);
    const okDone = done(ok.job_id);
    const first = await client.getAsyncJob(ok.job_id);
    if (first.status !== 'complete') await okDone;
    const complete = await client.getAsyncJob(ok.job_id);
    assert.equal(complete.status, 'complete');
    assert.equal(complete.billing?.charged, 1);
    const failedJob = await client.submitAsync({ url: page(demo.origin, 3), mode: 'fast' });
    const failedDone = done(failedJob.job_id);
    const polled = await client.getAsyncJob(failedJob.job_id);
    if (polled.status !== 'failed') await failedDone;
    const failed = await client.getAsyncJob(failedJob.job_id);
    assert.equal(failed.status, 'failed');
    assert.equal(failed.error, 'injected_failure');
  });
});
