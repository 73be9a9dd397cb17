/**
 * Bookkeeping activities (task queue `scrapeflow`, beside the workflows): paging through a batch's
 * stored input and writing the terminal record of a URL that failed without an OmniScrape answer.
 */
import { ApplicationFailure, heartbeat, activityInfo } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { Logger } from '../logging/logger.js';
import type { ResultStore, TerminalStatus, UrlItem } from '../store/types.js';
import { pauseSignal } from '../workflows/definitions.js';
import { checkSameStore } from './failures.js';
import { writeRecord } from './records.js';
import type { BatchOptions } from '../batch/options.js';
import { addOutcome, noCounts } from '../workflows/totals.js';
import type { PauseReason, StatusCounts, UrlSummary, UrlTaskInput } from '../workflows/types.js';
import { OptionsCache, optionsVersionOf } from './options.js';

export interface ControlActivityDeps {
  store: ResultStore;
  logger: Logger;
  /** For account-wide pauses: finds and signals the account's other batches. */
  client?: Client;
  /** Batch options by version (src/activities/options.ts). @default a cache of `store` */
  optionsCache?: OptionsCache;
}

/**
 * Most bytes (as JSON) one input page may hold. A page is an activity result, so it lands in the batch's
 * history, where Temporal refuses payloads over 2 MB: 200 ordinary URLs take ~20 KB, but items near the
 * 64 KiB line limit (long URLs, per-item steps) would not fit, and the batch would retry the page forever.
 */
export const INPUT_PAGE_BYTES = 512 * 1024;

/** The longest prefix of `items` within `maxBytes` as JSON; never empty when `items` is not. */
export function withinBytes<T>(items: T[], maxBytes: number): T[] {
  let bytes = 0;
  for (let n = 0; n < items.length; n++) {
    bytes += Buffer.byteLength(JSON.stringify(items[n])) + 1;
    if (bytes > maxBytes) return items.slice(0, Math.max(1, n));
  }
  return items;
}

export interface RecordFailureInput {
  task: UrlTaskInput;
  reason: string;
  detail?: string;
  attempts: number;
  jobId?: string;
}

/** Input items `recordDuplicates` reads per store call (and heartbeats after). */
const DUPLICATES_PAGE = 500;

/** Duplicate records written, by status. */
export type DuplicateCounts = Record<TerminalStatus, number>;

/** What `recordDuplicates` heartbeats: where a retry resumes, and what was written before it. */
interface DuplicatesProgress {
  offset: number;
  counts: DuplicateCounts;
}

/** The records of a range of input lines, as `recordMissing` leaves them (duplicate lines apart). */
export interface RangeRecords {
  counts: StatusCounts;
  credits: number;
  creditsByMethod: Record<string, number>;
  /** Duplicate lines in the range: they get their records from `recordDuplicates`. */
  duplicates: number;
}

/** Visibility query for the running, unpaused batches of an account. */
export function runningBatchesQuery(account: string): string {
  const quoted = JSON.stringify(account);
  return `ScrapeflowAccount = ${quoted} AND ScrapeflowBatchStatus = "running" AND ExecutionStatus = "Running"`;
}

/**
 * Pauses the account's other running batches; returns the ids it paused. Each records its own
 * `batch.paused` event (src/workflows/events.ts).
 */
async function pauseAccount(
  { client, logger }: Pick<ControlActivityDeps, 'logger'> & { client: Client },
  args: { account: string; reason: PauseReason; exceptBatchId: string },
): Promise<string[]> {
  const paused: string[] = [];
  for await (const wf of client.workflow.list({ query: runningBatchesQuery(args.account) })) {
    if (wf.workflowId === args.exceptBatchId || wf.type !== 'batchWorkflow') continue;
    try {
      await client.workflow.getHandle(wf.workflowId).signal(pauseSignal, { reason: args.reason });
      paused.push(wf.workflowId);
    } catch (err) {
      logger.warn({ err, batchId: wf.workflowId }, 'could not pause a batch of the account');
    }
  }
  logger.warn(
    {
      event: 'account_paused',
      account: args.account,
      reason: args.reason,
      by: args.exceptBatchId,
      paused,
    },
    'account-wide pause',
  );
  return paused;
}

