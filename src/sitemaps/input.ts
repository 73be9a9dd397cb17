/**
 * A sitemap as a batch's input: the one path from a `SitemapSource` to the stored input, for `start
 * --sitemap`, the service's `input.sitemap` and a monitor's run (which reads its sitemap afresh each run,
 * inside an activity).
 */
import { storeInput, type StoredInput, type UrlItemInput } from '../batch/input.js';
import type { ResultStore } from '../store/types.js';
import type { SitemapReader } from './reader.js';
import type { SitemapEntry, SitemapSource } from './types.js';

export interface SitemapInputOptions {
  /** Mark duplicate lines (the reader gives each URL once already). @default true */
  dedupe?: boolean;
  /**
   * Decides per entry whether it goes into the input (a monitor's `--skip-unchanged` leaves out a URL
   * whose lastmod is not newer than its last observation). @default every entry
   */
  select?: (entry: SitemapEntry) => boolean | Promise<boolean>;
  /** Tags of every line. */
  tags?: string[];
}

/** The input lines of a sitemap source. */
export async function* sitemapItems(
  reader: SitemapReader,
  source: SitemapSource,
  options: Pick<SitemapInputOptions, 'select' | 'tags'> & { signal?: AbortSignal } = {},
): AsyncIterable<UrlItemInput> {
  for await (const entry of reader.read(source, options.signal)) {
    if (options.select && !(await options.select(entry))) continue;
    yield { url: entry.url, ...(options.tags?.length ? { tags: options.tags } : {}) };
  }
}

/**
 * Reads `source` into the stored input of `batchId`, streaming (all or nothing: a sitemap that fails
 * mid-way stores nothing). `total` 0: no URL, nothing stored.
 */
export function storeSitemapInput(
  store: ResultStore,
  batchId: string,
  reader: SitemapReader,
  source: SitemapSource,
  options: SitemapInputOptions & { signal?: AbortSignal } = {},
): Promise<StoredInput> {
  return storeInput(store, batchId, sitemapItems(reader, source, options), {
    ...(options.dedupe !== undefined ? { dedupe: options.dedupe } : {}),
  });
}
