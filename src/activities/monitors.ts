/**
 * A monitor run's activities (task queue `scrapeflow`, beside the workflows): preparing its input,
 * tracking its changes from the store, and finishing it (run row, events, month budget, retention).
 * A sitemap monitor's input is prepared on the scrape queue instead (`prepareMonitorSitemapRun`,
 * src/workers/scrape.ts): reading through OmniScrape needs a key, which workflows workers do not hold,
 * and a direct read of a token holder's URL belongs behind the scrape worker's SSRF guard.
 * Everything a run decides is read from and written to the store, never carried in workflow memory, so
 * each activity can run again after a crash and give the same answer.
 */
import { randomBytes } from 'node:crypto';
import { ApplicationFailure, Context, heartbeat } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { Deduper } from '../batch/dedupe.js';
import type { BatchOptions } from '../batch/options.js';
import type { EventSink } from '../events/types.js';
import type { Logger } from '../logging/logger.js';
import type { SitemapEntry, SitemapSource } from '../sitemaps/types.js';
import type { SitemapReader } from '../sitemaps/reader.js';
import { isAppError, SitemapError } from '../errors.js';
import { sitemapFailure } from './failures.js';
import type { ResultStore, UrlItem } from '../store/types.js';
import { monitorStoreOf, type MonitorStore } from '../monitors/store.js';
import { trackRun, type TrackedRun } from '../monitors/tracking.js';
import { finishRun } from '../monitors/finish.js';
import { unchangedByLastmod } from '../monitors/changes.js';
import {
  MONITOR_DEFAULTS,
  type ChangeStatus,
  type MonitorSpec,
  type Observation,
} from '../monitors/types.js';

export interface MonitorActivityDeps {
  store: ResultStore;
  logger: Logger;
  /** Pauses a schedule whose month budget is spent, and reads its overlap skips. */
  client?: Client;
  /** Where monitor events go (src/events); none: no events are recorded. */
  events?: EventSink;
  /** @default the store's own (monitorStoreOf) */
  monitors?: MonitorStore;
  /**
   * A sitemap reader for one run (src/sitemaps), closed after it: given on the scrape worker only;
   * none: `prepareMonitorRun` hands a sitemap monitor's run to `prepareMonitorSitemapRun`.
   */
  sitemapReader?: (run: { account: string; batchId: string; source: SitemapSource }) => SitemapReader;
}

export interface MonitorRunRef {
  name: string;
  batchId: string;
  /** ISO */
  scheduledAt: string;
}

export type PreparedRun =
  | { skip: 'deleted' }
  /** The sitemap is to be read: the workflow calls `prepareMonitorSitemapRun` on the scrape queue. */
  | { readSitemap: true }
  | { options: BatchOptions; total: number; duplicates: number; account: string };

export interface FinishInput extends MonitorRunRef {
  counts: Record<ChangeStatus, number>;
  credits: number;
  /** The batch's end: completed, cancelled, failed (or `empty` when nothing was to scrape). */
  batchState: string;
}

/** Input items copied per store call. */
const COPY_PAGE = 1000;

async function* storedItems(store: ResultStore, inputId: string): AsyncIterable<Omit<UrlItem, 'index'>> {
  for (let offset = 0; ; offset += COPY_PAGE) {
    const page = await store.readInput(inputId, offset, COPY_PAGE);
    for (const { index: _index, duplicateOf: _dup, ...item } of page) yield item;
    if (page.length < COPY_PAGE) return;
  }
}

async function countDuplicates(store: ResultStore, batchId: string): Promise<number> {
  let n = 0;
  for (let offset = 0; ; offset += COPY_PAGE) {
    const page = await store.readInput(batchId, offset, COPY_PAGE);
    n += page.filter((i) => i.duplicateOf !== undefined).length;
    if (page.length < COPY_PAGE) return n;
  }
}