/** Input lines [from, to) of a batch in store-sized chunks; an input that ends early is refused. */
async function* inputChunks(
  store: ResultStore,
  batchId: string,
  from: number,
  to: number,
): AsyncGenerator<UrlItem[]> {
  for (let offset = from; offset < to;) {
    const items = await store.readInput(batchId, offset, Math.min(DUPLICATES_PAGE, to - offset));
    if (items.length === 0)
      throw ApplicationFailure.nonRetryable(
        `input of batch ${batchId} ends at ${offset}, expected ${to} URLs`,
        'InputTooShort',
      );
    yield items;
    offset = items[items.length - 1]!.index + 1;
  }
}

/** Writes a duplicate line's record from its first line's; returns its status. */
async function copyFirstRecord(
  store: ResultStore,
  batchId: string,
  options: BatchOptions,
  item: UrlItem,
  firstIndex: number,
): Promise<TerminalStatus> {
  const first = await store.getResult(batchId, firstIndex);
  if (!first)
    throw ApplicationFailure.nonRetryable(
      `line ${item.index} of batch ${batchId} is a duplicate of line ${firstIndex}, which has no record`,
      'DuplicateWithoutFirst',
    );
  const input = { batchId, item, options };
  const { status, reason, detail, methodUsed, fields, contentRef, jobId } = first;
  await writeRecord(
    store,
    input,
    { status, ...(reason ? { reason } : {}), ...(detail ? { detail } : {}) },
    {
      charged: 0,
      attempts: 0,
      duplicateOf: first.index,
      ...(methodUsed ? { methodUsed } : {}),
      ...(fields ? { fields } : {}),
      ...(contentRef ? { contentRef } : {}),
      ...(jobId ? { jobId } : {}),
    },
  );
  return status;
}

