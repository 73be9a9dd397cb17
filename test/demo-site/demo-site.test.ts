import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chromium, type Browser } from 'playwright';
import { CHROMIUM_ARGS, findChromium } from '../../src/config/binaries.js';
import {
  CLEARANCE_COOKIE,
  CLEARANCE_TOKEN,
  INTERACTIVE_BATCH,
  INTERACTIVE_TOTAL,
  challengeNonce,
  challengeProof,
  productPrice,
  startDemoSite,
  type DemoSite,
} from '../../devkit/demo-site/index.js';

async function get(
  site: DemoSite,
  path: string,
  init?: RequestInit,
): Promise<{ status: number; body: string; res: Response }> {
  const res = await fetch(`${site.origin}${path}`, { redirect: 'manual', ...init });
  return { status: res.status, body: await res.text(), res };
}

describe('demo site', { timeout: 60_000 }, () => {
  let site: DemoSite;

  before(async () => {
    site = await startDemoSite();
  });
  after(async () => {
    await site.close();
  });

  it('listens on a free port of 127.0.0.1 and lists every page kind on /', async () => {
    assert.match(site.origin, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.ok(site.port > 0);
    const { status, body } = await get(site, '/');
    assert.equal(status, 200);
    for (const href of [
      '/p/1',
      '/js/1',
      '/slow/1',
      '/challenge/1',
      '/interactive',
      '/media/1',
      '/status/503',
    ]) {
      assert.ok(body.includes(`href="${href}`), `index links ${href}`);
    }
  });

  it('serves deterministic static product pages and 404 for invalid numbers', async () => {
    const first = await get(site, '/p/42');
    const second = await get(site, '/p/42');
    assert.equal(first.status, 200);
    assert.equal(first.body, second.body);
    assert.match(first.res.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(first.body, /<h1>Product 42<\/h1>/);
    assert.match(first.body, /<span data-price="25\.54">25\.54<\/span>/);
    assert.match(first.body, /<span class="product-sku">SKU-000042<\/span>/);
    assert.equal(productPrice(1), '10.37');
    assert.equal(productPrice(243), '99.91');
    assert.equal(productPrice(244), '10.28');
    assert.match((await get(site, '/p/999999')).body, /SKU-999999/);
    for (const bad of ['0', '1000000', 'abc', '-1', '007', '1.5']) {
      assert.equal((await get(site, `/p/${bad}`)).status, 404, `/p/${bad}`);
    }
  });

  it('serves /js pages whose product only JavaScript renders, from /api/products', async () => {
    const { status, body } = await get(site, '/js/42?delay=50');
    assert.equal(status, 200);
    assert.match(body, /<div id="app"><\/div>/);
    assert.doesNotMatch(body, /<h1>|data-price=|SKU-000042|Product 42/);
    assert.match(body, /fetch\('\/api\/products\/42'\)/);
    assert.match(body, /product-loaded/);
    assert.match(body, /\}, 50\);/);
    assert.match((await get(site, '/js/42')).body, /\}, 300\);/, 'default delay 300 ms');
    assert.equal((await get(site, '/js/42?delay=-1')).status, 400);
    assert.equal((await get(site, '/js/42?delay=60001')).status, 400);
    const api = await fetch(`${site.origin}/api/products/42`);
    assert.deepEqual(await api.json(), {
      id: 42,
      name: 'Product 42',
      price: '25.54',
      sku: 'SKU-000042',
      category: 'garden',
      stock: 44,
      description:
        'Product 42 is a deterministic demo item in the garden category. Its price and SKU are derived from ' +
        'its number, so every fetch of this page returns the same content and tests can predict it without fixtures.',
    });
  });

  it('answers /slow pages after the delay and validates the bound', async () => {
    const { status, body } = await get(site, '/slow/7?ms=20');
    assert.equal(status, 200);
    assert.match(body, /<h1>Product 7<\/h1>/);
    assert.equal((await get(site, '/slow/7?ms=120001')).status, 400);
    assert.equal((await get(site, '/slow/7?ms=abc')).status, 400);
  });

  it('stops waiting on a /slow page when the client disconnects', async () => {
    const before = site.counters();
    const controller = new AbortController();
    const pending = fetch(`${site.origin}/slow/8?ms=120000`, { signal: controller.signal });
    await site.waitForCounters((c) => c.pages.slow === before.pages.slow + 1);
    controller.abort();
    await assert.rejects(pending, { name: 'AbortError' });
    const after = await site.waitForCounters((c) => c.slowAborted === before.slowAborted + 1);
    assert.equal(after.slowAborted, before.slowAborted + 1);
  });

  it('ends pending /slow pages on close()', async () => {
    const other = await startDemoSite();
    const pending = fetch(`${other.origin}/slow/1?ms=120000`).then(
      (res) => res.status,
      () => 'connection closed',
    );
    await other.waitForCounters((c) => c.pages.slow === 1);
    await other.close();
    const outcome = await pending;
    assert.ok(outcome === 503 || outcome === 'connection closed', `got ${String(outcome)}`);
  });

  it('guards /challenge pages with a challenge only a proof passes', async () => {
    const before = site.counters();
    const challenge = await get(site, '/challenge/5');
    assert.equal(challenge.status, 403);
    const nonce = challengeNonce(5);
    assert.match(nonce, /^[0-9a-f]{32}$/);
    assert.match(challenge.body, /<title>Checking your browser…<\/title>/);
    assert.ok(challenge.body.includes(`<div id="challenge" data-challenge-nonce="${nonce}">`));
    assert.match(challenge.body, /<form id="challenge-form" method="post" action="\/challenge\/verify">/);
    assert.doesNotMatch(challenge.body, /data-price|Product 5/);
    assert.equal((await get(site, '/challenge/5')).body, challenge.body, 'deterministic');

    const submit = (fields: Record<string, string>) =>
      get(site, '/challenge/verify', { method: 'POST', body: new URLSearchParams(fields) });
    const wrong = await submit({ nonce, proof: '0000000000000000', return: '/challenge/5' });
    assert.equal(wrong.status, 403);
    assert.match(wrong.body, /data-challenge-failed/);
    assert.equal(wrong.res.headers.get('set-cookie'), null);
    assert.equal((await submit({ nonce, proof: challengeProof(nonce), return: '/p/5' })).status, 400);
    assert.equal((await submit({ nonce, proof: challengeProof(nonce), return: '/challenge/6' })).status, 403);

    const ok = await submit({ nonce, proof: challengeProof(nonce), return: '/challenge/5' });
    assert.equal(ok.status, 303);
    assert.equal(ok.res.headers.get('location'), '/challenge/5');
    const cookie = ok.res.headers.get('set-cookie') ?? '';
    assert.ok(cookie.startsWith(`${CLEARANCE_COOKIE}=${CLEARANCE_TOKEN};`), cookie);

    const passed = await get(site, '/challenge/5', {
      headers: { cookie: `${CLEARANCE_COOKIE}=${CLEARANCE_TOKEN}` },
    });
    assert.equal(passed.status, 200);
    assert.match(passed.body, /<h1>Product 5<\/h1>/);
    assert.match(passed.body, /<span class="product-sku">SKU-000005<\/span>/);
    const forged = await get(site, '/challenge/5', { headers: { cookie: `${CLEARANCE_COOKIE}=nope` } });
    assert.equal(forged.status, 403);

    const after = site.counters();
    assert.equal(after.pages.challenge - before.pages.challenge, 3);
    assert.equal(after.pages.challengePassed - before.pages.challengePassed, 1);
    assert.equal(after.pages.challengeVerify - before.pages.challengeVerify, 4);
    assert.equal(after.challengeFailed - before.challengeFailed, 2);
  });

  it('serves the interactive page and its item batches', async () => {
    const page = await get(site, '/interactive');
    assert.equal(page.status, 200);
    assert.match(page.body, /<div id="cookie-banner"/);
    assert.match(page.body, /<button id="cookie-accept"/);
    assert.match(
      page.body,
      /<select id="category" name="category"><option value="">All categories<\/option>/,
    );
    assert.match(page.body, /<div id="items" data-loaded="0"><\/div>/);

    interface Batch {
      items: { id: number; category: string; price: string }[];
      total: number;
      hasMore: boolean;
    }
    const batch = async (query: string): Promise<{ status: number; body: Batch | undefined }> => {
      const res = await fetch(`${site.origin}/interactive/items?${query}`);
      const text = await res.text();
      return { status: res.status, body: res.ok ? (JSON.parse(text) as Batch) : undefined };
    };
    const first = await batch('page=1');
    assert.ok(first.body);
    assert.equal(first.body.items.length, INTERACTIVE_BATCH);
    assert.equal(first.body.total, INTERACTIVE_TOTAL);
    assert.equal(first.body.hasMore, true);
    assert.deepEqual(first.body.items[0], { id: 1, name: 'Item 1', price: '5.53', category: 'electronics' });
    const last = await batch(`page=${INTERACTIVE_TOTAL / INTERACTIVE_BATCH}`);
    assert.equal(last.body?.hasMore, false);
    const books = await batch('category=books&page=2');
    assert.ok(books.body);
    assert.equal(books.body.total, 15);
    assert.equal(books.body.items.length, 3);
    assert.ok(books.body.items.every((i) => i.category === 'books'));
    assert.equal((await batch('category=cars')).status, 400);
    assert.equal((await batch('page=0')).status, 400);
  });

  it('serves /media pages referencing every asset kind, and counts assets per kind', async () => {
    const { status, body } = await get(site, '/media/3');
    assert.equal(status, 200);
    const refs = [...body.matchAll(/\/assets\/[\w/.-]+/g)].map((m) => m[0]);
    assert.deepEqual(refs.sort(), [
      '/assets/audio/3.wav',
      '/assets/font/demo-3.woff2',
      '/assets/img/3-1.png',
      '/assets/img/3-2.png',
      '/assets/img/3-3.png',
      '/assets/video/3.webm',
    ]);
    const before = site.counters().assets;
    const types: string[] = [];
    for (const ref of refs) {
      const res = await fetch(`${site.origin}${ref}`);
      assert.equal(res.status, 200, ref);
      types.push(res.headers.get('content-type') ?? '');
      await res.arrayBuffer();
    }
    assert.deepEqual(types.sort(), [
      'audio/wav',
      'font/woff2',
      'image/png',
      'image/png',
      'image/png',
      'video/webm',
    ]);
    const after = site.counters().assets;
    assert.deepEqual(
      {
        image: after.image - before.image,
        video: after.video - before.video,
        audio: after.audio - before.audio,
        font: after.font - before.font,
      },
      { image: 3, video: 1, audio: 1, font: 1 },
    );
    assert.equal((await get(site, '/assets/img/../../x.png')).status, 404);
    assert.equal((await get(site, '/assets/exe/a.png')).status, 404);
  });

  it('answers /status/<code> with that status and validates the code', async () => {
    for (const code of [200, 301, 404, 429, 503, 599]) {
      const { status, body } = await get(site, `/status/${code}`);
      assert.equal(status, code);
      assert.match(body, new RegExp(`data-status="${code}"`));
    }
    const empty = await get(site, '/status/204');
    assert.equal(empty.status, 204);
    assert.equal(empty.body, '');
    for (const bad of ['99', '600', 'abc', '1000', '102']) {
      assert.equal((await get(site, `/status/${bad}`)).status, 400, `/status/${bad}`);
    }
  });

  it('counts requests per page kind, on counters() and GET /__counters, and resets them', async () => {
    site.resetCounters();
    await get(site, '/p/1');
    await get(site, '/p/2');
    await get(site, '/js/1');
    await get(site, '/nowhere');
    const local = site.counters();
    assert.equal(local.pages.product, 2);
    assert.equal(local.pages.js, 1);
    assert.equal(local.pages.notFound, 1);
    const res = await fetch(`${site.origin}/__counters`);
    assert.deepEqual(await res.json(), local, 'the JSON view does not count itself');
    site.resetCounters();
    assert.equal(site.counters().pages.product, 0);
  });
});

