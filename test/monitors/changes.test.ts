/**
 * Change tracking without Temporal: the pure diff (typed numbers, thresholds, whitespace, invariant 10)
 * and `trackRun` over synthetic run records, against both monitor stores (files and PostgreSQL), which
 * also holds them to one contract: upserts keyed (monitor, run, URL), history order, retention.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseBatchOptions } from '../../src/batch/options.js';
import { configHashOf, diffFields, observe, parseThreshold } from '../../src/monitors/changes.js';
import { monitorStoreOf, type MonitorStore } from '../../src/monitors/store.js';
import { trackRun } from '../../src/monitors/tracking.js';
import { finishRun } from '../../src/monitors/finish.js';
import { createLogger } from '../../src/logging/logger.js';
import type { EventDraft } from '../../src/events/types.js';
import type { Client } from '@temporalio/client';
import { monitorRunId, type MonitorSpec, type Observation } from '../../src/monitors/types.js';
import { FsStore } from '../../src/store/fs-store.js';
import { PgStore } from '../../src/store/pg-store.js';
import type { ResultRecord, ResultStore } from '../../src/store/types.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { formatChanges, monitorChanges } from '../../src/client/monitor-runs.js';

const schema = {
  title: { type: 'string' as const, required: true },
  price: { type: 'number' as const, required: true },
};

describe('the diff', () => {
  it('compares number fields of the schema as numbers, strings after whitespace normalisation', () => {
    assert.deepEqual(
      diffFields({ price: '$1,299.00', title: 'A  b' }, { price: '1299', title: ' A b ' }, schema, {}),
      {},
    );
    assert.deepEqual(diffFields({ price: '$1,299.00' }, { price: '$1,300.00' }, schema, {}), {
      price: { previous: 1299, current: 1300 },
    });
    assert.deepEqual(diffFields({ title: 'a' }, { title: null }, schema, {}), {
      title: { previous: 'a', current: null },
    });
  });

  it('ignores moves under a threshold: relative, absolute, or for every number field', () => {
    assert.deepEqual(parseThreshold('price=1%'), ['price', { percent: 1 }]);
    assert.deepEqual(parseThreshold('price=0.5'), ['price', { absolute: 0.5 }]);
    assert.deepEqual(parseThreshold('2%'), ['*', { percent: 2 }]);
    assert.equal(parseThreshold('price=abc'), undefined);
    const moved = (a: string, b: string, t: Record<string, { percent?: number; absolute?: number }>) =>
      Object.keys(diffFields({ price: a }, { price: b }, schema, t)).length > 0;
    assert.equal(moved('100.00', '100.50', { price: { percent: 1 } }), false);
    assert.equal(moved('100.00', '101.50', { price: { percent: 1 } }), true);
    assert.equal(moved('100.00', '100.40', { price: { absolute: 0.5 } }), false);
    assert.equal(moved('100.00', '100.40', { '*': { absolute: 0.5 } }), false);
  });

  it('a failed URL is not_observed and keeps its baseline; a config change is a new baseline', () => {
    const options = parseBatchOptions({
      outputFormat: 'css_extractor',
      cssSelectors: { title: 'h1', price: '.p' },
      schema,
    });
    const configHash = configHashOf(options);
    const record = (status: ResultRecord['status'], price?: string): ResultRecord => ({
      batchId: 'm@20260101T000000Z',
      index: 0,
      url: 'https://x.test/1',
      status,
      charged: status === 'succeeded' ? 1 : 0,
      attempts: 1,
      finishedAt: '',
      ...(price ? { fields: { price } } : {}),
    });
    const base = {
      monitor: 'm',
      batchId: 'm@20260101T000000Z',
      observedAt: '2026-01-01T00:00:00.000Z',
      configHash,
      thresholds: {},
      schema,
    };
    const first = observe({ ...base, record: record('succeeded', '10') });
    assert.equal(first.status, 'new');
    const failed = observe({ ...base, record: record('dead_lettered'), previous: first });
    assert.equal(failed.status, 'not_observed');
    assert.deepEqual(failed.baseline, first.baseline);
    assert.equal(observe({ ...base, record: record('succeeded', '10'), previous: failed }).status, 'same');
    const rebased = observe({
      ...base,
      configHash: configHashOf({ ...options, cssSelectors: { title: 'h1', price: '.q' } }),
      record: record('succeeded', '99'),
      previous: first,
    });
    assert.equal(rebased.status, 'baseline');
    assert.equal(rebased.diff, undefined);
  });
});

let dir: string;
let db: TestDatabase;
const stores: Record<string, ResultStore> = {};

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'monitors-'));
  db = await createTestDatabase('sf_monitors');
  stores.fs = await FsStore.open(dir);
  stores.pg = await PgStore.open(db.url);
});
after(async () => {
  await stores.pg?.close();
  await stores.fs?.close();
  await db?.drop();
  await rm(dir, { recursive: true, force: true });
});

const url = (n: number) => `https://shop.test/p/${n}`;

function specOf(name: string): MonitorSpec {
  return {
    name,
    account: 'default',
    input: { kind: 'urls', inputId: `${name}@input-0`, count: 0 },
    schedule: { every: '1h', catchupWindow: '1h' },
    options: parseBatchOptions({
      outputFormat: 'css_extractor',
      cssSelectors: { title: 'h1', price: '.p' },
      schema,
    }),
    retainDays: 90,
    thresholds: {},
    skipUnchanged: false,
    state: { paused: false, skipsReported: 0 },
    createdAt: '',
    updatedAt: '',
  };
}

/** Stores run `k`'s input and records: URL n → price, or a failure. */
async function storeRun(store: ResultStore, name: string, k: number, urls: Record<number, string>) {
  const at = new Date(Date.UTC(2026, 0, 1, k));
  const batchId = monitorRunId(name, at);
  const entries = Object.entries(urls);
  await store.putInput(
    batchId,
    entries.map(([n]) => ({ url: url(Number(n)) })),
  );
  for (const [index, [n, price]] of entries.entries())
    await store.putResult({
      batchId,
      index,
      url: url(Number(n)),
      status: price === 'fail' ? 'dead_lettered' : 'succeeded',
      charged: price === 'fail' ? 0 : 1,
      attempts: 1,
      finishedAt: at.toISOString(),
      ...(price === 'fail' ? { reason: 'scrape_failed' } : { fields: { price } }),
    });
  return { name, batchId, scheduledAt: at.toISOString() };
}

