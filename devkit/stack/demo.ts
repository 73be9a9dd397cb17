/**
 * The demo run on the embedded stack: a mixed batch of demo-site pages (static products extracted with
 * CSS selectors, JavaScript-rendered pages, one page answering 404 that OmniScrape reports as
 * `success: false` and that becomes a dead letter) and, beside it, one long render that goes through the
 * async job flow (submitted once, then polled on workflow timers).
 */
import type { Client } from '@temporalio/client';
import { startBatch } from '../../src/client/batches.js';
import { followBatch } from '../../src/client/follow.js';
import type { ResultStore } from '../../src/store/types.js';
import type { BatchProgress } from '../../src/workflows/types.js';

export interface DemoOptions {
  client: Client;
  store: ResultStore;
  demoOrigin: string;
  /** Static product pages. @default 8 */
  products?: number;
  /** JavaScript-rendered pages. @default 3 */
  jsPages?: number;
  /** Render delay of the long page, ms. @default 6000 */
  longRenderMs?: number;
  onProgress?: (progress: BatchProgress) => void;
}

export interface DemoRun {
  main: BatchProgress;
  longRender: BatchProgress;
}

export const DEMO_SELECTORS = { title: 'h1', price: '[data-price]', sku: '.product-sku' };

export function demoUrls(origin: string, products = 8, jsPages = 3) {
  return [
    ...Array.from({ length: products }, (_, i) => ({ url: `${origin}/p/${i + 1}`, tags: ['static'] })),
    ...Array.from({ length: jsPages }, (_, i) => ({ url: `${origin}/js/${100 + i}`, tags: ['js'] })),
    { url: `${origin}/status/404`, tags: ['broken'] },
  ];
}

export async function runDemo(options: DemoOptions): Promise<DemoRun & { batchIds: [string, string] }> {
  const { client, store } = options;
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '');
  const main = await startBatch(client, store, {
    batchId: `demo-${stamp}`,
    urls: demoUrls(options.demoOrigin, options.products, options.jsPages),
    options: {
      mode: 'auto',
      outputFormat: 'css_extractor',
      cssSelectors: DEMO_SELECTORS,
      jsWaitSelector: '.product-loaded',
      concurrency: 4,
      tags: ['demo'],
    },
  });
  const long = await startBatch(client, store, {
    batchId: `demo-${stamp}-long-render`,
    urls: [
      { url: `${options.demoOrigin}/js/200?delay=${options.longRenderMs ?? 6000}`, tags: ['long-render'] },
    ],
    options: {
      mode: 'js_rendering',
      asyncFlow: 'js_rendering',
      outputFormat: 'css_extractor',
      cssSelectors: DEMO_SELECTORS,
      jsWaitSelector: '.product-loaded',
      jsWaitTimeoutMs: 30_000,
      concurrency: 1,
      tags: ['demo'],
      polling: { initialMs: 1000, maxMs: 3000 },
    },
  });
  const [mainFinal, longFinal] = await Promise.all([
    followBatch(client, store, main.batchId, {
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    }),
    followBatch(client, store, long.batchId),
  ]);
  return { main: mainFinal, longRender: longFinal, batchIds: [main.batchId, long.batchId] };
}
