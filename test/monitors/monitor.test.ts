/**
 * Monitors end to end: a real Temporal Schedule on the dev server, runs triggered through it, worker
 * processes, the local API, and a product site of the test's own whose prices the test changes.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createMonitor, updateMonitor } from '../../src/client/monitors.js';
import {
  describeMonitor,
  monitorChanges,
  monitorHistory,
  triggerMonitor,
  waitForRun,
  type ChangeRow,
} from '../../src/client/monitor-runs.js';
import { resumeBatch } from '../../src/client/batches.js';
import { getProgress } from '../../src/client/progress.js';
import { monitorStoreOf } from '../../src/monitors/store.js';
import { eventually, startStack, type Stack, type WorkerProcess } from '../support/stack.js';

/** Product n's page; its price is whatever `prices` holds now. */
const prices = new Map<number, string>();
let site: Server;
let origin: string;
let stack: Stack;
let workflows: WorkerProcess;
let hold: string;

/** The workflows role as deployed: without an OmniScrape key. */
const WORKFLOWS_ENV = () => ({ SCRAPEFLOW_TEST_HOLD_TRACKING: hold, OMNISCRAPE_KEY: '' });
const product = (n: number) => `${origin}/p/${n}`;
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const OPTIONS = {
  mode: 'fast' as const,
  outputFormat: 'css_extractor' as const,
  cssSelectors: { title: 'h1', price: '.price' },
  schema: { title: { type: 'string' as const }, price: { type: 'number' as const } },
  concurrency: 4,
};

async function collect(rows: AsyncIterable<ChangeRow>): Promise<ChangeRow[]> {
  const out: ChangeRow[] = [];
  for await (const row of rows) out.push(row);
  return out;
}

const byStatus = (rows: ChangeRow[]) =>
  rows.reduce<Record<string, string[]>>((acc, r) => {
    (acc[r.status] ??= []).push(r.url);
    return acc;
  }, {});

/** Triggers a run and waits for it (the batch and its change tracking). */
async function run(name: string) {
  const triggered = await triggerMonitor(stack.client, stack.store, name);
  assert.equal(triggered.skipped, false);
  const result = await waitForRun(stack.client, triggered.workflowId!);
  assert.equal(result.batchId, triggered.batchId);
  return { ...result, rows: await collect(monitorChanges(stack.store, name, { run: result.batchId })) };
}

before(async () => {
  site = createServer((req, res) => {
    const n = Number(/^\/p\/(\d+)$/.exec(req.url ?? '')?.[1]);
    if (!prices.has(n)) return res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(`<html><body><h1>Product ${n}</h1><span class="price">$${prices.get(n)}</span></body></html>`);
  });
  site.listen(0, '127.0.0.1');
  await new Promise((resolve) => site.once('listening', resolve));
  origin = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
  for (const n of range(1, 20))
    prices.set(n, (1000 + n * 10).toLocaleString('en-US', { minimumFractionDigits: 2 }));
  stack = await startStack({ concurrency: 4 });
  hold = join(stack.dataDir, 'hold-tracking');
  workflows = await stack.startWorker(WORKFLOWS_ENV(), 'workflows');
  // The scrape worker reads sitemaps directly behind the SSRF guard: the demo site is on 127.0.0.1.
  await stack.startWorker({ SCRAPEFLOW_WEBHOOK_ALLOW_HOSTS: '127.0.0.1' }, 'scrape');
});
after(async () => {
  await stack?.stop();
  site?.close();
});

