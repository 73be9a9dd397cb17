/**
 * Bookkeeping activities (task queue `scrapeflow`, beside the workflows): paging through a batch's
 * stored input and writing the terminal record of a URL that failed without an OmniScrape answer.
 */
import type { Logger } from '../logging/logger.js';
import type { ResultStore, UrlItem } from '../store/types.js';
import type { UrlSummary, UrlWorkflowInput } from '../workflows/types.js';

export interface ControlActivityDeps {
  store: ResultStore;
  logger: Logger;
}

export interface RecordFailureInput {
  input: UrlWorkflowInput;
  reason: string;
  detail?: string;
  attempts: number;
  jobId?: string;
}

export function createControlActivities({ store, logger }: ControlActivityDeps) {
  return {
    async loadInputPage(args: { batchId: string; offset: number; limit: number }): Promise<UrlItem[]> {
      return store.readInput(args.batchId, args.offset, args.limit);
    },

    async recordFailure({ input, reason, detail, attempts, jobId }: RecordFailureInput): Promise<UrlSummary> {
      const tags = [...new Set([...input.options.tags, ...(input.item.tags ?? [])])];
      await store.putResult({
        batchId: input.batchId,
        index: input.item.index,
        url: input.item.url,
        status: 'failed',
        reason,
        ...(detail ? { detail } : {}),
        charged: 0,
        attempts,
        ...(jobId ? { jobId } : {}),
        tags,
        finishedAt: new Date().toISOString(),
      });
      logger.info(
        { event: 'url_failed', batchId: input.batchId, index: input.item.index, url: input.item.url, reason },
        'url failed',
      );
      return { index: input.item.index, status: 'failed', reason, charged: 0, attempts, tags };
    },
  };
}

export type ControlActivities = ReturnType<typeof createControlActivities>;
