import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { findChromium } from '../../src/config/binaries.js';
import { product, startDemoSite, type DemoSite } from '../../devkit/demo-site/index.js';
import type { LocalApiHandle } from '../../devkit/local-api/index.js';
import { Http, startApi, type Answer } from './helpers.js';

const KEY = 'sk-render-main';

function chromiumMissing(): string | false {
  try {
    findChromium();
    return false;
  } catch (err) {
    return (err as Error).message;
  }
}

const fields = { title: 'h1', price: '[data-price]@data-price', sku: '.product-sku' };
const expected = (n: number) => ({ title: product(n).name, price: product(n).price, sku: product(n).sku });

describe(
  'local API with real Chromium: rendering, escalation, the solver',
  { skip: chromiumMissing() },
  () => {
    const http = new Http();
    let demo: DemoSite;
    let api: LocalApiHandle;

    before(async () => {
      demo = await startDemoSite({});
      api = await startApi({
        accounts: [{ id: 'main', key: KEY, balance: 1000, concurrency: 2 }],
        renderPages: 2,
      });
    });
    after(async () => {
      await api.close();
      await demo.close();
      await http.close();
    });

    const meta = (a: Answer) => a.body.metadata as Record<string, unknown>;
    const extracted = (a: Answer) => (a.body.data as { css_extracted: unknown }).css_extracted;

    it('renders a JavaScript page, honouring js_wait_selector', async () => {
      const res = await http.scrape(api, KEY, {
        url: `${demo.origin}/js/5?delay=100`,
        mode: 'js_rendering',
        output_format: 'css_extractor',
        css_selectors: fields,
        js_wait_selector: '.product-loaded',
        js_wait_timeout: 10_000,
      });
      assert.equal(res.body.success, true, JSON.stringify(res.body));
      assert.deepEqual(extracted(res), expected(5));
      assert.equal(meta(res).method_used, 'js_rendering');
      assert.deepEqual(res.body.billing, { charged: 5, balance_after: 995 });
    });

    it('escalates auto from fast to rendering on a page that needs JavaScript', async () => {
      const res = await http.scrape(api, KEY, {
        url: `${demo.origin}/js/6?delay=0`,
        output_format: 'css_extractor',
        css_selectors: fields,
        js_wait_selector: '.product-loaded',
      });
      assert.equal(meta(res).method_used, 'js_rendering');
      assert.deepEqual(extracted(res), expected(6));
      assert.deepEqual(res.body.billing, { charged: 5, balance_after: 990 });
    });

    it('solves the demo challenge with enable_solver, and fails without it', async () => {
      const url = `${demo.origin}/challenge/7`;
      const unsolved = await http.scrape(api, KEY, { url, mode: 'js_rendering' });
      assert.equal(unsolved.body.success, false);
      assert.equal(unsolved.body.error, 'challenge_not_solved');
      assert.deepEqual(unsolved.body.billing, { charged: 0, balance_after: 990 });
      const solved = await http.scrape(api, KEY, {
        url,
        mode: 'js_rendering',
        enable_solver: true,
        output_format: 'css_extractor',
        css_selectors: fields,
      });
      assert.equal(solved.body.success, true, JSON.stringify(solved.body));
      assert.equal(meta(solved).solver_used, true);
      assert.equal(meta(solved).challenge_solved, true);
      assert.deepEqual(extracted(solved), expected(7));
      assert.deepEqual(solved.body.billing, { charged: 15, balance_after: 975 });
      assert.equal(api.state.counters.snapshot().renders_started, 4);
    });
  },
);