describe('monitors (real Schedule, dev server, worker processes)', () => {
  it('three runs: new; then changed, not_observed, removed, new, same (worker killed mid-tracking); then same', async () => {
    const spec = await createMonitor(stack.client, stack.store, 'prices', {
      urls: range(1, 12).map((n) => ({ url: product(n) })),
      every: '1h',
      paused: true,
      options: OPTIONS,
    });
    assert.equal(spec.input.kind, 'urls');
    const first = await run('prices');
    assert.match(first.batchId, /^prices@\d{8}T\d{6}Z$/);
    assert.deepEqual(first.counts, {
      new: 12,
      same: 0,
      changed: 0,
      removed: 0,
      not_observed: 0,
      baseline: 0,
    });

    // Run 2: five prices move, three products fail, two URLs leave the input and two join it.
    for (const n of range(1, 5)) prices.set(n, '2,000.00');
    await stack.admin('PUT', '/admin/faults', {
      rules: range(6, 8).map((n) => ({ match: product(n), action: 'success_false' })),
    });
    await updateMonitor(stack.client, stack.store, 'prices', {
      urls: [...range(1, 10), 13, 14].map((n) => ({ url: product(n) })),
    });
    // The workflows worker is SIGKILLed once change tracking wrote its first chunk of run 2.
    await writeFile(`${hold}.armed`, '');
    const triggered = await triggerMonitor(stack.client, stack.store, 'prices');
    await eventually(() => Promise.resolve(existsSync(hold)), { what: 'change tracking to hold' });
    await workflows.kill('SIGKILL');
    workflows = await stack.startWorker(WORKFLOWS_ENV(), 'workflows');
    const second = await waitForRun(stack.client, triggered.workflowId!);
    const rows = await collect(monitorChanges(stack.store, 'prices', { run: second.batchId }));
    assert.deepEqual(second.counts, {
      new: 2,
      same: 2,
      changed: 5,
      removed: 2,
      not_observed: 3,
      baseline: 0,
    });
    const statuses = byStatus(rows);
    assert.deepEqual(statuses.changed, range(1, 5).map(product).sort());
    assert.deepEqual(statuses.not_observed, range(6, 8).map(product).sort());
    assert.deepEqual(statuses.removed, [11, 12].map(product).sort());
    assert.deepEqual(statuses.new, [13, 14].map(product).sort());
    assert.deepEqual(statuses.same, [9, 10].map(product).sort());
    const p1 = rows.find((r) => r.url === product(1));
    assert.deepEqual(p1?.diff, { price: { previous: 1010, current: 2000 } });
    assert.equal(p1?.previousObservedAt, new Date(Date.parse(first.rows[0]!.observedAt)).toISOString());
    // Invariant 10: a URL that failed is neither changed nor removed.
    for (const r of rows.filter((r) => range(6, 8).map(product).includes(r.url))) {
      assert.equal(r.status, 'not_observed');
      assert.deepEqual(r.diff, {});
    }

    // Run 3: the three are back, unchanged against their last good observation.
    await stack.admin('PUT', '/admin/faults', { rules: [] });
    const third = await run('prices');
    assert.deepEqual(third.counts, {
      new: 0,
      same: 12,
      changed: 0,
      removed: 0,
      not_observed: 0,
      baseline: 0,
    });
    const history = await collect(monitorHistory(stack.store, 'prices', product(6), { field: 'price' }));
    assert.deepEqual(
      history.map((h) => h.status),
      ['new', 'not_observed', 'same'],
    );
  });

  it('a move under the threshold is same; a selector change is a new baseline, not a change', async () => {
    await updateMonitor(stack.client, stack.store, 'prices', { thresholds: ['price=1%'] });
    prices.set(9, (1090 * 1.005).toFixed(2));
    prices.set(10, '2,500.00');
    const moved = await run('prices');
    assert.deepEqual(byStatus(moved.rows).changed, [product(10)]);
    assert.equal(moved.counts?.same, 11);
    await updateMonitor(stack.client, stack.store, 'prices', {
      options: { ...OPTIONS, cssSelectors: { title: 'body h1', price: 'span.price' } },
    });
    prices.set(1, '3,000.00');
    const rebased = await run('prices');
    assert.deepEqual(rebased.counts, {
      new: 0,
      same: 0,
      changed: 0,
      removed: 0,
      not_observed: 0,
      baseline: 12,
    });
  });

  it('a run paused for balance when the next is due: the next is skipped and counted', async () => {
    await createMonitor(stack.client, stack.store, 'broke', {
      urls: range(15, 16).map((n) => ({ url: product(n) })),
      every: '1h',
      paused: true,
      options: OPTIONS,
    });
    await stack.admin('POST', '/admin/balance', { account: 'test', balance: 0 });
    const first = await triggerMonitor(stack.client, stack.store, 'broke');
    await eventually(
      async () =>
        (await getProgress(stack.client, stack.store, first.batchId!).catch(() => undefined))?.pauseReason ===
        'balance',
      { what: 'the run to pause for balance' },
    );
    const next = await triggerMonitor(stack.client, stack.store, 'broke');
    assert.equal(next.skipped, true);
    assert.equal((await describeMonitor(stack.client, stack.store, 'broke')).schedule.skippedOverlap, 1);
    await stack.admin('POST', '/admin/balance', { account: 'test', balance: 1_000_000 });
    await resumeBatch(stack.client, first.batchId!);
    const result = await waitForRun(stack.client, first.workflowId!);
    assert.equal(result.counts?.new, 2);
    assert.equal((await monitorStoreOf(stack.store)!.get('broke'))?.state.skipsReported, 1);
  });

  it('--skip-unchanged: sitemap URLs whose lastmod did not move are same (lastmod) and cost 0 credits', async () => {
    await createMonitor(stack.client, stack.store, 'catalog', {
      sitemap: { urls: [`${stack.demoOrigin}/sitemap.xml`], fetch: 'direct' },
      skipUnchanged: true,
      every: '1h',
      paused: true,
      options: { ...OPTIONS, cssSelectors: { title: 'h1', price: '[data-price]' } },
    });
    const charged = () => stack.api.state.counters.snapshot().credits.charged_total;
    const before = charged();
    const first = await run('catalog');
    assert.equal(first.counts?.new, 20);
    assert.equal(charged() - before, 20);
    const product = stack.demo.catalog.product(3)!;
    stack.demo.catalog.change(3, { price: (Number(product.price) + 1).toFixed(2) });
    const middle = charged();
    const second = await run('catalog');
    assert.deepEqual(second.counts, {
      new: 0,
      same: 19,
      changed: 1,
      removed: 0,
      not_observed: 0,
      baseline: 0,
    });
    assert.equal(charged() - middle, 1, 'only the changed product was scraped');
    const same = second.rows.filter((r) => r.status === 'same');
    assert.ok(same.every((r) => r.reason === 'lastmod' && r.charged === 0));
  });

  it('a sitemap read through OmniScrape is read on the scrape worker (the workflows worker has no key)', async () => {
    await createMonitor(stack.client, stack.store, 'mapped', {
      sitemap: { urls: [`${stack.demoOrigin}/sitemap.xml`], maxUrls: 2 },
      every: '1h',
      paused: true,
      options: { ...OPTIONS, cssSelectors: { title: 'h1', price: '[data-price]' } },
    });
    const result = await run('mapped');
    assert.equal(result.batchState, 'completed');
    assert.equal(result.counts?.new, 2);
  });

  it('a sitemap that is not there fails the run at once, naming it (no retries for ever)', async () => {
    const missing = `${stack.demoOrigin}/sitemaps/nothing.xml`;
    await createMonitor(stack.client, stack.store, 'unmapped', {
      sitemap: { urls: [missing], fetch: 'direct' },
      every: '1h',
      paused: true,
      options: OPTIONS,
    });
    const triggered = await triggerMonitor(stack.client, stack.store, 'unmapped');
    await assert.rejects(waitForRun(stack.client, triggered.workflowId!), (err: Error) => {
      const causes = [];
      for (let e: Error | undefined = err; e; e = e.cause as Error | undefined) causes.push(e.message);
      assert.match(causes.join(' / '), /nothing\.xml: answered HTTP 404/);
      return true;
    });
  });

  it('a month budget reached pauses the schedule with reason budget', async () => {
    await createMonitor(stack.client, stack.store, 'capped', {
      urls: range(17, 19).map((n) => ({ url: product(n) })),
      every: '1h',
      paused: true,
      options: OPTIONS,
      maxCreditsPerMonth: 2,
    });
    const result = await run('capped');
    assert.equal(result.paused, true);
    const described = await describeMonitor(stack.client, stack.store, 'capped');
    assert.equal(described.schedule.paused, true);
    assert.match(described.schedule.note ?? '', /^budget/);
    assert.deepEqual(described.spec.state, { paused: true, pauseReason: 'budget', skipsReported: 0 });
    assert.equal(described.creditsThisMonth, 3);
  });
});
