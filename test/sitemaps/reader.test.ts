/**
 * The sitemap reader against the demo site's sitemaps and fixtures, directly and through the local
 * OmniScrape API (charged, with a cost line per file), and `storeSitemapInput` into a store.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DEFAULT_SITEMAP_PRODUCTS,
  productLastmod,
  startDemoSite,
  type DemoSite,
} from '../../devkit/demo-site/index.js';
import type { LocalApiHandle } from '../../devkit/local-api/index.js';
import { sitemapFailure } from '../../src/activities/failures.js';
import { ERROR_ANSWERS, isAppError, SitemapError, type SitemapProblem } from '../../src/errors.js';
import { createLogger } from '../../src/logging/logger.js';
import { OmniScrapeClient } from '../../src/omniscrape/client.js';
import {
  createSitemapReader,
  parseLastmod,
  storeSitemapInput,
  type SitemapEntry,
  type SitemapReader,
  type SitemapSource,
} from '../../src/sitemaps/index.js';
import { directFetcher, redirectTarget } from '../../src/sitemaps/fetch.js';
import { FsStore } from '../../src/store/fs-store.js';
import { AllowList } from '../../src/webhooks/ssrf.js';
import { startApi } from '../local-api/helpers.js';

const KEY = 'sk-sitemap-reader';

async function collect(reader: SitemapReader, source: SitemapSource): Promise<SitemapEntry[]> {
  const out: SitemapEntry[] = [];
  for await (const entry of reader.read(source)) out.push(entry);
  return out;
}

async function refused(reader: SitemapReader, source: SitemapSource, problem: SitemapProblem, url: string) {
  await assert.rejects(collect(reader, source), (err: unknown) => {
    assert.ok(isAppError(err, 'sitemap_invalid'), String(err));
    assert.equal(err.problem, problem, err.message);
    assert.equal(err.url, url);
    assert.ok(err.message.includes(url), `the message names ${url}: ${err.message}`);
    return true;
  });
}

describe('sitemap reader', { timeout: 120_000 }, () => {
  let site: DemoSite;
  let api: LocalApiHandle;
  let client: OmniScrapeClient;
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({
    name: 'test',
    level: 'info',
    destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
  });
  let direct: SitemapReader;
  const at = (path: string) => `${site.origin}${path}`;
  const products = (n: number) =>
    Array.from({ length: n }, (_, i) => ({
      url: at(`/p/${i + 1}`),
      lastmod: `${productLastmod(i + 1)}T00:00:00.000Z`,
    }));
  const sorted = (entries: SitemapEntry[]) =>
    [...entries].sort(
      (a, b) => Number(new URL(a.url).pathname.slice(3)) - Number(new URL(b.url).pathname.slice(3)),
    );

  before(async () => {
    site = await startDemoSite();
    api = await startApi({ accounts: [{ id: 'main', key: KEY, balance: 1000, concurrency: 4 }] });
    client = new OmniScrapeClient({ baseUrl: api.url, apiKey: KEY });
    direct = createSitemapReader({ logger });
  });
  after(async () => {
    await direct.close();
    await client.close();
    await api.close();
    await site.close();
  });

  it('reads a sitemap index and its sitemaps (one gzip) directly, lastmod as ISO', async () => {
    const entries = await collect(direct, { urls: [at('/sitemap.xml')], fetch: 'direct' });
    assert.equal(entries.length, DEFAULT_SITEMAP_PRODUCTS);
    assert.deepEqual(sorted(entries), products(DEFAULT_SITEMAP_PRODUCTS));
  });

  it('reads the same through OmniScrape: a charged fast scrape and a cost line per file, gzip via base64', async () => {
    const before = api.state.counters.snapshot().credits.charged_total;
    lines.length = 0;
    const reader = createSitemapReader({ logger, api: client, account: 'default', batchId: 'b-sitemap' });
    const entries = await collect(reader, { urls: [at('/sitemap.xml')] });
    assert.deepEqual(sorted(entries), products(DEFAULT_SITEMAP_PRODUCTS));
    const stats = reader.stats();
    assert.equal(stats.files, 5, 'the index and four sitemaps');
    assert.equal(stats.charged, 5);
    assert.equal(api.state.counters.snapshot().credits.charged_total - before, 5, 'the local API charged 5');
    const costLines = lines.filter((l) => l.event === 'omniscrape_call');
    assert.equal(costLines.length, 5);
    for (const l of costLines) {
      assert.equal(l.purpose, 'sitemap');
      assert.equal(l.outcome, 'success');
      assert.equal(l.charged, 1);
      assert.equal(l.batchId, 'b-sitemap');
      assert.equal(l.method_used, 'fast');
    }
    assert.ok(costLines.some((l) => String(l.url).endsWith('/sitemaps/toys.xml.gz')));
    await reader.close();
  });

  it('takes the sitemaps named in robots.txt', async () => {
    for (const reader of [direct, createSitemapReader({ logger, api: client })]) {
      const fetch = reader === direct ? 'direct' : 'omniscrape';
      const entries = await collect(reader, { urls: [site.origin], fromRobots: true, fetch });
      assert.equal(entries.length, DEFAULT_SITEMAP_PRODUCTS, fetch);
    }
  });

  it('follows nested indexes 5 deep and refuses a sixth, naming the file', async () => {
    const five = await collect(direct, { urls: [at('/sitemaps/test/chain/5.xml')], fetch: 'direct' });
    assert.deepEqual(
      five.map((e) => e.url),
      [at('/p/1')],
    );
    await refused(
      direct,
      { urls: [at('/sitemaps/test/chain/6.xml')], fetch: 'direct' },
      'too_deep',
      at('/sitemaps/test/chain/0.xml'),
    );
  });

  it("takes 50,000 URLs from one file and refuses 50,001 (the protocol's limit), gzip too", async () => {
    const full = createSitemapReader({ logger });
    let count = 0;
    for await (const _ of full.read({ urls: [at('/sitemaps/test/range/1-50000.xml.gz')], fetch: 'direct' }))
      count += 1;
    assert.equal(count, 50_000);
    await full.close();
    const url = at('/sitemaps/test/range/1-50001.xml');
    await refused(direct, { urls: [url], fetch: 'direct' }, 'too_many_urls', url);
  });

  it('keeps URLs by include/exclude globs and stops at maxUrls', async () => {
    const source = { urls: [at('/sitemap.xml')], fetch: 'direct' as const };
    const included = await collect(direct, { ...source, include: ['**/p/1*'] });
    assert.deepEqual(
      sorted(included).map((e) => new URL(e.url).pathname),
      ['/p/1', ...Array.from({ length: 10 }, (_, i) => `/p/${10 + i}`)],
    );
    const excluded = await collect(direct, { ...source, exclude: [`${site.origin}/p/1?`, '**/p/2'] });
    assert.equal(excluded.length, DEFAULT_SITEMAP_PRODUCTS - 11);
    const reader = createSitemapReader({ logger });
    const capped = await collect(reader, { ...source, maxUrls: 7 });
    assert.equal(capped.length, 7);
    assert.equal(reader.stats().capped, true);
    assert.equal(reader.stats().files, 3, 'reading stopped in the second sitemap (5 + 2 URLs)');
    await reader.close();
  });

  it('gives each URL once, http(s) only and at most 8192 characters, and drops invalid lastmods', async () => {
    const reader = createSitemapReader({ logger });
    const entries = await collect(reader, {
      urls: [at('/sitemaps/test/mixed.xml'), at('/sitemaps/test/mixed.xml')],
      fetch: 'direct',
    });
    assert.deepEqual(entries, [
      { url: at('/p/1'), lastmod: '2025-02-03T00:00:00.000Z' },
      { url: at('/p/2'), lastmod: '2025-02-03T03:05:06.000Z' },
      { url: at('/p/5') },
      { url: at('/p/6') },
      { url: at('/p/7?a=1&b=2') },
    ]);
    const stats = reader.stats();
    assert.equal(stats.duplicates, 1);
    assert.equal(
      stats.invalid,
      5,
      'a relative URL, ftp:, javascript:, an empty loc, one over 8192 characters',
    );
    assert.equal(stats.files, 1, 'a sitemap named twice is read once');
    await reader.close();
  });

  it('remembers only the URLs it gives out: one the globs drop counts as filtered each time it is met', async () => {
    const reader = createSitemapReader({ logger });
    const entries = await collect(reader, {
      urls: [at('/sitemaps/test/mixed.xml')],
      fetch: 'direct',
      exclude: [at('/p/1')],
    });
    assert.equal(entries.length, 4);
    const stats = reader.stats();
    assert.equal(stats.filtered, 2, '/p/1 is listed twice');
    assert.equal(stats.duplicates, 0);
    await reader.close();
  });

  it('refuses malformed XML, a DOCTYPE (entities, XXE), a 404 and a non-sitemap, naming the URL', async () => {
    const viaApi = createSitemapReader({ logger, api: client });
    for (const reader of [direct, viaApi]) {
      const fetch = reader === direct ? ('direct' as const) : ('omniscrape' as const);
      const check = (path: string, problem: SitemapProblem) =>
        refused(reader, { urls: [at(path)], fetch }, problem, at(path));
      await check('/sitemaps/test/malformed.xml', 'malformed');
      const started = Date.now();
      await check('/sitemaps/test/entities.xml', 'doctype');
      assert.ok(Date.now() - started < 5_000, 'no expansion was attempted');
      await check('/sitemaps/test/external-entity.xml', 'doctype');
      await check('/sitemaps/nothing.xml', 'fetch_failed');
      await check('/robots.txt', 'malformed');
      await check('/p/1', 'malformed'); // HTML is no XML
      await check('/sitemaps/test/feed.xml', 'not_a_sitemap');
    }
    await refused(
      direct,
      { urls: ['ftp://127.0.0.1/sitemap.xml'], fetch: 'direct' },
      'invalid_url',
      'ftp://127.0.0.1/sitemap.xml',
    );
    await assert.rejects(
      collect(createSitemapReader({ logger }), { urls: [at('/sitemap.xml')] }),
      (err: unknown) => isAppError(err, 'config_invalid'),
    );
  });

  it('maps a SitemapError to an activity failure: retried only when it may pass', () => {
    const final = sitemapFailure(
      new SitemapError('sitemap x: bad', {
        url: 'https://u:p@x.example/s.xml',
        problem: 'malformed',
        retryable: false,
      }),
    );
    assert.equal(final.nonRetryable, true);
    assert.equal(final.type, 'SitemapError');
    assert.deepEqual(final.details, [{ url: 'https://***@x.example/s.xml', problem: 'malformed' }]);
    const passing = sitemapFailure(
      new SitemapError('sitemap x: down', {
        url: 'https://x.example/s.xml',
        problem: 'fetch_failed',
        retryable: true,
      }),
    );
    assert.equal(passing.nonRetryable, false);
  });

  it("answers a SitemapError without the URL's credentials in its HTTP body", () => {
    const err = new SitemapError('sitemap https://***@x.example/s.xml: bad', {
      url: 'https://u:p@x.example/s.xml',
      problem: 'malformed',
      retryable: false,
    });
    assert.deepEqual(ERROR_ANSWERS.sitemap_invalid.body?.(err), {
      field: 'sitemap',
      url: 'https://***@x.example/s.xml',
      problem: 'malformed',
    });
  });

  it('parses W3C datetimes into ISO and ignores anything else', () => {
    assert.equal(parseLastmod('2025-03-04'), '2025-03-04T00:00:00.000Z');
    assert.equal(parseLastmod('2025'), '2025-01-01T00:00:00.000Z');
    assert.equal(parseLastmod(' 2025-03-04T10:20+02:00 '), '2025-03-04T08:20:00.000Z');
    assert.equal(parseLastmod('2025-03-04T10:20:30.5Z'), '2025-03-04T10:20:30.500Z');
    for (const bad of ['2025-02-30', '2025-13-01', 'yesterday', '04/03/2025', '2025-03-04T25:00Z', ''])
      assert.equal(parseLastmod(bad), undefined, bad);
  });

  it('streams a sitemap into the stored input (storeSitemapInput), all or nothing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sitemap-input-'));
    try {
      const store = await FsStore.open(dir);
      const stored = await storeSitemapInput(store, 'b-sitemap-1', direct, {
        urls: [at('/sitemap.xml')],
        fetch: 'direct',
        exclude: ['**/p/2?'],
      });
      assert.deepEqual(stored, { total: DEFAULT_SITEMAP_PRODUCTS - 1 });
      const skipped = await storeSitemapInput(
        store,
        'b-sitemap-2',
        direct,
        { urls: [at('/sitemap.xml')], fetch: 'direct' },
        { select: (entry) => entry.url !== at('/p/3'), tags: ['shop'] },
      );
      assert.equal(skipped.total, DEFAULT_SITEMAP_PRODUCTS - 1);
      const first = await store.readInput('b-sitemap-2', 0, 100);
      assert.ok(first.every((item) => item.tags?.[0] === 'shop'));
      assert.ok(!first.some((item) => item.url === at('/p/3')));
      await assert.rejects(
        storeSitemapInput(store, 'b-sitemap-3', direct, {
          urls: [at('/sitemap.xml'), at('/sitemaps/test/malformed.xml')],
          fetch: 'direct',
        }),
        (err: unknown) => isAppError(err, 'sitemap_invalid'),
      );
      assert.equal(await store.inputCount('b-sitemap-3'), undefined, 'nothing stored');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('direct sitemap fetches: SSRF guard, redirects, deadline', () => {
  it('a guarded fetch refuses 127.0.0.1 unless allowed; redirects are capped, never downgraded; a total deadline', async () => {
    let dripping: NodeJS.Timeout | undefined;
    const server = createServer((req, res) => {
      if (req.url === '/loop') return res.writeHead(302, { location: '/loop' }).end();
      if (req.url === '/slow') {
        res.writeHead(200, { 'content-type': 'application/xml' });
        dripping = setInterval(() => res.write(' '), 20);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/xml' }).end('<urlset/>');
    });
    server.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const fails = async (
      fetch: (u: string) => Promise<Buffer>,
      url: string,
      pattern: RegExp,
      retryable: boolean,
    ) =>
      assert.rejects(fetch(url), (err: unknown) => {
        assert.ok(isAppError(err, 'sitemap_invalid'), String(err));
        assert.match(err.message, pattern);
        assert.equal(err.retryable, retryable);
        return true;
      });
    const guarded = directFetcher({ guard: new AllowList(undefined) });
    const allowed = directFetcher({ guard: new AllowList('127.0.0.1'), totalTimeoutMs: 300 });
    try {
      await fails(
        guarded.fetch,
        `${origin}/sitemap.xml`,
        /127\.0\.0\.1.*SCRAPEFLOW_WEBHOOK_ALLOW_HOSTS/,
        false,
      );
      assert.equal((await allowed.fetch(`${origin}/sitemap.xml`)).toString(), '<urlset/>');
      await fails(allowed.fetch, `${origin}/loop`, /more than 5 redirects/, false);
      await fails(allowed.fetch, `${origin}/slow`, /not fetched within 300 ms/, true);
    } finally {
      clearInterval(dripping);
      server.closeAllConnections();
      server.close();
      await Promise.all([guarded.close(), allowed.close()]);
    }
    assert.match(
      String(redirectTarget('https://a.example/s.xml', 'http://a.example/t.xml')),
      /from https to http/,
    );
    assert.match(String(redirectTarget('https://a.example/s.xml', 'file:///etc/passwd')), /http\(s\) only/);
    assert.equal(String(redirectTarget('http://a.example/s.xml', '/t.xml')), 'http://a.example/t.xml');
  });
});