async function all<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

for (const kind of ['fs', 'pg'] as const) {
  describe(`change tracking on the ${kind} store`, () => {
    it('three runs, idempotent per run; history, costs, since and retention', async () => {
      const store = stores[kind]!;
      const monitors: MonitorStore = monitorStoreOf(store)!;
      const spec = specOf('shop');
      assert.equal(await monitors.create(spec), true);
      assert.equal(await monitors.create(spec), false);
      const track = async (run: { name: string; batchId: string; scheduledAt: string }) => {
        await monitors.putRun({
          monitor: run.name,
          batchId: run.batchId,
          scheduledAt: run.scheduledAt,
          state: 'running',
        });
        const tracked = await trackRun({ store, monitors, spec, run, chunkSize: 3 });
        await monitors.putRun({
          ...(await monitors.getRun(run.name, run.batchId))!,
          state: 'tracked',
          ...tracked,
        });
        return tracked;
      };
      const prices = Object.fromEntries([...Array(12).keys()].map((i) => [i + 1, `${10 + i}.00`]));
      const r1 = await storeRun(store, 'shop', 1, prices);
      assert.equal((await track(r1)).counts.new, 12);
      const second: Record<number, string> = {
        ...prices,
        1: '99.00',
        2: '98.00',
        3: '97.00',
        4: '96.00',
        5: '95.00',
      };
      for (const n of [6, 7, 8]) second[n] = 'fail';
      delete second[11];
      delete second[12];
      second[13] = '1.00';
      second[14] = '2.00';
      const r2 = await storeRun(store, 'shop', 2, second);
      const t2 = await track(r2);
      assert.deepEqual(t2.counts, { new: 2, same: 2, changed: 5, removed: 2, not_observed: 3, baseline: 0 });
      // Tracked again (a worker killed mid-way): the same rows and counts.
      const rows = await all(monitors.runObservations('shop', r2.batchId));
      assert.deepEqual((await track(r2)).counts, t2.counts);
      assert.deepEqual(await all(monitors.runObservations('shop', r2.batchId)), rows);
      const p1 = rows.find((r) => r.url === url(1));
      assert.deepEqual(p1?.diff, { price: { previous: 10, current: 99 } });
      const third: Record<number, string> = { ...second, 6: prices[6]!, 7: prices[7]!, 8: prices[8]! };
      const t3 = await track(await storeRun(store, 'shop', 3, third));
      assert.deepEqual(t3.counts, { new: 0, same: 12, changed: 0, removed: 0, not_observed: 0, baseline: 0 });
      const history = await all(monitors.history('shop', url(6)));
      assert.deepEqual(
        history.map((h: Observation) => h.status),
        ['new', 'not_observed', 'same'],
      );
      assert.equal((await monitors.costsByUrl('shop')).get(url(6)), 2);
      const since = await all(monitors.since('shop', r2.scheduledAt, { statuses: ['removed'] }));
      assert.deepEqual(since.map((r) => r.url).sort(), [url(11), url(12)].sort());
      assert.equal((await monitors.previousRun('shop', r2.scheduledAt))?.batchId, r1.batchId);
      assert.equal(await monitors.prune('shop', new Date(r2.scheduledAt)), 12);
      assert.deepEqual(await all(monitors.history('shop', url(6))).then((h) => h.length), 2);
      if (kind === 'fs') {
        assert.equal((await stat(join(dir, 'monitors', 'shop'))).mode & 0o777, 0o700);
        assert.equal((await stat(join(dir, 'monitors', 'shop', 'spec.json'))).mode & 0o777, 0o600);
      }
      assert.equal(await monitors.delete('shop', true), true);
      assert.equal(await monitors.get('shop'), undefined);
    });
  });
}