export function createControlActivities({
  store,
  logger,
  client,
  optionsCache = new OptionsCache(store),
}: ControlActivityDeps) {
  /** Where a chunk-by-chunk activity resumes after `items`. */
  const after = (items: UrlItem[]) => items[items.length - 1]!.index + 1;

  return {
    /**
     * Pauses every other running batch of the account (a 401/402 concerns the whole account, not one
     * batch). Returns the ids it paused.
     */
    async pauseAccountBatches(args: {
      account: string;
      reason: PauseReason;
      exceptBatchId: string;
    }): Promise<string[]> {
      if (!client) throw new Error('pauseAccountBatches needs a Temporal client');
      return pauseAccount({ client, logger }, args);
    },

    /**
     * Stores the batch's options under the version they hash to and returns it: the URL activities of
     * its pages get the version instead of the options. Idempotent.
     */
    async storeOptions(args: { batchId: string; options: BatchOptions }): Promise<string> {
      checkSameStore(store, args.options.storeId, { retryable: false });
      const version = optionsVersionOf(args.options);
      await store.putOptions(args.batchId, version, args.options);
      return version;
    },

    async loadInputPage(args: {
      batchId: string;
      offset: number;
      limit: number;
      storeId?: string;
    }): Promise<UrlItem[]> {
      checkSameStore(store, args.storeId, { retryable: false });
      // A shorter page is fine: the batch moves its cursor past the last item it got.
      return withinBytes(await store.readInput(args.batchId, args.offset, args.limit), INPUT_PAGE_BYTES);
    },

    /**
     * Writes the record of every duplicate line among input items [0, end) (`UrlItem.duplicateOf`) from
     * its first line's record: the first's outcome (status, reason, detail, method, fields, body
     * reference, job id) with the line's own index, URL and tags, `duplicateOf`, charged 0 and 0
     * attempts. Idempotent (records are keyed by index); heartbeats its offset and counts after each
     * page, so a retry resumes there. Returns the counts written, by status.
     */
    async recordDuplicates(args: {
      batchId: string;
      options: BatchOptions;
      end: number;
    }): Promise<DuplicateCounts> {
      const { batchId, options, end } = args;
      // The batch's own bookkeeping: retrying it cannot help a worker that cannot see the batch's
      // store, and a batch that fails saying so beats one that waits on a retry forever.
      checkSameStore(store, options.storeId, { retryable: false });
      const resumed = activityInfo().heartbeatDetails as DuplicatesProgress | undefined;
      const counts: DuplicateCounts = resumed?.counts ?? noCounts();
      for await (const items of inputChunks(store, batchId, resumed?.offset ?? 0, end)) {
        for (const item of items) {
          if (item.duplicateOf === undefined) continue;
          counts[await copyFirstRecord(store, batchId, options, item, item.duplicateOf)] += 1;
        }
        heartbeat({ offset: after(items), counts } satisfies DuplicatesProgress);
      }
      logger.info({ event: 'duplicates_recorded', batchId, counts }, 'duplicate lines recorded');
      return counts;
    },

    /**
     * Gives every line of [from, to) that has no record (duplicates apart) a `failed(reason)` record:
     * the unstarted and cancelled URLs of a cancelled batch, the URLs of a page that ended without
     * reporting. A record that exists is never touched (a paid answer stays `succeeded`). Returns the
     * range's records as they now are. Heartbeats its offset, so a retry resumes there.
     */
    async recordMissing(args: {
      batchId: string;
      options: BatchOptions;
      from: number;
      to: number;
      reason: string;
      detail?: string;
    }): Promise<RangeRecords> {
      const { batchId, options, to, reason } = args;
      // Reconciles a page that failed, often for this very reason (its input in another store): a
      // retry would wait forever, so the batch fails with the mismatch instead.
      checkSameStore(store, options.storeId, { retryable: false });
      const resumed = activityInfo().heartbeatDetails as { offset: number; seen: RangeRecords } | undefined;
      const seen: RangeRecords = resumed?.seen ?? {
        counts: noCounts(),
        credits: 0,
        creditsByMethod: {},
        duplicates: 0,
      };
      let written = 0;
      for await (const items of inputChunks(store, batchId, resumed?.offset ?? args.from, to)) {
        for (const item of items) {
          if (item.duplicateOf !== undefined) {
            seen.duplicates += 1;
            continue;
          }
          let record: Pick<UrlSummary, 'status' | 'charged' | 'methodUsed'> | undefined =
            await store.getResult(batchId, item.index);
          if (!record) {
            const task = { batchId, item, options };
            const detail = args.detail ?? (reason === 'cancelled' ? 'the batch was cancelled' : undefined);
            const charged = await store.notedCharges(batchId, item.index);
            record = await writeRecord(
              store,
              task,
              { status: 'failed', reason, ...(detail ? { detail } : {}) },
              { charged, attempts: 0 },
            );
            written += 1;
          }
          addOutcome(seen, record);
        }
        heartbeat({ offset: after(items), seen });
      }
      logger.info(
        { event: 'records_filled', batchId, from: args.from, to, reason, written },
        'lines without a record recorded',
      );
      return seen;
    },

    async recordFailure({ task, reason, detail, attempts, jobId }: RecordFailureInput): Promise<UrlSummary> {
      const input = await optionsCache.resolve(task);
      checkSameStore(store, input.options.storeId, { retryable: true });
      const summary = await writeRecord(
        store,
        input,
        { status: 'failed', reason, ...(detail ? { detail } : {}) },
        {
          // Sessions billed to tries that then failed (BaaS); 0 for the HTTP paths, which pay for answers.
          charged: await store.notedCharges(input.batchId, input.item.index),
          attempts,
          ...(jobId ? { jobId } : {}),
        },
      );
      logger.info(
        { event: 'url_failed', batchId: input.batchId, index: input.item.index, url: input.item.url, reason },
        'url failed',
      );
      return summary;
    },
  };
}

export type ControlActivities = ReturnType<typeof createControlActivities>;
