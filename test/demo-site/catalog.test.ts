import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import {
  DEFAULT_SITEMAP_PRODUCTS,
  GZIP_CATEGORY,
  product,
  productLastmod,
  productPrice,
  productStock,
  startDemoSite,
  type DemoSite,
} from '../../devkit/demo-site/index.js';

/** The `<loc>`/`<lastmod>` pairs of a sitemap the demo site wrote (its own fixed layout, one entry a line). */
function entries(xml: string): { loc: string; lastmod?: string }[] {
  const out: { loc: string; lastmod?: string }[] = [];
  for (const m of xml.matchAll(/<loc>([^<]*)<\/loc>(?:<lastmod>([^<]*)<\/lastmod>)?/g)) {
    out.push({ loc: m[1] ?? '', ...(m[2] !== undefined ? { lastmod: m[2] } : {}) });
  }
  return out;
}

describe('demo site catalogue: changes, sitemaps, robots.txt', { timeout: 60_000 }, () => {
  let site: DemoSite;
  let clock = Date.parse('2026-06-01T10:00:00.000Z');

  async function get(path: string): Promise<{ status: number; type: string; body: Buffer }> {
    const res = await fetch(`${site.origin}${path}`);
    return {
      status: res.status,
      type: res.headers.get('content-type') ?? '',
      body: Buffer.from(await res.arrayBuffer()),
    };
  }
  async function send(method: string, path: string, body?: unknown): Promise<Response> {
    return fetch(`${site.origin}${path}`, {
      method,
      ...(body === undefined
        ? {}
        : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
  }
  /** Every product URL the sitemap lists, through the index, with its lastmod. */
  async function listed(): Promise<Map<string, string | undefined>> {
    const index = await get('/sitemap.xml');
    assert.equal(index.status, 200);
    const all = new Map<string, string | undefined>();
    for (const sitemap of entries(index.body.toString('utf8'))) {
      const child = await get(new URL(sitemap.loc).pathname);
      assert.equal(child.status, 200, sitemap.loc);
      const xml = sitemap.loc.endsWith('.gz')
        ? gunzipSync(child.body).toString('utf8')
        : child.body.toString();
      for (const e of entries(xml)) all.set(new URL(e.loc).pathname, e.lastmod);
    }
    return all;
  }

  before(async () => {
    site = await startDemoSite({ now: () => new Date(clock) });
  });
  after(async () => {
    await site.close();
  });
  beforeEach(() => {
    site.catalog.reset(DEFAULT_SITEMAP_PRODUCTS);
  });

  it('names its sitemap in robots.txt', async () => {
    const robots = await get('/robots.txt');
    assert.equal(robots.status, 200);
    assert.match(robots.type, /^text\/plain/);
    assert.match(robots.body.toString(), new RegExp(`^Sitemap: ${site.origin}/sitemap\\.xml$`, 'm'));
  });

  it('serves a sitemap index of one sitemap per category, one gzip-compressed, listing products 1..N', async () => {
    site.resetCounters();
    const index = await get('/sitemap.xml');
    assert.match(index.type, /^application\/xml/);
    const text = index.body.toString();
    assert.match(text, /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<sitemapindex xmlns=/);
    const sitemaps = entries(text);
    assert.deepEqual(
      sitemaps.map((s) => new URL(s.loc).pathname),
      ['/sitemaps/electronics.xml', '/sitemaps/books.xml', '/sitemaps/garden.xml', `/sitemaps/toys.xml.gz`],
    );
    assert.equal(GZIP_CATEGORY, 'toys');
    const gz = await get('/sitemaps/toys.xml.gz');
    assert.equal(gz.type, 'application/gzip');
    assert.deepEqual([...gz.body.subarray(0, 2)], [0x1f, 0x8b], 'gzip magic bytes');
    assert.equal(gunzipSync(gz.body).toString(), (await get('/sitemaps/toys.xml')).body.toString());

    const all = await listed();
    assert.equal(all.size, DEFAULT_SITEMAP_PRODUCTS);
    for (let n = 1; n <= DEFAULT_SITEMAP_PRODUCTS; n++) assert.equal(all.get(`/p/${n}`), productLastmod(n));
    assert.equal(productLastmod(1), '2025-01-02');
    // The index's lastmod per sitemap is its newest product's.
    const books = sitemaps.find((s) => s.loc.endsWith('/books.xml'));
    const newest = [1, 5, 9, 13, 17].map(productLastmod).sort().at(-1);
    assert.equal(books?.lastmod, newest);
    assert.equal(site.counters().pages.sitemap, 8, 'the index twice, toys three times, the others once');
  });

  it('changes a product over HTTP: its pages show it and its lastmod moves in the sitemap', async () => {
    clock = Date.parse('2026-06-02T08:30:00.000Z');
    const res = await send('PATCH', '/__catalog/products/6', { price: 12.5, stock: 0, title: 'Blue kettle' });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { ...product(6), name: 'Blue kettle', price: '12.50', stock: 0 });
    const page = (await get('/p/6')).body.toString();
    assert.match(page, /<h1>Blue kettle<\/h1>/);
    assert.match(page, /<span data-price="12\.50">12\.50<\/span>/);
    assert.match(page, /<span data-stock="0">0<\/span>/);
    const api = JSON.parse((await get('/api/products/6')).body.toString()) as { price: string };
    assert.equal(api.price, '12.50', 'the JavaScript-rendered page reads the changed product too');
    const other = (await get('/p/7')).body.toString();
    assert.match(other, new RegExp(`data-price="${productPrice(7)}"`));
    assert.match(other, new RegExp(`data-stock="${productStock(7)}"`));

    const all = await listed();
    assert.equal(all.get('/p/6'), '2026-06-02T08:30:00.000Z');
    assert.equal(all.get('/p/7'), productLastmod(7));
    const index = entries((await get('/sitemap.xml')).body.toString());
    assert.equal(index.find((s) => s.loc.endsWith('/books.xml'))?.lastmod, productLastmod(17));
    assert.equal(
      index.find((s) => s.loc.endsWith('/garden.xml'))?.lastmod,
      '2026-06-02T08:30:00.000Z',
      'product 6 is in garden',
    );

    // A second change merges with the first and moves lastmod again.
    clock = Date.parse('2026-06-03T00:00:00.000Z');
    assert.equal((await send('PATCH', '/__catalog/products/6', { price: '13' })).status, 200);
    assert.match((await get('/p/6')).body.toString(), /<h1>Blue kettle<\/h1>[\s\S]*data-price="13\.00"/);
    assert.equal((await listed()).get('/p/6'), '2026-06-03T00:00:00.000Z');
    const snapshot = (await (await send('GET', '/__catalog')).json()) as { changed: unknown[] };
    assert.deepEqual(snapshot.changed, [
      {
        id: 6,
        patch: { title: 'Blue kettle', price: '13.00', stock: 0 },
        lastmod: '2026-06-03T00:00:00.000Z',
      },
    ]);
  });

  it('removes a product (404 everywhere, gone from the sitemap) and adds products', async () => {
    clock = Date.parse('2026-06-04T00:00:00.000Z');
    assert.equal((await send('DELETE', '/__catalog/products/3')).status, 204);
    assert.equal((await send('DELETE', '/__catalog/products/3')).status, 404, 'already removed');
    for (const path of ['/p/3', '/js/3', '/api/products/3', '/slow/3?ms=0', '/challenge/3', '/media/3']) {
      assert.equal((await get(path)).status, 404, path);
    }
    assert.equal((await send('PATCH', '/__catalog/products/3', { price: 1 })).status, 404);
    assert.equal((await send('PUT', '/__catalog/products/25', { price: '9.99' })).status, 201);
    let all = await listed();
    assert.equal(all.has('/p/3'), false);
    assert.equal(all.get('/p/25'), '2026-06-04T00:00:00.000Z');
    assert.equal(all.size, DEFAULT_SITEMAP_PRODUCTS);
    assert.match((await get('/p/25')).body.toString(), /data-price="9\.99"/);

    // PUT adds a removed product back.
    assert.equal((await send('PUT', '/__catalog/products/3')).status, 201);
    assert.equal((await get('/p/3')).status, 200);
    all = await listed();
    assert.equal(all.get('/p/3'), '2026-06-04T00:00:00.000Z');
    assert.equal(all.size, DEFAULT_SITEMAP_PRODUCTS + 1);
  });

  it('resets the catalogue (optionally to another range) and refuses bad changes naming the field', async () => {
    site.catalog.change(2, { price: '1.00' });
    site.catalog.remove(4);
    const reset = await send('POST', '/__catalog/reset', { sitemapProducts: 8 });
    assert.equal(reset.status, 200);
    assert.deepEqual(await reset.json(), { sitemapProducts: 8, changed: [], added: [], removed: [] });
    assert.equal((await listed()).size, 8);
    assert.match((await get('/p/2')).body.toString(), new RegExp(`data-price="${productPrice(2)}"`));
    assert.equal((await get('/p/4')).status, 200);
    assert.equal((await send('POST', '/__catalog/reset')).status, 200, 'no body: keep the range');
    assert.equal(site.catalog.sitemapProducts, 8);

    const bad = async (body: unknown, field: string) => {
      const res = await send('PATCH', '/__catalog/products/2', body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.match(await res.text(), new RegExp(`^invalid ${field}:`));
    };
    await bad({ price: 'cheap' }, 'price');
    await bad({ stock: -1 }, 'stock');
    await bad({ title: '' }, 'title');
    await bad({ colour: 'red' }, 'body');
    assert.equal((await send('POST', '/__catalog/reset', { sitemapProducts: 10_000_000 })).status, 400);
    assert.equal((await send('PATCH', '/__catalog/products/0', { price: 1 })).status, 404);
  });

  it('keeps the catalogue per server instance', async () => {
    const other = await startDemoSite();
    try {
      site.catalog.remove(1);
      assert.equal((await get('/p/1')).status, 404);
      assert.equal((await fetch(`${other.origin}/p/1`)).status, 200);
    } finally {
      await other.close();
    }
  });

  it('serves the sitemap reader fixtures under /sitemaps/test/', async () => {
    const chain = entries((await get('/sitemaps/test/chain/2.xml')).body.toString());
    assert.deepEqual(chain, [{ loc: `${site.origin}/sitemaps/test/chain/1.xml` }]);
    assert.match((await get('/sitemaps/test/chain/0.xml')).body.toString(), /<urlset[\s\S]*\/p\/1</);
    const range = await get('/sitemaps/test/range/1-50001.xml.gz');
    assert.equal(range.type, 'application/gzip');
    assert.equal(entries(gunzipSync(range.body).toString()).length, 50_001);
    assert.equal((await get('/sitemaps/test/range/1-100001.xml')).status, 404, 'over MAX_TEST_RANGE');
    assert.match((await get('/sitemaps/test/malformed.xml')).body.toString(), /<\/lo$/);
    assert.match((await get('/sitemaps/test/entities.xml')).body.toString(), /<!ENTITY lol9 "(&lol8;){10}">/);
    assert.match((await get('/sitemaps/test/external-entity.xml')).body.toString(), /SYSTEM "file:/);
    assert.match((await get('/sitemaps/test/mixed.xml')).body.toString(), /p\/7\?a=1&amp;b=2/);
    assert.equal((await get('/sitemaps/test/nothing.xml')).status, 404);
    assert.equal((await get('/sitemaps/fruit.xml')).status, 404);
  });
});
