/**
 * The end of `scrapeflow demo`: a monitor over a few demo products, run twice through its Temporal
 * Schedule (triggered, not waited for), with two prices changed on the demo site in between, so the
 * second run's change report has something to say.
 */
import type { Client } from '@temporalio/client';
import { createMonitor } from '../../src/client/monitors.js';
import { monitorChanges, triggerMonitor, waitForRun, type ChangeRow } from '../../src/client/monitor-runs.js';
import type { ResultStore } from '../../src/store/types.js';
import type { CatalogState } from '../demo-site/changes.js';
import { DEMO_SELECTORS } from './demo.js';

export interface MonitorDemo {
  name: string;
  first: string;
  second: string;
  counts: Record<string, number>;
  changed: ChangeRow[];
}

export async function runMonitorDemo(options: {
  client: Client;
  store: ResultStore;
  demoOrigin: string;
  catalog: CatalogState;
  /** @default 6 */
  products?: number;
}): Promise<MonitorDemo> {
  const { client, store, catalog } = options;
  const name = `demo-prices-${Date.now().toString(36)}`;
  await createMonitor(client, store, name, {
    urls: Array.from({ length: options.products ?? 6 }, (_, i) => ({
      url: `${options.demoOrigin}/p/${i + 1}`,
    })),
    every: '1d',
    paused: true,
    options: {
      mode: 'fast',
      outputFormat: 'css_extractor',
      cssSelectors: { title: DEMO_SELECTORS.title, price: DEMO_SELECTORS.price },
      schema: { title: { type: 'string' }, price: { type: 'number' } },
      concurrency: 4,
    },
  });
  const run = async () => {
    const triggered = await triggerMonitor(client, store, name);
    if (!triggered.workflowId) throw new Error(`the demo monitor's run was skipped`);
    return waitForRun(client, triggered.workflowId);
  };
  const first = await run();
  for (const n of [2, 5]) {
    const price = Number(catalog.product(n)?.price ?? '10');
    catalog.change(n, { price: (price * 1.1).toFixed(2) });
  }
  const second = await run();
  const changed: ChangeRow[] = [];
  for await (const row of monitorChanges(store, name, { run: second.batchId, statuses: ['changed'] }))
    changed.push(row);
  return { name, first: first.batchId, second: second.batchId, counts: second.counts ?? {}, changed };
}