describe('demo site interactive page in Chromium', { timeout: 60_000 }, () => {
  let site: DemoSite;
  let browser: Browser;

  before(async () => {
    site = await startDemoSite();
    browser = await chromium.launch({ executablePath: findChromium(), args: CHROMIUM_ARGS, headless: true });
  });
  after(async () => {
    await browser?.close();
    await site?.close();
  });

  it('blocks the page behind the cookie banner, filters by category and loads items on scroll', async () => {
    const page = await browser.newPage({ viewport: { width: 800, height: 600 } });
    await page.goto(`${site.origin}/interactive`);
    await page.waitForSelector('#items[data-loaded="12"]', { state: 'attached' });
    const coveredBy = (selector: string) =>
      page.evaluate<string>(
        `(() => { const r = document.querySelector(${JSON.stringify(selector)}).getBoundingClientRect();
          const hit = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
          return hit.closest('#cookie-banner') ? 'banner' : hit.id; })()`,
      );
    assert.equal(await coveredBy('#category'), 'banner');

    await page.click('#cookie-accept');
    assert.equal(await page.locator('#cookie-banner').count(), 0);
    assert.equal(await coveredBy('#category'), 'category');

    // Scroll to the bottom until the end marker shows: one batch per scroll, bounded.
    const loaded = () => page.locator('#items').getAttribute('data-loaded').then(Number);
    for (let i = 0; i < 10 && !(await page.locator('#end').isVisible()); i++) {
      const count = await loaded();
      await page.evaluate('window.scrollTo(0, document.body.scrollHeight)');
      await page.waitForFunction(
        `Number(document.querySelector('#items').dataset.loaded) > ${count} || !document.getElementById('end').hidden`,
      );
    }
    assert.equal(await loaded(), INTERACTIVE_TOTAL);
    assert.equal(await page.locator('.item').count(), INTERACTIVE_TOTAL);
    assert.equal(await page.locator('.item[data-id="60"] .item-price[data-price]').textContent(), '36.80');

    await page.selectOption('#category', 'garden');
    await page.waitForSelector('#items[data-loaded="12"]', { state: 'attached' });
    await page.evaluate('window.scrollTo(0, document.body.scrollHeight)');
    await page.waitForSelector('#items[data-loaded="15"]', { state: 'attached' });
    assert.equal(await page.locator('.item:not([data-category="garden"])').count(), 0);
    await page.locator('#end').waitFor({ state: 'visible' });
    await page.close();
  });
});
