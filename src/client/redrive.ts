/**
 * Re-drive: after a fix, the dead letters of a batch run again as a new batch whose input is their URLs
 * (with their tags, and the browser steps their input items had). Lineage is recorded both ways:
 * - each re-driven dead letter gets `redrivenTo: { batchId, index }` (written here, once the new batch
 *   has started), so a second re-drive skips it;
 * - each input item of the new batch carries `redrivenFrom: { batchId, index }`, which the URL's
 *   terminal record repeats (when the store and activities carry it through).
 * The new batch takes the original batch's options (read from its workflow history), overridden by
 * `options`. An item's own `steps` still win over the new batch's `steps`.
 */
import { randomBytes } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { BatchOptionsInput } from '../batch/options.js';
import { MAX_BATCH_ID_LENGTH, type ResultRecord, type ResultStore, type UrlItem } from '../store/types.js';
import type { BatchWorkflowInput } from '../workflows/types.js';
import { startBatch, type StartContext } from './batches.js';
import { startInput } from './history.js';
import { exportResults } from './results.js';
import { BatchNotFoundError, NothingToRedriveError } from '../errors.js';

export interface RedriveRequest {
  /** The batch whose dead letters run again. */
  batchId: string;
  /**
   * Id of the new batch; refused like any start's when it is taken.
   * @default `<batchId>-redrive-<random>`, the batch id cut so the whole fits MAX_BATCH_ID_LENGTH
   */
  newBatchId?: string;
  /** Options of the new batch, over the original batch's. */
  options?: Partial<BatchOptionsInput>;
}

/** The options a batch was started with, from the first event of its (latest run's) history. */
export async function originalOptions(
  client: Client,
  batchId: string,
): Promise<BatchOptionsInput | undefined> {
  let input: BatchWorkflowInput | undefined;
  try {
    // Decoded through the client's codecs, so this works with encrypted payloads too.
    input = await startInput<BatchWorkflowInput>(client, { workflowId: batchId });
  } catch (err) {
    if ((err as { code?: number }).code === 5) return undefined; // NOT_FOUND
    throw err;
  }
  return input?.options;
}

function redrivable(record: ResultRecord): boolean {
  return record.status === 'dead_lettered' && !record.redrivenTo;
}

/** Input items read per query while looking up the dead letters' items. */
const INPUT_PAGE = 500;

/**
 * Looks up a batch's input items by index, for indexes asked in increasing order (records stream in
 * index order): one page is held at a time, read forward as the indexes pass it.
 */
function inputItems(store: ResultStore, batchId: string): (index: number) => Promise<UrlItem | undefined> {
  let page: UrlItem[] = [];
  const held = (index: number): UrlItem | undefined => {
    const item = page[index - (page[0]?.index ?? 0)];
    return item?.index === index ? item : undefined;
  };
  return async (index) => {
    if (!held(index)) page = await store.readInput(batchId, index, INPUT_PAGE);
    return held(index);
  };
}

const REDRIVE_SUFFIX = '-redrive-';
const REDRIVE_RANDOM_BYTES = 3;

/** The default id of a re-drive of `source`: always within MAX_BATCH_ID_LENGTH. */
export function redriveBatchId(source: string): string {
  const keep = MAX_BATCH_ID_LENGTH - REDRIVE_SUFFIX.length - REDRIVE_RANDOM_BYTES * 2;
  return `${source.slice(0, keep)}${REDRIVE_SUFFIX}${randomBytes(REDRIVE_RANDOM_BYTES).toString('hex')}`;
}

export async function redriveBatch(
  client: Client,
  store: ResultStore,
  request: RedriveRequest,
  context: StartContext = {},
) {
  const source = request.batchId;
  const original = await originalOptions(client, source);
  if (!original) throw new BatchNotFoundError(`no batch ${JSON.stringify(source)}`);
  // The original's idempotency scope is its own: the new batch gets a fresh one from startBatch.
  const { idempotencyScope: _scope, ...base } = original as BatchOptionsInput & { idempotencyScope?: string };
  const records = await exportResults(store, source, { status: 'dead_lettered' });
  const newBatchId = request.newBatchId ?? redriveBatchId(source);

  const inputItem = inputItems(store, source);
  async function* items(): AsyncIterable<Omit<UrlItem, 'index'>> {
    for await (const record of records) {
      if (!redrivable(record)) continue;
      // The record does not hold the item's own steps: its input item does.
      const steps = (await inputItem(record.index))?.steps;
      const item = {
        url: record.url,
        ...(record.tags?.length ? { tags: record.tags } : {}),
        ...(steps ? { steps } : {}),
        redrivenFrom: { batchId: source, index: record.index },
      };
      yield item;
    }
  }
  let started;
  try {
    started = await startBatch(
      client,
      store,
      {
        batchId: newBatchId,
        urls: items(),
        options: { ...base, ...request.options },
      },
      context,
    );
  } catch (err) {
    if ((err as { field?: string }).field === 'urls')
      throw new NothingToRedriveError(`batch ${JSON.stringify(source)} has no dead letters left to re-drive`);
    throw err;
  }
  // Second pass, same order: the k-th redrivable dead letter became index k of the new batch.
  let index = 0;
  for await (const record of store.listResults(source, { status: 'dead_lettered' })) {
    if (!redrivable(record) || index >= started.total) continue;
    await store.putResult({ ...record, redrivenTo: { batchId: started.batchId, index } });
    index += 1;
  }
  return { batchId: started.batchId, redrivenFrom: source, total: started.total, handle: started.handle };
}
