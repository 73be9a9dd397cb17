/**
 * `scrapeflow start --sitemap` end to end on a dev server: the demo site's sitemap index (one gzip
 * sitemap) read through the local OmniScrape API (charged) or directly, filtered, into a batch that
 * runs; a sitemap that cannot be read is one line naming it, exit 2, and nothing stored.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { BatchProgress } from '../../src/workflows/types.js';
import type { SitemapReadStats } from '../../src/sitemaps/index.js';
import { runCli } from '../support/cli.js';
import { startStack, type Stack } from '../support/stack.js';

describe('start --sitemap', { timeout: 180_000 }, () => {
  let stack: Stack;
  let env: Record<string, string>;

  before(async () => {
    stack = await startStack();
    await stack.startWorker();
    stack.demo.catalog.reset(8);
    env = { OMNISCRAPE_API_URL: stack.apiUrl, OMNISCRAPE_KEY: stack.apiKey, LOG_LEVEL: 'info' };
  });
  after(async () => {
    await stack?.stop();
  });

  it('reads the sitemap index through OmniScrape into a batch that runs, charging each file', async () => {
    const charged = stack.api.state.counters.snapshot().credits.charged_total;
    const run = await runCli(
      stack,
      [
        'start',
        '--sitemap',
        `${stack.demoOrigin}/sitemap.xml`,
        '--exclude',
        '**/p/8',
        '--batch-id',
        'sitemap-1',
        '--mode',
        'fast',
        '--wait',
        '--json',
      ],
      { env },
    );
    assert.equal(run.code, 0, run.stderr);
    const out = JSON.parse(run.stdout) as {
      total: number;
      sitemap: SitemapReadStats;
      progress: BatchProgress;
    };
    assert.equal(out.total, 7);
    assert.equal(out.sitemap.files, 5);
    assert.equal(out.sitemap.charged, 5);
    assert.equal(out.sitemap.filtered, 1);
    assert.equal(out.progress.state, 'completed');
    const records = await stack.records('sitemap-1');
    assert.deepEqual(records.map((r) => new URL(r.url).pathname).sort(), [
      '/p/1',
      '/p/2',
      '/p/3',
      '/p/4',
      '/p/5',
      '/p/6',
      '/p/7',
    ]);
    assert.ok(records.every((r) => r.status === 'succeeded'));
    // 5 sitemap files and 7 pages, one credit each.
    assert.equal(stack.api.state.counters.snapshot().credits.charged_total - charged, 12);
    const costLines = run.stderr
      .split('\n')
      .filter((l) => l.includes('"omniscrape_call"'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(costLines.length, 5, 'a cost line per sitemap file, on stderr');
    assert.ok(costLines.every((l) => l.batchId === 'sitemap-1' && l.charged === 1));
  });

  it('reads robots.txt directly, and refuses an unreadable sitemap naming it, storing nothing', async () => {
    const direct = await runCli(
      stack,
      ['start', '--sitemap', stack.demoOrigin, '--sitemap-from-robots', '--sitemap-fetch', 'direct'],
      { env: { OMNISCRAPE_API_URL: stack.apiUrl }, stdin: '' },
    );
    assert.equal(direct.code, 0, direct.stderr);
    assert.match(direct.stdout, /^started batch \S+ with 8 URLs \(from 6 sitemap files\)$/m);

    const broken = `${stack.demoOrigin}/sitemaps/test/malformed.xml`;
    const bad = await runCli(
      stack,
      ['start', '--sitemap', broken, '--sitemap-fetch', 'direct', '--batch-id', 'sitemap-bad'],
      { env },
    );
    assert.equal(bad.code, 2);
    assert.match(
      bad.stderr,
      new RegExp(`sitemap ${broken.replace(/[.?*]/g, '\\$&')}: is not well-formed XML`),
    );
    assert.doesNotMatch(bad.stderr, /\n\s+at /, 'no stack trace');
    assert.equal(await stack.store.inputCount('sitemap-bad'), undefined);

    const usage = await Promise.all([
      runCli(stack, ['start', '--include', '**/p/*', '-'], { env }),
      runCli(stack, ['start', '--sitemap', 'ftp://x/sitemap.xml'], { env }),
      runCli(stack, ['start', '--sitemap', `${stack.demoOrigin}/sitemap.xml`], {
        env: { OMNISCRAPE_API_URL: stack.apiUrl },
      }),
    ]);
    assert.deepEqual(
      usage.map((u) => u.code),
      [2, 2, 2],
    );
    assert.match(usage[0].stderr, /--include applies to --sitemap input/);
    assert.match(usage[1].stderr, /--sitemap "ftp:\/\/x\/sitemap\.xml": must be an absolute http\(s\) URL/);
    assert.match(usage[2].stderr, /no key: set OMNISCRAPE_KEY .*--sitemap-fetch direct/);
  });
});
