/**
 * Local API `fast` throughput: demo product pages scraped through the local API (`POST /v1/scrape`,
 * mode `fast`, css_extractor) against bare undici GETs of the same pages, same run, same concurrency.
 * The ratio (local API / bare) is what the API's work costs on top of the fetch itself: auth, validation,
 * accounting, a second HTTP hop and the cheerio extraction.
 *
 * A third arm scrapes with `output_format: html` (no extraction) to show what cheerio costs.
 *
 * `BENCH_LOCAL_API_REQUESTS` (default 1000) requests per arm, `BENCH_LOCAL_API_CONCURRENCY` (default 8)
 * in flight; every arm is warmed up first (not measured). On a shared 2-core machine expect noise of ±20 %.
 */
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { Pool } from 'undici';
import { startDemoSite } from '../devkit/demo-site/index.js';
import { startLocalApi } from '../devkit/local-api/index.js';

export const name = 'local-api-fast';

const KEY = 'sk-bench-local-api';

function intFromEnv(name: string, fallback: number): number {
  const raw = process.env[name] ?? String(fallback);
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`${name} must be a positive integer, got ${raw}`);
  return value;
}

/** Runs `count` calls with `concurrency` lanes; returns requests per second. */
async function measure(
  count: number,
  concurrency: number,
  call: (i: number) => Promise<void>,
): Promise<number> {
  let next = 0;
  const started = performance.now();
  const lane = async (): Promise<void> => {
    while (next < count) await call(next++);
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return count / ((performance.now() - started) / 1000);
}

const round = (value: number, digits = 2): number => Math.round(value * 10 ** digits) / 10 ** digits;

export async function run(): Promise<Record<string, unknown>> {
  const requests = intFromEnv('BENCH_LOCAL_API_REQUESTS', 1000);
  const concurrency = intFromEnv('BENCH_LOCAL_API_CONCURRENCY', 8);
  const warmup = Math.min(300, requests);
  const demo = await startDemoSite({});
  const api = await startLocalApi({
    accounts: [{ id: 'bench', key: KEY, balance: 10 * 2 * (requests + warmup), concurrency }],
    logger: pino({ level: 'silent' }),
  });
  const site = new Pool(demo.origin, { connections: concurrency });
  const local = new Pool(api.origin, { connections: concurrency });
  const path = (i: number): string => `/p/${(i % 5000) + 1}`;
  try {
    const bare = async (i: number): Promise<void> => {
      const res = await site.request({ method: 'GET', path: path(i) });
      await res.body.text();
      if (res.statusCode !== 200) throw new Error(`demo site answered ${res.statusCode}`);
    };
    const scrape =
      (extract: boolean) =>
      async (i: number): Promise<void> => {
        const res = await local.request({
          method: 'POST',
          path: '/v1/scrape',
          headers: { 'x-api-key': KEY, 'content-type': 'application/json' },
          body: JSON.stringify({
            url: `${demo.origin}${path(i)}`,
            mode: 'fast',
            ...(extract
              ? {
                  output_format: 'css_extractor',
                  css_selectors: { title: 'h1', price: '[data-price]', sku: '.product-sku' },
                }
              : { output_format: 'html' }),
          }),
        });
        const body = (await res.body.json()) as { success?: boolean };
        if (res.statusCode !== 200 || body.success !== true)
          throw new Error(`local API answered ${res.statusCode}`);
      };
    await measure(warmup, concurrency, bare);
    const bareRps = await measure(requests, concurrency, bare);
    // Warm both local API arms (JIT, connection pools) before measuring either.
    await measure(warmup, concurrency, scrape(true));
    await measure(warmup, concurrency, scrape(false));
    const apiRps = await measure(requests, concurrency, scrape(true));
    const apiHtmlRps = await measure(requests, concurrency, scrape(false));
    const charged = api.state.counters.snapshot().credits.charged_total;
    const expected = 2 * (requests + warmup);
    if (charged !== expected) throw new Error(`expected ${expected} credits charged, got ${charged}`);
    return {
      requests,
      concurrency,
      bareUndiciRps: round(bareRps),
      localApiFastRps: round(apiRps),
      ratio: round(apiRps / bareRps, 3),
      /** The same without css_extractor (output_format html): the share cheerio takes. */
      localApiFastHtmlRps: round(apiHtmlRps),
      htmlRatio: round(apiHtmlRps / bareRps, 3),
    };
  } finally {
    await Promise.all([site.close(), local.close()]);
    await api.close();
    await demo.close();
  }
}
