/**
 * Change tracking of one monitor run: streams the run's records from the store in chunks, compares
 * each URL with its observation in the previous tracked run (src/monitors/changes.ts), upserts the
 * observations, then marks the URLs that left the input `removed`. Bounded memory: one chunk of records
 * and their previous observations at a time. Idempotent: the previous run and the records are fixed
 * once the batch ended, and every write is an upsert keyed (monitor, run, URL), so a run tracked again
 * after a crash yields the same observations and counts.
 */
import { load } from 'cheerio';
import type { ResultRecord, ResultStore } from '../store/types.js';
import type { MonitorStore } from './store.js';
import { configHashOf, contentHashOf, observe, removed, type Thresholds } from './changes.js';
import { MONITOR_DEFAULTS, type ChangeStatus, type MonitorSpec, type Observation } from './types.js';

export interface TrackedRun {
  counts: Record<ChangeStatus, number>;
  credits: number;
  /** The tracked run this one compared against. */
  previousBatchId?: string;
}

export interface TrackRunOptions {
  store: ResultStore;
  monitors: MonitorStore;
  spec: MonitorSpec;
  run: { name: string; batchId: string; scheduledAt: string };
  /** After each chunk is written, with the URLs done so far. */
  onChunk?: (done: number) => Promise<void>;
  /** After each URL (a heartbeat: the SDK throttles them), so a dead worker is noticed soon. */
  onRecord?: () => void;
  cancelled?: AbortSignal;
  /** @default MONITOR_DEFAULTS.chunk */
  chunkSize?: number;
}

/** A page's text content, as a person reads it: scripts and styles dropped. */
export function textOf(html: string): string {
  const $ = load(html);
  $('script, style, noscript').remove();
  return $.root().text();
}

async function* chunks<T>(items: AsyncIterable<T>, size: number): AsyncIterable<T[]> {
  let chunk: T[] = [];
  for await (const item of items) {
    chunk.push(item);
    if (chunk.length >= size) {
      yield chunk;
      chunk = [];
    }
  }
  if (chunk.length > 0) yield chunk;
}

/**
 * Each input line's record in index order, the input and the records merged as both stream; a line
 * without a record (its batch was terminated) gets a `failed` stand-in, so it is `not_observed` rather
 * than missing (which would report it `removed`). Duplicate lines are left out: the first line of a
 * URL stands for them all.
 */
async function* recordsOfInput(
  store: ResultStore,
  batchId: string,
  size: number,
): AsyncIterable<ResultRecord> {
  const records = store.listResults(batchId)[Symbol.asyncIterator]();
  let next = await records.next();
  for (let offset = 0; ; offset += size) {
    const items = await store.readInput(batchId, offset, size);
    for (const item of items) {
      while (!next.done && next.value.index < item.index) next = await records.next();
      const record = !next.done && next.value.index === item.index ? next.value : undefined;
      if (item.duplicateOf !== undefined) continue;
      yield (
        record ?? {
          batchId,
          index: item.index,
          url: item.url,
          status: 'failed',
          reason: 'no_record',
          charged: 0,
          attempts: 0,
          finishedAt: new Date(0).toISOString(),
        }
      );
    }
    if (items.length < size) return;
  }
}

export async function trackRun(options: TrackRunOptions): Promise<TrackedRun> {
  const { store, monitors, spec, run } = options;
  const size = options.chunkSize ?? MONITOR_DEFAULTS.chunk;
  const previous = await monitors.previousRun(run.name, run.scheduledAt);
  const configHash = configHashOf(spec.options);
  const thresholds: Thresholds = spec.thresholds;
  const hashContent = spec.options.outputFormat === 'html';
  let done = 0;
  for await (const chunk of chunks(recordsOfInput(store, run.batchId, size), size)) {
    options.cancelled?.throwIfAborted();
    const prior = previous
      ? await monitors.getObservations(
          run.name,
          previous.batchId,
          chunk.map((r) => r.url),
        )
      : new Map<string, Observation>();
    // By URL: with `dedupe: false` one URL may have several lines, and it is one observation.
    const rows = new Map<string, Observation>();
    for (const record of chunk) {
      let contentHash: string | undefined;
      if (hashContent && record.status === 'succeeded' && record.contentRef) {
        const body = await store.getContent(record.contentRef);
        if (body !== undefined) contentHash = contentHashOf(textOf(body));
      }
      options.onRecord?.();
      const prev = prior.get(record.url);
      rows.set(
        record.url,
        observe({
          monitor: run.name,
          batchId: run.batchId,
          observedAt: run.scheduledAt,
          record,
          configHash,
          thresholds,
          ...(contentHash ? { contentHash } : {}),
          ...(prev ? { previous: prev } : {}),
          ...(spec.options.schema ? { schema: spec.options.schema } : {}),
        }),
      );
    }
    await monitors.putObservations([...rows.values()]);
    done += chunk.length;
    await options.onChunk?.(done);
  }
  if (previous) {
    for await (const chunk of chunks(monitors.missingFrom(run.name, previous.batchId, run.batchId), size)) {
      await monitors.putObservations(chunk.map((row) => removed(row, run.batchId, run.scheduledAt)));
      done += chunk.length;
      await options.onChunk?.(done);
    }
  }
  const { counts, credits } = await monitors.runCounts(run.name, run.batchId);
  return { counts, credits, ...(previous ? { previousBatchId: previous.batchId } : {}) };
}