describe('monitor changes --diff', () => {
  it('a changed text content gets a unified text diff; a pruned previous body is said, not failed', async () => {
    const store = stores.fs!;
    const monitors = monitorStoreOf(store)!;
    const spec = { ...specOf('page'), options: parseBatchOptions({ outputFormat: 'html' }) };
    await monitors.create(spec);
    const page = async (k: number, text: string) => {
      const at = new Date(Date.UTC(2026, 0, 1, k));
      const batchId = monitorRunId('page', at);
      await store.putInput(batchId, [{ url: url(1) }]);
      const contentRef = await store.putContent(
        batchId,
        0,
        `<h1>Shop</h1><p>${text}</p><script>x=1</script>`,
      );
      await store.putResult({
        ...{ batchId, index: 0, url: url(1), status: 'succeeded', charged: 1, attempts: 1 },
        finishedAt: at.toISOString(),
        contentRef,
      });
      const run = { name: 'page', batchId, scheduledAt: at.toISOString() };
      const tracked = await trackRun({ store, monitors, spec, run });
      await monitors.putRun({
        monitor: 'page',
        batchId,
        scheduledAt: run.scheduledAt,
        state: 'tracked',
        ...tracked,
      });
      return all(monitorChanges(store, 'page', { run: batchId, textDiff: true }));
    };
    assert.equal((await page(1, 'In stock'))[0]?.textDiff, undefined);
    const [changed] = await page(2, 'Sold out');
    assert.equal(changed?.status, 'changed');
    assert.match(changed?.textDiff ?? '', /^-In stock$/m);
    assert.match(changed?.textDiff ?? '', /^\+Sold out$/m);
    assert.doesNotMatch(changed?.textDiff ?? '', /x=1/);
    const csv = (
      await all(formatChanges(monitorChanges(store, 'page', { textDiff: true }), 'csv', true))
    ).join('');
    assert.match(csv, /,textDiff,textDiffUnavailable\r?\n/);
    await store.pruneContent(new Date(Date.now() + 60_000));
    const [pruned] = await all(monitorChanges(store, 'page', { textDiff: true }));
    assert.equal(pruned?.textDiffUnavailable, 'previous body pruned');
    assert.equal(pruned?.textDiff, undefined);
  });
});