export function createMonitorActivities(deps: MonitorActivityDeps) {
  const { store, logger } = deps;
  const monitors = () => {
    const found = deps.monitors ?? monitorStoreOf(store);
    if (!found) throw ApplicationFailure.nonRetryable('this store keeps no monitors', 'MonitorStoreMissing');
    return found;
  };

  /** Sitemap entries as input items; with skipUnchanged, unchanged ones become `same (lastmod)` rows. */
  async function* sitemapItems(spec: MonitorSpec, run: MonitorRunRef): AsyncIterable<Omit<UrlItem, 'index'>> {
    if (spec.input.kind !== 'sitemap') return;
    if (!deps.sitemapReader)
      throw ApplicationFailure.nonRetryable('no sitemap reader in this worker', 'SitemapReaderMissing');
    const reader = deps.sitemapReader({
      account: spec.account,
      batchId: run.batchId,
      source: spec.input.source,
    });
    const store = monitors();
    // A long read on the scrape worker says it is alive (outside an activity there is none to tell).
    const beat = () => {
      try {
        heartbeat();
      } catch {
        /* not in an activity */
      }
    };
    const previous = spec.skipUnchanged ? await store.previousRun(spec.name, run.scheduledAt) : undefined;
    let chunk: SitemapEntry[] = [];
    const flush = async function* () {
      const known = previous
        ? await store.getObservations(
            spec.name,
            previous.batchId,
            chunk.map((e) => e.url),
          )
        : new Map<string, Observation>();
      const same: Observation[] = [];
      for (const entry of chunk) {
        const prior = known.get(entry.url);
        const base = prior?.status === 'removed' ? undefined : prior?.baseline;
        if (prior && base && entry.lastmod && Date.parse(entry.lastmod) <= Date.parse(base.observedAt))
          same.push(unchangedByLastmod(prior, run.batchId, run.scheduledAt));
        else yield { url: entry.url };
      }
      await store.putObservations(same);
      chunk = [];
      beat();
    };
    try {
      for await (const entry of reader.read(spec.input.source)) {
        chunk.push(entry);
        if (chunk.length >= MONITOR_DEFAULTS.chunk) yield* flush();
      }
      yield* flush();
    } catch (err) {
      // A configuration this worker lacks (no key for an OmniScrape read) is not fixed by a retry.
      if (isAppError(err, 'config_invalid'))
        throw ApplicationFailure.nonRetryable(err.message, 'ConfigError');
      // A sitemap that is missing or malformed is not retried (forever: every later run would skip).
      if (err instanceof SitemapError) throw sitemapFailure(err);
      throw err;
    } finally {
      await reader.close();
    }
  }

  /**
   * Stores the run's input under its batch id (the spec's URL list, or the sitemap read now) and
   * returns the options its batch runs with. A retry after the input was stored reuses it.
   */
  async function prepare(run: MonitorRunRef): Promise<PreparedRun> {
    const spec = await monitors().get(run.name);
    if (!spec) return { skip: 'deleted' };
    if (
      spec.input.kind === 'sitemap' &&
      !deps.sitemapReader &&
      (await store.inputCount(run.batchId)) === undefined
    )
      return { readSitemap: true };
    const existing = await monitors().getRun(run.name, run.batchId);
    if (!existing)
      await monitors().putRun({
        monitor: run.name,
        batchId: run.batchId,
        scheduledAt: run.scheduledAt,
        state: 'running',
      });
    const options: BatchOptions = {
      ...spec.options,
      storeId: store.id,
      // Scopes the URLs' OmniScrape idempotency keys to this run (src/activities/scrape.ts).
      idempotencyScope: randomBytes(16).toString('hex'),
      ...(spec.maxCreditsPerRun !== undefined ? { maxCredits: spec.maxCreditsPerRun } : {}),
    };
    let total = await store.inputCount(run.batchId);
    let duplicates = 0;
    if (total === undefined) {
      const items =
        spec.input.kind === 'urls' ? storedItems(store, spec.input.inputId) : sitemapItems(spec, run);
      const deduper = options.dedupe === false ? undefined : new Deduper();
      try {
        total = await store.putInput(run.batchId, deduper ? deduper.mark(items) : items);
      } catch (err) {
        // A try killed after its input was stored: this one finds it complete.
        if ((err as { code?: string }).code !== 'input_exists') throw err;
        total = (await store.inputCount(run.batchId)) ?? 0;
      }
      duplicates = deduper?.duplicates ?? 0;
    } else {
      duplicates = await countDuplicates(store, run.batchId);
    }
    logger.info({ monitor: run.name, batchId: run.batchId, total }, 'monitor run prepared');
    return { options, total, duplicates, account: spec.account };
  }

  return {
    prepareMonitorRun: prepare,

    /** Change tracking of the run: one observation per URL from the run's records (src/monitors/tracking.ts). */
    async trackMonitorChanges(run: MonitorRunRef): Promise<TrackedRun> {
      const spec = await monitors().get(run.name);
      if (!spec) throw ApplicationFailure.nonRetryable(`monitor ${run.name} was deleted`, 'MonitorDeleted');
      const ctx = Context.current();
      return trackRun({
        store,
        monitors: monitors(),
        spec,
        run,
        onChunk: async (done) => {
          heartbeat(done);
          await testHold(done);
        },
        onRecord: () => heartbeat(),
        cancelled: ctx.cancellationSignal,
      });
    },

    /** The run's row, its events, the month budget and retention. */
    async finishMonitorRun(input: FinishInput): Promise<{ paused: boolean }> {
      const spec = await monitors().get(input.name);
      if (!spec) return { paused: false };
      return finishRun({ ...deps, monitors: monitors(), spec, input });
    },
  };
}

export type MonitorActivities = ReturnType<typeof createMonitorActivities>;

/** The scrape worker's part of a monitor run: preparing a sitemap monitor's input (`sitemapReader` given). */
export function createMonitorSitemapActivities(
  deps: MonitorActivityDeps & Required<Pick<MonitorActivityDeps, 'sitemapReader'>>,
) {
  return { prepareMonitorSitemapRun: createMonitorActivities(deps).prepareMonitorRun };
}

export type MonitorSitemapActivities = ReturnType<typeof createMonitorSitemapActivities>;

/**
 * Test hook: with SCRAPEFLOW_TEST_HOLD_TRACKING set to a path and `<path>.armed` present, change
 * tracking writes `<path>` after its first chunk and then waits until its process is killed, so a test
 * can kill the workflows worker at a known point of a run's change computation. Held once (`<path>`
 * stays, so the retry runs through). Unset in every real deployment.
 */
async function testHold(done: number): Promise<void> {
  const path = process.env.SCRAPEFLOW_TEST_HOLD_TRACKING;
  if (!path || done === 0) return;
  const { stat, writeFile } = await import('node:fs/promises');
  if (!(await stat(`${path}.armed`).catch(() => undefined))) return;
  if (await stat(path).catch(() => undefined)) return;
  await writeFile(path, String(process.pid));
  await new Promise<never>(() => undefined);
}
