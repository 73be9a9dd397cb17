/**
 * How a batch's URLs go into the store, whatever their source (a file, a request body, a sitemap):
 * each checked as it streams (an absolute http(s) URL, valid steps), duplicate lines marked, all stored
 * at once or not at all (`putInput`).
 */
import { httpUrl } from '../omniscrape/types.js';
import { describeIssues, formatPath } from './options.js';
import { Deduper } from './dedupe.js';
import { stepsSchema, type StepInput } from './steps.js';
import type { ResultStore, UrlItem } from '../store/types.js';
import { BatchIdTakenError, ValidationError } from '../errors.js';

/** An input item as callers give it: its `steps` are checked (and defaulted) here. */
export type UrlItemInput = Omit<UrlItem, 'index' | 'steps' | 'duplicateOf'> & { steps?: StepInput[] };

export interface StoredInput {
  /** Lines stored (0: nothing was stored). */
  total: number;
  /** Lines marked as duplicates of an earlier one, when any. */
  duplicates?: number;
}

/**
 * Checks every URL (and its steps) as it streams into the store; the first bad one names its position
 * (`urls[3]`, `urls[3].steps[1].selector`).
 */
async function* validated(
  urls: Iterable<UrlItemInput> | AsyncIterable<UrlItemInput>,
): AsyncIterable<Omit<UrlItem, 'index'>> {
  let position = 0;
  for await (const item of urls) {
    const checked = httpUrl.safeParse(item.url);
    if (!checked.success) {
      throw new ValidationError(
        `urls[${position}]: ${JSON.stringify(String(item.url).slice(0, 200))} ${checked.error.issues[0]?.message ?? 'is invalid'}`,
        `urls[${position}]`,
      );
    }
    const { steps, ...rest } = item;
    if (steps === undefined) {
      yield rest;
    } else {
      const parsed = stepsSchema.safeParse(steps);
      if (!parsed.success) {
        const prefix = `urls[${position}].steps`;
        throw new ValidationError(
          describeIssues(parsed.error.issues, prefix),
          formatPath(parsed.error.issues[0]?.path ?? [], prefix),
        );
      }
      yield { ...rest, steps: parsed.data };
    }
    position += 1;
  }
}

/**
 * Stores `urls` as the input of `batchId` (create-only: input already stored under the id is
 * `BatchIdTakenError`). Nothing is stored when a URL is invalid or the stream fails.
 */
export async function storeInput(
  store: ResultStore,
  batchId: string,
  urls: Iterable<UrlItemInput> | AsyncIterable<UrlItemInput>,
  options: { dedupe?: boolean } = {},
): Promise<StoredInput> {
  const deduper = options.dedupe === false ? undefined : new Deduper();
  const items = validated(urls);
  let total: number;
  try {
    total = await store.putInput(batchId, deduper ? deduper.mark(items) : items);
  } catch (err) {
    if ((err as { code?: string }).code === 'input_exists')
      throw new BatchIdTakenError(batchId, 'stored input');
    throw err;
  }
  return { total, ...(deduper?.duplicates ? { duplicates: deduper.duplicates } : {}) };
}