describe('finishing a run', () => {
  it('a finish that fails before its events are recorded reports the overlap skips on its retry', async () => {
    const monitors = monitorStoreOf(stores.fs!)!;
    const spec = specOf('skips');
    await monitors.create(spec);
    const client = {
      schedule: {
        getHandle: () => ({ describe: () => Promise.resolve({ info: { numActionsSkippedOverlap: 2 } }) }),
      },
    } as unknown as Client;
    const recorded: EventDraft[] = [];
    let down = true;
    const events = {
      record: (drafts: readonly EventDraft[]) => {
        if (down) return Promise.reject(new Error('the event store is down'));
        recorded.push(...drafts);
        return Promise.resolve();
      },
    };
    const input = {
      name: 'skips',
      batchId: monitorRunId('skips', new Date('2026-12-01T00:00:00Z')),
      scheduledAt: '2026-12-01T00:00:00.000Z',
      counts: { new: 0, same: 0, changed: 0, removed: 0, not_observed: 0, baseline: 0 },
      credits: 0,
      batchState: 'empty',
    };
    const logger = createLogger({ name: 'test', level: 'silent' });
    const finish = async () =>
      finishRun({ monitors, spec: (await monitors.get('skips'))!, input, client, events, logger });
    await assert.rejects(finish(), /down/);
    down = false;
    await finish();
    assert.deepEqual(
      recorded.filter((d) => d.type === 'monitor.run.skipped').map((d) => d.id),
      ['skips.skipped.1', 'skips.skipped.2'],
    );
    assert.equal((await monitors.get('skips'))?.state.skipsReported, 2);
  });

  it('a month budget reached again after the cap was raised is a new monitor.paused event', async () => {
    const monitors = monitorStoreOf(stores.fs!)!;
    await monitors.create({ ...specOf('capped'), maxCreditsPerMonth: 2 });
    const client = {
      schedule: {
        getHandle: () => ({
          describe: () => Promise.resolve({ info: { numActionsSkippedOverlap: 0 } }),
          pause: () => Promise.resolve(),
        }),
      },
    } as unknown as Client;
    const recorded: EventDraft[] = [];
    const events = {
      record: (drafts: readonly EventDraft[]) => Promise.resolve(void recorded.push(...drafts)),
    };
    const logger = createLogger({ name: 'test', level: 'silent' });
    const finish = async (day: number) => {
      const scheduled = new Date(Date.UTC(2026, 11, day));
      return finishRun({
        monitors,
        spec: (await monitors.get('capped'))!,
        input: {
          name: 'capped',
          batchId: monitorRunId('capped', scheduled),
          scheduledAt: scheduled.toISOString(),
          counts: { new: 2, same: 0, changed: 0, removed: 0, not_observed: 0, baseline: 0 },
          credits: 2,
          batchState: 'completed',
        },
        client,
        events,
        logger,
      });
    };
    assert.deepEqual(await finish(1), { paused: true });
    // Raised and unpaused (what `monitor update --max-credits-per-month 3` does), then spent again.
    const spec = (await monitors.get('capped'))!;
    await monitors.put({ ...spec, maxCreditsPerMonth: 3, state: { paused: false, skipsReported: 0 } });
    assert.deepEqual(await finish(2), { paused: true });
    assert.deepEqual(
      recorded.filter((d) => d.type === 'monitor.paused').map((d) => d.id),
      ['capped.paused.2026-12.2', 'capped.paused.2026-12.3'],
    );
  });
});
