/**
 * Starting and steering batches: shared by the CLI, the HTTP service and scripts.
 */
import { randomBytes } from 'node:crypto';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { httpUrl } from '../omniscrape/types.js';
import {
  describeIssues,
  formatPath,
  parseBatchOptions,
  ValidationError,
  type BatchOptionsInput,
} from '../batch/options.js';
import { stepsSchema, type StepInput } from '../batch/steps.js';
import { BATCH_ID_PATTERN, type ResultStore, type UrlItem } from '../store/types.js';
import { AccountAttr, BatchIdAttr, BatchStatusAttr } from '../temporal/search-attributes.js';
import { cancelSignal, pauseSignal, resumeSignal } from '../workflows/definitions.js';
import { TASK_QUEUES, type PauseReason } from '../workflows/types.js';

/** An input item as callers give it: its `steps` are checked (and defaulted) by `startBatch`. */
export type UrlItemInput = Omit<UrlItem, 'index' | 'steps'> & { steps?: StepInput[] };

export interface StartBatchRequest {
  /** @default a generated `batch-<time>-<random>` */
  batchId?: string;
  /** The URLs; an item's `steps` (browser steps for that URL alone) override the batch's `steps`. */
  urls: Iterable<UrlItemInput> | AsyncIterable<UrlItemInput>;
  options?: BatchOptionsInput;
}

export function newBatchId(): string {
  return `batch-${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '')}-${randomBytes(3).toString('hex')}`;
}

/**
 * Checks every URL (and its steps) as it streams into the store; the first bad one names its position
 * (`urls[3]`, `urls[3].steps[1].selector`).
 */
async function* validated(urls: StartBatchRequest['urls']): AsyncIterable<Omit<UrlItem, 'index'>> {
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

export async function startBatch(client: Client, store: ResultStore, request: StartBatchRequest) {
  const options = parseBatchOptions(request.options);
  // Search attributes are never encrypted: with an encrypting codec, URLs stay out of them.
  if (client.options.loadedDataConverter.payloadCodecs.length > 0) options.searchableUrls = false;
  options.storeId = store.id;
  const batchId = request.batchId ?? newBatchId();
  if (!BATCH_ID_PATTERN.test(batchId)) {
    throw new ValidationError(
      `batchId: ${JSON.stringify(batchId)} must match ${BATCH_ID_PATTERN}`,
      'batchId',
    );
  }
  const total = await store.putInput(batchId, validated(request.urls));
  if (total === 0) throw new ValidationError('urls: the batch has no URLs', 'urls');
  const handle = await client.workflow.start('batchWorkflow', {
    workflowId: batchId,
    taskQueue: TASK_QUEUES.control,
    args: [{ batchId, options, total }],
    typedSearchAttributes: [
      { key: BatchIdAttr, value: batchId },
      { key: BatchStatusAttr, value: 'running' },
      { key: AccountAttr, value: options.account },
    ],
  });
  return { batchId, total, handle };
}

export class BatchNotFoundError extends Error {
  override readonly name = 'BatchNotFoundError';
}

/** Runs `work`, turning Temporal's not-found into a `BatchNotFoundError` naming the batch. */
export async function withBatch<T>(batchId: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError)
      throw new BatchNotFoundError(`no batch ${JSON.stringify(batchId)}`);
    throw err;
  }
}

export function pauseBatch(client: Client, batchId: string, reason: PauseReason = 'manual') {
  return withBatch(batchId, () => client.workflow.getHandle(batchId).signal(pauseSignal, { reason }));
}
export function resumeBatch(client: Client, batchId: string) {
  return withBatch(batchId, () => client.workflow.getHandle(batchId).signal(resumeSignal));
}
export function cancelBatch(client: Client, batchId: string) {
  return withBatch(batchId, () => client.workflow.getHandle(batchId).signal(cancelSignal));
}
