/**
 * Rendering throughput: pages per second through the Renderer (one Chromium reused, a fresh context per
 * page) against the baseline of launching a fresh Chromium for every page. Same run, same demo pages
 * (`/js/<n>?delay=0`, waiting for `.product-loaded`), one page at a time in both arms so the only
 * difference is browser reuse. The reuse arm's time includes its one launch.
 *
 * `BENCH_RENDER_PAGES` sets the pages per arm (default 10).
 */
import { performance } from 'node:perf_hooks';
import { chromium } from 'playwright';
import { CHROMIUM_ARGS, findChromium } from '../src/config/binaries.js';
import { startDemoSite } from '../devkit/demo-site/index.js';
import { Renderer } from '../devkit/local-api/renderer.js';

export const name = 'render';

const WAIT_SELECTOR = '.product-loaded';

function pagesFromEnv(): number {
  const raw = process.env.BENCH_RENDER_PAGES ?? '10';
  const pages = Number(raw);
  if (!Number.isInteger(pages) || pages < 1)
    throw new Error(`BENCH_RENDER_PAGES must be a positive integer, got ${raw}`);
  return pages;
}

function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export async function run(): Promise<Record<string, unknown>> {
  const pages = pagesFromEnv();
  const site = await startDemoSite();
  const url = (n: number): string => `${site.origin}/js/${n}?delay=0`;
  try {
    // Arm 1: one browser for every page.
    const renderer = new Renderer({ maxPages: 1 });
    let reusedMs: number;
    try {
      const started = performance.now();
      for (let n = 1; n <= pages; n++) {
        const result = await renderer.render({
          url: url(n),
          waitSelector: WAIT_SELECTOR,
          waitTimeoutMs: 10_000,
          solve: false,
        });
        if (result.waitTimedOut) throw new Error(`reused browser: ${url(n)} did not render`);
      }
      reusedMs = performance.now() - started;
    } finally {
      await renderer.close();
    }
    const launches = renderer.stats().launches;

    // Arm 2 (baseline): a fresh browser per page.
    const executablePath = findChromium();
    const started = performance.now();
    for (let n = 1; n <= pages; n++) {
      const browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS, headless: true });
      try {
        const page = await (await browser.newContext()).newPage();
        await page.goto(url(n), { waitUntil: 'domcontentloaded' });
        await page.waitForSelector(WAIT_SELECTOR, { state: 'attached', timeout: 10_000 });
        await page.content();
      } finally {
        await browser.close();
      }
    }
    const freshMs = performance.now() - started;

    const reusedPerSec = pages / (reusedMs / 1000);
    const freshPerSec = pages / (freshMs / 1000);
    return {
      pages,
      reusedBrowserPagesPerSec: round(reusedPerSec),
      freshBrowserPagesPerSec: round(freshPerSec),
      /** How many times more pages per second reuse renders than a launch per page. */
      reuseSpeedup: round(reusedPerSec / freshPerSec),
      reusedBrowserLaunches: launches,
      reusedMsPerPage: round(reusedMs / pages, 1),
      freshMsPerPage: round(freshMs / pages, 1),
    };
  } finally {
    await site.close();
  }
}
