import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import { startDemoSite, product, type DemoSite } from '../../devkit/demo-site/index.js';
import type { LocalApiHandle } from '../../devkit/local-api/index.js';
import { Http, page, startApi } from './helpers.js';

const KEY = 'sk-scrape-main';
const POOR = 'sk-scrape-poor';

describe('local API: POST /v1/scrape', () => {
  const http = new Http();
  let demo: DemoSite;
  let api: LocalApiHandle;

  before(async () => {
    demo = await startDemoSite({});
    api = await startApi({
      accounts: [
        { id: 'main', key: KEY, balance: 1000, concurrency: 4 },
        { id: 'poor', key: POOR, balance: 2, concurrency: 2 },
      ],
      bodyLimitBytes: 4096,
    });
  });
  after(async () => {
    await api.close();
    await demo.close();
    await http.close();
  });

  it('answers GET /healthz and binds 127.0.0.1', async () => {
    assert.match(api.origin, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(api.url, `${api.origin}/v1`);
    assert.deepEqual((await http.call(`${api.origin}/healthz`)).body, { ok: true });
  });

  it('fetches a page in fast mode and charges 1 credit', async () => {
    const res = await http.scrape(api, KEY, { url: page(demo.origin, 3), mode: 'fast' });
    assert.equal(res.status, 200);
    const body = res.body as {
      success: boolean;
      data: { content: string; css_extracted: unknown };
      metadata: Record<string, unknown>;
      billing: Record<string, number>;
      error: unknown;
    };
    assert.equal(body.success, true);
    assert.match(body.data.content, /<h1>Product 3<\/h1>/);
    assert.equal(body.data.css_extracted, null);
    assert.deepEqual(body.metadata, {
      method_used: 'fast',
      solver_used: false,
      challenge_solved: false,
      target_status: 200,
    });
    assert.deepEqual(body.billing, { charged: 1, balance_after: 999 });
    assert.equal(body.error, null);
  });

  it('extracts the first match per selector, attributes with @attr, null when nothing matches', async () => {
    const p = product(7);
    const res = await http.scrape(api, KEY, {
      url: page(demo.origin, 7),
      output_format: 'css_extractor',
      css_selectors: {
        title: 'h1',
        price: '[data-price]@data-price',
        sku: '.product-sku',
        paragraph: 'p',
        missing: '.no-such-thing',
        missingAttr: 'h1@data-nope',
      },
    });
    const body = res.body as {
      data: { content: unknown; css_extracted: Record<string, unknown> };
      metadata: Record<string, unknown>;
      billing: Record<string, number>;
    };
    assert.deepEqual(body.data.css_extracted, {
      title: p.name,
      price: p.price,
      sku: p.sku,
      paragraph: `Price: ${p.price} USD`,
      missing: null,
      missingAttr: null,
    });
    assert.equal(body.data.content, null);
    assert.equal(body.metadata.method_used, 'fast', 'auto stays fast on a static page');
    assert.deepEqual(body.billing, { charged: 1, balance_after: 998 });
  });

  it('answers success:false with HTTP 200, charging nothing, when the target fails', async () => {
    const cases = [
      { url: `${demo.origin}/status/404`, error: 'target_http_error', target: 404 },
      { url: `${demo.origin}/status/503`, error: 'target_http_error', target: 503 },
      { url: 'http://127.0.0.1:1/unreachable', error: 'target_unreachable', target: null },
      { url: `${demo.origin}/challenge/4`, error: 'challenge_not_solved', target: 403 },
    ];
    for (const c of cases) {
      const res = await http.scrape(api, KEY, { url: c.url, mode: 'fast' });
      assert.equal(res.status, 200, c.url);
      const body = res.body as {
        success: boolean;
        error: string;
        data: unknown;
        metadata: Record<string, unknown>;
        billing: Record<string, number>;
      };
      assert.equal(body.success, false, c.url);
      assert.equal(body.error, c.error, c.url);
      assert.equal(body.metadata.target_status, c.target, c.url);
      assert.equal(body.data, null);
      assert.deepEqual(body.billing, { charged: 0, balance_after: 998 }, c.url);
    }
  });

  it('answers 401 to a missing or unknown key, before reading the body', async () => {
    for (const key of [undefined, 'sk-nobody']) {
      const res = await http.call(`${api.url}/scrape`, { key, raw: 'not even json' });
      assert.equal(res.status, 401);
      assert.equal(res.body.error, 'invalid_api_key');
    }
  });

  it('answers 402 once the balance is drained, with exact balances', async () => {
    const url = page(demo.origin, 11);
    const first = await http.scrape(api, POOR, { url, mode: 'fast' });
    const second = await http.scrape(api, POOR, { url, mode: 'fast' });
    assert.deepEqual(first.body.billing, { charged: 1, balance_after: 1 });
    assert.deepEqual(second.body.billing, { charged: 1, balance_after: 0 });
    const third = await http.scrape(api, POOR, { url, mode: 'fast' });
    assert.equal(third.status, 402);
    assert.equal(third.body.error, 'insufficient_balance');
    const counters = api.state.counters.snapshot();
    assert.equal(counters.credits.charged_by_account.poor, 2);
    assert.equal(api.state.accounts.byId('poor')?.balance, 0);
  });

  it('answers 402 to js_rendering before rendering when the balance is below the render price', async () => {
    const before = api.state.counters.snapshot().renders_started;
    await http.admin(api, 'POST', '/balance', { account: 'poor', balance: 4 });
    const res = await http.scrape(api, POOR, { url: page(demo.origin, 12), mode: 'js_rendering' });
    assert.equal(res.status, 402);
    assert.equal(api.state.counters.snapshot().renders_started, before);
    assert.equal(api.state.accounts.byId('poor')?.balance, 4);
  });

  it('answers 400 naming the field for every malformed request', async () => {
    const url = page(demo.origin, 1);
    const cases: Array<[unknown, string]> = [
      [{ mode: 'fast' }, 'url'],
      [{ url: 'ftp://example.com/' }, 'url'],
      [{ url: 'not a url' }, 'url'],
      [{ url, mode: 'turbo' }, 'mode'],
      [{ url, output_format: 'xml' }, 'output_format'],
      [{ url, output_format: 'css_extractor' }, 'css_selectors'],
      [{ url, output_format: 'css_extractor', css_selectors: { title: 'div[' } }, 'css_selectors.title'],
      [
        { url, output_format: 'css_extractor', css_selectors: { price: 'span:bogus' } },
        'css_selectors.price',
      ],
      [{ url, js_wait_timeout: -1 }, 'js_wait_timeout'],
      [{ url, js_wait_timeout: 'soon' }, 'js_wait_timeout'],
      [{ url, enable_solver: 'yes' }, 'enable_solver'],
      [{ url, surprise: true }, 'surprise'],
      [[url], 'body'],
    ];
    for (const [json, field] of cases) {
      const res = await http.scrape(api, KEY, json);
      assert.equal(res.status, 400, JSON.stringify(json));
      assert.equal(res.body.error, 'invalid_request');
      assert.equal(res.body.field, field, JSON.stringify(json));
      assert.match(String(res.body.message), new RegExp(`^${field.replace('.', '\\.')}: `));
    }
    for (const raw of ['{"url": ', 'x'.repeat(5000), '']) {
      const res = await http.call(`${api.url}/scrape`, { key: KEY, raw });
      assert.equal(res.status, 400, raw.slice(0, 20));
      assert.equal(res.body.field, 'body');
    }
    const text = await http.call(`${api.url}/scrape`, {
      key: KEY,
      raw: 'url=x',
      headers: { 'content-type': 'text/plain' },
    });
    assert.equal(text.status, 400);
    assert.equal(text.body.field, 'body');
  });

  it('answers 404 with a JSON body on unknown routes', async () => {
    const res = await http.call(`${api.url}/nope`, { key: KEY });
    assert.equal(res.status, 404);
    assert.equal(res.body.error, 'not_found');
  });

  it('counts every request by outcome', () => {
    const { endpoints, outcomes } = api.state.counters.snapshot();
    assert.deepEqual(endpoints.scrape, {
      '200_success': 4,
      '200_failed': 4,
      '400': 17,
      '401': 2,
      '402': 2,
    });
    assert.equal(outcomes['400'], 17);
  });

  it('returns a text body (XML) unmodified and a binary one (gzip) base64-encoded, saying so', async () => {
    type Body = { data: { content: string }; metadata: Record<string, unknown> };
    const xml = await fetch(`${demo.origin}/sitemaps/toys.xml`).then((r) => r.text());
    const plain = (await http.scrape(api, KEY, { url: `${demo.origin}/sitemaps/toys.xml`, mode: 'fast' }))
      .body as Body;
    assert.equal(plain.data.content, xml);
    assert.equal(plain.metadata.content_encoding, undefined);
    const gz = (await http.scrape(api, KEY, { url: `${demo.origin}/sitemaps/toys.xml.gz`, mode: 'fast' }))
      .body as Body;
    assert.equal(gz.metadata.content_encoding, 'base64');
    assert.equal(gz.metadata.content_type, 'application/gzip');
    assert.equal(gunzipSync(Buffer.from(gz.data.content, 'base64')).toString('utf8'), xml);
  });
});
